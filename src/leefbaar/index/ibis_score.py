"""The linear part of an engine index as Ibis expressions: score all areas, and Monte Carlo draws of the weights,
on DuckDB or Spark (``store.compute``).

``LinearScorer(spec).fit(sample)`` runs the engine (``index.engine``) on a sample in NumPy: it fixes the
normalisation of every indicator (min and max, or mean and n - 1 sd, of the directed values in the sample;
goalposts and ``none`` need nothing) and the weights of every level (``final_weights``: meta, equal, PCA,
optimised or calibrated). ``expression(table)`` then scores any number of rows as one Ibis expression with
the engine's formulas (``ops.normalise``; ``ops.aggregate`` arithmetic: missing children skipped and the
weights of the present ones renormalised, a node NULL below the spec's ``min_share``). Fitted on the same
rows, the scores equal ``engine.build``'s to rounding (tests/test_spark.py: 1e-9).

``draws(table, W)`` scores every row under every weight vector of ``W`` (draws x the concatenated weights of
levels 1..depth-1, as ``engine.uncertainty.evaluate`` builds them) as a join of rows x draws, ranks within each
draw (1 = highest, ties at the minimum) and gives per row the median, 5 % and 95 % quantile of the top score
and rank over the draws (linear interpolation: DuckDB ``quantile_cont``, Spark ``percentile``, numpy's
default). Refused: specs with steps that are not row-wise affine (denominate, screen, impute, treat, the rank
normalisers) or a non-arithmetic aggregator; build those with ``leefbaar index build``.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from leefbaar.errors import SpecError
from leefbaar.index.engine.build import final_weights, prepare, validate
from leefbaar.index.engine.spec import EngineSpec
from leefbaar.store.compute import execute, table

AFFINE = ("minmax", "zscore", "none", "goalposts")
QUANTILES = {"median": 0.5, "p05": 0.05, "p95": 0.95}


def _unsupported(spec: EngineSpec) -> str | None:
    h = spec.hierarchy
    if spec.denominate or spec.screen_min_share is not None or spec.impute != "none":
        return "denominate, screen and impute are not row-wise"
    if spec.treat is not None or any(t is not None for t in spec.treat_per.values()):
        return "outlier treatment is not row-wise"
    for nz in (spec.normaliser, *spec.normaliser_per.values()):
        if nz.method not in AFFINE:
            return f"normaliser {nz.method!r} is not one of {', '.join(AFFINE)}"
    for lv in range(2, h.depth + 1):
        if spec.aggregator_at(lv) != "arithmetic":
            return f"aggregator {spec.aggregator_at(lv)!r} at level {lv} is not arithmetic"
    return None


def _null() -> ir.FloatingScalar:
    return ibis.null("float64")


@dataclass
class LinearScorer:
    """Fit on a sample (NumPy engine), score anywhere (Ibis). Fitted attributes: ``stats_`` (per indicator
    the normaliser and its sample statistics), ``weights_`` (per level 1..depth-1 the child weights)."""

    spec: EngineSpec

    def fit(self, frame: pd.DataFrame, source: str = "<data>") -> LinearScorer:
        why = _unsupported(self.spec)
        if why:
            raise SpecError(f"{self.spec.source}: the distributed scoring needs a linear spec: {why}")
        h = self.spec.hierarchy
        inputs = validate(frame, self.spec, source)
        st = prepare(inputs, self.spec, record=False)
        target = inputs.target[st.keep] if inputs.target is not None else None
        self.weights_ = final_weights(st.normalised, self.spec, target)
        self.stats_ = []
        with np.errstate(all="ignore"):
            for j, c in enumerate(h.indicators):
                nz = self.spec.normaliser_per.get(c, self.spec.normaliser)
                d = float(h.nodes[c].direction)
                z = st.treated[:, j] * d
                stats = {"minmax": (np.nanmin(z), np.nanmax(z)),
                         "zscore": (np.nanmean(z), np.nanstd(z, ddof=1))}.get(nz.method, ())
                self.stats_.append((nz, d, tuple(float(s) for s in stats)))
        return self

    def _normalised(self, x: ir.FloatingValue, j: int) -> ir.FloatingValue:
        """``ops.normalise`` of indicator ``j`` with the fitted statistics (same formulas, same order)."""
        nz, d, stats = self.stats_[j]
        z = x * d
        if nz.method == "minmax":
            mn, mx = stats
            rng = mx - mn
            return nz.lo + (z - mn) / rng * (nz.hi - nz.lo) if rng > 0 else ibis.literal((nz.lo + nz.hi) / 2)
        if nz.method == "zscore":
            m, s = stats
            return nz.mean + (z - m) / s * nz.sd if s > 0 else nz.mean + 0 * z
        if nz.method == "goalposts":
            g = np.asarray(self.spec.hierarchy.nodes[self.spec.hierarchy.indicators[j]].goalposts, float) * d
            return (nz.lo + (z - g[0]) / (g[1] - g[0]) * (nz.hi - nz.lo)).clip(min(nz.lo, nz.hi), max(nz.lo, nz.hi))
        return z

    def expression(self, data: ir.Table, draws: ir.Table | None = None) -> ir.Table:
        """Scores of every code of levels 1..depth per row of ``data`` (columns: the spec's unit and its
        indicators), one column per code, ``unit`` first. With ``draws`` (columns ``draw``, ``w0`` .. ``wK``:
        the weights of levels 1..depth-1 in the order of ``hierarchy.codes``) one row per unit and draw."""
        h, spec = self.spec.hierarchy, self.spec
        keys = ["unit"] + (["draw"] if draws is not None else [])
        t = data.select(unit=data[spec.unit].cast("string"),
                        **{f"c{j}": data[c].cast("float64") for j, c in enumerate(h.indicators)})
        t = t.mutate(**{f"c{j}": t[f"c{j}"].isnan().ifelse(_null(), t[f"c{j}"]) for j in range(len(h.indicators))})
        if draws is not None:
            t = t.cross_join(draws)
        wcols = [f"w{i}" for i in range(sum(len(w) for w in self.weights_))] if draws is not None else []
        t = t.select(*keys, *wcols,
                     **{f"n{j}": self._normalised(t[f"c{j}"], j) for j in range(len(h.indicators))})
        names = {f"n{j}": c for j, c in enumerate(h.indicators)}
        kept = list(names)
        offset = 0
        for lv in range(1, h.depth):
            A, w = h.membership(lv), self.weights_[lv - 1]
            kids = [f"n{offset + i}" for i in range(A.shape[0])]
            sums, new = {}, {}
            for g in range(A.shape[1]):
                rows = np.flatnonzero(A[:, g])
                wi = [t[f"w{offset + i}"] if draws is not None else float(w[i]) for i in rows]
                vs = [t[kids[i]] for i in rows]
                sums[f"num{g}"] = sum((v * x).fill_null(0.0) for v, x in zip(vs, wi, strict=True))
                sums[f"den{g}"] = sum(v.notnull().ifelse(x, 0.0) for v, x in zip(vs, wi, strict=True))
                if spec.min_share > 0:
                    sums[f"cnt{g}"] = sum(v.notnull().cast("float64") for v in vs) / len(rows)
            t = t.mutate(**sums)
            for g, parent in enumerate(h.codes(lv + 1)):
                out = t[f"num{g}"] / t[f"den{g}"].nullif(0.0)
                if spec.min_share > 0:
                    out = (t[f"cnt{g}"] >= spec.min_share - 1e-12).ifelse(out, _null())
                name = f"n{offset + A.shape[0] + g}"
                new[name] = out
                names[name] = parent
            offset += A.shape[0]
            kept += list(new)
            t = t.mutate(**new).drop(*sums)
        return t.select(*keys, *kept).rename({c: n for n, c in names.items()})

    def score(self, frame: pd.DataFrame, engine: str | None = None) -> pd.DataFrame:
        """Scores of every row of ``frame`` on ``engine``: index ``unit`` (in the order of ``frame``), one
        column per code of every level (as ``IndexResult.scores``)."""
        units = frame[self.spec.unit].astype(str)
        out = execute(self.expression(table(frame)), engine).set_index("unit")
        return out.reindex(units.to_numpy()).rename_axis("unit")

    def draws(self, frame: pd.DataFrame, W: np.ndarray, engine: str | None = None) -> pd.DataFrame:
        """Per unit the median, 5 % and 95 % quantile of the top score and its rank over the weight draws
        ``W`` (draws x weights): columns unit, score_median, score_p05, score_p95, rank_median, .. (as
        ``engine.uncertainty.Analysis.scores``)."""
        W = np.asarray(W, float)
        draws = table(pd.DataFrame({"draw": np.arange(len(W)), **{f"w{i}": W[:, i] for i in range(W.shape[1])}}))
        top = self.spec.hierarchy.codes(self.spec.hierarchy.depth)[0]
        s = self.expression(table(frame), draws)
        s = s.select("unit", "draw", score=s[top])
        rank = ibis.rank().over(ibis.window(group_by=s.draw, order_by=s.score.desc())) + 1
        s = s.mutate(rank=s.score.isnull().ifelse(ibis.null("int64"), rank).cast("float64"))
        aggs = {f"{col}_{name}": s[col].quantile(q) for col in ("score", "rank") for name, q in QUANTILES.items()}
        out = execute(s.group_by("unit").aggregate(**aggs), engine).set_index("unit")
        units = frame[self.spec.unit].astype(str).to_numpy()
        return out.reindex(units).rename_axis("unit").reset_index()

