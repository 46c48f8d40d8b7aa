"""Outcome panels for programme evaluation: treated, buffer and reference PC4 with their outcome series.

A PC4 is *treated* when at least ``min_share`` of its residents (area where residents are unknown) lives in
the programme's confidently matched areas (confidence exact, high or medium). A PC4 touched by the programme
but below that share, or touched only by low-confidence matches or envelopes, is a *buffer*: it is neither
treated nor a reference. References are all other PC4 with the outcome observed in every year of the window,
outside gemeenten that hold listed names of the programme that could not be placed at all (their areas may be
anywhere in the gemeente), unless ``exclude_unresolved_gemeenten`` is False.

Outcomes: any indicator observed at PC4 level (``lbm``, ``lbm_won`` ..., ``wozwoning``), or a column of the
``scores`` table written by the index stage (``scores.<column>``, or ``index`` for its total score).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leefbaar.errors import StoreError
from leefbaar.evaluation.registry import Programme
from leefbaar.evaluation.resolve import CONFIDENCE_ORDER, CONFIDENT, PC4_VINTAGE

LEVEL = "pc4"
NEVER = np.inf


def load_outcome(store, outcome: str, level: str = LEVEL) -> pd.DataFrame:
    """Observed values of ``outcome`` per area and year: columns code, year, y.

    ``outcome`` is an indicator id of the store, ``scores.<column>`` for a column of the ``scores`` table
    written by ``leefbaar score`` (default spec; ``scores.<column>@<spec>`` for another spec), or ``index`` for
    its total score (official Leefbaarometer values where they exist, modelled elsewhere).
    """
    if outcome == "index" or outcome.startswith("scores."):
        tables = set(store.sql("SELECT table_name FROM information_schema.tables")["table_name"])
        if "scores" not in tables:
            raise StoreError("the store has no 'scores' table yet; compute leefbaar's index first "
                             "('leefbaar score') or choose an indicator")
        cols = list(store.sql("SELECT * FROM scores LIMIT 0").columns)
        spec = "default"
        column = "total"
        if outcome.startswith("scores."):
            column, _, spec = outcome.split(".", 1)[1].partition("@")
            spec = spec or "default"
        if column not in cols or not {"code", "year"} <= set(cols):
            raise StoreError(f"the 'scores' table has no usable column {column!r} (columns: {', '.join(cols)})")
        conds, params = [], []
        if "level" in cols:
            conds.append("level = ?")
            params.append(level)
        if "spec" in cols:
            conds.append("spec = ?")
            params.append(spec)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        frame = store.sql(f'SELECT code, year, "{column}" AS y FROM scores {where}', params)
    else:
        known = store.sql("SELECT count(*) AS n FROM indicators WHERE id = ?", [outcome])["n"].iloc[0]
        if not known:
            raise StoreError(f"unknown outcome {outcome!r}; use an indicator id ('leefbaar indicators --search'), "
                             "'index' or 'scores.<column>'")
        frame = store.sql("SELECT code, year, value AS y FROM observations WHERE level = ? AND indicator = ? "
                          "AND value IS NOT NULL ORDER BY code, year", [level, outcome])
    if frame.empty:
        raise StoreError(f"the store holds no values of {outcome!r} at level {level}")
    frame = frame.dropna(subset=["y"])
    return frame.astype({"code": str, "year": int, "y": float})


@dataclass
class Panel:
    """A balanced panel of PC4 outcomes.

    ``data``: unit, year, y, cohort (first post year; ``inf`` for references), cluster (gemeente), weight
    (residents, for aggregating areas). ``years``: the measurement years in the window. ``info``: counts of
    treated, buffer, excluded and dropped units and the reasons.
    """

    data: pd.DataFrame
    years: list[int]
    outcome: str
    info: dict = field(default_factory=dict)

    @property
    def units(self) -> pd.DataFrame:
        return self.data.drop_duplicates("unit")[["unit", "cohort", "cluster", "weight"]].reset_index(drop=True)

    @property
    def treated_units(self) -> pd.DataFrame:
        u = self.units
        return u[np.isfinite(u["cohort"])]

    @property
    def cohorts(self) -> list[int]:
        return sorted(int(c) for c in self.treated_units["cohort"].unique())

    def wide(self) -> pd.DataFrame:
        """Outcomes with one row per unit and one column per year."""
        return self.data.pivot(index="unit", columns="year", values="y")[self.years]

    def pre_years(self, cohort: int) -> list[int]:
        return [y for y in self.years if y < cohort]

    def post_years(self, cohort: int) -> list[int]:
        return [y for y in self.years if y >= cohort]


def programme_pc4(store, programme: Programme, resolution_areas: pd.DataFrame | None = None) -> pd.DataFrame:
    """The PC4 rows of a programme's resolved areas (from ``programme_areas`` or a resolution just made)."""
    if resolution_areas is None:
        tables = set(store.sql("SELECT table_name FROM information_schema.tables")["table_name"])
        if "programme_areas" not in tables:
            raise StoreError("the store has no resolved programme areas; run 'leefbaar resolve-areas' first")
        frame = store.sql("SELECT * FROM programme_areas WHERE programme = ? AND level = 'pc4'", [programme.id])
    else:
        a = resolution_areas
        frame = a[(a["programme"] == programme.id) & (a["level"] == LEVEL)].copy()
    return frame


def build_panel(store, programme: Programme, outcome: str, year_from: int | None = None,
                year_to: int | None = None, *, areas: pd.DataFrame | None = None, min_share: float = 0.5,
                unresolved_gemeenten: set[str] | None = None, exclude_unresolved_gemeenten: bool = True,
                cohort_override: int | None = None) -> Panel:
    """Assemble the evaluation panel of a programme (see the module docstring).

    ``areas`` are the programme's PC4 rows (``programme_pc4``); ``unresolved_gemeenten`` the gemeente codes
    with listed names that could not be placed; ``cohort_override`` replaces every first post year (a
    user-chosen treatment timing).
    """
    areas = programme_pc4(store, programme) if areas is None else areas
    if areas.empty:
        raise StoreError(f"programme {programme.id!r} has no areas attached at PC4 level")
    out = load_outcome(store, outcome)
    years_all = sorted(out["year"].unique())
    years = [y for y in years_all if (year_from is None or y >= year_from) and (year_to is None or y <= year_to)]
    if not years:
        raise StoreError(f"{outcome!r} has no measurements between {year_from} and {year_to} "
                         f"(years: {', '.join(map(str, years_all))})")
    out = out[out["year"].isin(years)]
    conf = areas["confidence"].map(CONFIDENCE_ORDER).fillna(0)
    share_conf = areas["share_confident"].fillna(0.0) if "share_confident" in areas else areas["share"].where(
        conf >= CONFIDENT, 0.0)
    treated_rows = areas[share_conf >= min_share]
    cohorts = treated_rows.groupby("code")["first_post_year"].min()
    if cohort_override is not None:
        cohorts[:] = cohort_override
    touched = set(areas.loc[areas["share"].fillna(0) > 0, "code"]) - set(cohorts.index)
    gemeente = store.sql("SELECT code, gemeente_code FROM areas WHERE level = 'pc4' AND vintage = ?",
                         [PC4_VINTAGE]).set_index("code")["gemeente_code"]
    pop = store.sql("SELECT code, value FROM observations WHERE level = 'pc4' AND indicator = 'inwoner' "
                    "AND year = (SELECT min(year) FROM observations WHERE level = 'pc4' AND indicator = 'inwoner') "
                    "ORDER BY code")
    pop = pop.set_index("code")["value"]
    # balanced: observed in every year of the window
    counts = out.groupby("code")["year"].nunique()
    complete = set(counts[counts == len(years)].index)
    excluded_gm = (_to_2022(store, set(unresolved_gemeenten or ())) if exclude_unresolved_gemeenten
                   else set())
    units = pd.DataFrame({"unit": sorted(complete)})
    units["cohort"] = units["unit"].map(cohorts).astype(float).fillna(NEVER)
    units["cluster"] = units["unit"].map(gemeente).fillna("unknown")
    units["weight"] = units["unit"].map(pop).fillna(1.0).clip(lower=1.0)
    is_treated = np.isfinite(units["cohort"])
    buffer = units["unit"].isin(touched) & ~is_treated
    in_excluded_gm = units["cluster"].isin(excluded_gm) & ~is_treated
    keep = is_treated | ~(buffer | in_excluded_gm)
    info = {
        "years": years, "min_share": min_share,
        "treated_listed": int(len(cohorts)),
        "treated_in_panel": int(is_treated.sum()),
        "treated_dropped_incomplete": int(len(set(cohorts.index) - complete)),
        "buffer_excluded": int(buffer.sum()),
        "excluded_gemeenten": sorted(excluded_gm),
        "references_excluded_gemeenten": int((in_excluded_gm & ~buffer).sum()),
        "references": int((~is_treated & keep).sum()),
        "partial_list": bool(areas["partial"].fillna(False).astype(bool).any()),
        "cohorts": {int(c): int(n) for c, n in units.loc[is_treated, "cohort"].value_counts().items()},
    }
    units = units[keep]
    data = out.merge(units, left_on="code", right_on="unit").drop(columns="code")
    data = data[["unit", "year", "y", "cohort", "cluster", "weight"]].sort_values(["unit", "year"])
    return Panel(data.reset_index(drop=True), years, outcome, info)


def _to_2022(store, codes: set[str]) -> set[str]:
    """Gemeente codes of any vintage with the 2022 gemeenten that took over (part of) them: PC4 areas carry
    their 2022 gemeente."""
    if not codes:
        return set()
    cw = store.sql(f"SELECT DISTINCT to_code FROM crosswalks WHERE from_level = 'gemeente' AND to_level = "
                   f"'gemeente' AND to_vintage = 2022 AND weight >= 0.05 AND from_code IN "
                   f"({', '.join('?' * len(codes))})", list(codes))
    return set(codes) | set(cw["to_code"])


def unresolved_gemeenten(store, programme: Programme) -> set[str]:
    """Gemeenten with listed names of the programme that could not be placed (no codes, no envelope).

    Reads the stored match table ``area_matches`` written by ``leefbaar resolve-areas``.
    """
    tables = set(store.sql("SELECT table_name FROM information_schema.tables")["table_name"])
    if "area_matches" not in tables:
        return set()
    links = [a.id for a in programme.areas if a.source == "policy_list"]
    if not links:
        return set()
    m = store.sql(f"SELECT gm_code, confidence FROM area_matches WHERE list_id IN ({', '.join('?' * len(links))})",
                  links)
    return set(m.loc[m["confidence"] == "unresolved", "gm_code"].dropna())


def make_panel(frame: pd.DataFrame, outcome: str = "y") -> Panel:
    """A panel from a ready frame with columns unit, year, y, cohort (inf = reference), cluster[, weight];
    used for constructed data and tests."""
    data = frame.copy()
    if "weight" not in data:
        data["weight"] = 1.0
    years = sorted(data["year"].unique().tolist())
    counts = data.groupby("unit")["year"].nunique()
    data = data[data["unit"].isin(counts[counts == len(years)].index)]
    data = data[["unit", "year", "y", "cohort", "cluster", "weight"]].sort_values(["unit", "year"])
    u = data.drop_duplicates("unit")
    info = {"years": years, "treated_in_panel": int(np.isfinite(u["cohort"]).sum()),
            "references": int((~np.isfinite(u["cohort"])).sum()), "partial_list": False,
            "cohorts": {int(c): int(n) for c, n in u.loc[np.isfinite(u["cohort"]), "cohort"].value_counts().items()}}
    return Panel(data.reset_index(drop=True), years, outcome, info)
