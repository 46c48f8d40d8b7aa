"""Benchmark: build the whole store from the data folder; baseline: plain pandas read_csv of the same CSV files.

Usage: python benchmarks/bench_build.py [--data DIR] [--repeat N]

Each repeat builds twice into a new store file: first from scratch (an empty overlay cache of its own, so the
crosswalk overlays are computed), then again into another new store with the overlays the first build cached
(what a rebuild of changed data with unchanged boundaries costs). Prints wall time, CPU time (all threads of
the process), observations per second and the baseline, measured in the same run, with the load average of the
machine: on a shared machine the CPU time is the steadier figure. The target (build < 20 s) is for the build
from scratch.
"""

from __future__ import annotations

import argparse
import gzip
import os
import statistics
import tempfile
import time
from pathlib import Path

import pandas as pd

from leefbaar.build import build
from leefbaar.config import data_dir
from leefbaar.sources.odata import ENV_CACHE
from leefbaar.sources.registry import discover
from leefbaar.store.store import Store


def baseline(paths: list[Path]) -> tuple[float, float]:
    """Wall and CPU seconds for pandas.read_csv of every delimited file the build reads (no validation, no store)."""
    start, cpu = time.perf_counter(), time.process_time()
    for p in paths:
        sep = ";" if "ses_woa" in p.name or "apcg" in p.name else ","
        if p.suffix == ".gz":
            with gzip.open(p, "rt", encoding="utf-8") as f:
                pd.read_csv(f, sep=sep, low_memory=False)
        else:
            pd.read_csv(p, sep=sep, low_memory=False)
    return time.perf_counter() - start, time.process_time() - cpu


def timed_build(data: Path, store: Path, cache: Path) -> tuple[float, float, float]:
    """Wall and CPU seconds of one build into ``store`` with the overlay cache ``cache``, and the load before."""
    previous = os.environ.get(ENV_CACHE)
    os.environ[ENV_CACHE] = str(cache)
    try:
        load = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        build(data, store)
        return time.perf_counter() - t0, time.process_time() - c0, load
    finally:
        if previous is None:
            os.environ.pop(ENV_CACHE, None)
        else:
            os.environ[ENV_CACHE] = previous


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    data = data_dir(args.data)
    found, _ = discover(data)
    csvs = [p for _, p in found if p.name.endswith((".csv", ".csv.gz"))]
    mb = sum(p.stat().st_size for _, p in found) / 1e6
    runs = []
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            cold, cold_cpu, load = timed_build(data, tmp / "cold.duckdb", tmp / "cache")
            warm, warm_cpu, _ = timed_build(data, tmp / "warm.duckdb", tmp / "cache")
            with Store.open(tmp / "cold.duckdb") as st:
                n_obs = st.sql("SELECT count(*) AS n FROM observations")["n"].iloc[0]
        base, base_cpu = baseline(csvs)
        print(f"run {run + 1}: build from scratch {cold:.1f} s (CPU {cold_cpu:.1f} s) for {len(found)} files "
              f"({mb:.0f} MB), {n_obs:,} observations = {n_obs / cold:,.0f} observations/s | with the overlays "
              f"cached {warm:.1f} s (CPU {warm_cpu:.1f} s) | baseline pandas.read_csv of the {len(csvs)} CSV "
              f"files: {base:.1f} s (CPU {base_cpu:.1f} s) | target: build from scratch < 20 s | load average "
              f"{load:.1f} before, {os.getloadavg()[0]:.1f} after", flush=True)
        runs.append((cold, cold_cpu, warm, warm_cpu, base, base_cpu))
    if len(runs) > 1:
        med = [statistics.median(r[i] for r in runs) for i in range(6)]
        print(f"median of {len(runs)}: build from scratch {med[0]:.1f} s (CPU {med[1]:.1f} s) | with the overlays "
              f"cached {med[2]:.1f} s (CPU {med[3]:.1f} s) | baseline read_csv {med[4]:.1f} s (CPU {med[5]:.1f} s)")


if __name__ == "__main__":
    main()
