"""Inference for segregation indices of one set of areas: random allocation, bootstrap intervals and change.

- Random allocation (PySAL ``segregation`` null approach ``systematic``): every household (dwelling, resident)
  of an area is given a group at random with the group shares of the whole gemeente, area totals fixed:
  counts_i ~ Multinomial(t_i, P). The index of each draw gives the value expected without any sorting (small
  areas alone make D > 0) and a one-sided pseudo p-value (larger + 1) / (draws + 1) that the observed value is
  more segregated than random allocation (for exposure: lower).
- Interval: within-area multinomial bootstrap, counts_i ~ Multinomial(t_i, p_i) with the observed shares p_i,
  which mimics who happens to live in an area at the count date. Sampling noise pushes unevenness indices up,
  so the interval is the basic (reflected) bootstrap interval 2v - q(1 - a/2) .. 2v - q(a/2), which corrects
  for that bias (Allen, Burgess, Davidson and Windmeijer 2015 use the same draws for their bias-corrected D).
- Change between two years: on the areas present in both years, the difference of the values, with the basic
  bootstrap interval of the difference of independent draws; significant when the interval excludes 0.
- Decomposition of a change (PySAL ``DecomposeSegregation``, Shapley, counterfactual ``composition``): the
  change of the pair dissimilarity split into a spatial part (where the groups live, shares held to their
  distribution) and a compositional part (the distribution of area shares itself).

Counts that come from percentages are rounded to whole units for the draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leefbaar.analysis.segregation import indices as ix

LOWER_IS_SEGREGATED = {"exposure"}
CHUNK = 3_000_000  # entries (draws x areas x groups) per block of draws


@dataclass
class Units:
    """The areas of one place and year: counts (n areas x K groups), the pair and the contiguity edges."""

    codes: np.ndarray
    counts: np.ndarray
    pair: tuple[int, int | None]
    edges: np.ndarray | None = None

    def subset(self, codes) -> Units:
        keep = np.isin(self.codes, np.asarray(codes))
        pos = -np.ones(len(self.codes), int)
        pos[keep] = np.arange(keep.sum())
        edges = None
        if self.edges is not None:
            e = self.edges[keep[self.edges[:, 0]] & keep[self.edges[:, 1]]]
            edges = pos[e]
        return Units(self.codes[keep], self.counts[keep], self.pair, edges)


def evaluate(counts: np.ndarray, pair: tuple[int, int | None], edges: np.ndarray | None) -> dict[str, np.ndarray]:
    """Every index for ``counts`` (..., areas, groups): the two-group ones on ``pair`` and the multigroup ones."""
    x = counts[..., pair[0]]
    y = counts[..., pair[1]] if pair[1] is not None else counts.sum(-1) - x
    return {**ix.two_group(x, y, edges), **ix.multi_group(counts)}


def _draws(rng: np.random.Generator, n: np.ndarray, p: np.ndarray, draws: int, pair, edges) -> dict[str, np.ndarray]:
    block = max(1, CHUNK // max(1, p.size))
    parts: list[dict[str, np.ndarray]] = []
    for start in range(0, draws, block):
        size = min(block, draws - start)
        sim = rng.multinomial(n, p, size=(size, len(n)))
        parts.append(evaluate(sim.astype(float), pair, edges))
    return {k: np.concatenate([q[k] for q in parts]) for k in parts[0]}


def null_draws(u: Units, rng: np.random.Generator, draws: int) -> dict[str, np.ndarray]:
    """Indices under random allocation of each area's units over the groups with the overall shares."""
    c = np.rint(u.counts).astype(np.int64)
    P = c.sum(0) / c.sum()
    return _draws(rng, c.sum(1), P, draws, u.pair, u.edges)


def bootstrap_draws(u: Units, rng: np.random.Generator, draws: int) -> dict[str, np.ndarray]:
    """Indices of within-area multinomial resamples (area totals fixed, each area's own shares)."""
    c = np.rint(u.counts).astype(np.int64)
    n = c.sum(1)
    p = c / np.where(n > 0, n, 1)[:, None]
    p[n == 0] = 1.0 / c.shape[1]
    return _draws(rng, n, p, draws, u.pair, u.edges)


def basic_interval(value: float, draws: np.ndarray, level: float) -> tuple[float, float]:
    """Basic bootstrap interval 2v - q(1 - a/2) .. 2v - q(a/2)."""
    a = (1 - level) / 2
    lo, hi = np.quantile(draws, [a, 1 - a])
    return 2 * value - hi, 2 * value - lo


def level_table(u: Units, rng_null: np.random.Generator, rng_boot: np.random.Generator, permutations: int,
                bootstrap: int, level: float) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per index: value, null_mean, p_random, bias-corrected value, interval. Also the bootstrap draws.

    ``value_bc`` = 2 v - mean(bootstrap): the value with the small-area sampling bias removed.
    """
    obs = {k: float(v) for k, v in evaluate(u.counts, u.pair, u.edges).items()}
    null = null_draws(u, rng_null, permutations) if permutations else {}
    boot = bootstrap_draws(u, rng_boot, bootstrap)
    rows = []
    for k, v in obs.items():
        lo, hi = basic_interval(v, boot[k], level)
        row = {"index": k, "value": v, "value_bc": 2 * v - float(boot[k].mean()), "lo": lo, "hi": hi,
               "se": float(boot[k].std(ddof=1))}
        if null:
            sims = null[k]
            larger = (sims <= v).sum() if k in LOWER_IS_SEGREGATED else (sims >= v).sum()
            row.update(null_mean=float(sims.mean()), p_random=(larger + 1.0) / (len(sims) + 1.0))
        rows.append(row)
    return pd.DataFrame(rows), boot


def change_row(v1: float, v2: float, d1: np.ndarray, d2: np.ndarray, level: float) -> dict[str, float]:
    """Change v2 - v1 with its basic bootstrap interval and a two-sided bootstrap p-value."""
    delta = v2 - v1
    diff = d2 - d1
    lo, hi = basic_interval(delta, diff, level)
    centred = diff - diff.mean()
    p = (1.0 + (np.abs(centred) >= abs(delta)).sum()) / (len(diff) + 1.0)
    return {"change": delta, "change_lo": lo, "change_hi": hi, "p_change": p,
            "significant": bool(lo > 0 or hi < 0)}


def decompose(u1: Units, u2: Units) -> dict[str, float]:
    """PySAL's Shapley decomposition of the change in the pair dissimilarity from ``u1`` to ``u2`` (same areas).

    Returns change (u2 - u1), spatial and compositional parts (they add up to the change).
    """
    from segregation.decomposition import DecomposeSegregation
    from segregation.singlegroup import Dissim

    def frame(u: Units) -> pd.DataFrame:
        x = u.counts[:, u.pair[0]]
        y = u.counts[:, u.pair[1]] if u.pair[1] is not None else u.counts.sum(1) - x
        keep = (x + y) > 0
        return pd.DataFrame({"x": x[keep], "t": (x + y)[keep]})

    d = DecomposeSegregation(Dissim(frame(u1), "x", "t"), Dissim(frame(u2), "x", "t"), "composition")
    # PySAL reports index1 - index2; we report the change from the first to the second year.
    return {"dissimilarity_first": float(d.indices["s1_a1"]), "dissimilarity_last": float(d.indices["s2_a2"]),
            "spatial": -float(d.c_s), "compositional": -float(d.c_a)}
