"""Nowcast correction: how official Leefbaarometer scores move after the last official year.

A modelled score after the last official year a (year t = a + h, h > 0) starts from the anchored nowcast
``m(t) + r(a)``: the index model on year t's indicators plus the area's unexplained part in year a
(``r = official - model``). Between two official years the official scores do not move like that: the
model's change over-states the official change (much of the year-to-year movement of rounded CBS figures is
noise), and areas far from the mean drift back towards it. ``NowcastCorrection`` measures both on pairs of
official years and corrects the anchored nowcast with one extra term per dimension d:

    v_d = (alpha_d - 1) * (m_d(t) - m_d(a)) + (phi_r,d ** h - 1) * r_d(a) + (phi_o,d ** h - 1) * dev_d(a)

so that the score becomes ``o(a) + alpha * (m(t) - m(a))`` plus the decay of the residual and of the official
deviation from the mean of year a (``dev = o(a) - mean_a(o)``), in score points. The coefficients come from
an OLS, over the areas official in both years of a pair (a0, b0) of span s = b0 - a0 years, of

    o_d(b0) - o_d(a0) = c + alpha_d * (m_d(b0) - m_d(a0)) + beta_d * r_d(a0) + kappa_d * dev_d(a0)

with annual persistences ``phi_r = (1 + beta) ** (1 / s)`` and ``phi_o = (1 + kappa) ** (1 / s)``; alpha is
used no lower than 0, so that improving an indicator never lowers a nowcast (monotonicity). For h = s
the correction reproduces the OLS prediction without its intercept (the common shift of all areas is left to
the model's indicators). The OLS runs over the areas with model scores in both years; when there are none
(2014: no CBS PC4 data) only the reversion of the deviation is estimated (alpha = 1, beta = 0). The latest pair
with the richest form is used; ``pairs_`` lists the estimates of every pair. Only official years up to
``until`` enter, so a validation that fits on 2018 sees no later official value.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.errors import LeefbaarError

CORRECTION = "_nowcast"


def load_official(store, spec) -> pd.DataFrame:
    """code, year and one column per dimension with the official criterion (``dimension.target``), all years."""
    targets = {d.target: d.code for d in spec.dimensions}
    frame = store.table(spec.level, indicators=list(targets))
    for t in targets:
        if t not in frame.columns:
            frame[t] = np.nan
    return frame[["code", "year", *targets]].rename(columns=targets)


def _ols(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OLS of y on X with an intercept: the slopes (intercept dropped) and the residuals."""
    A = np.column_stack([np.ones(len(y)), X])
    coef = np.linalg.lstsq(A, y, rcond=None)[0]
    return coef[1:], y - A @ coef


def _horizon(anchor: np.ndarray, years: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whether each row has an anchor, and its horizon h = year - anchor in years (0 without an anchor)."""
    has = ~np.isnan(anchor)
    return has, np.where(has, np.asarray(years, float) - np.nan_to_num(anchor), 0.0)


class NowcastCorrection:
    """Damping of the model change and decay of residual and deviation (see the module docstring).

    Attributes after ``fit``: ``pairs_`` (one row per official year pair and dimension: from_year, to_year,
    dimension, form 'full' or 'level', n, alpha, beta, kappa), ``coef_`` (dimension -> dict alpha, phi_r,
    phi_o of the pair used), ``pair_`` (that pair) and ``span_`` (its years), ``error_sd_`` (sd over areas of
    the OLS residual of the afw change over that pair: the nowcast error, score points), ``means_`` ((year,
    dimension) -> mean official score).
    """

    def fit(self, official: pd.DataFrame, dimensions, modelled: pd.DataFrame | None = None,
            until: int | None = None) -> NowcastCorrection:
        """``official`` and ``modelled``: code, year and one column per dimension (score points)."""
        dims = list(dimensions)
        full = official.dropna(subset=dims)
        if until is not None:
            full = full[full["year"] <= until]
        years = sorted(full["year"].unique())
        self.means_ = {(int(y), d): float(m) for y, g in full.groupby("year") for d, m in g[dims].mean().items()}
        model = None if modelled is None else modelled.dropna(subset=dims).drop_duplicates(["code", "year"])
        rows, errors = [], {}
        for a, b in zip(years[:-1], years[1:], strict=True):
            pair = full[full["year"] == a].merge(full[full["year"] == b], on="code", suffixes=("_a", "_b"))
            form = "level"
            if model is not None:
                with_m = (pair.merge(model[model["year"] == a], on="code")
                          .merge(model[model["year"] == b], on="code", suffixes=("_ma", "_mb")))
                if len(with_m) >= 30:
                    pair, form = with_m, "full"
            if len(pair) < 30:
                continue
            error = np.zeros(len(pair))
            for d in dims:
                oa, ob = pair[f"{d}_a"].to_numpy(float), pair[f"{d}_b"].to_numpy(float)
                dev = oa - self.means_[(int(a), d)]
                if form == "full":
                    ma, mb = pair[f"{d}_ma"].to_numpy(float), pair[f"{d}_mb"].to_numpy(float)
                    (alpha, beta, kappa), resid = _ols(ob - oa, np.column_stack([mb - ma, oa - ma, dev]))
                else:
                    (kappa,), resid = _ols(ob - oa, dev[:, None])
                    alpha, beta = 1.0, 0.0
                error += resid
                rows.append({"from_year": int(a), "to_year": int(b), "dimension": d, "form": form, "n": len(pair),
                             "alpha": float(alpha), "beta": float(beta), "kappa": float(kappa)})
            errors[(int(a), int(b))] = float(np.std(error, ddof=1))
        if not rows:
            raise LeefbaarError("the nowcast correction needs two official years with all dimensions"
                                + (f" up to {until}" if until is not None else ""))
        self.pairs_ = pd.DataFrame(rows)
        best = self.pairs_.assign(rich=self.pairs_["form"] == "full").sort_values(["rich", "to_year"]).iloc[-1]
        self.pair_ = (int(best["from_year"]), int(best["to_year"]))
        span = self.span_ = self.pair_[1] - self.pair_[0]
        self.error_sd_ = errors[self.pair_]
        used = self.pairs_[(self.pairs_["from_year"] == self.pair_[0]) & (self.pairs_["to_year"] == self.pair_[1])]
        self.coef_ = {r.dimension: {"alpha": max(r.alpha, 0.0), "phi_r": max(1 + r.beta, 1e-6) ** (1 / span),
                                    "phi_o": max(1 + r.kappa, 1e-6) ** (1 / span)} for r in used.itertuples()}
        return self

    def _deviation(self, at_anchor: pd.DataFrame, anchor: np.ndarray, d: str) -> np.ndarray:
        """Official score of dimension d in the anchor year minus that year's mean (NaN without an anchor)."""
        centre = pd.Series(anchor).map({a: m for (a, dd), m in self.means_.items() if dd == d}).to_numpy(float)
        return at_anchor[d].to_numpy(float) - centre

    def correction(self, at_anchor: pd.DataFrame, residual: pd.DataFrame, model_change: pd.DataFrame,
                   anchor: np.ndarray, years: np.ndarray) -> pd.DataFrame:
        """Per row and dimension the correction v in score points (0 where there is no anchor or h <= 0).

        ``at_anchor``: official scores of each row's area in its anchor year; ``residual``: official minus
        model in the anchor year; ``model_change``: model in the row's year minus model in the anchor year.
        """
        anchor = np.asarray(anchor, float)
        h = np.clip(_horizon(anchor, years)[1], 0.0, None)
        out = pd.DataFrame(0.0, index=at_anchor.index, columns=list(self.coef_))
        for d, c in self.coef_.items():
            dev = self._deviation(at_anchor, anchor, d)
            v = ((c["alpha"] - 1) * model_change[d].to_numpy(float) + (c["phi_r"] ** h - 1)
                 * residual[d].to_numpy(float) + (c["phi_o"] ** h - 1) * dev)
            out[d] = np.where((h > 0) & np.isfinite(v), v, 0.0)
        return out

    def linear_terms(self, at_anchor: pd.DataFrame, anchor: np.ndarray, years: np.ndarray
                     ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The score of every row as ``c_now * m(t) + c_anchor * m(a) + const`` per dimension.

        m(t) is the model in the row's year and m(a) in its anchor year: with the correction (h > 0)
        ``c_now = alpha``, ``c_anchor = -alpha - (phi_r ** h - 1)``, ``const = phi_r ** h * o(a) + (phi_o ** h
        - 1) * dev(a)``; anchored before the anchor (h <= 0) 1, -1 and o(a); without an anchor 1, 0 and 0.
        Used by the Monte Carlo to redraw the model terms of both years.
        """
        anchor = np.asarray(anchor, float)
        has, h = _horizon(anchor, years)
        after = has & (h > 0)
        c_now, c_anchor, const = {}, {}, {}
        for d, c in self.coef_.items():
            o = at_anchor[d].to_numpy(float)
            decay_r, decay_o = c["phi_r"] ** np.clip(h, 0, None), c["phi_o"] ** np.clip(h, 0, None)
            c_now[d] = np.where(after, c["alpha"], 1.0)
            c_anchor[d] = np.where(after, -c["alpha"] - (decay_r - 1), np.where(has, -1.0, 0.0))
            dev = self._deviation(at_anchor, anchor, d)
            const[d] = np.where(after, decay_r * o + np.nan_to_num((decay_o - 1) * dev), np.where(has, o, 0.0))
        return c_now, c_anchor, const

    def error_sd(self, anchor: np.ndarray, years: np.ndarray) -> np.ndarray:
        """Nowcast error sd of afw per row: ``error_sd_ * sqrt(|h| / span_)`` (NaN without an anchor)."""
        anchor = np.asarray(anchor, float)
        return self.error_sd_ * np.sqrt(np.abs(np.asarray(years, float) - anchor) / self.span_)
