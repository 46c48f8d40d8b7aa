"""What an indicator map may show, and how its values are classed (dashboard, report and CLI maps).

- ``map_indicators``: the catalogue indicators that are meaningful as a choropleth: rates, shares, averages,
  densities and distances. Not offered: plain counts and areas (unit ``aantal``, ``ha``, ``km2``: they grow
  with the size of the area), class codes (``klasse ...``: ordinal categories, drawn by the score maps), and
  the published Leefbaarometer series (theme ``leefbaarometer``: the score maps show them with kind and class).
  Indicators the catalogue marks ``sensitive`` (migration background) carry the flag; a surface shows them only
  when the user asks for them, with a warning.
- ``indicator_legend``: class breaks through ``mapclassify`` (``analysis.charts.class_breaks``): quantiles or
  Fisher-Jenks, seven classes at most, with labels in the unit of the indicator in Dutch and English.
Theme and unit labels: ``choropleth.csv``.
"""

from __future__ import annotations

import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from leefbaar.analysis.charts import SCHEME_LABELS, class_breaks
from leefbaar.facts.core import not_found
from leefbaar.i18n import fmt_number, translator

NOT_CHOROPLETH_UNITS = frozenset({"aantal", "ha", "km2"})
NOT_CHOROPLETH_THEMES = frozenset({"leefbaarometer"})
MAP_SCHEMES = ("quantiles", "fisher_jenks")
DEFAULT_SCHEME = "quantiles"
CLASSES = 7
FJ_SAMPLE = 3000  # Fisher-Jenks is quadratic in n: above this, it runs on this many evenly spaced order statistics
# ColorBrewer Purples: sequential, and apart from the blue of water on the map
SEQUENTIAL = ["#fcfbfd", "#efedf5", "#dadaeb", "#bcbddc", "#9e9ac8", "#807dba", "#54278f"]


@cache
def _labels() -> dict[str, dict[str, dict]]:
    table = pd.read_csv(Path(__file__).with_name("choropleth.csv"), dtype=str, keep_default_na=False)
    return {kind: {r.key: {"nl": r.nl, "en": r.en, "order": int(r.order) if r.order else 999}
                   for r in g.itertuples()} for kind, g in table.groupby("kind")}


def theme_label(theme: str | None) -> dict[str, str]:
    """{nl, en} of a catalogue theme (the theme itself when it has no label)."""
    t = _labels()["theme"].get(theme or "")
    return {"nl": t["nl"], "en": t["en"]} if t else {"nl": theme or "", "en": theme or ""}


def unit_label(unit: str | None) -> dict[str, str]:
    """{nl, en} of a catalogue unit."""
    u = _labels()["unit"].get(unit or "")
    return {"nl": u["nl"], "en": u["en"]} if u else {"nl": unit or "", "en": unit or ""}


def is_choropleth(unit: str | None, theme: str | None) -> bool:
    """Whether an indicator of this unit and theme is meaningful as a choropleth (module docstring)."""
    unit = (unit or "").strip()
    return bool(unit) and unit not in NOT_CHOROPLETH_UNITS and not unit.startswith("klasse") \
        and theme not in NOT_CHOROPLETH_THEMES


def map_indicators(catalogue: pd.DataFrame, levels: dict[str, list[str]]) -> list[dict]:
    """The indicators offered for indicator maps, grouped by theme (theme order, then label), each with
    ``levels`` (where it has values), ``theme_label``, ``unit_label`` and ``sensitive``.

    ``catalogue``: indexed by id with label_nl, label_en, unit, theme, direction, sensitive; ``levels``: level ->
    indicator ids with values there.
    """
    where: dict[str, list[str]] = {}
    for level, ids in levels.items():
        for i in ids:
            where.setdefault(i, []).append(level)
    order = {k: v["order"] for k, v in _labels()["theme"].items()}
    rows = []
    for ind, r in catalogue.iterrows():
        if ind not in where or not is_choropleth(r["unit"], r["theme"]):
            continue
        rows.append({"id": ind, "label": {"nl": r["label_nl"] or ind, "en": r["label_en"] or r["label_nl"] or ind},
                     "unit": r["unit"], "unit_label": unit_label(r["unit"]), "theme": r["theme"],
                     "theme_label": theme_label(r["theme"]), "direction": int(r["direction"]),
                     "sensitive": bool(r["sensitive"]), "levels": where[ind]})
    rows.sort(key=lambda x: (order.get(x["theme"], 999), x["theme"] or "", x["label"]["nl"].lower()))
    return rows


def _sample(values: np.ndarray, n: int) -> np.ndarray:
    """``n`` evenly spaced order statistics of ``values`` (deterministic; keeps the shape of the distribution)."""
    v = np.sort(values)
    return v[np.linspace(0, len(v) - 1, n).round().astype(int)]


def indicator_legend(values, unit: str | None, direction: int = 1, scheme: str = DEFAULT_SCHEME,
                     k: int = CLASSES) -> dict:
    """Class breaks of an indicator map: ``breaks`` (the k-1 inner upper bounds: a value equal to one falls in
    the lower class, as in mapclassify), ``colors`` (sequential, darker = higher; reversed where higher is worse),
    ``labels_nl``/``labels_en`` ("lo – hi unit"), ``scheme`` with its label, ``unit`` with its label.
    """
    if scheme not in MAP_SCHEMES:
        raise ValueError(f"scheme must be one of {', '.join(MAP_SCHEMES)}, not {scheme!r}")
    y = np.asarray(values, float)
    y = y[np.isfinite(y)]
    ul = unit_label(unit)
    base = {"scheme": scheme, "scheme_label": {lg: SCHEME_LABELS[lg][scheme] for lg in ("nl", "en")},
            "unit": unit, "unit_label": ul, "kind": "indicator"}
    if len(y) == 0:
        empty = {}
        for lg in ("nl", "en"):
            _ = translator(lg)
            empty[f"labels_{lg}"] = [_("no data")]
        return {**base, "breaks": [], "colors": [SEQUENTIAL[3]], **empty}
    fit = y if scheme != "fisher_jenks" or len(y) <= FJ_SAMPLE else _sample(y, FJ_SAMPLE)
    with warnings.catch_warnings():  # mapclassify warns when tied values leave fewer classes: shown in the legend
        warnings.simplefilter("ignore", UserWarning)
        bins = np.unique(np.asarray(class_breaks(fit, scheme, k=k).bins, float))
    bins[-1] = max(bins[-1], float(y.max()))
    inner = bins[:-1]
    colors = SEQUENTIAL if direction >= 0 else SEQUENTIAL[::-1]
    picks = np.linspace(0, len(colors) - 1, len(bins)).round().astype(int)
    edges = [float(y.min()), *bins.tolist()]
    span = (edges[-1] - edges[0]) or 1.0
    digits = 0 if np.all(np.mod(edges, 1) == 0) else int(max(0, min(3, 2 - np.floor(np.log10(span)))))
    labels = {lg: [f"{fmt_number(edges[i], lg, digits)} – {fmt_number(edges[i + 1], lg, digits)}"
                   + (f" {ul[lg]}" if ul[lg] else "") for i in range(len(bins))] for lg in ("nl", "en")}
    return {**base, "breaks": inner.tolist(), "colors": [colors[i] for i in picks],
            "labels_nl": labels["nl"], "labels_en": labels["en"]}


def bins_of(values, breaks) -> np.ndarray:
    """Class index 0..k-1 of each value under ``indicator_legend`` breaks (upper bounds inclusive); -1 where
    missing."""
    v = np.asarray(values, float)
    out = np.searchsorted(np.asarray(breaks, float), v, side="left")
    return np.where(np.isfinite(v), out, -1)


# -- grid cells (CBS vierkantstatistieken) -----------------------------------------------------------------
# Cells of one grid have one size, so a count per cell is a density (per ha for 100 m cells, per 25 ha for
# 500 m): counts are offered here, unlike on the administrative levels. Areas, class codes and the published
# Leefbaarometer series are not. No index score exists for a cell and none is made: a grid map shows the
# cells' own CBS indicators and says so.
GRID_CELL_M = {"grid100": 100, "grid500": 500}
GRID_DEFAULTS = ("inwoner", "p_koopwon")  # the default measure: the first of these a grid has
NOT_GRID_UNITS = frozenset({"ha", "km2"})
NO_DATA_COLOR = "#d9d9d9"  # cells without a value: the grey of "no data" on every map


def grid_text(key: str, **values) -> dict[str, str]:
    """{nl, en} of a grid text of ``choropleth.csv`` (kind ``grid``) with ``values`` filled in."""
    t = _labels()["grid"][key]
    return {lg: t[lg].format(**values) for lg in ("nl", "en")}


def is_grid_measure(unit: str | None, theme: str | None) -> bool:
    """Whether an indicator is meaningful on a map of equal cells (counts are: see the section comment)."""
    unit = (unit or "").strip()
    return bool(unit) and unit not in NOT_GRID_UNITS and not unit.startswith("klasse") \
        and theme not in NOT_CHOROPLETH_THEMES


def _grid_unit_label(unit: str | None, size: int) -> dict[str, str]:
    return grid_text("unit.count", size=size) if unit == "aantal" else unit_label(unit)


def grid_measures(catalogue: pd.DataFrame, years: dict[str, list[int]], size: int) -> list[dict]:
    """The indicators a grid level offers, grouped by theme (theme order, then label): ``id``, ``label``,
    ``unit``, ``unit_label`` (counts: per cell of ``size`` m), ``theme_label``, ``direction``, ``sensitive``,
    ``years`` (with values in the cells drawn). ``years``: indicator id -> years with values."""
    order = {k: v["order"] for k, v in _labels()["theme"].items()}
    rows = []
    for ind, yrs in years.items():
        if ind not in catalogue.index:
            continue
        r = catalogue.loc[ind]
        if not is_grid_measure(r["unit"], r["theme"]):
            continue
        rows.append({"id": ind, "label": {"nl": r["label_nl"] or ind, "en": r["label_en"] or r["label_nl"] or ind},
                     "unit": r["unit"], "unit_label": _grid_unit_label(r["unit"], size), "theme": r["theme"],
                     "theme_label": theme_label(r["theme"]), "direction": int(r["direction"]),
                     "sensitive": bool(r["sensitive"]), "years": sorted(int(y) for y in yrs)})
    rows.sort(key=lambda x: (order.get(x["theme"], 999), x["theme"] or "", x["label"]["nl"].lower()))
    return rows


def grid_default_measure(measures: list[dict]) -> str | None:
    """Inhabitants where a grid has them, else % koopwoningen, else its first non-sensitive indicator."""
    ids = [m["id"] for m in measures]
    plain = [m["id"] for m in measures if not m["sensitive"]]
    return next((i for i in GRID_DEFAULTS if i in ids), plain[0] if plain else None)


def grid_level(facts, level: str) -> dict | None:
    """What a grid level of the store can show (None when ``level`` is no grid with cells drawn): ``id``,
    ``label``, ``cell_m``, ``vintage`` (of the cells drawn: the latest boundaries), ``bounds`` (WGS84
    [[west, south], [east, north]]), ``years``, ``measures`` (``grid_measures``), ``default_measure``,
    ``source`` and ``no_score`` (texts in both languages)."""
    size = GRID_CELL_M.get(level)
    if size is None:
        return None
    vintage = facts.geometry_vintages().get(level)
    if vintage is None:
        return None
    counts = facts.sql(
        "SELECT o.indicator, o.year FROM observations o JOIN geometries g ON g.level = o.level AND g.code = o.code "
        "AND g.vintage = ? WHERE o.level = ? AND o.value IS NOT NULL GROUP BY ALL", [vintage, level])
    measures = grid_measures(facts.indicator_catalogue,
                             {i: g["year"].tolist() for i, g in counts.groupby("indicator")}, size)
    if not measures:
        return None
    wkb = facts.sql("SELECT geom_wgs84 FROM geometries WHERE level = ? AND vintage = ?", [level, vintage])
    x0, y0, x1, y1 = shapely.total_bounds(shapely.from_wkb(wkb["geom_wgs84"].map(bytes).to_numpy()))
    years = sorted({y for m in measures for y in m["years"]})
    return {"id": level, "label": grid_text(f"level.{level}"), "cell_m": size, "vintage": vintage,
            "bounds": [[round(x0, 5), round(y0, 5)], [round(x1, 5), round(y1, 5)]], "years": years,
            "measures": measures, "default_measure": grid_default_measure(measures),
            "source": _grid_source(facts, level, years[-1], size), "no_score": grid_text("no_score")}


def _grid_source(facts, level: str, year: int, size: int) -> dict[str, str]:
    lic = facts.sql("SELECT DISTINCT s.licence FROM observations o JOIN sources s USING (source_id) "
                    "WHERE o.level = ? AND o.year = ? AND s.licence IS NOT NULL", [level, year])["licence"]
    return grid_text("source", year=year, size=size, licence=", ".join(sorted(lic)) or "CC BY 4.0")


def grid_map(facts, gl: dict, indicator: str | None = None, year: int | None = None,
             scheme: str = DEFAULT_SCHEME) -> dict:
    """One indicator for every cell drawn at a grid level (``gl``: its ``grid_level``), classed like an indicator
    map (``indicator_legend``; default indicator: the level's default measure, default year: its latest).

    Every cell drawn is listed: cells without a value (empty or suppressed by CBS) have value None and bin -1
    ("no data", never 0). Answers ``level``, ``year``, ``measure`` ("indicator"), ``indicator``, ``unit``,
    ``codes``, ``values``, ``bins``, ``legend`` (with ``no_data_label``), ``source``, ``no_score``, ``rounded``
    (the note that CBS rounds counts, when any value is rounded) and ``n_values``. ``NotFound`` for an indicator
    the level does not offer or a year without values.
    """
    level = gl["id"]
    indicator = indicator or gl["default_measure"]
    m = next((x for x in gl["measures"] if x["id"] == indicator), None)
    if m is None:
        raise not_found("error.no_indicator_values", indicator=indicator, level=level,
                        year=year or ", ".join(map(str, gl["years"])))
    year = year if year is not None else m["years"][-1]
    if year not in m["years"]:
        raise not_found("error.no_indicator_values", indicator=indicator, level=level, year=year)
    frame = facts.sql(
        "SELECT g.code, o.value, o.status FROM geometries g LEFT JOIN observations o ON o.level = g.level "
        "AND o.code = g.code AND o.year = ? AND o.indicator = ? WHERE g.level = ? AND g.vintage = ? ORDER BY g.code",
        [year, indicator, level, gl["vintage"]])
    values = pd.to_numeric(frame["value"], errors="coerce").to_numpy(float)
    legend = indicator_legend(values, None, m["direction"], scheme)  # labels without unit: it is named once
    legend = {**legend, "unit": m["unit"], "unit_label": m["unit_label"], "no_data_label": grid_text("no_data"),
              "no_data_color": NO_DATA_COLOR}
    bins = bins_of(values, legend["breaks"]).astype(int)
    rounded = bool((frame["status"] == "rounded").any())
    return {"level": level, "year": year, "measure": "indicator", "indicator": indicator, "unit": m["unit"],
            "base_year": None, "kind": None, "kinds": None, "classed": None,
            "label": m["label"], "codes": frame["code"].astype(str).tolist(),
            "values": [None if not np.isfinite(v) else round(float(v), 6) for v in values],
            "bins": bins.tolist(), "legend": legend, "n_values": int(np.isfinite(values).sum()),
            "source": gl["source"], "no_score": gl["no_score"], "rounded": grid_text("rounded") if rounded else None}
