"""Event study with a pre-trend test (pyfixest), stacked by adoption cohort.

For every cohort the treated units and their references (matched references with their matching weights, or
all references) form one stack. The model is

    y_it = sum_k beta_k 1[treated, period k] + unit-by-stack effect + year-by-stack effect + e_it

with event periods k counted in measurements relative to the first post measurement (k = 0); k = -1, the last
pre measurement, is the reference. Stacking keeps the comparison clean under staggered adoption (each cohort is
compared only with never-treated units; Cengiz et al. 2019). Standard errors are clustered by gemeente.

The pre-trend test is the joint Wald (F) test that all beta_k with k <= -2 are zero. It needs at least two
pre measurements. Note that when references were matched on the pre-period levels, the pre-period
coefficients measure how the treated and references drift apart in the held-out years only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from leefbaar.evaluation.panel import Panel


class EventStudy:
    """Attributes after ``fit``: ``coefs_`` (period, estimate, se, ci_low, ci_high, p_value, years),
    ``pretrend_`` (dict with f_stat, p_value, n_coefs; or None when it cannot be tested) and ``reason_``,
    ``n_clusters_``, ``n_treated_clusters_``."""

    def __init__(self, alpha: float = 0.05):
        self.alpha = alpha

    def stacked(self, panel: Panel, weights: pd.DataFrame | None = None) -> pd.DataFrame:
        """The stacked estimation frame (unit, year, y, cluster, k, w, fe_unit, fe_year)."""
        data = panel.data
        index = {y: i for i, y in enumerate(panel.years)}
        stacks = []
        for g in panel.cohorts:
            post = panel.post_years(g)
            if not post or not panel.pre_years(g):
                continue
            first = index[post[0]]
            treated = data[data["cohort"] == g].assign(w=1.0)
            if weights is not None:
                wg = weights[weights["cohort"] == g].set_index("reference")["weight"]
                refs = data[data["unit"].isin(wg.index)]
                refs = refs.assign(w=refs["unit"].map(wg))
            else:
                refs = data[~np.isfinite(data["cohort"])].assign(w=1.0)
            s = pd.concat([treated.assign(k=treated["year"].map(index) - first), refs.assign(k=-1)])
            s["fe_unit"] = s["unit"].astype(str) + f"|{g}"
            s["fe_year"] = s["year"].astype(str) + f"|{g}"
            s["stack"] = g
            stacks.append(s)
        if not stacks:
            return pd.DataFrame()
        return pd.concat(stacks, ignore_index=True)

    def fit(self, panel: Panel, weights: pd.DataFrame | None = None) -> EventStudy:
        """``weights``: matched references per cohort (columns cohort, reference, weight), or None for all."""
        import pyfixest as pf

        frame = self.stacked(panel, weights)
        self.pretrend_, self.reason_ = None, ""
        if frame.empty:
            self.coefs_ = pd.DataFrame(columns=["period", "estimate", "se", "ci_low", "ci_high", "p_value"])
            self.reason_ = "no cohort has both pre and post measurements"
            return self
        treated = frame[np.isfinite(frame["cohort"])]
        self.n_clusters_ = int(frame["cluster"].nunique())
        self.n_treated_clusters_ = int(treated["cluster"].nunique())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pf.feols("y ~ i(k, ref=-1) | fe_unit + fe_year", data=frame, weights="w",
                           vcov={"CRV1": "cluster"} if self.n_clusters_ >= 2 else "hetero")
        tidy = fit.tidy()
        periods = [int(str(name).split("::")[1]) for name in tidy.index]
        years = (treated.groupby("k")["year"].apply(lambda s: ";".join(str(y) for y in sorted(s.unique()))))
        self.coefs_ = pd.DataFrame({
            "period": periods, "estimate": tidy["Estimate"].to_numpy(), "se": tidy["Std. Error"].to_numpy(),
            "ci_low": tidy["2.5%"].to_numpy(), "ci_high": tidy["97.5%"].to_numpy(),
            "p_value": tidy["Pr(>|t|)"].to_numpy()})
        base = pd.DataFrame({"period": [-1], "estimate": [0.0], "se": [0.0], "ci_low": [0.0], "ci_high": [0.0],
                             "p_value": [np.nan]})
        self.coefs_ = pd.concat([self.coefs_, base]).sort_values("period", ignore_index=True)
        self.coefs_["years"] = self.coefs_["period"].map(years)
        pre = [i for i, k in enumerate(periods) if k <= -2]
        if not pre:
            self.reason_ = "only one pre measurement: the pre-trend cannot be tested"
            return self
        r = np.zeros((len(pre), len(periods)))
        for row, col in enumerate(pre):
            r[row, col] = 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            test = fit.wald_test(R=r, distribution="F")
        self.pretrend_ = {"f_stat": float(test["statistic"]), "p_value": float(test["pvalue"]),
                          "n_coefs": len(pre)}
        return self
