"""Where leefbaar finds its input data and its store.

The data folder is the folder that holds the official files (the layout of ``shared/data``): it is taken from
``--data``, else the environment variable ``LEEFBAAR_DATA``, else ``../shared/data`` relative to the working
directory. The store is ``--store``, else ``LEEFBAAR_STORE``, else ``leefbaar.duckdb`` in the working directory.
DuckDB's memory limit in the commands that score a store is ``LEEFBAAR_DUCKDB_MEMORY`` (e.g. ``4GB``), else
``DUCKDB_MEMORY``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from leefbaar.errors import LeefbaarError

DEFAULT_STORE = "leefbaar.duckdb"
DUCKDB_MEMORY = "2GB"
"""DuckDB's default memory limit when scoring (its own default, 80 % of the machine, lets its cached pages of the
observations grow beside the model's arrays: about 1 GB per 40,000 areas over 7 years; past the limit it spills
to disk)."""


def data_dir(explicit: str | Path | None = None) -> Path:
    """The data folder: ``explicit``, ``$LEEFBAAR_DATA`` or ``../shared/data``."""
    return Path(explicit or os.environ.get("LEEFBAAR_DATA") or Path("..") / "shared" / "data")


def store_path(explicit: str | Path | None = None) -> Path:
    """The store file: ``explicit``, ``$LEEFBAAR_STORE`` or ``./leefbaar.duckdb``."""
    return Path(explicit or os.environ.get("LEEFBAAR_STORE") or DEFAULT_STORE)


def duckdb_memory() -> str:
    """DuckDB's memory limit for scoring: ``$LEEFBAAR_DUCKDB_MEMORY`` or ``DUCKDB_MEMORY``."""
    value = os.environ.get("LEEFBAAR_DUCKDB_MEMORY") or DUCKDB_MEMORY
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", value):
        raise LeefbaarError(f"LEEFBAAR_DUCKDB_MEMORY {value!r}: give a size such as '4GB'")
    return value
