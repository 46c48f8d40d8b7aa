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
    en = lang == "en"
    a = tables["association"]
    comp = tables["variant"].set_index("spec")
    base, var = comp.index[0], comp.index[1]

    def num(x: float, d: int = 2) -> str:
        s = f"{x:.{d}f}"
        return s if en else s.replace(".", ",")

    def pick(spec, score, share="migration"):
        return float(a.query(f"spec == '{spec}' and year == {year} and share == '{share}' and score == '{score}'")
                     ["pearson"].iloc[0])

    off, mod, res = pick(base, "official afw"), pick(base, "modelled afw"), pick(base, "residual")
    top = tables["proxies"].head(5)
    lines = []
    if en:
        lines += [f"# Discrimination audit of the index '{base}' ({year})", "",
                  "The index does not use any indicator of ethnicity or migration background. This audit reads "
                  "those shares only to check whether the index still tracks them through other indicators.", "",
                  "## Findings", "",
                  f"- The official Leefbaarometer correlates {num(off)} with the share of residents with a "
                  f"migration background; our modelled score {num(mod)}.",
                  f"- What the model leaves unexplained (official minus modelled) correlates {num(res)} with that "
                  "share: " + ("the model does not systematically under- or overrate areas with many migrants."
                               if abs(res) < 0.1 else "areas with many migrants are systematically "
                               + ("underrated" if res > 0 else "overrated") + " by the model."),
                  f"- Adding ethnicity shares (variant '{var}', as the Leefbaarometer 2.0 did) changes accuracy "
                  f"from R² {num(comp.loc[base, 'cv_r2_afw'])} to {num(comp.loc[var, 'cv_r2_afw'])} and the "
                  f"correlation with the share from {num(comp.loc[base, 'corr_modelled_migration'])} to "
                  f"{num(comp.loc[var, 'corr_modelled_migration'])}.", "",
                  "## Which indicators carry the association", ""]
    else:
        lines += [f"# Discriminatie-audit van de index '{base}' ({year})", "",
                  "De index gebruikt geen enkele indicator van etniciteit of migratieachtergrond. Deze audit leest "
                  "die aandelen alleen om na te gaan of de index ze via andere indicatoren toch volgt.", "",
                  "## Bevindingen", "",
                  f"- De officiële Leefbaarometer hangt {num(off)} samen (correlatie) met het aandeel inwoners "
                  f"met een migratieachtergrond; onze gemodelleerde score {num(mod)}.",
                  f"- Wat het model niet verklaart (officieel min gemodelleerd) hangt {num(res)} samen met dat "
                  "aandeel: " + ("het model waardeert buurten met veel inwoners met een migratieachtergrond niet "
                                 "stelselmatig lager of hoger." if abs(res) < 0.1 else
                                 "het model waardeert zulke buurten stelselmatig "
                                 + ("lager" if res > 0 else "hoger") + " dan de officiële score."),
                  f"- Met etniciteitsaandelen erbij (variant '{var}', zoals de Leefbaarometer 2.0 deed) verandert "
                  f"de nauwkeurigheid van R² {num(comp.loc[base, 'cv_r2_afw'])} naar "
                  f"{num(comp.loc[var, 'cv_r2_afw'])} en de samenhang met het aandeel van "
                  f"{num(comp.loc[base, 'corr_modelled_migration'])} naar "
                  f"{num(comp.loc[var, 'corr_modelled_migration'])}.", "",
                  "## Welke indicatoren dragen de samenhang", ""]
    lines += ["| indicator | " + ("part of the correlation | share" if en else "deel van de correlatie | aandeel")
              + " |", "|---|---:|---:|"]
    lines += [f"| {r.indicator} | {num(r.corr_part, 3)} | {num(100 * r.share_of_corr, 0)}% |"
              for r in top.itertuples()]
    lines += ["", "## " + ("What removing an indicator does" if en else "Wat weglaten van een indicator doet"), "",
              "| " + ("removed | correlation | change | R² (CV) | change" if en else
                     "weggelaten | correlatie | verandering | R² (CV) | verandering") + " |",
              "|---|---:|---:|---:|---:|"]
    lines += [f"| {r.removed} | {num(r.corr_migration)} | {num(r.corr_change)} | {num(r.cv_r2_afw)} | "
              f"{num(r.cv_r2_change, 3)} |" for r in tables["removal"].itertuples()]
    lines += ["", ("Reading guide: a correlation near 0 means no systematic relation; R² is the share of the "
                   "variation of the official score that the index reproduces in gemeenten it was not fitted on."
                   if en else "Leeswijzer: een correlatie rond 0 betekent geen stelselmatig verband; R² is het deel "
                   "van de variatie in de officiële score dat de index reproduceert in gemeenten waarop hij niet "
                   "is geschat."), ""]
    return "\n".join(lines)
