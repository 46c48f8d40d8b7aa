"""Staggered adoption: group-time average treatment effects (Callaway and Sant'Anna 2021).

When areas enter a programme in different years, a two-way fixed-effects regression compares late adopters
with early adopters that are already treated, and with effects that change over time this gives weights that
can be negative and a biased average. This estimator avoids such comparisons:

* ATT(g, t) for cohort g (first post year) and year t: the mean change from the base year b_g (the last year
  before g) to t of cohort g, minus that of the comparison group: never-treated units (``control='never'``),
  or units not yet treated at t (``control='notyet'``, cohort > t).
* Aggregations: per cohort (mean over its post years), overall (cohorts weighted by size) and by event time
  e = t - g in years (cohorts observed at that event time, weighted by size).
* Uncertainty: cluster bootstrap (gemeenten resampled with replacement) of the whole computation; percentile
  intervals and standard errors from the bootstrap.

``twfe_`` holds the conventional static TWFE estimate (pyfixest, clustered) for comparison only.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from leefbaar.evaluation.panel import Panel


class StaggeredDiD:
    """Attributes after ``fit``: ``att_gt_`` (cohort, year, event_time, estimate, se, n_treated, n_control),
    ``att_event_`` (event_time, estimate, se, ci_low, ci_high), ``att_``, ``se_``, ``ci_``, ``twfe_``
    (estimate, se, p_value), ``n_cohorts_``."""

    def __init__(self, control: str = "never", n_boot: int = 499, alpha: float = 0.05, seed: int = 0,
                 twfe: bool = True):
        if control not in ("never", "notyet"):
            raise ValueError("control must be 'never' or 'notyet'")
        self.control, self.n_boot, self.alpha, self.seed, self.twfe = control, n_boot, alpha, seed, twfe

    def _cells(self, panel: Panel) -> list[dict]:
        wide = panel.wide()
        cohort = panel.units.set_index("unit").loc[wide.index, "cohort"].to_numpy()
        cells = []
        for g in panel.cohorts:
            pre = panel.pre_years(g)
            if not pre:
                continue
            base = pre[-1]
            treated = cohort == g
            for t in panel.years:
                if t == base:
                    continue
                if self.control == "never":
                    control = ~np.isfinite(cohort)
                else:
                    control = (cohort > max(t, base)) & (cohort != g)
                if not treated.any() or not control.any():
                    continue
                change = (wide[t] - wide[base]).to_numpy(float)
                cells.append({"cohort": g, "year": t, "event_time": t - g, "post": t >= g, "change": change,
                              "treated": treated, "control": control})
        return cells

    @staticmethod
    def _estimates(cells: list[dict], w: np.ndarray) -> np.ndarray:
        """ATT(g, t) for each cell with unit weights ``w`` (bootstrap multiplicities)."""
        out = np.empty(len(cells))
        for j, c in enumerate(cells):
            wt, wc = w * c["treated"], w * c["control"]
            st, sc = wt.sum(), wc.sum()
            out[j] = (wt @ c["change"] / st - wc @ c["change"] / sc) if st > 0 and sc > 0 else np.nan
        return out

    @staticmethod
    def _aggregate(cells: list[dict], est: np.ndarray, w: np.ndarray) -> tuple[float, dict]:
        sizes = {c["cohort"]: float(w @ c["treated"]) for c in cells}
        by_cohort: dict[int, list[float]] = {}
        by_event: dict[int, list[tuple[float, float]]] = {}
        for c, e in zip(cells, est, strict=True):
            if not np.isfinite(e):
                continue
            by_event.setdefault(c["event_time"], []).append((sizes[c["cohort"]], e))
            if c["post"]:
                by_cohort.setdefault(c["cohort"], []).append(e)
        num = sum(sizes[g] * np.mean(v) for g, v in by_cohort.items())
        den = sum(sizes[g] for g in by_cohort)
        overall = num / den if den > 0 else np.nan
        event = {e: sum(n * x for n, x in v) / sum(n for n, _ in v) for e, v in by_event.items()}
        return overall, event

    def fit(self, panel: Panel) -> StaggeredDiD:
        cells = self._cells(panel)
        if not cells or not any(c["post"] for c in cells):
            raise ValueError("no cohort has a base year, post years and a comparison group")
        units = panel.units.set_index("unit").loc[panel.wide().index]
        n = len(units)
        ones = np.ones(n)
        est = self._estimates(cells, ones)
        self.att_, event = self._aggregate(cells, est, ones)
        # cluster bootstrap
        rng = np.random.default_rng(self.seed)
        codes, cl_index = np.unique(units["cluster"].to_numpy(), return_inverse=True)
        boot_cells, boot_att, boot_event = [], [], []
        for _ in range(self.n_boot):
            m = rng.multinomial(len(codes), np.full(len(codes), 1 / len(codes)))
            w = m[cl_index].astype(float)
            e = self._estimates(cells, w)
            a, ev = self._aggregate(cells, e, w)
            boot_cells.append(e)
            boot_att.append(a)
            boot_event.append(ev)
        boot_cells = np.array(boot_cells) if boot_cells else np.empty((0, len(cells)))
        boot_att = np.array(boot_att)
        q = [self.alpha / 2, 1 - self.alpha / 2]
        self.se_ = float(np.nanstd(boot_att, ddof=1)) if len(boot_att) > 1 else np.nan
        self.ci_ = tuple(np.nanquantile(boot_att, q)) if len(boot_att) else (np.nan, np.nan)
        self.att_gt_ = pd.DataFrame({
            "cohort": [c["cohort"] for c in cells], "year": [c["year"] for c in cells],
            "event_time": [c["event_time"] for c in cells], "estimate": est,
            "se": np.nanstd(boot_cells, axis=0, ddof=1) if len(boot_cells) > 1 else np.nan,
            "n_treated": [int(c["treated"].sum()) for c in cells],
            "n_control": [int(c["control"].sum()) for c in cells]})
        rows = []
        for e in sorted(event):
            b = np.array([ev.get(e, np.nan) for ev in boot_event])
            lo, hi = np.nanquantile(b, q) if np.isfinite(b).any() else (np.nan, np.nan)
            rows.append({"event_time": e, "estimate": event[e], "se": float(np.nanstd(b, ddof=1))
                         if np.isfinite(b).sum() > 1 else np.nan, "ci_low": lo, "ci_high": hi})
        self.att_event_ = pd.DataFrame(rows)
        self.n_cohorts_ = len({c["cohort"] for c in cells})
        self.twfe_ = self._twfe(panel) if self.twfe else None
        return self

    @staticmethod
    def _twfe(panel: Panel) -> dict:
        import pyfixest as pf

        d = panel.data.assign(treat_post=lambda f: (f["year"] >= f["cohort"]).astype(float))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pf.feols("y ~ treat_post | unit + year", data=d,
                           vcov={"CRV1": "cluster"} if d["cluster"].nunique() > 1 else "hetero")
        t = fit.tidy().loc["treat_post"]
        return {"estimate": float(t["Estimate"]), "se": float(t["Std. Error"]), "p_value": float(t["Pr(>|t|)"])}
