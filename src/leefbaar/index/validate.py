"""Validation of modelled scores against the official Leefbaarometer (``leefbaar validate``).

- ``cross_validate``: leave-gemeente-out cross-validation per official year (areas grouped by
  ``areas.gemeente_code``, ``folds`` groups of whole gemeenten; never random rows). For afw (total) and each
  dimension: R2, Spearman, mean absolute error, and class agreement (exact and within one class; LBM3 total
  classes for afw, component classes for the dimensions).
- ``out_of_time``: fit on one year (2018), predict later years (2020, 2022) from their own indicators.
  Levels are reported three times: ``level`` (model only), ``level_anchored`` (plus the area's official
  fit-year residual) and ``level_nowcast`` (anchored plus ``nowcast.NowcastCorrection``, fitted on official
  years up to the fit year only: this is how ``leefbaar score`` nowcasts). Changes against the official
  change from the fit year: ``change`` (model minus model; the residual cancels) and ``change_nowcast``
  (with the correction).
- ``baseline``: the same protocol with gradient boosting on the raw, untransformed PC4 indicators (no
  ethnicity, no spatial features), the reference named in the issue.
Scores are in Leefbaarometer points; all metrics compare with official values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.model_selection import GroupKFold
from threadpoolctl import threadpool_limits

from leefbaar.i18n import N_, translator
from leefbaar.index.classes import classify_component, classify_total
from leefbaar.index.model import LivabilityIndex
from leefbaar.index.nowcast import NowcastCorrection
from leefbaar.sources.catalogue import indicators as catalogue

TARGETS = ("afw", "won", "fys", "vrz", "soc", "onv")


def metrics(official: np.ndarray, predicted: np.ndarray, target: str, classes: bool = True) -> dict:
    ok = np.isfinite(official) & np.isfinite(predicted)
    y, p = official[ok], predicted[ok]
    out = {"n": int(ok.sum()), "r2": 1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum(),
           "spearman": spearmanr(y, p)[0], "mae": float(np.abs(y - p).mean())}
    if classes:
        classify = classify_total if target == "afw" else classify_component
        a, b = classify(y).astype(int), classify(p).astype(int)
        out["class_exact"] = float((a == b).mean())
        out["class_within1"] = float((np.abs(a - b) <= 1).mean())
    return out


def official_frame(panel: pd.DataFrame, spec) -> pd.DataFrame:
    """Official dimension scores and afw per panel row (NaN where not official)."""
    out = pd.DataFrame({d.code: panel[d.target].to_numpy(float) for d in spec.dimensions}, index=panel.index)
    out["afw"] = out.sum(axis=1, skipna=False)
    return out


def _predict_cv(fit_predict, d: pd.DataFrame, groups: np.ndarray, folds: int) -> pd.DataFrame:
    pred = pd.DataFrame(np.nan, index=d.index, columns=list(TARGETS))
    for tr, te in GroupKFold(folds).split(d, groups=groups):
        pred.iloc[te] = fit_predict(d.iloc[tr], d).iloc[te][list(TARGETS)].to_numpy()
    return pred


def index_fit_predict(spec, pairs):
    def run(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
        return LivabilityIndex(spec, pairs).fit(train, with_cov=False).score(test)
    return run


def raw_columns(panel: pd.DataFrame) -> list[str]:
    """Raw PC4 indicator columns for the baseline: no LBM, no sensitive, no status columns."""
    cat = catalogue()
    sensitive = set(cat.index[cat["sensitive"] == 1])
    skip = ("code", "year", "gemeente_code", "area_km2", "centroid_x_km", "centroid_y_km")
    return [c for c in panel.columns if c not in skip and not c.endswith("__status") and not c.startswith("lbm")
            and c not in sensitive and pd.api.types.is_numeric_dtype(panel[c])]


def baseline_fit_predict(spec, columns: list[str]):
    from sklearn.ensemble import HistGradientBoostingRegressor

    def run(train: pd.DataFrame, test: pd.DataFrame) -> pd.DataFrame:
        out = test[["code", "year"]].copy()
        cols = [c for c in columns if train[c].notna().sum() > 50]
        for d in spec.dimensions:
            keep = train[d.target].notna().to_numpy()
            m = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.08, random_state=0)
            m.fit(train.loc[keep, cols].to_numpy(float), train.loc[keep, d.target].to_numpy(float))
            out[d.code] = m.predict(test[cols].to_numpy(float))
        out["afw"] = out[list(spec.dimension_codes)].sum(axis=1)
        return out
    return run


def cross_validate(spec, panel: pd.DataFrame, pairs, years=(2018, 2020, 2022), folds: int = 10,
                   model: str = "index", progress=None) -> pd.DataFrame:
    """Leave-gemeente-out CV metrics per year and target (rows: model, year, target, metrics...)."""
    fp = index_fit_predict(spec, pairs) if model == "index" else baseline_fit_predict(spec, raw_columns(panel))
    rows = []
    with threadpool_limits(limits=1):
        for y in years:
            d = panel[panel["year"] == y]
            off = official_frame(d, spec)
            d = d[off["afw"].notna().to_numpy()]
            off = off.loc[d.index]
            groups = d["gemeente_code"].fillna("onbekend").to_numpy()
            pred = _predict_cv(fp, d, groups, folds)
            for t in TARGETS:
                rows.append({"model": model, "year": y, "target": t,
                             **metrics(off[t].to_numpy(), pred[t].to_numpy(float), t)})
            if progress:
                progress(f"cv {model} {y}")
    return pd.DataFrame(rows)


def out_of_time(spec, panel: pd.DataFrame, pairs, official: pd.DataFrame | None = None, fit_year: int = 2018,
                test_years=(2020, 2022), model: str = "index") -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Fit on ``fit_year`` only; metrics for levels and changes in ``test_years`` (see the module docstring).

    ``official``: all official dimension scores (``nowcast.load_official``) for the nowcast correction; without
    it the nowcast rows are left out. Returns the metrics and the correction's ``pairs_`` (or None).
    """
    fp = index_fit_predict(spec, pairs) if model == "index" else baseline_fit_predict(spec, raw_columns(panel))
    dims = list(spec.dimension_codes)
    rows = []
    with threadpool_limits(limits=1):
        train = panel[panel["year"] == fit_year]
        train = train[official_frame(train, spec)["afw"].notna().to_numpy()]
        past = panel[panel["year"] <= fit_year]
        past = past[official_frame(past, spec)["afw"].notna().to_numpy()].reset_index(drop=True)
        pred_past = fp(train, past)
        correction = None
        if official is not None:
            correction = NowcastCorrection().fit(official, dims, modelled=pred_past[["code", "year", *dims]],
                                                 until=fit_year)
        pred_base = pred_past[pred_past["year"] == fit_year].set_index("code")
        off_base = official_frame(past[past["year"] == fit_year].reset_index(drop=True), spec).set_axis(
            pred_base.index)
        for y in test_years:
            d = panel[panel["year"] == y].reset_index(drop=True)
            off = official_frame(d, spec)
            pred = fp(train, d)
            codes = d["code"].to_numpy()
            p0 = pred_base.reindex(codes).reset_index(drop=True)
            o0 = off_base.reindex(codes).reset_index(drop=True)
            corr = None
            if correction is not None:
                corr = correction.correction(o0[dims], o0[dims] - p0[dims], pred[dims] - p0[dims],
                                             np.full(len(d), float(fit_year)), d["year"].to_numpy())
                corr["afw"] = corr[dims].sum(axis=1)
            for t in TARGETS:
                o, p = off[t].to_numpy(), pred[t].to_numpy(float)
                key = {"model": model, "fit_year": fit_year, "year": y, "target": t}
                anchored = p + (o0[t].to_numpy() - p0[t].to_numpy())
                change_o, change_p = o - o0[t].to_numpy(), p - p0[t].to_numpy()
                rows.append({**key, "kind": "level", **metrics(o, p, t)})
                rows.append({**key, "kind": "level_anchored", **metrics(o, anchored, t)})
                if corr is not None:
                    rows.append({**key, "kind": "level_nowcast", **metrics(o, anchored + corr[t].to_numpy(), t)})
                rows.append({**key, "kind": "change", **metrics(change_o, change_p, t, classes=False)})
                if corr is not None:
                    rows.append({**key, "kind": "change_nowcast",
                                 **metrics(change_o, change_p + corr[t].to_numpy(), t, classes=False)})
    if correction is None:
        return pd.DataFrame(rows), None
    used = correction.pairs_["to_year"] == correction.pair_[1]
    return pd.DataFrame(rows), correction.pairs_.assign(model=model, fit_year=fit_year, used=used)


KINDS = {"level": N_("level, model"), "level_anchored": N_("level, anchored"), "level_nowcast": N_("level, nowcast"),
         "change": N_("change, model"), "change_nowcast": N_("change, nowcast")}
"""What an out-of-time row measures (``kind``), as shown."""


def summary_markdown(cv: pd.DataFrame, oot: pd.DataFrame, corrections: pd.DataFrame, lang: str = "nl") -> str:
    """A short readable summary of ``cross_validate``, ``out_of_time`` (one or more fit years) and the nowcast
    corrections; the change target is judged on the first fit year and the last test year."""
    _ = translator(lang)
    fit = int(oot["fit_year"].min())
    last = int(oot.loc[oot["fit_year"] == fit, "year"].max())
    afw = cv[cv["target"] == "afw"]
    dims = cv.pivot_table(index=["model", "year"], columns="target", values="r2").reset_index()
    o = oot[oot["target"] == "afw"].copy()
    o["kind"] = o["kind"].map(lambda k: _(KINDS[k]) if k in KINDS else k)
    index_cv = afw[afw["model"] == "index"]
    chg = oot.query("model == 'index' and target == 'afw' and fit_year == @fit and year == @last "
                    "and kind.str.startswith('change')")
    yes = lambda ok: _("yes") if ok else _("no")  # noqa: E731
    parts = [
        "# " + _("Validation against the official Leefbaarometer 3 (PC4)"), "",
        _("Targets: R² ≥ {r2_min} and Spearman ≥ {sp_min} for the total; Spearman of the change {fit}→{last} ≥ "
          "{chg_min}. Met: R² {r2}, Spearman {sp}, change {chg}.", r2_min=_.number(0.90, 2), sp_min=_.number(0.95, 2),
          chg_min=_.number(0.7, 1), fit=fit, last=last, r2=yes((index_cv["r2"] >= 0.90).all()),
          sp=yes((index_cv["spearman"] >= 0.95).all()), chg=yes((chg["spearman"] >= 0.7).any())),
        "", "## " + _("Leave-gemeente-out cross-validation, total (afw)"), "",
        afw[["model", "year", "n", "r2", "spearman", "mae", "class_exact", "class_within1"]].round(3)
        .to_markdown(index=False),
        "", "## " + _("Cross-validation per dimension: R²"), "", dims.round(3).to_markdown(index=False),
        "", "## " + _("Out of time: model fitted on one year (fit_year), predicted for later years (total)"), "",
        o[["model", "fit_year", "year", "kind", "n", "r2", "spearman", "mae"]].round(3).to_markdown(index=False),
        "", "## " + _("Nowcast correction per pair of official years up to the fit year (used: applied)"), "",
        corrections.round(4).to_markdown(index=False), "",
    ]
    return "\n".join(parts)
