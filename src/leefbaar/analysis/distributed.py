"""Per-area computations as Ibis expressions, run by DuckDB (default) or Spark (``store.compute``).

Written once, executed by either engine with the same definitions as the pandas/NumPy code they replace:

- ``aggregate_levels``: the resident-weighted mean of source areas per target area and year
  (``geo.aggregate.weighted_mean`` per year of ``analysis.levels.aggregate``): residents of source ``s`` in
  target ``t`` = residents of ``s`` in that year (0 where unknown) x the area share of ``s`` in ``t``; a value
  of ``t`` is ``sum r v / sum r`` over its sources with a value and residents > 0; ``coverage`` = the share of
  the residents of ``t`` in sources with a value of the first column; targets under ``min_coverage`` dropped.
- ``gap_measures``: the inequality measures of ``analysis.gap.measures`` per group (year, or year and
  bootstrap resample): mean, sd (population), P10/P50/P90 and P90-P10, and where the values are positive
  P90/P10, cv, Theil T and Gini; the share below a threshold; each over areas and over residents (``_w``).

Quantiles (both engines, and ``analysis.gap``): weighted, midpoint rule. Values sorted ascending (ties in the
order of ``pos``, the row number of the input: ``analysis.gap`` sorts stably), each holding the
cumulative-weight midpoint ``(C_i - w_i / 2) / W``; the q-quantile interpolates linearly between the two
neighbouring values whose midpoints enclose q (clamped to the first and last pair). With equal weights this
is numpy's ``hazen`` method. It is built from window sums, so no engine's own (approximate or differently
interpolated) percentile function is involved.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from leefbaar.store.compute import execute, table

QUANTILES = (0.1, 0.5, 0.9)


def _clean(col: ir.FloatingValue) -> ir.FloatingValue:
    """NaN as NULL (Spark does not skip NaN in aggregates; SQL skips NULL)."""
    return col.isnan().ifelse(ibis.null("float64"), col)


# -- aggregation to levels -------------------------------------------------------------------------------------
def aggregate_levels(values: ir.Table, population: ir.Table, shares: ir.Table, columns: list[str],
                     min_coverage: float) -> ir.Table:
    """Resident-weighted means of ``columns`` per target and year (see module).

    ``values``: code, year, columns (source areas); ``population``: code, year, weight (residents of the
    source in that year); ``shares``: from_code, to_code, weight (area share of the source in the target).
    Returns code, year, columns, residents, residents_scored, coverage, sources (targets kept by coverage).
    """
    years = values.select("year").distinct()
    pop = population.select(p_code="code", p_year="year", pop=population["weight"].cast("float64"))
    w = shares.select("from_code", "to_code", share=shares["weight"].cast("float64")).cross_join(years)
    w = w.left_join(pop, [w.from_code == pop.p_code, w.year == pop.p_year])
    w = w.select("from_code", "to_code", "year", residents=w.pop.fill_null(0.0) * w.share)
    v = values.select(v_code="code", v_year="year", **{c: _clean(values[c].cast("float64")) for c in columns})
    m = w.left_join(v, [w.from_code == v.v_code, w.year == v.v_year])
    ok = {c: m[c].notnull() & (m.residents > 0) for c in columns}
    aggs = {}
    for c in columns:
        den = ok[c].ifelse(m.residents, 0.0).sum()
        aggs[c] = ok[c].ifelse(m[c] * m.residents, 0.0).sum() / (den == 0).ifelse(ibis.null("float64"), den)
    aggs["residents"] = m.residents.sum()
    aggs["residents_scored"] = ok[columns[0]].ifelse(m.residents, 0.0).sum()
    aggs["sources"] = ok[columns[0]].ifelse(1, 0).sum()
    g = m.group_by(code=m.to_code, year=m.year).aggregate(**aggs)
    g = g.mutate(coverage=g.residents_scored / (g.residents == 0).ifelse(ibis.null("float64"), g.residents))
    return g.filter(g.coverage >= min_coverage).select("code", "year", *columns, "residents", "residents_scored",
                                                        "coverage", "sources")


def aggregate_frame(values: pd.DataFrame, population: pd.DataFrame, shares: pd.DataFrame, columns: list[str],
                    min_coverage: float, engine: str | None = None) -> pd.DataFrame:
    """``aggregate_levels`` on pandas frames, run on ``engine``; rows ordered by year and code."""
    expr = aggregate_levels(table(values[["code", "year", *columns]]),
                            table(population[["code", "year", "weight"]]),
                            table(shares[["from_code", "to_code", "weight"]]), columns, min_coverage)
    out = execute(expr.order_by(["year", "code"]), engine)
    return out.astype({"year": int, "sources": int})


# -- gap measures ----------------------------------------------------------------------------------------------
def gap_measures(data: ir.Table, by: list[str], positive: bool, with_below: bool) -> ir.Table:
    """The measures of ``analysis.gap.measures`` per group ``by``.

    ``data``: the group columns, ``pos`` (int: tie order), ``y`` (score), ``w`` (residents; 0 where
    unknown), and ``below`` (bool) when ``with_below``. Returns one row per group: by, then mean, p10, p50,
    p90, p90_p10, sd, [p90_div_p10, cv, theil, gini], [share_below], the same with suffix ``_w``.
    """
    t = data.mutate(y=_clean(data.y.cast("float64")), w=data.w.cast("float64"), one=ibis.literal(1.0))
    grp = ibis.window(group_by=by)
    run = ibis.window(group_by=by, order_by=[t.y, t.pos], rows=(None, 0))
    order = ibis.window(group_by=by, order_by=[t.y, t.pos])
    weights = {"": t.one, "_w": t.w}
    cols = {"rn": ibis.row_number().over(order), "n": t.y.count().over(grp)}
    for s, ww in weights.items():
        cols[f"ww{s}"] = ww
        cols[f"tot{s}"] = ww.sum().over(grp)
        cols[f"cum{s}"] = ww.sum().over(run)
        cols[f"mean{s}"] = (ww * t.y).sum().over(grp) / ww.sum().over(grp)
    t = t.mutate(**cols)
    cols = {}
    for s in weights:
        cols[f"mid{s}"] = (t[f"cum{s}"] - 0.5 * t[f"ww{s}"]) / t[f"tot{s}"]
    t = t.mutate(**cols)
    cols = {"y1": t.y.lead().over(order)}
    for s in weights:
        cols[f"mid1{s}"] = t[f"mid{s}"].lead().over(order)
        for q in QUANTILES:
            cols[f"k{int(q * 100)}{s}"] = (t[f"mid{s}"] < q).ifelse(1, 0).sum().over(grp)
    t = t.mutate(**cols)
    aggs = {}
    for s in weights:
        ww, y = t[f"ww{s}"], t.y
        total, mean = t[f"tot{s}"], t[f"mean{s}"]
        x0, x1 = t[f"mid{s}"], t[f"mid1{s}"]
        for q in QUANTILES:
            k = ibis.greatest(ibis.least(t[f"k{int(q * 100)}{s}"], t.n - 1), 1)
            span = x1 - x0
            frac = (span > 0).ifelse((q - x0) / (span > 0).ifelse(span, 1.0), 0.0)
            frac = ibis.greatest(ibis.least(frac, 1.0), 0.0)
            value = (t.rn == k - 1).ifelse(y + frac * (t.y1 - y), ibis.null("float64"))
            aggs[f"p{int(q * 100)}{s}"] = value.max()
        aggs[f"mean{s}"] = mean.max()
        aggs[f"sd{s}"] = ((ww * (y - mean) ** 2).sum() / ww.sum()).sqrt()
        if positive:
            r = y / mean
            aggs[f"theil{s}"] = (ww * r * r.ln()).sum() / ww.sum()
            below_w, above_w = t[f"cum{s}"] - ww, total - t[f"cum{s}"]
            aggs[f"gini{s}"] = (ww * y * (below_w - above_w)).sum() / (total.max() ** 2 * mean.max())
        if with_below:
            aggs[f"share_below{s}"] = (ww * t.below.cast("float64")).sum() / ww.sum()
    g = t.group_by(by).aggregate(**aggs)
    out = {}
    for s in weights:
        out[f"mean{s}"] = g[f"mean{s}"]
        out[f"p10{s}"], out[f"p50{s}"], out[f"p90{s}"] = g[f"p10{s}"], g[f"p50{s}"], g[f"p90{s}"]
        out[f"p90_p10{s}"] = g[f"p90{s}"] - g[f"p10{s}"]
        out[f"sd{s}"] = g[f"sd{s}"]
        if positive:
            out[f"p90_div_p10{s}"] = g[f"p90{s}"] / g[f"p10{s}"]
            out[f"cv{s}"] = g[f"sd{s}"] / g[f"mean{s}"]
            out[f"theil{s}"] = g[f"theil{s}"]
            out[f"gini{s}"] = g[f"gini{s}"]
        if with_below:
            out[f"share_below{s}"] = g[f"share_below{s}"]
    return g.select(*by, **out)


def gap_frame(frame: pd.DataFrame, by: list[str], positive: bool, engine: str | None = None) -> pd.DataFrame:
    """``gap_measures`` on a pandas frame (columns ``by``, pos, y, w[, below]), run on ``engine``; rows
    ordered by ``by``."""
    with_below = "below" in frame.columns
    expr = gap_measures(table(frame[[*by, "pos", "y", "w", *(["below"] if with_below else [])]]), by, positive,
                        with_below)
    return execute(expr.order_by(by), engine)
