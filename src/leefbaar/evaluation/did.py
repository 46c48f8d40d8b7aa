"""Difference-in-differences with matched reference areas, clustered and permutation uncertainty.

For every adoption cohort g (first post year) with pre years P and post years Q:

* The base year b is the last pre year. The change of a unit is ``y_t - y_b``.
* Treated units are matched to reference units (never treated) on their outcome level and trend in the pre
  years *before* b, plus optional composition covariates measured before the programme. The change from the
  last matched year to b is held out: its treated-minus-reference difference is the pre-trend (placebo) test,
  which is informative because the matching did not use it. With a single pre year nothing can be held out
  and matching uses that year's level only; the pre-trend then cannot be tested.
* ATT_g(t) = mean change of treated minus weighted mean change of matched references, for t in Q; ATT_g is
  its mean over Q. The overall ATT weights cohorts by their number of matched treated units.

Uncertainty, two ways:

* Cluster-robust (by gemeente) standard errors of the difference of weighted means, with the small-sample
  factor G/(G-1) and a t distribution with G-1 degrees of freedom (G = clusters). Unreliable when few
  gemeenten hold treated units (``min_treated_clusters``).
* Permutation: placebo "treated" sets are drawn from the references with the same number of units per
  gemeente as the real treated set (cluster-structured, so spatial correlation inside gemeenten is kept), the
  whole matching and DiD is rerun, and the real estimate is ranked among the placebo estimates (equal-tailed
  two-sided p-value). The interval inverts the placebo distribution (estimate minus its 97.5% and 2.5%
  quantiles), so that it excludes zero when p < alpha. Placebo units come from the reference pool, which is
  mostly better off than the treated; the interval is therefore approximate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from leefbaar.evaluation.matching import ReferenceMatcher, balance_table
from leefbaar.evaluation.panel import Panel


@dataclass
class CohortDesign:
    cohort: int
    pre: list[int]
    post: list[int]
    base: int
    matched_years: list[int]
    holdout: int | None  # the pre year whose change to base is held out (None: not testable)


def cohort_design(panel: Panel, cohort: int, holdout: bool = True) -> CohortDesign | None:
    """Pre/post years, base year and the years used for matching of one cohort (None without pre or post)."""
    pre, post = panel.pre_years(cohort), panel.post_years(cohort)
    if not pre or not post:
        return None
    if holdout and len(pre) >= 2:
        return CohortDesign(cohort, pre, post, pre[-1], pre[:-1], pre[-2])
    return CohortDesign(cohort, pre, post, pre[-1], pre, None)


def match_features(wide: pd.DataFrame, years: list[int], covariates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Matching covariates per unit: outcome level in the last of ``years``, its yearly trend over ``years``
    (least-squares slope, when two or more), and the given covariates."""
    feats = pd.DataFrame({"level": wide[years[-1]]}, index=wide.index)
    if len(years) >= 2:
        x = np.asarray(years, dtype=float)
        x = x - x.mean()
        feats["trend"] = wide[years].to_numpy(float) @ x / (x @ x)
    if covariates is not None and not covariates.empty:
        feats = feats.join(covariates, how="left")
    return feats


class MatchedDiD:
    """Cohort-wise DiD against matched references (see the module docstring).

    Attributes after ``fit``: ``att_``, ``se_``, ``ci_`` (clustered), ``p_value_``; ``perm_p_``, ``perm_ci_``,
    ``placebo_atts_``; ``att_by_period_`` (event period k, year(s), estimate); ``pretrend_`` (estimate,
    perm_p, held-out years, or None); ``balance_`` (per cohort); ``designs_``; ``n_treated_``,
    ``n_references_``, ``n_clusters_``, ``n_treated_clusters_``; ``pairs_``.
    """

    def __init__(self, matcher: ReferenceMatcher | None = None, covariates: pd.DataFrame | None = None,
                 holdout: bool = True, n_permutations: int = 499, alpha: float = 0.05, seed: int = 0,
                 cluster_permutation: bool = True):
        self.matcher = matcher or ReferenceMatcher()
        self.covariates = covariates
        self.holdout, self.n_permutations, self.alpha, self.seed = holdout, n_permutations, alpha, seed
        self.cluster_permutation = cluster_permutation

    # -- core estimate ------------------------------------------------------------------------------------
    def _prepare(self, wide: pd.DataFrame) -> None:
        """Per cohort, arrays over all units: matching features, mean post change, held-out change."""
        self._arrays = {}
        for g, d in self._designs.items():
            feats = match_features(wide, d.matched_years, self.covariates)
            x = feats.to_numpy(float)
            self._arrays[g] = {
                "x": x, "ok": ~np.isnan(x).any(axis=1), "columns": list(feats.columns),
                "d": wide[d.post].sub(wide[d.base], axis=0).mean(axis=1).to_numpy(float),
                "hold": (wide[d.base] - wide[d.holdout]).to_numpy(float) if d.holdout is not None else None,
            }

    def _estimate(self, treated_by_cohort: dict[int, np.ndarray], pool: np.ndarray) -> dict:
        """ATT and held-out pre-trend for integer unit positions; ``parts`` per cohort: (cohort, n treated,
        ATT_g, treated positions, reference positions, reference weights)."""
        parts, pre_parts = [], []
        for g in self._designs:
            t = treated_by_cohort.get(g)
            if t is None or not len(t):
                continue
            a = self._arrays[g]
            t = t[a["ok"][t]]
            p = pool[a["ok"][pool]]
            if not len(t) or not len(p):
                continue
            keep, idx, _ = self.matcher.nearest(a["x"][t], a["x"][p])
            t, idx = t[keep], idx[keep]
            if not len(t):
                continue
            refs, counts = np.unique(p[idx.ravel()], return_counts=True)
            w = counts / idx.shape[1]
            att_g = a["d"][t].mean() - np.average(a["d"][refs], weights=w)
            parts.append((g, len(t), att_g, t, refs, w))
            if a["hold"] is not None:
                h = a["hold"]
                pre_parts.append((len(t), h[t].mean() - np.average(h[refs], weights=w)))
        n = sum(p[1] for p in parts)
        if n == 0:
            return {"att": np.nan, "pretrend": np.nan, "parts": []}
        npre = sum(p[0] for p in pre_parts)
        return {"att": sum(p[1] * p[2] for p in parts) / n,
                "pretrend": sum(p[0] * p[1] for p in pre_parts) / npre if npre else np.nan, "parts": parts}

    def fit(self, panel: Panel) -> MatchedDiD:
        wide = panel.wide()
        units = panel.units.set_index("unit").loc[wide.index]
        self._designs = {}
        self.skipped_ = {}
        for g in panel.cohorts:
            d = cohort_design(panel, g, self.holdout)
            if d is None:
                self.skipped_[g] = "no pre or no post measurement in the window"
            else:
                self._designs[g] = d
        self.designs_ = list(self._designs.values())
        cohort = units["cohort"].to_numpy()
        treated = {g: np.flatnonzero(cohort == g) for g in self._designs}
        pool = np.flatnonzero(~np.isfinite(cohort))
        if not self._designs or not len(pool):
            raise ValueError("no cohort has both pre and post measurements, or there are no references")
        self._prepare(wide)
        est = self._estimate(treated, pool)
        if not est["parts"]:
            raise ValueError("no treated unit could be matched")
        self.att_ = float(est["att"])
        self._describe(wide, units, est["parts"])
        self._clustered(est["parts"], units)
        self._permute(units, treated, pool, est)
        return self

    def _describe(self, wide: pd.DataFrame, units: pd.DataFrame, parts) -> None:
        """Event-period table, balance tables and matched pairs of the real estimate."""
        codes = wide.index.to_numpy()
        rows, balances, pairs = [], [], []
        for g, _n, _att, t, refs, w in parts:
            d, a = self._designs[g], self._arrays[g]
            for k, year in enumerate(d.pre + d.post):
                ch = (wide[year] - wide[d.base]).to_numpy(float)
                rows.append({"cohort": g, "period": k - len(d.pre), "year": year,
                             "estimate": ch[t].mean() - np.average(ch[refs], weights=w),
                             "treated_mean": wide[year].to_numpy(float)[t].mean(),
                             "reference_mean": np.average(wide[year].to_numpy(float)[refs], weights=w)})
            pool = np.flatnonzero(~np.isfinite(units["cohort"].to_numpy()) & a["ok"])
            xt = pd.DataFrame(a["x"][t], index=codes[t], columns=a["columns"])
            xp = pd.DataFrame(a["x"][pool], index=codes[pool], columns=a["columns"])
            balances.append(balance_table(xt, xp, pd.Series(w, index=codes[refs])).assign(cohort=g))
            pairs.append(pd.DataFrame({"cohort": g, "reference": codes[refs], "weight": w}))
        self.att_by_period_ = _period_table(pd.DataFrame(rows), parts)
        self.balance_ = pd.concat(balances, ignore_index=True)
        self.pairs_ = pd.concat(pairs, ignore_index=True)
        self.treated_units_ = [codes[i] for p in parts for i in p[3]]
        self.n_treated_ = int(sum(p[1] for p in parts))
        self.n_references_ = int(len(set().union(*[set(p[4]) for p in parts])))

    # -- clustered inference ------------------------------------------------------------------------------
    def _clustered(self, parts, units: pd.DataFrame) -> None:
        n = sum(p[1] for p in parts)
        clusters = units["cluster"].to_numpy()
        cl, contrib = [], []
        for g, n_g, _att, t, refs, w in parts:
            a = self._arrays[g]
            yt, yc = a["d"][t], a["d"][refs]
            cl += [clusters[t], clusters[refs]]
            contrib += [(yt - yt.mean()) / n, -(n_g / n) * (w / w.sum()) * (yc - np.average(yc, weights=w))]
        c = pd.Series(np.concatenate(contrib)).groupby(np.concatenate(cl)).sum()
        g_count = len(c)
        self.n_clusters_ = g_count
        self.n_treated_clusters_ = len({clusters[i] for p in parts for i in p[3]})
        if g_count < 2:
            self.se_, self.ci_, self.p_value_ = np.nan, (np.nan, np.nan), np.nan
            return
        self.se_ = float(np.sqrt((c ** 2).sum() * g_count / (g_count - 1)))
        df = g_count - 1
        q = stats.t.ppf(1 - self.alpha / 2, df)
        self.ci_ = (self.att_ - q * self.se_, self.att_ + q * self.se_)
        self.p_value_ = float(2 * stats.t.sf(abs(self.att_ / self.se_), df)) if self.se_ > 0 else np.nan

    # -- permutation inference ----------------------------------------------------------------------------
    def _permute(self, units: pd.DataFrame, treated: dict, pool: np.ndarray, est: dict) -> None:
        self.pretrend_ = None
        pre = est["pretrend"]
        self.placebo_atts_, self.placebo_pretrends_ = np.array([]), np.array([])
        if self.n_permutations <= 0:
            self.perm_p_, self.perm_ci_ = np.nan, (np.nan, np.nan)
            if np.isfinite(pre):
                self.pretrend_ = {"estimate": float(pre), "perm_p": np.nan, "holdout": self._holdout_text()}
            return
        rng = np.random.default_rng(self.seed)
        clusters = units["cluster"].to_numpy()
        pool_cl = clusters[pool]
        order = np.argsort(pool_cl, kind="stable")
        names, starts, sizes = np.unique(pool_cl[order], return_index=True, return_counts=True)
        groups = [pool[order[s:s + n]] for s, n in zip(starts, sizes, strict=True)]
        t_counts = {g: pd.Series(clusters[t]).value_counts().to_numpy() for g, t in treated.items()}
        atts, pres = np.empty(self.n_permutations), np.empty(self.n_permutations)
        for b in range(self.n_permutations):
            used = np.zeros(len(units), dtype=bool)
            fake = {}
            for g, counts in t_counts.items():
                fake[g] = self._draw(rng, counts, groups, pool, used)
                used[fake[g]] = True
            e = self._estimate(fake, pool[~used[pool]])
            atts[b], pres[b] = e["att"], e["pretrend"]
        self.placebo_atts_ = atts
        self.perm_p_ = permutation_p(atts, self.att_)
        hi, lo = np.quantile(atts[np.isfinite(atts)], [1 - self.alpha / 2, self.alpha / 2])
        self.perm_ci_ = (self.att_ - hi, self.att_ - lo)
        if np.isfinite(pre):
            self.placebo_pretrends_ = pres
            self.pretrend_ = {"estimate": float(pre), "perm_p": permutation_p(pres, pre),
                              "holdout": self._holdout_text()}

    def _draw(self, rng, counts: np.ndarray, groups: list[np.ndarray], pool: np.ndarray,
              used: np.ndarray) -> np.ndarray:
        """Placebo treated positions: per real treated gemeente with k units, k free units of one random
        reference gemeente that has at least k free units (at random from the whole pool when none has)."""
        picked = []
        taken = used.copy()
        if not self.cluster_permutation:
            free = pool[~taken[pool]]
            return rng.choice(free, size=int(counts.sum()), replace=False)
        free_by_group = [g[~taken[g]] for g in groups]
        avail = np.array([len(f) for f in free_by_group])
        chosen = np.zeros(len(groups), dtype=bool)
        for k in counts:
            options = np.flatnonzero((avail >= k) & ~chosen)
            if len(options):
                j = options[rng.integers(len(options))]
                pick = rng.choice(free_by_group[j][~taken[free_by_group[j]]], size=k, replace=False)
                chosen[j] = True
                avail[j] -= k
                taken[pick] = True
            else:
                pick = rng.choice(pool[~taken[pool]], size=k, replace=False)
                taken[pick] = True
                avail = np.array([int((~taken[f]).sum()) for f in free_by_group])
            picked.append(pick)
        return np.concatenate(picked)

    def _holdout_text(self) -> str:
        return "; ".join(f"{d.holdout}->{d.base}" for d in self.designs_ if d.holdout is not None)


def permutation_p(placebos: np.ndarray, value: float) -> float:
    """Equal-tailed two-sided permutation p-value: twice the smaller tail share of placebo estimates at or
    beyond ``value`` (counting the real estimate itself), capped at 1. It agrees with the inverted interval:
    p < alpha exactly when the interval excludes zero (up to the discreteness of the placebo draws)."""
    x = np.asarray(placebos, dtype=float)
    x = x[np.isfinite(x)]
    upper = (1 + np.sum(x >= value)) / (1 + len(x))
    lower = (1 + np.sum(x <= value)) / (1 + len(x))
    return float(min(1.0, 2 * min(upper, lower)))


def _period_table(rows: pd.DataFrame, parts) -> pd.DataFrame:
    """Event-period estimates pooled over cohorts (weighted by matched treated units)."""
    if rows.empty:
        return rows
    sizes = {p[0]: p[1] for p in parts}
    rows = rows.assign(n=rows["cohort"].map(sizes))

    def agg(g: pd.DataFrame) -> pd.Series:
        return pd.Series({"years": ";".join(str(y) for y in sorted(g["year"].unique())),
                          "estimate": np.average(g["estimate"], weights=g["n"]),
                          "treated_mean": np.average(g["treated_mean"], weights=g["n"]),
                          "reference_mean": np.average(g["reference_mean"], weights=g["n"]),
                          "n_treated": int(g["n"].sum())})

    return rows.groupby("period").apply(agg, include_groups=False).reset_index()
