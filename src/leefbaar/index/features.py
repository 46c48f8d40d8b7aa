"""From store observations to the indicator matrix of an index spec: denominators, missing values,
transforms, and spatial lags.

Steps, in order, for every (area, year) row of a panel:

1. CBS 'suppressed' counts (unit 'aantal': 0-4 persons or dwellings) take ``spec.missing_suppressed`` (default 2);
2. ratios ``id / per * scale`` (``per: area_km2`` divides by the land area of the geometry in km2);
3. a value still missing takes the value of the same area up to ``missing_carry_years`` years earlier
   (else later), e.g. income in 2023, which CBS did not publish;
4. ``deflate: year_median`` divides by the median of that year (WOZ values and incomes rise over time): the
   median learnt at ``fit`` for years in the fit data, else the median of that year in the data scored (so
   score a year's whole national set, not a subset, when it was not in the fit data);
5. ``transform``: ``log`` is ``log(x + d)`` with ``d`` = 1 % of the median positive value learnt at ``fit``
   (so that a change of unit only shifts the result), ``rank`` the percentile within the year of the data;
6. ``winsor`` clips to quantiles learnt at ``fit``; remaining gaps take the median learnt at ``fit``;
7. with ``spatial_lag``, each feature gets a twin ``<key>@buren``: the mean over the Queen-contiguous
   areas of the same year (an area without neighbours in the data keeps its own value).

``IndicatorMatrix.fit`` learns year medians, log offsets, quantiles and medians; ``transform`` is then
deterministic, and scoring a subset of areas (one gemeente, buurten) uses the fit data's reference values.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from leefbaar.errors import StoreError
from leefbaar.index.spec import AREA_DENOMINATOR, IndexSpec, IndicatorSpec

LAG_SUFFIX = "@buren"


def load_panel(store, spec: IndexSpec, years, extra: list[str] | None = None) -> pd.DataFrame:
    """Wide panel (code, year, gemeente_code, area_km2, indicators..., ``<id>__status``) from the store."""
    wanted = list(dict.fromkeys([*spec.store_indicators(), *(extra or [])]))
    frame = store.table(spec.level, years=list(years), indicators=wanted, with_status=True)
    if frame.empty:
        raise StoreError(f"the store holds no {spec.level} observations for years {list(years)}")
    for col in wanted:
        if col not in frame.columns:
            frame[col] = np.nan
            frame[f"{col}__status"] = "missing"
    areas = store.areas(spec.level)
    gm = areas.dropna(subset=["gemeente_code"]).drop_duplicates("code", keep="last").set_index("code")
    frame["gemeente_code"] = frame["code"].map(gm["gemeente_code"])
    try:
        geo = store.geometries(spec.level).set_index("code")
        frame["area_km2"] = frame["code"].map(geo["area_m2"] / 1e6)
        centre = geo.geometry.representative_point()
        frame["centroid_x_km"] = frame["code"].map(centre.x / 1000)
        frame["centroid_y_km"] = frame["code"].map(centre.y / 1000)
    except StoreError:
        frame["area_km2"] = frame["centroid_x_km"] = frame["centroid_y_km"] = np.nan
    return frame


GRID_CODE = r"^E(\d{4})N(\d{4})$"
"""A CBS grid cell id: the lower-left corner in RD hectometres (``E0974N4514``)."""


def contiguity(store, level: str):
    """Queen contiguity weights (libpysal) of the level's latest geometries, row-standardised.

    A regular grid (every code a cell id, every geometry a square of one size, as CBS grid cells are stored)
    gets its neighbours from the cell ids (``lattice_pairs``: the 8 cells around each one that exist), in
    linear time; other levels are intersected as polygons (libpysal ``Queen``). Both give the same weights
    on grid cells (tests/test_scale_scores.py)."""
    from libpysal.weights import W

    grid = _grid_cells(store, level)
    if grid is not None:
        codes, x, y, step = grid
        i, j = lattice_pairs(x, y, step)
        order = np.lexsort((j, i))
        i, j = i[order], j[order]
        cuts = np.searchsorted(i, np.arange(len(codes) + 1))
        nbrs = {c: codes[j[cuts[k]:cuts[k + 1]]].tolist() for k, c in enumerate(codes)}
        w = W(nbrs, id_order=codes.tolist(), silence_warnings=True)
    else:
        from libpysal.weights import Queen

        geo = store.geometries(level).reset_index(drop=True)
        w = Queen.from_dataframe(geo, ids=geo["code"].astype(str).tolist(), use_index=False, silence_warnings=True)
    w.transform = "r"
    return w


def _grid_cells(store, level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, int] | None:
    """(codes, x, y, step) in hectometres when the level's latest geometries are all grid cells of one size
    (code a cell id, area the square of a whole number of hectometres), else None."""
    cells = store.sql("SELECT code, area_m2 FROM geometries WHERE level = ? AND vintage = (SELECT max(vintage) "
                      "FROM geometries WHERE level = ?) ORDER BY code", [level, level])
    if cells.empty:
        return None
    parts = cells["code"].astype(str).str.extract(GRID_CODE)
    if parts[0].isna().any():
        return None
    side = np.sqrt(cells["area_m2"].to_numpy(float))
    step = round(float(side[0]) / 100)
    if step < 1 or not np.allclose(side, step * 100, rtol=1e-9, atol=1e-6):
        return None
    return (cells["code"].to_numpy(str).astype(object), parts[0].astype(np.int64).to_numpy(),
            parts[1].astype(np.int64).to_numpy(), step)


def lattice_pairs(x: np.ndarray, y: np.ndarray, step: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Queen neighbours of grid cells with lower-left corners ``x``, ``y`` (in units of which a cell is
    ``step`` wide): (i, j) position pairs, both directions, among the cells given only. One sort and eight
    binary searches."""
    x, y = np.asarray(x, np.int64), np.asarray(y, np.int64)
    if len(x) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    span = int(y.max() - y.min()) + 2 * step + 1
    key = (x - x.min() + step) * span + (y - y.min() + step)
    order = np.argsort(key)
    sk = key[order]
    src, dst = [], []
    for dx in (-step, 0, step):
        for dy in (-step, 0, step):
            if dx == dy == 0:
                continue
            want = key + dx * span + dy
            at = np.clip(np.searchsorted(sk, want), 0, len(sk) - 1)
            ok = sk[at] == want
            src.append(np.flatnonzero(ok))
            dst.append(order[at[ok]])
    return np.concatenate(src), np.concatenate(dst)


def neighbour_pairs(w) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(code, neighbour code, weight) arrays of a libpysal weights object."""
    src = [i for i, nbrs in w.neighbors.items() for _ in nbrs]
    dst = [j for nbrs in w.neighbors.values() for j in nbrs]
    wt = [v for i in w.neighbors for v in w.weights[i]]
    return np.asarray(src, dtype=object), np.asarray(dst, dtype=object), np.asarray(wt, dtype=float)


def spatial_lag(frame: pd.DataFrame, values: pd.DataFrame, pairs) -> pd.DataFrame:
    """Mean of ``values`` over contiguous areas of the same year (re-normalised to the neighbours present)."""
    src, dst, _ = pairs
    key = pd.MultiIndex.from_arrays([frame["code"].astype(str).to_numpy(), frame["year"].to_numpy()])
    if key.has_duplicates:  # bootstrap samples repeat rows: lag the distinct areas, then copy back
        first = ~key.duplicated()
        lag = spatial_lag(frame[first], values[first], pairs)
        at = pd.Series(np.arange(int(first.sum())), index=key[first]).reindex(key).to_numpy()
        return pd.DataFrame(lag.to_numpy()[at], index=values.index, columns=values.columns)
    pos = pd.Series(np.arange(len(frame)), index=key)
    out = values.to_numpy(float).copy()
    if len(src) == 0:
        return pd.DataFrame(out, index=values.index, columns=values.columns)
    years = np.unique(frame["year"].to_numpy())
    rows, cols = [], []
    for year in years:
        i = pos.reindex(pd.MultiIndex.from_arrays([src, np.full(len(src), year)])).to_numpy()
        j = pos.reindex(pd.MultiIndex.from_arrays([dst, np.full(len(dst), year)])).to_numpy()
        ok = ~(np.isnan(i) | np.isnan(j))
        rows.append(i[ok].astype(int))
        cols.append(j[ok].astype(int))
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    from scipy import sparse

    adj = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(frame), len(frame)))
    deg = np.asarray(adj.sum(axis=1)).ravel()
    v = values.to_numpy(float)
    lag = adj @ np.nan_to_num(v)
    has = deg > 0
    out[has] = lag[has] / deg[has, None]
    return pd.DataFrame(out, index=values.index, columns=values.columns)


@lru_cache(maxsize=1)
def _count_indicators() -> frozenset[str]:
    """Indicators counted in units (unit 'aantal'): only these take the suppressed-count value (read once)."""
    from leefbaar.sources.catalogue import indicators

    cat = indicators()
    return frozenset(cat.index[cat["unit"] == "aantal"])


def _raw_values(frame: pd.DataFrame, ind: IndicatorSpec, suppressed: float | None) -> np.ndarray:
    counts = _count_indicators()

    def col(name: str) -> np.ndarray:
        v = frame[name].to_numpy(float).copy()
        st = frame.get(f"{name}__status")
        if suppressed is not None and st is not None and name in counts:
            v[(st == "suppressed").to_numpy() & np.isnan(v)] = suppressed
        return v

    x = col(ind.id)
    if ind.per:
        den = frame[AREA_DENOMINATOR].to_numpy(float) if ind.per == AREA_DENOMINATOR else col(ind.per)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(den > 0, x / den, np.nan)
    return x * ind.scale


def _carry(frame: pd.DataFrame, x: np.ndarray, years: int) -> np.ndarray:
    if years <= 0 or not np.isnan(x).any():
        return x
    s = pd.Series(x, index=pd.MultiIndex.from_arrays([frame["code"].to_numpy(), frame["year"].to_numpy()]))
    s = s[~s.index.duplicated()]  # bootstrap samples repeat rows
    out = x.copy()
    for dy in [d for k in range(1, years + 1) for d in (-k, k)]:
        gap = np.isnan(out)
        if not gap.any():
            break
        donor = s.reindex(pd.MultiIndex.from_arrays([frame["code"].to_numpy()[gap],
                                                     frame["year"].to_numpy()[gap] + dy])).to_numpy()
        out[np.flatnonzero(gap)] = donor
    return out


@dataclass
class IndicatorMatrix:
    """Turns a panel into the feature matrix of a spec (see the module docstring). sklearn-style fit/transform."""

    spec: IndexSpec
    pairs: tuple | None = None

    def features(self) -> list[IndicatorSpec]:
        seen: dict[str, IndicatorSpec] = {}
        for d in self.spec.dimensions:
            for ind in d.indicators:
                seen.setdefault(ind.key, ind)
        return list(seen.values())

    def _prepared(self, frame: pd.DataFrame, fitting: bool = False) -> dict[str, np.ndarray]:
        out = {}
        years = frame["year"].to_numpy()
        if fitting:
            self.year_median_, self.log_offset_ = {}, {}
        for ind in self.features():
            x = _carry(frame, _raw_values(frame, ind, self.spec.missing_suppressed), self.spec.missing_carry_years)
            if ind.deflate == "year_median":
                here = pd.Series(x).groupby(years).median()
                if fitting:
                    self.year_median_[ind.key] = here.to_dict()
                yrs = pd.Series(years)
                med = yrs.map(self.year_median_[ind.key]).fillna(yrs.map(here)).to_numpy(float)
                with np.errstate(divide="ignore", invalid="ignore"):
                    x = np.where(med > 0, x / med, np.nan)
            if ind.transform == "log":
                if fitting:
                    pos = x[np.isfinite(x) & (x > 0)]
                    self.log_offset_[ind.key] = 0.01 * (float(np.median(pos)) if len(pos) else 1.0)
                x = np.log(np.maximum(x, 0) + self.log_offset_[ind.key])
            elif ind.transform == "rank":
                x = pd.Series(x).groupby(years).rank(pct=True).to_numpy()
            out[ind.key] = x
        return out

    def fit(self, frame: pd.DataFrame) -> IndicatorMatrix:
        prepared = self._prepared(frame, fitting=True)
        self.clip_, self.median_ = {}, {}
        for ind in self.features():
            x = prepared[ind.key]
            x = x[np.isfinite(x)]
            self.clip_[ind.key] = (np.quantile(x, ind.winsor) if ind.winsor is not None and len(x)
                                   else (-np.inf, np.inf))
            self.median_[ind.key] = float(np.median(np.clip(x, *self.clip_[ind.key]))) if len(x) else 0.0
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        prepared = self._prepared(frame)
        cols = {}
        for ind in self.features():
            x = np.clip(prepared[ind.key], *self.clip_[ind.key])
            if self.spec.missing_fill == "median":
                x = np.where(np.isfinite(x), x, self.median_[ind.key])
            cols[ind.key] = x
        out = pd.DataFrame(cols, index=frame.index)
        if self.spec.location is not None:
            for c in ("centroid_x_km", "centroid_y_km"):
                if c not in frame.columns:
                    raise StoreError(f"the spec has a location term but the panel has no {c}")
                v = frame[c].to_numpy(float)
                out[c] = np.where(np.isfinite(v), v, np.nanmedian(v) if np.isfinite(v).any() else 0.0)
        if self.spec.spatial_lag and self.pairs is not None:
            base = out[[f.key for f in self.features()]]
            lag = spatial_lag(frame, base, self.pairs)
            lag.columns = [c + LAG_SUFFIX for c in base.columns]
            out = pd.concat([out, lag], axis=1)
        return out
