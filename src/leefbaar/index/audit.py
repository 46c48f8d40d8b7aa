"""Discrimination audit of an index (``leefbaar audit``).

The audit reads the migration-background shares of the store; the audited index never uses them.

1. Association: Pearson and Spearman correlation, per official year, of the official afw, the modelled afw
   and the model residual (official - modelled) with the share of residents with a migration background
   (100 - % Dutch background; from 2022 100 - % born in NL of Dutch origin) and with the non-western share
   (p_nw_mig_a; from 2022 the two 'outside Europe' shares added).
2. Proxy detection: the covariance of the modelled afw with the share splits exactly over the additive terms
   (cov(afw, s) = sum_j cov(c_j, s)); each indicator's part of the correlation is reported. For the
   strongest carriers the index is refitted without that indicator: the change in correlation and in
   accuracy (R2 of afw against the official afw, leave-gemeente-out) shows what removing it would cost.
3. Variant: the same comparison for the LBM2-like spec that includes ethnicity shares (``lbm2_like``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
from scipy.stats import pearsonr, spearmanr
from threadpoolctl import threadpool_limits

from leefbaar.i18n import fmt_number, fmt_percent, translator
from leefbaar.index.features import LAG_SUFFIX
from leefbaar.index.model import BASELINE, LivabilityIndex
from leefbaar.index.spec import IndexSpec
from leefbaar.index.validate import cross_validate, official_frame

SHARE_INDICATORS = ["p_nl_achtg", "p_nw_mig_a", "percentage_geb_nederland_herkomst_nederland",
                    "percentage_geb_nederland_herkomst_buiten_europa",
                    "percentage_geb_buiten_nederland_herkmst_buiten_europa"]


def shares(panel: pd.DataFrame) -> pd.DataFrame:
    """migration (%) and non_western (%) per panel row, harmonised over the 2022 change of definition."""
    def col(c):
        return panel[c].to_numpy(float) if c in panel.columns else np.full(len(panel), np.nan)

    old = ~np.isnan(col("p_nl_achtg"))
    migration = np.where(old, 100 - col("p_nl_achtg"), 100 - col("percentage_geb_nederland_herkomst_nederland"))
    non_western = np.where(old, col("p_nw_mig_a"), col("percentage_geb_nederland_herkomst_buiten_europa")
                           + col("percentage_geb_buiten_nederland_herkmst_buiten_europa"))
    return pd.DataFrame({"migration": migration, "non_western": non_western}, index=panel.index)


def _corr(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(a) & np.isfinite(b)
    return float(pearsonr(a[ok], b[ok])[0]), float(spearmanr(a[ok], b[ok])[0])


def association(model: LivabilityIndex, panel: pd.DataFrame, spec: IndexSpec, years) -> pd.DataFrame:
    rows = []
    sh = shares(panel)
    score = model.score(panel)
    off = official_frame(panel, spec)
    for y in years:
        m = (panel["year"] == y).to_numpy() & off["afw"].notna().to_numpy()
        for share in ("migration", "non_western"):
            s = sh[share].to_numpy()[m]
            for what, v in (("official afw", off["afw"].to_numpy()[m]), ("modelled afw", score["afw"].to_numpy()[m]),
                            ("residual", off["afw"].to_numpy()[m] - score["afw"].to_numpy()[m])):
                r, rho = _corr(v, s)
                rows.append({"spec": spec.name, "year": y, "share": share, "score": what, "pearson": r,
                             "spearman": rho})
    return pd.DataFrame(rows)


def proxy_table(model: LivabilityIndex, panel: pd.DataFrame, year: int, share: str = "migration") -> pd.DataFrame:
    """Exact split of corr(modelled afw, share) over indicators (lags and own value summed)."""
    m = (panel["year"] == year).to_numpy()
    d = panel[m]
    s = shares(d)[share].to_numpy()
    ok = np.isfinite(s)
    parts = model.contributions(d)
    total = sum(f.drop(columns=BASELINE).sum(axis=1) for f in parts.values()).to_numpy()[ok]
    sd = total.std() * s[ok].std()
    carried: dict[str, float] = {}
    for frame in parts.values():
        for col in frame.columns.drop(BASELINE):
            key = col.removesuffix(LAG_SUFFIX)
            c = frame[col].to_numpy()[ok]
            carried[key] = carried.get(key, 0.0) + float(np.mean((c - c.mean()) * (s[ok] - s[ok].mean())) / sd)
    out = pd.DataFrame({"indicator": list(carried), "corr_part": list(carried.values())})
    out["share_of_corr"] = out["corr_part"] / out["corr_part"].sum()
    return out.sort_values("corr_part", key=lambda v: -v.abs(), ignore_index=True)


def without(spec: IndexSpec, key: str) -> IndexSpec:
    """The spec with indicator feature ``key`` removed from every dimension (dimensions left empty keep it)."""
    dims = []
    for d in spec.dimensions:
        kept = tuple(i for i in d.indicators if i.key != key)
        dims.append(replace(d, indicators=kept or d.indicators))
    return replace(spec, dimensions=tuple(dims), name=f"{spec.name}-{key}")


def run_audit(spec: IndexSpec, variant: IndexSpec, panel: pd.DataFrame, pairs, years=(2018, 2020),
              top: int = 5, folds: int = 5, progress=None) -> dict[str, pd.DataFrame]:
    """All audit tables: association, proxies, removal, variant (see module docstring)."""
    step = progress or (lambda msg: None)
    with threadpool_limits(limits=1):
        fit_rows = panel[panel["year"].isin(years)]
        model = LivabilityIndex(spec, pairs).fit(fit_rows, with_cov=False)
        step("association")
        assoc = association(model, fit_rows, spec, years)
        year = years[0]
        proxies = proxy_table(model, fit_rows, year)
        step("removal")
        one = fit_rows[fit_rows["year"] == year]
        base_cv = cross_validate(spec, one, pairs, years=[year], folds=folds)
        base_r2 = float(base_cv.query("target == 'afw'")["r2"].iloc[0])
        base_corr = float(assoc.query(f"year == {year} and share == 'migration' and score == 'modelled afw'")
                          ["pearson"].iloc[0])
        removal = []
        keys = [k for k in proxies["indicator"] if not k.startswith("_")][:top]
        for key in keys:
            reduced = without(spec, key)
            m2 = LivabilityIndex(reduced, pairs).fit(one, with_cov=False)
            r = _corr(m2.score(one)["afw"].to_numpy(), shares(one)["migration"].to_numpy())[0]
            cv = cross_validate(reduced, one, pairs, years=[year], folds=folds)
            removal.append({"removed": key, "corr_migration": r, "corr_change": r - base_corr,
                            "cv_r2_afw": float(cv.query("target == 'afw'")["r2"].iloc[0]),
                            "cv_r2_change": float(cv.query("target == 'afw'")["r2"].iloc[0]) - base_r2})
            step(f"removal {key}")
        step("variant")
        vmodel = LivabilityIndex(variant, pairs).fit(fit_rows, with_cov=False)
        vassoc = association(vmodel, fit_rows, variant, years)
        vcv = cross_validate(variant, one, pairs, years=[year], folds=folds)
        compare = pd.DataFrame([
            {"spec": spec.name, "uses_ethnicity": False, "cv_r2_afw": base_r2,
             "cv_spearman_afw": float(base_cv.query("target == 'afw'")["spearman"].iloc[0]),
             "corr_modelled_migration": base_corr,
             "corr_residual_migration": float(assoc.query(f"year == {year} and share == 'migration' and "
                                                          "score == 'residual'")["pearson"].iloc[0])},
            {"spec": variant.name, "uses_ethnicity": True,
             "cv_r2_afw": float(vcv.query("target == 'afw'")["r2"].iloc[0]),
             "cv_spearman_afw": float(vcv.query("target == 'afw'")["spearman"].iloc[0]),
             "corr_modelled_migration": float(vassoc.query(f"year == {year} and share == 'migration' and "
                                                           "score == 'modelled afw'")["pearson"].iloc[0]),
             "corr_residual_migration": float(vassoc.query(f"year == {year} and share == 'migration' and "
                                                           "score == 'residual'")["pearson"].iloc[0])},
        ])
    return {"association": pd.concat([assoc, vassoc], ignore_index=True), "proxies": proxies,
            "removal": pd.DataFrame(removal), "variant": compare}


def report(tables: dict[str, pd.DataFrame], year: int, lang: str = "nl") -> str:
    """A Markdown report for policy makers."""
    _ = translator(lang)
    a = tables["association"]
    comp = tables["variant"].set_index("spec")
    base, var = comp.index[0], comp.index[1]

    def num(x: float, d: int = 2) -> str:
        return fmt_number(x, lang, d, group=False)

    def pick(spec, score, share="migration"):
        return float(a.query(f"spec == '{spec}' and year == {year} and share == '{share}' and score == '{score}'")
                     ["pearson"].iloc[0])

    off, mod, res = pick(base, "official afw"), pick(base, "modelled afw"), pick(base, "residual")
    top = tables["proxies"].head(5)
    if abs(res) < 0.1:
        residual = _("What the model leaves unexplained (official minus modelled) correlates {r} with that share: the "
                     "model does not systematically under- or overrate areas with many residents with a migration "
                     "background.", r=num(res))
    elif res > 0:
        residual = _("What the model leaves unexplained (official minus modelled) correlates {r} with that share: "
                     "areas with many residents with a migration background are systematically underrated by the "
                     "model.", r=num(res))
    else:
        residual = _("What the model leaves unexplained (official minus modelled) correlates {r} with that share: "
                     "areas with many residents with a migration background are systematically overrated by the "
                     "model.", r=num(res))
    lines = ["# " + _("Discrimination audit of the index '{spec}' ({year})", spec=base, year=year), "",
             _("The index does not use any indicator of ethnicity or migration background. This audit reads those "
               "shares only to check whether the index still tracks them through other indicators."), "",
             "## " + _("Findings"), "",
             "- " + _("The official Leefbaarometer correlates {official} with the share of residents with a migration "
                      "background; our modelled score {modelled}.", official=num(off), modelled=num(mod)),
             "- " + residual,
             "- " + _("Adding ethnicity shares (variant '{variant}', as the Leefbaarometer 2.0 did) changes accuracy "
                      "from R² {r2_base} to {r2_variant} and the correlation with the share from {corr_base} to "
                      "{corr_variant}.", variant=var, r2_base=num(comp.loc[base, "cv_r2_afw"]),
                      r2_variant=num(comp.loc[var, "cv_r2_afw"]),
                      corr_base=num(comp.loc[base, "corr_modelled_migration"]),
                      corr_variant=num(comp.loc[var, "corr_modelled_migration"])), "",
             "## " + _("Which indicators carry the association"), "",
             "| " + _("indicator | part of the correlation | share") + " |", "|---|---:|---:|"]
    lines += [f"| {r.indicator} | {num(r.corr_part, 3)} | {fmt_percent(r.share_of_corr, lang)} |"
              for r in top.itertuples()]
    lines += ["", "## " + _("What removing an indicator does"), "",
              "| " + _("removed | correlation | change | R² (CV) | change") + " |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r.removed} | {num(r.corr_migration)} | {num(r.corr_change)} | {num(r.cv_r2_afw)} | "
              f"{num(r.cv_r2_change, 3)} |" for r in tables["removal"].itertuples()]
    lines += ["", _("Reading guide: a correlation near 0 means no systematic relation; R² is the share of the "
                    "variation of the official score that the index reproduces in gemeenten it was not fitted on."), ""]
    return "\n".join(lines)
