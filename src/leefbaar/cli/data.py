"""Data-foundation commands: build, summary, show, indicators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from leefbaar.build import build as build_store
from leefbaar.cli.common import (
    DataOpt,
    LangOpt,
    StoreOpt,
    console,
    print_frame,
    progress_bar,
    resolve_store,
)
from leefbaar.config import data_dir
from leefbaar.errors import StoreError
from leefbaar.i18n import N_, translator
from leefbaar.store.store import Store

LEVEL_ALIASES = {"pc4": "pc4", "postcode": "pc4", "gm": "gemeente", "gemeente": "gemeente", "wk": "wijk",
                 "wijk": "wijk", "bu": "buurt", "buurt": "buurt", "pv": "provincie", "provincie": "provincie",
                 "grid100": "grid100", "grid500": "grid500", "wijkprofiel": "wijkprofiel"}


STATUS = {"read": N_("read"), "unchanged": N_("unchanged"), "skipped": N_("skipped")}
"""What ``build`` did with a file (``FileReport.status``), as shown."""
OBSERVATION_STATUS = {"ok": N_("ok"), "rounded": N_("rounded"), "suppressed": N_("suppressed"),
                      "missing": N_("missing")}
"""An observation's ``status`` in the store, as shown."""
SKIP_REASONS = (N_("byte copy of an original; its converted CSV is read instead"),
                N_("code book; the catalogue maps its columns"), N_("StatLine metadata (no observations)"),
                N_("police table metadata only; the data file is not in the folder"), N_("no reader for this file"))
"""The reasons of ``leefbaar.build.why_skipped``, marked for translation (another reason is shown as it is)."""


def run_build(data: Path | None, store: Path | None, lang: str = "nl") -> Path:
    """Build the store with a progress bar and print what was read, per family."""
    _ = translator(lang)
    target = resolve_store(store)
    with progress_bar() as update:
        report = build_store(data_dir(data), target, progress=update)
    fam = report.by_family()
    if not fam.empty:
        fam["status"] = [_(STATUS[v]) if v in STATUS else v for v in fam["status"]]
        print_frame(fam, title=_("Ingest into {store}", store=target), max_rows=200, lang=lang)
    skipped = pd.DataFrame([{"file": f.file, "reason": _(f.note) if f.note else ""}
                            for f in report.files if f.status == "skipped"])
    if not skipped.empty:
        print_frame(skipped, title=_("Files not ingested"), max_rows=100, lang=lang)
    return target


def print_summary(store: Path, lang: str = "nl") -> None:
    """Areas per level and vintage, observations per level and year, indicators and sources."""
    from leefbaar.facts import Facts

    _ = translator(lang)
    with Store.open(store) as st:
        s = st.summary()
        counts = Facts(st).store_counts()
        n_ind, n_obs = counts["indicators"], counts["observations"]
    print_frame(s["areas"], title=_("Areas per level and vintage"), max_rows=100, lang=lang)
    print_frame(s["observations"], title=_("Observations per level and year"), max_rows=100,
                lang=lang)
    print_frame(s["geometries"], title=_("Boundaries per level and vintage"), max_rows=100,
                lang=lang)
    console.print(_("{indicators} indicators in the catalogue; {observations} observations from {files} source "
                    "files.", indicators=_.integer(n_ind), observations=_.integer(n_obs),
                    files=_.integer(s["sources"]["files"].sum())), markup=False, highlight=False)


def build(data: DataOpt = None, store: StoreOpt = None, lang: LangOpt = "nl") -> None:
    """Ingest every file family under the data folder into the store (one transaction)."""
    print_summary(run_build(data, store, lang), lang)


def summary(store: StoreOpt = None, lang: LangOpt = "nl") -> None:
    """Print what the store holds: areas, observations, boundaries and sources."""
    print_summary(resolve_store(store), lang)


def show(
    level: Annotated[str, typer.Argument(help="Level: PC4, gemeente (GM), wijk (WK), buurt (BU), grid100, ...")],
    code: Annotated[str, typer.Argument(help="Area code or name, e.g. 3072, GM0599, Rotterdam, WK059901.")],
    year: Annotated[int | None, typer.Option("--year", help="Observation year (default: latest).")] = None,
    theme: Annotated[str | None, typer.Option("--theme", help="Only indicators of this theme.")] = None,
    store: StoreOpt = None,
    lang: LangOpt = "nl",
) -> None:
    """Show one area: its name, score facts (kind, class, rank, interval level), programmes, and all indicator
    values of one year with unit, status and source."""
    from leefbaar.facts import Facts

    _ = translator(lang)
    lvl = LEVEL_ALIASES.get(level.lower())
    if lvl is None:
        raise StoreError(_("unknown level {level}; use one of {levels}", level=repr(level),
                           levels=", ".join(sorted(set(LEVEL_ALIASES.values())))))
    with Store.open(resolve_store(store)) as st:
        facts = Facts(st)
        code = facts.find_area(lvl, code)
        chosen = year
        years = facts.observation_years(lvl, code)
        if not years:
            raise StoreError(_("no observations for {level} {code}", level=lvl, code=code))
        if year is None:
            year = years[-1]
        elif year not in years:
            raise StoreError(_("no observations for {level} {code} in {year}; years with data: {years}", level=lvl,
                               code=code, year=year, years=", ".join(map(str, years))))
        area = facts.area(lvl, code) if facts.has_area(lvl, code) else {"label": code}
        score = None
        if lvl in ("pc4", "buurt", "wijk", "gemeente"):  # the score of the chosen year, else the default year
            scored = {p["year"] for p in facts.series(lvl, code)}
            score = facts.score(lvl, code, chosen if chosen in scored else None)
        progs = facts.area_programmes(lvl, code) if facts.has_area(lvl, code) else None
        frame = facts.observations(lvl, code, year)
    if theme:
        frame = frame[frame["theme"].str.lower() == theme.lower()]
    frame = frame.drop(columns=["label_en"] if lang == "nl" else ["label"]).rename(columns={"label_en": "label"})
    from leefbaar.facts.choropleth import theme_label, unit_label

    frame["theme"] = [theme_label(t)[lang] for t in frame["theme"]]
    frame["unit"] = [unit_label(u)[lang] for u in frame["unit"]]
    if "status" in frame:
        frame["status"] = [_(OBSERVATION_STATUS[v]) if v in OBSERVATION_STATUS else v for v in frame["status"]]
    gm = area.get("gemeente_name")
    head = f"[bold]{lvl.upper() if lvl == 'pc4' else lvl} {escape(str(area['label']))}[/bold]"
    if gm and lvl != "gemeente":
        head += escape(", " + _("gemeente {name} ({code})", name=gm, code=area["gemeente_code"]))
    console.print(head, highlight=False)
    console.print(score_line(score, lang), markup=False, highlight=False)
    if progs is not None:
        console.print(programme_line(progs, lang), markup=False, highlight=False)
    console.print(_("{year} (years with data: {years})", year=year, years=", ".join(map(str, years))),
                  markup=False, highlight=False)
    print_frame(frame, max_rows=400, lang=lang)


def score_line(score: dict | None, lang: str) -> str:
    """One line with a score fact: year, kind, class (or not classed), rank and interval (level stated)."""
    from leefbaar.facts import say

    _ = translator(lang)
    if not score:
        return _("no score")
    kind = score["kind_label"][lang] if score["kind_label"] else score["kind"]
    klass = (_("class {klasse} ({label})", klasse=score["klasse"], label=score["klasse_label_" + lang])
             if score["classed"] else score["not_classed"][lang])
    rank = (say("rank", lang, rank=_.integer(score["rank"]), n=_.integer(score["n_areas"])) if score["rank"]
            else say("rank.none", lang))
    interval = (say("interval", lang, level=score["interval_level"], lo=_.number(score["interval"]["lo"]),
                    hi=_.number(score["interval"]["hi"])) if score["interval"] else say("interval.none", lang))
    return _("score {year}: {total} ({kind}); {klass}; {rank}; {interval}", year=score["year"],
             total=_.number(score["total"]), kind=kind, klass=klass, rank=rank, interval=interval)


def programme_line(progs: dict, lang: str) -> str:
    """Programme facts of an area: members (by the one rule), touched, gemeente with designated areas."""
    from leefbaar.facts import say

    parts = [i["text"][lang] for k in ("member", "touched", "gemeente") for i in progs[k]]
    return "; ".join(parts) if parts else say("membership.none", lang)


def indicators(
    search: Annotated[str | None, typer.Option("--search", help="Words to find in id, labels, theme, unit.")] = None,
    store: StoreOpt = None,
    lang: LangOpt = "nl",
) -> None:
    """List the indicator catalogue (id, labels, unit, theme, direction), optionally filtered."""
    with Store.open(resolve_store(store)) as st:
        frame = st.indicators(search)
    print_frame(frame[["id", "label_nl", "label_en", "unit", "theme", "direction", "sensitive"]],
                max_rows=400, lang=lang)


def run(
    data: DataOpt = None,
    store: StoreOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the index tables.")] = Path("out"),
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboard afterwards.")] = True,
    port: Annotated[int, typer.Option("--port", help="Dashboard port.", min=1, max=65535)] = 8000,
    draws: Annotated[int, typer.Option("--draws", help="Monte Carlo draws for score uncertainty.")] = 1000,
    lang: LangOpt = "nl",
) -> None:
    """The main job: build the store, score every PC4 area and year, resolve and evaluate the programme areas,
    and serve the dashboard."""
    from leefbaar.cli.evaluate import evaluate, resolve_areas
    from leefbaar.cli.index import score
    from leefbaar.cli.levels import levels
    from leefbaar.cli.web import serve as serve_dashboard

    target = run_build(data, store, lang)
    print_summary(target, lang)
    score(store=target, out=out / "index", draws=draws, lang=lang)
    levels(store=target, out=out / "levels", lang=lang)
    resolve_areas(store=target, out=out / "programmes", lang=lang)
    for programme in ("krachtwijken", "nprz"):
        evaluate(programme, store=target, out=out / "evaluation" / programme, record=True, lang=lang)
    if serve:
        serve_dashboard(store=target, port=port, lang=lang)


def register(app: typer.Typer) -> None:
    for fn in (run, build, summary, show, indicators):
        app.command()(fn)
