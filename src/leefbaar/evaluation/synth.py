"""Synthetic control per treated area and pooled, with placebo (permutation) inference (pysyncon).

For every treated PC4 a synthetic control is built from its ``n_donors`` nearest references (Euclidean
distance of the pre-period outcome series): non-negative weights summing to one that reproduce the pre-period
outcomes (``pysyncon.Synth`` with equal predictor weights; the predictors are the pre-period outcomes).
The gap is outcome minus synthetic outcome in every year.

Inference follows Abadie, Diamond and Hainmueller (2010): the same procedure is run for ``n_placebos`` reference
units as if they were treated. Per treated area, the p-value is the rank of its ratio of post- to pre-period
root mean squared gap among the placebo ratios. For the pooled effect (the mean post gap over treated areas),
placebo means are drawn by sampling as many placebo areas as there are treated areas, and the real mean is
ranked among them.

Placebo units are single PC4 areas from anywhere in the country, so shocks shared by a whole gemeente are not
in the placebo distribution: when the treated areas lie in few gemeenten the pooled p-value is optimistic
(the matched DiD's cluster-structured permutation is the better guide then).

At least ``min_pre`` pre measurements are required (default 3): with fewer, a synthetic control fits any
series and says nothing; the estimator then reports that instead of a number.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from leefbaar.evaluation.did import permutation_p
from leefbaar.evaluation.panel import Panel


class SyntheticControl:
    """Attributes after ``fit``: ``status_`` ('ok' or the reason there is no estimate), ``units_`` (per treated
    PC4: cohort, att, pre_rmspe, post_rmspe, ratio, p_value, top_donors), ``gaps_`` (unit x year gaps of treated
    units), ``placebo_gaps_``, ``att_``, ``p_value_`` (pooled, permutation), ``ci_`` (pooled placebo
    interval), ``pre_fit_`` (median pre-period RMSPE relative to the outcome's standard deviation),
    ``sampled_`` ((treated, used) when more than ``max_units`` treated units were present and a random sample
    of them was fitted, else None)."""

    def __init__(self, n_donors: int = 20, n_placebos: int = 50, min_pre: int = 3, max_units: int = 40,
                 n_draws: int = 2000, alpha: float = 0.05, seed: int = 0):
        self.n_donors, self.n_placebos, self.min_pre, self.max_units = n_donors, n_placebos, min_pre, max_units
        self.n_draws, self.alpha, self.seed = n_draws, alpha, seed

    def fit(self, panel: Panel) -> SyntheticControl:
        wide = panel.wide()
        units = panel.units.set_index("unit").loc[wide.index]
        cohort = units["cohort"].to_numpy()
        pool = np.flatnonzero(~np.isfinite(cohort))
        rng = np.random.default_rng(self.seed)
        rows, gaps, placebo_gaps = [], [], []
        self.status_, self.sampled_ = "ok", None
        usable = [g for g in panel.cohorts if len(panel.pre_years(g)) >= self.min_pre and panel.post_years(g)]
        if not usable:
            n_pre = max((len(panel.pre_years(g)) for g in panel.cohorts), default=0)
            self.status_ = (f"too few pre-period measurements ({n_pre}; a synthetic control needs at least "
                            f"{self.min_pre})")
            self._empty()
            return self
        y = wide.to_numpy(float)
        years = list(wide.columns)
        for g in usable:
            pre = [years.index(t) for t in panel.pre_years(g)]
            post = [years.index(t) for t in panel.post_years(g)]
            treated = np.flatnonzero(cohort == g)
            if len(treated) > self.max_units:
                self.sampled_ = (len(treated), self.max_units)
                treated = np.sort(rng.choice(treated, size=self.max_units, replace=False))
            tree = cKDTree(y[pool][:, pre])
            k = min(self.n_donors, len(pool) - 1)
            for i in treated:
                donors = pool[tree.query(y[i, pre], k=k)[1]]
                gap, w = _synth_gap(y, i, donors, pre)
                rows.append(_unit_row(wide.index[i], g, gap, pre, post, donors, w, wide.index))
                gaps.append(pd.Series(gap, index=years, name=wide.index[i]))
            n_pl = min(self.n_placebos, len(pool))
            for i in rng.choice(pool, size=n_pl, replace=False):
                others = pool[pool != i]
                donors = others[cKDTree(y[others][:, pre]).query(y[i, pre], k=min(k, len(others)))[1]]
                gap, _ = _synth_gap(y, i, donors, pre)
                placebo_gaps.append({"cohort": g, "unit": wide.index[i], "gap": gap, "pre": pre, "post": post})
        self.units_ = pd.DataFrame(rows)
        self.gaps_ = pd.DataFrame(gaps)
        pl = pd.DataFrame([{"cohort": p["cohort"], "unit": p["unit"], "att": p["gap"][p["post"]].mean(),
                            "ratio": _rmspe(p["gap"][p["post"]]) / max(_rmspe(p["gap"][p["pre"]]), 1e-12)}
                           for p in placebo_gaps])
        self.placebo_gaps_ = pd.DataFrame([pd.Series(p["gap"], index=years, name=p["unit"]) for p in placebo_gaps])
        self.placebos_ = pl
        ratios = pl.groupby("cohort")["ratio"].apply(np.asarray).to_dict()
        self.units_["p_value"] = [
            (1 + np.sum(ratios[c] >= r)) / (1 + len(ratios[c])) for c, r in zip(self.units_["cohort"],
                                                                               self.units_["ratio"], strict=True)]
        self.att_ = float(self.units_["att"].mean())
        draws = np.array([rng.choice(pl["att"].to_numpy(), size=len(self.units_), replace=True).mean()
                          for _ in range(self.n_draws)])
        self.placebo_means_ = draws
        self.p_value_ = permutation_p(draws, self.att_)
        hi, lo = np.quantile(draws, [1 - self.alpha / 2, self.alpha / 2])
        self.ci_ = (self.att_ - hi, self.att_ - lo)
        sd = float(np.nanstd(y[pool][:, [years.index(t) for t in panel.pre_years(usable[0])]]))
        self.pre_fit_ = float(self.units_["pre_rmspe"].median() / sd) if sd > 0 else np.nan
        return self

    def _empty(self) -> None:
        self.units_ = pd.DataFrame(columns=["unit", "cohort", "att", "pre_rmspe", "post_rmspe", "ratio", "p_value",
                                            "top_donors"])
        self.gaps_ = self.placebo_gaps_ = pd.DataFrame()
        self.att_ = self.p_value_ = self.pre_fit_ = np.nan
        self.ci_ = (np.nan, np.nan)


def _synth_gap(y: np.ndarray, i: int, donors: np.ndarray, pre: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Gap of unit ``i`` against its synthetic control from ``donors`` fitted on the ``pre`` columns."""
    from pysyncon import Synth

    z0 = pd.DataFrame(y[donors][:, pre].T, columns=[str(d) for d in donors])
    z1 = pd.Series(y[i, pre], name="treated")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = Synth()
        s.fit(X0=z0, X1=z1, Z0=z0, Z1=z1, custom_V=np.ones(len(pre)))
    w = np.asarray(s.W, dtype=float)
    return y[i] - w @ y[donors], w


def _rmspe(g: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(g)))) if len(g) else np.nan


def _unit_row(code, cohort, gap, pre, post, donors, w, index) -> dict:
    top = np.argsort(-w)[:3]
    pre_r, post_r = _rmspe(gap[pre]), _rmspe(gap[post])
    return {"unit": code, "cohort": cohort, "att": float(gap[post].mean()), "pre_rmspe": pre_r,
            "post_rmspe": post_r, "ratio": post_r / max(pre_r, 1e-12),
            "top_donors": "; ".join(f"{index[donors[j]]} ({w[j]:.2f})" for j in top if w[j] > 0.005)}
