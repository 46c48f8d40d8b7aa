"""Buurt level and perception: ``survey import``, ``perception`` and ``validate-buurt``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leefbaar.cli.common import LangOpt, OutOpt, StoreOpt, console, print_frame, progress_bar, resolve_store
from leefbaar.i18n import check_lang, fmt_scientific, translator
from leefbaar.store.store import Store

survey_app = typer.Typer(help="Bewonersenquêtes: subjectieve scores per gebied. Residents' surveys.",
                         no_args_is_help=True)


@survey_app.command("import")
def survey_import(
    file: Annotated[Path, typer.Argument(help="CSV with aggregated scores or respondent-level microdata.")],
    kind: Annotated[str, typer.Option("--kind", help="aggregate or microdata.")],
    area_column: Annotated[str, typer.Option("--area-column", help="Column with the area code (microdata: "
                                                                    "comma-separated, one per --level).")],
    items: Annotated[str, typer.Option("--items", help="Comma-separated item columns.")],
    level: Annotated[str, typer.Option("--level", help="Area level of the codes: buurt, wijk, gemeente, pc4, "
                                                       "wijkprofiel (Rotterdam numbers allowed); microdata: "
                                                       "several, comma-separated.")] = "buurt",
    year_column: Annotated[str | None, typer.Option("--year-column", help="Column with the year.")] = None,
    year: Annotated[int | None, typer.Option("--year", help="Year of all rows (no --year-column).")] = None,
    weight_column: Annotated[str | None, typer.Option(
        "--weight-column", help="Microdata: survey weight per respondent.")] = None,
    n_column: Annotated[str | None, typer.Option("--n-column",
                                                 help="Aggregates: number of respondents per row.")] = None,
    published: Annotated[bool, typer.Option("--published", help="Aggregates already published by their owner "
                                                                "without respondent counts.")] = False,
    min_respondents: Annotated[int | None, typer.Option(
        "--min-respondents", min=1, help="No figure for fewer respondents (default: catalogue/disclosure.yaml, "
                                         "50).")] = None,
    respondent_column: Annotated[str | None, typer.Option(
        "--respondent-column", help="Microdata: the survey's respondent number (not a BSN or address), to "
                                    "recognise respondents across imports; default: the whole row.")] = None,
    survey_id: Annotated[str | None, typer.Option(
        "--survey-id", help="Name of this survey in the store (default: from the file name).")] = None,
    dimension: Annotated[list[str] | None, typer.Option(
        "--dimension", help="ITEM=DIM: compare the item with Leefbaarometer dimension DIM (afw, won, fys, "
                            "vrz, soc, onv) in 'leefbaar perception'. Repeatable.")] = None,
    store: StoreOpt = None,
) -> None:
    """Import survey scores: aggregate microdata with disclosure control, or take aggregates as they are."""
    from leefbaar.analysis.survey import import_survey, parse_dimensions

    item_list = [i.strip() for i in items.split(",") if i.strip()]
    dims = parse_dimensions(dimension or [], item_list)
    with Store.open(resolve_store(store), read_only=False) as st:
        result = import_survey(st, file, kind, level, area_column, item_list, survey_id, year_column, year,
                               weight_column, n_column, published, min_respondents, dims, respondent_column)
    why = {"count": f"fewer than {result.min_respondents} respondents",
           "effective": "too small an effective number of respondents (Kish)",
           "dominance": "one respondent's weight dominating",
           "difference": "a difference with a figure published earlier that would disclose too few respondents"}
    left = "; ".join(f"{n} for {why[r]}" for r, n in result.suppressed.items() if n)
    console.print(f"Survey [bold]{result.survey_id}[/bold] ({result.kind}): {result.rows} figures for "
                  f"{result.areas} area(s) stored in table survey_scores; {result.suppressed_groups} group(s) "
                  f"left out entirely{': ' + left if left else ''}.")


def perception(
    store: StoreOpt = None,
    out: OutOpt = Path("perception"),
    lang: LangOpt = "nl",
    top: Annotated[int, typer.Option("--top", min=1, help="Areas per side in the ranking chart.")] = 10,
) -> None:
    """Where residents judge their area worse or better than the figures say (Wijkprofiel, Leefbaarometer)."""
    from leefbaar.analysis.perception import perception_report, write_perception

    _ = translator(check_lang(lang))
    with Store.open(resolve_store(store)) as st:
        report = perception_report(st, top=top)
    files = write_perception(report, out, lang, top)
    rep = report.reproduction
    worst = max(rep.max_abs_diff.values())
    print_frame(report.largest.head(3)[["name", "year", f"label_{lang}", "subjective", "objective", "gap"]],
                title=_("Largest perception gaps"), lang=lang)
    fields = {"n": _.integer(rep.n_checked), "worst": fmt_scientific(worst, lang), "files": len(files), "out": out}
    console.print(_("Wijkprofiel index mode: {n} checks against the published parts, max |difference| {worst} (within "
                    "the published rounding). {files} files in {out}.", **fields) if rep.all_within_rounding else
                  _("Wijkprofiel index mode: {n} checks against the published parts, max |difference| {worst} (NOT "
                    "within the published rounding). {files} files in {out}.", **fields), markup=False, highlight=False)


def validate_buurt(
    store: StoreOpt = None,
    out: OutOpt = Path("buurt-validation"),
    spec: Annotated[str, typer.Option("--spec", help="Index spec: a built-in name or a YAML file.")] = "default",
    year: Annotated[int, typer.Option("--year", help="Year of the buurt figures and official scores.")] = 2024,
    save: Annotated[bool, typer.Option("--save", help="Also store the buurt scores (table buurt_scores).")] = False,
    baseline: Annotated[bool, typer.Option("--baseline", help="Add the gradient-boosting reference model.")] = False,
    lang: LangOpt = "nl",
) -> None:
    """Calibrate and validate the index at buurt level on the Rijnmond buurten (leave one gemeente out)."""
    from leefbaar.analysis.buurt_index import validate_buurt as run_validation
    from leefbaar.analysis.buurt_index import write_buurt_validation

    _ = translator(check_lang(lang))
    path = resolve_store(store)
    with Store.open(path) as st, progress_bar() as update:
        result = run_validation(st, spec, year, baseline=baseline, progress=update)
    files = write_buurt_validation(result, out, lang)
    if save:
        from leefbaar.analysis.buurt_index import save_buurt_scores

        with Store.open(path, read_only=False) as st:
            save_buurt_scores(st, result, {"spec": spec, "year": year})
    afw = result.table[result.table["target"] == "afw"]
    print_frame(afw.drop(columns=["year", "target"]), title=_("afw: prediction against the official LBM {year} score",
                                                              year=year), lang=lang)
    fields = {"scored": _.integer(result.n_scored), "n": _.integer(result.n_buurten), "g": result.n_gemeenten,
              "variant": result.chosen, "files": len(files), "out": out}
    console.print(_("{scored} of {n} buurten scored officially, {g} gemeenten; every buurt scored with variant "
                    "'{variant}'. {files} files in {out}, scores stored in table buurt_scores.", **fields) if save else
                  _("{scored} of {n} buurten scored officially, {g} gemeenten; every buurt scored with variant "
                    "'{variant}'. {files} files in {out}.", **fields), markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to app."""
    app.add_typer(survey_app, name="survey")
    app.command()(perception)
    app.command("validate-buurt")(validate_buurt)
