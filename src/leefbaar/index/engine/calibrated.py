"""The calibrated weighting of the index engine as a fitted estimator: per parent node a glass-box additive
model of its children fitted to a criterion column (``weights: {method: calibrated, model: {...}}``).

Each child (indicator) enters as a piecewise-linear spline with knots at quantiles of its robust-standardised
value ``z = (x - median) / IQR``, monotone (non-decreasing in the good direction) unless the spec lists the
child as ``free``, with a ridge penalty on changes of slope (``smoothing``); an optional smooth regional term
(Gaussian radial basis functions of the unit's coordinates at k-means centres, reported as the pseudo-child
``_ligging``). Fitted as a bound-constrained quadratic programme (bounded-variable least squares) on the rows
that have every criterion (the fit sample), then applied to any rows: a parent's value is its ``_baseline``
(the criterion's mean in the fit sample) plus the contributions of its terms, exactly.

The model reads its children after the engine's treat step and before normalising (it standardises each
child itself: the median and IQR are fitted parameters). Every fitted parameter (centres, scales, knots,
centring means, coefficients, bounds, intercepts, location centres and bandwidth) is in ``params()``, which
the build record holds, and ``CalibratedModel.from_params`` rebuilds the same model from it, so a build
replays without refitting. The sampling covariance (``DimensionModel.cov``, for the Monte Carlo of
``index/uncertainty.py``) stays on the fitted object and is not recorded.

This is the model of the calibrated Leefbaarometer-style index (``catalogue/specs/default.yaml``, turned into
an engine spec by ``IndexSpec.engine_spec``); it was ``index/model.py`` before it became a step of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear

BASELINE = "_baseline"
LOCATION = "_ligging"
XY = ("centroid_x_km", "centroid_y_km")


@dataclass
class SplineBasis:
    """Monotone-ready piecewise-linear basis of one feature: ramps between knots of z = (x - centre) / scale."""

    centre: float
    scale: float
    knots: np.ndarray
    sign: int
    mean: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, n_knots: int, sign: int) -> SplineBasis:
        centre = float(np.median(x))
        q25, q75 = np.quantile(x, [0.25, 0.75])
        scale = float(q75 - q25) or float(np.std(x)) or 1.0
        z = (x - centre) / scale * (sign or 1)
        knots = np.unique(np.quantile(z, np.linspace(0, 1, n_knots + 2)[1:-1])) if n_knots else np.array([])
        basis = cls(centre, scale, knots, sign, np.zeros(len(knots) + 1))
        basis.mean = basis.raw(x).mean(axis=0)
        return basis

    def raw(self, x: np.ndarray) -> np.ndarray:
        return self._ramps((np.asarray(x, float) - self.centre) / self.scale * (self.sign or 1))

    def value(self, x: np.ndarray, coef: np.ndarray) -> np.ndarray:
        """``self(x) @ coef``, evaluated as the piecewise-linear function of z it is (interpolated between the
        knots, linear beyond them): equal up to rounding, without the rows x (knots + 1) basis."""
        z = (np.asarray(x, float) - self.centre) / self.scale * (self.sign or 1)
        k, shift = self.knots, float(self.mean @ coef)
        if len(k) == 0:
            return z * coef[0] - shift
        at = self._ramps(k) @ coef
        out = np.interp(z, k, at)
        below, above = z < k[0], z > k[-1]
        out[below] = at[0] + coef[0] * (z[below] - k[0])
        out[above] = at[-1] + coef[-1] * (z[above] - k[-1])
        out[np.isnan(z)] = np.nan  # (np.interp gives a lone knot's value)
        return out - shift

    def _ramps(self, z: np.ndarray) -> np.ndarray:
        k = self.knots
        if len(k) == 0:
            return z[:, None]
        # column i: z clipped to [k[i-1], k[i]] minus its lower knot (the first ramp open below, the last above)
        lo, hi = np.concatenate([[-np.inf], k]), np.concatenate([k, [np.inf]])
        return np.clip(z[:, None], lo, hi) - np.concatenate([[k[0]], k])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Centred basis: its columns average zero over the calibration data."""
        return self.raw(x) - self.mean

    @property
    def size(self) -> int:
        return len(self.knots) + 1

    def params(self) -> dict:
        return {"centre": self.centre, "scale": self.scale, "knots": self.knots.tolist(), "sign": self.sign,
                "mean": self.mean.tolist()}

    @classmethod
    def from_params(cls, p: dict) -> SplineBasis:
        return cls(float(p["centre"]), float(p["scale"]), np.asarray(p["knots"], float), int(p["sign"]),
                   np.asarray(p["mean"], float))


@dataclass
class LocationBasis:
    """Smooth regional term: Gaussian radial basis functions of the area centroid (RD km) at k-means centres.

    Glass-box like the splines: its contribution is reported as the pseudo-indicator ``_ligging``.
    """

    centres: np.ndarray
    bandwidth: float
    mean: np.ndarray

    @classmethod
    def fit(cls, xy: np.ndarray, n_centres: int, bandwidth: float) -> LocationBasis:
        from sklearn.cluster import KMeans

        n_centres = min(n_centres, len(np.unique(xy, axis=0)))
        km = KMeans(n_centres, random_state=0, n_init=1).fit(xy)
        basis = cls(km.cluster_centers_, bandwidth, np.zeros(n_centres))
        basis.mean = basis.raw(xy).mean(axis=0)
        return basis

    def raw(self, xy: np.ndarray) -> np.ndarray:
        d2 = (xy[:, 0, None] - self.centres[None, :, 0]) ** 2 + (xy[:, 1, None] - self.centres[None, :, 1]) ** 2
        return np.exp(-d2 / (2 * self.bandwidth ** 2))

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        return self.raw(xy) - self.mean

    @property
    def size(self) -> int:
        return len(self.centres)

    def params(self) -> dict:
        return {"centres": self.centres.tolist(), "bandwidth": self.bandwidth, "mean": self.mean.tolist()}

    @classmethod
    def from_params(cls, p: dict) -> LocationBasis:
        return cls(np.asarray(p["centres"], float).reshape(-1, 2), float(p["bandwidth"]), np.asarray(p["mean"], float))


def _solve(gram: np.ndarray, rhs: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """min 0.5 b'Gb - r'b subject to b >= lower (lower is 0 or -inf per coefficient).

    With G = L L' this is the bounded least-squares problem min ||L'b - L^-1 r||^2, solved exactly by the
    bounded-variable least-squares active-set method (scipy ``lsq_linear``, 'bvls'); G is small (p x p).
    """
    if np.isinf(lower).all():
        return np.linalg.solve(gram, rhs)
    L = np.linalg.cholesky(gram)
    c = np.linalg.solve(L, rhs)
    res = lsq_linear(L.T, c, bounds=(lower, np.full(len(rhs), np.inf)), method="bvls", tol=1e-12)
    return res.x


@dataclass
class DimensionModel:
    """The fitted additive model of one dimension (calibrated weighting).

    ``cov`` (when fitted ``with_cov``): sampling covariance of ``(intercept, *coef)``, shape (p + 1, p + 1),
    in squared score points per unit of basis; rows and columns of coefficients held at their monotonicity
    bound are zero (see ``fit_dimension``).
    """

    features: list[str]
    bases: list[SplineBasis]
    coef: np.ndarray
    intercept: float
    lower: np.ndarray
    slices: list[slice]
    cov: np.ndarray | None = None
    location: LocationBasis | None = None

    @property
    def terms(self) -> list[str]:
        """Names of the additive terms: the features, then ``_ligging`` when there is a location term."""
        return self.features + ([LOCATION] if self.location is not None else [])

    def design(self, X: pd.DataFrame) -> np.ndarray:
        blocks = [b(X[f].to_numpy(float)) for f, b in zip(self.features, self.bases, strict=True)]
        if self.location is not None:
            blocks.append(self.location(X[list(XY)].to_numpy(float)))
        return np.hstack(blocks)

    def contributions(self, X: pd.DataFrame, coef: np.ndarray | None = None) -> np.ndarray:
        """Per term (``terms``) its part of the value (rows x terms): its basis block times its coefficients
        (block by block: the whole design matrix is never built)."""
        columns = [X[f].to_numpy(float) for f in self.features]
        if self.location is not None:
            columns += [X[c].to_numpy(float) for c in XY]
        return self.term_rows(columns, coef).T

    def term_rows(self, columns: list[np.ndarray], coef: np.ndarray | None = None,
                  out: np.ndarray | None = None) -> np.ndarray:
        """``contributions`` transposed (terms x rows, each term one contiguous row, written into ``out`` when
        given) from the input columns as arrays: the ``features`` in order, then the ``XY`` coordinates when
        there is a location term (scoring in chunks slices the arrays, no frames)."""
        coef = self.coef if coef is None else coef
        n = len(columns[0]) if columns else 0
        out = np.empty((len(self.slices), n)) if out is None else out
        for k, b in enumerate(self.bases):
            out[k] = b.value(columns[k], coef[self.slices[k]])
        if self.location is not None:  # once per run of rows at the same place (an area's years)
            xy = np.column_stack(columns[len(self.bases):len(self.bases) + 2])
            new = np.ones(len(xy), dtype=bool)
            new[1:] = (xy[1:] != xy[:-1]).any(axis=1)
            out[-1] = (self.location(xy[new]) @ coef[self.slices[-1]])[np.cumsum(new) - 1]
        return out

    def params(self) -> dict:
        """Every fitted parameter (JSON-ready; floats round-trip exactly), without ``cov``."""
        return {"features": list(self.features), "bases": [b.params() for b in self.bases],
                "coef": self.coef.tolist(), "intercept": self.intercept,
                "lower": [None if np.isinf(v) else float(v) for v in self.lower],
                "location": None if self.location is None else self.location.params()}

    @classmethod
    def from_params(cls, p: dict) -> DimensionModel:
        bases = [SplineBasis.from_params(b) for b in p["bases"]]
        loc = None if p["location"] is None else LocationBasis.from_params(p["location"])
        sizes = [b.size for b in bases] + ([loc.size] if loc is not None else [])
        starts = np.concatenate([[0], np.cumsum(sizes)])
        slices = [slice(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:], strict=True)]
        lower = np.array([-np.inf if v is None else v for v in p["lower"]], float)
        return cls(list(p["features"]), bases, np.asarray(p["coef"], float), float(p["intercept"]), lower, slices,
                   location=loc)


def _penalty(slices: list[slice], p: int) -> np.ndarray:
    """Penalty on changes of slope between neighbouring segments of each feature, plus a tiny ridge."""
    P = np.eye(p) * 1e-4
    for s in slices:
        idx = np.arange(s.start, s.stop)
        for a, b in zip(idx[:-1], idx[1:], strict=True):
            P[a, a] += 1
            P[b, b] += 1
            P[a, b] -= 1
            P[b, a] -= 1
    return P


def fit_dimension(X: pd.DataFrame, y: np.ndarray, features: list[str], signs: dict[str, int], knots: int,
                  smoothing: float, sample_weight: np.ndarray | None = None, with_cov: bool = True,
                  location: tuple[int, float, float] | None = None) -> DimensionModel:
    """Fit one dimension's additive spline model to criterion ``y``.

    ``location`` = (centres, bandwidth in km, ridge penalty) adds a smooth regional term (needs the
    ``centroid_x_km``/``centroid_y_km`` columns in ``X``).
    """
    bases = [SplineBasis.fit(X[f].to_numpy(float), knots, signs[f]) for f in features]
    loc = None
    if location is not None and location[0] > 0:
        loc = LocationBasis.fit(X[list(XY)].to_numpy(float), location[0], location[1])
    sizes = [b.size for b in bases] + ([loc.size] if loc is not None else [])
    starts = np.concatenate([[0], np.cumsum(sizes)])
    slices = [slice(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:], strict=True)]
    lower = np.concatenate([np.full(b.size, 0.0 if b.sign else -np.inf) for b in bases]
                           + ([np.full(loc.size, -np.inf)] if loc is not None else []))
    model = DimensionModel(features, bases, np.zeros(int(starts[-1])), 0.0, lower, slices, location=loc)
    B = model.design(X)
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
    n = w.sum()
    intercept = float((w * y).sum() / n)
    Bw = B * w[:, None]
    pen = smoothing * 1e-3 * _penalty(slices[:len(bases)], B.shape[1])
    if loc is not None:
        idx = np.arange(slices[-1].start, slices[-1].stop)
        pen[idx, idx] = location[2]
    gram = Bw.T @ B / n + pen
    rhs = Bw.T @ (y - intercept) / n
    model.coef, model.intercept = _solve(gram, rhs, lower), intercept
    if with_cov:
        # First-order covariance of the bootstrap over rows (sandwich, heteroskedasticity-robust): coefficients
        # held at their bound (active monotonicity constraints) stay there; the free set F gets
        # G_FF^-1 M G_FF^-1 of the problem reduced to it, M the covariance of the centred per-row scores
        # w_i (B_i e_i - Bbar_w (y_i - intercept)) / sqrt(1 - h_i) (leverage h_i, HC2: with many spline terms
        # per row the plain HC0 sandwich understates the bootstrap spread). The intercept (weighted mean of
        # y) has influence w_i (y_i - intercept). (Clipping draws of the unconstrained sandwich at the bounds
        # instead shifts and widens them: it breaks the negative correlation of neighbouring spline slopes.)
        tol = 1e-10 * max(1.0, float(np.abs(model.coef).max()))
        free = ~(np.isfinite(lower) & (model.coef <= lower + tol))
        dev = y - intercept
        score = w[:, None] * (B[:, free] * (dev - B @ model.coef)[:, None]
                              - np.outer(dev, Bw[:, free].sum(axis=0) / n))
        score -= score.mean(axis=0)
        ginv = np.linalg.pinv(gram[np.ix_(free, free)], hermitian=True)
        lev = ((Bw[:, free] @ ginv) * B[:, free]).sum(axis=1) / n
        score /= np.sqrt(np.clip(1 - lev, 0.05, None))[:, None]
        infl = np.column_stack([w * dev, score @ ginv]) / n
        at = np.concatenate([[0], 1 + np.flatnonzero(free)])
        model.cov = np.zeros((len(lower) + 1, len(lower) + 1))
        model.cov[np.ix_(at, at)] = infl.T @ infl
    return model
