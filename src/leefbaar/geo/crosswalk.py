"""Crosswalks between boundary vintages and levels, computed by area-weighted overlay (tobler).

A crosswalk row says: the share ``weight`` of the area of ``from_code`` (at ``from_level``/``from_vintage``)
lies in ``to_code``. Weights of one source area sum to 1 over its targets, up to slivers below ``MIN_SHARE``
caused by generalised boundaries, which are dropped before renormalising. ``apply_crosswalk`` moves values
across vintages: extensive variables (counts) are split by weight, intensive ones (rates, scores) averaged with
weights.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from tobler.area_weighted import _area_tables_binning

MIN_SHARE = 0.01
GEMEENTE_VINTAGES = (2014, 2017, 2022, 2024)


def overlay_weights(source: gpd.GeoDataFrame, target: gpd.GeoDataFrame, min_share: float = MIN_SHARE) -> pd.DataFrame:
    """Area shares of each ``source`` polygon in each ``target`` polygon (both with a ``code`` column, RD).

    Returns ``from_code, to_code, weight`` where weight is the renormalised share of the source area.
    """
    table = _area_tables_binning(source, target, "auto").tocoo()
    inter = pd.DataFrame({"i": table.row, "j": table.col, "a": table.data})
    inter = inter[inter["a"] > 0]
    total = inter.groupby("i")["a"].transform("sum")
    inter = inter[inter["a"] / total >= min_share]
    inter["weight"] = inter["a"] / inter.groupby("i")["a"].transform("sum")
    return pd.DataFrame({
        "from_code": source["code"].to_numpy()[inter["i"].to_numpy()],
        "to_code": target["code"].to_numpy()[inter["j"].to_numpy()],
        "weight": inter["weight"].to_numpy(),
    }).sort_values(["from_code", "weight"], ascending=[True, False], ignore_index=True)


def dissolve_gemeenten_from_buurten(buurten: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Gemeente polygons of a vintage for which only buurt boundaries exist (gemeente = BU code digits 3-6)."""
    frame = buurten.assign(code="GM" + buurten["code"].str[2:6])
    return frame[["code", "geometry"]].dissolve(by="code", as_index=False)


def assign_largest(weights: pd.DataFrame) -> pd.DataFrame:
    """One target per source: the one holding the largest share of its area (``from_code, to_code, weight``)."""
    idx = weights.groupby("from_code")["weight"].idxmax()
    return weights.loc[idx].reset_index(drop=True)


def apply_crosswalk(values: pd.DataFrame, weights: pd.DataFrame, columns: list[str], extensive: bool) -> pd.DataFrame:
    """Move ``values`` (indexed by ``code``) to the target areas of ``weights``.

    Extensive columns are summed after splitting by weight; intensive columns are weighted means over the
    source areas that overlap each target, weighted by overlap share (missing values are left out).
    """
    merged = weights.merge(values[columns], left_on="from_code", right_index=True, how="inner")
    if extensive:
        out = merged[columns].mul(merged["weight"], axis=0).groupby(merged["to_code"]).sum(min_count=1)
    else:
        parts = {}
        for c in columns:
            ok = merged[c].notna()
            w = merged["weight"].where(ok, 0.0)
            num = (merged[c].fillna(0.0) * w).groupby(merged["to_code"]).sum()
            den = w.groupby(merged["to_code"]).sum()
            parts[c] = num / den.replace(0.0, np.nan)
        out = pd.DataFrame(parts)
    out.index.name = "code"
    return out
