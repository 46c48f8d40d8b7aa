"""Shared fixtures: the real data folder and a store built from it once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from leefbaar.build import build
from leefbaar.store.store import Store

REPO = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``$LEEFBAAR_DATA`` or ``../shared/data`` beside the repository (as in CI)."""
    env = os.environ.get("LEEFBAAR_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "SOURCES.md").is_file():
        pytest.fail(f"the shared data folder is missing at {path}; set LEEFBAAR_DATA")
    return path


@pytest.fixture(scope="session")
def store_file(tmp_path_factory, data_dir) -> Path:
    """A store built from the whole shared data folder (once per session). Open it read-only."""
    path = tmp_path_factory.mktemp("store") / "leefbaar.duckdb"
    build(data_dir, path)
    return path


@pytest.fixture
def store(store_file):
    with Store.open(store_file) as st:
        yield st
