"""Benchmark: build the whole store from the data folder; baseline: plain pandas read_csv of the same CSV files.

Usage: python benchmarks/bench_build.py [--data DIR] [--repeat N]
Prints wall time, CPU time (all threads of the process), observations per second and the baseline, measured in
the same run, with the load average of the machine: on a shared machine the CPU time is the steadier figure.
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
            store = Path(tmp) / "bench.duckdb"
            load = os.getloadavg()[0]
            t0, c0 = time.perf_counter(), time.process_time()
            build(data, store)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            with Store.open(store) as st:
                n_obs = st.sql("SELECT count(*) AS n FROM observations")["n"].iloc[0]
        base, base_cpu = baseline(csvs)
        print(f"run {run + 1}: build {wall:.1f} s (CPU {cpu:.1f} s) for {len(found)} files ({mb:.0f} MB), "
              f"{n_obs:,} observations = {n_obs / wall:,.0f} observations/s | baseline pandas.read_csv of the "
              f"{len(csvs)} CSV files: {base:.1f} s (CPU {base_cpu:.1f} s) | target: build < 20 s | load average "
              f"{load:.1f} before, {os.getloadavg()[0]:.1f} after")
        runs.append((wall, cpu, base, base_cpu))
    if len(runs) > 1:
        med = [statistics.median(r[i] for r in runs) for i in range(4)]
        print(f"median of {len(runs)}: build {med[0]:.1f} s (CPU {med[1]:.1f} s) | baseline read_csv {med[2]:.1f} s "
              f"(CPU {med[3]:.1f} s) | first run CPU {runs[0][1]:.1f} s, repeats CPU "
              f"{statistics.median(r[1] for r in runs[1:]):.1f} s")


if __name__ == "__main__":
    main()
