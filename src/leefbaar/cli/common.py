"""Shared CLI pieces: the Typer app, consoles, common options and small output helpers."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leefbaar.config import store_path

app = typer.Typer(
    name="leefbaar",
    help="Meet, verklaar en volg de leefbaarheid van Nederlandse buurten. "
         "Measure, explain and monitor the livability of Dutch neighbourhoods.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output (files, tests, CI) gets wide tables instead of Rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 200)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

StoreOpt = Annotated[Path | None, typer.Option("--store", help="Store file (default $LEEFBAAR_STORE or "
                                                                 "./leefbaar.duckdb).", show_default=False)]
OutOpt = Annotated[Path, typer.Option("--out", help="Folder for tables (CSV), charts and the summary.")]
DataOpt = Annotated[Path | None, typer.Option("--data", help="Data folder (default $LEEFBAAR_DATA or "
                                                               "../shared/data).", show_default=False)]
LangOpt = Annotated[str, typer.Option("--lang", help="Language of summaries: nl or en.")]


def resolve_store(path: Path | None) -> Path:
    return store_path(path)


@contextmanager
def progress_bar():
    """A Rich progress bar; yields ``update(description, done, total)``."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        task = bar.add_task("", total=1)

        def update(description: str, done: int, total: int) -> None:
            bar.update(task, description=description, completed=done, total=total)

        yield update


def print_frame(frame: pd.DataFrame, title: str | None = None, max_rows: int = 60) -> None:
    """Print a DataFrame as a Rich table."""
    table = Table(title=title, show_lines=False)
    for c in frame.columns:
        table.add_column(str(c), justify="right" if pd.api.types.is_numeric_dtype(frame[c]) else "left")
    for row in frame.head(max_rows).itertuples(index=False):
        table.add_row(*[_fmt(v) for v in row])
    console.print(table)
    if len(frame) > max_rows:
        console.print(f"... {len(frame) - max_rows} more rows")


def _fmt(v) -> str:
    """A cell as plain text (never read as Rich markup)."""
    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, float):  # whole numbers of 10,000 and more get separators; years stay as they are
        return f"{v:,.0f}" if v.is_integer() and abs(v) >= 10_000 else (f"{v:.0f}" if v.is_integer() else f"{v:.4g}")
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    return escape(str(v))


def write_csv(frame: pd.DataFrame, out: Path, name: str) -> Path:
    """Write ``frame`` as ``out/name`` (UTF-8 CSV), creating ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / name
    frame.to_csv(path, index=False)
    return path
