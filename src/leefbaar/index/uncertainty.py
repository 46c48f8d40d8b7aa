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
``summarise`` hold all rows x draws in float64 and are its reference. Interval bounds come from one sort
per row (``_quantiles``: numpy's linear quantiles, bitwise), ranks from one sort of packed 64-bit keys per
draw (``_ranks``: exactly a stable argsort; ties in row order, as ``summarise``), chunks of rows and blocks of
draws on ``THREADS`` threads (see ``summarise_draws``). A coefficient held at its monotonicity bound has no
variance in the draws (its row of the root of the covariance is exactly zero), so its column adds nothing and
is left out of the product (``_Columns``); rows that are their own model (no anchor, ``c_now`` 1: most modelled
rows) are written in a merged layout (``_Columns.fill_merged``): a feature's basis, the same in every dimension
that reads it, is one block, as is the location basis, the intercepts one column, the coefficients summed over
dimensions with the draw's weights: about half the columns of the product. The nowcast errors are drawn year
by year (ascending), row by row, after all other randomness, so that a year can be drawn alone.
``naive_draws`` rebuilds the index once per draw (bootstrap rows, refit everything from the indicator matrix
on, rescore), as COINr does: the reference the fast path is checked against
(``benchmarks/bench_uncertainty.py``, ``tests/test_index_uncertainty.py``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from leefbaar.index.engine.calibrated import XY
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
    root = vecs * np.sqrt(np.clip(vals, 0, None))
    root[(cov == 0).all(axis=1)] = 0.0  # no variance (held at the bound): exactly none (eigh leaves ~1e-10)
    return root


def prepare(models: list[LivabilityIndex], panel: pd.DataFrame, X=None, dtype=np.float64) -> list[Prepared]:
    """Each fitted model on ``panel`` as linear terms. ``X``: the first model's feature matrix on ``panel``
    when already computed (reused as it is), or a list with each model's (``fit_transform``'s; None where not
    computed). The feature matrices of the other models keep only the columns their terms read, each distinct
    array once (engine codes of one feature share it), as ``dtype`` (float32 halves their memory; the draws
    themselves are float32 in ``summarise_draws``)."""
    given = list(X) if isinstance(X, list | tuple) else [X]
    out = []
    for i, m in enumerate(models):
        Xm = given[i] if i < len(given) else None
        if Xm is None:
            Xm = m.matrix_.transform(panel)
        if i > 0:
            Xm = _columns_as(Xm, _read_columns(m, Xm), dtype)
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


def _read_columns(m: LivabilityIndex, X: pd.DataFrame) -> list[str]:
    """The columns of ``X`` that ``Prepared.design`` reads: each dimension's features (and the centroids with a
    location term) when calibrated, else every numeric column."""
    if m.spec.weighting != "calibrated":
        return [c for c in X.columns if X[c].dtype.kind == "f"]
    cols = {}
    for mm in m.models_.values():
        cols.update(dict.fromkeys(mm.features + (list(XY) if mm.location is not None else [])))
    return list(cols)


def _columns_as(X: pd.DataFrame, columns: list[str], dtype) -> pd.DataFrame:
    """``X[columns]`` as ``dtype``, columns that share one array sharing one converted array."""
    seen, cols = {}, {}
    for c in columns:
        a = X[c].to_numpy()
        key = (a.__array_interface__["data"][0], a.strides, a.shape, a.dtype.str)
        if key not in seen:
            seen[key] = a.astype(dtype) if a.dtype.kind == "f" and a.dtype != dtype else a
        cols[c] = seen[key]
    return pd.DataFrame(cols, index=X.index, copy=False)


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


class _Columns:
    """The columns of ``_terms`` for one alternative, written straight into an array of the draws' type, without
    the basis columns whose coefficient is 0 in every draw (a monotone coefficient held at its bound 0 with no
    variance): they add exactly nothing, except where the row's basis is not finite, and such rows (``fill``
    returns them) are redone with every column. ``keep``: the rows of ``_coefficients`` that remain. Calibrated
    alternatives build the spline and location basis from numpy columns of ``X`` with the very operations of
    ``DimensionModel.design`` (bitwise the same values); other weightings use ``Prepared.design``."""

    def __init__(self, prep: Prepared, dims: list[str], anchoring: Anchoring | None):
        self.prep, self.dims, self.anchoring = prep, dims, anchoring
        self.calibrated = prep.model.spec.weighting == "calibrated"
        extra = 1 if anchoring is None else 2  # intercept (and constant) columns per dimension
        keep, self.parts, off = [], {}, 0
        for d in dims:
            t = prep.terms[d]
            p = len(t.theta) - 1
            zero = np.zeros(p, bool)
            if self.calibrated:
                mm = prep.model.models_[d]
                zero = (t.root[1:] == 0).all(axis=1) & (t.theta[1:] <= t.lower) & (t.lower == 0)
                n_spline = sum(b.size for b in mm.bases)
                feature = np.repeat(np.arange(len(mm.bases)), [b.size for b in mm.bases])
                lo = np.concatenate([np.concatenate([[-np.inf], b.knots]) if len(b.knots) else [-np.inf]
                                     for b in mm.bases])
                hi = np.concatenate([np.concatenate([b.knots, [np.inf]]) if len(b.knots) else [np.inf]
                                     for b in mm.bases])
                first = np.concatenate([np.concatenate([[b.knots[0]], b.knots]) if len(b.knots) else [0.0]
                                        for b in mm.bases])
                mean = np.concatenate([b.mean for b in mm.bases])
                k = np.flatnonzero(~zero[:n_spline])
                self.parts[d] = dict(
                    x=[prep.X[f].to_numpy() for f in mm.features],
                    centre=np.array([b.centre for b in mm.bases]), scale=np.array([b.scale for b in mm.bases]),
                    sign=np.array([float(b.sign or 1) for b in mm.bases]), feature=feature[k], lo=lo[k], hi=hi[k],
                    first=first[k], mean=mean[k], exact=np.unique(feature[zero[:n_spline]]), location=mm.location,
                    xy=[prep.X[c].to_numpy() for c in XY] if mm.location is not None else None)
            keep += [off + np.flatnonzero(~zero), off + p + np.arange(extra)]
            off += p + extra
        self.keep = np.concatenate(keep)
        self.width = len(self.keep)
        self.merged = self._merge(off) if self.calibrated else None

    def _merge(self, full: int) -> np.ndarray | None:
        """The layout of ``fill_merged`` (rows that are their own model: no anchor, ``c_now`` 1): a feature's basis
        is the same in every dimension that reads it (same array, centre, scale, knots, means), and so is the
        location basis, so each is one block of columns whose coefficient is the sum over dimensions of weight
        times coefficient, and the intercepts are one column of ones; the constants stay one column each. Sets
        ``parts["*"]`` (as ``_basis`` reads it) and returns, per row of ``_coefficients``, its column here (-1:
        none, a coefficient 0 in every draw); None where the dimensions' location bases differ."""
        prep, anchored = self.prep, self.anchoring is not None
        locs = {(mm.location.centres.tobytes(), mm.location.bandwidth, mm.location.mean.tobytes())
                for mm in prep.model.models_.values() if mm.location is not None}
        if len(locs) > 1:
            return None
        units, where = {}, []  # unit key -> (x, basis, kept mask); per dimension the unit of each feature
        for d in self.dims:
            mm, t = prep.model.models_[d], prep.terms[d]
            zero = (t.root[1:] == 0).all(axis=1) & (t.theta[1:] <= t.lower) & (t.lower == 0)
            here = []
            for f, b, sl in zip(mm.features, mm.bases, mm.slices, strict=False):
                x = prep.X[f].to_numpy()
                key = (x.__array_interface__["data"][0], x.strides, b.centre, b.scale, b.sign, b.knots.tobytes(),
                       b.mean.tobytes())
                if key not in units:
                    units[key] = [x, b, np.zeros(b.size, bool)]
                units[key][2] |= ~zero[sl]
                here.append(key)
            where.append(here)
        keys = list(units)
        start = np.cumsum([0] + [int(units[k][2].sum()) for k in keys])
        col = {}  # (unit, basis column) -> merged column
        for u, k in enumerate(keys):
            for j, i in enumerate(np.flatnonzero(units[k][2])):
                col[(k, i)] = start[u] + j
        n_spline = int(start[-1])
        loc = next((mm.location for mm in prep.model.models_.values() if mm.location is not None), None)
        n_loc = 0 if loc is None else loc.size
        to = np.full(full, -1)
        off = 0
        for k_d, (d, here) in enumerate(zip(self.dims, where, strict=True)):
            mm = prep.model.models_[d]
            for key, sl in zip(here, mm.slices, strict=False):
                for i in range(sl.stop - sl.start):
                    to[off + sl.start + i] = col.get((key, i), -1)
            if mm.location is not None:
                to[off + mm.slices[-1].start:off + mm.slices[-1].stop] = n_spline + np.arange(n_loc)
            p = len(mm.coef)
            to[off + p] = n_spline + n_loc  # intercept
            if anchored:
                to[off + p + 1] = n_spline + n_loc + 1 + k_d  # constant
            off += p + (2 if anchored else 1)
        bases = [units[k][1] for k in keys]
        kept = [np.flatnonzero(units[k][2]) for k in keys]
        feature = np.concatenate([np.full(len(c), u) for u, c in enumerate(kept)]).astype(np.intp)
        knots = [(np.concatenate([[-np.inf], b.knots]), np.concatenate([b.knots, [np.inf]]),
                  np.concatenate([[b.knots[0]], b.knots])) if len(b.knots) else
                 (np.array([-np.inf]), np.array([np.inf]), np.array([0.0])) for b in bases]
        self.parts["*"] = dict(
            x=[units[k][0] for k in keys], centre=np.array([b.centre for b in bases]),
            scale=np.array([b.scale for b in bases]), sign=np.array([float(b.sign or 1) for b in bases]),
            feature=feature, lo=np.concatenate([q[0][c] for q, c in zip(knots, kept, strict=True)]),
            hi=np.concatenate([q[1][c] for q, c in zip(knots, kept, strict=True)]),
            first=np.concatenate([q[2][c] for q, c in zip(knots, kept, strict=True)]),
            mean=np.concatenate([b.mean[c] for b, c in zip(bases, kept, strict=True)]),
            exact=np.flatnonzero([not m.all() for m in (units[k][2] for k in keys)]), location=loc,
            xy=[prep.X[c].to_numpy() for c in XY] if loc is not None else None)
        self.merged_width = n_spline + n_loc + 1 + (len(self.dims) if anchored else 0)
        return to

    def merged_coefficients(self, theta: np.ndarray) -> np.ndarray:
        """``theta`` (rows of ``_coefficients``, float64) summed into the columns of ``fill_merged``."""
        out = np.zeros((self.merged_width, theta.shape[1]))
        use = self.merged >= 0
        np.add.at(out, self.merged[use], theta[use])
        return out

    def fill_merged(self, E: np.ndarray, r: np.ndarray, places: dict) -> np.ndarray:
        """The columns of ``_merge`` on rows ``r`` (rows that are their own model) into ``E`` (len(r) x
        ``merged_width``); ``E @ merged_coefficients(theta)`` is ``_terms(...) @ theta`` of these rows up to
        rounding. Returns the rows (mask) to redo with every column (see ``fill``)."""
        q = self.parts["*"]
        xt = np.empty((len(q["x"]), len(r)))  # features x rows: the basis of a tile of rows is then built in cache
        for j, col in enumerate(q["x"]):
            xt[j] = col[r]
        xt -= q["centre"][:, None]  # SplineBasis.raw, the same operations as ``_basis``
        xt /= q["scale"][:, None]
        xt *= q["sign"][:, None]
        bad = np.zeros(len(r), bool)
        if len(q["exact"]) and not np.isfinite(xt).all():
            bad = ~np.isfinite(xt[q["exact"]]).all(axis=0)
        at = len(q["feature"])
        for lo in range(0, len(r), 256):
            spline = np.ascontiguousarray(xt[:, lo:lo + 256].T)[:, q["feature"]]
            np.clip(spline, q["lo"], q["hi"], out=spline)
            spline -= q["first"]
            spline -= q["mean"]
            E[lo:lo + 256, :at] = spline
        loc = q["location"]
        if loc is not None:
            key = (loc.centres.tobytes(), loc.bandwidth)
            if key not in places:
                places[key] = loc.raw(np.column_stack([c[r] for c in q["xy"]]).astype(np.float64, copy=False))
            E[:, at:at + loc.size] = places[key] - loc.mean  # LocationBasis.__call__
            at += loc.size
        E[:, at] = 1.0
        if self.anchoring is not None:
            for k, d in enumerate(self.dims):
                E[:, at + 1 + k] = self.anchoring.const[d][r]
        return bad

    def own(self, r: np.ndarray) -> np.ndarray:
        """Which rows ``r`` are their own model (no anchor, ``c_now`` 1 in every dimension): ``fill_merged``'s."""
        if self.merged is None:
            return np.zeros(len(r), bool)
        if self.anchoring is None:
            return np.ones(len(r), bool)
        ok = self.anchoring.anchor_row[r] == r
        for d in self.dims:
            ok &= self.anchoring.c_now[d][r] == 1
        return ok

    def _basis(self, d: str, r: np.ndarray, places: dict) -> tuple[list[np.ndarray], np.ndarray]:
        """The kept basis columns of dimension ``d`` on rows ``r`` (float64, as blocks side by side: spline,
        location) and the rows whose dropped columns are not all finite. ``places``: the location basis before
        centring, per set of centres and bandwidth, for these rows (dimensions and alternatives fitted on the
        same places share it)."""
        if not self.calibrated:
            return [self.prep.design(d, r).astype(np.float64, copy=False)], np.zeros(len(r), bool)
        q = self.parts[d]
        x = np.empty((len(r), len(q["x"])))
        for j, col in enumerate(q["x"]):
            x[:, j] = col[r]
        z = (x - q["centre"]) / q["scale"] * q["sign"]  # SplineBasis.raw, feature by feature
        bad = np.zeros(len(r), bool)
        if len(q["exact"]) and not np.isfinite(z).all():
            bad = ~np.isfinite(z[:, q["exact"]]).all(axis=1)
        spline = z[:, q["feature"]]
        np.clip(spline, q["lo"], q["hi"], out=spline)
        spline -= q["first"]
        spline -= q["mean"]
        loc = q["location"]
        if loc is None:
            return [spline], bad
        key = (loc.centres.tobytes(), loc.bandwidth)
        if key not in places:
            places[key] = loc.raw(np.column_stack([c[r] for c in q["xy"]]).astype(np.float64, copy=False))
        return [spline, places[key] - loc.mean], bad  # LocationBasis.__call__

    def fill(self, E: np.ndarray, r: np.ndarray, linked: np.ndarray, a_rows: np.ndarray,
             places: tuple[dict, dict]) -> np.ndarray:
        """Write the kept columns of ``_terms(prep, dims, r, anchoring, linked, a_rows)`` into ``E`` (len(r) x
        ``width``); returns the rows (mask) to redo with every column. ``places``: see ``_basis`` (for ``r``
        and for ``a_rows``; the caller's, to share them between alternatives)."""
        at, redo = 0, np.zeros(len(r), bool)
        anchoring = self.anchoring
        for d in self.dims:
            blocks, bad = self._basis(d, r, places[0])
            redo |= bad
            if anchoring is None:
                for D in blocks:
                    E[:, at:at + D.shape[1]] = D
                    at += D.shape[1]
                E[:, at] = 1.0
                at += 1
                continue
            c_now = anchoring.c_now[d][r].astype(np.float64)
            scale = not (c_now == 1).all()  # (a product by 1 changes nothing)
            intercept = c_now.copy()
            anchor_blocks = []
            if len(linked):
                c_anchor = anchoring.c_anchor[d][r[linked]]
                anchor_blocks, bad = self._basis(d, a_rows, places[1])
                redo[linked] |= bad
                intercept[linked] += c_anchor
            for k, D in enumerate(blocks):
                if scale:
                    D *= c_now[:, None]
                if len(linked):
                    D[linked] += c_anchor[:, None] * anchor_blocks[k]
                E[:, at:at + D.shape[1]] = D
                at += D.shape[1]
            E[:, at] = intercept
            E[:, at + 1] = anchoring.const[d][r]
            at += 2
        return redo


def _quantiles(a: np.ndarray, lo_q: float, hi_q: float, is_sorted: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``np.quantile(a.astype(float64), [lo_q, hi_q], axis=1)`` (linear method), the very same numbers, from the
    rows of ``a`` sorted in their own type (``is_sorted``: already; the order statistics are exact in any float
    type, NaN sorts last as in numpy; numpy's interpolation is repeated in float64). Sorting rows of 1,000 draws
    is about 5 times faster than ``np.partition`` at four positions (SIMD sort)."""
    s = a if is_sorted else np.sort(a, axis=1)
    n = s.shape[1]
    virtual = (n - 1) * np.array([lo_q, hi_q])
    prev = np.clip(np.floor(virtual).astype(np.int64), 0, n - 1)
    nxt = np.minimum(prev + 1, n - 1)
    gamma = virtual - np.floor(virtual)
    nan = np.isnan(s[:, -1])
    out = []
    for p, nx, g in zip(prev, nxt, gamma, strict=True):
        lo, hi = s[:, p].astype(np.float64), s[:, nx].astype(np.float64)
        diff = hi - lo
        q = hi - diff * (1 - g) if g >= 0.5 else lo + diff * g
        q[nan] = np.nan
        out.append(q)
    return out[0], out[1]


def _class_share(s: np.ndarray, point_class: np.ndarray, classify) -> np.ndarray:
    """Per row of sorted draws ``s`` the share whose class (``classify``, non-decreasing in the value: classes
    are intervals of the score) differs from ``point_class``: the draws of the point's class are one run of the
    sorted row, found by bisection (about 2 x 10 calls of ``classify`` on one value per row instead of one per
    draw); NaN draws (last) take the class ``classify`` gives NaN."""
    m, n = s.shape
    valid = np.full(m, n)
    has_nan = np.flatnonzero(np.isnan(s[:, -1]))
    valid[has_nan] = (~np.isnan(s[has_nan])).sum(axis=1)

    def first(after: bool) -> np.ndarray:  # first position whose class is >= (after: >) the point's, else valid
        lo, hi = np.zeros(m, np.intp), valid.copy()
        while True:
            i = np.flatnonzero(lo < hi)
            if not len(i):
                return lo
            mid = (lo[i] + hi[i]) // 2
            c = np.asarray(classify(s[i, mid]))
            past = c > point_class[i] if after else c >= point_class[i]
            hi[i[past]] = mid[past]
            lo[i[~past]] = mid[~past] + 1

    same = first(True) - first(False)
    nan_class = np.asarray(classify(np.array([np.nan], s.dtype)))[0]
    same += np.where(point_class == nan_class, n - valid, 0)
    return (n - same) / n


def _ranks(a: np.ndarray, lo: int, hi: int) -> None:
    """Replace the draws ``a[:, lo:hi]`` by their ranks within the column: 1 = highest, ties in row order,
    NaN last (exactly ``argsort(-column, kind="stable")``, inverted). float32: one sort of 64-bit keys per draw
    (the value's bits made order-preserving and descending above, the row below: numpy's SIMD sort of uint64),
    then the positions written back; other types: a stable argsort."""
    m, b = a.shape[0], hi - lo
    v = np.empty((b, m), a.dtype)
    for i in range(0, m, 4096):  # transposed in tiles (a strided copy of whole columns is 5 times slower)
        np.add(a[i:i + 4096, lo:hi].T, 0, out=v[:, i:i + 4096])  # + 0 makes -0.0 equal to 0.0
    if a.dtype == np.float32:
        if m >= 2 ** 32:
            raise ValueError("more than 2^32 areas in one year")
        nan = np.isnan(v)
        u = v.view(np.uint32)
        flip = u.view(np.int32) >> 31  # -1 for negative values, else 0
        np.invert(flip, out=flip)
        flip &= 0x7FFFFFFF
        np.bitwise_xor(u, flip.view(np.uint32), out=u)  # descending order of the value as unsigned integers
        u[nan] = 0xFFFFFFFF
        keys = np.empty((b, m), np.uint64)
        halves = keys.view(np.uint32).reshape(b, m, 2)
        little = np.little_endian
        halves[..., 1 if little else 0] = u
        halves[..., 0 if little else 1] = np.arange(m, dtype=np.uint32)
        keys.sort(axis=1)
        order = halves[..., 0 if little else 1]
    else:
        order = np.argsort(-v, axis=1, kind="stable")
    ranks = np.arange(1, m + 1, dtype=a.dtype)
    for k in range(b):
        v[k, order[k]] = ranks
    for i in range(0, m, 4096):
        a[i:i + 4096, lo:hi] = v[:, i:i + 4096].T


def summarise_draws(prepared: list[Prepared], n_draws: int, point_afw: np.ndarray, years: np.ndarray,
                    reference: float, classify, fixed: np.ndarray | None = None, seed: int = 0,
                    concentration: float = 50.0, anchoring: Anchoring | None = None, level: float = 0.90,
                    chunk_rows: int = 20_000, dtype=np.float32) -> pd.DataFrame:
    """``summarise(point_afw, draws(...), ...)`` in bounded memory: the draws of one year at a time
    (rows of that year x n_draws, ``dtype``), built ``chunk_rows`` rows at a time; interval bounds and class
    changes per row chunk, ranks per draw over the whole year, written over the draws they came from.
    ``classify`` must be non-decreasing in the value (``_class_share``).

    Same draws as ``draws`` (same generator, same order); float32 arithmetic changes each draw by about 1e-7
    relative to the largest term (a few 1e-6 score points), and the interval bounds, being order statistics,
    by no more than that; a rank or class changes only where two areas, or an area and a class boundary, are
    that close in a draw. Peak memory about 4 x n_draws bytes per area of the largest year.

    Work: the draws of each alternative sit side by side (columns in the order of ``plan.choice``, stable;
    every summary is over all draws, so their order does not matter, and each draw keeps its own nowcast
    error); each chunk's model part is one product per alternative (``_Columns``) into the year's array, on
    ``THREADS`` threads, while this thread draws the nowcast errors in order; rows are sorted once for the
    bounds and the class share; ranks per block of draws (``_ranks``), then sorted once more for their bounds."""
    fixed = np.zeros(len(point_afw), bool) if fixed is None else np.asarray(fixed, bool)
    plan = _plan(prepared, n_draws, seed, concentration)
    lo_q, hi_q = (1 - level) / 2, 1 - (1 - level) / 2
    n = len(point_afw)
    total_lo, total_hi, p_class = np.empty(n), np.empty(n), np.empty(n)
    rank, rank_lo, rank_hi = np.empty(n), np.empty(n), np.empty(n)
    point_class = np.asarray(classify(point_afw))
    dims = list(prepared[0].terms)
    order = np.argsort(plan.choice, kind="stable")  # column j holds draw order[j]
    alts, at = [], 0
    for (idx, per_dim), prep in zip(plan.coefs, prepared, strict=True):
        if len(idx):
            cols = _Columns(prep, dims, anchoring)
            theta = _coefficients(per_dim, plan.weights[idx], dims, anchoring is not None)
            merged = cols.merged_coefficients(theta).astype(dtype) if cols.merged is not None else None
            alts.append((prep, cols, slice(at, at + len(idx)), theta.astype(dtype),
                         np.ascontiguousarray(theta[cols.keep]).astype(dtype), merged))
            at += len(idx)
    sd = np.nan_to_num(anchoring.noise_sd) if anchoring is not None else None

    def fill(a: np.ndarray, lo: int, r: np.ndarray, z: np.ndarray | None) -> None:
        blk = a[lo:lo + len(r)]
        skip = fixed[r]
        todo = np.flatnonzero(~skip)
        whole = len(todo) > 0.8 * len(r)  # the model part of every row (the few fixed ones then overwritten)
        if whole:
            todo = np.arange(len(r))
        rt = r[todo]
        linked = a_rows = np.array([], dtype=np.int64)
        if anchoring is not None:
            linked = np.flatnonzero(anchoring.anchor_row[rt] != rt)
            a_rows = anchoring.anchor_row[rt[linked]]
        places = {}  # the location basis per set of rows (``_Columns._basis``), shared between alternatives
        for prep, cols, span, theta, kept, merged in alts:
            if not len(rt):
                break
            own = cols.own(rt)
            redo = np.zeros(len(rt), bool)
            if own.any():  # rows that are their own model: the merged layout (about half the columns)
                m = np.arange(len(rt)) if own.mean() > 0.8 else np.flatnonzero(own)  # (the others redone below)
                E = np.empty((len(m), cols.merged_width), dtype)
                redo[m] = own[m] & cols.fill_merged(E, rt[m], places.setdefault(("*", m.tobytes()), {}))
                if whole and len(m) == len(rt):
                    np.matmul(E, merged, out=blk[:, span])
                else:
                    blk[todo[m], span] = E @ merged
                del E
            g = np.flatnonzero(~own)
            if len(g):
                rg = rt[g]
                lg = np.flatnonzero(np.isin(g, linked))
                E = np.empty((len(g), cols.width), dtype)
                redo[g] |= cols.fill(E, rg, lg, anchoring.anchor_row[rg[lg]] if len(lg) else lg,
                                     places.setdefault(("g", g.tobytes()), ({}, {})))
                if whole and len(g) == len(rt):
                    np.matmul(E, kept, out=blk[:, span])
                else:
                    blk[todo[g], span] = E @ kept
                del E
            redo = np.flatnonzero(redo)
            if len(redo):
                sub = np.flatnonzero(np.isin(linked, redo))
                full = _terms(prep, dims, rt[redo], anchoring, np.searchsorted(redo, linked[sub]), a_rows[sub])
                blk[todo[redo], span] = full.astype(dtype) @ theta
        del places
        if z is not None:
            noisy = np.flatnonzero(sd[r] > 0)
            z = np.take(z, order, axis=1)
            if dtype == np.float32:
                z *= sd[r[noisy], None].astype(dtype)
            else:
                z = sd[r[noisy], None].astype(dtype) * z
            own = ~skip[noisy]  # the errors of rows held at their point value are drawn, not used
            if own.all() and len(noisy) == len(r):
                blk += z
            else:
                blk[noisy[own]] += z[own]
        blk[skip] = point_afw[r[skip], None]
        s = np.sort(blk, axis=1)
        total_lo[r], total_hi[r] = _quantiles(s, lo_q, hi_q, is_sorted=True)
        p_class[r] = _class_share(s, point_class[r], classify)
        f = r[skip]  # held at their point value, exactly (not as rounded to dtype)
        total_lo[f] = total_hi[f] = point_afw[f]
        p_class[f] = 0.0

    def bounds(a: np.ndarray, lo: int, r: np.ndarray) -> None:
        rank_lo[r], rank_hi[r] = _quantiles(a[lo:lo + len(r)], lo_q, hi_q)

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        for rows in _groups(n, years):
            if len(rows) >= 2 ** 24:
                raise ValueError("more than 2^24 areas in one year: ranks are not exact in float32")
            a = np.empty((len(rows), n_draws), dtype)
            starts = range(0, len(rows), chunk_rows)
            pending = []
            for lo in starts:  # the nowcast errors here, in row order (the generator's order); the rest in threads
                r = rows[lo:lo + chunk_rows]
                z = None
                if sd is not None and (k := int((sd[r] > 0).sum())):
                    z = plan.rng.standard_normal((k, n_draws), dtype=np.float32)
                pending.append(pool.submit(fill, a, lo, r, z))
                while len(pending) > THREADS:
                    pending.pop(0).result()
            for f in pending:
                f.result()
            blocks = range(0, n_draws, 32)
            list(pool.map(_ranks, [a] * len(blocks), blocks, [min(b + 32, n_draws) for b in blocks]))
            list(pool.map(bounds, [a] * len(starts), starts, [rows[lo:lo + chunk_rows] for lo in starts]))
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
        r = (-a[idx]).argsort(axis=0, kind="stable").argsort(axis=0) + 1  # ties in row order
        rank_lo[idx], rank_hi[idx] = np.quantile(r, lo_q, axis=1), np.quantile(r, hi_q, axis=1)
        rank[idx] = pd.Series(-point_afw[idx]).rank(method="min").to_numpy()
    out["rank"], out["rank_lo"], out["rank_hi"] = rank, rank_lo, rank_hi
    point_class = classify(point_afw)
    out["p_class_differs"] = (classify(a.ravel()).reshape(a.shape) != point_class[:, None]).mean(axis=1)
    return out
