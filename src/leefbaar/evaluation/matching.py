"""Matching treated areas to reference areas, and balance tables.

``ReferenceMatcher`` finds, for every treated unit, its ``n_neighbors`` nearest reference units (with
replacement) by Mahalanobis distance on the covariates, or by the logit of a propensity score (logistic
regression, statsmodels). A caliper (in standard deviations of the distance or of the logit score) drops
treated units without a close reference. The matched references get weights that sum to the number of matched
treated units, so that weighted reference means are comparable to treated means.

``balance_table`` reports, per covariate, the treated mean, the reference mean before and after matching, the
standardised mean difference (SMD: difference divided by the pooled standard deviation before matching) and
the variance ratio. |SMD| below 0.1 is the usual mark of good balance; above 0.25 is poor.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

METHODS = ("mahalanobis", "propensity")
SMD_GOOD, SMD_POOR = 0.1, 0.25


class ReferenceMatcher:
    """Nearest-neighbour matching with replacement (scikit-learn style: ``fit`` then attributes).

    Attributes after ``fit``: ``pairs_`` (treated, reference, distance), ``weights_`` (reference unit ->
    weight), ``unmatched_`` (treated units dropped by the caliper), ``balance_`` (see ``balance_table``).
    """

    def __init__(self, method: str = "mahalanobis", n_neighbors: int = 5, caliper: float | None = None):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}")
        if n_neighbors < 1:
            raise ValueError("n_neighbors must be at least 1")
        self.method, self.n_neighbors, self.caliper = method, n_neighbors, caliper

    def fit(self, treated: pd.DataFrame, pool: pd.DataFrame) -> ReferenceMatcher:
        """``treated`` and ``pool``: covariates indexed by unit (same columns, no missing values)."""
        if treated.empty or pool.empty:
            raise ValueError("matching needs treated and reference units")
        keep, idx, dist = self.nearest(treated.to_numpy(float), pool.to_numpy(float))
        k = idx.shape[1]
        t_codes = treated.index.to_numpy()
        p_codes = pool.index.to_numpy()
        pairs = pd.DataFrame({"treated": np.repeat(t_codes[keep], k), "reference": p_codes[idx[keep].ravel()],
                              "distance": dist[keep].ravel()})
        self.pairs_ = pairs
        self.weights_ = (pairs.groupby("reference").size() / k).rename("weight")
        self.unmatched_ = list(t_codes[~keep])
        self.balance_ = balance_table(treated.loc[keep], pool, self.weights_)
        return self


    def nearest(self, t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Array version of ``fit``: (treated kept by the caliper, neighbour indices into ``p`` and their
        distances, both treated x k)."""
        k = min(self.n_neighbors, len(p))
        if self.method == "mahalanobis":
            zt, zp = _whiten(t, p)
            dist, idx = cKDTree(zp).query(zt, k=k)
            scale = 1.0
        else:
            st, sp = _logit_scores(pd.DataFrame(t), pd.DataFrame(p))
            dist, idx = cKDTree(sp[:, None]).query(st[:, None], k=k)
            scale = float(np.std(np.concatenate([st, sp]))) or 1.0
        dist, idx = dist.reshape(len(t), k), idx.reshape(len(t), k)
        keep = np.ones(len(t), dtype=bool)
        if self.caliper is not None:
            keep = dist[:, 0] <= self.caliper * scale
        return keep, idx, dist


def _whiten(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Transform so that Euclidean distance equals Mahalanobis distance under the pooled covariance."""
    allx = np.vstack([t, p])
    cov = np.atleast_2d(np.cov(allx, rowvar=False))
    cov += np.eye(len(cov)) * 1e-9 * max(float(np.trace(cov)), 1e-12)
    chol = np.linalg.cholesky(np.linalg.inv(cov))
    mu = allx.mean(axis=0)
    return (t - mu) @ chol, (p - mu) @ chol


def _logit_scores(treated: pd.DataFrame, pool: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Linear predictor (logit of the propensity score) of a logistic regression of treatment on covariates."""
    import statsmodels.api as sm

    x = pd.concat([treated, pool])
    x = (x - x.mean()) / x.std(ddof=0).replace(0, 1.0)
    y = np.r_[np.ones(len(treated)), np.zeros(len(pool))]
    design = sm.add_constant(x.to_numpy(float), has_constant="add")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = sm.Logit(y, design).fit(disp=0, maxiter=200)
            lin = design @ res.params
        except Exception:  # perfect separation or singular design: fall back to a penalised fit
            res = sm.Logit(y, design).fit_regularized(alpha=1.0, disp=0)
            lin = design @ res.params
    return lin[: len(treated)], lin[len(treated):]


def balance_table(treated: pd.DataFrame, pool: pd.DataFrame, weights: pd.Series | None = None) -> pd.DataFrame:
    """Covariate balance before and after matching (see the module docstring)."""
    rows = []
    w = None if weights is None else weights.reindex(pool.index).fillna(0.0).to_numpy()
    for col in treated.columns:
        t, p = treated[col].to_numpy(float), pool[col].to_numpy(float)
        if not len(t) or not len(p):
            rows.append({"covariate": col, "mean_treated": np.nan, "mean_reference_all": np.nan,
                         "smd_before": np.nan, "var_ratio_before": np.nan})
            continue
        sd = np.sqrt((np.var(t, ddof=1) + np.var(p, ddof=1)) / 2) if len(t) > 1 else np.std(p, ddof=1)
        sd = sd if sd > 0 else np.nan
        row = {"covariate": col, "mean_treated": t.mean(), "mean_reference_all": p.mean(),
               "smd_before": (t.mean() - p.mean()) / sd,
               "var_ratio_before": np.var(t, ddof=1) / np.var(p, ddof=1) if len(t) > 1 else np.nan}
        if w is not None and w.sum() > 0:
            mw = np.average(p, weights=w)
            vw = np.average((p - mw) ** 2, weights=w)
            row.update({"mean_reference_matched": mw, "smd_after": (t.mean() - mw) / sd,
                        "var_ratio_after": np.var(t, ddof=1) / vw if vw > 0 and len(t) > 1 else np.nan})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if "smd_after" in frame:
        frame["balance"] = np.where(frame["smd_after"].abs() < SMD_GOOD, "good",
                                    np.where(frame["smd_after"].abs() < SMD_POOR, "fair", "poor"))
    return frame
