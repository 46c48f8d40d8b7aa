"""The Wijkprofiel index mode: each index is the plain mean of an objective and a subjective part.

The Rotterdam Wijkprofiel (Gemeente Rotterdam, OBI) has three indices - social (SI), physical (FI) and
safety (VI). Each is the mean of a subjective part (resident survey) and an objective part (registers), and
each part is the mean of its themes; every score is in points with 100 = Rotterdam in 2014 (higher is
better). The structure is in ``DIMENSIONS``; ``engine_spec`` turns it into a spec of the open index engine
(themes -> parts -> indices, plain means, a part missing when a theme is). ``WijkprofielIndex`` builds that
spec on a frame of theme scores (or parts), and ``reproduce`` checks with it that the published parts give
the published indices for every area and edition, within the published rounding (values carry ten
significant digits). ``combine_parts`` states the rule for two numbers.

For the dashboard: ``wijkprofiel_areas(store)`` lists the areas and ``wijkprofiel_profile(store, code)`` gives
one area's objective against subjective scores over all editions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from leefbaar.errors import StoreError
from leefbaar.i18n import N_, translator
from leefbaar.sources.buurt import wijkprofiel_code, wijkprofiel_indicator
from leefbaar.store.store import Store

SIGNIFICANT_DIGITS = 10
"""Digits carried by the published Wijkprofiel values (the workbook export): the reproduction tolerance."""

NEIGHBOURHOOD_TYPES = ("wijk", "deelwijk", "wijkcombinatie")
"""Area types that partition the city into neighbourhoods (gebied and stad are aggregates of them)."""


@dataclass(frozen=True)
class Theme:
    """A theme measured on both sides (``subjective`` and ``objective`` Wijkprofiel codes)."""

    name: str
    label_nl: str
    label_en: str
    subjective: str
    objective: str


@dataclass(frozen=True)
class Dimension:
    """One Wijkprofiel index with its two parts and the themes each part averages."""

    key: str
    label_nl: str
    label_en: str
    index: str
    subjective: str
    objective: str
    subjective_themes: tuple[str, ...]
    objective_themes: tuple[str, ...]
    themes: tuple[Theme, ...] = field(default=())

    def label(self, lang: str = "nl") -> str:
        return self.label_en if lang == "en" else self.label_nl


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("sociaal", "Sociale index", "Social index", "SI", "SI_s", "SI_o",
              ("As", "Zs", "Ss", "Ps", "Bs"), ("Zo", "So", "Po", "Bo"),
              (Theme("zelfredzaamheid", "Zelfredzaamheid", "Self-reliance", "Zs", "Zo"),
               Theme("samenredzaamheid", "Samenredzaamheid", "Mutual support", "Ss", "So"),
               Theme("participatie", "Participatie", "Participation", "Ps", "Po"),
               Theme("binding", "Binding", "Attachment", "Bs", "Bo"))),
    Dimension("fysiek", "Fysieke index", "Physical index", "FI", "FIs", "FIo",
              ("FIs_ALG", "Ws", "ORs", "Vs", "Ms"), ("Wo", "ORo", "Vo", "Mo"),
              (Theme("wonen", "Wonen", "Housing", "Ws", "Wo"),
               Theme("openbare_ruimte", "Openbare ruimte", "Public space", "ORs", "ORo"),
               Theme("voorzieningen", "Voorzieningen", "Amenities", "Vs", "Vo"),
               Theme("milieu", "Milieu", "Environment", "Ms", "Mo"))),
    Dimension("veiligheid", "Veiligheidsindex", "Safety index", "VI", "VIs", "VIo",
              ("VIs1", "VIs2", "VIs3", "VIs4", "VIs5", "VIs6"), ("VIo1", "VIo2", "VIo3", "VIo4", "VIo5"),
              (Theme("diefstal", "Diefstal", "Theft", "VIs1", "VIo1"),
               Theme("geweld", "Geweld", "Violence", "VIs2", "VIo2"),
               Theme("inbraak", "Inbraak", "Burglary", "VIs3", "VIo3"),
               Theme("vandalisme", "Vandalisme", "Vandalism", "VIs4", "VIo4"),
               Theme("overlast", "Overlast", "Nuisance", "VIs5", "VIo5"))),
)
SUBJECTIVE_ONLY_THEMES = {"As": N_("Judgement of quality of life"), "FIs_ALG": N_("Residential experience"),
                          "VIs6": N_("Feeling of safety")}
"""Subjective themes without an objective counterpart, labelled (translated where shown)."""


def all_codes() -> list[str]:
    """Every Wijkprofiel code the index structure uses (indices, parts and themes)."""
    out = []
    for d in DIMENSIONS:
        out += [d.index, d.subjective, d.objective, *d.subjective_themes, *d.objective_themes]
    return list(dict.fromkeys(out))


def combine_parts(objective, subjective, weight_subjective: float = 0.5):
    """The Wijkprofiel rule: index = plain mean of the objective and subjective part (``weight_subjective``
    0.5). Both parts must be on the same scale (points, 100 = reference); missing in either gives missing."""
    if not 0.0 <= weight_subjective <= 1.0:
        raise ValueError(f"weight_subjective must lie in [0, 1], got {weight_subjective!r}")
    return (1.0 - weight_subjective) * objective + weight_subjective * subjective


def published_rounding(values) -> np.ndarray:
    """Half a unit in the last of ``SIGNIFICANT_DIGITS`` digits of each value: the rounding of a published
    value (0 for exact zeros)."""
    v = np.abs(np.asarray(values, dtype=float))
    with np.errstate(divide="ignore"):
        exp = np.floor(np.log10(np.where(v > 0, v, 1.0)))
    return np.where(v > 0, 0.5 * 10.0 ** (exp - SIGNIFICANT_DIGITS + 1), 0.0)


GIVEN = "@given"
"""Suffix of the one input of a part that enters as published (its themes are not in the frame)."""


def engine_spec(weight_subjective: float = 0.5, given_parts=(), dimensions: tuple[Dimension, ...] = DIMENSIONS):
    """The Wijkprofiel as an engine spec (``leefbaar.index.engine``): level 1 the themes, level 2 the parts
    (plain mean, missing when any theme is: ``min_share: 1``), level 3 the indices (weights 1 - w and w of the
    objective and subjective part). Scores are not normalised (they are points already). A part named in
    ``given_parts`` has one input ``<part>@given``: the part as published."""
    from leefbaar.index.engine import parse_engine_spec

    combine_parts(0.0, 0.0, weight_subjective)  # validates the weight
    indicators, aggregates = [], []
    for d in dimensions:
        for part, themes, w in ((d.objective, d.objective_themes, 1.0 - weight_subjective),
                                (d.subjective, d.subjective_themes, weight_subjective)):
            kids = [part + GIVEN] if part in given_parts else list(themes)
            indicators += [{"code": t, "parent": part} for t in kids]
            aggregates.append({"code": part, "parent": d.index, "level": 2, "weight": w})
        aggregates.append({"code": d.index, "level": 3})
    return parse_engine_spec({"name": "wijkprofiel", "unit": "unit", "indicators": indicators,
                              "aggregates": aggregates, "levels": {1: "theme", 2: "part", 3: "index"},
                              "normalise": "none", "aggregate": {"method": "arithmetic", "min_share": 1.0}},
                             "wijkprofiel (engine spec)")


def _engine_scores(frame: pd.DataFrame, spec) -> pd.DataFrame:
    """Scores of every code of ``spec`` for the rows of ``frame`` (same index)."""
    from leefbaar.index.engine import build

    inds = spec.hierarchy.indicators
    data = pd.DataFrame({c: frame[c.removesuffix(GIVEN)].to_numpy(float) for c in inds})
    data.insert(0, "unit", [str(i) for i in range(len(frame))])
    return build(data, spec, "wijkprofiel frame").scores.set_axis(frame.index)


class WijkprofielIndex:
    """Combine subjective and objective parts per dimension as the Wijkprofiel does.

    ``weight_subjective`` is 0.5 in the Wijkprofiel (plain mean). ``transform(frame)`` takes a frame with the
    Wijkprofiel codes as columns (theme scores, or just the parts) and returns parts and indices computed
    bottom-up: a part from its themes where all themes are present, else the part column as given; the index
    from the two parts. Columns of the result: ``<index>``, ``<subjective>``, ``<objective>`` per dimension.
    """

    def __init__(self, weight_subjective: float = 0.5, dimensions: tuple[Dimension, ...] = DIMENSIONS):
        combine_parts(0.0, 0.0, weight_subjective)  # validates the weight
        self.weight_subjective = weight_subjective
        self.dimensions = dimensions

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        given = []
        for d in self.dimensions:
            for part, themes in ((d.subjective, d.subjective_themes), (d.objective, d.objective_themes)):
                if not all(t in frame for t in themes):
                    if part not in frame:
                        raise KeyError(f"neither part {part!r} nor all its themes {themes} are in the frame")
                    given.append(part)
        scores = _engine_scores(frame, engine_spec(self.weight_subjective, given, self.dimensions))
        return scores[[c for d in self.dimensions for c in (d.subjective, d.objective, d.index)]]


@dataclass
class Reproduction:
    """How well published parts reproduce published indices. ``table``: one row per area, edition and step
    (``index`` = index from its two parts, ``subjective``/``objective`` = part from its themes) with the
    published and computed value, the absolute difference and the tolerance (published rounding of the
    target plus that of the mean of its inputs)."""

    table: pd.DataFrame
    max_abs_diff: dict[str, float]
    all_within_rounding: bool
    n_checked: int


def reproduce(frame: pd.DataFrame) -> Reproduction:
    """Recompute every index from its published parts, and every part from its published themes, with the
    engine spec (``engine_spec``).

    ``frame`` has columns ``code``, ``year`` and the Wijkprofiel codes (``wijkprofiel_frame``). Rows where a
    target or an input is missing are not checked (the Wijkprofiel publishes all three indices complete).
    """
    rows = []
    parts = [p for d in DIMENSIONS for p in (d.objective, d.subjective)]
    from_themes = _engine_scores(frame, engine_spec())
    from_parts = _engine_scores(frame, engine_spec(given_parts=parts))
    for d in DIMENSIONS:
        steps = ((d.index, [d.objective, d.subjective], "index"),
                 (d.subjective, list(d.subjective_themes), "subjective"),
                 (d.objective, list(d.objective_themes), "objective"))
        for target, inputs, step in steps:
            sub = frame[["code", "year", target, *inputs]].dropna()
            computed = (from_parts if step == "index" else from_themes).loc[sub.index, target]
            tol = (published_rounding(sub[target])
                   + np.mean([published_rounding(sub[c]) for c in inputs], axis=0))
            rows.append(pd.DataFrame({"code": sub["code"], "year": sub["year"], "dimension": d.key,
                                      "step": step,
                                      "target": target, "published": sub[target], "computed": computed,
                                      "abs_diff": (sub[target] - computed).abs(), "tolerance": tol}))
    table = pd.concat(rows, ignore_index=True)
    max_diff = table.groupby("target")["abs_diff"].max().to_dict()
    return Reproduction(table, max_diff, bool((table["abs_diff"] <= table["tolerance"]).all()), len(table))


def wijkprofiel_frame(store: Store, codes: list[str] | None = None, years: list[int] | None = None
                      ) -> pd.DataFrame:
    """Wide Wijkprofiel scores from the store: ``code``, ``year``, area ``name``/``area_type`` and one column
    per Wijkprofiel code in ``codes`` (default: the index structure, ``all_codes()``)."""
    codes = codes or all_codes()
    wide = store.table("wijkprofiel", years=years, indicators=[wijkprofiel_indicator(c) for c in codes])
    if wide.empty:
        raise StoreError("the store holds no Wijkprofiel data; build it with the buurt/ files "
                         "(rotterdam_wijkprofiel_*.csv)")
    wide = wide.rename(columns={wijkprofiel_indicator(c): c for c in codes})
    areas = store.sql("SELECT code, name, area_type, wijk_code FROM areas WHERE level = 'wijkprofiel' "
                      "QUALIFY row_number() OVER (PARTITION BY code ORDER BY vintage DESC) = 1")
    cols = ["code", "name", "area_type", "wijk_code", "year", *codes]
    return areas.merge(wide, on="code", how="right")[cols]


def wijkprofiel_areas(store: Store) -> pd.DataFrame:
    """The Wijkprofiel areas: ``code``, ``name``, ``area_type``, ``gebied`` and the linked CBS 2024 codes."""
    areas = store.sql("SELECT code, name, area_type, wijk_code FROM areas WHERE level = 'wijkprofiel' "
                      "QUALIFY row_number() OVER (PARTITION BY code ORDER BY vintage DESC) = 1 ORDER BY code")
    if areas.empty:
        raise StoreError("the store holds no Wijkprofiel areas")
    link = wijkprofiel_link(store)
    if link is not None:
        agg = link.groupby("code").agg(gebied=("gebied", "first"), relation=("relation", "first"),
                                       cbs_codes=("cbs_code", ";".join))
        areas = areas.merge(agg, left_on="code", right_index=True, how="left")
    return areas


def wijkprofiel_link(store: Store) -> pd.DataFrame | None:
    """Table ``wijkprofiel_cbs`` (Wijkprofiel area -> CBS 2024 codes), or None when the store lacks it."""
    exists = store.sql("SELECT count(*) AS n FROM information_schema.tables "
                       "WHERE table_name = 'wijkprofiel_cbs'")
    if not exists["n"].iloc[0]:
        return None
    return store.sql("SELECT * EXCLUDE (source_id) FROM wijkprofiel_cbs ORDER BY code, cbs_code")


@dataclass
class WijkprofielProfile:
    """One Wijkprofiel area over all editions.

    ``area``: code, name, area_type, gebied, CBS codes. ``indices``: per edition and dimension the index,
    its objective and subjective part and the gap (subjective minus objective, points). ``themes``: per
    edition the theme pairs (objective and subjective score, gap) and the subjective-only themes (objective
    empty). All scores are points with 100 = Rotterdam 2014; higher is better.
    """

    area: dict
    indices: pd.DataFrame
    themes: pd.DataFrame

    def to_dict(self) -> dict:
        """JSON-ready: NaN becomes None."""
        def records(frame: pd.DataFrame) -> list[dict]:
            return [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
                    for r in frame.to_dict(orient="records")]
        return {"area": self.area, "indices": records(self.indices), "themes": records(self.themes)}


def _normalise_code(area_code) -> str:
    text = str(area_code).strip().upper()
    return wijkprofiel_code(int(text)) if text.isdigit() else text


def wijkprofiel_profile(store: Store, area_code: str | int, lang: str = "nl") -> WijkprofielProfile:
    """Objective against subjective scores of one Wijkprofiel area (``WP0010`` or Rotterdam's number 10) over
    all editions. Labels in ``lang`` (nl or en)."""
    code = _normalise_code(area_code)
    areas = wijkprofiel_areas(store)
    hit = areas[areas["code"] == code]
    if hit.empty:
        raise StoreError(f"no Wijkprofiel area {code!r}; known codes run from {areas['code'].min()} to "
                         f"{areas['code'].max()}")
    frame = wijkprofiel_frame(store)
    frame = frame[frame["code"] == code].sort_values("year")
    ind, th = [], []
    for d in DIMENSIONS:
        for r in frame.itertuples(index=False):
            v = r._asdict()
            ind.append({"year": v["year"], "dimension": d.key, "label": d.label(lang), "index": v[d.index],
                        "objective": v[d.objective], "subjective": v[d.subjective],
                        "gap": v[d.subjective] - v[d.objective]})
            for t in d.themes:
                th.append({"year": v["year"], "dimension": d.key, "theme": t.name,
                           "label": t.label_en if lang == "en" else t.label_nl, "objective": v[t.objective],
                           "subjective": v[t.subjective], "gap": v[t.subjective] - v[t.objective]})
            for c in d.subjective_themes:
                if c in SUBJECTIVE_ONLY_THEMES:
                    th.append({"year": v["year"], "dimension": d.key, "theme": c.lower(),
                               "label": translator(lang)(SUBJECTIVE_ONLY_THEMES[c]), "objective": np.nan,
                               "subjective": v[c],
                               "gap": np.nan})
    area = {k: (None if pd.isna(v) else v) for k, v in hit.iloc[0].to_dict().items()}
    return WijkprofielProfile(area, pd.DataFrame(ind), pd.DataFrame(th))
