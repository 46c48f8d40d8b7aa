"""Reversion to the mean of official Leefbaarometer deviations, for nowcasts after the last official year.

An area's official dimension score is partly persistent and partly transient: areas far above or below the
national mean drift back towards it. Between 2014 and 2018 the official deviations of all five LBM3
dimensions shrank by 3-11 % (see ``leefbaar validate``); carrying the last official value forward unchanged
(pure anchoring) ignores that, and so misses much of the change the official instrument later reports.

``Reversion.fit(official)`` estimates, per dimension d and for every pair of consecutive official years
(a, b) with all dimensions, the OLS slope ``kappa`` of ``o_d(b) - o_d(a)`` on ``o_d(a) - mean_a(o_d)`` over the
areas official in both years, and turns it into an annual persistence ``(1 + kappa) ** (1 / (b - a))``.
Pairs are pooled by the geometric mean weighted by their span in years. The nowcast adjustment of an area
anchored on official year a, for year t = a + h (h > 0 years), is

    v_d = (persistence_d ** h - 1) * (o_d(a) - mean_a(o_d))          (score points; 0 for h <= 0)

so the deviation decays geometrically (it would grow for a persistence above 1, which the data allow but
have not shown for the total). The common shift of all areas (the OLS intercept) is left out: the index
model carries year-on-year level changes through the indicators. Only official years up to ``until`` enter
the fit, so a validation that fits on 2018 sees no later official value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.errors import LeefbaarError

REVERSION = "_reversion"


def load_official(store, spec) -> pd.DataFrame:
    """code, year and one column per dimension with the official criterion (``dimension.target``), all years."""
    targets = {d.target: d.code for d in spec.dimensions}
    frame = store.table(spec.level, indicators=list(targets))
    for t in targets:
        if t not in frame.columns:
            frame[t] = np.nan
    return frame[["code", "year", *targets]].rename(columns=targets)


class Reversion:
    """Annual persistence of official dimension deviations (see the module docstring).

    Attributes after ``fit``: ``pairs_`` (one row per year pair and dimension: from_year, to_year, dimension,
    n, kappa, annual persistence), ``persistence_`` (dimension -> pooled annual persistence), ``means_``
    ((year, dimension) -> mean official score of that year, the centre of the deviations).
    """

    def fit(self, official: pd.DataFrame, dimensions, until: int | None = None) -> Reversion:
        """``official``: code, year and one column per dimension (official scores; NaN where absent)."""
        dims = list(dimensions)
        full = official.dropna(subset=dims)
        if until is not None:
            full = full[full["year"] <= until]
        years = sorted(full["year"].unique())
        self.means_ = {(int(y), d): float(m) for y, g in full.groupby("year") for d, m in g[dims].mean().items()}
        rows = []
        for a, b in zip(years[:-1], years[1:], strict=True):
            pair = full[full["year"] == a].merge(full[full["year"] == b], on="code", suffixes=("_a", "_b"))
            if len(pair) < 30:
                continue
            for d in dims:
                x = pair[f"{d}_a"].to_numpy(float) - self.means_[(int(a), d)]
                dy = pair[f"{d}_b"].to_numpy(float) - pair[f"{d}_a"].to_numpy(float)
                kappa = float(np.cov(x, dy)[0, 1] / np.var(x, ddof=1))
                rows.append({"from_year": int(a), "to_year": int(b), "dimension": d, "n": len(pair),
                             "kappa": kappa, "persistence": max(1 + kappa, 1e-6) ** (1 / (b - a))})
        if not rows:
            raise LeefbaarError("reversion needs two official years with all dimensions"
                                + (f" up to {until}" if until is not None else ""))
        self.pairs_ = pd.DataFrame(rows)
        span = self.pairs_["to_year"] - self.pairs_["from_year"]
        self.persistence_ = {d: float(np.exp(np.average(np.log(g["persistence"]), weights=span[g.index])))
                             for d, g in self.pairs_.groupby("dimension", sort=False)}
        return self

    def adjustment(self, official_at_anchor: pd.DataFrame, anchor: np.ndarray, years: np.ndarray) -> pd.DataFrame:
        """Per row and dimension the reversion term in score points (0 where there is no anchor or h <= 0).

        ``official_at_anchor``: the official dimension scores of each row's area in its anchor year.
        """
        anchor = np.asarray(anchor, float)
        h = np.where(np.isnan(anchor), 0.0, np.asarray(years, float) - np.nan_to_num(anchor))
        h = np.clip(h, 0.0, None)
        out = pd.DataFrame(0.0, index=official_at_anchor.index, columns=list(self.persistence_))
        for d, p in self.persistence_.items():
            centre = np.array([self.means_.get((int(a), d), np.nan) if np.isfinite(a) else np.nan for a in anchor])
            dev = official_at_anchor[d].to_numpy(float) - centre
            out[d] = np.where((h > 0) & np.isfinite(dev), (p ** h - 1) * dev, 0.0)
        return out
