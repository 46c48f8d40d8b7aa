"""The ``leefbaar`` command. Each stage registers its subcommands from a module of this package.

Conventions: commands that read the store take ``--store FILE``; commands that write results take ``--out DIR``.
Exit code 0 on success; otherwise one line ``leefbaar: error: <reason>`` on stderr: exit code 2 for a usage error
(unknown command or option, missing or bad value), 1 for any other error.

Commands are registered lazily: ``leefbaar --help`` lists them from :data:`COMMANDS` without importing the stage
modules (which pull in pandas, GeoPandas, PySAL, ...), and a command's module is imported when it is run or its own
help is asked for. ``tests/test_cli.py`` checks that :data:`COMMANDS` lists every registered command with its help.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated

import typer
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from leefbaar import __version__
from leefbaar.cli.common import err_console
from leefbaar.errors import LeefbaarError

MODULES = ("data", "download", "index", "levels", "monitor", "segregation", "evaluate", "buurt", "web")
"""The stage modules of this package, in the order of ``leefbaar --help``; each has ``register(app)``."""

COMMANDS = {
    "run": ("data", "The main job: build the store, score every PC4 area and year, resolve and evaluate the "
                    "programme areas, and serve the dashboard."),
    "build": ("data", "Ingest every file family under the data folder into the store (one transaction)."),
    "summary": ("data", "Print what the store holds: areas, observations, boundaries and sources."),
    "show": ("data", "Show one area: its name, score facts (kind, class, rank, interval level), programmes, and all "
                     "indicator values of one year with unit, status and source."),
    "indicators": ("data", "List the indicator catalogue (id, labels, unit, theme, direction), optionally filtered."),
    "download": ("download", "Download CBS Kerncijfers wijken en buurten (OData) and PDOK boundaries into a data "
                             "folder."),
    "score": ("index", "Score every area and year; official where the Leefbaarometer exists, else modelled "
                       "(nowcast)."),
    "explain": ("index", "Explain one area's score (--to YEAR) or its change (--from A --to B) per dimension and "
                         "indicator."),
    "index": ("index", "Open index-engine: eigen gegevens, eigen hiërarchie (zoals COINr). Open index"
                        " engine: any data, any hierarchy (COINr-style)."),
    "levels": ("levels", "Gemeente and wijk scores (all official years) and 2024 PC4 scores, "
                          "aggregated from the official Leefbaarometer by residents (kind "
                          "'aggregated'), checked against the LBM 2.0 classes and the 2023 nowcast."),
    "validate": ("index", "Leave-gemeente-out CV and out-of-time tests against the official Leefbaarometer."),
    "audit": ("index", "Discrimination audit: association with migration-background shares, proxies, LBM2-like "
                       "variant."),
    "trends": ("monitor", "Level and change per area and per group of areas (unweighted and per resident/household), "
                          "with charts."),
    "gap": ("monitor", "Is the gap between strong and weak areas growing? Inequality per year with a bootstrap band."),
    "vulnerable": ("monitor", "Rank vulnerable areas (low level, decline, cumulation) with reasons, and compare with "
                              "APCG 2019."),
    "clusters": ("monitor", "Global Moran's I per year, LISA hot and cold spots (FDR), their persistence, and maps."),
    "segregation": ("segregation", "Segregation per gemeente and nationally: indices, random-"
                                    "allocation tests, change and its decomposition."),
    "programmes": ("evaluate", "List the programme registry: name, period, budget and the areas attached in the "
                               "store."),
    "resolve-areas": ("evaluate", "Resolve the registry's policy areas to wijk, buurt and PC4 codes and store them as "
                                  "programme_areas."),
    "evaluate": ("evaluate", "Evaluate a programme against matched reference areas and write a report folder."),
    "perception": ("buurt", "Where residents judge their area worse or better than the figures say (Wijkprofiel, "
                            "Leefbaarometer)."),
    "validate-buurt": ("buurt", "Calibrate and validate the index at buurt level on the Rijnmond buurten (leave one "
                                "gemeente out)."),
    "survey": ("buurt", "Bewonersenquêtes: subjectieve scores per gebied. Residents' surveys."),
    "serve": ("web", "Serve the dashboard (map, area profiles, compare, gap, programmes) over the store, read-only."),
    "report": ("web", "Write a gemeente report as PDF and HTML (map, ranked areas, areas needing attention, trends, "
                      "sources)."),
    "export": ("web", "Export a dashboard table (CSV or Excel) or the map (GeoPackage, EPSG:28992) into --out."),
}
"""Every command: the module that registers it and the first paragraph of its help, as ``--help`` lists it."""


def load_commands(module: str) -> dict:
    """The click commands that ``leefbaar.cli.<module>`` registers, by name."""
    sub = typer.Typer(rich_markup_mode=None)
    sub.callback()(lambda: None)  # a callback makes Typer build a group, also for a single command
    importlib.import_module(f"leefbaar.cli.{module}").register(sub)
    return dict(typer.main.get_group(sub).commands)


class LazyGroup(TyperGroup):
    """A Typer group that imports a command's module only when the command is used (see :data:`COMMANDS`)."""

    _listing = False

    def list_commands(self, ctx) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx, cmd_name: str):
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        if self._listing and cmd_name in COMMANDS:  # the overview of --help: name and help only
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name][1], callback=None)
        modules = [COMMANDS[cmd_name][0]] if cmd_name in COMMANDS else MODULES  # unlisted: look everywhere
        for module in modules:
            for name, command in load_commands(module).items():
                self.commands.setdefault(name, command)
        return self.commands.get(cmd_name)

    def format_help(self, ctx, formatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _version(value: bool) -> None:
    if value:
        print(f"leefbaar {__version__}")
        raise Exit(0)


app = typer.Typer(
    name="leefbaar",
    cls=LazyGroup,
    help="Meet, verklaar en volg de leefbaarheid van Nederlandse buurten. "
         "Measure, explain and monitor the livability of Dutch neighbourhoods.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"max_content_width": 120},
    rich_markup_mode=None,  # plain help: Typer's Rich help formatter costs about 0.3 s of imports
)


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", help="Print the version of leefbaar and exit.",
                                                is_eager=True, callback=_version)] = False) -> None:
    """Options before the command."""


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning every failure into one line and a non-zero exit code."""
    try:
        rv = app(args=argv, prog_name="leefbaar", standalone_mode=False)
    except Exit as exc:
        sys.exit(exc.exit_code)
    except Abort:
        err_console.print("leefbaar: interrupted")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("leefbaar: interrupted")
        sys.exit(130)
    except TyperException as exc:  # usage errors: unknown command or option, missing or bad value (exit code 2)
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare 'leefbaar': the help
            exc.show()
            sys.exit(exc.exit_code)
        _one_line(exc.format_message())
        sys.exit(exc.exit_code)
    except LeefbaarError as exc:
        from leefbaar.facts.rules import error_text

        _one_line(error_text(exc, _argv_lang(sys.argv[1:] if argv is None else argv)))
        sys.exit(1)
    except Exception as exc:  # the last line of defence: one line, never a traceback
        err_console.print(f"leefbaar: internal error: {type(exc).__name__}: {exc}", markup=False, soft_wrap=True)
        sys.exit(1)
    sys.exit(rv if isinstance(rv, int) else 0)


def _argv_lang(argv: list[str]) -> str:
    """The ``--lang`` of a command line (``--lang en`` or ``--lang=en``); Dutch by default."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return "en" if argv[i + 1] == "en" else "nl"
        if arg.startswith("--lang="):
            return "en" if arg.split("=", 1)[1] == "en" else "nl"
    return "nl"


def _one_line(reason: str) -> None:
    err_console.print(f"leefbaar: error: {' '.join(reason.split())}", markup=False, highlight=False, soft_wrap=True)


__all__ = ["COMMANDS", "app", "main", "typer"]
