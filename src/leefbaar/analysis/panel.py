"""The input of every monitoring analysis: one score per area and year, optionally with its dimensions.

Three sources can be monitored:

- ``official``: the Leefbaarometer 3 series per PC4 (BZK, 2002-2022). ``total`` is the score ``lbm`` (positive,
  about 3.3-4.6; higher is more livable), ``afw`` its deviation from the fixed national reference 4.102265, and
  ``won, fys, vrz, soc, onv`` the five dimensions (2014, 2018, 2020, 2022 only; ``afw`` is their sum).
- ``index``: leefbaar's own scores (store table ``scores`` written by ``leefbaar score``) for one spec.
- ``indicator``: any indicator of the catalogue at any level (``total`` = the indicator; no dimensions).

PC4 codes are treated as stable over time. At levels whose codes change between vintages (gemeente, wijk),
observations of older vintages are moved to one target vintage with the store's ``crosswalks`` (area-weighted,
chained through intermediate vintages); a vintage without a crosswalk path keeps the codes that still exist in
the target vintage and drops the others. Every such step is stated in ``Panel.notes`` (each note "Dutch | English").
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import pandas as pd

from leefbaar.errors import StoreError
from leefbaar.geo.crosswalk import apply_crosswalk
from leefbaar.i18n import N_, ByLanguage, fmt_integer, fmt_number, note_in_languages
from leefbaar.store.store import Store

DIMENSIONS = ("won", "fys", "vrz", "soc", "onv")
DIMENSION_LABELS = ByLanguage({"won": N_("housing stock"), "fys": N_("physical environment"), "vrz": N_("amenities"),
                               "soc": N_("social cohesion"), "onv": N_("nuisance and insecurity")})
"""The Leefbaarometer dimensions by language: ``DIMENSION_LABELS[lang][dim]``."""
LBM_REFERENCE = 4.102265
"""Leefbaarometer 3 national reference level: ``lbm = LBM_REFERENCE + afw`` in every year (BZK)."""

SOURCES = ("official", "index", "indicator")


@dataclass
class Panel:
    """Scores per area and year.

    ``frame`` has columns ``code, year, total`` and, where the source has them, ``afw`` and the dimension
    columns of ``components``. ``direction`` is +1 when higher is better, -1 when higher is worse, 0 when
    neither (from the indicator catalogue). ``positive`` says whether every ``total`` is > 0 (required by
    Theil and Gini). ``vintage`` is the boundary vintage the codes refer to (None for PC4: codes stable).
    """

    frame: pd.DataFrame
    level: str
    source: str
    label: str
    unit: str
    direction: int = 1
    components: list[str] = field(default_factory=list)
    vintage: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def years(self) -> list[int]:
        return sorted(int(y) for y in self.frame["year"].unique())

    @property
    def has_afw(self) -> bool:
        return "afw" in self.frame.columns and self.frame["afw"].notna().any()

    @property
    def positive(self) -> bool:
        return bool((self.frame["total"].dropna() > 0).all())

    def wide(self, column: str = "total") -> pd.DataFrame:
        """``column`` as a table: one row per code, one column per year."""
        return self.frame.pivot(index="code", columns="year", values=column).sort_index()

    def balanced(self, years: list[int] | None = None) -> pd.DataFrame:
        """Codes x years of ``total`` for the areas that have a value in every one of ``years``."""
        wide = self.wide()
        if years is not None:
            wide = wide[[y for y in years if y in wide.columns]]
        return wide.dropna()

    def years_with(self, column: str) -> list[int]:
        """Years in which ``column`` has at least one value."""
        if column not in self.frame.columns:
            return []
        years = self.frame.loc[self.frame[column].notna(), "year"].unique()
        return sorted(int(y) for y in years)


def load_panel(store: Store, source: str = "official", level: str = "pc4", indicator: str | None = None,
               spec: str | None = None, years: list[int] | None = None) -> Panel:
    """Read the scores to monitor from ``store`` (see the module docstring for the three sources)."""
    if indicator is not None and source == "official":
        source = "indicator"
    if source not in SOURCES:
        raise StoreError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    if source == "official":
        panel = _official(store, level)
    elif source == "index":
        panel = _index(store, level, spec)
    else:
        if not indicator:
            raise StoreError("--indicator is required with --source indicator")
        panel = _indicator(store, level, indicator)
    if years is not None:
        missing = [y for y in years if y not in panel.years]
        if missing:
            raise StoreError(f"{panel.label}: no values in {missing[0]}; years with values: "
                             f"{', '.join(map(str, panel.years))}")
        panel.frame = panel.frame[panel.frame["year"].isin(years)].reset_index(drop=True)
    if panel.frame.empty:
        raise StoreError(f"{panel.label}: no values at level {level}")
    return panel


def _official(store: Store, level: str) -> Panel:
    if level != "pc4":
        raise StoreError("the official Leefbaarometer 3 series is per PC4; for gemeente or wijk use "
                         "--indicator lbm2_klasse (Leefbaarometer 2.0 classes) or --source index")
    ind = ["lbm", "lbm_afw", *(f"lbm_{d}" for d in DIMENSIONS)]
    wide = store.table("pc4", indicators=ind)
    if wide.empty or "lbm" not in wide.columns:
        raise StoreError("the store holds no Leefbaarometer 3 PC4 scores (indicator lbm); build it with the "
                         "leefbaarometer files")
    wide = wide.dropna(subset=["lbm"]).rename(columns={"lbm": "total", "lbm_afw": "afw",
                                                       **{f"lbm_{d}": d for d in DIMENSIONS}})
    frame = wide[["code", "year", "total", "afw", *DIMENSIONS]].reset_index(drop=True)
    notes = [note_in_languages(N_("Source: Leefbaarometer 3 PC4 scores (BZK), total lbm = {reference} + deviation; PC4 "
                                  "codes are treated as stable over time (no boundary correction)."),
                               reference=lambda lang: fmt_number(LBM_REFERENCE, lang, 6))]
    return Panel(frame, "pc4", "official", "Leefbaarometer 3 (lbm)", "score", 1, list(DIMENSIONS), None, notes)


def _index(store: Store, level: str, spec: str | None) -> Panel:
    have = store.sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'scores'")
    if not have["n"].iloc[0]:
        raise StoreError("the store holds no index scores; run 'leefbaar score' first")
    specs = store.sql("SELECT DISTINCT spec FROM scores WHERE level = ? ORDER BY spec", [level])["spec"].tolist()
    if not specs:
        raise StoreError(f"the store holds no index scores at level {level!r}")
    if spec is None:
        if len(specs) > 1:
            raise StoreError(f"several index specs at level {level}: {', '.join(specs)}; choose one with --spec")
        spec = specs[0]
    elif spec not in specs:
        raise StoreError(f"no index scores for spec {spec!r} at level {level}; have: {', '.join(specs)}")
    have = set(store.sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'scores'")
               ["column_name"])
    keep = ["code", "year", "total", *[c for c in ("afw", *DIMENSIONS, "kind") if c in have]]
    # only the columns used (the table also holds intervals and ranks: fetching them doubled the load)
    frame = store.sql(f"SELECT {', '.join(keep)} FROM scores WHERE spec = ? AND level = ? ORDER BY code, year",
                      [spec, level])
    frame = frame.dropna(subset=["total"]).astype({"year": "int64", "code": "str"}).reset_index(drop=True)
    comps = [d for d in DIMENSIONS if d in frame.columns and frame[d].notna().any()]
    notes = [note_in_languages(N_("Source: leefbaar index, spec {spec} (table scores)."), spec=spec)]
    if "kind" in frame.columns and (frame["kind"] == "modelled").any():
        n = int((frame["kind"] == "modelled").sum())
        notes.append(note_in_languages(N_("{n} scores are modelled (kind = modelled), the rest official."),
                                       n=lambda lang: fmt_integer(n, lang)))
    return Panel(frame, level, "index", f"leefbaar index {spec}", "score", 1, comps, None, notes)


def _indicator(store: Store, level: str, indicator: str) -> Panel:
    meta = store.sql("SELECT * FROM indicators WHERE id = ?", [indicator])
    if meta.empty:
        raise StoreError(f"unknown indicator {indicator!r}; see 'leefbaar indicators --search'")
    m = meta.iloc[0]
    obs = store.sql("SELECT code, vintage, year, value FROM observations WHERE level = ? AND indicator = ? "
                    "AND value IS NOT NULL ORDER BY code, vintage, year", [level, indicator])
    if obs.empty:
        raise StoreError(f"indicator {indicator!r} has no values at level {level!r}")
    notes = [note_in_languages(N_("Source: indicator {indicator} ({label}), level {level}."), indicator=indicator,
                               label=lambda lang: m[f"label_{lang}"], level=level)]
    frame, vintage, extra = harmonise(store, obs, level, extensive=False)
    notes += extra
    frame = frame.rename(columns={"value": "total"})
    return Panel(frame[["code", "year", "total"]], level, "indicator", f"{m['label_nl']} ({indicator})",
                 str(m["unit"]), int(m["direction"]), [], vintage, notes)


# -- boundary vintages ----------------------------------------------------------------------------------------
def harmonise(store: Store, obs: pd.DataFrame, level: str, extensive: bool,
              target: int | None = None) -> tuple[pd.DataFrame, int | None, list[str]]:
    """Move observations (``code, vintage, year, value``) of ``level`` to one boundary vintage.

    PC4 is returned unchanged (codes treated as stable). Otherwise the target is ``target`` or the latest
    vintage in the data; older vintages go through the chain of crosswalks to it (``extensive`` counts are split
    by area share, scores averaged with area-share weights). Returns ``(code, year, value)``, the target
    vintage and notes (Dutch, English) saying what was done.
    """
    if level == "pc4" or obs["vintage"].nunique() == 1:
        vint = None if level == "pc4" else int(obs["vintage"].iloc[0])
        return obs[["code", "year", "value"]].reset_index(drop=True), vint, []
    vintages = sorted(int(v) for v in obs["vintage"].unique())
    target = target if target is not None else vintages[-1]
    edges = store.sql("SELECT DISTINCT from_vintage, to_vintage FROM crosswalks WHERE from_level = ? "
                      "AND to_level = ?", [level, level])
    graph: dict[int, list[int]] = {}
    for a, b in edges.itertuples(index=False):
        graph.setdefault(int(a), []).append(int(b))
    target_codes = set(store.areas(level, target)["code"])
    parts, notes = [], []
    for v in vintages:
        part = obs[obs["vintage"] == v]
        if v == target:
            parts.append(part[["code", "year", "value"]])
            continue
        path = _path(graph, v, target)
        if path is None:
            kept = part[part["code"].isin(target_codes)]
            lost = part["code"].nunique() - kept["code"].nunique()
            parts.append(kept[["code", "year", "value"]])
            notes.append(note_in_languages(N_("{level} {vintage}: no crosswalk to {target}; codes that still exist in "
                                              "{target} were kept unchanged, {lost} codes dropped."), level=level,
                                           vintage=v, target=target, lost=lambda lang, n=lost: fmt_integer(n, lang)))
            continue
        weights = _chain(store, level, path)
        moved = []
        for year, grp in part.groupby("year"):
            vals = grp.set_index("code")[["value"]]
            out = apply_crosswalk(vals, weights, ["value"], extensive=extensive)
            moved.append(out.reset_index().assign(year=year))
        parts.append(pd.concat(moved, ignore_index=True)[["code", "year", "value"]])
        chain = " -> ".join(map(str, path))
        notes.append(note_in_languages(N_("{level} {vintage} moved to {target} boundaries with the crosswalks "
                                          "(area-weighted, via {chain})."), level=level, vintage=v, target=target,
                                       chain=chain))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.groupby(["code", "year"], as_index=False)["value"].mean()
    return frame, target, notes


def _path(graph: dict[int, list[int]], start: int, goal: int) -> list[int] | None:
    seen, queue = {start: None}, deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = [node]
            while seen[path[-1]] is not None:
                path.append(seen[path[-1]])
            return path[::-1]
        for nxt in graph.get(node, []):
            if nxt not in seen:
                seen[nxt] = node
                queue.append(nxt)
    return None


def _chain(store: Store, level: str, path: list[int]) -> pd.DataFrame:
    """Compose crosswalk weights along ``path`` (vintages) into one ``from_code, to_code, weight`` table."""
    total = None
    for a, b in zip(path, path[1:], strict=False):
        step = store.sql("SELECT from_code, to_code, weight FROM crosswalks WHERE from_level = ? AND to_level = ? "
                         "AND from_vintage = ? AND to_vintage = ?", [level, level, a, b])
        if total is None:
            total = step
        else:
            m = total.merge(step, left_on="to_code", right_on="from_code", suffixes=("", "_s"))
            m["weight"] = m["weight"] * m["weight_s"]
            total = m.groupby(["from_code", "to_code_s"], as_index=False)["weight"].sum().rename(
                columns={"to_code_s": "to_code"})
    return total


def gemeente_of(store: Store, codes: pd.Index | list[str], level: str, vintage: int = 2022) -> tuple[pd.Series, str]:
    """The gemeente (of boundary ``vintage``) of each area, and a note saying how it was found.

    PC4: the gemeente holding the largest share of the PC4's area (2017 PC4 boundaries, ``crosswalks``), so that
    every year is grouped by the same gemeenten. Wijk: the gemeente in ``areas``. Gemeente: the code itself.
    """
    codes = pd.Index(codes, dtype=str)
    if level == "gemeente":
        return pd.Series(codes, index=codes), ""
    if level == "pc4":
        cw = store.sql("SELECT from_code, to_code, weight FROM crosswalks WHERE from_level = 'pc4' AND "
                       "to_level = 'gemeente' AND to_vintage = ?", [vintage])
        if cw.empty:
            raise StoreError(f"the store holds no PC4 -> gemeente {vintage} crosswalk")
        best = cw.sort_values("weight", ascending=False).drop_duplicates("from_code").set_index("from_code")
        note = note_in_languages(N_("PC4 are assigned, for every year, to the {vintage} gemeente holding the largest "
                                    "share of their area (crosswalks, 2017 PC4 boundaries)."), vintage=vintage)
        return best["to_code"].reindex(codes), note
    areas = store.areas(level)
    areas = areas.sort_values("vintage").drop_duplicates("code", keep="last").set_index("code")
    return areas["gemeente_code"].reindex(codes), ""

