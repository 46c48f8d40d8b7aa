"""Data-foundation commands: build, summary, show, indicators."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from leefbaar.build import build as build_store
from leefbaar.cli.common import DataOpt, StoreOpt, console, print_frame, progress_bar, resolve_store
from leefbaar.config import data_dir
from leefbaar.errors import StoreError
from leefbaar.store.store import Store

LEVEL_ALIASES = {"pc4": "pc4", "postcode": "pc4", "gm": "gemeente", "gemeente": "gemeente", "wk": "wijk",
                 "wijk": "wijk", "bu": "buurt", "buurt": "buurt", "pv": "provincie", "provincie": "provincie",
                 "grid100": "grid100", "grid500": "grid500", "wijkprofiel": "wijkprofiel"}


def run_build(data: Path | None, store: Path | None) -> Path:
    """Build the store with a progress bar and print what was read, per family."""
    target = resolve_store(store)
    with progress_bar() as update:
        report = build_store(data_dir(data), target, progress=update)
    fam = report.by_family()
    if not fam.empty:
        print_frame(fam, title=f"Ingest into {target}", max_rows=200)
    skipped = pd.DataFrame([{"file": f.file, "reason": f.note} for f in report.files if f.status == "skipped"])
    if not skipped.empty:
        print_frame(skipped, title="Files not ingested", max_rows=100)
    return target


def print_summary(store: Path) -> None:
    """Areas per level and vintage, observations per level and year, indicators and sources."""
    with Store.open(store) as st:
        s = st.summary()
        n_ind = st.sql("SELECT count(*) AS n FROM indicators")["n"].iloc[0]
        n_obs = st.sql("SELECT count(*) AS n FROM observations")["n"].iloc[0]
    print_frame(s["areas"], title="Areas per level and vintage", max_rows=100)
    print_frame(s["observations"], title="Observations per level and year", max_rows=100)
    print_frame(s["geometries"], title="Boundaries per level and vintage", max_rows=100)
    console.print(f"{n_ind} indicators in the catalogue; {n_obs:,} observations from "
                  f"{int(s['sources']['files'].sum())} source files.")


def build(data: DataOpt = None, store: StoreOpt = None) -> None:
    """Ingest every file family under the data folder into the store (one transaction)."""
    print_summary(run_build(data, store))


def summary(store: StoreOpt = None) -> None:
    """Print what the store holds: areas, observations, boundaries and sources."""
    print_summary(resolve_store(store))


def show(
    level: Annotated[str, typer.Argument(help="Level: PC4, gemeente (GM), wijk (WK), buurt (BU), grid100, ...")],
    code: Annotated[str, typer.Argument(help="Area code, e.g. 3072, GM0599, WK059901.")],
    year: Annotated[int | None, typer.Option("--year", help="Observation year (default: latest).")] = None,
    theme: Annotated[str | None, typer.Option("--theme", help="Only indicators of this theme.")] = None,
    store: StoreOpt = None,
) -> None:
    """Show all indicator values of one area in one year, with unit, status and source."""
    lvl = LEVEL_ALIASES.get(level.lower())
    if lvl is None:
        raise StoreError(f"unknown level {level!r}; use one of {', '.join(sorted(set(LEVEL_ALIASES.values())))}")
    code = code.upper() if lvl != "pc4" else code
    with Store.open(resolve_store(store)) as st:
        years = st.sql("SELECT DISTINCT year FROM observations WHERE level = ? AND code = ? ORDER BY year",
                       [lvl, code])["year"].tolist()
        if not years:
            raise StoreError(f"no observations for {lvl} {code}")
        if year is None:
            year = years[-1]
        elif year not in years:
            raise StoreError(f"no observations for {lvl} {code} in {year}; years with data: "
                             f"{', '.join(map(str, years))}")
        area = st.sql("SELECT name, gemeente_code, vintage FROM areas WHERE level = ? AND code = ? "
                      "ORDER BY vintage DESC LIMIT 1", [lvl, code])
        frame = st.sql(
            "SELECT i.theme, o.indicator, i.label_nl AS label, o.value, i.unit, o.status, s.file AS source "
            "FROM observations o JOIN indicators i ON i.id = o.indicator JOIN sources s USING (source_id) "
            "WHERE o.level = ? AND o.code = ? AND o.year = ? ORDER BY i.theme, o.indicator", [lvl, code, year])
        gm = None
        if not area.empty and pd.notna(area["gemeente_code"].iloc[0]):
            gm = st.sql("SELECT name FROM areas WHERE level = 'gemeente' AND code = ? AND name IS NOT NULL "
                        "ORDER BY vintage DESC LIMIT 1", [area["gemeente_code"].iloc[0]])
    if theme:
        frame = frame[frame["theme"].str.lower() == theme.lower()]
    name = area["name"].iloc[0] if not area.empty and pd.notna(area["name"].iloc[0]) else ""
    gm_text = (f", gemeente {gm['name'].iloc[0]} ({area['gemeente_code'].iloc[0]})"
               if gm is not None and len(gm) else "")
    title = f"{lvl.upper() if lvl == 'pc4' else lvl} {code}"
    console.print(f"[bold]{title}[/bold]{' ' + name if name else ''}{gm_text} - {year} "
                  f"(years with data: {', '.join(map(str, years))})")
    print_frame(frame, max_rows=400)


def indicators(
    search: Annotated[str | None, typer.Option("--search", help="Words to find in id, labels, theme, unit.")] = None,
    store: StoreOpt = None,
) -> None:
    """List the indicator catalogue (id, labels, unit, theme, direction), optionally filtered."""
    with Store.open(resolve_store(store)) as st:
        frame = st.indicators(search)
    print_frame(frame[["id", "label_nl", "label_en", "unit", "theme", "direction", "sensitive"]], max_rows=400)


def run(
    data: DataOpt = None,
    store: StoreOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the index tables.")] = Path("out"),
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboard afterwards.")] = True,
    port: Annotated[int, typer.Option("--port", help="Dashboard port.", min=1, max=65535)] = 8000,
    draws: Annotated[int, typer.Option("--draws", help="Monte Carlo draws for score uncertainty.")] = 1000,
) -> None:
    """The main job: build the store, score every PC4 area and year, resolve and evaluate the programme areas,
    and serve the dashboard."""
    from leefbaar.cli.evaluate import evaluate, resolve_areas
    from leefbaar.cli.index import score
    from leefbaar.cli.levels import levels
    from leefbaar.cli.web import serve as serve_dashboard

    target = run_build(data, store)
    print_summary(target)
    score(store=target, out=out / "index", draws=draws)
    levels(store=target, out=out / "levels")
    resolve_areas(store=target, out=out / "programmes")
    for programme in ("krachtwijken", "nprz"):
        evaluate(programme, store=target, out=out / "evaluation" / programme, record=True)
    if serve:
        serve_dashboard(store=target, port=port)


def register(app: typer.Typer) -> None:
    for fn in (run, build, summary, show, indicators):
        app.command()(fn)
