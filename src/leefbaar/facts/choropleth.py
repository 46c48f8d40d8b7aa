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

from leefbaar.analysis.charts import SCHEME_LABELS, class_breaks
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
