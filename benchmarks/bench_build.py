"""Benchmark: build the whole store from the data folder; baseline: plain pandas read_csv of the same CSV files.

Usage: python benchmarks/bench_build.py [--data DIR] [--repeat N] [--against SRC]

Each repeat builds twice into a new store file, each build in a process of its own: first from scratch (an
empty overlay cache of its own, so the crosswalk overlays are computed), then again into another new store with
the overlays the first build cached (what a rebuild of changed data with unchanged boundaries costs). With
``--against SRC`` (the ``src`` folder of another checkout, for example main's) the same two builds are timed
with that code too, in the same run, alternating which goes first. Prints wall time, CPU time (all threads of
the build process), peak RSS, observations per second and the baseline, measured in the same run, with the
load average of the machine: on a shared machine the CPU time is the steadier figure. The target (build < 20 s)
is for the build from scratch.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def baseline(paths: list[Path]) -> tuple[float, float]:
    """Wall and CPU seconds for pandas.read_csv of every delimited file the build reads (no validation, no store)."""
    import pandas as pd

    start, cpu = time.perf_counter(), time.process_time()
    for p in paths:
        sep = ";" if "ses_woa" in p.name or "apcg" in p.name else ","
        if p.suffix == ".gz":
            with gzip.open(p, "rt", encoding="utf-8") as f:
                pd.read_csv(f, sep=sep, low_memory=False)
        else:
            pd.read_csv(p, sep=sep, low_memory=False)
    return time.perf_counter() - start, time.process_time() - cpu


def child(data: Path, store: Path, cache: Path) -> None:
    """One build (run in a process of its own): prints wall and CPU seconds, peak RSS and the observations."""
    from leefbaar.build import build
    from leefbaar.sources.odata import ENV_CACHE
    from leefbaar.store.store import Store

    os.environ[ENV_CACHE] = str(cache)
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), time.process_time()
    build(data, store)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    with Store.open(store) as st:
        n_obs = int(st.sql("SELECT count(*) AS n FROM observations")["n"].iloc[0])
    print(json.dumps({"wall": wall, "cpu": cpu, "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
                      "load": load, "obs": n_obs}))


def timed_build(src: Path, data: Path, store: Path, cache: Path) -> dict:
    """Wall and CPU seconds, peak RSS (GB) and load before of one build with the code under ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, __file__, "--child", str(data), str(store), str(cache)], env=env,
                         capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"build with {src} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _fmt(name: str, cold: dict, warm: dict) -> str:
    return (f"{name}: from scratch {cold['wall']:.1f} s (CPU {cold['cpu']:.1f} s, peak {cold['rss']:.2f} GB) | "
            f"overlays cached {warm['wall']:.1f} s (CPU {warm['cpu']:.1f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--against", type=Path, default=None, help="src folder of other code to time beside this one")
    ap.add_argument("--child", nargs=3, type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    sys.path.insert(0, str(SRC))
    from leefbaar.config import data_dir
    from leefbaar.sources.registry import discover

    data = data_dir(args.data)
    found, _ = discover(data)
    csvs = [p for _, p in found if p.name.endswith((".csv", ".csv.gz"))]
    mb = sum(p.stat().st_size for _, p in found) / 1e6
    trees = {"this": SRC, **({"against": args.against.resolve()} if args.against else {})}
    results: dict[str, list[tuple[dict, dict]]] = {name: [] for name in trees}
    bases = []
    for run in range(args.repeat):
        load = os.getloadavg()[0]
        order = list(trees) if run % 2 == 0 else list(trees)[::-1]
        for name in order:
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                cold = timed_build(trees[name], data, tmp / "cold.duckdb", tmp / "cache")
                warm = timed_build(trees[name], data, tmp / "warm.duckdb", tmp / "cache")
            results[name].append((cold, warm))
        bases.append(baseline(csvs))
        cold = results["this"][-1][0]
        print(f"run {run + 1}: {len(found)} files ({mb:.0f} MB), {cold['obs']:,} observations | "
              + " | ".join(_fmt(f"{n} ({trees[n]})", *results[n][-1]) for n in trees)
              + f" | baseline pandas.read_csv of the {len(csvs)} CSV files: {bases[-1][0]:.1f} s (CPU "
              f"{bases[-1][1]:.1f} s) | target: build from scratch < 20 s | load average {load:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after", flush=True)
    med = statistics.median
    for n in trees:
        runs = results[n]
        print(f"median of {len(runs)}, {n} ({trees[n]}): build from scratch {med(c['wall'] for c, _ in runs):.1f} s "
              f"(CPU {med(c['cpu'] for c, _ in runs):.1f} s, peak {max(c['rss'] for c, _ in runs):.2f} GB, "
              f"{med(c['obs'] / c['wall'] for c, _ in runs):,.0f} observations/s) | with the overlays cached "
              f"{med(w['wall'] for _, w in runs):.1f} s (CPU {med(w['cpu'] for _, w in runs):.1f} s)")
    print(f"median of {len(bases)}: baseline read_csv {med(b[0] for b in bases):.1f} s "
          f"(CPU {med(b[1] for b in bases):.1f} s)")


if __name__ == "__main__":
    main()
