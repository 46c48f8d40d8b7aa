"""A small store built from the buurt-level files only (no tests here): the buurt, Wijkprofiel and perception
tests share it, so that they run in seconds instead of waiting for the whole-data store."""

from __future__ import annotations

from pathlib import Path

from leefbaar.build import build

BUURT_FILES = ("buurt/lbm2024_buurt_scores_nl.csv", "buurt/rotterdam_wijkprofiel_2014_2024.csv",
               "buurt/rotterdam_wijkprofiel_codebook.csv", "buurt/rotterdam_wijkprofiel_areas_cbs2024.csv",
               "buurt/rijnmond_kwb2024_buurt.csv", "cbs_kwb/kwb2024_buurt_inwoners.csv", "geo/lbm2024_buurten",
               "geo/rijnmond_buurt_2024_simplified_wgs84.geojson")


def buurt_store(tmp_path_factory, data_dir: Path) -> Path:
    """Build (once per test session) a store from links to the real buurt-level files."""
    root = tmp_path_factory.getbasetemp() / "buurt_store"
    store = root / "buurt.duckdb"
    if not store.exists():
        for rel in BUURT_FILES:
            (root / "data" / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / "data" / rel).symlink_to(data_dir / rel)
        build(root / "data", store)
    return store
