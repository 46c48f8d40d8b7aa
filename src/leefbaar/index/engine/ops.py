"""The standard operations of composite-indicator construction, as pure functions on arrays.

Every function takes a matrix ``X`` of shape (units, indicators) with NaN for a missing value and returns a new
array plus, where useful, a small record of what it did (for the build record). COINr's operations are the
reference; where a definition differs it is said in the function's docstring.

- ``denominate``: ``x / d`` (a denominator of 0, negative or missing gives NaN);
- ``impute``: none, mean, median, group mean, group median (within a group column; a group with no value
  falls back to the overall mean/median);
- ``screen``: keep units whose share of available (or non-zero) values is at least ``min_share``;
- ``treat``: winsorise up to ``winmax`` points while |skew| >= ``skew`` and kurtosis >= ``kurt`` (skew and
  kurtosis as Excel / e1071 type 2), else the COIN Tool log ``log(x - min + 0.01 (max - min))`` of the original;
- ``normalise``: min-max to [l, u], z-score (sd with n - 1) to a chosen mean and sd, rank, percentile rank,
  Borda, distance to target, goalposts; the direction is applied before normalising (x -> direction * x);
- ``aggregate``: weighted arithmetic, geometric and harmonic mean and weighted median of the children of each
  node, skipping missing values and renormalising the weights of the available ones, with a minimum data share.
  Vectorised over a leading axis of draws (``aggregate`` takes weights of shape (draws, children)).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from leefbaar.errors import SpecError

IMPUTE = ("none", "mean", "median", "group_mean", "group_median")
NORMALISE = ("minmax", "zscore", "rank", "percentile", "borda", "target", "goalposts", "none")
AGGREGATE = ("arithmetic", "geometric", "harmonic", "median")
SCREEN_BY = ("missing", "zeros", "missing_or_zeros")


# -- denominate -------------------------------------------------------------------------------------------
def denominate(X: np.ndarray, D: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """``X / D * scale`` per cell; NaN where the denominator is missing, zero or negative."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(D > 0, X / D, np.nan) * scale


# -- impute -----------------------------------------------------------------------------------------------
def impute(X: np.ndarray, method: str, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Fill NaN cells; returns (X imputed, number of cells filled per indicator). Nothing to fill returns ``X``
    itself (as floats), not a copy.

    ``group_mean``/``group_median`` use the mean/median of the unit's group (``groups``: one label per unit);
    a unit without a group or a group without any value for the indicator takes the overall mean/median.
    """
    if method not in IMPUTE:
        raise SpecError(f"impute method {method!r} is not one of {', '.join(IMPUTE)}")
    out = np.asarray(X, dtype=float)
    gap = np.isnan(out)
    if method == "none" or not gap.any():  # nothing to fill: the values themselves, not a copy
        return out, gap.sum(axis=0) * 0
    out = out.copy()
    stat = np.nanmedian if method.endswith("median") else np.nanmean
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            overall = stat(out, axis=0)
            if method.startswith("group"):
                if groups is None:
                    raise SpecError(f"impute method {method!r} needs a group column")
                g = np.asarray(groups, dtype=object)
                for label in [x for x in dict.fromkeys(g.tolist()) if x is not None and x == x]:
                    rows = g == label
                    fill = stat(out[rows], axis=0)
                    fill = np.where(np.isnan(fill), overall, fill)
                    sub = out[rows]
                    out[rows] = np.where(np.isnan(sub), fill, sub)
            out = np.where(np.isnan(out), overall, out)
    return out, (gap & ~np.isnan(out)).sum(axis=0)


# -- screen -----------------------------------------------------------------------------------------------
def screen(X: np.ndarray, min_share: float, by: str = "missing") -> tuple[np.ndarray, np.ndarray]:
    """(keep mask of units, their data share): units with a share of usable values >= ``min_share``.

    ``by``: ``missing`` counts non-missing values, ``zeros`` non-zero values (missing counts as usable),
    ``missing_or_zeros`` values that are neither.
    """
    if by not in SCREEN_BY:
        raise SpecError(f"screen.by {by!r} is not one of {', '.join(SCREEN_BY)}")
    ok = np.ones(X.shape, bool)
    if by in ("missing", "missing_or_zeros"):
        ok &= ~np.isnan(X)
    if by in ("zeros", "missing_or_zeros"):
        ok &= X != 0
    share = ok.mean(axis=1)
    return share >= min_share - 1e-12, share


# -- outlier treatment --------------------------------------------------------------------------------------
def _bias_corrected(stat, x: np.ndarray, min_n: int) -> float:
    """``stat(x, bias=False)`` of the non-missing values of ``x``: NaN under ``min_n`` values, 0 when constant."""
    x = x[~np.isnan(x)]
    if len(x) < min_n:
        return float("nan")
    if x.min() == x.max():
        return 0.0
    return float(stat(x, bias=False))


def skew(x: np.ndarray) -> float:
    """Sample skewness, type 2 (Excel, e1071 ``type = 2``; scipy ``bias=False``), of the non-missing values."""
    return _bias_corrected(stats.skew, x, 3)


def kurt(x: np.ndarray) -> float:
    """Sample excess kurtosis, type 2 (Excel, e1071 ``type = 2``; scipy ``bias=False``), of the non-missing
    values."""
    return _bias_corrected(stats.kurtosis, x, 4)


def passes(x: np.ndarray, skew_max: float, kurt_max: float) -> bool:
    """True when |skew| < ``skew_max`` or kurtosis < ``kurt_max`` (no outlier problem)."""
    s, k = skew(x), kurt(x)
    if np.isnan(s) or np.isnan(k):
        return True
    return abs(s) < skew_max or k < kurt_max


def log_ct(x: np.ndarray) -> np.ndarray:
    """COIN Tool log: ``log(x - min(x) + 0.01 (max(x) - min(x)))``."""
    lo, hi = np.nanmin(x), np.nanmax(x)
    return np.log(x - lo + 0.01 * (hi - lo))


def winsorise(x: np.ndarray, winmax: int, skew_max: float, kurt_max: float) -> tuple[np.ndarray, int]:
    """Winsorise one indicator: while it fails ``passes`` and fewer than ``winmax`` points were changed, set the
    highest value(s) (skew >= 0) or lowest value(s) (skew < 0) to the next value. Returns (x, points changed).

    Ties at the extreme are changed together; the count is of distinct points changed (a point moved twice
    counts once: after one step it ties with the next value), as COINr's ``winsorise`` counts.
    """
    x = x.astype(float, copy=True)
    changed = np.zeros(len(x), bool)
    while not passes(x, skew_max, kurt_max) and changed.sum() < winmax:
        v = x[~np.isnan(x)]
        if skew(x) >= 0:
            ext = v.max()
            at = x == ext
            rest = v[v != ext]
            if not len(rest):
                break
            x[at] = rest.max()
        else:
            ext = v.min()
            at = x == ext
            rest = v[v != ext]
            if not len(rest):
                break
            x[at] = rest.min()
        changed |= at
    return x, int(changed.sum())


def treat(x: np.ndarray, winmax: int = 5, skew_max: float = 2.0, kurt_max: float = 3.5,
          fallback: str = "log") -> tuple[np.ndarray, dict]:
    """Two-stage outlier treatment of one indicator (COINr ``Treat`` defaults): nothing if it passes, else
    winsorise up to ``winmax`` points; if it still fails, the ``fallback`` (``log``: COIN Tool log, or
    ``none``) applied to the ORIGINAL values. Returns (x, details: skew/kurt before/after, points, action)."""
    det = {"skew": skew(x), "kurt": kurt(x), "winsorised": 0, "action": "none"}
    if passes(x, skew_max, kurt_max):
        return x.astype(float, copy=True), det
    w, n = winsorise(x, winmax, skew_max, kurt_max)
    if passes(w, skew_max, kurt_max):
        out, det["action"], det["winsorised"] = w, "winsorise", n
    elif fallback == "log":
        out, det["action"] = log_ct(x.astype(float)), "log"
    else:
        out, det["action"], det["winsorised"] = w, "winsorise (still failing)", n
    det["skew_after"], det["kurt_after"] = skew(out), kurt(out)
    return out, det


# -- normalise --------------------------------------------------------------------------------------------
def normalise(X: np.ndarray, directions: np.ndarray, method: str, *, lo: float = 0.0, hi: float = 100.0,
              mean: float = 0.0, sd: float = 1.0, targets: np.ndarray | None = None, cap: bool = True,
              goalposts: np.ndarray | None = None) -> np.ndarray:
    """Normalise each column of ``X`` after multiplying it by its direction (+1 or -1).

    - ``minmax``: ``lo + (x - min) / (max - min) * (hi - lo)``; a constant column gets the middle (lo + hi) / 2;
    - ``zscore``: ``mean + (x - mean(x)) / sd(x) * sd``, ``sd(x)`` with n - 1 (a constant column gets ``mean``);
    - ``rank``: rank, ties averaged (1 = lowest after the direction);
    - ``percentile``: ``lo + (rank - 1) / (n - 1) * (hi - lo)`` (ties averaged);
    - ``borda``: ``rank - 1`` with ties at the minimum rank (points for beating other units);
    - ``target``: distance to target ``lo + (x - min) / (target - min) * (hi - lo)``, capped at ``hi`` when
      ``cap`` (targets per column, in raw units; the direction applies to them too);
    - ``goalposts``: ``lo + (x - g_lo) / (g_hi - g_lo) * (hi - lo)`` clipped to [lo, hi] (goalposts per column,
      shape (2, columns), in raw units: the first post is the worst value);
    - ``none``: the directed values.
    NaN stays NaN; statistics use the available values of each column.
    """
    import warnings

    d = np.asarray(directions, float)
    Z = X * d
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if method == "minmax":
            mn, mx = np.nanmin(Z, axis=0), np.nanmax(Z, axis=0)
            rng = mx - mn
            return np.where(rng > 0, lo + (Z - mn) / np.where(rng > 0, rng, 1) * (hi - lo), (lo + hi) / 2)
        if method == "zscore":
            m = np.nanmean(Z, axis=0)
            s = np.nanstd(Z, axis=0, ddof=1)
            return np.where(s > 0, mean + (Z - m) / np.where(s > 0, s, 1) * sd, mean) + 0 * Z
        if method in ("rank", "percentile", "borda"):
            from scipy.stats import rankdata

            ties = "min" if method == "borda" else "average"
            R = rankdata(Z, axis=0, method=ties, nan_policy="omit")
            if method == "rank":
                return R
            if method == "borda":
                return R - 1
            n = (~np.isnan(Z)).sum(axis=0)
            return lo + (R - 1) / np.where(n > 1, n - 1, 1) * (hi - lo)
        if method == "target":
            if targets is None:
                raise SpecError("normalise method 'target' needs a target per indicator (meta column 'Target')")
            t = np.asarray(targets, float) * d
            mn = np.nanmin(Z, axis=0)
            span = t - mn
            out = lo + (Z - mn) / np.where(span != 0, span, np.nan) * (hi - lo)
            return np.minimum(out, hi) if cap else out
        if method == "goalposts":
            if goalposts is None:
                raise SpecError("normalise method 'goalposts' needs goalposts per indicator (meta columns "
                                "'GoalLow' and 'GoalHigh')")
            g = np.asarray(goalposts, float) * d
            out = lo + (Z - g[0]) / (g[1] - g[0]) * (hi - lo)
            return np.clip(out, min(lo, hi), max(lo, hi))
        if method == "none":
            return Z.astype(float)
    raise SpecError(f"normalise method {method!r} is not one of {', '.join(NORMALISE)}")


# -- aggregate --------------------------------------------------------------------------------------------
def aggregate(V: np.ndarray, w: np.ndarray, A: np.ndarray, method: str, min_share: float = 0.0) -> np.ndarray:
    """Aggregate children into nodes, skipping missing values and renormalising the weights of the others.

    ``V``: child values, shape (..., units, children); ``w``: child weights, shape (children,) or (draws,
    children) (then ``V`` is (units, children) or (draws, units, children)); ``A``: membership (children,
    nodes), 1 where a child belongs to a node. A node whose share of available children (by count) is below
    ``min_share`` is NaN. Returns (..., units, nodes).

    Geometric mean ``exp(sum w log x / sum w)`` needs x > 0; harmonic ``sum w / sum (w / x)`` needs x > 0;
    the weighted median is the smallest value whose cumulative weight reaches half the available weight.
    """
    if method not in AGGREGATE:
        raise SpecError(f"aggregation {method!r} is not one of {', '.join(AGGREGATE)}")
    w = np.asarray(w, float)
    present = ~np.isnan(V)
    if method in ("geometric", "harmonic") and np.any(V <= 0):  # NaN <= 0 is False
        bad = float(np.nanmin(V))
        raise SpecError(f"{method} aggregation needs positive values, but a value is {bad:.6g}; normalise to a "
                        "positive range (e.g. minmax range [1, 100] or zscore mean 10)")
    if w.ndim == 2 and V.ndim == 2 and method != "median":
        return _aggregate_shared(V, present, w, A, method, min_share)
    if w.ndim == 2 and V.ndim == 2:
        V = V[None]
        present = present[None]
    wv = w[..., None, :] if w.ndim == 2 else w
    if method == "median":
        shape = np.broadcast_shapes(V.shape, wv.shape)  # one set of values under many weight vectors
        return _weighted_median(np.broadcast_to(V, shape), np.broadcast_to(wv, shape), A, min_share)
    full = bool(present.all())
    den = (wv @ A) if full else _matmul(np.where(present, wv, 0.0), A)  # no gap: the weights' sums
    if method == "arithmetic":
        num = _matmul(V * wv if full else np.where(present, V, 0.0) * wv, A)
        out = num / np.where(den > 0, den, np.nan)
    elif method == "geometric":
        with np.errstate(divide="ignore"):
            logs = np.log(V) if full else np.where(present, np.log(np.where(present, V, 1.0)), 0.0)
        out = np.exp(_matmul(logs * wv, A) / np.where(den > 0, den, np.nan))
    else:
        num = _matmul(wv / V if full else np.where(present, wv / np.where(present, V, 1.0), 0.0), A)
        out = den / np.where(num > 0, num, np.nan)
    if min_share > 0:
        share = _matmul(present.astype(float), A) / A.sum(axis=0)
        out = np.where(share >= min_share - 1e-12, out, np.nan)
    return out


def _aggregate_shared(V, present, w, A, method, min_share):
    """``aggregate`` of one (units, children) matrix under many weight vectors (draws, children): per node one
    product (draws, its children) @ (its children, units), the fewest operations (measured faster than
    ``einsum`` or one wide product with the membership matrix)."""
    if method == "arithmetic":
        base = np.where(present, V, 0.0)
    elif method == "geometric":
        base = np.where(present, np.log(np.where(present, V, 1.0)), 0.0)
    else:
        base = np.where(present, 1 / np.where(present, V, 1.0), 0.0)
    D, G, n = len(w), A.shape[1], len(V)
    pf = present.astype(float)
    stack = np.concatenate([base, pf]).T  # (children, 2 units): values and presence, one product per node
    both = np.empty((G, D, 2 * n))
    for g in range(G):
        kids = np.flatnonzero(A[:, g])
        both[g] = w[:, kids] @ stack[kids]
    num, den = both[:, :, :n].transpose(1, 2, 0), both[:, :, n:].transpose(1, 2, 0)
    if method == "arithmetic":
        out = num / np.where(den > 0, den, np.nan)
    elif method == "geometric":
        out = np.exp(num / np.where(den > 0, den, np.nan))
    else:
        out = den / np.where(num > 0, num, np.nan)
    if min_share > 0:
        share = (pf @ A) / A.sum(axis=0)
        out = np.where((share >= min_share - 1e-12)[None], out, np.nan)
    return out


def _matmul(M: np.ndarray, A: np.ndarray) -> np.ndarray:
    """``M @ A`` over the last axis, as one 2-D product (faster than a batched matmul for many draws)."""
    shape = M.shape
    return (M.reshape(-1, shape[-1]) @ A).reshape(*shape[:-1], A.shape[1])


def _weighted_median(V: np.ndarray, W: np.ndarray, A: np.ndarray, min_share: float) -> np.ndarray:
    out = np.full((*V.shape[:-1], A.shape[1]), np.nan)
    for g in range(A.shape[1]):
        kids = np.flatnonzero(A[:, g])
        v, wt = V[..., kids], np.where(np.isnan(V[..., kids]), 0.0, W[..., kids])
        order = np.argsort(np.where(np.isnan(v), np.inf, v), axis=-1)
        vs, ws = np.take_along_axis(v, order, -1), np.take_along_axis(wt, order, -1)
        cum = np.cumsum(ws, axis=-1)
        half = cum[..., -1:] / 2
        k = np.minimum((cum < half - 1e-12).sum(axis=-1, keepdims=True), len(kids) - 1)
        med = np.take_along_axis(vs, k, -1)[..., 0]
        share = (~np.isnan(v)).mean(axis=-1)
        out[..., g] = np.where((cum[..., -1] > 0) & (share >= min_share - 1e-12), med, np.nan)
    return out


def contributions(V: np.ndarray, w: np.ndarray, A: np.ndarray, method: str) -> tuple[np.ndarray, str]:
    """Each child's part of its node, shape (units, children), and the space in which parts add up:
    ``linear`` (arithmetic: ``w x / sum w``, sums to the node), ``log`` (geometric: ``w log x / sum w``,
    sums to log of the node), ``reciprocal`` (harmonic: ``(w / x) / sum w``, sums to 1 / node); NaN for the
    median (no additive decomposition) and for missing children."""
    present = ~np.isnan(V)
    wp = np.where(present, w, 0.0)
    den = (wp @ A) @ A.T  # per child: available weight of its node
    share = wp / np.where(den > 0, den, np.nan)
    if method == "arithmetic":
        return share * V, "linear"
    if method == "geometric":
        with np.errstate(divide="ignore", invalid="ignore"):
            return share * np.log(V), "log"
    if method == "harmonic":
        return share / V, "reciprocal"
    return np.full(V.shape, np.nan), "none"


def ranks(scores: np.ndarray) -> np.ndarray:
    """Rank per column, 1 = highest, ties at the minimum rank (as R's ``rank(-x, ties = 'min')``), NaN kept."""
    from scipy.stats import rankdata

    return rankdata(-scores, axis=0, method="min", nan_policy="omit")
