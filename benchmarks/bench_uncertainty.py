"""Monte Carlo uncertainty of the default index: vectorised draws against rebuilding the index per draw.

Usage: python benchmarks/bench_uncertainty.py --store FILE [--draws 1000] [--naive-draws 20] [--year 2022]
       [--calibration-only]

Both paths draw calibration, normalisation (spec as written or all-rank) and dimension weights for all PC4
of one year. The naive path (COINr style: bootstrap rows, refit, rescore per draw) runs ``--naive-draws``
draws in the same run; its time for ``--draws`` draws is that per-draw time times ``--draws``
(``--naive-draws`` equal to ``--draws`` measures it in full). Prints both timings, the speed-up and how
well the spreads agree (median per-area sd of afw both ways, correlation of the per-area sd).
``--calibration-only`` compares the calibration draws alone (spec as written, weights fixed at 1), the part
where the two methods differ in kind (Gaussian sandwich against refits); normalisation and weights are drawn
the same way in both.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from leefbaar.index import uncertainty as unc
from leefbaar.index.features import contiguity, load_panel, neighbour_pairs
from leefbaar.index.model import LivabilityIndex
from leefbaar.index.spec import load_spec
from leefbaar.store.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", required=True)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--naive-draws", type=int, default=20)
    ap.add_argument("--year", type=int, default=2022)
    ap.add_argument("--calibration-only", action="store_true")
    args = ap.parse_args()
    spec = load_spec("default")
    with Store.open(args.store) as st:
        panel = load_panel(st, spec, [args.year]).reset_index(drop=True)
        pairs = neighbour_pairs(contiguity(st, "pc4"))
    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        specs = [spec] if args.calibration_only else [spec, unc.rank_variant(spec)]
        conc = np.inf if args.calibration_only else 50.0
        models = [LivabilityIndex(s, pairs).fit(panel) for s in specs]
        t_fit = time.perf_counter() - t0
        t0 = time.perf_counter()
        prepared = unc.prepare(models, panel)
        fast = unc.draws(prepared, args.draws, seed=1, concentration=conc)
        t_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        naive = unc.naive_draws(specs, panel, panel, pairs, args.naive_draws, seed=1, concentration=conc)
        t_naive = time.perf_counter() - t0
    per_draw = t_naive / args.naive_draws
    naive_total = per_draw * args.draws
    print(f"areas: {len(panel)}  dimensions: {len(spec.dimensions)}  draws: {args.draws}")
    print(f"fit (once, {len(specs)} alternative(s)): {t_fit:.2f} s"
          + ("  [calibration only]" if args.calibration_only else ""))
    print(f"vectorised: {t_fast:.2f} s for {args.draws} draws ({1e3 * t_fast / args.draws:.2f} ms/draw)")
    print(f"naive rebuild: {t_naive:.2f} s for {args.naive_draws} draws ({per_draw:.2f} s/draw) -> "
          f"{naive_total:.0f} s for {args.draws} draws" + (" (measured)" if args.naive_draws == args.draws else
                                                           " (per-draw time x draws)"))
    print(f"speed-up: {naive_total / t_fast:.0f}x (target >= 50x)")
    sd_fast, sd_naive = fast.std(axis=1), naive.std(axis=1)
    print(f"median sd of afw: vectorised {np.median(sd_fast):.4f}, naive {np.median(sd_naive):.4f}; "
          f"correlation of per-area sd {np.corrcoef(sd_fast, sd_naive)[0, 1]:.2f}")


if __name__ == "__main__":
    main()
