"""The gap between strong and weak areas: inequality of livability between areas, per year, and its trend.

Measures per year, over areas (unweighted) and over residents (each resident counted with the score of the area
they live in; ``_w`` columns):

- ``p10, p50, p90``: deciles of the score; ``p90_p10``: the interdecile gap (score points; independent of the
  zero point of the scale, the headline measure); ``p90_div_p10`` the ratio.
- ``sd`` (sigma) and ``cv`` = sd / mean.
- ``theil`` and ``gini`` (PySAL ``inequality``; the weighted ones computed here with the same formulas). Both
  need strictly positive values, so for the Leefbaarometer the total score ``lbm`` is used, not the deviation
  ``afw`` (negative in about half of the areas). Because the zero point of ``lbm`` is a convention, the level
  of Theil/Gini is small and only their change over time is meaningful.
- ``share_below``: share of residents (and of areas) in areas below *voldoende* (class 1-4 of the
  Leefbaarometer) or below a user threshold.

Sigma convergence: does ``sd`` fall? Beta convergence: OLS (statsmodels, HC1 standard errors) of the change
over a period on the level at its start; a negative slope means that weak areas improved more. Because a score
measured with error regresses towards the mean, beta convergence can appear without the spread narrowing;
sigma convergence and the interdecile gap are the decisive answer to "is the gap growing?".

Uncertainty: areas are resampled with replacement (bootstrap, the same resample for every year, so changes
are paired); percentile intervals for every measure and for its change between the first and last year.
All measures are computed on the areas that have a score in every year analysed (a balanced panel).
A resample is held as its count vector over the areas (``Resamples``): the sums are one matrix product of the
counts per chunk of resamples (all years), and the quantiles and Gini run over the areas sorted once per year,
so no resample is sorted (O(n) per resample instead of O(n log n); the quantiles of a chunk's resamples are
found at once); the years of a chunk run on ``THREADS`` threads while the next chunk is drawn.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from leefbaar.analysis.panel import Panel
from leefbaar.analysis.weights import PopulationWeights
from leefbaar.errors import StoreError

HEADLINE = "p90_p10"
BOOT_CHUNK = 4_000_000  # bootstrap values (resamples x areas) measured at once
THREADS = min(2, os.cpu_count() or 1)  # years of one chunk measured side by side (NumPy releases the GIL)


# -- measures (vectorised over rows: shape (..., n)) ----------------------------------------------------------
def theil_t(y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Theil's T over the last axis: sum_i s_i ln(s_i / p_i), s = weighted share of the total, p = weight share.

    With equal weights this is ``inequality.theil.Theil``. ``y`` must be > 0.
    """
    y = np.asarray(y, float)
    w = np.ones_like(y) if w is None else np.broadcast_to(np.asarray(w, float), y.shape)
    mu = (w * y).sum(-1, keepdims=True) / w.sum(-1, keepdims=True)
    r = y / mu
    return (w * r * np.log(r)).sum(-1) / w.sum(-1)


def gini(y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """Gini coefficient (mean absolute difference / (2 mean)) over the last axis, weighted by ``w``.

    G = sum_ij w_i w_j |y_i - y_j| / (2 W^2 mean). With equal weights this is ``inequality.gini.Gini``.
    """
    y = np.asarray(y, float)
    w = np.ones_like(y) if w is None else np.broadcast_to(np.asarray(w, float), y.shape)
    order = np.argsort(y, axis=-1)
    return _sorted_stats(np.take_along_axis(y, order, -1), np.take_along_axis(w, order, -1), ())["gini"]


def _sorted_stats(ys: np.ndarray, ws: np.ndarray, qs: tuple[float, ...]) -> dict[str, np.ndarray]:
    """Weighted quantiles (midpoint rule: equal weights give numpy's ``hazen`` method) and Gini over the last
    axis of values ``ys`` sorted ascending with their weights ``ws``."""
    cum = np.cumsum(ws, -1)
    total = cum[..., -1:]
    out = {}
    mid = (cum - 0.5 * ws) / total
    n = ys.shape[-1]
    for q in qs:
        k = np.clip((mid < q).sum(-1, keepdims=True), 1, n - 1)
        x0, x1 = np.take_along_axis(mid, k - 1, -1), np.take_along_axis(mid, k, -1)
        v0, v1 = np.take_along_axis(ys, k - 1, -1), np.take_along_axis(ys, k, -1)
        frac = np.clip(np.where(x1 > x0, (q - x0) / np.where(x1 > x0, x1 - x0, 1.0), 0.0), 0.0, 1.0)
        out[q] = (v0 + frac * (v1 - v0))[..., 0]
    below, above = cum - ws, total - cum
    mu = (ws * ys).sum(-1) / total[..., 0]
    out["gini"] = (ws * ys * (below - above)).sum(-1) / (total[..., 0] ** 2 * mu)
    return out


def measures(y: np.ndarray, w: np.ndarray, below: np.ndarray | None, positive: bool) -> dict[str, np.ndarray]:
    """All gap measures of one year for each row of ``y`` (rows = bootstrap resamples, columns = areas).

    ``w`` are resident weights (same shape), ``below`` a boolean array (same shape) marking areas under the
    threshold, or None.
    """
    y, w = np.atleast_2d(y), np.atleast_2d(w)
    order = np.argsort(y, axis=-1, kind="stable")  # ties in input order, as analysis.distributed
    ys = np.take_along_axis(y, order, -1)
    out: dict[str, np.ndarray] = {}
    for suffix, ww in (("", np.ones_like(y)), ("_w", w)):
        ws = np.take_along_axis(ww, order, -1)
        st = _sorted_stats(ys, ws, (0.1, 0.5, 0.9))
        mean = (ww * y).sum(-1) / ww.sum(-1)
        sd = np.sqrt((ww * (y - mean[:, None]) ** 2).sum(-1) / ww.sum(-1))
        out[f"mean{suffix}"] = mean
        out[f"p10{suffix}"], out[f"p50{suffix}"], out[f"p90{suffix}"] = st[0.1], st[0.5], st[0.9]
        out[f"p90_p10{suffix}"] = st[0.9] - st[0.1]
        out[f"sd{suffix}"] = sd
        if positive:
            out[f"p90_div_p10{suffix}"] = st[0.9] / st[0.1]
            out[f"cv{suffix}"] = sd / mean
            out[f"theil{suffix}"] = theil_t(y, ww)
            out[f"gini{suffix}"] = st["gini"]
        if below is not None:
            b = np.atleast_2d(below)
            out[f"share_below{suffix}"] = (ww * b).sum(-1) / ww.sum(-1)
    return out


class YearValues:
    """One year's areas as ``Resamples.measures`` reads them (prepared once, used for every chunk of resamples):
    values ``y``, weights ``w``, ``below`` (or None), ``positive``; their stable sort order (ties in area order),
    the sorted values and weights, the gaps ``d`` between consecutive sorted values, which sorted values tie with
    a neighbour, and the ``columns`` whose sums over a resample give its mean, sd, Theil and share below (values
    taken about ``c0``, the mean)."""

    def __init__(self, y: np.ndarray, w: np.ndarray, below: np.ndarray | None, positive: bool) -> None:
        self.y, self.w = np.asarray(y, float), np.asarray(w, float)
        self.below, self.positive = below, positive
        self.order = np.argsort(self.y, kind="stable")
        self.c0 = float(self.y.mean())
        yc = self.y - self.c0
        self.ys, self.ws = self.y[self.order], self.w[self.order]
        self.d = np.append(np.diff(self.ys), 0.0)
        self.top = float(self.ys[-1]) - self.c0
        same = self.ys[1:] == self.ys[:-1]
        self.tied = np.concatenate([same, [False]]) | np.concatenate([[False], same])
        u = self.y / self.c0
        ulu = u * np.log(u) if positive else np.zeros_like(yc)
        b = np.zeros_like(yc) if below is None else np.asarray(below, float)
        w = self.w
        self.columns = np.column_stack([yc, yc * yc, ulu, b, w, w * yc, w * yc * yc, w * ulu, w * b])


@dataclass
class Resamples:
    """Bootstrap resamples of ``n`` areas (``idx``: rows of area positions) held as counts: how often each area
    is drawn in each resample. ``measures`` gives what ``measures`` gives on ``y[idx]``, without sorting any
    resample (O(n) per resample instead of O(n log n)), all resamples of a chunk at once:

    - sums (mean, sd, Theil, share below) are products of the counts with columns of the areas' values, taken
      about the mean of ``y`` to avoid cancellation (Theil: sum v r ln r / W = sum v y ln y / (W mu) - ln mu,
      v = count x weight); ``sums`` does them for all years of a chunk in one matrix product;
    - quantiles and Gini run over the areas sorted once per year: the cumulative count and weight per area
      (``cum``) locate every position of the sorted resample (``_quantiles``, a binary search per resample),
      and Gini's sum over pairs sum_{i<j} v_i v_j (y_j - y_i) is the Lorenz form sum_k d_k cum_k (W - cum_k)
      (d_k: gap between the k-th and next sorted value), of which sum_k d_k cum_k is a sum over the areas.

    Equal to ``measures`` up to rounding (1e-12 relative; sd: 1e-8 of the resample mean's distance from the mean
    of ``y``, which matters only for a resample without spread). Only a weighted quantile next to a tie between
    distinct areas depends on the order of the tied copies (``measures``: the order of the draws); such a
    resample is sorted as ``measures`` sorts it."""

    idx: np.ndarray

    def __post_init__(self) -> None:
        n = self.idx.shape[1]
        counts = np.empty(self.idx.shape, np.uint8 if n < 256 else np.uint16 if n < 65536 else np.uint32)
        for r, row in enumerate(self.idx):
            counts[r] = np.bincount(row, minlength=n)
        if counts.max() < 256:  # a count above 255 is most unlikely; otherwise keep the wider type
            counts = counts.astype(np.uint8)
        self.counts = counts

    def sums(self, values: list[YearValues], cols: np.ndarray | None = None) -> list[np.ndarray]:
        """The column sums of every year's ``values`` over each resample (one matrix product; ``cols``: their
        columns side by side, if already stacked)."""
        cols = np.hstack([yv.columns for yv in values]) if cols is None else cols
        S = self.counts.astype(float) @ cols
        k = values[0].columns.shape[1]
        return [S[:, j * k:(j + 1) * k] for j in range(len(values))]

    def measures(self, yv: YearValues, S: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """``measures(y[idx], w[idx], below[idx], positive)`` of one year's values ``yv`` (``S``: its ``sums``)."""
        y, w, c0, ys, ws, d = yv.y, yv.w, yv.c0, yv.ys, yv.ws, yv.d
        if S is None:
            S = self.sums([yv])[0]
        ct = np.take(self.counts, yv.order, axis=1)
        cum_c = np.cumsum(ct, axis=1, dtype=float)  # whole numbers: exact
        cum_v = np.multiply(ct, ws)
        np.cumsum(cum_v, axis=1, out=cum_v)
        ones = np.ones_like(ws)
        out: dict[str, np.ndarray] = {}
        with np.errstate(divide="ignore", invalid="ignore"):
            for suffix, k, cum, wv in (("", 0, cum_c, ones), ("_w", 5, cum_v, ws)):
                total = cum_c[:, -1] if k == 0 else S[:, 4]
                shift = S[:, k] / total
                mean = c0 + shift
                sd = np.sqrt(np.maximum(S[:, k + 1] / total - shift * shift, 0.0))
                q, at = _quantiles(cum, cum_c, ct, ys, wv, total)
                if k:  # as measures sorts it: tied copies in the order drawn
                    for r in np.flatnonzero(yv.tied[at].any(axis=(0, 2))):
                        yr, wr = y[self.idx[r]], w[self.idx[r]]
                        o = np.argsort(yr, kind="stable")
                        st = _sorted_stats(yr[o][None], wr[o][None], tuple(QUANTILES))
                        q[r] = [st[p][0] for p in QUANTILES]
                out[f"mean{suffix}"] = mean
                out[f"p10{suffix}"], out[f"p50{suffix}"], out[f"p90{suffix}"] = q[:, 0], q[:, 1], q[:, 2]
                out[f"p90_p10{suffix}"] = q[:, 2] - q[:, 0]
                out[f"sd{suffix}"] = sd
                if yv.positive:
                    # sum_k d_k cum_k (W - cum_k); sum_k d_k cum_k = sum_i v_i (max y - y_i)
                    num = total * (total * yv.top - S[:, k]) - np.einsum("ij,ij,j->i", cum, cum, d)
                    mu = mean / c0
                    out[f"p90_div_p10{suffix}"] = q[:, 2] / q[:, 0]
                    out[f"cv{suffix}"] = sd / mean
                    out[f"theil{suffix}"] = S[:, k + 2] / (total * mu) - np.log(mu)
                    out[f"gini{suffix}"] = num / (total ** 2 * mean)
                if yv.below is not None:
                    out[f"share_below{suffix}"] = S[:, 3 if k == 0 else 8] / total
        return out


QUANTILES = np.array([0.1, 0.5, 0.9])


def _search(a: np.ndarray, v: np.ndarray, side: str = "left") -> np.ndarray:
    """``np.searchsorted(a[r], v[r], side)`` for every row ``r`` of ``a`` (rows ascending), all rows at once:
    a binary search of log2(n) steps over the (rows, queries) array ``v``."""
    rows, n = a.shape[0], a.shape[1]
    r = np.arange(rows).reshape((rows,) + (1,) * (v.ndim - 1))
    lo = np.zeros(v.shape, np.intp)
    hi = np.full(v.shape, n, np.intp)
    for _ in range(n.bit_length()):
        mid = (lo + hi) >> 1
        am = a[r, np.minimum(mid, n - 1)]
        right = (am < v) if side == "left" else (am <= v)
        active = lo < hi
        lo = np.where(active & right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)
    return lo


def _quantiles(cum: np.ndarray, cum_c: np.ndarray, counts: np.ndarray, ys: np.ndarray, ws: np.ndarray,
               total: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``QUANTILES`` of every resample (rows) by the midpoint rule of ``_sorted_stats``, from its areas in
    sorted order (values ``ys``, weight per copy ``ws``, ``counts``; ``cum``/``cum_c``: cumulative weight/count
    per area, inclusive): copy m (1-based) of area i sits at position cum_c[i-1] + m - 1 of the sorted resample,
    at ``mid`` (cum[i-1] + (m - 0.5) ws[i]) / total. O(log n) per quantile. Returns the quantiles (rows x
    quantiles) and the areas either side of each (2 x rows x quantiles)."""
    rows, n = counts.shape
    qs = QUANTILES[None, :]
    r = np.arange(rows)[:, None]
    size = np.rint(cum_c[:, -1])[:, None]
    t = total[:, None]

    def before(a: np.ndarray, i: np.ndarray) -> np.ndarray:  # a[r, i - 1], 0 before the first area
        return np.where(i > 0, a[r, np.maximum(i - 1, 0)], 0.0)

    a = _search(cum, qs * t, "left")  # the areas before a lie wholly below q
    k0 = before(cum_c, a)
    i = _search(cum_c, k0, "right")  # the first drawn area from a on
    ii = np.minimum(i, n - 1)
    prev = before(cum, ii)
    c, wi = counts[r, ii].astype(float), ws[ii]
    m = np.arange(1, int(c.max()) + 1)
    mids = (prev[..., None] + m * wi[..., None] - 0.5 * wi[..., None]) / t[..., None]
    inside = ((mids < qs[..., None]) & (m <= c[..., None])).sum(axis=-1)
    k = np.clip(np.where(i < n, k0 + inside, size), 1, size - 1)
    p = np.stack([k - 1, k])  # the positions either side of q
    j = _search(cum_c, p.transpose(1, 0, 2).reshape(rows, -1), "right").reshape(rows, 2, -1).transpose(1, 0, 2)
    before_c, before_w = before(cum_c, j), before(cum, j)
    x = (before_w + (p - before_c + 1) * ws[j] - 0.5 * ws[j]) / t
    v0, v1 = ys[j[0]], ys[j[1]]
    gap = x[1] - x[0]
    frac = np.clip(np.where(gap > 0, (qs - x[0]) / np.where(gap > 0, gap, 1.0), 0.0), 0.0, 1.0)
    return v0 + frac * (v1 - v0), j


@dataclass
class GapAnalysis:
    """Inequality between areas per year, its change, convergence and a between/within-gemeente split.

    Fit with ``GapAnalysis(panel, weights, ...).fit()``; results as attributes:

    - ``by_year``: one row per year and measure: estimate, bootstrap ``lo``/``hi`` (``level`` interval).
    - ``change``: per measure the change first -> last year with its interval and a verdict
      (``growing``/``shrinking``/``no_change``).
    - ``beta``: beta convergence per period (slope, standard error, p, n).
    - ``decomposition``: Theil T per year split into between- and within-gemeente parts.
    - ``cohorts``: mean score per year of the areas that were in the weakest and strongest decile at the start.

    ``engine`` (``duckdb`` or ``spark``, else ``$LEEFBAAR_ENGINE``): the point estimates per year as one Ibis
    expression on that engine (``analysis.distributed``); neither: NumPy in this process (faster at PC4 size;
    the bootstrap always is).
    """

    panel: Panel
    weights: PopulationWeights | None = None
    gemeente: pd.Series | None = None
    below: pd.DataFrame | None = None
    years: list[int] | None = None
    n_boot: int = 999
    level: float = 0.95
    seed: int = 20240101
    engine: str | None = None
    notes: list[str] = field(default_factory=list)

    def fit(self) -> GapAnalysis:
        years = self.years or self.panel.years
        wide = self.panel.balanced(years)
        if len(wide) < 10:
            raise StoreError(f"{self.panel.label}: only {len(wide)} areas have a score in every year "
                             f"{years[0]}-{years[-1]}; too few for inequality measures")
        self.years = [int(y) for y in wide.columns]
        self.codes = wide.index
        n_all = self.panel.frame["code"].nunique()
        self.notes.append(f"{len(wide)} van {n_all} gebieden hebben een score in alle jaren en zijn gebruikt "
                          f"(gebalanceerd panel). | {len(wide)} of {n_all} areas have a score in every year and "
                          f"were used (balanced panel).")
        y = wide.to_numpy(float)
        n = len(wide)
        positive = bool((y > 0).all())
        if not positive:
            self.notes.append("Theil en Gini zijn niet berekend: de waarden zijn niet alle positief. | Theil and "
                              "Gini were not computed: the values are not all positive.")
        w = np.column_stack([self.weights.for_year(t, self.codes) if self.weights is not None
                             else np.ones(n) for t in self.years])
        b = None if self.below is None else self.below.reindex(index=self.codes, columns=self.years).fillna(
            False).to_numpy(bool)
        rng = np.random.default_rng(self.seed)
        engine = None
        if self.engine or os.environ.get("LEEFBAAR_ENGINE"):
            from leefbaar.store.compute import requested_engine  # Ibis on first use (2 s of imports)

            engine = requested_engine(self.engine)
        point = _point_ibis(y, w, b, self.years, positive, engine) if engine else {}
        parts = {t: [] for t in self.years}
        if not engine:
            for j, t in enumerate(self.years):
                bj = None if b is None else b[:, j]
                point[t] = {k: v[0] for k, v in measures(y[:, j], w[:, j], bj, positive).items()}
        # resamples in chunks of about BOOT_CHUNK values (the same random stream as one (n_boot, n) draw), so
        # that memory stays flat however many areas there are; each resample as its counts per area. The years
        # of a chunk are measured on the pool while this thread draws and counts the next chunk.
        step = max(1, BOOT_CHUNK // n)
        values = [YearValues(y[:, j], w[:, j], None if b is None else b[:, j], positive)
                  for j in range(len(self.years))]
        cols = np.hstack([yv.columns for yv in values])
        pending: list[list] = []  # the futures of the chunk being measured
        with ThreadPoolExecutor(max_workers=THREADS) as pool, threadpool_limits(limits=1):
            for start in range(0, self.n_boot + step, step):
                if start < self.n_boot:
                    res = Resamples(rng.integers(0, n, size=(min(step, self.n_boot - start), n)))
                    pending.append([pool.submit(res.measures, yv, S)
                                    for yv, S in zip(values, res.sums(values, cols), strict=True)])
                if len(pending) == 2 or start >= self.n_boot:
                    for t, f in zip(self.years, pending.pop(0), strict=True):
                        parts[t].append(f.result())
        boot = {t: {k: np.concatenate([p[k] for p in parts[t]]) for k in parts[t][0]} for t in self.years}
        alpha = (1 - self.level) / 2
        rows = []
        for t in self.years:
            for m, est in point[t].items():
                lo, hi = np.nanquantile(boot[t][m], [alpha, 1 - alpha])
                rows.append((t, m, est, lo, hi))
        self.by_year = pd.DataFrame(rows, columns=["year", "measure", "estimate", "lo", "hi"])
        self._package_check(y, positive)
        first, last = self.years[0], self.years[-1]
        rows = []
        for m in point[first]:
            d = point[last][m] - point[first][m]
            dist = boot[last][m] - boot[first][m]
            lo, hi = np.nanquantile(dist, [alpha, 1 - alpha])
            verdict = "growing" if lo > 0 else "shrinking" if hi < 0 else "no_change"
            rows.append((m, first, last, point[first][m], point[last][m], d, lo, hi, verdict))
        self.change = pd.DataFrame(rows, columns=["measure", "from_year", "to_year", "from_value", "to_value",
                                                  "change", "lo", "hi", "verdict"])
        self.beta = self._beta(wide)
        self.cohorts = self._cohorts(wide)
        self.decomposition = self._decompose(wide, w) if self.gemeente is not None and positive else None
        return self

    @property
    def verdict(self) -> str:
        """``growing``, ``shrinking`` or ``no_change`` for the interdecile gap (P90-P10 over areas)."""
        return str(self.change.set_index("measure").loc[HEADLINE, "verdict"])

    def _package_check(self, y: np.ndarray, positive: bool) -> None:
        """Unweighted Theil and Gini straight from PySAL ``inequality`` (replaces our own point estimates)."""
        if not positive:
            return
        from inequality.gini import Gini  # on first use: inequality imports matplotlib
        from inequality.theil import Theil

        est = self.by_year.set_index(["year", "measure"])["estimate"]
        for j, t in enumerate(self.years):
            est.loc[(t, "theil")] = float(np.ravel(Theil(y[:, j]).T)[0])
            est.loc[(t, "gini")] = float(Gini(y[:, j]).g)
        self.by_year["estimate"] = est.to_numpy()

    def _beta(self, wide: pd.DataFrame) -> pd.DataFrame:
        from statsmodels.regression.linear_model import OLS  # on first use (statsmodels.api: 2 s of imports)

        years = self.years
        periods = [(years[0], years[-1])] + [(a, b) for a, b in zip(years, years[1:], strict=False)]
        rows = []
        for a, b in dict.fromkeys(periods):
            if b == a:  # one year: no period to regress over
                rows.append((a, b, np.nan, np.nan, np.nan, np.nan, len(wide), "none"))
                continue
            x, d = wide[a].to_numpy(), (wide[b] - wide[a]).to_numpy() / (b - a)
            fit = OLS(d, np.column_stack([np.ones(len(x)), x])).fit(cov_type="HC1")
            rows.append((a, b, fit.params[1], fit.bse[1], fit.pvalues[1], fit.rsquared, len(x),
                         "convergence" if fit.params[1] < 0 and fit.pvalues[1] < 0.05 else
                         "divergence" if fit.params[1] > 0 and fit.pvalues[1] < 0.05 else "none"))
        return pd.DataFrame(rows, columns=["from_year", "to_year", "beta_per_year", "se", "p", "r2", "n",
                                           "result"])

    def _cohorts(self, wide: pd.DataFrame) -> pd.DataFrame:
        start = wide[self.years[0]]
        lo, hi = start.quantile(0.1), start.quantile(0.9)
        groups = {"weakest_decile_at_start": start <= lo, "strongest_decile_at_start": start >= hi}
        rows = []
        for name, mask in groups.items():
            for t in self.years:
                rows.append((name, t, int(mask.sum()), float(wide.loc[mask, t].mean())))
        frame = pd.DataFrame(rows, columns=["cohort", "year", "n", "mean"])
        gap = frame.pivot(index="year", columns="cohort", values="mean")
        extra = pd.DataFrame({"cohort": "gap_strong_minus_weak", "year": gap.index, "n": np.nan,
                              "mean": (gap["strongest_decile_at_start"] - gap["weakest_decile_at_start"]).to_numpy()})
        return pd.concat([frame, extra], ignore_index=True)

    def _decompose(self, wide: pd.DataFrame, w: np.ndarray) -> pd.DataFrame:
        gm = self.gemeente.reindex(wide.index)
        ok = gm.notna().to_numpy()
        part = gm[ok].to_numpy()
        rows = []
        for j, t in enumerate(self.years):
            y = wide[t].to_numpy()[ok]
            # unweighted: PySAL's TheilD formula, by one groupby (TheilD loops over the groups: areas x groups)
            total, between = theil_decomposition(y, np.ones(len(y)), part)
            tw, bw = theil_decomposition(y, w[ok, j], part)
            rows.append((t, int(ok.sum()), len(np.unique(part)), total, between, total - between,
                         between / total, tw, bw, tw - bw, bw / tw if tw > 0 else np.nan))
        return pd.DataFrame(rows, columns=["year", "n_areas", "n_gemeenten", "theil", "between", "within",
                                           "between_share", "theil_w", "between_w", "within_w", "between_share_w"])


def _point_ibis(y: np.ndarray, w: np.ndarray, b: np.ndarray | None, years: list[int], positive: bool,
                engine: str) -> dict[int, dict[str, float]]:
    """The point estimates of ``measures`` for every year as one Ibis expression on ``engine``
    (``analysis.distributed.gap_measures``; same definitions, ties in the same order)."""
    from leefbaar.analysis.distributed import gap_frame

    n = y.shape[0]
    frame = pd.DataFrame({"year": np.repeat(years, n), "pos": np.tile(np.arange(n), len(years)),
                          "y": y.T.ravel(), "w": w.T.ravel()})
    if b is not None:
        frame["below"] = b.T.ravel()
    out = gap_frame(frame, ["year"], positive, engine).set_index("year")
    return {t: {k: float(out.loc[t, k]) for k in out.columns} for t in years}


def theil_decomposition(y: np.ndarray, w: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """Weighted Theil T and its between-group part: sum_g (W_g m_g / W m) ln(m_g / m), m = weighted means."""
    y, w = np.asarray(y, float), np.asarray(w, float)
    total = float(theil_t(y, w))
    frame = pd.DataFrame({"g": groups, "wy": w * y, "w": w})
    agg = frame.groupby("g")[["wy", "w"]].sum()
    agg = agg[agg["w"] > 0]
    mu = agg["wy"].sum() / agg["w"].sum()
    mg = agg["wy"] / agg["w"]
    share = agg["wy"] / agg["wy"].sum()
    return total, float((share * np.log(mg / mu)).sum())

