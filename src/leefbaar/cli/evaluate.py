"""Programme commands: ``programmes`` (the registry), ``resolve-areas`` (treated areas) and ``evaluate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from leefbaar.cli.common import (
    LangOpt,
    StoreOpt,
    console,
    print_frame,
    progress_bar,
    resolve_store,
    write_csv,
)
from leefbaar.errors import InputError, LeefbaarError
from leefbaar.i18n import check_lang, fmt_number, translator
from leefbaar.store.store import Store


def programmes(
    store: StoreOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write programmes.csv, programmes.json and "
                                                           "investment.csv (descriptive) to this folder.")] = None,
    lang: LangOpt = "nl",
) -> None:
    """List the programme registry: name, period, budget and the areas attached in the store."""
    from leefbaar.evaluation.investment import investment_table
    from leefbaar.evaluation.registry import load_programmes

    _ = translator(check_lang(lang))
    reg = load_programmes()
    frame = reg.frame(lang)
    from leefbaar.facts import Facts

    path = resolve_store(store)
    rule = None
    if path.exists():
        with Store.open(path) as st:
            facts = Facts(st)
            counts = facts.programme_counts("pc4")
            if counts:
                rule = facts.membership_rule()[lang]
                frame["pc4"] = frame["id"].map(lambda p: counts.get(p, {}).get("members"))
                frame["pc4_touched"] = frame["id"].map(lambda p: counts.get(p, {}).get("touched"))
    if "pc4" not in frame:
        frame["pc4"] = pd.NA
        frame["pc4_touched"] = pd.NA
    frame["areas"] = [_areas_text(r, lang) for r in frame.itertuples()]
    print_frame(frame[["id", "name", "period", "budget_text", "areas"]].rename(columns={"budget_text": "budget"}),
                title=_("Programmes"), max_rows=100, lang=lang)
    if rule:
        console.print(rule, markup=False, highlight=False)
    if out is not None:
        write_csv(frame, out, "programmes.csv")
        (out / "programmes.json").write_text(reg.to_json(), encoding="utf-8")
        write_csv(investment_table(reg, lang=lang), out, "investment.csv")
        console.print(_("written: {files}", files=", ".join(str(out / f) for f in (
            "programmes.csv", "programmes.json", "investment.csv"))), markup=False, highlight=False)


def _areas_text(r, lang: str) -> str:
    _ = translator(lang)
    if not r.area_lists:
        return "-"
    if pd.isna(r.pc4):
        return _("{lists} (not resolved yet)", lists=r.area_lists)
    return _("{members} PC4 in the programme ({touched} more touched)", members=_.integer(r.pc4),
             touched=_.integer(r.pc4_touched))


def resolve_areas(
    store: StoreOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for area_matches.csv (the reviewable file), "
                                                    "unresolved.csv and resolution_stats.csv.")] = Path("."),
    review: Annotated[Path | None, typer.Option("--review", help="A reviewed decisions file to use instead of the "
                                                                 "packaged one (columns as area_matches.csv in the "
                                                                 "package catalogue).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Write the files but leave the store unchanged.")] = False,
    lang: LangOpt = "nl",
) -> None:
    """Resolve the registry's policy areas to wijk, buurt and PC4 codes and store them as programme_areas."""
    from leefbaar.evaluation.resolve import load_reviews, resolve_programme_areas

    _ = translator(check_lang(lang))
    reviews = load_reviews(review)
    path = resolve_store(store)
    with Store.open(path, read_only=dry_run) as st:
        with progress_bar() as update:
            update(_("resolving names and overlaying on PC4"), 0, 1)
            res = resolve_programme_areas(st, reviews=reviews)
            update(_("done"), 1, 1)
        if not dry_run:
            with st.transaction(), st.run("resolve-areas", {"review": str(review) if review else "packaged"}):
                st.replace("programme_areas", res.areas)
                st.replace("area_matches", res.matches)
    write_csv(res.matches, out, "area_matches.csv")
    write_csv(res.unresolved, out, "unresolved.csv")
    stats = res.stats()
    write_csv(stats, out, "resolution_stats.csv")
    print_frame(stats, title=_("Resolution per list (components by confidence)"), lang=lang)
    from leefbaar.facts import load_rules
    from leefbaar.facts.membership import members

    m = members(res.areas, load_rules())
    m = m[m["level"] == "pc4"]
    counts = m.groupby("programme").agg(pc4=("member", "sum"), pc4_touched=("touched", "sum")).reset_index()
    print_frame(counts, title=_("PC4 per programme by the membership rule (member; touched, not "
                                               "member)"), lang=lang)
    text = _.ngettext("{n} listed name or part could not be placed: see {unresolved}. Every match is in {matches}.",
                      "{n} listed names or parts could not be placed: see {unresolved}. Every match is in {matches}.",
                      len(res.unresolved), unresolved=out / "unresolved.csv", matches=out / "area_matches.csv")
    console.print(text + ("" if dry_run else " " + _("Stored in programme_areas.")), markup=False, highlight=False)


def evaluate(
    programme: Annotated[str, typer.Argument(help="Programme id from 'leefbaar programmes', e.g. krachtwijken.")],
    outcome: Annotated[str, typer.Option("--outcome", help="Indicator id (lbm, lbm_won, ...), 'index' or "
                                                           "'scores.<column>'.")] = "lbm",
    year_from: Annotated[int | None, typer.Option("--from", help="First measurement year in the window.")] = None,
    year_to: Annotated[int | None, typer.Option("--to", help="Last measurement year in the window.")] = None,
    store: StoreOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("evaluation"),
    lang: LangOpt = "nl",
    min_share: Annotated[float | None, typer.Option("--min-share", help="Share of a PC4's residents in the "
                                                                        "programme areas (confident matches) for "
                                                                        "it to count as treated; default: the "
                                                                        "membership rule of the facts layer "
                                                                        "(0.5).")] = None,
    match: Annotated[str, typer.Option("--match", help="mahalanobis or propensity.")] = "mahalanobis",
    neighbors: Annotated[int, typer.Option("--neighbors", help="References per treated area.")] = 5,
    covariates: Annotated[str, typer.Option("--covariates", help="Composition indicators to match on (comma-"
                                                                 "separated; only values measured before the "
                                                                 "start are used; '' for none).")]
    = "oad,p_huurwon,p_link_hh",
    permutations: Annotated[int, typer.Option("--permutations", help="Placebo sets for permutation "
                                                                     "inference.")] = 499,
    placebos: Annotated[int, typer.Option("--placebos", help="Placebo units for the synthetic control.")] = 50,
    treat_from: Annotated[int | None, typer.Option("--treat-from", help="Override the first post year of every "
                                                                        "treated area.")] = None,
    keep_unresolved: Annotated[bool, typer.Option("--keep-unresolved-gemeenten", help="Keep references in gemeenten "
                                                  "with listed names that could not be placed.")] = False,
    no_holdout: Annotated[bool, typer.Option("--no-holdout", help="Match on the level and trend of all pre "
                                             "measurements; the pre-trend is then assumed, not tested.")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    record: Annotated[bool, typer.Option("--record", help="Also store the estimates in the store table "
                                                          "evaluation_results (recorded as a run).")] = False,
) -> None:
    """Evaluate a programme against matched reference areas and write a report folder."""
    from leefbaar.evaluation.report import EvaluationConfig, write_report
    from leefbaar.evaluation.report import evaluate as run_evaluation
    from leefbaar.evaluation.report import record as record_results
    from leefbaar.facts import Facts, load_rules, say

    _ = translator(check_lang(lang))
    rule_share = load_rules().min_share
    min_share = rule_share if min_share is None else min_share
    if match not in ("mahalanobis", "propensity"):
        raise InputError("--match", _("{value} is not mahalanobis or propensity", value=repr(match)))
    if not 0 < min_share <= 1:
        raise InputError("--min-share", _("must be above 0 and at most 1"))
    if year_from is not None and year_to is not None and year_from > year_to:
        raise LeefbaarError(_("--from {first} is after --to {last}", first=year_from, last=year_to))
    config = EvaluationConfig(outcome=outcome, year_from=year_from, year_to=year_to, min_share=min_share,
                              match_method=match, n_neighbors=neighbors,
                              covariates=tuple(c.strip() for c in covariates.split(",") if c.strip()),
                              n_permutations=permutations, n_placebos=placebos, treat_from=treat_from,
                              exclude_unresolved_gemeenten=not keep_unresolved, holdout=not no_holdout,
                              seed=seed)
    path = resolve_store(store)
    with Store.open(path, read_only=not record) as st:
        with progress_bar() as update:
            ev = run_evaluation(st, programme, config, progress=update)
        hashes = Facts(st).source_hashes()
        files = write_report(ev, out, lang, hashes, verdict_line(ev, lang))
        if record:
            with st.transaction(), st.run("evaluate", {"programme": programme, **config.__dict__}):
                record_results(st, ev)
        facts = Facts(st)
        n_members = len(facts.programme_members(ev.programme.id))
        rule_text = facts.membership_rule()[lang]
    est = ev.estimates()
    show = est[["method", "inference", "estimate", "ci_low", "ci_high", "p_value", "status"]]
    print_frame(show, title=f"{ev.programme.name(lang)}: {outcome}", lang=lang)
    if min_share == rule_share:
        console.print(say("evaluation.areas", lang, n=n_members, rule=rule_text), markup=False, highlight=False)
    console.print(verdict_line(ev, lang), markup=False, highlight=False)
    console.print(_.ngettext("{n} file written to {out}", "{n} files written to {out}", len(files), out=out),
                  markup=False, highlight=False)


def verdict_line(ev, lang: str) -> str:
    """The evaluation's conclusion in one sentence of the facts layer's table (the summary uses the same
    ``Evaluation.conclusion``)."""
    from leefbaar.facts import say

    p = ev.p_value
    return say(f"evaluation.{ev.conclusion}", lang, reasons="; ".join(ev.reasons(lang)),
               p=fmt_number(p, lang, 3))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to app."""
    app.command("programmes")(programmes)
    app.command("resolve-areas")(resolve_areas)
    app.command("evaluate")(evaluate)
