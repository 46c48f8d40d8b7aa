"""Benchmark: start-up time of the ``leefbaar`` command.

Usage: python benchmarks/bench_cli.py [--repeat 5]

Times, in one run, each in a fresh interpreter (wall clock, median of ``--repeat`` runs, after one warm-up run of each
so that the OS file cache is warm):

1. baseline: ``python -c pass`` (interpreter start-up);
2. ``python -m leefbaar --help`` (lists every command from ``leefbaar.cli.COMMANDS`` without importing them);
3. ``python -m leefbaar --version``;
4. ``python -m leefbaar trends --help`` (imports the monitoring stage: pandas, PySAL, ...), for comparison.

Prints the load average beside the figures: on the shared 2-core machine a load above 2 inflates every figure.
Target: ``leefbaar --help`` under 1 s on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def wall(args: list[str], repeat: int) -> tuple[float, float, float, float]:
    """Median, min and max wall-clock seconds of running ``python <args>`` ``repeat`` times, and the median CPU
    seconds (user + system) of the child, which a busy machine inflates less than the wall clock."""
    cmd = [sys.executable, *args]
    subprocess.run(cmd, capture_output=True, check=True)  # warm-up
    times, cpu = [], []
    for _ in range(repeat):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return statistics.median(times), min(times), max(times), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    load_before = os.getloadavg()
    cases = [("python -c pass (baseline)", ["-c", "pass"]),
             ("leefbaar --help", ["-m", "leefbaar", "--help"]),
             ("leefbaar --version", ["-m", "leefbaar", "--version"]),
             ("leefbaar trends --help", ["-m", "leefbaar", "trends", "--help"])]
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f} "
          f"({os.cpu_count()} cores); median of {args.repeat} runs, wall clock")
    results = {}
    for label, argv in cases:
        med, lo, hi, cpu = wall(argv, args.repeat)
        results[label] = med
        print(f"  {label:<28} {med:6.3f} s  (min {lo:.3f}, max {hi:.3f}; CPU {cpu:.3f} s)")
    base = results["python -c pass (baseline)"]
    print(f"leefbaar --help: {results['leefbaar --help']:.3f} s, {results['leefbaar --help'] - base:.3f} s above "
          f"the interpreter; target < 1 s on an idle machine")
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")


if __name__ == "__main__":
    main()
