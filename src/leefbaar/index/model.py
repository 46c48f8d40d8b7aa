"""``LivabilityIndex``: a store index spec as a scikit-learn-style estimator on a panel of area-years.

``LivabilityIndex(spec).fit(panel)`` then ``.score(panel)`` returns per (code, year) the dimension scores,
``afw`` (their sum: the deviation from the national reference) and ``total`` (= reference + afw), in
Leefbaarometer score points for calibrated specs (higher is better). ``.contributions(panel)`` splits every
dimension score exactly into a baseline (the national mean of the dimension in the calibration data) plus
one contribution per indicator (and per spatial lag ``<id>@buren``), so ``score = baseline + sum``.

Weighting methods (``spec.weighting``):

- ``calibrated``: a spec of the index engine (``IndexSpec.engine_spec``). ``features.IndicatorMatrix`` turns
  the panel into features, ``EngineTable`` into the engine's table (one column per dimension and feature), and
  the engine's calibrated weighting (``index/engine/calibrated.py``: per dimension monotone additive splines
  of its features plus a regional term, fitted to the criterion, e.g. the official LBM dimension score) is
  fitted on the rows with every criterion (``engine.fit.fit``) and applied to all rows. ``fitted_`` is the
  engine's ``FittedIndex``; ``fitted_.score(table).record`` its build record, from which it replays.
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

from leefbaar.errors import LeefbaarError, SpecError
from leefbaar.index.engine.calibrated import BASELINE, XY
from leefbaar.index.engine.fit import FittedIndex, fit
from leefbaar.index.engine.spec import EngineSpec
from leefbaar.index.features import LAG_SUFFIX, IndicatorMatrix, RowKeys
from leefbaar.index.spec import IndexSpec

RESIDUAL = "_residual"
UNIT = "unit"


@dataclass
class EngineTable:
    """A calibrated spec's features as the engine's table: ``transform(panel)`` gives, per panel row, ``unit``
    (``<code>:<year>``, ``#k`` added to the k-th repeat of a row), one column per engine indicator
    (``<dimension>:<feature>``: the feature's value from the fitted ``matrix``), the criteria and the
    centroids (``engine.calibrated.XY``)."""

    matrix: IndicatorMatrix
    engine: EngineSpec

    @property
    def pairs(self):
        return self.matrix.pairs

    @pairs.setter
    def pairs(self, value) -> None:
        self.matrix.pairs = value

    def transform(self, panel: pd.DataFrame) -> pd.DataFrame:
        """The engine table of ``panel``. A feature used by several dimensions is one array under each of its
        engine codes (columns share memory, nothing is copied: 2.4 times fewer bytes than one column each)."""
        return self.table(panel, self.matrix.transform(panel))

    def table(self, panel: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
        """The engine table of ``panel`` from its feature matrix ``X`` (``matrix.transform(panel)``)."""
        keys = RowKeys(panel)
        unit = np.asarray(keys.codes, dtype=object)[keys.code] + ":" + panel["year"].astype(str).to_numpy(object)
        if keys.has_duplicates:  # bootstrap samples repeat rows: '#1', '#2', ...
            first = keys.at(keys.code, keys.year)
            repeat = pd.Series(first).groupby(first).cumcount().to_numpy()
            unit = np.where(repeat > 0, unit + "#" + repeat.astype(str).astype(object), unit)
        cols = {UNIT: unit}
        for code in self.engine.hierarchy.indicators:
            cols[code] = X[self.engine.hierarchy.nodes[code].name].to_numpy()
        m = self.engine.weights_model
        for c in m.targets.values():
            cols[c] = panel[c].to_numpy(float) if c in panel.columns else np.full(len(panel), np.nan)
        for c in XY if m.location_columns else ():
            cols[c] = X[c].to_numpy()
        return pd.DataFrame(cols, index=panel.index, copy=False)


class LivabilityIndex:
    """Composite livability index defined by an ``IndexSpec`` (see the module docstring).

    ``pairs``: neighbour pairs from ``features.neighbour_pairs(contiguity(store, level))`` when the spec uses
    spatial lags. Attributes after ``fit``: calibrated: ``engine_`` (the engine spec), ``matrix_`` (the
    fitted ``EngineTable``: panel -> engine table), ``fitted_`` (the engine's ``FittedIndex``) and ``models_``
    (its ``DimensionModel`` per dimension, whose features are the engine's ``<dimension>:<feature>`` codes);
    other methods: ``matrix_`` (the fitted ``IndicatorMatrix``), ``weights_`` (indicator weights per
    dimension), ``norm_`` (normalisation parameters); both: ``n_fit_``.
    """

    def __init__(self, spec: IndexSpec, pairs=None):
        self.spec, self.pairs = spec, pairs

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
    def fit(self, panel: pd.DataFrame, with_cov: bool = True) -> LivabilityIndex:
        """Fit on ``panel`` rows (the feature preparation on all of them); calibrated specs: the engine fits
        its model on the rows where every target is present (``with_cov``: with the coefficients' sampling
        covariance, for the Monte Carlo)."""
        self.fit_transform(panel, with_cov)
        return self

    def fit_transform(self, panel: pd.DataFrame, with_cov: bool = True) -> pd.DataFrame:
        """``fit(panel)``, returning ``matrix_.transform(panel)`` (computed once, for the fit and the caller)."""
        matrix = IndicatorMatrix(self.spec, self.pairs)
        features = matrix.fit_transform(panel)
        if self.spec.weighting == "calibrated":
            self.targets(panel)  # a clear error when a criterion is not in the panel
            self.engine_ = self.spec.engine_spec(lags=self.spec.spatial_lag and self.pairs is not None)
            self.matrix_ = EngineTable(matrix, self.engine_)
            X = self.matrix_.table(panel, features)
            # the engine spec prepares nothing (no denominator, screening, imputation or treatment: the features
            # are prepared above), so only the rows the model is fitted on (every criterion present) are read
            crit = X[list(self.engine_.weights_model.targets.values())].notna().all(axis=1).to_numpy()
            self.fitted_: FittedIndex = fit(X[crit], self.engine_, source="panel", with_cov=with_cov)
            self.models_ = self.fitted_.model.models
            self.n_fit_ = self.fitted_.fit_rows
        else:
            self.matrix_ = matrix
            X = features
            self._fit_weights(X)
            self.n_fit_ = len(panel)
        return X

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
        if self.spec.weighting == "calibrated":
            return self.feature_parts(self.fitted_.model.contributions(X))
        out = {}
        for d in self.spec.dimensions:
            w = self.weights_[d.code]
            signs = self._signs(d.code)
            cols = {f: (self._normalise(X, f) * signs[f] - c) * w[f]
                    for f, c in zip(w, self.centre_[d.code], strict=True)}
            frame = pd.DataFrame(cols, index=panel.index)
            frame.insert(0, BASELINE, float(sum(c * w[f] for f, c in zip(w, self.centre_[d.code], strict=True))))
            out[d.code] = frame
        return out

    def feature_parts(self, parts: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """The engine's contributions per dimension with the features' own names (``oad``, ``oad@buren``)
        instead of the engine codes (``won:oad``)."""
        nodes = self.engine_.hierarchy.nodes
        return {d: f.set_axis([nodes[c].name if c in nodes else c for c in f.columns], axis=1)
                for d, f in parts.items()}

    def score(self, panel: pd.DataFrame) -> pd.DataFrame:
        """code, year, the dimension scores, afw (their sum) and total (reference + afw)."""
        parts = self.contributions(panel)
        out = panel[["code", "year"]].copy()
        for code, frame in parts.items():
            out[code] = frame.sum(axis=1).to_numpy()
        out["afw"] = out[list(parts)].sum(axis=1)
        out["total"] = self.spec.reference + out["afw"]
        return out
