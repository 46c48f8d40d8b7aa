"""Every engine option works as documented or is refused with a clear error; bad input names file, row and
column; weights methods; the uncertainty analysis (vectorised = naive rebuilds, Sobol = SALib)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leefbaar.errors import InputError, SpecError
from leefbaar.index.engine import build, ops, parse_engine_spec, validate
from leefbaar.index.engine.uncertainty import analyse, parse_uncertainty, sobol_indices

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

HIER = {"indicators": [{"code": "a", "parent": "P"}, {"code": "b", "parent": "P", "direction": -1},
                       {"code": "c", "parent": "Q", "weight": 2}, {"code": "d", "parent": "Q"}],
        "aggregates": [{"code": "P", "parent": "I", "level": 2}, {"code": "Q", "parent": "I", "level": 2},
                       {"code": "I", "level": 3}]}


def small():
    rng = np.random.default_rng(3)
    f = pd.DataFrame(rng.lognormal(size=(12, 4)) * 10, columns=list("abcd"))
    f.insert(0, "unit", [f"u{i:02d}" for i in range(12)])
    f["grp"] = ["x", "y"] * 6
    f["crit"] = 2 * (f["a"] - f["b"]) + 3
    return f


def spec(**kw):
    return parse_engine_spec({"name": "t", "unit": "unit", **HIER, **kw}, "t.yaml")


@pytest.mark.parametrize("body, message", [
    ({"impute": {"method": "regression"}}, "not implemented"),
    ({"impute": {"method": "em"}}, "not implemented"),
    ({"impute": {"method": "knn"}}, "is not one of"),
    ({"impute": {"method": "group_mean"}}, "needs 'group"),
    ({"impute": {"method": "mean", "group": "grp"}}, "applies only to group"),
    ({"normalise": {"method": "softmax"}}, "is not one of"),
    ({"normalise": {"method": "rank", "range": [0, 1]}}, "does not apply"),
    ({"normalise": {"method": "minmax", "sd": 2}}, "apply only to method zscore"),
    ({"normalise": {"method": "zscore", "sd": 0}}, "must be positive"),
    ({"normalise": {"method": "target"}}, "needs a Target"),
    ({"normalise": {"method": "goalposts"}}, "needs GoalLow"),
    ({"aggregate": {"method": "mode"}}, "is not one of"),
    ({"aggregate": {"method": "arithmetic", "penalty": 1}}, "unknown option 'penalty'"),
    ({"aggregate": {"levels": {5: "geometric"}}}, "not an aggregate level"),
    ({"aggregate": {"min_share": 1.5}}, "must lie in"),
    ({"weights": {"method": "magic"}}, "is not one of"),
    ({"weights": {"method": "calibrated", "level": 1}}, "needs 'target"),
    ({"weights": {"method": "optimise"}}, "needs 'level"),
    ({"weights": {"method": "equal", "level": 1}}, "applies to every level"),
    ({"treat": {"method": "boxcox"}}, "is not one of winsorise"),
    ({"treat": {"fallback": "sqrt"}}, "is not one of log, none"),
    ({"treat": {"per_indicator": {"zz": "none"}}}, "unknown indicator 'zz'"),
    ({"screen": {"min_share": 0.5, "by": "nan"}}, "is not one of"),
    ({"denominate": True}, "no indicator has a Denominator"),
    ({"missing": {"fill": "none"}}, "unknown field 'missing'"),
    ({"uncertainty": {"draws": 100, "weights": {"perturb": 0.25}, "level": 2}}, "not supported"),
    ({"uncertainty": {"draws": 100}}, "nothing varies"),
    ({"uncertainty": {"draws": 100, "weights": {"dirichlet": 5}}}, "only {perturb"),
])
def test_unsupported_options_are_refused(body, message):
    with pytest.raises(SpecError, match=message):
        spec(**body)


@pytest.mark.parametrize("change, where", [
    (lambda f: f.assign(unit=["u00"] * 12), r"row 3, column 'unit'.*appears twice"),
    (lambda f: f.assign(b=f["b"].astype(object).where(f.index != 4, "n/a")), r"row 6, column 'b'.*not a number"),
    (lambda f: f.drop(columns="c"), r"column 'c'.*no such column"),
])
def test_bad_data_names_file_row_and_column(change, where):
    with pytest.raises(InputError, match=where):
        validate(change(small()), spec(), "mine.csv")


def test_bad_metadata_names_row_and_column():
    bad = {**HIER, "indicators": [*HIER["indicators"][:3], {"code": "d", "parent": "R"}]}
    with pytest.raises(InputError, match=r"row 4, column 'Parent'.*unknown parent 'R'"):
        parse_engine_spec({"name": "t", "unit": "unit", **bad}, "t.yaml")
    bad = {**HIER, "indicators": [*HIER["indicators"][:3], {"code": "d", "parent": "Q", "direction": 0}]}
    with pytest.raises(InputError, match=r"column 'Direction'"):
        parse_engine_spec({"name": "t", "unit": "unit", **bad}, "t.yaml")


def test_geometric_refuses_non_positive_values():
    with pytest.raises(SpecError, match="needs positive values"):
        build(small(), spec(normalise={"method": "minmax", "range": [0, 100]}, aggregate="geometric"))
    r = build(small(), spec(normalise={"method": "minmax", "range": [1, 100]}, aggregate="harmonic"))
    v = r.scores.loc["u00", ["a", "b"]].to_numpy()
    assert r.scores.loc["u00", "P"] == pytest.approx(2 / (1 / v).sum())


def test_normalisers_by_hand():
    f = small()
    x = f["b"].to_numpy()
    for body, expect in [
        ({"method": "rank"}, pd.Series(-x).rank().to_numpy()),
        ({"method": "borda"}, pd.Series(-x).rank(method="min").to_numpy() - 1),
        ({"method": "percentile"}, (pd.Series(-x).rank().to_numpy() - 1) / 11),
        ({"method": "minmax", "range": [-1, 1]}, -1 + (x.max() - x) / (x.max() - x.min()) * 2),
    ]:
        r = build(f, spec(normalise=body))
        np.testing.assert_allclose(r.scores["b"], expect, rtol=1e-12, err_msg=str(body))
    hier = {**HIER, "indicators": [{**HIER["indicators"][0], "target": 20, "goalposts": [0, 40]},
                                   *HIER["indicators"][1:]]}
    a = f["a"].to_numpy()
    s = parse_engine_spec({"name": "t", "unit": "unit", **hier,
                           "normalise": {"method": "minmax", "per_indicator": {
                               "a": {"method": "target", "range": [0, 100]}}}}, "t.yaml")
    np.testing.assert_allclose(build(f, s).scores["a"], np.minimum((a - a.min()) / (20 - a.min()) * 100, 100))
    s = parse_engine_spec({"name": "t", "unit": "unit", **hier,
                           "normalise": {"method": "minmax", "per_indicator": {"a": {"method": "goalposts"}}}},
                          "t.yaml")
    np.testing.assert_allclose(build(f, s).scores["a"], np.clip(a / 40, 0, 1))


def test_impute_screen_median():
    f = small()
    f.loc[[0, 2], "a"] = np.nan
    f.loc[1, ["a", "b", "c"]] = np.nan
    r = build(f, spec(impute={"method": "group_median", "group": "grp"}, screen={"min_share": 0.5}))
    assert "u01" not in r.units  # 1 of 4 values
    xs = f.loc[(f["grp"] == "x") & f.index.isin(range(2, 12)), "a"]
    assert r.data["imputed"].loc["u02", "a"] == pytest.approx(np.nanmedian(xs))
    r = build(f, spec(impute="mean"))
    assert r.data["imputed"].loc["u00", "a"] == pytest.approx(f["a"].mean())
    m = build(f, spec(aggregate="median", weights="equal"))
    assert m.scores.loc["u03", "I"] == pytest.approx(min(m.scores.loc["u03", ["P", "Q"]]))


def test_weights_methods():
    f = small()
    r = build(f, spec(weights={"method": "pca", "levels": [1]}))
    assert r.weights["a"] + r.weights["b"] == pytest.approx(1) and r.weights["c"] + r.weights["d"] == pytest.approx(1)
    # calibrated: non-negative least squares of the criterion on the children of each parent
    c = build(f, spec(weights={"method": "calibrated", "level": 1, "target": "crit"}, normalise="none"))
    assert c.weights["a"] == pytest.approx(0.5, abs=1e-6) and c.weights["b"] == pytest.approx(0.5, abs=1e-6)
    o = build(f, spec(weights={"method": "optimise", "level": 2}))
    corr = [np.corrcoef(o.scores[k], o.scores["I"])[0, 1] for k in ("P", "Q")]
    meta = build(f, spec())
    before = [np.corrcoef(meta.scores[k], meta.scores["I"])[0, 1] for k in ("P", "Q")]
    assert abs(corr[0] - corr[1]) < 1e-3 < abs(before[0] - before[1])


def test_treat_thresholds_and_per_indicator():
    x = np.r_[np.arange(1.0, 21.0), 500.0]
    out, det = ops.treat(x)
    assert det["action"] == "winsorise" and det["winsorised"] == 1 and out.max() == 20
    y = np.r_[np.arange(1.0, 41.0), 1000.0, 2000.0, 3000.0]
    out, det = ops.treat(y, winmax=2)
    lo, hi = y.min(), y.max()
    assert det["action"] == "log"
    np.testing.assert_allclose(out, np.log(y - lo + 0.01 * (hi - lo)))
    f = small()
    f.loc[0, "a"] = 1e6
    s = spec(treat={"winmax": 5, "per_indicator": {"a": "none"}})
    assert build(f, s).data["treated"].loc["u00", "a"] == 1e6


UNC = {"draws": 24, "seed": 4, "weights": {"perturb": 0.25},
       "normalise": [{"method": "minmax", "range": [1, 100]}, {"method": "zscore", "mean": 10, "sd": 2}],
       "aggregate": ["arithmetic", "geometric"], "drop_indicator": True}


def test_uncertainty_vectorised_equals_rebuilds_and_sobol_equals_salib():
    from SALib.analyze import sobol

    f = small()
    f.loc[3, "c"] = np.nan
    s = spec(uncertainty=UNC)
    inputs = validate(f, s)
    fast = analyse(inputs, s)
    slow = analyse(inputs, s, naive=True)
    np.testing.assert_allclose(fast.draws, slow.draws, rtol=1e-12)
    assert len(fast.draws) == 24 // 6 * 6
    tab = fast.scores
    assert (tab["score_p05"] <= tab["score_median"]).all() and (tab["score_median"] <= tab["score_p95"]).all()
    assert (tab["rank_p05"] <= tab["rank_p95"]).all()
    # per-unit rank indices with SALib's estimators, checked against SALib itself for one unit
    si = sobol.analyze(fast.design.problem, fast.rank_draws[:, 5].astype(float), calc_second_order=False,
                       num_resamples=10, seed=1)
    np.testing.assert_allclose(fast.s1[:, 5], si["S1"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(fast.st[:, 5], si["ST"], rtol=1e-10, atol=1e-12)
    assert list(fast.sobol["factor"]) == ["weights", "normaliser", "aggregator", "drop_indicator"]


def test_uncertainty_with_imputation_alternatives_and_refusals():
    f = small()
    f.loc[[1, 5], "a"] = np.nan
    s = spec(impute={"method": "group_mean", "group": "grp"},
             uncertainty={"draws": 24, "impute": ["group_mean", "median"], "weights": {"perturb": 0.1}})
    inputs = validate(f, s)
    np.testing.assert_allclose(analyse(inputs, s).draws, analyse(inputs, s, naive=True).draws, rtol=1e-12)
    bad = spec(uncertainty={"draws": 60, "aggregate": ["arithmetic", "geometric"]},
               normalise={"method": "zscore"})
    with pytest.raises(SpecError, match="needs positive values"):
        analyse(validate(f, bad), bad)
    with pytest.raises(SpecError, match="only specs with meta or equal weights"):
        parse_uncertainty({"draws": 60, "weights": {"perturb": 0.1}}, spec(weights={"method": "pca"}))


def test_sobol_indices_recover_a_known_function():
    """Y = X1 + 2 X2 on uniform inputs: S1 = ST = 1/5 and 4/5 (variances 1/12 and 4/12)."""
    from leefbaar.index.engine.uncertainty import saltelli

    problem = {"names": ["x1", "x2"], "groups": ["x1", "x2"], "num_vars": 2, "bounds": [[0, 1]] * 2}
    X = saltelli(problem, 20000, 0)
    Y = (X[:, 0] + 2 * X[:, 1])[:, None]
    s1, st = sobol_indices(Y, 2)
    np.testing.assert_allclose(s1[:, 0], [0.2, 0.8], atol=0.03)
    np.testing.assert_allclose(st[:, 0], [0.2, 0.8], atol=0.03)


# -- every option of the schema, by hand (those not covered above or by the ASEM pipelines) -------------------
def test_screen_by_zeros_and_missing_or_zeros():
    f = small()
    f.loc[0, ["a", "b"]] = 0.0  # 2 of 4 zero
    f.loc[1, "a"] = 0.0
    f.loc[1, "b"] = np.nan  # 1 zero, 1 missing
    r = build(f, spec(screen={"min_share": 0.6, "by": "zeros"}))
    assert "u00" not in r.units and "u01" in r.units  # zeros: 2/4 and 3/4 usable (missing counts as usable)
    r = build(f, spec(screen={"min_share": 0.6, "by": "missing_or_zeros"}))
    assert "u00" not in r.units and "u01" not in r.units and len(r.units) == 10
    r = build(f, spec(screen={"min_share": 0.6}))  # by missing (default): u01 has 3 of 4
    assert "u00" in r.units and "u01" in r.units
    assert r.record["steps"][0]["step"] == "screen"


def test_denominate_with_scale():
    f = small().assign(pop=np.arange(1.0, 13.0))
    hier = {**HIER, "indicators": [{**HIER["indicators"][0], "denominator": "pop"}, *HIER["indicators"][1:]]}
    s = parse_engine_spec({"name": "t", "unit": "unit", **hier, "denominate": {"scale": 1000},
                           "normalise": "none"}, "t.yaml")
    r = build(f, s)
    np.testing.assert_allclose(r.data["denominated"]["a"], f["a"] / f["pop"] * 1000)
    np.testing.assert_allclose(r.data["denominated"]["b"], f["b"])  # no denominator: unchanged
    f.loc[2, "pop"] = 0  # a denominator of zero gives a missing value, never inf
    assert np.isnan(build(f, s).data["denominated"].loc["u02", "a"])


def test_impute_median_and_normalise_none_zscore_and_uncapped_target():
    f = small()
    f.loc[0, "c"] = np.nan
    r = build(f, spec(impute="median", normalise="none"))
    assert r.data["imputed"].loc["u00", "c"] == pytest.approx(f["c"].median())
    np.testing.assert_allclose(r.scores["b"], -f["b"])  # none: only the direction
    x = f["b"].to_numpy()
    z = build(f, spec(normalise={"method": "zscore", "mean": 50, "sd": 10}))
    np.testing.assert_allclose(z.scores["b"], 50 + 10 * (-x - (-x).mean()) / x.std(ddof=1), rtol=1e-12)
    hier = {**HIER, "indicators": [{**HIER["indicators"][0], "target": 5}, *HIER["indicators"][1:]]}
    a = f["a"].to_numpy()
    s = parse_engine_spec({"name": "t", "unit": "unit", **hier, "normalise": {"method": "minmax", "per_indicator": {
        "a": {"method": "target", "range": [0, 1], "cap": False}}}}, "t.yaml")
    np.testing.assert_allclose(build(f, s).scores["a"], (a - a.min()) / (5 - a.min()))
    assert build(f, s).scores["a"].max() > 1  # not capped


def test_aggregate_per_level_and_min_share():
    f = small()
    f.loc[0, "a"] = np.nan
    s = spec(normalise={"method": "minmax", "range": [1, 100]}, aggregate={"method": "arithmetic",
                                                                            "levels": {3: "geometric"}})
    r = build(f, s)
    sc = r.scores.loc["u00"]
    assert sc["P"] == pytest.approx(sc["b"])  # a missing: skipped, b's weight renormalised to 1
    assert sc["Q"] == pytest.approx((2 * sc["c"] + sc["d"]) / 3)
    assert sc["I"] == pytest.approx(np.sqrt(sc["P"] * sc["Q"]))  # level 3 geometric, weights 1 and 1
    strict = build(f, spec(aggregate={"method": "arithmetic", "min_share": 1}))
    assert np.isnan(strict.scores.loc["u00", "P"]) and np.isnan(strict.scores.loc["u00", "I"])
    assert not np.isnan(strict.scores.loc["u01", "I"])


def test_equal_weights_and_treat_thresholds_and_fallback_none():
    f = small()
    r = build(f, spec(weights="equal"))
    assert r.scores.loc["u03", "Q"] == pytest.approx(r.scores.loc["u03", ["c", "d"]].mean())
    f.loc[0, "a"] = 1e6
    loose = build(f, spec(treat={"skew": 100, "kurt": 100}))  # thresholds never reached: untouched
    assert loose.data["treated"].loc["u00", "a"] == 1e6 and next(
        st for st in loose.record["steps"] if st["step"] == "treat")["details"] == {}
    y = np.r_[np.arange(1.0, 41.0), 1000.0, 2000.0, 3000.0]
    out, det = ops.treat(y, winmax=2, fallback="none")
    assert det["action"] == "winsorise (still failing)" and det["winsorised"] == 2 and out.max() == 1000


def test_more_refusals():
    for body, message in [
        ({"levels": [1, 2]}, "'levels' must map"),
        ({"denominate": "yes"}, "denominate must be"),
        ({"weights": {"method": "pca", "levels": [3]}}, "must be a level with a parent"),
        ({"weights": {"method": "meta", "target": "crit"}}, "applies only to method calibrated"),
        ({"uncertainty": {"draws": 10, "weights": {"perturb": 0.1}}}, "at least 20 draws"),
        ({"uncertainty": {"draws": 60, "weights": {"perturb": 1.5}}}, "a fraction in"),
        ({"uncertainty": {"draws": 60, "aggregate": ["arithmetic", "mode"]}}, "is not one of"),
        ({"uncertainty": {"draws": 60, "impute": ["none", "group_mean"]}}, "group methods need"),
        ({"uncertainty": {"draws": 60, "normalise": ["minmax", "softmax"]}}, "is not one of"),
        ({"uncertainty": {"draws": 60, "aggregate": ["arithmetic", "geometric"]},
          "aggregate": {"levels": {3: "geometric"}}}, "per-level aggregators"),
        ({"uncertainty": {"draws": 60, "normalise": ["minmax", "rank"]},
          "normalise": {"method": "minmax", "per_indicator": {"a": "rank"}}}, "per-indicator normalisers"),
        ({"uncertainty": [1, 2]}, "must be a mapping"),
    ]:
        with pytest.raises(SpecError, match=message):
            spec(**body)
    with pytest.raises(SpecError, match="'unit'.*is required"):
        parse_engine_spec({"name": "t", **HIER}, "t.yaml")
    with pytest.raises(SpecError, match="unknown option 'colour'"):
        parse_engine_spec({"name": "t", "unit": "unit", **{**HIER, "indicators": [
            {**HIER["indicators"][0], "colour": "red"}, *HIER["indicators"][1:]]}}, "t.yaml")
    with pytest.raises(InputError, match="label column"):
        validate(small(), spec(label="name"), "mine.csv")


@pytest.mark.parametrize("extra", [
    {"aggregate": {"method": "arithmetic", "min_share": 0.75}},
    {"aggregate": {"method": "arithmetic", "levels": {3: "harmonic"}}},
    {"aggregate": {"method": "median"}},
])
def test_uncertainty_vectorised_equals_rebuilds_for_other_aggregations(extra):
    """The batched path (harmonic, per-level aggregators, a minimum data share) and the per-group path
    (median) give the draws of one full build per draw."""
    f = small()
    f.loc[[3, 7], "c"] = np.nan
    s = spec(normalise={"method": "minmax", "range": [1, 100]}, **extra,
             uncertainty={"draws": 30, "weights": {"perturb": 0.25}, "drop_indicator": True,
                          "normalise": [{"method": "minmax", "range": [1, 100]}, {"method": "zscore", "mean": 10}]})
    inputs = validate(f, s)
    fast, slow = analyse(inputs, s), analyse(inputs, s, naive=True)
    np.testing.assert_allclose(fast.draws, slow.draws, rtol=1e-12)
    np.testing.assert_array_equal(fast.rank_draws, slow.rank_draws)
    if "min_share" in extra["aggregate"]:
        assert np.isnan(fast.draws).any()  # units 3 and 7 lose Q where d is dropped


def test_rank_rows_ties_and_missing():
    from scipy.stats import rankdata

    from leefbaar.index.engine.uncertainty import _rank_rows

    S = np.array([[3.0, 1.0, 3.0, np.nan, 2.0], [0.0, 0.0, 0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(_rank_rows(S), rankdata(-S, axis=1, method="min", nan_policy="omit"))
    np.testing.assert_array_equal(_rank_rows(S)[0], [1, 4, 1, np.nan, 3])
