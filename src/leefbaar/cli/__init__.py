"""The ``leefbaar`` command. Each stage registers its subcommands from a module of this package.

Conventions: commands that read the store take ``--store FILE``; commands that write results take ``--out DIR``.
Exit code 0 on success; otherwise one line ``leefbaar: error: <reason>`` on stderr and a non-zero code.
"""

from __future__ import annotations

import sys

import click
import typer

from leefbaar.cli import buurt, data, download, evaluate, index, monitor, segregation, web
from leefbaar.cli.common import app, err_console
from leefbaar.errors import LeefbaarError

for module in (data, download, index, monitor, evaluate, buurt, web, segregation):
    module.register(app)


def main() -> None:
    """Entry point: run the app, turning every failure into one line and a non-zero exit code."""
    try:
        rv = app(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        err_console.print("leefbaar: interrupted")
        sys.exit(130)
    except LeefbaarError as exc:
        err_console.print(f"leefbaar: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)
    except Exception as exc:  # the last line of defence: one line, never a traceback
        err_console.print(f"leefbaar: internal error: {type(exc).__name__}: {exc}", markup=False, soft_wrap=True)
        sys.exit(2)
    sys.exit(rv if isinstance(rv, int) else 0)


__all__ = ["app", "main", "typer"]
