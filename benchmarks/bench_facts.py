"""Facts layer: search latency under concurrent clients, and the cost of an area profile's facts.

    PYTHONPATH=src python3 benchmarks/bench_facts.py --store STORE [--clients 50] [--queries 2000]

Search: every query is distinct (no cache hits), sent by ``--clients`` threads at once; p50/p95 per query of
``Facts.search`` (lock-free reads of prepared arrays) beside the naive baseline of the same search behind one
lock (searches queue). Profile facts: score, series, membership and explanation of 500 PC4, per area.
Prints the load average, since the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from leefbaar.facts import Facts
from leefbaar.store.store import Store


def _timed(fn, queries: list[str], clients: int) -> np.ndarray:
    def one(q: str) -> float:
        t = time.perf_counter()
        fn(q)
        return time.perf_counter() - t

    with ThreadPoolExecutor(clients) as pool:
        return np.array(list(pool.map(one, queries))) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--queries", type=int, default=2000)
    args = ap.parse_args()
    with Store.open(args.store) as st:
        facts = Facts(st)
        t = time.perf_counter()
        facts.search("warm")
        print(f"search index built in {time.perf_counter() - t:.2f} s")
        names = [n for n in facts.areas["name"].dropna().unique() if len(n) >= 4]
        rng = np.random.default_rng(0)
        words = [str(names[i])[: rng.integers(3, 8)] for i in rng.integers(0, len(names), args.queries)]
        queries = list(dict.fromkeys(words + [f"{p:04d}" for p in rng.integers(1000, 9999, args.queries)]))
        half = len(queries) // 2
        lock = threading.Lock()

        def naive(q: str):
            with lock:
                return facts._search._query(q, 20)  # uncached, one at a time

        fast = _timed(lambda q: facts.search(q), queries[:half], args.clients)
        slow = _timed(naive, queries[half:], args.clients)
        for label, ms in (("Facts.search (lock-free, cached)", fast), ("naive: same search behind one lock", slow)):
            print(f"{label:40s} n={len(ms):5d}  p50 {np.percentile(ms, 50):8.1f} ms  p95 "
                  f"{np.percentile(ms, 95):8.1f} ms")
        codes = facts.scores("pc4")["code"].unique()[:500]
        t = time.perf_counter()
        for c in codes:
            facts.score("pc4", c), facts.series("pc4", c), facts.area_programmes("pc4", c)  # noqa: B018
            facts.explain("pc4", c)
        print(f"profile facts per PC4 (score, series, membership, explanation): "
              f"{(time.perf_counter() - t) / len(codes) * 1000:.1f} ms")
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
