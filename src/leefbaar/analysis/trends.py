"""Trends: level and change of the total and each dimension per area, and per group of areas.

Per area (``area_trends``): the value in every year, the change between the first and last year (and per
dimension between the first and last year that has dimensions), the annual OLS slope, and, for Leefbaarometer
sources, the class in the first and last year and the development class of the change (``leefbaar.index
.classes``). Per group (``group_trends``): the mean per year over areas (unweighted) and over residents and
households (weighted; CBS years substituted as stated), the median, the number of areas, and the change since
the first year. "Nederland" is every area with a value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.analysis.groups import Grouping, assign
from leefbaar.analysis.panel import Panel
from leefbaar.analysis.weights import PopulationWeights
from leefbaar.index.classes import classify_total, development_class

NATIONAL = {"nl": "Nederland", "en": "Netherlands"}


def slope(wide: pd.DataFrame) -> np.ndarray:
    """Ordinary least-squares slope per row of ``wide`` (columns = years), in units per year; NaN-aware.

    Rows with fewer than two values get NaN.
    """
    years = np.asarray(wide.columns, dtype=float)
    y = wide.to_numpy(float)
    ok = np.isfinite(y)
    n = ok.sum(1)
    x = np.where(ok, years, 0.0)
    mx = np.where(n > 0, x.sum(1) / np.maximum(n, 1), np.nan)
    my = np.where(n > 0, np.where(ok, y, 0.0).sum(1) / np.maximum(n, 1), np.nan)
    dx = np.where(ok, years - mx[:, None], 0.0)
    dy = np.where(ok, y - my[:, None], 0.0)
    sxx = (dx * dx).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n >= 2) & (sxx > 0), (dx * dy).sum(1) / sxx, np.nan)


def area_trends(panel: Panel) -> pd.DataFrame:
    """One row per area: values per year, changes, slope and (Leefbaarometer) classes."""
    total = panel.wide("total")
    years = list(total.columns)
    out = pd.DataFrame(index=total.index)
    for y in years:
        out[f"total_{y}"] = total[y]
    vals = total.to_numpy(float)
    ok = np.isfinite(vals)
    has = ok.any(axis=1)
    fi = ok.argmax(axis=1)
    la = ok.shape[1] - 1 - ok[:, ::-1].argmax(axis=1)
    yrs = np.asarray(years, dtype=float)
    out["first_year"] = pd.array(np.where(has, yrs[fi], np.nan), dtype="Int64")
    out["last_year"] = pd.array(np.where(has, yrs[la], np.nan), dtype="Int64")
    rows = np.arange(len(total))
    out["change"] = vals[rows, la] - vals[rows, fi]
    out["slope_per_year"] = slope(total)
    if panel.has_afw:
        afw = panel.wide("afw")
        a = afw.to_numpy(float)
        out["class_first"] = classify_total(pd.Series(a[rows, fi], index=total.index))
        out["class_last"] = classify_total(pd.Series(a[rows, la], index=total.index))
        out["development_class"] = development_class(out["change"])
    for d in panel.components:
        dy = panel.years_with(d)
        if len(dy) < 2:
            continue
        dim = panel.wide(d)[dy]
        for y in dy:
            out[f"{d}_{y}"] = dim[y]
        out[f"{d}_change_{dy[0]}_{dy[-1]}"] = dim[dy[-1]] - dim[dy[0]]
    out.index.name = "code"
    return out.reset_index()


def group_trends(panel: Panel, groupings: list[Grouping], weights: dict[str, PopulationWeights],
                 lang: str = "nl") -> pd.DataFrame:
    """Mean (unweighted and weighted per measure in ``weights``), median and count per grouping, group, year.

    Columns: grouping, group, variable (total or a dimension), year, n_areas, mean, median, mean_<measure> for
    each weight measure, change_mean (and change_mean_<measure>) since the group's first year.
    """
    frame = panel.frame
    variables = ["total", *[d for d in panel.components if d in frame.columns]]
    codes = pd.Index(frame["code"].unique())
    assignments = [("national", pd.Series(NATIONAL[lang], index=codes))]
    assignments += [(g.name, assign(g, codes)) for g in groupings]
    parts = []
    for name, labels in assignments:
        lab = frame["code"].map(labels)
        for var in variables:
            sub = frame.assign(group=lab)[["code", "year", "group", var]].dropna()
            if sub.empty:
                continue
            agg = sub.groupby(["group", "year"])[var].agg(n_areas="size", mean="mean", median="median")
            for measure, pw in weights.items():
                w = sub.merge(pw.frame[["code", "year", "weight"]], on=["code", "year"], how="left")
                w["weight"] = w["weight"].fillna(0.0)
                w["wv"] = w["weight"] * w[var]
                s = w.groupby(["group", "year"])[["wv", "weight"]].sum()
                agg[f"mean_{measure}"] = (s["wv"] / s["weight"].replace(0.0, np.nan)).reindex(agg.index)
                agg[f"{measure}_total"] = s["weight"].reindex(agg.index)
            agg = agg.reset_index()
            agg.insert(0, "variable", var)
            agg.insert(0, "grouping", name)
            parts.append(agg)
    out = pd.concat(parts, ignore_index=True)
    means = [c for c in out.columns if c == "mean" or c.startswith("mean_")]
    out = out.sort_values(["grouping", "variable", "group", "year"], ignore_index=True)
    for c in means:
        base = out.groupby(["grouping", "variable", "group"])[c].transform("first")
        out[f"change_{c}"] = out[c] - base
    return out
