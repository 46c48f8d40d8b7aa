"""The index at buurt level: a spec (the default one unless told) calibrated and validated on the Rijnmond
buurten against the official Leefbaarometer 2024 buurt scores.

Data: the CBS Kerncijfers wijken en buurten 2024 of the 625 buurten of 12 Rijnmond gemeenten (family
``kwb_buurt``), of which 509 carry an official LBM 2024 score (``lbm_afw``, ``lbm_won`` .. ``lbm_onv`` and the
official classes). Scores are Leefbaarometer score points (afw = deviation from the national reference;
higher is better).

Features. The spec is written for PC4 counts; the buurt file gives most of the same concepts as percentages.
``DERIVED`` rebuilds the spec's counts from them (``won_hcorp = p_huko_won x woning / 100``, ...), so that a
feature means the same at both levels. ``uitkminaow`` (WW, bijstand or AO below AOW age) is approximated by
AO + WW + bijstand (persons, all ages; a person with two benefits counts twice). Indicators the buurt file
lacks altogether (income, building periods before 2015, single-parent households, electricity use) are left
out of the buurt spec and listed in ``notes``. Spatial lags use fuzzy contiguity (polygons within
``NEIGHBOUR_BUFFER_M`` metres), because the buurt boundaries come from two simplified sources that do not
always touch.

Three ways to a buurt score, each validated on the 509 scored buurten, grouped by gemeente:

- ``buurt``: calibrated on the Rijnmond buurten, leave one gemeente out (12 folds): every buurt is predicted
  by a model that saw no buurt of its own gemeente;
- ``pc4``: calibrated nationally on PC4 (the spec's level and target years), applied to the buurten as it is
  (no buurt score used at all);
- ``pc4+buurt``: the PC4 model with a per-dimension linear recalibration (a + b x score) fitted on the buurten
  of the other gemeenten (leave one gemeente out).

On request (``baseline=True``) a fourth, ``baseline``, is the PC4 validation's reference: gradient boosting
on the raw buurt indicators (no ethnicity, no spatial features), leave one gemeente out.

The validation table has the layout of the PC4 validation (``leefbaar validate``): per model (variant) and
target (afw and the five dimensions) n, R2, Spearman, MAE and the class agreement (exact and within one
class; total classes for afw, component classes for the dimensions), plus Pearson r, RMSE and bias (mean of
predicted minus official). Every Rijnmond buurt (also the 116 without an official score) is then scored by
the index variant with the highest out-of-gemeente R2 for afw, fitted on all scored buurten.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from leefbaar.errors import StoreError
from leefbaar.i18n import N_, check_lang, translator
from leefbaar.index.classes import classify_total
from leefbaar.index.features import contiguity, load_panel, neighbour_pairs
from leefbaar.index.model import LivabilityIndex
from leefbaar.index.spec import IndexSpec, load_spec
from leefbaar.index.validate import baseline_fit_predict, metrics, raw_columns
from leefbaar.store.store import Store

DIMENSIONS = ("won", "fys", "vrz", "soc", "onv")
COMPONENTS = ("afw", *DIMENSIONS)
KWB_FAMILY = "kwb_buurt"
NEIGHBOUR_BUFFER_M = 25.0
DERIVED = {
    "won_hcorp": ("p_huko_won", "woning"), "won_mrgez": ("p_mgezw", "woning"), "won_nbew": ("p_leegsw", "woning"),
    "won_1524": ("p_bjj_laatste10", "woning"), "inw_014": ("p_00_14_jr", "inwoner"),
    "inw_1524": ("p_15_24_jr", "inwoner"), "inw_2544": ("p_25_44_jr", "inwoner"),
    "inw_65pl": ("p_65_eo_jr", "inwoner"), "tothh_eenp": ("p_eenp_hh", "aantal_hh"),
}
"""PC4 count id -> (buurt percentage id, base id): count = percentage x base / 100. ``won_1524`` (built 2015 or
later) is taken as the share built in the last ten years."""
BENEFITS = ("a_ao_uitk", "a_ww_uitk", "a_bijstand")
"""Summed as the buurt stand-in for ``uitkminaow``."""
VARIANTS = ("buurt", "pc4", "pc4+buurt")


def _targets(spec: IndexSpec) -> dict[str, str]:
    return {d.code: d.target for d in spec.dimensions}


def rijnmond_codes(store: Store, year: int = 2024) -> list[str]:
    """The buurten with KWB buurt figures (the Rijnmond file) in ``year``."""
    codes = store.sql("SELECT DISTINCT o.code FROM observations o JOIN sources s USING (source_id) "
                      "WHERE s.family = ? AND o.level = 'buurt' AND o.year = ? ORDER BY 1",
                      [KWB_FAMILY, year])["code"].tolist()
    if not codes:
        raise StoreError(f"the store holds no CBS buurt figures for {year} (buurt/*_kwb{year}_buurt.csv)")
    return codes


def buurt_panel(store: Store, spec: IndexSpec, year: int = 2024) -> pd.DataFrame:
    """The Rijnmond buurten as a panel in the spec's terms (``features.load_panel`` at buurt level: code, year,
    gemeente_code, geometry columns, the spec's indicators with ``__status``), with the ``DERIVED`` counts
    rebuilt from percentages, ``uitkminaow`` from ``BENEFITS``, the buurt ``name`` and the official classes
    ``lbm_klasse`` .. ``lbm_klasse_onv``."""
    codes = rijnmond_codes(store, year)
    have = set(store.indicators()["id"])
    extra = {p for p, _ in DERIVED.values()} | {b for _, b in DERIVED.values()} | set(BENEFITS)
    extra |= {"lbm_klasse", *(f"lbm_klasse_{d}" for d in DIMENSIONS)}
    panel = load_panel(store, replace(spec, level="buurt"), [year], extra=sorted(extra & have))
    panel = panel[panel["code"].isin(codes)].reset_index(drop=True)
    for col in sorted(extra - set(panel.columns)):
        panel[col], panel[f"{col}__status"] = np.nan, "missing"
    for count, (pct, base) in DERIVED.items():
        panel[count] = panel[pct] * panel[base] / 100.0
        panel[f"{count}__status"] = np.where(panel[count].notna(), "ok", "missing")
    panel["uitkminaow"] = panel[list(BENEFITS)].sum(axis=1, min_count=len(BENEFITS))
    panel["uitkminaow__status"] = np.where(panel["uitkminaow"].notna(), "ok", "missing")
    panel["name"] = panel["code"].map(store.areas("buurt", year).set_index("code")["name"])
    return panel


def buurt_spec(spec: IndexSpec, panel: pd.DataFrame) -> tuple[IndexSpec, list[str]]:
    """The spec at buurt level: indicators with no value in the buurt panel left out. Returns the spec and
    the ids left out."""
    def usable(ind) -> bool:
        ok = ind.id in panel and panel[ind.id].notna().any()
        return ok and (not ind.per or ind.per == "area_km2" or (ind.per in panel and panel[ind.per].notna().any()))

    dropped, dims = [], []
    for d in spec.dimensions:
        keep = tuple(i for i in d.indicators if usable(i))
        dropped += [i.id for i in d.indicators if not usable(i)]
        dims.append(replace(d, indicators=keep))
    return replace(spec, level="buurt", dimensions=tuple(dims)), sorted(set(dropped))


def buurt_pairs(store: Store, codes: list[str], year: int = 2024):
    """Neighbour pairs among ``codes``: polygons within ``NEIGHBOUR_BUFFER_M`` metres of each other."""
    from libpysal.weights import fuzzy_contiguity

    geo = store.geometries("buurt", year)
    geo = geo[geo["code"].isin(codes)].set_index("code")[["geometry"]].copy()
    return neighbour_pairs(fuzzy_contiguity(geo, buffering=True, buffer=NEIGHBOUR_BUFFER_M, drop=False))


def validation_metrics(pred: pd.Series, official: pd.Series, target: str) -> dict:
    """The PC4 validation metrics (``leefbaar.index.validate.metrics``: n, R2, Spearman, MAE, class agreement
    exact and within one; classes of the official and the predicted score) plus Pearson r, RMSE and bias
    (mean of predicted minus official)."""
    o, p = official.to_numpy(float), pred.to_numpy(float)
    out = metrics(o, p, target)
    ok = np.isfinite(o) & np.isfinite(p)
    out.update(pearson_r=float(np.corrcoef(p[ok], o[ok])[0, 1]), rmse=float(np.sqrt(np.mean((p[ok] - o[ok]) ** 2))),
               bias=float(np.mean(p[ok] - o[ok])))
    return out


@dataclass
class BuurtValidation:
    """Results of ``validate_buurt``.

    ``predictions``: per scored buurt and model the out-of-gemeente (for ``pc4``: out-of-level) prediction
    of every target next to the official score. ``table``: the validation table (model x target, PC4
    layout). ``by_gemeente``: per model and gemeente n, r, RMSE and bias of afw. ``scores``: every Rijnmond buurt
    scored by ``chosen``. ``indicators``: indicators per dimension in the buurt spec. ``notes``: what was
    left out or approximated, in Dutch and English.
    """

    predictions: pd.DataFrame
    table: pd.DataFrame
    by_gemeente: pd.DataFrame
    scores: pd.DataFrame
    chosen: str
    spec_name: str
    n_buurten: int
    n_scored: int
    n_gemeenten: int
    indicators: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _score(model: LivabilityIndex, panel: pd.DataFrame, pairs) -> pd.DataFrame:
    """Score ``panel`` with ``model``, its spatial lags taken among the panel's own buurten."""
    model.matrix_.pairs = pairs
    model.pairs = pairs
    return model.score(panel)


def _logo(panel: pd.DataFrame, scored: np.ndarray, fit_predict) -> pd.DataFrame:
    """Leave-one-gemeente-out predictions for the scored rows: ``fit_predict(train_mask, test_mask)`` returns a
    frame of components for the test rows."""
    parts = []
    for gm in sorted(panel.loc[scored, "gemeente_code"].unique()):
        test = scored & (panel["gemeente_code"] == gm).to_numpy()
        train = scored & ~test
        parts.append(fit_predict(train, test).assign(fold=gm))
    return pd.concat(parts).sort_index()


def validate_buurt(store: Store, spec: IndexSpec | str = "default", year: int = 2024,
                   pc4_years: tuple[int, ...] | None = None, baseline: bool = False, progress=None
                   ) -> BuurtValidation:
    """Calibrate and validate ``spec`` at buurt level (see the module docstring). ``pc4_years``: the PC4 years
    for the national calibration (default: every year in which all PC4 targets are published); the ``pc4``
    variants are skipped with a note when the store holds no PC4 data. ``baseline``: add the gradient-boosting
    reference of the PC4 validation."""
    with threadpool_limits(limits=1):  # BLAS and OpenMP threads oversubscribe a shared machine badly
        return _validate(store, load_spec(spec) if isinstance(spec, str) else spec, year, pc4_years, baseline,
                         progress or (lambda *_: None))


def _validate(store: Store, spec: IndexSpec, year: int, pc4_years, with_baseline: bool, progress
              ) -> BuurtValidation:
    panel = buurt_panel(store, spec, year)
    bspec, dropped = buurt_spec(spec, panel)
    targets = _targets(bspec)
    scored = panel[list(targets.values())].notna().all(axis=1).to_numpy()
    pairs = buurt_pairs(store, panel["code"].tolist(), year) if spec.spatial_lag else None
    notes = [f"Buurtspec: {len(dropped)} indicatoren ontbreken op buurtniveau en zijn weggelaten: "
             f"{', '.join(dropped)}. | Buurt spec: {len(dropped)} indicators are not available per buurt and "
             f"were left out: {', '.join(dropped)}.",
             "uitkminaow is benaderd met AO + WW + bijstand (personen); won_1524 met het aandeel woningen van de "
             "laatste tien jaar. | uitkminaow is approximated by AO + WW + bijstand (persons); won_1524 by the "
             "share of dwellings built in the last ten years."]
    n_gm = panel.loc[scored, "gemeente_code"].nunique()
    steps = iter(range(1, n_gm + 4))

    def buurt_fit(train, test):
        progress("buurt: calibrating without one gemeente", next(steps), n_gm + 3)
        model = LivabilityIndex(bspec, pairs=pairs).fit(panel[train], with_cov=False)
        return _score(model, panel, pairs)[list(COMPONENTS)][test]

    preds = {"buurt": _logo(panel, scored, buurt_fit)}
    if with_baseline:
        progress("baseline: gradient boosting per gemeente", next(steps), n_gm + 3)
        fit = baseline_fit_predict(bspec, raw_columns(panel))
        preds["baseline"] = _logo(panel, scored, lambda train, test: fit(panel[train], panel)[list(COMPONENTS)][test])
    base = None
    progress("pc4: national calibration", next(steps), n_gm + 3)
    pc4_model = _pc4_model(store, bspec, pc4_years, notes)
    if pc4_model is not None:
        base = _score(pc4_model, panel, pairs)
        preds["pc4"] = base[list(COMPONENTS)][scored].assign(fold=panel.loc[scored, "gemeente_code"])

        def recalibrate(train, test):
            out = pd.DataFrame(index=panel.index[test])
            for d in DIMENSIONS:
                a, b = np.polyfit(base.loc[train, d], panel.loc[train, targets[d]], 1)[::-1]
                out[d] = a + b * base.loc[test, d]
            out["afw"] = out[list(DIMENSIONS)].sum(axis=1)
            return out[list(COMPONENTS)]

        preds["pc4+buurt"] = _logo(panel, scored, recalibrate)
    table, pred_rows, by_gm = [], [], []
    official = {d: panel[targets[d]] for d in DIMENSIONS}
    official["afw"] = panel[[targets[d] for d in DIMENSIONS]].sum(axis=1)
    for variant, p in preds.items():
        for c in COMPONENTS:
            table.append({"model": variant, "year": year, "target": c,
                          **validation_metrics(p[c], official[c].loc[p.index], c)})
        pred_rows.append(pd.DataFrame({"code": panel.loc[p.index, "code"], "name": panel.loc[p.index, "name"],
                                       "gemeente_code": p["fold"], "model": variant,
                                       **{c: p[c] for c in COMPONENTS},
                                       **{f"official_{c}": official[c].loc[p.index] for c in COMPONENTS}}))
        for gm, g in p.groupby("fold"):
            o = official["afw"].loc[g.index]
            by_gm.append({"model": variant, "gemeente_code": gm, "n": len(g),
                          "pearson_r": g["afw"].corr(o) if len(g) > 2 else np.nan,
                          "rmse": float(np.sqrt(np.mean((g["afw"] - o) ** 2))),
                          "bias": float(np.mean(g["afw"] - o))})
    table = pd.DataFrame(table)
    afw = table[(table["target"] == "afw") & table["model"].isin(VARIANTS)].set_index("model")["r2"]
    chosen = str(afw.idxmax())
    progress(f"scoring every buurt ({chosen})", next(steps), n_gm + 3)
    scores = _final_scores(panel, bspec, pairs, chosen, base, targets, scored)
    return BuurtValidation(pd.concat(pred_rows, ignore_index=True), table, pd.DataFrame(by_gm), scores, chosen,
                           spec.name, len(panel), int(scored.sum()), n_gm,
                           {d.code: len(d.indicators) for d in bspec.dimensions}, notes)


def _pc4_model(store: Store, bspec: IndexSpec, years, notes: list[str]) -> LivabilityIndex | None:
    pspec = replace(bspec, level="pc4")
    targets = list(_targets(pspec).values())
    have = store.sql(f"SELECT year FROM observations WHERE level = 'pc4' AND indicator IN "
                     f"({', '.join('?' * len(targets))}) AND value IS NOT NULL GROUP BY year "
                     f"HAVING count(DISTINCT indicator) = ? ORDER BY year", [*targets, len(targets)])["year"]
    feats = store.sql("SELECT DISTINCT year FROM observations WHERE level = 'pc4' AND indicator = 'inwoner'")
    years = list(years) if years else sorted(set(have) & set(feats["year"]))
    if not years:
        notes.append("Geen PC4-gegevens met alle doelscores: de varianten pc4 en pc4+buurt zijn overgeslagen. | "
                     "No PC4 data with every target: the pc4 and pc4+buurt variants were skipped.")
        return None
    pairs = neighbour_pairs(contiguity(store, "pc4")) if pspec.spatial_lag else None
    model = LivabilityIndex(pspec, pairs=pairs).fit(load_panel(store, pspec, years), with_cov=False)
    notes.append(f"PC4-kalibratie: {model.n_fit_} PC4-jaren ({', '.join(map(str, years))}). | PC4 calibration: "
                 f"{model.n_fit_} PC4-years ({', '.join(map(str, years))}).")
    return model


def _final_scores(panel, bspec, pairs, chosen, base, targets, scored) -> pd.DataFrame:
    """Every Rijnmond buurt scored by ``chosen``, fitted on all scored buurten."""
    if chosen == "buurt":
        out = _score(LivabilityIndex(bspec, pairs=pairs).fit(panel[scored], with_cov=False), panel, pairs)
    else:
        out = base.copy()
        if chosen == "pc4+buurt":
            for d in DIMENSIONS:
                a, b = np.polyfit(base.loc[scored, d], panel.loc[scored, targets[d]], 1)[::-1]
                out[d] = a + b * base[d]
            out["afw"] = out[list(DIMENSIONS)].sum(axis=1)
    out["total"] = bspec.reference + out["afw"]
    frame = panel[["code", "name", "gemeente_code"]].assign(year=panel["year"], variant=chosen)
    frame = pd.concat([frame, out[[*DIMENSIONS, "afw", "total"]]], axis=1)
    frame["klasse"] = classify_total(frame["afw"])
    frame["official_afw"] = panel[[targets[d] for d in DIMENSIONS]].sum(axis=1, min_count=len(DIMENSIONS))
    frame["official_klasse"] = panel["lbm_klasse"]
    return frame.reset_index(drop=True)


BUURT_SCORES = "buurt_scores"
_SCORES_DDL = (f"CREATE TABLE IF NOT EXISTS {BUURT_SCORES} (code VARCHAR, name VARCHAR, gemeente_code VARCHAR, "
               "year INTEGER, variant VARCHAR, won DOUBLE, fys DOUBLE, vrz DOUBLE, soc DOUBLE, onv DOUBLE, "
               "afw DOUBLE, total DOUBLE, klasse INTEGER, official_afw DOUBLE, official_klasse INTEGER, "
               "spec VARCHAR, run_id INTEGER)")


def save_buurt_scores(store: Store, v: BuurtValidation, params: dict) -> int:
    """Store ``v.scores`` in table ``buurt_scores`` (replacing earlier scores of the same spec and year) and
    record the run. Returns the rows written."""
    year = int(v.scores["year"].iloc[0])
    frame = v.scores.assign(spec=v.spec_name).astype({"year": "int32", "klasse": "Int32",
                                                       "official_klasse": "Int32"})
    with store.transaction(), store.run("validate-buurt", {**params, "variant": v.chosen}) as rid:
        store.sql(_SCORES_DDL)
        return store.replace(BUURT_SCORES, frame.assign(run_id=rid), where={"spec": v.spec_name, "year": year})


# -- output -----------------------------------------------------------------------------------------------
_TEXT = {
    "title": N_("The index at buurt level: Rijnmond, Leefbaarometer 2024"),
    "data": N_("{n} buurten in {g} gemeenten with CBS key figures 2024, {s} of them with an official Leefbaarometer "
               "2024 score. Spec: {spec}. Validation by gemeente: every buurt is predicted by a model that saw no "
               "buurt of its own gemeente."),
    "variants": N_("Variants: buurt = calibrated on the Rijnmond buurten (leave one gemeente out); pc4 = calibrated "
                   "nationally on PC4 and applied unchanged; pc4+buurt = pc4 with a linear recalibration per "
                   "dimension on the other gemeenten; baseline = gradient boosting on the raw buurt indicators (the "
                   "reference of the PC4 validation)."),
    "table": N_("Validation table (prediction against official score)"),
    "gemeente": N_("Per gemeente (afw)"),
    "carry": N_("How far {n} buurten carry"),
    "carry_text": N_(
        "Outside its own gemeente the buurt calibration predicts the total deviation with R2 = {r2} (r = {r}, RMSE "
        "{rmse} score points; a class is about 0.08 wide); the national PC4 calibration reaches R2 = {r2p} without "
        "any buurt data{compare} Same class as the official one: {exact}, within one class: {within}. Per gemeente "
        "r runs from {rmin} to {rmax} and the mean deviation from {bmin} to {bmax}: the ranking within Rijnmond is "
        "usable, the level per gemeente and the exact class are not. Dimensions that do not carry (R2 < 0.3): "
        "{weak}. {s} buurten in {g} gemeenten of one region are too few to calibrate {k} indicators per dimension "
        "for national use; use the buurt scores as a regional ranking, not as a replacement of the official "
        "Leefbaarometer."),
    "scores": N_("Scores: all {n} buurten with variant {v} (calibrated on all {s} scored buurten)."),
    "notes": N_("Notes"), "files": N_("Files"), "none": N_("none"),
    "better": N_(": the scored buurten add nothing to it."), "worse": N_(": the buurt calibration is better."),
}
"""The texts of the buurt validation summary (msgids, translated in :func:`write_buurt_validation`)."""


def _plot_validation(v: BuurtValidation, path) -> None:
    from matplotlib.figure import Figure

    variants = list(v.predictions["model"].unique())
    fig = Figure(figsize=(5 * len(variants), 4.8))
    axes = np.atleast_1d(fig.subplots(1, len(variants), sharex=True, sharey=True))
    for ax, variant in zip(axes, variants, strict=True):
        p = v.predictions[v.predictions["model"] == variant]
        ax.scatter(p["official_afw"], p["afw"], s=9, alpha=0.6)
        lo, hi = p[["official_afw", "afw"]].min().min(), p[["official_afw", "afw"]].max().max()
        ax.plot([lo, hi], [lo, hi], color="grey", lw=0.8, ls="--")
        row = v.table[(v.table["model"] == variant) & (v.table["target"] == "afw")].iloc[0]
        ax.set_title(f"{variant}: r = {row['pearson_r']:.2f}, R2 = {row['r2']:.2f}")
        ax.set_xlabel("official afw (LBM 2024)")
        ax.set_ylabel("predicted afw")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_buurt_validation(v: BuurtValidation, out, lang: str = "nl") -> list:
    """Write the validation table, per-gemeente table, predictions, scores (CSV), a chart (PNG) and
    ``summary.md`` to ``out``; returns the files written."""
    from pathlib import Path

    _ = translator(check_lang(lang))
    t, out = {k: _(text) for k, text in _TEXT.items()}, Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for frame, name in ((v.table, "buurt_validation.csv"), (v.by_gemeente, "buurt_validation_by_gemeente.csv"),
                        (v.predictions, "buurt_predictions.csv"), (v.scores, "buurt_scores.csv")):
        frame.to_csv(out / name, index=False)
        files.append(out / name)
    _plot_validation(v, out / "chart_buurt_validation.png")
    files.append(out / "chart_buurt_validation.png")
    tab = v.table.set_index(["model", "target"])
    b = tab.loc[("buurt", "afw")]
    gm = v.by_gemeente[v.by_gemeente["model"] == "buurt"]
    weak = [c for c in DIMENSIONS if tab.loc[("buurt", c), "r2"] < 0.3]
    has_pc4 = ("pc4", "afw") in tab.index
    r2p = _.number(tab.loc[("pc4", "afw"), "r2"], 2) if has_pc4 else "-"
    compare = ("." if not has_pc4 else t["better"] if tab.loc[("pc4", "afw"), "r2"] >= b["r2"]
               else t["worse"])
    k = f"{min(v.indicators.values())}-{max(v.indicators.values())}"
    carry = t["carry_text"].format(r2=_.number(b["r2"], 2), r=_.number(b["pearson_r"], 2),
                                   rmse=_.number(b["rmse"]), r2p=r2p, compare=compare,
                                   exact=_.percent(b["class_exact"]), within=_.percent(b["class_within1"]),
                                   rmin=_.number(gm["pearson_r"].min(), 2), rmax=_.number(gm["pearson_r"].max(), 2),
                                   bmin=_.signed(gm["bias"].min()), bmax=_.signed(gm["bias"].max()),
                                   weak=", ".join(weak) or t["none"], s=_.integer(v.n_scored), g=v.n_gemeenten, k=k)

    def md(frame: pd.DataFrame) -> str:
        cols = list(frame.columns)
        rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        for r in frame.itertuples(index=False):
            rows.append("| " + " | ".join(_.number(x) if isinstance(x, float) else str(x) for x in r) + " |")
        return "\n".join(rows)

    lines = [f"# {t['title']}", "", t["data"].format(n=_.integer(v.n_buurten), g=v.n_gemeenten,
                                                      s=_.integer(v.n_scored), spec=v.spec_name), "", t["variants"], "",
             "## " + t["carry"].format(n=_.integer(v.n_buurten)), "", carry, "", f"## {t['table']}", "",
             md(v.table), "", f"## {t['gemeente']}", "", md(v.by_gemeente), "",
             t["scores"].format(n=_.integer(len(v.scores)), v=v.chosen, s=_.integer(v.n_scored)), "",
             f"## {t['notes']}", "",
             *(f"- {n.split(' | ')[1 if lang == 'en' else 0]}" for n in v.notes), "", f"## {t['files']}", "",
             *(f"- {f.name}" for f in files)]
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [*files, out / "summary.md"]
