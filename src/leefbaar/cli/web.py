"""Dashboard, report and export commands: ``leefbaar serve``, ``leefbaar report``, ``leefbaar export``."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from leefbaar.cli.common import LangOpt, OutOpt, StoreOpt, console, progress_bar, resolve_store
from leefbaar.errors import InputError
from leefbaar.i18n import check_lang, translator


class ExportTable(enum.StrEnum):
    map = "map"
    ranking = "ranking"
    gap = "gap"
    programmes = "programmes"


def serve(
    store: StoreOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8000,
    workers: Annotated[int | None, typer.Option("--workers", help="Server processes (default: one per core).",
                                                min=1, max=32)] = None,
    cache_mb: Annotated[float | None, typer.Option("--cache-mb", help="Memory for kept answers per server "
                                                   "process, in MB (default 48; bounded in bytes, least recently "
                                                   "used answers go first).", min=8, max=65536)] = None,
    queue: Annotated[int, typer.Option("--queue", help="API requests that may wait per server process; beyond "
                                       "that (or after 1.5 s of waiting) the answer is 503 with Retry-After.",
                                       min=0, max=10000)] = 16,
    lang: LangOpt = "nl",
) -> None:
    """Serve the dashboard (map, area profiles, compare, gap, programmes) over the store, read-only."""
    from leefbaar.web.app import default_workers
    from leefbaar.web.app import serve as run_server

    _ = translator(lang)
    path = resolve_store(store)
    workers = workers or default_workers()
    url = f"http://{host}:{port}/"
    console.print(_.ngettext("leefbaar dashboard: {url}  (store {store}, read-only, {n} worker; Ctrl+C stops)",
                             "leefbaar dashboard: {url}  (store {store}, read-only, {n} workers; Ctrl+C stops)",
                             workers, url=url, store=path), markup=False, highlight=False)
    run_server(path, host, port, workers, cache_mb=cache_mb, queue=queue)


def report(
    gemeente: Annotated[str | None, typer.Argument(help="Gemeente code (GM0599) or name (Rotterdam).")] = None,
    gemeente_opt: Annotated[str | None, typer.Option("--gemeente", help="The gemeente, as the argument (code "
                                                                         "or name).")] = None,
    out: OutOpt = Path("out/report"),
    store: StoreOpt = None,
    level: Annotated[str, typer.Option("--level", help="Area level of the report: pc4 or buurt.")] = "pc4",
    year: Annotated[int | None, typer.Option("--year", help="Score year (default: the latest official year).")]
    = None,
    lang: LangOpt = "nl",
) -> None:
    """Write a gemeente report as PDF and HTML (map, ranked areas, areas needing attention, trends, sources)."""
    from leefbaar.report.gemeente import build_report

    if (gemeente is None) == (gemeente_opt is None):
        raise InputError("gemeente", "give the gemeente once, as argument or with --gemeente")
    gemeente = gemeente or gemeente_opt

    with progress_bar() as update:
        update(f"report {gemeente}", 0, 1)
        result = build_report(resolve_store(store), gemeente, out, lang=lang, level=level, year=year)
        update(f"report {gemeente}", 1, 1)
    _ = translator(check_lang(lang))
    console.print(_.ngettext("PDF ({n} page): {pdf}", "PDF ({n} pages): {pdf}", result.pages, pdf=result.pdf),
                  markup=False, highlight=False)
    console.print(f"HTML: {result.html}", markup=False, highlight=False)
    for path in result.tables:
        console.print(_("table: {path}", path=path), markup=False, highlight=False)


def export(
    table: Annotated[ExportTable, typer.Argument(help="What to export: map, ranking, gap or programmes.")],
    out: OutOpt = Path("out/export"),
    store: StoreOpt = None,
    level: Annotated[str, typer.Option("--level", help="pc4, buurt, wijk or gemeente.")] = "pc4",
    year: Annotated[int | None, typer.Option("--year", help="Year (default: the latest official year).")] = None,
    measure: Annotated[str, typer.Option("--measure", help="total, afw, a dimension of the index "
                                                           "(Leefbaarometer: won, fys, vrz, soc, onv), klasse, change "
                                                           "or indicator (map only).")] = "total",
    indicator: Annotated[str | None, typer.Option("--indicator", help="Indicator id for --measure "
                                                                      "indicator.")] = None,
    gemeente: Annotated[str | None, typer.Option("--gemeente", help="Only this gemeente (code GM0599 or name "
                                                                    "Rotterdam); every table and format.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, xlsx, or gpkg (map only).")] = "csv",
    lang: LangOpt = "nl",
) -> None:
    """Export a dashboard table (CSV or Excel) or the map (GeoPackage, EPSG:28992) into --out."""
    import pandas as pd

    from leefbaar.facts.boundaries import wkb_table
    from leefbaar.report import exports
    from leefbaar.report.data import DashboardData
    from leefbaar.store.store import Store

    _ = translator(lang)
    if fmt not in ("csv", "xlsx", "gpkg") or (fmt == "gpkg" and table != ExportTable.map):
        raise InputError("--format", _("{format} is not available for {table}; use {choices}", format=repr(fmt),
                                       table=table.value,
                                       choices="csv, xlsx, gpkg" if table == ExportTable.map else "csv, xlsx"))
    with Store.open(resolve_store(store)) as st:
        data = DashboardData(st)
        if measure not in data.measures():
            raise InputError("--measure", _("unknown measure {measure}; use one of {choices}", measure=repr(measure),
                                            choices=", ".join(data.measures())))
        gemeente = data.facts.gemeente_code(gemeente) if gemeente else None
        year = year if year is not None else data.facts.default_year(level)
        name = f"leefbaar_{table.value}_{level}" + (f"_{year}" if year and table != ExportTable.gap else "")
        if table == ExportTable.map:
            if year is None:
                raise InputError("--year", _("no scores at level {level}; give --year for an indicator",
                                             level=level))
            frame = data.map_frame(level, year, measure, indicator, gemeente)
            name += f"_{indicator or measure}"
            boundaries = wkb_table(data.sql, level) if fmt == "gpkg" else None
        elif table == ExportTable.ranking:
            frame = data.ranking(level, year, gemeente)
        elif table == ExportTable.gap:
            d = data.distribution(level, gemeente)
            frame = pd.DataFrame(d["years"])
            if not frame.empty:
                classes = pd.DataFrame(frame.pop("classes").tolist(), columns=[f"klasse_{k}" for k in range(1, 10)])
                frame = pd.concat([frame, classes], axis=1)
        else:
            frame = pd.DataFrame(data.programmes()["registry"])
            if gemeente:  # programmes with member areas (the one rule) in this gemeente
                m = data.facts.membership
                here = m[m["member"] & (m["code"].map(data.facts.gemeente_of("pc4")) == gemeente)
                         & (m["level"] == "pc4")]
                frame = frame[frame["id"].isin(set(here["programme"]))]
        if fmt != "gpkg":
            body = exports.table_bytes(frame, fmt, table.value)
    if gemeente:
        name += f"_{gemeente}"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.{fmt}"
    if fmt == "gpkg":
        path.unlink(missing_ok=True)  # a new file, not a layer added to an old one
        exports.write_gpkg(frame, boundaries, path, name)
    else:
        path.write_bytes(body)
    console.print(_.ngettext("{n} row -> {path}", "{n} rows -> {path}", len(frame), path=path), markup=False,
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to app."""
    for fn in (serve, report, export):
        app.command()(fn)
