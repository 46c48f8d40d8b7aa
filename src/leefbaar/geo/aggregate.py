"""Population-weighted aggregation of area values to other areas (tobler-style areal weighting x residents).

A source area ``s`` (a PC4 or buurt) is assumed to spread its residents evenly over its surface, so the residents
of ``s`` living in a target area ``t`` are estimated as ``pop_s * area(s n t) / area(s)`` (areal interpolation
of an extensive variable, as ``tobler.area_weighted.area_interpolate``). An intensive value (a score) of ``t`` is
the mean of its sources weighted by those residents:

    v_t = sum_s r_st v_s / sum_s r_st,   r_st = pop_s * share_st,

over the sources that have a value. ``coverage_t`` is the share of the estimated residents of ``t`` that live in
sources with a value. Area shares come from ``geo.crosswalk.overlay_weights`` (slivers below 1 % of a source
dropped and the rest renormalised), or from the ``crosswalks`` table of the store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.geo.crosswalk import MIN_SHARE, overlay_weights
from leefbaar.store.store import Store


def resident_weights(shares: pd.DataFrame, population: pd.Series) -> pd.DataFrame:
    """Estimated residents of each source in each target.

    ``shares`` has ``from_code, to_code, weight`` (area share of the source in the target, summing to 1 per
    source); ``population`` is indexed by source code (residents). Returns ``from_code, to_code, share,
    residents`` (residents = population x share; sources without a population count get 0 residents and are
    listed so that they show up as uncovered, never silently as weight 1).
    """
    pop = population.reindex(shares["from_code"].to_numpy()).to_numpy(float)
    return pd.DataFrame({"from_code": shares["from_code"].to_numpy(), "to_code": shares["to_code"].to_numpy(),
                         "share": shares["weight"].to_numpy(float),
                         "residents": np.nan_to_num(pop, nan=0.0) * shares["weight"].to_numpy(float)})


def area_shares(store: Store, from_level: str, from_vintage: int, to_level: str, to_vintage: int) -> pd.DataFrame:
    """Area shares ``from_code, to_code, weight`` of the source areas in the target areas: the store's
    ``crosswalks`` rows when it holds that pair of level/vintage, else an area-weighted overlay of the stored
    boundaries (``overlay_weights``, computed here and not written)."""
    cw = store.sql("SELECT from_code, to_code, weight FROM crosswalks WHERE from_level = ? AND from_vintage = ? "
                   "AND to_level = ? AND to_vintage = ?", [from_level, from_vintage, to_level, to_vintage])
    if not cw.empty:
        return cw
    return overlay_weights(store.geometries(from_level, from_vintage)[["code", "geometry"]],
                           store.geometries(to_level, to_vintage)[["code", "geometry"]], MIN_SHARE)


def weighted_mean(values: pd.DataFrame, weights: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Resident-weighted mean of ``columns`` of ``values`` (indexed by source code) per target.

    ``weights`` is the output of ``resident_weights``. A source enters a target's mean only where it has a value
    (per column; the first column decides ``coverage``). Returns one row per target (index ``code``) with the
    columns, ``residents`` (estimated residents of the target, all sources), ``residents_scored`` (those in
    sources with a value in ``columns[0]``), ``coverage`` (their share) and ``sources`` (number of sources with a
    value and residents > 0).
    """
    merged = weights.merge(values[columns], left_on="from_code", right_index=True, how="left")
    to = merged["to_code"]
    r = merged["residents"].to_numpy(float)
    out = {}
    for c in columns:
        v = merged[c].to_numpy(float)
        ok = ~np.isnan(v) & (r > 0)
        num = pd.Series(np.where(ok, v * r, 0.0)).groupby(to.to_numpy()).sum()
        den = pd.Series(np.where(ok, r, 0.0)).groupby(to.to_numpy()).sum()
        out[c] = num / den.replace(0.0, np.nan)
    frame = pd.DataFrame(out)
    ok = ~np.isnan(merged[columns[0]].to_numpy(float)) & (r > 0)
    frame["residents"] = pd.Series(r).groupby(to.to_numpy()).sum()
    frame["residents_scored"] = pd.Series(np.where(ok, r, 0.0)).groupby(to.to_numpy()).sum()
    frame["coverage"] = frame["residents_scored"] / frame["residents"].replace(0.0, np.nan)
    frame["sources"] = pd.Series(ok.astype(int)).groupby(to.to_numpy()).sum()
    frame.index.name = "code"
    return frame
