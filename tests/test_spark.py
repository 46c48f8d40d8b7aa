"""The Ibis computations (``analysis.distributed``, ``index.ibis_score``) on DuckDB and on Spark local mode.

Real subsets: the official PC4 scores of seven gemeenten (aggregation to gemeenten, the gap measures) and COINr's
ASEM table (index scoring, Monte Carlo weight draws). Each is checked three ways: the Ibis expression on DuckDB
against the pandas/NumPy code it replaces (``geo.aggregate.weighted_mean``, ``analysis.gap.measures``,
``index.engine``), and on Spark against DuckDB, to 1e-9. One Spark session (local[1]) for the module.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from leefbaar.analysis import distributed as dist
from leefbaar.analysis import gap as gp
from leefbaar.analysis import levels as lv
from leefbaar.analysis.panel import load_panel
from leefbaar.analysis.weights import population_weights
from leefbaar.errors import LeefbaarError, SpecError
from leefbaar.geo.aggregate import resident_weights, weighted_mean
from leefbaar.index.engine import load_engine_spec, read_table, validate
from leefbaar.index.engine import uncertainty as unc
from leefbaar.index.ibis_score import LinearScorer
from leefbaar.store import compute
from leefbaar.store.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::DeprecationWarning",
                                        "ignore::FutureWarning", "ignore::UserWarning")
GEMEENTEN = ("GM0014", "GM0200", "GM0344", "GM0363", "GM0518", "GM0599", "GM0935")
TOL = 1e-9
SPECS = compute.__file__.replace("store/compute.py", "catalogue/specs/engine")


@pytest.fixture(scope="module")
def spark():
    """Spark local mode: one thread, one shuffle partition, no UI, no adaptive re-planning and no code
    generation (compiling the wide expressions costs more than running them on a few thousand rows); stopped
    after the module."""
    env = {"LEEFBAAR_SPARK_MASTER": "local[1]",
           "LEEFBAAR_SPARK_CONF": "spark.sql.shuffle.partitions=1;spark.sql.codegen.wholeStage=false;"
                                  "spark.sql.adaptive.enabled=false"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        compute.connect("spark")
        yield "spark"
    finally:
        compute.disconnect("spark")
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def subset(store_file):
    """Official PC4 scores (all years), residents and PC4 -> gemeente 2022 shares of seven gemeenten."""
    with Store.open(store_file) as st:
        values = lv.official_scores(st, "pc4")
        shares = lv.area_shares(st, "pc4", lv._geometry_vintage(st, "pc4"), "gemeente", 2022)
        shares = shares[shares["to_code"].isin(GEMEENTEN)].reset_index(drop=True)
        values = values[values["code"].isin(shares["from_code"])].reset_index(drop=True)
        years = sorted(int(y) for y in values["year"].unique())
        pop = population_weights(st, "pc4", years).frame
        panel = load_panel(st, "official", "pc4")
        panel.frame = panel.frame[panel.frame["code"].isin(shares["from_code"])]
    return values, pop[pop["code"].isin(shares["from_code"])].reset_index(drop=True), shares, panel


@pytest.fixture(scope="module")
def asem(data_dir):
    folder = data_dir / "peers" / "coinr_asem"
    data = read_table(folder / "ASEM_iData.csv")
    spec = load_engine_spec(f"{SPECS}/asem_minmax.yaml", meta=folder / "ASEM_iMeta.csv")
    return data, spec


def _close(a: pd.DataFrame, b: pd.DataFrame, cols: list[str]) -> float:
    """Largest absolute difference over ``cols``; NaN must sit in the same cells."""
    x, y = a[cols].to_numpy(float), b[cols].to_numpy(float)
    assert (np.isnan(x) == np.isnan(y)).all()
    return float(np.nanmax(np.abs(x - y))) if x.size else 0.0


# -- aggregation to levels -------------------------------------------------------------------------------------
def _pandas_levels(values, pop, shares):
    """The pandas implementation: ``geo.aggregate.weighted_mean`` per year (as ``levels.aggregate`` was)."""
    frames = []
    for year, part in values.groupby("year"):
        w = resident_weights(shares, pop[pop["year"] == year].set_index("code")["weight"])
        agg = weighted_mean(part.set_index("code"), w, lv.VALUES).reset_index()
        frames.append(agg[agg["coverage"] >= lv.MIN_COVERAGE].assign(year=int(year)))
    return pd.concat(frames, ignore_index=True).sort_values(["year", "code"], ignore_index=True)


def test_aggregation_duckdb_matches_pandas_and_spark(subset, spark):
    values, pop, shares, _ = subset
    ref = _pandas_levels(values, pop, shares)
    cols = [*lv.VALUES, "residents", "residents_scored", "coverage", "sources"]
    duck = dist.aggregate_frame(values, pop, shares, lv.VALUES, lv.MIN_COVERAGE, "duckdb")
    assert len(ref) >= 7 * values["year"].nunique() - 7 and set(ref["code"]) == set(GEMEENTEN)
    assert (duck[["code", "year"]].to_numpy() == ref[["code", "year"]].to_numpy()).all()
    assert _close(duck, ref, cols) < TOL
    via_levels, used = lv.aggregate(values, pop, shares)  # the switched caller
    assert _close(via_levels, ref, cols) < TOL and not used.duplicated(["from_code", "to_code", "weight_year"]).any()
    on_spark = dist.aggregate_frame(values, pop, shares, lv.VALUES, lv.MIN_COVERAGE, spark)
    assert (on_spark[["code", "year"]].to_numpy() == duck[["code", "year"]].to_numpy()).all()
    assert _close(on_spark, duck, cols) < TOL


# -- gap measures ----------------------------------------------------------------------------------------------
def _gap_input(panel, store_file):
    wide = panel.balanced(panel.years)
    years = [int(y) for y in wide.columns]
    with Store.open(store_file) as st:
        pw = population_weights(st, "pc4", years)
    y = wide.to_numpy(float)
    w = np.column_stack([pw.for_year(t, wide.index) for t in years])
    n = len(wide)
    frame = pd.DataFrame({"year": np.repeat(years, n), "pos": np.tile(np.arange(n), len(years)),
                          "y": y.T.ravel(), "w": w.T.ravel(), "below": (y < 4.0).T.ravel()})
    return y, w, years, frame, pw


def test_gap_measures_duckdb_match_numpy_and_spark(subset, store_file, spark):
    panel = subset[3]
    y, w, years, frame, pw = _gap_input(panel, store_file)
    assert y.shape[0] > 300 and (y > 0).all()
    duck = dist.gap_frame(frame, ["year"], True, "duckdb").set_index("year")
    for j, t in enumerate(years):
        ref = gp.measures(y[:, j], w[:, j], y[:, j] < 4.0, True)
        assert list(duck.columns) == list(ref)
        for k, v in ref.items():
            assert abs(duck.loc[t, k] - v[0]) < TOL, (t, k)
    on_spark = dist.gap_frame(frame, ["year"], True, spark).set_index("year")
    assert _close(on_spark, duck, list(duck.columns)) < TOL
    # the switched caller: the same analysis with its point estimates from Ibis on DuckDB
    a = gp.GapAnalysis(panel, pw, n_boot=19).fit()
    b = gp.GapAnalysis(panel, pw, n_boot=19, engine="duckdb").fit()
    assert _close(a.by_year, b.by_year, ["year", "estimate", "lo", "hi"]) < TOL
    assert (a.by_year["measure"] == b.by_year["measure"]).all()


def test_weighted_quantiles_break_ties_in_input_order():
    """Ties with unequal weights: the midpoint rule depends on their order; both paths keep the input order."""
    y = np.array([1.0, 2.0, 2.0, 2.0, 3.0, 5.0, 5.0, 8.0, 9.0, 9.0, 10.0])
    w = np.array([3.0, 1.0, 7.0, 2.0, 4.0, 9.0, 1.0, 2.0, 6.0, 1.0, 5.0])
    ref = gp.measures(y, w, None, True)
    out = dist.gap_frame(pd.DataFrame({"g": 1, "pos": np.arange(len(y)), "y": y, "w": w}), ["g"], True, "duckdb")
    for k, v in ref.items():
        assert abs(out.loc[0, k] - v[0]) < 1e-12, k
    swap = [0, 2, 1, 3, 4, 6, 5, 7, 9, 8, 10]  # tied values with their weights in another order
    flipped = gp.measures(y[swap], w[swap], None, True)
    assert all(flipped[k][0] != ref[k][0] for k in ("p10_w", "p50_w", "p90_w"))  # the order matters
    out = dist.gap_frame(pd.DataFrame({"g": 1, "pos": np.arange(len(y)), "y": y[swap], "w": w[swap]}), ["g"], True,
                         "duckdb")
    assert all(abs(out.loc[0, k] - flipped[k][0]) < 1e-12 for k in ("p10_w", "p50_w", "p90_w"))


# -- index scoring and Monte Carlo draws ----------------------------------------------------------------------
def test_index_scoring_matches_engine_on_duckdb_and_spark(asem, spark):
    from leefbaar.index.engine import build

    data, spec = asem
    ref = build(data, spec).scores
    scorer = LinearScorer(spec).fit(data)
    duck = scorer.score(data, "duckdb")
    assert list(duck.columns) == list(ref.columns) and (duck.index == ref.index).all()
    assert ref.isna().to_numpy().any()  # missing values skipped with renormalised weights: exercised
    assert _close(duck, ref, list(ref.columns)) < TOL
    assert _close(scorer.score(data, spark), duck, list(ref.columns)) < TOL


def test_weight_draws_match_engine_uncertainty_on_duckdb_and_spark(asem, spark):
    data, spec = asem
    plan = unc.Plan(draws=60, seed=3, perturb=0.25)
    design = unc.design(plan, spec)
    S = unc.evaluate(validate(data, spec), spec, plan, design)
    R = unc._rank_rows(S)
    scorer = LinearScorer(spec).fit(data)
    W = np.concatenate(scorer.weights_) * design.multipliers
    duck = scorer.draws(data, W, "duckdb")
    for i, name in enumerate(("median", "p05", "p95")):
        assert np.abs(duck[f"score_{name}"] - np.quantile(S, [0.5, 0.05, 0.95], axis=0)[i]).max() < TOL
        assert np.abs(duck[f"rank_{name}"] - np.quantile(R, [0.5, 0.05, 0.95], axis=0)[i]).max() < TOL
    on_spark = scorer.draws(data, W, spark)
    assert (on_spark["unit"] == duck["unit"]).all()
    assert _close(on_spark, duck, [c for c in duck.columns if c != "unit"]) < TOL


def test_nonlinear_specs_and_unknown_engines_are_refused(asem, data_dir, monkeypatch, capsys):
    data, _ = asem
    meta = data_dir / "peers" / "coinr_asem" / "ASEM_iMeta.csv"
    with pytest.raises(SpecError, match="linear spec"):
        LinearScorer(load_engine_spec(f"{SPECS}/asem_zscore_geometric.yaml", meta=meta)).fit(data)
    monkeypatch.setenv("LEEFBAAR_ENGINE", "hadoop")
    with pytest.raises(LeefbaarError, match="unknown engine 'hadoop'"):
        compute.engine_name()
    from leefbaar.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["levels", "--engine", "hadoop"])
    assert exc.value.code == 2
    assert "leefbaar: error:" in capsys.readouterr().err
