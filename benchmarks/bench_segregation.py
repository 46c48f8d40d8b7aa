"""Benchmark: segregation of every gemeente in every year, by income and by tenure, with 999 permutations.

Usage: nice python benchmarks/bench_segregation.py [--store FILE] [--permutations 999] [--sample 12] [--full-pysal]

Times, in one run, on the same areas and counts (PC4 of each 2022 gemeente; Queen contiguity of the 2017 PC4
boundaries):

1. leefbaar: ``Segregation(dimension, national=False).fit(store)`` for income and tenure, which is what
   ``leefbaar segregation`` runs without --gemeente: eight indices per gemeente, set and year, each with
   ``permutations`` random-allocation draws and as many bootstrap draws, changes since the first year with
   their own bootstrap on the common areas, PySAL's decomposition of each change, ranks with intervals, local
   measures.
2. A plain loop of PySAL calls over the same gemeente-years: the eight index classes (``Dissim``,
   ``Isolation``, ``Interaction``, ``Gini``, ``Entropy``, ``SpatialDissim``, ``MultiDissim``,
   ``MultiInfoTheory``), timed in full; and ``SingleValueTest(index, permutations, "systematic", n_jobs=1)``
   (PySAL's random-allocation test, the same null as leefbaar's), timed on ``--sample`` gemeente-years for
   the dissimilarity and extrapolated to all gemeente-years and eight indices (``--full-pysal`` runs it all;
   hours). The PySAL loop has no bootstrap, no change and no ranks, so it does less work than (1).

Also prints the largest difference between leefbaar's and PySAL's index values, and the load average (the
machine is shared, so wall times vary).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from leefbaar.analysis.clusters import contiguity
from leefbaar.analysis.segregation import Segregation
from leefbaar.config import store_path
from leefbaar.store.store import Store

SETS = {"income": "low_high", "tenure": "tenure"}


def load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", type=Path, default=None)
    ap.add_argument("--permutations", type=int, default=999)
    ap.add_argument("--sample", type=int, default=12)
    ap.add_argument("--full-pysal", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    print(f"segregation benchmark, {args.permutations} permutations; {load()}")
    with Store.open(store_path(args.store)) as st:
        geo = st.geometries("pc4", 2017)
        fits = {}
        t_ours = c_ours = 0.0
        for dim in SETS:
            t0, c0 = time.perf_counter(), time.process_time()
            seg = Segregation(dim, national=False, permutations=args.permutations,
                              bootstrap=args.permutations).fit(st)
            dt, dc = time.perf_counter() - t0, time.process_time() - c0
            t_ours += dt
            c_ours += dc
            fits[dim] = seg
            lv = seg.levels[seg.levels["set"] == SETS[dim]]
            n_gy = lv.groupby(["place", "year"]).ngroups
            print(f"leefbaar {dim:7s}: {dt:8.1f} s wall, {dc:8.1f} s CPU for {n_gy} gemeente-years "
                  f"({lv['place'].nunique()} gemeenten, years {lv['year'].min()}-{lv['year'].max()}) and "
                  f"{len(seg.sets)} group set(s); {load()}", flush=True)
    print(f"leefbaar total  : {t_ours:8.1f} s wall, {c_ours:8.1f} s CPU", flush=True)

    from libpysal.weights import W
    from segregation.inference import SingleValueTest
    from segregation.multigroup import MultiDissim, MultiInfoTheory
    from segregation.singlegroup import Dissim, Entropy, Gini, Interaction, Isolation, SpatialDissim

    cont = contiguity(geo)
    geo = geo.set_index("code")
    t_point, c_point, n_calls, worst, units = 0.0, 0.0, 0, 0.0, []
    for dim, seg in fits.items():
        gs = next(s for s in seg.sets if s.id == SETS[dim])
        loc = seg.local[seg.local["set"] == gs.id]
        ours = seg.levels[seg.levels["set"] == gs.id].set_index(["place", "year", "index"])["value"]
        groups = gs.group_ids
        for (place, year), part in loc.groupby(["place", "year"]):
            part = part.sort_values("code")
            counts = pd.DataFrame({g: part[f"share_{g}"].to_numpy() * part["total"].to_numpy() for g in groups})
            x = counts[gs.pair[0]]
            y = counts[gs.pair[1]] if gs.pair[1] != "rest" else counts.sum(1) - x
            frame = pd.DataFrame({"x": x.to_numpy(), "t": (x + y).to_numpy()})
            gframe = gpd.GeoDataFrame(frame.assign(geometry=geo.reindex(part["code"])["geometry"].to_numpy()),
                                      geometry="geometry", crs=28992)
            t0, c0 = time.perf_counter(), time.process_time()
            w, _ = cont.weights(part["code"].tolist())
            pos = {c: i for i, c in enumerate(part["code"])}
            nb = {i: [] for i in range(len(pos))} | {pos[k]: [pos[j] for j in v] for k, v in w.neighbors.items()}
            wb = W(nb, id_order=list(range(len(pos))), silence_warnings=True)
            got = {"dissimilarity": Dissim(frame, "x", "t").statistic,
                   "isolation": Isolation(frame, "x", "t").statistic,
                   "exposure": Interaction(frame, "x", "t").statistic,
                   "gini": Gini(frame, "x", "t").statistic, "entropy": Entropy(frame, "x", "t").statistic,
                   "spatial_dissimilarity": SpatialDissim(gframe, "x", "t", w=wb).statistic,
                   "multi_dissimilarity": MultiDissim(counts, groups).statistic,
                   "information_theory": MultiInfoTheory(counts, groups).statistic}
            t_point += time.perf_counter() - t0
            c_point += time.process_time() - c0
            n_calls += 1
            units.append((dim, place, year, frame))
            for k, v in got.items():
                worst = max(worst, abs(v - ours[(place, int(year), k)]))
    print(f"PySAL point loop: {t_point:8.1f} s wall, {c_point:8.1f} s CPU for {n_calls} gemeente-years x 8 index "
          f"classes; largest |leefbaar - PySAL| = {worst:.2e}; {load()}", flush=True)
    rng = np.random.default_rng(1)
    pick = units if args.full_pysal else [units[i] for i in rng.choice(len(units), min(args.sample, len(units)),
                                                                        replace=False)]
    devnull = open(os.devnull, "w")  # noqa: SIM115  (tqdm bars of PySAL's inference)
    t0, c0 = time.perf_counter(), time.process_time()
    stderr, sys.stderr = sys.stderr, devnull
    try:
        for _, _, _, frame in pick:
            SingleValueTest(Dissim(frame, "x", "t"), iterations_under_null=args.permutations,
                            null_approach="systematic", n_jobs=1)
    finally:
        sys.stderr = stderr
    t_test, c_test = time.perf_counter() - t0, time.process_time() - c0
    per, cper = t_test / len(pick), c_test / len(pick)
    est, cest = per * len(units) * 8, cper * len(units) * 8
    print(f"PySAL SingleValueTest (systematic, {args.permutations}, n_jobs=1): {t_test:8.1f} s wall, {c_test:8.1f} s "
          f"CPU for {len(pick)} gemeente-years = {per:.2f} s each; {'measured' if args.full_pysal else 'extrapolated'}"
          f" for {len(units)} gemeente-years x 8 indices: {est:,.0f} s wall, {cest:,.0f} s CPU; {load()}")
    print(f"PySAL loop (points + random-allocation tests): {t_point + est:,.0f} s wall / {c_point + cest:,.0f} s CPU"
          f"  vs  leefbaar {t_ours:,.1f} s wall / {c_ours:,.1f} s CPU (CPU ratio {(c_point + cest) / c_ours:,.0f}x; "
          "leefbaar also bootstraps, tests changes and ranks)")


if __name__ == "__main__":
    main()
