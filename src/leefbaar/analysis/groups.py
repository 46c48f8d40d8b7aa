"""Groupings of areas for trend tables: each maps area codes to a group label.

- ``initial_class``: the Leefbaarometer class of the total score in the first year (``leefbaar.index.classes``);
  for a source without a Leefbaarometer deviation (an indicator), the quintile of the first-year value.
- ``sted``: CBS urbanity (1 = zeer sterk stedelijk ... 5 = niet stedelijk) in the CBS year nearest the first
  score year.
- an ``area_groups`` list of the store (``apcg_2019``): members versus the rest.
- programme areas resolved to PC4 (store table ``programme_areas`` written by ``leefbaar resolve-areas``): a PC4
  belongs to a programme when at least ``min_share`` of its residents live in the programme's areas.
- a user file: CSV with a ``code`` column and optionally a ``group`` column (without it, the file's name is the
  group and every other area is "overig").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leefbaar.analysis.panel import Panel
from leefbaar.errors import InputError, StoreError
from leefbaar.i18n import LANGS, N_, in_languages, translator
from leefbaar.index.classes import classify_total, load_scheme
from leefbaar.sources.tabular import check_columns, read_text_table
from leefbaar.store.store import Store

STED_LABELS = {1: N_("1 very strongly urban"), 2: N_("2 strongly urban"), 3: N_("3 moderately urban"),
               4: N_("4 hardly urban"), 5: N_("5 not urban")}
"""CBS urbanity classes (``sted``), translated where shown."""
REST = N_("other")
"""The group of every area outside a membership grouping."""


@dataclass
class Grouping:
    """One way of grouping areas: ``labels`` maps code -> group label (areas not in it are left out)."""

    name: str
    title_nl: str
    title_en: str
    labels: pd.Series
    order: list[str]
    note: str = ""

    def title(self, lang: str) -> str:
        return self.title_nl if lang == "nl" else self.title_en


def initial_class(panel: Panel, lang: str = "nl") -> Grouping:
    """Class of the total score in the panel's first year; for sources without ``afw``, the value itself when it
    is a class (at most nine whole values), else its quintile."""
    first = panel.years[0]
    part = panel.frame[panel.frame["year"] == first].set_index("code")
    if panel.has_afw:
        scheme = load_scheme()
        labels = scheme.labels("total", lang)
        cls = classify_total(part["afw"])
        named = cls.map(lambda c: f"{int(c)} {labels[int(c) - 1]}" if pd.notna(c) else None).dropna()
        order = [f"{k} {labels[k - 1]}" for k in range(1, 10) if f"{k} {labels[k - 1]}" in set(named)]
        return Grouping("initial_class", *in_languages(N_("Class in {year}"), year=first), named.astype(str), order)
    values = part["total"].dropna()
    if values.nunique() <= 9 and (values == values.round()).all():  # a class indicator: group by its value
        named = values.astype(int).map(lambda v: f"{first}: {v}")
        order = [f"{first}: {v}" for v in sorted(values.astype(int).unique())]
        return Grouping("initial_value", *in_languages(N_("Value in {year}"), year=first), named, order)
    q = pd.qcut(values, 5, labels=False, duplicates="drop") + 1
    _ = translator(lang)
    named = q.dropna().astype(int).map(lambda k: _("quintile {k}", k=k))
    return Grouping("initial_quintile", *in_languages(N_("Quintile in {year}"), year=first), named,
                    sorted(named.unique()), _("1 = lowest values"))


def urbanity(store: Store, panel: Panel, lang: str = "nl") -> Grouping:
    """CBS urbanity class (``sted``) of each area, from the CBS year nearest the panel's first year."""
    years = store.sql("SELECT DISTINCT year FROM observations WHERE level = ? AND indicator = 'sted' "
                      "AND value IS NOT NULL ORDER BY year", [panel.level])["year"].tolist()
    if not years:
        raise StoreError(f"the store holds no urbanity (sted) at level {panel.level!r}")
    first = panel.years[0]
    use = min(years, key=lambda y: (abs(y - first), y))
    sted = store.table(panel.level, years=[use], indicators=["sted"]).set_index("code")["sted"].dropna()
    _ = translator(lang)
    labels = {k: _(v) for k, v in STED_LABELS.items()}
    named = sted.astype(int).map(labels).dropna()
    order = [labels[k] for k in range(1, 6)]
    note = _("Urbanity from CBS {use} (the year nearest {first}).", use=use, first=first)
    return Grouping("sted", *in_languages(N_("Urbanity (CBS {year})"), year=use), named, order, note)


def area_group(store: Store, group_id: str, lang: str = "nl") -> Grouping:
    """Members of an ``area_groups`` list (e.g. ``apcg_2019``) versus every other area."""
    rows = store.area_groups(group_id)
    if rows.empty:
        known = ", ".join(sorted(store.area_groups()["group_id"].unique()))
        raise StoreError(f"no area group {group_id!r} in the store; known: {known or 'none'}")
    _ = translator(lang)
    return _membership(group_id, group_id.upper().replace("_", " "), set(rows["code"].astype(str)), lang,
                       _("{n} areas in {group}.", n=_.integer(len(rows)), group=group_id))


def programme_groups(store: Store, level: str, min_share: float = 0.5, lang: str = "nl",
                     skip: set[str] | None = None) -> list[Grouping]:
    """One grouping per programme in the stored ``programme_areas`` (empty list if none are stored)."""
    have = store.sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'programme_areas'")
    if not have["n"].iloc[0]:
        return []
    rows = store.sql("SELECT programme, link, code, share, confidence FROM programme_areas WHERE level = ? "
                     "AND share >= ?", [level, min_share])
    return programme_groupings(rows, min_share, lang, skip)


def programme_groupings(rows: pd.DataFrame, min_share: float, lang: str = "nl",
                        skip: set[str] | None = None) -> list[Grouping]:
    """Groupings from ``programme_areas`` rows (``programme, link, code, share``) with share >= ``min_share``.

    Links named in ``skip`` (lists that are area groups in their own right, such as ``apcg_2019``) are left out.
    """
    _ = translator(lang)
    rows = rows[(rows["share"] >= min_share) & ~rows["link"].isin(skip or set())]
    out = []
    for (programme, link), grp in rows.groupby(["programme", "link"], sort=True):
        name = str(link).split("[")[0]
        note = _("{n} areas with >= {share} of residents inside the areas of {link} (name -> code via "
                 "leefbaar.evaluation).", n=_.integer(grp["code"].nunique()), share=_.percent(min_share), link=link)
        label = str(programme) if str(link) == str(programme) else f"{programme}: {link}"  # the list when it differs
        out.append(_membership(f"programme_{name}", label, set(grp["code"].astype(str)), lang, note))
    return out


def user_groups(path: Path, lang: str = "nl") -> Grouping:
    """A grouping from a CSV file: column ``code`` and optionally ``group``."""
    _ = translator(lang)
    raw = read_text_table(path)
    frame = raw.frame
    check_columns(raw, set(frame.columns), required=["code"])
    codes = frame["code"].astype(str).str.strip()
    if (codes == "").any():
        row = int(np.flatnonzero((codes == "").to_numpy())[0]) + 2
        raise InputError(str(path), "empty code", row=row, column="code")
    if "group" in frame.columns:
        labels = pd.Series(frame["group"].astype(str).str.strip().to_numpy(), index=codes.to_numpy())
        dup = labels.index.duplicated()
        if dup.any():
            row = int(np.flatnonzero(dup)[0]) + 2
            raise InputError(str(path), f"code {labels.index[dup][0]!r} listed twice", row=row, column="code")
        return Grouping(f"file_{path.stem}", path.stem, path.stem, labels, sorted(labels.unique()),
                        _("Groups from {file}.", file=path.name))
    return _membership(f"file_{path.stem}", path.stem, set(codes), lang,
                       _("{n} areas from {file}.", n=_.integer(codes.nunique()), file=path.name))


def _membership(name: str, label: str, members: set[str], lang: str, note: str) -> Grouping:
    """A two-group grouping: ``label`` for members, 'overig'/'other' for every other area (filled in later)."""
    return Grouping(name, label, label, pd.Series(label, index=sorted(members)), [label, translator(lang)(REST)],
                    note)


def assign(grouping: Grouping, codes: pd.Index) -> pd.Series:
    """Group label of each of ``codes``; membership groupings put all other codes in the rest group."""
    labels = grouping.labels.reindex(codes)
    if len(grouping.order) == 2 and grouping.order[1] in {translator(lang)(REST) for lang in LANGS}:
        labels = labels.fillna(grouping.order[1])
    return labels
