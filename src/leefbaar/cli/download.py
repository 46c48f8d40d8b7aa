"""``leefbaar download``: CBS tables (OData) and PDOK boundaries into a data folder that ``build`` reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from leefbaar.cli.common import LangOpt, console, print_frame, progress_bar
from leefbaar.i18n import translator
from leefbaar.sources.odata import (
    CbsOData,
    HttpClient,
    ResponseCache,
    Written,
    default_cache_dir,
    download_kwb,
    kwb_table_for_year,
)
from leefbaar.sources.pdok import COLLECTIONS, download_boundaries


def parse_years(text: str, option: str) -> list[int]:
    """Years from ``2024``, ``2017-2024`` or ``2017,2020-2022`` (sorted, unique)."""
    years: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d{4})(?:\s*-\s*(\d{4}))?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise typer.BadParameter(f"{part!r} is not a year or a range like 2017-2024", param_hint=option)
        years.update(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    return sorted(years)


def download(
    out: Annotated[Path, typer.Option(
        "--out", help="Data folder to write into, in the layout of shared/data (cbs_kwb/, cbs_meta/, geo/); "
                      "read it with 'leefbaar build --data'.")],
    table: Annotated[list[str] | None, typer.Option(
        "--table", help="CBS StatLine table id of a Kerncijfers wijken en buurten table, e.g. 85984NED "
                        "(repeatable).")] = None,
    kwb: Annotated[str | None, typer.Option(
        "--kwb", help="KWB statistics years, e.g. 2024, 2017-2024 or 2017,2022; table ids from "
                      "catalogue/cbs_tables.yaml.")] = None,
    select: Annotated[str | None, typer.Option(
        "--select", help="Columns: StatLine stems or keys, comma-separated (AantalInwoners,"
                         "GemiddeldeWOZWaardeVanWoningen), or 'all'. Default: the stems the indicator "
                         "catalogue maps, so that 'leefbaar build' ingests every column.")] = None,
    boundaries: Annotated[str | None, typer.Option(
        "--boundaries", help=f"PDOK boundary levels, comma-separated: {', '.join(COLLECTIONS)}.")] = None,
    year: Annotated[str | None, typer.Option(
        "--year", help="Boundary years (PDOK jaarcode) for --boundaries, e.g. 2024 or 2017-2024.")] = None,
    cache: Annotated[Path | None, typer.Option(
        "--cache", help="Cache folder for downloaded pages (default $LEEFBAAR_CACHE or ~/.cache/leefbaar).",
        show_default=False)] = None,
    refresh: Annotated[bool, typer.Option("--refresh", help="Ignore cached pages and fetch everything again.")
                       ] = False,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Extra attempts per request after a "
                                         "connection reset, timeout, truncated body or HTTP 5xx/429.")] = 5,
    backoff: Annotated[float, typer.Option("--backoff", min=0.0, help="Seconds to wait before the first "
                                           "retry; doubled for each further retry (at most 60).")] = 1.0,
    odata_url: Annotated[str | None, typer.Option(
        "--odata-url", help="CBS OData v3 root (default $LEEFBAAR_CBS_ODATA_URL or "
                            "https://opendata.cbs.nl/ODataFeed/odata).", show_default=False)] = None,
    pdok_url: Annotated[str | None, typer.Option(
        "--pdok-url", help="PDOK OGC API root of CBS gebiedsindelingen (default $LEEFBAAR_PDOK_URL or "
                           "https://api.pdok.nl/cbs/gebiedsindelingen/ogc/v1).", show_default=False)] = None,
    lang: LangOpt = "nl",
) -> None:
    """Download CBS Kerncijfers wijken en buurten (OData) and PDOK boundaries into a data folder.

    Examples: 'leefbaar download --table 85984NED --out data', 'leefbaar download --kwb 2017-2024 --out data',
    'leefbaar download --boundaries gemeente,wijk --year 2024 --out data'. Then 'leefbaar build --data data'.
    Each file is written only when it arrived complete; an interrupted download resumes from the cache.
    """
    _ = translator(lang)
    tables = [t.strip().upper() for t in table or []]
    if kwb:
        tables += [kwb_table_for_year(y) for y in parse_years(kwb, "--kwb")]
    tables = list(dict.fromkeys(tables))
    levels = [lv.strip().lower() for lv in (boundaries or "").split(",") if lv.strip()]
    bad = [lv for lv in levels if lv not in COLLECTIONS]
    if bad:
        raise typer.BadParameter(f"unknown level {bad[0]!r}; use {', '.join(COLLECTIONS)}",
                                 param_hint="--boundaries")
    if levels and not year:
        raise typer.BadParameter("--boundaries needs --year (the boundary year)", param_hint="--year")
    if year and not levels:
        raise typer.BadParameter("--year belongs to --boundaries; KWB years go with --kwb",
                                 param_hint="--year")
    if not tables and not levels:
        raise typer.BadParameter("nothing to download: give --table, --kwb or --boundaries with --year")
    years = parse_years(year, "--year") if year else []

    http = HttpClient(ResponseCache(cache or default_cache_dir()), retries=retries, backoff=backoff,
                      refresh=refresh)
    written: list[Written] = []
    with progress_bar() as update:
        for t in tables:
            files, selection = download_kwb(CbsOData(http, odata_url), t, out, select, progress=update)
            written += files
            if selection.unmapped:
                more = " ..." if len(selection.unmapped) > 8 else ""
                console.print(_("{table}: no indicator in catalogue/columns.csv (family kwb_statline) for {columns}; "
                                "'leefbaar build' rejects these columns until they are mapped.", table=t,
                                columns=", ".join(selection.unmapped[:8]) + more), style="yellow", markup=False,
                              highlight=False)
            if selection.absent:
                console.print(_("{table}: this table has no column for {columns}.", table=t,
                                columns=", ".join(selection.absent)), markup=False, highlight=False)
        for lv in levels:
            for y in years:
                written.append(download_boundaries(http, lv, y, out, root=pdok_url, progress=update))
    frame = pd.DataFrame([{"file": str(w.path.relative_to(out)), "rows": w.rows, "columns": w.columns}
                          for w in written])
    print_frame(frame, title=_("Written to {out}", out=out), max_rows=200, lang=lang)
    console.print(_("{requests} HTTP requests, {hits} pages from the cache. Next: leefbaar build --data {out}",
                    requests=_.integer(http.requests_sent), hits=_.integer(http.cache_hits), out=out), markup=False,
                  highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``download`` to the leefbaar app."""
    app.command()(download)
