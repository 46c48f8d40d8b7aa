"""Errors that carry enough context for a one-line message: file, row and field."""

from __future__ import annotations


class LeefbaarError(Exception):
    """Base class: the CLI prints ``str(err)`` on one line and exits non-zero."""


class InputError(LeefbaarError):
    """A problem in an input file, located by file, row (1-based line number) and column."""

    def __init__(self, file: str, message: str, row: int | None = None, column: str | None = None):
        self.file, self.row, self.column, self.message = str(file), row, column, message
        where = self.file + (f", row {row}" if row is not None else "")
        where += f", column '{column}'" if column is not None else ""
        super().__init__(f"{where}: {message}")


class SpecError(LeefbaarError):
    """An index specification, catalogue or other package data file that does not validate."""


class StoreError(LeefbaarError):
    """The store is missing, of an unknown schema version, or asked for something it does not hold."""
