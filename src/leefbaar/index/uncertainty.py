"""Monte Carlo uncertainty of index scores, ranks and classes, vectorised over draws.

Three sources vary in every draw:

- calibration: the intercept and coefficients of each dimension's additive model, drawn from the Gaussian
  first-order approximation of their bootstrap distribution over calibration rows (``DimensionModel.cov``:
  sandwich covariance of the problem reduced to the free coefficients). Coefficients whose monotonicity
  bound is active at the fit stay at the bound; a free bounded coefficient drawn past its bound is set to it.
  The draws hold the design fixed: they leave out the re-estimation of knots, winsor limits, fill medians and
  the location centres on each bootstrap sample, which ``naive_draws`` includes. Measured on all PC4 of 2022
  (default spec, calibration only, ``bench_uncertainty.py --calibration-only``): median per-area sd of afw
  0.0118 score points against 0.0130 for 30 full rebuilds, per-area sd correlated 0.93; exact refits on
  resampled rows with the design fixed gave 0.0115. All three sources together: 0.0285 against 0.0310
  (20 rebuilds), correlation 0.97.
- normalisation: each draw uses one of the ``alternatives`` (by default the spec as written and the same spec
  with every indicator rank-transformed within its year), chosen with equal probability;
- weights: the five dimension weights are ``k * Dirichlet(concentration)`` (mean 1 each, coefficient of
  variation about 1/sqrt(concentration)); ``concentration=inf`` keeps every weight at 1;
- nowcasts (with ``Anchoring``): a modelled row anchored on an official year is redrawn as its nowcast
  formula ``c_now * m(t) + c_anchor * m(a) + const`` (``nowcast.NowcastCorrection.linear_terms``), so the
  model terms of both years move together in every draw, plus a normal nowcast error with the row's
  ``noise_sd`` (the spread of the official change the correction did not predict).

Specs without calibration (pca, expert, equal weighting) go the same way, with their indicator weights held
as fitted: only the normalisation alternative and the dimension weights vary. All draws of one alternative
are one matrix product over all five dimensions (``_terms @ _coefficients``: each dimension's basis scaled by
its nowcast factors beside its intercept and constant columns, times the draws' coefficients and dimension
weights), so 1,000 draws over all PC4 take seconds. Scoring summarises the draws with ``summarise_draws``: one
year at a time, the design built for a chunk of rows when needed, float32, so memory is bounded by one year's
areas x draws (1.6 GB for 400,000 areas and 1,000 draws) whatever the number of years; ``draws`` with
``summarise`` hold all rows x draws in float64 and are its reference. Interval bounds come from one partition
per row (``_quantiles``: numpy's linear quantiles, bitwise), ranks from one argsort per draw, ``THREADS``
blocks of draws at a time. The nowcast errors are drawn year by year (ascending), row by row, after all other
randomness, so that a year can be drawn alone. ``naive_draws`` rebuilds the index once per draw (bootstrap
rows, refit everything from the indicator matrix on, rescore), as COINr does: the reference the fast path is
checked against (``benchmarks/bench_uncertainty.py``, ``tests/test_index_uncertainty.py``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from leefbaar.index.model import LivabilityIndex
from leefbaar.index.spec import IndexSpec

THREADS = min(2, os.cpu_count() or 1)  # blocks of draws ranked side by side (NumPy's sort releases the GIL)


def rank_variant(spec: IndexSpec) -> IndexSpec:
    """The spec with every indicator rank-transformed within its year (the alternative normalisation)."""
    dims = tuple(replace(d, indicators=tuple(replace(i, transform="rank", deflate=None, winsor=None)
                                             for i in d.indicators)) for d in spec.dimensions)
    return replace(spec, dimensions=dims, name=f"{spec.name}__rank")


@dataclass
class Anchoring:
    """How each row's score is built from model draws: per dimension ``c_now * m(row) + c_anchor *
    m(anchor_row) + const``; ``anchor_row`` is the row's own index where there is no anchor (``c_anchor``
    0). ``noise_sd``: sd of a normal error added to afw per row (0 for none), score points."""

    anchor_row: np.ndarray
    c_now: dict[str, np.ndarray]
    c_anchor: dict[str, np.ndarray]
    const: dict[str, np.ndarray]
    noise_sd: np.ndarray


@dataclass
class Term:
    """One dimension of one fitted alternative as a linear model: score = ``theta[0] + design @ theta[1:]``,
    coefficients held at ``lower`` or above; ``root`` (``root @ root.T`` = covariance of ``theta``) is zero
    where nothing is estimated (weights of pca, expert and equal specs)."""

    theta: np.ndarray
    lower: np.ndarray
    root: np.ndarray


@dataclass
class Prepared:
    """Every dimension of one fitted alternative (``Term`` per dimension code) and its feature matrix ``X`` on
    the rows to score; the design of any rows is built from ``X`` when a draw needs it (``design``), so that
    no rows x basis matrix of all rows is ever held."""

    terms: dict[str, Term]
    model: LivabilityIndex
    X: pd.DataFrame

    def design(self, code: str, rows: np.ndarray) -> np.ndarray:
        """The design of dimension ``code`` on ``rows`` (positions): the spline and location basis
        (calibrated) or the signed normalised indicators (other weightings)."""
        contiguous = len(rows) > 0 and rows[-1] - rows[0] == len(rows) - 1 and bool((np.diff(rows) == 1).all())
        X = self.X.iloc[rows[0]:rows[-1] + 1] if contiguous else self.X.iloc[rows]  # a slice copies nothing
        if self.model.spec.weighting == "calibrated":
            return self.model.models_[code].design(X)
        return self.model.weighted_design(X, code)[0]


def _root(cov: np.ndarray | None, size: int) -> np.ndarray:
    if cov is None:
        return np.zeros((size, size))
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    return vecs * np.sqrt(np.clip(vals, 0, None))


def prepare(models: list[LivabilityIndex], panel: pd.DataFrame, X: pd.DataFrame | None = None,
            dtype=np.float64) -> list[Prepared]:
    """Each fitted model on ``panel`` as linear terms. ``X``: the first model's feature matrix on ``panel``
    when already computed (reused as it is); the others' are computed and held as ``dtype`` (float32 halves
    their memory; the draws themselves are float32 in ``summarise_draws``)."""
    out = []
    for i, m in enumerate(models):
        if i == 0 and X is not None:
            Xm = X
        else:  # the engine table holds the unit codes beside the numbers
            Xm = m.matrix_.transform(panel)
            Xm = Xm.astype({c: dtype for c in Xm.columns if Xm[c].dtype.kind == "f"})
        if m.spec.weighting == "calibrated":
            terms = {d: Term(np.concatenate([[mm.intercept], mm.coef]), mm.lower, _root(mm.cov, len(mm.coef) + 1))
                     for d, mm in m.models_.items()}
        else:
            terms = {}
            for d in m.spec.dimension_codes:
                w = np.array(list(m.weights_[d].values()))
                terms[d] = Term(np.concatenate([[0.0], w]), np.full(len(w), -np.inf), np.zeros((len(w) + 1,) * 2))
        out.append(Prepared(terms, m, Xm))
    return out


def _weights(rng: np.random.Generator, k: int, size: int | None, concentration: float) -> np.ndarray:
    """Dimension weights k * Dirichlet(concentration), or all 1 for an infinite concentration."""
    if np.isinf(concentration):
        return np.ones(k if size is None else (size, k))
    return rng.dirichlet(np.full(k, concentration), size=size) * k


@dataclass
class _Plan:
    """The per-draw randomness that does not depend on the rows (alternative, dimension weights, coefficients),
    and the generator that then gives the nowcast errors, year by year, row by row (``_groups``)."""

    choice: np.ndarray
    weights: np.ndarray
    coefs: list[tuple[np.ndarray, dict[str, tuple[np.ndarray, np.ndarray]]]]
    rng: np.random.Generator


def _plan(prepared: list[Prepared], n_draws: int, seed: int, concentration: float) -> _Plan:
    rng = np.random.default_rng(seed)
    dims = list(prepared[0].terms)
    choice = rng.integers(0, len(prepared), size=n_draws)
    weights = _weights(rng, len(dims), n_draws, concentration)
    coefs = []
    for a, prep in enumerate(prepared):
        idx = np.flatnonzero(choice == a)
        per_dim = {}
        if len(idx):
            for d in dims:
                t = prep.terms[d]
                theta = t.theta + rng.standard_normal((len(idx), len(t.root))) @ t.root.T
                per_dim[d] = (theta[:, 0], np.maximum(theta[:, 1:], t.lower))
        coefs.append((idx, per_dim))
    return _Plan(choice, weights, coefs, rng)


def _groups(n: int, years: np.ndarray | None) -> list[np.ndarray]:
    """Row positions by year (ascending; rows in their order): the order in which nowcast errors are drawn."""
    if years is None:
        return [np.arange(n)]
    years = np.asarray(years)
    return [np.flatnonzero(years == y) for y in np.unique(years)]


def _terms(prep: Prepared, dims: list[str], r: np.ndarray, anchoring: Anchoring | None, linked: np.ndarray,
           a_rows: np.ndarray) -> np.ndarray:
    """The design of ``rows`` for ``_coefficients``, all dimensions side by side (float64): per dimension the
    basis scaled by ``c_now`` (plus ``c_anchor`` times the anchor row's basis where ``linked``), the factor of
    the intercept (c_now + c_anchor) and, with ``anchoring``, the constant."""
    cols = []
    for d in dims:
        D = prep.design(d, r).astype(np.float64, copy=False)
        if anchoring is None:
            cols += [D, np.ones((len(r), 1))]
            continue
        c_now = anchoring.c_now[d][r].astype(np.float64)
        E, intercept = D * c_now[:, None], c_now.copy()
        if len(linked):
            c_anchor = anchoring.c_anchor[d][r[linked]]
            E[linked] += c_anchor[:, None] * prep.design(d, a_rows)
            intercept[linked] += c_anchor
        cols += [E, intercept[:, None], anchoring.const[d][r][:, None]]
    return np.hstack(cols)


def _coefficients(per_dim: dict, weights: np.ndarray, dims: list[str], anchored: bool) -> np.ndarray:
    """Per draw (column) the coefficients of ``_terms``: the dimension weight times the draw's coefficients,
    intercept and (``anchored``) 1, so that ``_terms @ _coefficients`` is afw: sum over dimensions of the weight
    times ``c_now * m(row) + c_anchor * m(anchor_row) + const``."""
    out = []
    for k, d in enumerate(dims):
        t0, coef = per_dim[d]
        w = weights[:, k]
        out += [coef.T * w, (t0 * w)[None, :]] + ([w[None, :]] if anchored else [])
    return np.vstack(out)


def _block(prepared: list[Prepared], plan: _Plan, rows: np.ndarray, anchoring: Anchoring | None, dtype,
           skip: np.ndarray | None = None) -> np.ndarray:
    """afw draws of ``rows`` (len(rows) x n_draws, ``dtype``), nowcast error included; ``skip`` (mask over
    ``rows``): rows whose model part is not needed (left 0; their errors are still drawn, in order). All
    dimensions of one alternative are one matrix product (``_terms @ _coefficients``) in ``dtype``."""
    n_draws = len(plan.choice)
    out = np.zeros((len(rows), n_draws), dtype)
    todo = np.arange(len(rows)) if skip is None else np.flatnonzero(~skip)
    r = rows[todo]
    dims = list(prepared[0].terms)
    linked = a_rows = np.array([], dtype=np.int64)
    if anchoring is not None:
        linked = np.flatnonzero(anchoring.anchor_row[r] != r)
        a_rows = anchoring.anchor_row[r[linked]]
    for (idx, per_dim), prep in zip(plan.coefs, prepared, strict=True):
        if len(idx) == 0 or len(r) == 0:
            continue
        E = _terms(prep, dims, r, anchoring, linked, a_rows).astype(dtype)
        theta = _coefficients(per_dim, plan.weights[idx], dims, anchoring is not None).astype(dtype)
        if len(todo) == len(rows) and len(idx) == n_draws:
            np.matmul(E, theta, out=out)
        else:
            out[np.ix_(todo, idx)] = E @ theta
    if anchoring is not None:
        sd = np.nan_to_num(anchoring.noise_sd[rows])
        noisy = np.flatnonzero(sd > 0)
        if len(noisy):
            z = plan.rng.standard_normal((len(noisy), n_draws), dtype=np.float32)
            out[noisy] += sd[noisy, None].astype(dtype) * z
    return out


def draws(prepared: list[Prepared], n_draws: int, seed: int = 0, concentration: float = 50.0,
          anchoring: Anchoring | None = None, years: np.ndarray | None = None) -> np.ndarray:
    """afw draws, shape (rows, n_draws), float64, in score points (the model alone without ``anchoring``),
    for any weighting: each draw takes one alternative with equal probability, dimension weights ``k *
    Dirichlet(concentration)`` and, where calibrated, coefficients from their covariance; with ``anchoring``
    plus the nowcast errors, drawn year by year (``years``) in row order. All rows at once: the reference
    for ``summarise_draws``, which gives the same summaries in bounded memory."""
    plan = _plan(prepared, n_draws, seed, concentration)
    n = len(prepared[0].X)
    out = np.empty((n, n_draws))
    for rows in _groups(n, years):
        out[rows] = _block(prepared, plan, rows, anchoring, np.float64)
    return out


def _quantiles(a: np.ndarray, lo_q: float, hi_q: float) -> tuple[np.ndarray, np.ndarray]:
    """``np.quantile(a.astype(float64), [lo_q, hi_q], axis=1)`` (linear method), the very same numbers, from one
    partition of ``a`` in its own type (the order statistics are exact in any float type; numpy's
    interpolation is repeated in float64)."""
    n = a.shape[1]
    virtual = (n - 1) * np.array([lo_q, hi_q])
    prev = np.clip(np.floor(virtual).astype(np.int64), 0, n - 1)
    nxt = np.minimum(prev + 1, n - 1)
    gamma = virtual - np.floor(virtual)
    part = np.partition(a, np.unique(np.concatenate([prev, nxt, [n - 1]])), axis=1)
    nan = np.isnan(part[:, -1])
    out = []
    for p, nx, g in zip(prev, nxt, gamma, strict=True):
        lo, hi = part[:, p].astype(np.float64), part[:, nx].astype(np.float64)
        diff = hi - lo
        q = hi - diff * (1 - g) if g >= 0.5 else lo + diff * g
        q[nan] = np.nan
        out.append(q)
    return out[0], out[1]


def _rank_block(a: np.ndarray, lo: int, hi: int) -> None:
    """Replace the draws ``a[:, lo:hi]`` by their ranks within the column (1 = highest; ``a``'s float type)."""
    neg = -a[:, lo:hi].T
    order = np.argsort(neg, axis=1)
    ranks = np.empty(neg.shape, a.dtype)
    np.put_along_axis(ranks, order, np.arange(1, len(a) + 1, dtype=a.dtype)[None, :], axis=1)
    a[:, lo:hi] = ranks.T


def summarise_draws(prepared: list[Prepared], n_draws: int, point_afw: np.ndarray, years: np.ndarray,
                    reference: float, classify, fixed: np.ndarray | None = None, seed: int = 0,
                    concentration: float = 50.0, anchoring: Anchoring | None = None, level: float = 0.90,
                    chunk_rows: int = 20_000, dtype=np.float32) -> pd.DataFrame:
    """``summarise(point_afw, draws(...), ...)`` in bounded memory: the draws of one year at a time
    (rows of that year x n_draws, ``dtype``), built ``chunk_rows`` rows at a time; interval bounds and class
    changes per row chunk, ranks per draw over the whole year, written over the draws they came from.

    Same draws as ``draws`` (same generator, same order); float32 arithmetic changes each draw by about 1e-7
    relative to the largest term (a few 1e-6 score points), and the interval bounds, being order statistics,
    by no more than that; a rank or class changes only where two areas, or an area and a class boundary, are
    that close in a draw. Peak memory about 4 x n_draws bytes per area of the largest year."""
    fixed = np.zeros(len(point_afw), bool) if fixed is None else np.asarray(fixed, bool)
    plan = _plan(prepared, n_draws, seed, concentration)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    n = len(point_afw)
    total_lo, total_hi, p_class = np.empty(n), np.empty(n), np.empty(n)
    rank, rank_lo, rank_hi = np.empty(n), np.empty(n), np.empty(n)
    point_class = classify(point_afw)
    for rows in _groups(n, years):
        if len(rows) >= 2 ** 24:
            raise ValueError("more than 2^24 areas in one year: ranks are not exact in float32")
        a = np.empty((len(rows), n_draws), dtype)
        for lo in range(0, len(rows), chunk_rows):
            r = rows[lo:lo + chunk_rows]
            block = _block(prepared, plan, r, anchoring, dtype, skip=fixed[r])
            block[fixed[r]] = point_afw[r][fixed[r], None]
            a[lo:lo + len(r)] = block
            total_lo[r], total_hi[r] = _quantiles(block, lo_q, hi_q)
            p_class[r] = (classify(block) != point_class[r, None]).mean(axis=1)
            f = r[fixed[r]]  # held at their point value, exactly (not as rounded to dtype)
            total_lo[f] = total_hi[f] = point_afw[f]
            p_class[f] = 0.0
        with ThreadPoolExecutor(max_workers=THREADS) as pool:  # ranks within the year, per draw (1 = best)
            starts = range(0, n_draws, 64)
            list(pool.map(_rank_block, [a] * len(starts), starts, [b + 64 for b in starts]))
        for lo in range(0, len(rows), chunk_rows):
            r = rows[lo:lo + chunk_rows]
            rank_lo[r], rank_hi[r] = _quantiles(a[lo:lo + len(r)], lo_q, hi_q)
        rank[rows] = pd.Series(-point_afw[rows]).rank(method="min").to_numpy()
        del a
    return pd.DataFrame({"total_lo": reference + total_lo, "total_hi": reference + total_hi, "rank": rank,
                         "rank_lo": rank_lo, "rank_hi": rank_hi, "p_class_differs": p_class})


def naive_draws(specs: list[IndexSpec], fit_panel: pd.DataFrame, panel: pd.DataFrame, pairs, n_draws: int,
                seed: int = 0, concentration: float = 50.0, progress=None) -> np.ndarray:
    """The same Monte Carlo by rebuilding the index once per draw (bootstrap rows, refit, score)."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(panel), n_draws))
    keep = np.flatnonzero(LivabilityIndex(specs[0], pairs).targets(fit_panel).notna().all(axis=1).to_numpy())
    for b in range(n_draws):
        spec = specs[rng.integers(0, len(specs))]
        weights = _weights(rng, len(spec.dimensions), None, concentration)
        rows = rng.choice(keep, size=len(keep), replace=True)
        m = LivabilityIndex(spec, pairs).fit(fit_panel.iloc[rows].reset_index(drop=True), with_cov=False)
        s = m.score(panel)
        out[:, b] = sum(w * s[d.code].to_numpy() for w, d in zip(weights, spec.dimensions, strict=True))
        if progress:
            progress(b + 1, n_draws)
    return out


def summarise(point_afw: np.ndarray, afw_draws: np.ndarray, years: np.ndarray, reference: float,
              classify, fixed: np.ndarray | None = None, level: float = 0.90) -> pd.DataFrame:
    """Interval of total and rank, and the probability that the class differs from the point class, from all
    draws at once (the reference for ``summarise_draws``, which scoring uses).

    Rows flagged ``fixed`` (official values) keep their point value in every draw. Ranks are within each
    year, 1 = best. Returns total_lo, total_hi, rank, rank_lo, rank_hi, p_class_differs.
    """
    a = afw_draws.copy()
    if fixed is not None and fixed.any():
        a[fixed] = point_afw[fixed, None]
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    out = pd.DataFrame(index=np.arange(len(point_afw)))
    out["total_lo"] = reference + np.quantile(a, lo_q, axis=1)
    out["total_hi"] = reference + np.quantile(a, hi_q, axis=1)
    rank = np.empty(len(point_afw))
    rank_lo, rank_hi = np.empty(len(point_afw)), np.empty(len(point_afw))
    for y in np.unique(years):
        idx = np.flatnonzero(years == y)
        r = (-a[idx]).argsort(axis=0).argsort(axis=0) + 1
        rank_lo[idx], rank_hi[idx] = np.quantile(r, lo_q, axis=1), np.quantile(r, hi_q, axis=1)
        rank[idx] = pd.Series(-point_afw[idx]).rank(method="min").to_numpy()
    out["rank"], out["rank_lo"], out["rank_hi"] = rank, rank_lo, rank_hi
    point_class = classify(point_afw)
    out["p_class_differs"] = (classify(a.ravel()).reshape(a.shape) != point_class[:, None]).mean(axis=1)
    return out
