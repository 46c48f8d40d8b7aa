"""Benchmark of the index engine on COINr's ASEM example (51 units, 49 indicators, 4 levels), issue 13.

Prints, measured in the same run:
- one public ``build()`` (data validation, every step, the complete record that ``replay`` rebuilds from),
  target < 5 ms; beside it the same build with its tables made (scores, ranks, data after each step,
  contributions: made on first access), a replay of its record (spec from the record, parsed once and then
  cached), and the lightest rebuild, ``run(record=False)`` on validated data (not a public entry point);
- the uncertainty and sensitivity analysis of 500 draws on pipeline (1) (weights +-25 %, normaliser min-max
  or z-score, aggregator arithmetic or geometric, Sobol indices), vectorised, target < 0.5 s;
- the same analysis rebuilding the index once per draw through the same engine's public API (target: >= 50x
  slower): per draw the spec document with the draw's weights, normaliser and aggregator is parsed and
  validated and ``build`` validates the data and runs every step with its record (what an analyst without
  the vectorised path would write); beside it, for reference, the lightest rebuild per draw, ``run`` on
  validated data without a record (not a public entry point);
- the load average (the machine is shared), wall and CPU time.

Every figure is the median of several repeats (one build, replay and rebuild: 50; vectorised: 4 x
``--repeat``; the rebuild baselines: ``--repeat``).

Run: ``PYTHONPATH=src python3 benchmarks/bench_engine.py [--data DIR] [--draws 500] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from leefbaar.index.engine import build, parse_engine_spec, read_meta, read_table, replay, run, validate
from leefbaar.index.engine.uncertainty import analyse, design, parse_uncertainty

SPEC = {"name": "asem_p1", "unit": "uCode", "label": "uName",
        "levels": {1: "indicator", 2: "pillar", 3: "subindex", 4: "index"},
        "normalise": {"method": "minmax", "range": [0, 100]}, "aggregate": {"method": "arithmetic"},
        "uncertainty": {"weights": {"perturb": 0.25},
                        "normalise": [{"method": "minmax", "range": [1, 100]},
                                      {"method": "zscore", "mean": 10, "sd": 2}],
                        "aggregate": ["arithmetic", "geometric"]}}


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeat`` calls, and the last call's result."""
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return float(np.median(wall)), float(np.median(cpu)), out


def draw_specs(spec, plan, d) -> list:
    """The spec of every draw (weights, normaliser, aggregator), parsed beforehand: only ``run`` is timed."""
    h = spec.hierarchy
    codes = [c for lv in range(1, h.depth) for c in h.codes(lv)]
    doc = {k: v for k, v in spec.raw.items() if k != "uncertainty"}
    out = []
    for r in range(len(d.X)):
        w = dict(zip(codes, (h.nodes[c].weight * m for c, m in zip(codes, d.multipliers[r], strict=True)),
                     strict=True))
        out.append(parse_engine_spec({**doc, "meta": [{**row, "Weight": w.get(row["iCode"], row.get("Weight"))}
                                                       for row in doc["meta"]],
                                      "normalise": plan.normalisers[d.normaliser[r]].as_dict(),
                                      "aggregate": {"method": plan.aggregators[d.aggregator[r]]}}, "bench"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path(os.environ.get("LEEFBAAR_DATA", "../shared/data")))
    ap.add_argument("--draws", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    folder = args.data / "peers" / "coinr_asem"
    data, meta = read_table(folder / "ASEM_iData.csv"), read_meta(folder / "ASEM_iMeta.csv")
    spec = parse_engine_spec(SPEC, "bench", meta=meta, meta_source=str(folder / "ASEM_iMeta.csv"))
    inputs = validate(data, spec)
    plan = parse_uncertainty({**SPEC["uncertainty"], "draws": args.draws}, spec)
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())} on "
          f"{os.cpu_count()} cores")
    result = build(data, spec)
    wb, cb, _ = timed(lambda: build(data, spec), 50)
    print(f"one public build() (validate, record): {wb * 1e3:7.2f} ms wall {cb * 1e3:8.2f} ms cpu   target < 5 ms")

    def with_tables():
        r = build(data, spec)
        return r.scores, r.ranks, r.data, r.contributions, r.indicator_contributions

    w, c, _ = timed(with_tables, 50)
    print(f"build() and all its tables:           {w * 1e3:8.2f} ms wall {c * 1e3:8.2f} ms cpu")
    record = result.record
    replay(record, data)
    w, c, again = timed(lambda: replay(record, data), 50)
    same = again.record == record and again.scores.equals(result.scores)
    print(f"replay(record) (spec cached):         {w * 1e3:8.2f} ms wall {c * 1e3:8.2f} ms cpu   "
          f"same record and scores: {same}")
    run(inputs, spec, record=False)
    w, c, _ = timed(lambda: run(inputs, spec, record=False), 50)
    print(f"one rebuild (run, record=False):      {w * 1e3:8.2f} ms wall {c * 1e3:8.2f} ms cpu")
    analyse(inputs, spec, plan)
    wf, cf, fast = timed(lambda: analyse(inputs, spec, plan), args.repeat * 4)
    n = len(fast.draws)
    print(f"{n} draws + Sobol, vectorised:          {wf:8.3f} s  wall {cf:8.3f} s  cpu   target < 0.5 s")
    ws, cs, slow = timed(lambda: analyse(inputs, spec, plan, naive=True), args.repeat)
    print(f"{n} draws + Sobol, one build() each:    {ws:8.3f} s  wall {cs:8.3f} s  cpu   "
          f"({ws / n * 1e3:.1f} ms wall per draw: spec parsed, data validated, every step recorded)")
    print(f"speed-up: {ws / wf:.1f}x wall, {cs / cf:.1f}x cpu   target >= 50x")
    specs = draw_specs(spec, plan, design(plan, spec))
    wr, cr, _ = timed(lambda: [run(inputs, s, record=False) for s in specs], args.repeat)
    print(f"{n} draws, one run(record=False) each: {wr:8.3f} s  wall {cr:8.3f} s  cpu   (ratio {wr / wf:.1f}x wall, "
          f"{cr / cf:.1f}x cpu; scores only, no Sobol)")
    print(f"largest difference of the draws, vectorised vs rebuilds: {np.nanmax(np.abs(fast.draws - slow.draws)):.2e}")
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
