"""Evaluate one programme on one outcome and write the report folder.

``evaluate(store, programme_id, config)`` builds the panel (``panel``), runs the matched DiD (``did``), the
event study (``event_study``), synthetic controls (``synth``) and, with several adoption years, the staggered
estimator (``staggered``), and applies the rules below. ``write_report`` writes tables (CSV), figures (PNG),
``summary.md`` (Dutch, or English with ``lang='en'``) and ``run.json``.

Rules: an estimate is withheld, and the summary says why in plain words, when

* fewer than ``MIN_TREATED`` treated PC4 are in the panel;
* there is no measurement after the programme started, or fewer than two before it (the pre-trend could not
  be checked);
* the pre-trend test fails (held-out placebo change or event-study Wald test, p < ``PRETREND_ALPHA``);
* matching leaves a covariate poorly balanced (|standardised difference| >= 0.25).

Clustered intervals are shown but not relied on when fewer than ``MIN_TREATED_CLUSTERS`` gemeenten hold treated
areas; the permutation interval is the headline then.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leefbaar import __version__
from leefbaar.errors import LeefbaarError, StoreError
from leefbaar.evaluation.did import MatchedDiD
from leefbaar.evaluation.event_study import EventStudy
from leefbaar.evaluation.investment import describe, investment_table
from leefbaar.evaluation.matching import SMD_POOR, ReferenceMatcher
from leefbaar.evaluation.panel import Panel, build_panel, load_outcome, unresolved_gemeenten
from leefbaar.evaluation.registry import Programme, Registry, load_programmes
from leefbaar.evaluation.staggered import StaggeredDiD
from leefbaar.evaluation.synth import SyntheticControl
from leefbaar.i18n import LANGS, N_, fmt_number, fmt_percent, fmt_signed, translator

MIN_TREATED = 5
MIN_TREATED_CLUSTERS = 10
PRETREND_ALPHA = 0.05
DEFAULT_COVARIATES = ("oad", "p_huurwon", "p_link_hh")


@dataclass
class EvaluationConfig:
    """Settings of one evaluation (all recorded in ``run.json``)."""

    outcome: str = "lbm"
    year_from: int | None = None
    year_to: int | None = None
    min_share: float = 0.5
    match_method: str = "mahalanobis"
    n_neighbors: int = 5
    caliper: float | None = None
    covariates: tuple[str, ...] = DEFAULT_COVARIATES
    n_permutations: int = 499
    n_placebos: int = 50
    max_synth_units: int = 40
    n_boot: int = 499
    holdout: bool = True
    exclude_unresolved_gemeenten: bool = True
    treat_from: int | None = None
    alpha: float = 0.05
    seed: int = 0


@dataclass
class Check:
    code: str
    passed: bool
    blocking: bool
    nl: str
    en: str


@dataclass
class Evaluation:
    programme: Programme
    config: EvaluationConfig
    panel: Panel
    outcome_label: dict
    covariates_used: dict
    covariates_skipped: dict
    did: MatchedDiD | None = None
    event_study: EventStudy | None = None
    synth: SyntheticControl | None = None
    staggered: StaggeredDiD | None = None
    checks: list[Check] = field(default_factory=list)
    errors: dict = field(default_factory=dict)
    investment: pd.DataFrame | None = None
    residents: float | None = None
    areas: pd.DataFrame | None = None
    matches: pd.DataFrame | None = None

    @property
    def supported(self) -> bool:
        return all(c.passed or not c.blocking for c in self.checks)

    @property
    def conclusion(self) -> str:
        """The evaluation's conclusion, one key for every surface (CLI line, summary, dashboard):
        ``withheld`` (a blocking check failed: no estimate is given), ``effect`` (the matched DiD differs
        from chance by the permutation test, and the clustered test agrees where it can be used),
        ``uncertain`` (the two tests disagree) or ``no_effect`` (within chance differences)."""
        if not self.supported or self.did is None:
            return "withheld"
        d, alpha = self.did, self.config.alpha
        perm_sig = d.perm_p_ < alpha
        clustered_ok = d.n_treated_clusters_ >= MIN_TREATED_CLUSTERS and np.isfinite(d.p_value_)
        if clustered_ok and (d.p_value_ < alpha) != perm_sig:
            return "uncertain"
        return "effect" if perm_sig else "no_effect"

    @property
    def p_value(self) -> float:
        """The p-value the conclusion rests on (permutation test of the matched DiD); NaN when withheld."""
        return float(self.did.perm_p_) if self.did is not None and self.supported else float("nan")

    def reasons(self, lang: str = "nl") -> list[str]:
        return [c.en if lang == "en" else c.nl for c in self.checks if not c.passed and c.blocking]

    def warnings(self, lang: str = "nl") -> list[str]:
        return [c.en if lang == "en" else c.nl for c in self.checks if not c.passed and not c.blocking]

    def estimates(self) -> pd.DataFrame:
        """One row per method; estimate and intervals empty when withheld."""
        rows = []
        ok = self.supported
        withheld = "; ".join(self.reasons("en"))
        d = self.did
        if d is not None:
            base = {"n_treated": d.n_treated_, "n_references": d.n_references_,
                    "n_treated_clusters": d.n_treated_clusters_, "n_clusters": d.n_clusters_}
            rows.append({"method": "matched_did", "estimand": "ATT, mean over post years", "inference": "permutation",
                         "estimate": d.att_, "ci_low": d.perm_ci_[0], "ci_high": d.perm_ci_[1],
                         "p_value": d.perm_p_, **base})
            rows.append({"method": "matched_did", "estimand": "ATT, mean over post years",
                         "inference": "cluster-robust (gemeente)", "estimate": d.att_, "ci_low": d.ci_[0],
                         "ci_high": d.ci_[1], "p_value": d.p_value_, **base,
                         "note": "" if d.n_treated_clusters_ >= MIN_TREATED_CLUSTERS else
                         f"only {d.n_treated_clusters_} gemeenten hold treated areas: clustered interval unreliable"})
            if d.pretrend_ is not None:
                rows.append({"method": "pretrend_holdout", "estimand": f"placebo change {d.pretrend_['holdout']}",
                             "inference": "permutation", "estimate": d.pretrend_["estimate"],
                             "p_value": d.pretrend_["perm_p"], **base, "diagnostic": True})
        es = self.event_study
        if es is not None and es.pretrend_ is not None:
            rows.append({"method": "event_study_pretrend", "estimand": "joint test of pre-period coefficients",
                         "inference": "Wald F, cluster-robust", "estimate": es.pretrend_["f_stat"],
                         "p_value": es.pretrend_["p_value"], "diagnostic": True})
        s = self.synth
        if s is not None:
            rows.append({"method": "synthetic_control", "estimand": "mean post gap over treated PC4",
                         "inference": "placebo permutation", "estimate": s.att_, "ci_low": s.ci_[0],
                         "ci_high": s.ci_[1], "p_value": s.p_value_, "n_treated": len(s.units_),
                         "note": "" if s.status_ == "ok" else s.status_})
        st = self.staggered
        if st is not None:
            rows.append({"method": "staggered_cs", "estimand": "ATT, cohorts weighted by size",
                         "inference": "cluster bootstrap", "estimate": st.att_, "ci_low": st.ci_[0],
                         "ci_high": st.ci_[1], "n_treated": int(self.panel.info["treated_in_panel"])})
            if st.twfe_:
                rows.append({"method": "twfe_static", "estimand": "TWFE coefficient (comparison only)",
                             "inference": "cluster-robust", "estimate": st.twfe_["estimate"],
                             "p_value": st.twfe_["p_value"], "diagnostic": True})
        frame = pd.DataFrame(rows)
        for col in ("ci_low", "ci_high", "p_value", "note", "diagnostic"):
            if col not in frame:
                frame[col] = np.nan
        frame["diagnostic"] = frame["diagnostic"].astype(object).where(frame["diagnostic"].notna(), False)
        frame["diagnostic"] = frame["diagnostic"].astype(bool)
        frame["status"] = "ok" if ok else "withheld"
        frame.loc[frame["diagnostic"], "status"] = "diagnostic"
        if not ok:
            effect = ~frame["diagnostic"]
            frame.loc[effect, ["estimate", "ci_low", "ci_high", "p_value"]] = np.nan
            frame.loc[effect, "note"] = withheld
        if s is not None and s.status_ != "ok":
            frame.loc[frame["method"] == "synthetic_control", "status"] = "not run"
        frame.insert(0, "outcome", self.config.outcome)
        frame.insert(0, "programme", self.programme.id)
        return frame


# -- evaluation -------------------------------------------------------------------------------------------

def outcome_label(store, outcome: str) -> dict:
    """Label, unit and direction (+1 higher is better) of an outcome."""
    if outcome == "index" or outcome.startswith("scores."):
        column = "total" if outcome == "index" else outcome.split(".", 1)[1].partition("@")[0]
        return {**_in_languages(N_("leefbaar index ({column})"), column=column), "unit": "score",
                "direction": 1 if column in ("total", "afw", "won", "fys", "vrz", "soc", "onv") else 0}
    row = store.sql("SELECT label_nl, label_en, unit, direction FROM indicators WHERE id = ?", [outcome])
    if row.empty:
        return {"nl": outcome, "en": outcome, "unit": "", "direction": 0}
    r = row.iloc[0]
    return {"nl": r["label_nl"], "en": r["label_en"], "unit": r["unit"] or "", "direction": int(r["direction"] or 0)}


def composition(store, panel: Panel, covariates: tuple[str, ...]) -> tuple[pd.DataFrame | None, dict, dict]:
    """Composition covariates measured before the first post year (latest such year); others are skipped."""
    if not covariates or not panel.cohorts:
        return None, {}, {}
    first = min(panel.cohorts)
    used, skipped, cols = {}, {}, []
    for c in covariates:
        years = store.sql("SELECT DISTINCT year FROM observations WHERE level = 'pc4' AND indicator = ? "
                          "ORDER BY year", [c])["year"].tolist()
        if not years:
            skipped[c] = _in_languages(N_("not in the store"))
            continue
        before = [y for y in years if y < first]
        if not before:
            skipped[c] = _in_languages(N_("first measured in {year}, not before the programme ({first})"),
                                       year=years[0], first=first)
            continue
        y = before[-1]
        v = store.sql("SELECT code, value FROM observations WHERE level = 'pc4' AND indicator = ? AND year = ? "
                      "ORDER BY code",
                      [c, y]).set_index("code")["value"].rename(c)
        cols.append(v)
        used[c] = y
    if not cols:
        return None, used, skipped
    frame = pd.concat(cols, axis=1).reindex(panel.wide().index)
    return frame, used, skipped


def _resolution_for(store, programme: Programme, registry: Registry):
    """Areas (all levels) and name matches of a programme: stored by resolve-areas, else resolved now."""
    tables = set(store.sql("SELECT table_name FROM information_schema.tables")["table_name"])
    if "programme_areas" in tables:
        areas = store.sql("SELECT * FROM programme_areas WHERE programme = ?", [programme.id])
        if not areas.empty or not programme.areas:
            matches = None
            if "area_matches" in tables:
                links = [a.id for a in programme.areas]
                matches = store.sql(f"SELECT * FROM area_matches WHERE list_id IN ({', '.join('?' * len(links))})",
                                    links) if links else None
            return areas, unresolved_gemeenten(store, programme), matches
    from leefbaar.evaluation.resolve import resolve_programme_areas

    sub = Registry([programme], registry.path)
    res = resolve_programme_areas(store, sub)
    areas = res.areas
    unresolved = set(res.matches.loc[res.matches["confidence"] == "unresolved", "gm_code"].dropna())
    return areas, unresolved, res.matches


def programme_residents(store, areas: pd.DataFrame) -> float | None:
    """Residents (CBS 2024) of the buurten matched to a programme with high or medium confidence."""
    from leefbaar.evaluation.resolve import BUURT_VINTAGE, CONFIDENCE_ORDER, CONFIDENT

    b = areas[(areas["level"] == "buurt") & (areas["confidence"].map(CONFIDENCE_ORDER).fillna(0) >= CONFIDENT)]
    if b.empty:
        return None
    pop = store.sql("SELECT code, value FROM observations WHERE level = 'buurt' AND indicator = 'inwoner' "
                    "AND year = ? ORDER BY code", [BUURT_VINTAGE]).set_index("code")["value"]
    return float(pop.reindex(b["code"].unique()).sum())


def evaluate(store, programme_id: str, config: EvaluationConfig | None = None, registry: Registry | None = None,
             progress=None) -> Evaluation:
    """Run every method for one programme and outcome and apply the rules of the module docstring."""
    config = config or EvaluationConfig()
    registry = registry or load_programmes()
    programme = registry.get(programme_id)
    if not programme.areas:
        raise LeefbaarError(f"programme {programme_id!r} has no areas attached in the registry (no list of treated "
                            "areas is available), so it cannot be evaluated against reference areas")
    step = progress or (lambda *_: None)
    load_outcome(store, config.outcome)  # fail early on an unknown outcome
    step("treated areas", 0, 6)
    areas, unresolved, matches = _resolution_for(store, programme, registry)
    step("panel", 1, 6)
    panel = build_panel(store, programme, config.outcome, config.year_from, config.year_to,
                        areas=areas[areas["level"] == "pc4"],
                        min_share=config.min_share, unresolved_gemeenten=unresolved,
                        exclude_unresolved_gemeenten=config.exclude_unresolved_gemeenten,
                        cohort_override=config.treat_from)
    covs, used, skipped = composition(store, panel, tuple(config.covariates))
    ev = Evaluation(programme, config, panel, outcome_label(store, config.outcome), used, skipped,
                    areas=areas[areas["level"] == "pc4"], matches=matches)
    ev.residents = programme_residents(store, areas)
    ev.investment = investment_table(registry, [programme.id], residents={programme.id: ev.residents})
    n_treated = panel.info["treated_in_panel"]
    if n_treated and panel.info["references"]:
        matcher = ReferenceMatcher(config.match_method, config.n_neighbors, config.caliper)
        step("matched difference-in-differences", 2, 6)
        try:
            ev.did = MatchedDiD(matcher, covs, config.holdout, config.n_permutations, config.alpha,
                                config.seed).fit(panel)
        except ValueError as exc:
            ev.errors["matched_did"] = str(exc)
        step("event study", 3, 6)
        if ev.did is not None:
            try:
                ev.event_study = EventStudy(config.alpha).fit(panel, ev.did.pairs_)
            except Exception as exc:  # pyfixest failures (e.g. collinear designs) are reported, not fatal
                ev.errors["event_study"] = f"{type(exc).__name__}: {exc}"
        step("synthetic control", 4, 6)
        ev.synth = SyntheticControl(n_placebos=config.n_placebos, max_units=config.max_synth_units,
                                    alpha=config.alpha, seed=config.seed).fit(panel)
        step("staggered adoption", 5, 6)
        if len([g for g in panel.cohorts if panel.post_years(g) and panel.pre_years(g)]) >= 2:
            try:
                ev.staggered = StaggeredDiD(n_boot=config.n_boot, alpha=config.alpha, seed=config.seed).fit(panel)
            except ValueError as exc:
                ev.errors["staggered"] = str(exc)
    ev.checks = _checks(ev)
    step("done", 6, 6)
    return ev


def _checks(ev: Evaluation) -> list[Check]:
    info, cfg = ev.panel.info, ev.config
    checks = []
    n = info["treated_in_panel"]
    checks.append(Check("treated", n >= MIN_TREATED, True,
                        *_both(N_("too few treated areas: {n} PC4 with at least {share} of residents in the "
                                  "programme's areas (at least {needed} needed)"), n=n,
                               share=lambda lang: fmt_percent(cfg.min_share, lang), needed=MIN_TREATED)))
    cohorts = ev.panel.cohorts
    no_post = [g for g in cohorts if not ev.panel.post_years(g)]
    if cohorts and len(no_post) == len(cohorts):
        checks.append(Check("post", False, True,
                            *_both(N_("no measurement after the start: the first post measurement would be {first} "
                                      "or later, the last measurement in the window is {last}"), first=min(cohorts),
                                   last=ev.panel.years[-1])))
    few_pre = [g for g in cohorts if ev.panel.post_years(g) and len(ev.panel.pre_years(g)) < 2]
    if few_pre:
        checks.append(Check("pre", False, True,
                            *_both(N_("too few pre-period measurements (fewer than two): whether trends ran parallel "
                                      "before cannot be tested"))))
    d = ev.did
    if d is not None and d.pretrend_ is not None and np.isfinite(d.pretrend_["perm_p"]):
        p = d.pretrend_["perm_p"]
        checks.append(Check("pretrend_holdout", p >= PRETREND_ALPHA, True,
                            *_both(N_("the pre-trend differs: over the held-out period {period} the programme areas "
                                      "changed by {change} relative to the references (permutation p = {p})"),
                                   period=d.pretrend_["holdout"], p=lambda lang: _p(p, lang),
                                   change=lambda lang: _fmt(d.pretrend_["estimate"], lang))))
    es = ev.event_study
    # with matching on the trend of all pre measurements the event-study pre-period coefficients still carry
    # information (departures from a straight trend) when there are three or more pre measurements
    n_pre = max((len(ev.panel.pre_years(g)) for g in cohorts), default=0)
    if es is not None and es.pretrend_ is not None and (cfg.holdout or n_pre >= 3):
        p = es.pretrend_["p_value"]
        checks.append(Check("pretrend_event_study", p >= PRETREND_ALPHA, True,
                            *_both(N_("the event study finds differences before the start (Wald test p = {p})"),
                                   p=lambda lang: _p(p, lang))))
    if not cfg.holdout and n_pre < 3:
        checks.append(Check("pretrend_untested", False, False,
                            *_both(N_("references were matched on the trend over all pre measurements: parallel "
                                      "pre-trends are therefore assumed, not tested"))))
    if d is not None:
        after = d.balance_["smd_after"].abs()
        bad = d.balance_.loc[after >= SMD_POOR, "covariate"].tolist()
        checks.append(Check("balance", not bad, True,
                            *_both(N_("matching found no comparable references for: {covariates} (standardised "
                                      "difference >= {limit})"), covariates=", ".join(bad),
                                   limit=lambda lang: fmt_number(SMD_POOR, lang, 2))))
        checks.append(Check("clusters", d.n_treated_clusters_ >= MIN_TREATED_CLUSTERS, False,
                            *_both(N_("the treated areas lie in {n} gemeente: the clustered interval is unreliable, "
                                      "the permutation interval leads") if d.n_treated_clusters_ == 1 else
                                   N_("the treated areas lie in {n} gemeenten: the clustered interval is "
                                      "unreliable, the permutation interval leads"), n=d.n_treated_clusters_)))
    if info.get("partial_list"):
        checks.append(Check("partial", False, False,
                            *_both(N_("the list of programme areas is partial: programme areas not found may count "
                                      "as references, which pulls an effect towards zero"))))
    if ev.synth is not None and ev.synth.status_ != "ok":
        checks.append(Check("synth", False, False, *_both(N_("synthetic control not run: {why}"),
                                                          why=ev.synth.status_)))
    elif ev.synth is not None and d is not None and d.n_treated_clusters_ < MIN_TREATED_CLUSTERS:
        checks.append(Check("synth_clusters", False, False,
                            *_both(N_("the synthetic-control placebos are single PC4 from the whole country; shocks "
                                      "that hit a whole gemeente are not among them, so its p-value is too "
                                      "favourable"))))
    if cfg.treat_from is not None:
        checks.append(Check("timing", False, False,
                            *_both(N_("the start year was set by the user to {year}"), year=cfg.treat_from)))
    timing_blocked = any(c.code in ("pre", "post") for c in checks)
    for name, err in ev.errors.items():
        if timing_blocked and name == "matched_did":
            continue  # already explained by the missing pre or post measurements
        checks.append(Check(f"error_{name}", False, name == "matched_did",
                            *_both(N_("{method} failed: {error}"), method=name, error=err)))
    if d is None and "matched_did" not in ev.errors and n >= MIN_TREATED:
        checks.append(Check("references", False, True, *_both(N_("no reference areas available"))))
    return checks


def _in_languages(msgid: str, **fields) -> dict[str, str]:
    """``msgid`` in every language of the interface, ``{"nl": ..., "en": ...}`` (kept in the evaluation and
    run.json; the summary shows one)."""
    return dict(zip(LANGS, _both(msgid, **fields), strict=True))


def _both(msgid: str, **fields) -> tuple[str, str]:
    """``msgid`` in Dutch and in English (a check keeps both; run.json records them). A field may be a function of
    the language (numbers formatted by its locale)."""
    return tuple(translator(lang)(msgid, **{k: v(lang) if callable(v) else v for k, v in fields.items()})
                 for lang in LANGS)


# -- writing ----------------------------------------------------------------------------------------------

def write_report(ev: Evaluation, out: Path, lang: str = "nl", store_hashes: dict | None = None,
                 verdict: str | None = None) -> list[Path]:
    """Write the report folder; returns the files written. ``verdict``: the one-sentence conclusion the caller
    also shows (worded from ``Evaluation.conclusion``), put first under the summary's conclusion."""
    out.mkdir(parents=True, exist_ok=True)
    written = []

    def csv(frame: pd.DataFrame | None, name: str) -> None:
        if frame is not None and not frame.empty:
            frame.to_csv(out / name, index=False)
            written.append(out / name)

    csv(ev.estimates(), "estimates.csv")
    d = ev.did
    if d is not None:
        csv(d.balance_, "balance.csv")
        periods = d.att_by_period_.copy()
        if not ev.supported:
            periods.loc[periods["period"] >= 0, "estimate"] = np.nan
        csv(periods, "did_periods.csv")
        csv(pd.DataFrame({"placebo_att": d.placebo_atts_}), "placebo_did.csv")
        csv(d.pairs_, "matched_references.csv")
    if ev.event_study is not None:
        coefs = ev.event_study.coefs_.copy()
        if not ev.supported:
            coefs.loc[coefs["period"] >= 0, ["estimate", "se", "ci_low", "ci_high", "p_value"]] = np.nan
        csv(coefs, "event_study.csv")
    s = ev.synth
    if s is not None and s.status_ == "ok":
        units = s.units_.copy()
        if not ev.supported:
            units[["att", "p_value"]] = np.nan
        csv(units, "synth_units.csv")
        csv(s.placebos_, "synth_placebos.csv")
    if ev.staggered is not None:
        gt = ev.staggered.att_gt_.copy()
        ev_t = ev.staggered.att_event_.copy()
        if not ev.supported:
            gt.loc[gt["event_time"] >= 0, ["estimate", "se"]] = np.nan
            ev_t.loc[ev_t["event_time"] >= 0, ["estimate", "se", "ci_low", "ci_high"]] = np.nan
        csv(gt, "staggered_att_gt.csv")
        csv(ev_t, "staggered_event_time.csv")
    treated = ev.panel.treated_units.rename(columns={"unit": "pc4", "cluster": "gemeente", "weight": "residents"})
    if ev.areas is not None and not ev.areas.empty:
        treated = treated.merge(ev.areas[["code", "share", "confidence", "name_as_listed"]].drop_duplicates("code"),
                                left_on="pc4", right_on="code", how="left").drop(columns="code")
    csv(treated, "treated_areas.csv")
    if ev.matches is not None:
        csv(ev.matches, "area_matches.csv")
    inv = (investment_table(load_programmes(), [ev.programme.id], residents={ev.programme.id: ev.residents},
                            lang=lang) if ev.investment is not None else None)
    csv(inv, "investment.csv")
    written += _figures(ev, out, lang)
    text = summary(ev, lang, inv, verdict)
    (out / "summary.md").write_text(text, encoding="utf-8")
    written.append(out / "summary.md")
    run = {"programme": ev.programme.id, "config": _jsonable(asdict(ev.config)), "version": __version__,
           "panel": _jsonable(ev.panel.info), "covariates_used": ev.covariates_used,
           "covariates_skipped": ev.covariates_skipped, "supported": ev.supported,
           "checks": [asdict(c) for c in ev.checks], "data_hashes": store_hashes or {}}
    (out / "run.json").write_text(json.dumps(run, indent=1, ensure_ascii=False), encoding="utf-8")
    written.append(out / "run.json")
    return written


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, np.integer | np.floating):
        return _jsonable(obj.item())
    return obj


def _fmt(x: float, lang: str, digits: int = 3) -> str:
    """An estimate with its sign, by the locale (:func:`leefbaar.i18n.fmt_signed`)."""
    return fmt_signed(x, lang, digits)


def _p(x: float, lang: str) -> str:
    """A p-value with three decimals, by the locale."""
    return fmt_number(x, lang, 3)


def summary(ev: Evaluation, lang: str = "nl", investment: pd.DataFrame | None = None,
            verdict: str | None = None) -> str:
    """The plain-language summary (Markdown); ``verdict`` (the caller's one-sentence conclusion) opens the
    conclusion section."""
    _ = translator(lang)
    p, cfg, info, d = ev.programme, ev.config, ev.panel.info, ev.did
    label = ev.outcome_label[lang]
    years = info["years"]
    lines = ["# " + _("Evaluation: {programme} ({period})", programme=p.name(lang), period=p.period()), "",
             _("Outcome: **{label}** (`{outcome}`), measurements {years}.", label=label, outcome=cfg.outcome,
               years=", ".join(map(str, years))), ""]
    lines += ["## " + _("Conclusion"), ""]
    if verdict:
        lines += [f"**{verdict}**", ""]
    if not ev.supported:
        lines.append(_("**No conclusion is possible.** The data cannot support an effect estimate, so none is "
                       "given:"))
        lines += [f"- {r}" for r in ev.reasons(lang)]
    elif d is not None:
        lines.append(_headline(ev, lang))
    lines.append("")
    lines += ["## " + _("Design"), ""]
    cohorts = ", ".join(f"{g} ({n} PC4)" for g, n in sorted(info["cohorts"].items()))
    lines.append("- " + _("Treated: {n} PC4 areas with at least {share} of their residents in the programme's areas "
                          "matched with high or medium confidence; first post year: {cohorts}.",
                          n=_.integer(info["treated_in_panel"]), share=_.percent(cfg.min_share), cohorts=cohorts))
    refs = {"n": _.integer(info["references"]), "buffer": _.integer(info.get("buffer_excluded", 0))}
    lines.append("- " + (_("References: {n} PC4 areas not touched by the programme; {buffer} partly touched PC4 are "
                           "left out as buffer; gemeenten with names that could not be placed are left out "
                           "({gemeenten}).", gemeenten=", ".join(info["excluded_gemeenten"]), **refs)
                         if info.get("excluded_gemeenten") else
                         _("References: {n} PC4 areas not touched by the programme; {buffer} partly touched PC4 are "
                           "left out as buffer.", **refs)))
    if d is not None:
        design = d.designs_[0]
        fields = {"k": cfg.n_neighbors, "method": cfg.match_method, "years": ", ".join(map(str, design.matched_years)),
                  "covariates": ", ".join(f"{c} ({y})" for c, y in ev.covariates_used.items()),
                  "holdout": design.holdout, "base": design.base}
        trend = len(design.matched_years) > 1
        if design.holdout is not None:
            text = (_("Matching: {k} nearest references per treated area ({method}) on the outcome level and trend in "
                      "{years} and composition: {covariates}. The change {holdout}->{base} is held out as a "
                      "pre-trend test; effects are changes from {base}.", **fields) if fields["covariates"] else
                    _("Matching: {k} nearest references per treated area ({method}) on the outcome level and trend in "
                      "{years}. The change {holdout}->{base} is held out as a pre-trend test; effects are changes "
                      "from {base}.", **fields))
        elif trend:
            text = (_("Matching: {k} nearest references per treated area ({method}) on the outcome level and trend in "
                      "{years} and composition: {covariates}; no pre-period change is held out to test the "
                      "pre-trend. Effects are changes from {base}.", **fields) if fields["covariates"] else
                    _("Matching: {k} nearest references per treated area ({method}) on the outcome level and trend in "
                      "{years}; no pre-period change is held out to test the pre-trend. Effects are changes from "
                      "{base}.", **fields))
        else:
            text = (_("Matching: {k} nearest references per treated area ({method}) on the outcome level in {years} "
                      "and composition: {covariates}; no pre-period change is held out to test the pre-trend. "
                      "Effects are changes from {base}.", **fields) if fields["covariates"] else
                    _("Matching: {k} nearest references per treated area ({method}) on the outcome level in {years}; "
                      "no pre-period change is held out to test the pre-trend. Effects are changes from {base}.",
                      **fields))
        lines.append("- " + text)
        if ev.covariates_skipped:
            sk = "; ".join(f"{c}: {why[lang]}" for c, why in ev.covariates_skipped.items())
            lines.append("- " + _("Composition not used: {covariates}.", covariates=sk))
    lines.append("")
    lines += ["## " + _("Results"), ""]
    lines += _results_table(ev, lang)
    lines.append("")
    lines += ["## " + _("Checks"), ""]
    lines += _checks_text(ev, lang)
    lines.append("")
    lines += ["## " + _("What these figures do not say"), ""]
    lines += [f"- {w}" for w in ev.warnings(lang)]
    lines += [
        "- " + _("PC4 areas are coarse: most listed neighbourhoods cover only part of a PC4, so effects are diluted "
                 "and small neighbourhoods drop out."),
        "- " + _("Areas were chosen for their problems; matching on earlier levels and trends reduces, but does not "
                 "remove, regression to the mean and selection."),
        "- " + _("Other programmes ran at the same time in many of these areas; the estimate is the combined change "
                 "relative to similar areas, not the effect of one instrument."),
    ]
    lines.append("")
    if investment is not None and not investment.empty:
        lines += ["## " + _("Investment (descriptive)"), ""]
        lines.append(_("These figures divide stated amounts by counts; they are not effects."))
        lines.append("")
        lines += [f"- {x}" for x in describe(investment, lang)]
        lines.append("")
    lines += ["## " + _("Files"), ""]
    lines.append("estimates.csv, balance.csv, did_periods.csv, event_study.csv, placebo_did.csv, synth_units.csv, "
                 "treated_areas.csv, area_matches.csv, investment.csv, " + _("figures") + " (*.png), run.json.")
    return "\n".join(lines) + "\n"


def _headline(ev: Evaluation, lang: str) -> str:
    _ = translator(lang)
    d, info = ev.did, ev.panel.info
    unit = ev.outcome_label.get("unit") or ""
    conclusion = ev.conclusion
    perm_sig, agree = conclusion == "effect", conclusion != "uncertain"
    clustered_ok = d.n_treated_clusters_ >= MIN_TREATED_CLUSTERS and np.isfinite(d.p_value_)
    lo, hi = d.perm_ci_
    direction = ev.outcome_label.get("direction", 0)
    fields = {"n": _.integer(d.n_treated_), "att": _fmt(d.att_, lang), "unit": unit, "lo": _fmt(lo, lang),
              "hi": _fmt(hi, lang), "p": _p(d.perm_p_, lang), "clo": _fmt(d.ci_[0], lang),
              "chi": _fmt(d.ci_[1], lang), "cp": _p(d.p_value_, lang)}
    text = (_("Relative to matched reference areas, the {n} treated PC4 changed by **{att}** {unit} on average after "
              "the start (95% permutation interval {lo} to {hi}; p = {p}; clustered by gemeente {clo} to {chi}, "
              "p = {cp}).", **fields) if clustered_ok else
            _("Relative to matched reference areas, the {n} treated PC4 changed by **{att}** {unit} on average after "
              "the start (95% permutation interval {lo} to {hi}; p = {p}).", **fields)) + " "
    if not agree:
        text += _("The two ways of measuring uncertainty disagree, so the difference is uncertain: it may be chance.")
    elif perm_sig:
        text += _("This difference is larger than chance differences between comparable areas would produce.")
    else:
        text += _("This is within the range of chance differences between comparable areas: no effect is detectable "
                  "with these data.")
    if perm_sig and agree and direction:
        text += " " + (_("The direction is favourable.") if (d.att_ > 0) == (direction > 0) else
                       _("The direction is unfavourable."))
    sd = ev.panel.data.loc[ev.panel.data["year"] == d.designs_[0].base, "y"].std()
    if np.isfinite(sd) and sd > 0:
        text += " " + _("For scale: the standard deviation between PC4 areas in {year} is {sd}.",
                        year=d.designs_[0].base, sd=_.number(sd))
    if info.get("partial_list"):
        text += " " + _("The list of areas is partial.")
    return text


METHODS = {"matched_did": N_("matched DiD"), "pretrend_holdout": N_("pre-trend (held-out change)"),
           "event_study_pretrend": N_("event study pre-trend (F)"),
           "synthetic_control": N_("synthetic control (pooled)"),
           "staggered_cs": N_("staggered DiD (Callaway-Sant'Anna)"), "twfe_static": N_("TWFE (comparison only)")}
"""The methods of the results table, by ``estimates()['method']``."""
INFERENCE = {"permutation": N_("permutation"), "cluster-robust (gemeente)": N_("cluster-robust (gemeente)"),
             "Wald F, cluster-robust": N_("Wald F, cluster-robust"), "placebo permutation": N_("placebo permutation"),
             "cluster bootstrap": N_("cluster bootstrap"), "cluster-robust": N_("cluster-robust")}
"""The kinds of inference of the results table, by ``estimates()['inference']``."""
PASSED = {"treated": N_("enough treated areas"), "pretrend_holdout": N_("pre-trend (held-out change) passes"),
          "pretrend_event_study": N_("event-study pre-trend test passes"),
          "balance": N_("covariates balanced after matching (|SMD| < {limit})"),
          "clusters": N_("treated areas spread over enough gemeenten")}
"""What a passed check says."""


def _results_table(ev: Evaluation, lang: str) -> list[str]:
    _ = translator(lang)
    est = ev.estimates()
    lines = ["| " + " | ".join([_("method"), _("inference"), _("estimate"), _("95% interval"), "p"]) + " |",
             "|---|---|---|---|---|"]
    for r in est.itertuples():
        name = _(METHODS[r.method]) if r.method in METHODS else r.method
        inference = _(INFERENCE[r.inference]) if r.inference in INFERENCE else r.inference
        interval = f"{_fmt(r.ci_low, lang)} .. {_fmt(r.ci_high, lang)}" if np.isfinite(r.ci_low) else "-"
        estimate = _fmt(r.estimate, lang) if np.isfinite(r.estimate) else (
            _("not run") if r.status == "not run" else
            _("withheld") if r.status == "withheld" and not r.diagnostic else "-")
        lines.append(f"| {name} | {inference} | {estimate} | {interval} | {_p(r.p_value, lang)} |")
    return lines


def _checks_text(ev: Evaluation, lang: str) -> list[str]:
    _ = translator(lang)
    lines = []
    for c in ev.checks:
        if c.code in ("partial", "synth", "synth_clusters", "timing", "pretrend_untested") or \
                c.code.startswith("error"):
            continue
        mark = "ok" if c.passed else _("fails")
        if c.passed:
            text = _(PASSED[c.code], limit=_.number(SMD_POOR, 2)) if c.code in PASSED else getattr(c, lang)
        else:
            text = getattr(c, lang)
        lines.append(f"- [{mark}] {text}")
    d = ev.did
    if d is not None and len(d.placebo_atts_):
        lines.append("- " + _("Placebo: {n} placebo sets of reference areas (same number per gemeente) give estimates "
                              "with a 95% range of {lo} to {hi}.", n=_.integer(len(d.placebo_atts_)),
                              lo=_fmt(np.nanquantile(d.placebo_atts_, 0.025), lang),
                              hi=_fmt(np.nanquantile(d.placebo_atts_, 0.975), lang)))
    return lines


def _figures(ev: Evaluation, out: Path, lang: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _ = translator(lang)
    files = []
    d = ev.did
    label = ev.outcome_label[lang]
    if d is not None:
        per = d.att_by_period_
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.plot(per["period"], per["treated_mean"], "o-", color="#c0392b",
                label=_("programme areas"))
        ax.plot(per["period"], per["reference_mean"], "o-", color="#2c3e50",
                label=_("matched references"))
        ax.axvline(-0.5, color="grey", ls="--", lw=1)
        ax.set_xticks(per["period"], per["years"].str.replace(";", "/"), rotation=30)
        ax.set_ylabel(label)
        ax.set_title(_("Trends before and after the start"))
        ax.legend()
        files.append(_save(fig, out / "trends.png"))
        # placebo distribution
        if len(d.placebo_atts_):
            fig, ax = plt.subplots(figsize=(7, 4))
            ax.hist(d.placebo_atts_[np.isfinite(d.placebo_atts_)], bins=30, color="#95a5a6")
            if ev.supported:
                ax.axvline(d.att_, color="#c0392b", lw=2, label=_("estimate"))
            if d.pretrend_ is not None:
                ax.axvline(d.pretrend_["estimate"], color="#2980b9", lw=1.5, ls=":",
                           label=_("pre-trend (held-out)"))
            ax.set_xlabel(_("placebo estimates (reference areas as if treated)"))
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
            files.append(_save(fig, out / "placebo.png"))
        # balance (love plot)
        b = d.balance_
        fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(b)))
        ylab = b["covariate"] + (" (" + b["cohort"].astype(str) + ")" if b["cohort"].nunique() > 1 else "")
        ax.scatter(b["smd_before"], ylab, marker="o", color="#95a5a6", label=_("before"))
        ax.scatter(b["smd_after"], ylab, marker="D", color="#c0392b", label=_("after matching"))
        ax.axvline(0, color="black", lw=0.8)
        for x in (-SMD_POOR, SMD_POOR):
            ax.axvline(x, color="grey", ls=":", lw=0.8)
        ax.set_xlabel(_("standardised mean difference"))
        ax.legend(loc="best")
        files.append(_save(fig, out / "balance.png"))
    es = ev.event_study
    if es is not None and not es.coefs_.empty:
        c = es.coefs_.copy()
        show = c["period"] < 0 if not ev.supported else np.ones(len(c), bool)
        c = c[show]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.errorbar(c["period"], c["estimate"], yerr=[c["estimate"] - c["ci_low"], c["ci_high"] - c["estimate"]],
                    fmt="o", color="#2c3e50", capsize=3)
        ax.axhline(0, color="black", lw=0.8)
        ax.axvline(-0.5, color="grey", ls="--", lw=1)
        ax.set_xlabel(_("measurement relative to the start (0 = first after)"))
        ax.set_ylabel(label)
        title = _("Event study (pre-trend)")
        if es.pretrend_ is not None:
            title += f": p = {_p(es.pretrend_['p_value'], lang)}"
        ax.set_title(title)
        files.append(_save(fig, out / "event_study.png"))
    s = ev.synth
    if s is not None and s.status_ == "ok" and not s.gaps_.empty:
        fig, ax = plt.subplots(figsize=(7, 4))
        years = list(s.gaps_.columns)
        for _row, g in s.placebo_gaps_.iterrows():
            ax.plot(years, g.to_numpy(), color="#bdc3c7", lw=0.6)
        if ev.supported:
            for _row, g in s.gaps_.iterrows():
                ax.plot(years, g.to_numpy(), color="#c0392b", lw=0.9, alpha=0.6)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(years, [str(y) for y in years], rotation=30)
        ax.set_title(_("Synthetic control gaps: treated (red) and placebos (grey)"))
        ax.set_ylabel(label)
        files.append(_save(fig, out / "synth_gaps.png"))
    st = ev.staggered
    if st is not None and not st.att_event_.empty:
        e = st.att_event_
        e = e if ev.supported else e[e["event_time"] < 0]
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.errorbar(e["event_time"], e["estimate"], yerr=[e["estimate"] - e["ci_low"], e["ci_high"] - e["estimate"]],
                    fmt="o", color="#8e44ad", capsize=3)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlabel(_("years since the start"))
        ax.set_title(_("Staggered adoption (Callaway-Sant'Anna)"))
        files.append(_save(fig, out / "staggered.png"))
    return files


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def record(store, ev: Evaluation) -> int:
    """Write the estimates into the store table ``evaluation_results`` (call inside transaction and run)."""
    est = ev.estimates().assign(year_from=ev.panel.years[0], year_to=ev.panel.years[-1])
    if est.empty:
        raise StoreError("nothing to record")
    return store.replace("evaluation_results", est, {"programme": ev.programme.id,
                                                            "outcome": ev.config.outcome})

