"""Where leefbaar finds its input data and its store.

The data folder is the folder that holds the official files (the layout of ``shared/data``): it is taken from
``--data``, else the environment variable ``LEEFBAAR_DATA``, else ``../shared/data`` relative to the working
directory. The store is ``--store``, else ``LEEFBAAR_STORE``, else ``leefbaar.duckdb`` in the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_STORE = "leefbaar.duckdb"


def data_dir(explicit: str | Path | None = None) -> Path:
    """The data folder: ``explicit``, ``$LEEFBAAR_DATA`` or ``../shared/data``."""
    return Path(explicit or os.environ.get("LEEFBAAR_DATA") or Path("..") / "shared" / "data")


def store_path(explicit: str | Path | None = None) -> Path:
    """The store file: ``explicit``, ``$LEEFBAAR_STORE`` or ``./leefbaar.duckdb``."""
    return Path(explicit or os.environ.get("LEEFBAAR_STORE") or DEFAULT_STORE)
