"""Index commands: score, explain, validate, audit; and the ``index`` sub-app (``leefbaar index build``,
``leefbaar index uncertainty``) for the open index engine on any table of units and indicators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leefbaar.cli.common import LangOpt, OutOpt, StoreOpt, console, err_console, print_frame, resolve_store, write_csv
from leefbaar.errors import LeefbaarError
from leefbaar.i18n import check_lang, translator

SpecOpt = Annotated[str, typer.Option("--spec", help="Built-in spec name or a .yaml/.toml spec file.")]
LevelOpt = Annotated[str, typer.Option("--level", help="Area level (pc4).")]


def _years(text: str) -> list[int]:
    try:
        out: list[int] = []
        for part in text.split(","):
            a, _, b = part.partition("-")
            out += list(range(int(a), int(b or a) + 1))
        return out
    except ValueError:
        raise LeefbaarError(f"--years {text!r} is not like '2017-2023' or '2018,2020'") from None


def score(store: StoreOpt = None, out: OutOpt = Path("out/index"), spec: SpecOpt = "default",
          level: LevelOpt = "pc4", years: Annotated[str, typer.Option(help="Years, e.g. 2017-2023.")] = "2017-2023",
          draws: Annotated[int, typer.Option(help="Monte Carlo draws (0 = none).")] = 1000,
          seed: Annotated[int, typer.Option(help="Random seed.")] = 0, lang: LangOpt = "nl") -> None:
    """Score every area and year; official where the Leefbaarometer exists, else modelled (nowcast)."""
    from leefbaar.config import duckdb_memory
    from leefbaar.index.pipeline import KIND_LABELS, build_scores, score_summary, summary_markdown, write_scores
    from leefbaar.index.spec import load_spec
    from leefbaar.store.store import Store

    sp = load_spec(spec)
    if sp.level != level:
        raise LeefbaarError(f"spec {sp.name!r} is for level {sp.level!r}, not {level!r}")
    with Store.open(resolve_store(store), read_only=False, memory_limit=duckdb_memory()) as st:
        result = build_scores(st, sp, _years(years), n_draws=draws, seed=seed,
                              progress=lambda m: err_console.print(f"[dim]{m}[/dim]"))
        run = write_scores(st, result, {"spec": spec, "level": level, "years": years, "draws": draws, "seed": seed})
    write_csv(result.wide(), out, f"scores_{sp.name}_{level}.csv")
    summary = score_summary(result)
    write_csv(summary, out, f"summary_{sp.name}_{level}.csv")
    if result.nowcast is not None:
        write_csv(result.nowcast.pairs_, out, f"nowcast_correction_{sp.name}_{level}.csv")
    (out / f"summary_{sp.name}_{level}.md").write_text(summary_markdown(result, run, lang), encoding="utf-8")
    _ = translator(lang)
    shown = summary.assign(kind=[_(KIND_LABELS.get(k, k)) for k in summary["kind"]])
    print_frame(shown.round(3), title=f"scores {sp.name} {level} (run {run})", lang=lang)


def explain(level: Annotated[str, typer.Argument(help="Area level, e.g. PC4.")],
            code: Annotated[str, typer.Argument(help="Area code, e.g. 3072.")],
            store: StoreOpt = None,
            from_year: Annotated[int | None, typer.Option("--from", help="Earlier year.")] = None,
            to_year: Annotated[int | None, typer.Option("--to", help="Later year (or the single year).")] = None,
            spec: SpecOpt = "default", lang: LangOpt = "nl", top: int = 12,
            out: Annotated[Path | None, typer.Option("--out", help="Folder for the table as CSV.")] = None) -> None:
    """Explain one area's score (--to YEAR) or its change (--from A --to B) per dimension and indicator."""
    from leefbaar.index import api
    from leefbaar.index.pipeline import KIND_LABELS
    from leefbaar.store.store import Store

    lvl = level.lower()
    _ = translator(check_lang(lang))
    with Store.open(resolve_store(store)) as st:
        if from_year is not None and to_year is not None:
            table = api.explain_change(st, code, from_year, to_year, spec, lvl)
            if lang == "en":
                table["label"] = [api.indicator_label(k, api._labels(st), "en") for k in table["indicator"]]
            scores = api.load_scores(st, spec, lvl, [from_year, to_year]).set_index(["code", "year"])
            a, b = scores.loc[(code, from_year)], scores.loc[(code, to_year)]
            console.print(f"[bold]{level.upper()} {code}: {from_year} -> {to_year}[/bold]  " + _(
                "total {a} ({kind_a}) -> {b} ({kind_b}), change {change}", a=_.number(a.total), b=_.number(b.total),
                kind_a=_(KIND_LABELS.get(a.kind, a.kind)), kind_b=_(KIND_LABELS.get(b.kind, b.kind)),
                change=_.signed(b.total - a.total)), highlight=False)
            dims = table.groupby("dimension")["change"].sum()
            console.print("  " + "  ".join(f"{d} {_.signed(v)}" for d, v in dims.items()), highlight=False)
            print_frame(table[["dimension", "label", "from", "to", "change"]], max_rows=top,
                        title=_("indicators that moved"), lang=lang)
        else:
            year = to_year or from_year
            if year is None:
                raise LeefbaarError("give --to YEAR for one year, or --from A --to B for a change")
            table = api.explain_area(st, code, year, spec, lvl)
            if lang == "en" and "indicator" in table:
                table["label"] = [api.indicator_label(k, api._labels(st), "en") for k in table["indicator"]]
            s = api.load_scores(st, spec, lvl, [year]).set_index("code").loc[code]
            console.print(f"[bold]{level.upper()} {code} {year}[/bold]: " + _(
                "total {total} ({kind}), class {klasse}, afw {afw}", total=_.number(s.total),
                kind=_(KIND_LABELS.get(s.kind, s.kind)), klasse=s.klasse, afw=_.signed(s.afw)), highlight=False)
            print_frame(table[["dimension", "label", "contribution", "vs_gemeente"]], max_rows=top, lang=lang)
    if out is not None:
        write_csv(table, out, f"explain_{lvl}_{code}.csv")


def validate(store: StoreOpt = None, out: OutOpt = Path("out/validate"), spec: SpecOpt = "default",
             folds: Annotated[int, typer.Option(help="Groups of gemeenten in the CV.")] = 10,
             baseline: Annotated[bool, typer.Option(help="Also run the gradient-boosting baseline.")] = False,
             years: Annotated[str, typer.Option(help="Official years to cross-validate.")] = "2018,2020,2022",
             fit_years: Annotated[str, typer.Option(help="Out-of-time: years to fit on; each predicts the later "
                                                         "cross-validated years.")] = "2018,2020",
             lang: LangOpt = "nl") -> None:
    """Leave-gemeente-out CV and out-of-time tests against the official Leefbaarometer."""
    import pandas as pd

    from leefbaar.index import validate as V
    from leefbaar.index.features import contiguity, load_panel, neighbour_pairs
    from leefbaar.index.nowcast import load_official
    from leefbaar.index.spec import load_spec
    from leefbaar.store.store import Store

    plan = {fit: tests for fit in _years(fit_years) if (tests := [y for y in _years(years) if y > fit])}
    if not plan:
        raise LeefbaarError(f"no cross-validated year in --years {years} comes after --fit-years {fit_years}")
    sp = load_spec(spec)
    with Store.open(resolve_store(store)) as st:
        panel = load_panel(st, sp, range(2017, 2024)).reset_index(drop=True)
        pairs = neighbour_pairs(contiguity(st, sp.level)) if sp.spatial_lag else None
        official = load_official(st, sp)
    note = lambda m: err_console.print(f"[dim]{m}[/dim]")  # noqa: E731
    models = ["index"] + (["baseline"] if baseline else [])
    cv = pd.concat([V.cross_validate(sp, panel, pairs, _years(years), folds, m, note) for m in models])
    runs = [V.out_of_time(sp, panel, pairs, official, fit, tests, m) for m in models for fit, tests in plan.items()]
    oot = pd.concat([r[0] for r in runs], ignore_index=True)
    corrections = pd.concat([r[1] for r in runs], ignore_index=True)
    write_csv(cv, out, "cv.csv")
    write_csv(oot, out, "out_of_time.csv")
    write_csv(corrections, out, "nowcast_correction.csv")
    (out / "validate.md").write_text(V.summary_markdown(cv, oot, corrections, lang), encoding="utf-8")
    _ = translator(lang)
    print_frame(cv.round(3), title=_("leave-gemeente-out CV"), max_rows=100, lang=lang)
    print_frame(oot[oot["target"] == "afw"].round(3), title=_("out-of-time, total (all targets in the CSV)"),
                max_rows=120, lang=lang)
    print_frame(corrections.round(4), title=_("nowcast correction per pair of official years"), max_rows=60,
                lang=lang)
    files = f"{out}/cv.csv, out_of_time.csv, nowcast_correction.csv, validate.md"
    console.print(_("written: {files}", files=files))


def audit(store: StoreOpt = None, out: OutOpt = Path("out/audit"), spec: SpecOpt = "default",
          variant: Annotated[str, typer.Option(help="Variant with ethnicity shares.")] = "lbm2_like",
          lang: LangOpt = "nl", top: int = 5, folds: int = 5) -> None:
    """Discrimination audit: association with migration-background shares, proxies, LBM2-like variant."""
    from leefbaar.index import audit as A
    from leefbaar.index.features import contiguity, load_panel, neighbour_pairs
    from leefbaar.index.spec import load_spec
    from leefbaar.store.store import Store

    sp, var = load_spec(spec), load_spec(variant)
    with Store.open(resolve_store(store)) as st:
        panel = load_panel(st, var, [2018, 2020], extra=A.SHARE_INDICATORS).reset_index(drop=True)
        pairs = neighbour_pairs(contiguity(st, sp.level)) if sp.spatial_lag else None
    tables = A.run_audit(sp, var, panel, pairs, years=(2018, 2020), top=top, folds=folds,
                         progress=lambda m: err_console.print(f"[dim]{m}[/dim]"))
    for name, frame in tables.items():
        write_csv(frame, out, f"audit_{name}.csv")
    text = A.report(tables, 2018, lang)
    (out / f"audit_{lang}.md").write_text(text, encoding="utf-8")
    console.print(text)


engine_app = typer.Typer(name="index", help="Open index-engine: eigen gegevens, eigen hiërarchie (zoals COINr). "
                                           "Open index engine: any data, any hierarchy (COINr-style).",
                         no_args_is_help=True)
DataFileOpt = Annotated[Path, typer.Option("--data", help="Table of units and indicators (.csv or .parquet).")]
EngineSpecOpt = Annotated[Path, typer.Option("--spec", help="Engine spec (.yaml/.toml), see docs/index-engine.md.")]
MetaOpt = Annotated[Path | None, typer.Option("--meta", help="iMeta-style metadata (.csv) instead of the spec's.")]


@engine_app.command("build")
def engine_build(data: DataFileOpt, spec: EngineSpecOpt, out: OutOpt = Path("out/engine"),
                 meta: MetaOpt = None, lang: LangOpt = "nl") -> None:
    """Build an index: scores and ranks per level (CSV), data after each step, contributions, record.json."""
    from leefbaar.index.engine import build_file

    result = build_file(data, spec, meta)
    written = result.write(out, lang)
    h = result.spec.hierarchy
    top = result.level(h.depth)
    print_frame(top.sort_values(f"{h.codes(h.depth)[0]}_rank").round(3), max_rows=15,
                title=f"{result.spec.name}: {h.level_name(h.depth)} ({len(result.units)} units)")
    console.print(translator(lang).ngettext("written: {n} file in {out}", "written: {n} files in {out}",
                                            len(written), out=out))


@engine_app.command("uncertainty")
def engine_uncertainty(data: DataFileOpt, spec: EngineSpecOpt, out: OutOpt = Path("out/engine"),
                       meta: MetaOpt = None,
                       draws: Annotated[int | None, typer.Option(help="Model runs (default: the spec's).")] = None,
                       seed: Annotated[int | None, typer.Option(help="Random seed (default: the spec's).")] = None,
                       lang: LangOpt = "nl") -> None:
    """Uncertainty (score and rank distributions) and Sobol sensitivity of the spec's 'uncertainty' choices."""
    from dataclasses import replace

    from leefbaar.index.engine import load_engine_spec, read_table, validate
    from leefbaar.index.engine.uncertainty import analyse, parse_uncertainty

    sp = load_engine_spec(spec, meta)
    if not sp.uncertainty:
        raise LeefbaarError(f"{spec}: the spec has no 'uncertainty' section naming what varies")
    plan = parse_uncertainty(sp.uncertainty, sp)
    plan = replace(plan, draws=draws or plan.draws, seed=plan.seed if seed is None else seed)
    result = analyse(validate(read_table(data), sp, str(data)), sp, plan)
    written = result.write(out)
    _ = translator(check_lang(lang))
    print_frame(result.sobol.round(3), title=_("Sobol indices ({n} runs), output: mean absolute rank shift",
                                               n=_.integer(len(result.draws))), lang=lang)
    print_frame(result.scores.sort_values("rank").round(2), max_rows=15, lang=lang,
                title=_("score and rank: median and 90% interval (5%–95%)"))
    files = f"{', '.join(p.name for p in written)} in {out}"
    console.print(_("written: {files}", files=files))


def register(app: typer.Typer) -> None:
    """Add this stage's commands to app."""
    app.add_typer(engine_app, name="index")
    app.command("score")(score)
    app.command("explain")(explain)
    app.command("validate")(validate)
    app.command("audit")(audit)
