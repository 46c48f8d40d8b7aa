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


def contiguity_pairs(store, level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``neighbour_pairs(contiguity(store, level))`` (code, neighbour code, row-standardised weight), the same
    pairs in the same order; for grid cells straight from ``lattice_pairs`` (no libpysal weights object of
    hundreds of thousands of areas in between)."""
    grid = _grid_cells(store, level)
    if grid is None:
        return neighbour_pairs(contiguity(store, level))
    codes, x, y, step = grid
    i, j = lattice_pairs(x, y, step)
    order = np.lexsort((j, i))
    i, j = i[order], j[order]
    deg = np.bincount(i, minlength=len(codes))
    return codes[i], codes[j], 1.0 / deg[i]


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


class RowKeys:
    """The (code, year) rows of a panel as integers: ``at(codes, years)`` gives the position of the first row
    of each (code id, year) pair, -1 where the panel has none. One factorisation of the codes and one sort,
    instead of string MultiIndexes (linear in the rows)."""

    def __init__(self, frame: pd.DataFrame):
        ids, uniques = pd.factorize(frame["code"].astype(str), sort=False)
        self.codes = pd.Index(uniques)
        self.code = ids.astype(np.int64)
        self.year = frame["year"].to_numpy(np.int64)
        self.y0 = int(self.year.min()) if len(self.year) else 0
        self.span = int(self.year.max()) - self.y0 + 1 if len(self.year) else 1
        key = self.code * self.span + (self.year - self.y0)
        uniq, first = np.unique(key, return_index=True)
        self.table = np.full(len(self.codes) * self.span, -1, dtype=np.int64)
        self.table[uniq] = first
        self.has_duplicates = len(uniq) < len(key)

    def code_ids(self, codes) -> np.ndarray:
        """Ids of ``codes`` in this panel (-1 for a code not in it). Each distinct code is looked up once
        (neighbour pairs name every area about eight times)."""
        ids, uniques = pd.factorize(np.asarray(codes, dtype=object), use_na_sentinel=False)
        found = self.codes.get_indexer(pd.Index(np.asarray(uniques, dtype=object).astype(str)))
        return found[ids] if len(ids) else np.zeros(0, dtype=np.intp)

    def at(self, code: np.ndarray, year: np.ndarray) -> np.ndarray:
        """Position of the first row of each (code id, year), -1 where there is none."""
        code, year = np.asarray(code, np.int64), np.asarray(year, np.int64)
        ok = (code >= 0) & (year >= self.y0) & (year < self.y0 + self.span)
        out = np.full(len(code), -1, dtype=np.int64)
        out[ok] = self.table[code[ok] * self.span + (year[ok] - self.y0)]
        return out


def spatial_lag(frame: pd.DataFrame, values: pd.DataFrame, pairs, keys: RowKeys | None = None,
                block: int = 8) -> pd.DataFrame:
    """Mean of ``values`` over contiguous areas of the same year (re-normalised to the neighbours present).

    Rows that repeat a (code, year) (bootstrap samples) take the lag of its first row. Computed ``block``
    columns at a time (memory: the result plus a few columns)."""
    from scipy import sparse

    src, dst, _ = pairs
    keys = RowKeys(frame) if keys is None else keys
    out = np.empty((values.shape[1], len(frame)))  # one contiguous row per column: the columns without copies
    for k, c in enumerate(values.columns):
        out[k] = values[c].to_numpy(float)
    if len(src) == 0 or len(frame) == 0:
        return pd.DataFrame(dict(zip(values.columns, out, strict=True)), index=values.index, copy=False)
    first = keys.at(keys.code, keys.year)  # each row's first occurrence
    distinct = np.flatnonzero(first == np.arange(len(frame)))
    si, di = keys.code_ids(src), keys.code_ids(dst)
    rows, cols = [], []
    for year in np.unique(keys.year):
        yy = np.full(len(si), year)
        i, j = keys.at(si, yy), keys.at(di, yy)
        ok = (i >= 0) & (j >= 0)
        rows.append(i[ok])
        cols.append(j[ok])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    adj = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(frame), len(frame)))
    deg = np.asarray(adj.sum(axis=1)).ravel()
    has = np.zeros(len(frame), dtype=bool)
    has[distinct] = deg[distinct] > 0
    at = np.flatnonzero(has)
    for lo in range(0, len(out), block):
        lag = adj @ np.nan_to_num(out[lo:lo + block].T)
        out[lo:lo + block, at] = (lag[at] / deg[at, None]).T
    if keys.has_duplicates:
        out = out[:, first]
    return pd.DataFrame(dict(zip(values.columns, out, strict=True)), index=values.index, copy=False)


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


def _carry(keys: RowKeys, x: np.ndarray, years: int) -> np.ndarray:
    """Gaps take the value of the same area 1 year earlier, else later, then 2 years ... up to ``years`` (the
    first row of each (code, year) is the donor: bootstrap samples repeat rows)."""
    if years <= 0 or not np.isnan(x).any():
        return x
    out = x.copy()
    for dy in [d for k in range(1, years + 1) for d in (-k, k)]:
        gap = np.flatnonzero(np.isnan(out))
        if not len(gap):
            break
        at = keys.at(keys.code[gap], keys.year[gap] + dy)
        out[gap] = np.where(at >= 0, x[np.maximum(at, 0)], np.nan)
    return out


def _year_groups(years: np.ndarray) -> list[np.ndarray]:
    """Row positions of each year (ascending positions)."""
    order = np.argsort(years, kind="stable")
    cuts = np.flatnonzero(np.diff(years[order])) + 1
    return np.split(order, cuts)


def _rank_pct(x: np.ndarray, groups: list[np.ndarray]) -> np.ndarray:
    """``pd.Series(x).groupby(years).rank(pct=True)``, the same numbers: the average rank of ties among the year's
    non-missing values divided by their number, NaN kept; one sort per year (``groups``: ``_year_groups``)."""
    out = np.full(len(x), np.nan)
    for idx in groups:
        v = x[idx]
        at = idx[~np.isnan(v)]
        v = x[at]
        n = len(v)
        if not n:
            continue
        order = np.argsort(v)
        s = v[order]
        new = np.empty(n, bool)
        new[0] = True
        np.not_equal(s[1:], s[:-1], out=new[1:])
        first = np.flatnonzero(new)
        last = np.append(first[1:], n) - 1
        avg = (first + last + 2) / 2  # ranks first+1 .. last+1, averaged
        out[at[order]] = avg[np.cumsum(new) - 1] / n
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
        keys = RowKeys(frame)
        groups = None  # row positions per year (rank transform)
        if fitting:
            self.year_median_, self.log_offset_ = {}, {}
        for ind in self.features():
            x = _carry(keys, _raw_values(frame, ind, self.spec.missing_suppressed), self.spec.missing_carry_years)
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
                groups = _year_groups(years) if groups is None else groups
                x = _rank_pct(x, groups)
            out[ind.key] = x
        return out

    def fit(self, frame: pd.DataFrame) -> IndicatorMatrix:
        self._fit(self._prepared(frame, fitting=True))
        return self

    def fit_transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``fit(frame).transform(frame)``, preparing the indicators once (what ``_prepared`` gives while fitting
        is what it gives after: the reference values it learns are those of this frame)."""
        prepared = self._prepared(frame, fitting=True)
        self._fit(prepared)
        return self._transform(frame, prepared)

    def _fit(self, prepared: dict[str, np.ndarray]) -> None:
        self.clip_, self.median_ = {}, {}
        for ind in self.features():
            x = prepared[ind.key]
            x = x[np.isfinite(x)]
            self.clip_[ind.key] = (np.quantile(x, ind.winsor) if ind.winsor is not None and len(x)
                                   else (-np.inf, np.inf))
            self.median_[ind.key] = float(np.median(np.clip(x, *self.clip_[ind.key]))) if len(x) else 0.0

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature matrix of ``frame`` (one column per feature, the centroids with a location term, the
        spatial lags with ``spatial_lag``), each column its own array (no copies into one block)."""
        return self._transform(frame, self._prepared(frame))

    def _transform(self, frame: pd.DataFrame, prepared: dict[str, np.ndarray]) -> pd.DataFrame:
        cols = {}
        for ind in self.features():
            x = np.clip(prepared.pop(ind.key), *self.clip_[ind.key])
            if self.spec.missing_fill == "median":
                x = np.where(np.isfinite(x), x, self.median_[ind.key])
            cols[ind.key] = x
        if self.spec.location is not None:
            for c in ("centroid_x_km", "centroid_y_km"):
                if c not in frame.columns:
                    raise StoreError(f"the spec has a location term but the panel has no {c}")
                v = frame[c].to_numpy(float)
                cols[c] = np.where(np.isfinite(v), v, np.nanmedian(v) if np.isfinite(v).any() else 0.0)
        out = pd.DataFrame(cols, index=frame.index, copy=False)
        if self.spec.spatial_lag and self.pairs is not None:
            keys = [f.key for f in self.features()]
            lag = spatial_lag(frame, out[keys], self.pairs)
            for c in keys:
                cols[c + LAG_SUFFIX] = lag[c].to_numpy()
            del lag
            out = pd.DataFrame(cols, index=frame.index, copy=False)
        return out
