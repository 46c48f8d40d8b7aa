"""``LivabilityIndex``: a composite livability index as a scikit-learn-style estimator.

``LivabilityIndex(spec).fit(panel)`` then ``.score(panel)`` returns per (code, year) the five dimension scores,
``afw`` (their sum: the deviation from the national reference) and ``total`` (= reference + afw), in
Leefbaarometer score points for calibrated specs (higher is better). ``.contributions(panel)`` splits every
dimension score exactly into a baseline (the national mean of the dimension in the calibration data) plus
one contribution per indicator (and per spatial lag ``<id>@buren``), so ``score = baseline + sum``.

Weighting methods (``spec.weighting``):

- ``calibrated``: per dimension a glass-box additive model fitted to the criterion (the official LBM
  dimension score by default; any store indicator such as WOZ or a survey score can be the target): each
  indicator enters as a piecewise-linear spline with knots at quantiles of its robust-standardised value,
  monotone (non-decreasing in the good direction) where the spec gives a direction, with a ridge penalty on
  changes of slope (``smoothing``). Fitted as a bound-constrained quadratic programme
  (bounded-variable least squares).
- ``pca``: indicators normalised (``normalisation``: zscore, minmax or rank), turned to their good direction
  and weighted by the squared loadings of the first principal component within the dimension;
- ``expert``: normalised, directed indicators weighted by the spec's weights;
- ``equal``: normalised, directed indicators weighted equally.
For pca/expert/equal only directed indicators (direction +-1) count, dimension scores are in normalised
units, and dimension ``weight`` scales each dimension before they are summed into ``afw``. Z-scores use the
sample sd (n - 1). Every term is centred on its mean, so applying the direction after normalising gives the
same scores as applying it before (min-max: -m(x) and 1 - m(x) differ by a constant that the centring removes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import lsq_linear

from leefbaar.errors import LeefbaarError, SpecError
from leefbaar.index.features import LAG_SUFFIX, IndicatorMatrix
from leefbaar.index.spec import IndexSpec

BASELINE = "_baseline"
LOCATION = "_ligging"
XY = ("centroid_x_km", "centroid_y_km")
RESIDUAL = "_residual"


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
        z = (np.asarray(x, float) - self.centre) / self.scale * (self.sign or 1)
        k = self.knots
        if len(k) == 0:
            return z[:, None]
        cols = [np.minimum(z, k[0]) - k[0]]
        cols += [np.clip(z, k[i], k[i + 1]) - k[i] for i in range(len(k) - 1)]
        cols.append(np.maximum(z, k[-1]) - k[-1])
        return np.column_stack(cols)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Centred basis: its columns average zero over the calibration data."""
        return self.raw(x) - self.mean

    @property
    def size(self) -> int:
        return len(self.knots) + 1


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
        d2 = ((xy[:, None, :] - self.centres[None, :, :]) ** 2).sum(axis=2)
        return np.exp(-d2 / (2 * self.bandwidth ** 2))

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        return self.raw(xy) - self.mean

    @property
    def size(self) -> int:
        return len(self.centres)


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
        coef = self.coef if coef is None else coef
        B = self.design(X)
        return np.column_stack([B[:, s] @ coef[s] for s in self.slices])


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


class LivabilityIndex:
    """Composite livability index defined by an ``IndexSpec`` (see the module docstring).

    ``pairs``: neighbour pairs from ``features.neighbour_pairs(contiguity(store, level))`` when the spec uses
    spatial lags. Attributes after ``fit``: ``matrix_`` (the fitted ``IndicatorMatrix``), ``models_``
    (calibrated: ``DimensionModel`` per dimension) or ``weights_`` (other methods: indicator weights per
    dimension), ``norm_`` (normalisation parameters), ``n_fit_``.
    """

    def __init__(self, spec: IndexSpec, pairs=None, knots: int | None = None, smoothing: float | None = None):
        self.spec, self.pairs = spec, pairs
        self.knots = spec.knots if knots is None else knots
        self.smoothing = spec.smoothing if smoothing is None else smoothing

    # -- helpers ----------------------------------------------------------------------------------------
    def dimension_features(self, code: str) -> list[str]:
        keys = [i.key for i in self.spec.dimension(code).indicators]
        if self.spec.spatial_lag and self.pairs is not None:
            keys += [k + LAG_SUFFIX for k in keys]
        return keys

    def _signs(self, code: str) -> dict[str, int]:
        signs = {}
        for ind in self.spec.dimension(code).indicators:
            signs[ind.key] = ind.direction
            signs[ind.key + LAG_SUFFIX] = ind.direction
        return signs

    def targets(self, panel: pd.DataFrame) -> pd.DataFrame:
        """The criterion per dimension from the panel (calibrated specs)."""
        cols = {}
        for d in self.spec.dimensions:
            if d.target not in panel.columns:
                raise LeefbaarError(f"the panel has no target column {d.target!r} for dimension {d.code!r}")
            cols[d.code] = panel[d.target].to_numpy(float)
        return pd.DataFrame(cols, index=panel.index)

    # -- estimator API ----------------------------------------------------------------------------------
    def fit(self, panel: pd.DataFrame, target: pd.DataFrame | None = None, sample_weight=None,
            with_cov: bool = True) -> LivabilityIndex:
        """Fit on ``panel`` rows; calibrated specs use rows where every target is present."""
        self.matrix_ = IndicatorMatrix(self.spec, self.pairs).fit(panel)
        X = self.matrix_.transform(panel)
        if self.spec.weighting == "calibrated":
            target = self.targets(panel) if target is None else target
            keep = target.notna().all(axis=1).to_numpy()
            if keep.sum() < 10:
                raise LeefbaarError(f"too few rows with a target to calibrate on ({int(keep.sum())})")
            sw = None if sample_weight is None else np.asarray(sample_weight, float)[keep]
            self.models_ = {
                d.code: fit_dimension(X[keep], target[d.code].to_numpy(float)[keep], self.dimension_features(d.code),
                                      self._signs(d.code), self.knots, self.smoothing, sw, with_cov,
                                      self.spec.location)
                for d in self.spec.dimensions
            }
            self.n_fit_ = int(keep.sum())
        else:
            self._fit_weights(X)
            self.n_fit_ = len(X)
        return self

    def _normalise_fit(self, X: pd.DataFrame) -> None:
        self.norm_ = {}
        for f in X.columns:
            x = X[f].to_numpy(float)
            if self.spec.normalisation == "zscore":
                self.norm_[f] = (float(x.mean()), float(x.std(ddof=1)) or 1.0)  # sample sd (n - 1)
            elif self.spec.normalisation == "minmax":
                self.norm_[f] = (float(x.min()), float(x.max() - x.min()) or 1.0)
            else:
                self.norm_[f] = np.sort(x)

    def _normalise(self, X: pd.DataFrame, f: str) -> np.ndarray:
        x = X[f].to_numpy(float)
        p = self.norm_[f]
        if self.spec.normalisation == "rank":
            return np.searchsorted(p, x, side="right") / len(p)
        return (x - p[0]) / p[1]

    def _fit_weights(self, X: pd.DataFrame) -> None:
        self._normalise_fit(X)
        self.weights_, self.centre_ = {}, {}
        for d in self.spec.dimensions:
            feats = [f for f in self.dimension_features(d.code) if self._signs(d.code)[f] != 0]
            if not feats:
                raise SpecError(f"{self.spec.source}: dimension {d.code!r} has no directed indicator; "
                                f"{self.spec.weighting} weighting needs direction +1 or -1")
            Z = np.column_stack([self._normalise(X, f) * self._signs(d.code)[f] for f in feats])
            if self.spec.weighting == "equal":
                w = np.ones(len(feats))
            elif self.spec.weighting == "expert":
                by_key = {i.key: i.weight for i in d.indicators}
                w = np.array([by_key[f.removesuffix(LAG_SUFFIX)] for f in feats])
            else:
                Zc = (Z - Z.mean(axis=0)) / (Z.std(axis=0) + 1e-12)
                _, _, vt = np.linalg.svd(Zc, full_matrices=False)
                w = vt[0] ** 2
            w = w / w.sum()
            dim_w = d.weight / sum(x.weight for x in self.spec.dimensions) * len(self.spec.dimensions)
            self.weights_[d.code] = dict(zip(feats, w * dim_w, strict=True))
            self.centre_[d.code] = Z.mean(axis=0)

    def weighted_design(self, X: pd.DataFrame, code: str) -> tuple[np.ndarray, np.ndarray]:
        """Not calibrated: the signed normalised features of dimension ``code`` (rows x features) and their
        weights; the dimension score is their product."""
        w, signs = self.weights_[code], self._signs(code)
        Z = np.column_stack([self._normalise(X, f) * signs[f] for f in w])
        return Z, np.array(list(w.values()))

    def contributions(self, panel: pd.DataFrame, X: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
        """Per dimension a frame (rows as ``panel``) with ``_baseline`` and one column per feature."""
        X = self.matrix_.transform(panel) if X is None else X
        out = {}
        for d in self.spec.dimensions:
            if self.spec.weighting == "calibrated":
                m = self.models_[d.code]
                parts = m.contributions(X)
                frame = pd.DataFrame(parts, columns=m.terms, index=panel.index)
                frame.insert(0, BASELINE, m.intercept)
            else:
                w = self.weights_[d.code]
                signs = self._signs(d.code)
                cols = {f: (self._normalise(X, f) * signs[f] - c) * w[f]
                        for f, c in zip(w, self.centre_[d.code], strict=True)}
                frame = pd.DataFrame(cols, index=panel.index)
                frame.insert(0, BASELINE, float(sum(c * w[f] for f, c in zip(w, self.centre_[d.code],
                                                                              strict=True))))
            out[d.code] = frame
        return out

    def score(self, panel: pd.DataFrame) -> pd.DataFrame:
        """code, year, the dimension scores, afw (their sum) and total (reference + afw)."""
        parts = self.contributions(panel)
        out = panel[["code", "year"]].copy()
        for code, frame in parts.items():
            out[code] = frame.sum(axis=1).to_numpy()
        out["afw"] = out[list(parts)].sum(axis=1)
        out["total"] = self.spec.reference + out["afw"]
        return out
