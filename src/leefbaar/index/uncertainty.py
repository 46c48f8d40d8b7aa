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
are one matrix product ``B @ coef_draws.T`` per dimension, so 1,000 draws over
all PC4 and five dimensions take seconds; ``naive_draws`` rebuilds the index once per draw (bootstrap rows,
refit everything from the indicator matrix on, rescore), as COINr does: the reference the fast path is checked
against (``benchmarks/bench_uncertainty.py``, ``tests/test_index_uncertainty.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from leefbaar.index.model import LivabilityIndex
from leefbaar.index.spec import IndexSpec


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

    design: np.ndarray
    theta: np.ndarray
    lower: np.ndarray
    root: np.ndarray


@dataclass
class Prepared:
    """Every dimension of one fitted alternative on the rows to score (``Term`` per dimension code)."""

    terms: dict[str, Term]
    model: LivabilityIndex


def _root(cov: np.ndarray | None, size: int) -> np.ndarray:
    if cov is None:
        return np.zeros((size, size))
    vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
    return vecs * np.sqrt(np.clip(vals, 0, None))


def prepare(models: list[LivabilityIndex], panel: pd.DataFrame) -> list[Prepared]:
    """Each fitted model on ``panel`` as linear terms (computed once, reused by every draw). Calibrated: the
    spline and location design and the fitted coefficients with their covariance. Other weightings: the
    signed normalised indicators and their weights (``LivabilityIndex.weighted_design``), held fixed."""
    out = []
    for m in models:
        X = m.matrix_.transform(panel)
        if m.spec.weighting == "calibrated":
            terms = {d: Term(mm.design(X), np.concatenate([[mm.intercept], mm.coef]), mm.lower,
                             _root(mm.cov, len(mm.coef) + 1)) for d, mm in m.models_.items()}
        else:
            terms = {}
            for d in m.spec.dimension_codes:
                Z, w = m.weighted_design(X, d)
                terms[d] = Term(Z, np.concatenate([[0.0], w]), np.full(len(w), -np.inf), np.zeros((len(w) + 1,) * 2))
        out.append(Prepared(terms, m))
    return out


def _weights(rng: np.random.Generator, k: int, size: int | None, concentration: float) -> np.ndarray:
    """Dimension weights k * Dirichlet(concentration), or all 1 for an infinite concentration."""
    if np.isinf(concentration):
        return np.ones(k if size is None else (size, k))
    return rng.dirichlet(np.full(k, concentration), size=size) * k


def draws(prepared: list[Prepared], n_draws: int, seed: int = 0, concentration: float = 50.0,
          anchoring: Anchoring | None = None) -> np.ndarray:
    """afw draws, shape (rows, n_draws), in score points (the model alone without ``anchoring``), for any
    weighting: each draw takes one alternative with equal probability, dimension weights ``k *
    Dirichlet(concentration)`` and, where calibrated, coefficients from their covariance."""
    rng = np.random.default_rng(seed)
    n_alt = len(prepared)
    dims = list(prepared[0].terms)
    choice = rng.integers(0, n_alt, size=n_draws)
    weights = _weights(rng, len(dims), n_draws, concentration)
    n = next(iter(prepared[0].terms.values())).design.shape[0]
    out = np.empty((n, n_draws))
    for a, prep in enumerate(prepared):
        idx = np.flatnonzero(choice == a)
        if len(idx) == 0:
            continue
        total = np.zeros((n, len(idx)))
        for k, d in enumerate(dims):
            t = prep.terms[d]
            theta = t.theta + rng.standard_normal((len(idx), len(t.root))) @ t.root.T
            coef = np.maximum(theta[:, 1:], t.lower)
            m = theta[:, 0] + t.design @ coef.T
            if anchoring is not None:
                m = (anchoring.c_now[d][:, None] * m + anchoring.c_anchor[d][:, None] * m[anchoring.anchor_row]
                     + anchoring.const[d][:, None])
            total += weights[idx, k] * m
        out[:, idx] = total
    if anchoring is not None:
        out += np.nan_to_num(anchoring.noise_sd)[:, None] * rng.standard_normal((n, n_draws))
    return out


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
    """Interval of total and rank, and the probability that the class differs from the point class.

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
