"""The index engine on COINr's ASEM example (../shared/data/peers/coinr_asem/): the four pipelines of issue 13.

Known answers are computed here by hand from the raw table with NumPy/pandas (the textbook formulas, written
out independently of ``leefbaar.index.engine.ops``), for a few units, every level.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from leefbaar.index.engine import build, parse_engine_spec, read_meta, read_table, replay

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(scope="module")
def asem(data_dir):
    folder = data_dir / "peers" / "coinr_asem"
    return read_table(folder / "ASEM_iData.csv"), read_meta(folder / "ASEM_iMeta.csv")


def _spec(meta, **steps):
    return parse_engine_spec({"name": "asem", "unit": "uCode", "label": "uName",
                              "levels": {1: "indicator", 2: "pillar", 3: "subindex", 4: "index"}, **steps},
                             "asem.yaml", meta=meta, meta_source="ASEM_iMeta.csv")


def _by_hand(data, meta, norm, agg, prepare=None):
    """Every level by the textbook formulas: returns {code: Series over units}."""
    m = meta[meta["Type"].isin(["Indicator", "Aggregate"])].copy()
    m["Level"] = m["Level"].astype(int)
    inds = m.loc[m["Level"] == 1, "iCode"].tolist()
    X = data.set_index("uCode")[inds].astype(float)
    if prepare is not None:
        X = prepare(X)
    d = m.set_index("iCode")["Direction"].astype(float)
    vals = {c: norm(X[c] * d[c]) for c in inds}
    for lv in range(2, m["Level"].max() + 1):
        for code in m.loc[m["Level"] == lv, "iCode"]:
            kids = m.loc[(m["Level"] == lv - 1) & (m["Parent"] == code), "iCode"]
            vals[code] = agg(pd.concat([vals[k] for k in kids], axis=1))
    return vals


def minmax(lo, hi):
    return lambda x: lo + (x - x.min()) / (x.max() - x.min()) * (hi - lo)


def zscore(mean, sd):
    return lambda x: mean + (x - x.mean()) / x.std(ddof=1) * sd


def amean(frame):
    return frame.mean(axis=1, skipna=True)


def gmean(frame):
    return np.exp(np.log(frame).mean(axis=1, skipna=True))


UNITS = ["AUT", "CHN", "MMR", "NZL", "BRN"]  # MMR, BRN: units with missing values


def _check(result, expected, units=UNITS):
    for code, series in expected.items():
        got = result.scores[code]
        np.testing.assert_allclose(got.loc[units].to_numpy(), series.loc[units].to_numpy(), rtol=1e-10,
                                   err_msg=code)


def test_pipeline1_minmax_arithmetic_four_levels(asem):
    data, meta = asem
    r = build(data, _spec(meta, normalise={"method": "minmax", "range": [0, 100]}))
    assert r.spec.hierarchy.depth == 4
    exp = _by_hand(data, meta, minmax(0, 100), amean)
    _check(r, exp)
    # ranks of the index: 1 = highest, as in a sort
    order = exp["Index"].rank(ascending=False, method="min")
    assert (r.ranks["Index"] == order.loc[r.units].to_numpy()).all()
    # every indicator counts: none is dropped by a missing value (issue 13: 16 were lost with fill: none)
    assert r.scores[r.spec.hierarchy.indicators].notna().sum().min() > 40
    assert r.scores["Index"].notna().all()


def test_missing_values_skipped_with_renormalised_weights(asem):
    data, meta = asem
    r = build(data, _spec(meta, normalise={"method": "minmax", "range": [0, 100]}))
    kids = meta.loc[meta["Parent"] == "Physical", "iCode"].tolist()
    z = r.data["normalised"].loc[:, kids]
    gaps = z.isna().any(axis=1)
    assert gaps.any()
    unit = gaps[gaps].index[0]
    row = z.loc[unit]
    assert r.scores.loc[unit, "Physical"] == pytest.approx(row.dropna().sum() / row.notna().sum(), rel=1e-12)
    # a minimum data share turns a node with too few children to missing
    share = row.notna().mean()
    r2 = build(data, _spec(meta, normalise={"method": "minmax", "range": [0, 100]},
                           aggregate={"method": "arithmetic", "min_share": min(1.0, share + 0.01)}))
    assert np.isnan(r2.scores.loc[unit, "Physical"])


def test_pipeline2_zscore_10_2_geometric(asem):
    data, meta = asem
    r = build(data, _spec(meta, normalise={"method": "zscore", "mean": 10, "sd": 2}, aggregate="geometric"))
    _check(r, _by_hand(data, meta, zscore(10, 2), gmean))
    # direction before normalising: an indicator with direction -1 is 20 - z(x), not -z(x)
    x = data.set_index("uCode")["Tariff"].astype(float)
    np.testing.assert_allclose(r.scores["Tariff"], (10 + (x.mean() - x) / x.std(ddof=1) * 2).loc[r.units],
                               rtol=1e-12)


def test_pipeline3_zscore_arithmetic(asem):
    data, meta = asem
    r = build(data, _spec(meta, normalise={"method": "zscore"}))
    _check(r, _by_hand(data, meta, zscore(0, 1), amean))


def _skew(x):
    x = x[~np.isnan(x)]
    n, d = len(x), x - x.mean()
    return np.sqrt(n) * (d ** 3).sum() / (d ** 2).sum() ** 1.5 * np.sqrt(n * (n - 1)) / (n - 2)


def _kurt(x):
    x = x[~np.isnan(x)]
    n, d = len(x), x - x.mean()
    r = n * (d ** 4).sum() / (d ** 2).sum() ** 2
    return ((n + 1) * (r - 3) + 6) * (n - 1) / ((n - 2) * (n - 3))


def _treat_by_hand(x, winmax=5):
    ok = lambda v: abs(_skew(v)) < 2 or _kurt(v) < 3.5  # noqa: E731
    if ok(x):
        return x
    w, moved = x.copy(), np.zeros(len(x), bool)
    while not ok(w) and moved.sum() < winmax:  # distinct points moved
        v = w[~np.isnan(w)]
        if _skew(w) >= 0:
            at = w == v.max()
            w[at] = v[v < v.max()].max()
        else:
            at = w == v.min()
            w[at] = v[v > v.min()].min()
        moved |= at
    if ok(w):
        return w
    lo, hi = np.nanmin(x), np.nanmax(x)
    return np.log(x - lo + 0.01 * (hi - lo))


def test_pipeline4_denominate_group_impute_treat_minmax(asem):
    data, meta = asem
    spec = _spec(meta, denominate=True, impute={"method": "group_mean", "group": "EurAsia_group"},
                 treat={"winmax": 5, "skew": 2, "kurt": 3.5, "fallback": "log"},
                 normalise={"method": "minmax", "range": [0, 100]})
    r = build(data, spec)
    ind = meta[meta["Type"] == "Indicator"].set_index("iCode")
    frame = data.set_index("uCode")
    group = frame["EurAsia_group"]

    def prepare(X):
        X = X.copy()
        for c in X.columns:
            den = ind.loc[c, "Denominator"]
            if isinstance(den, str):
                X[c] = X[c] / frame[den].astype(float)
        X = X.apply(lambda col: col.fillna(col.groupby(group).transform("mean")))
        assert not X.isna().any().any()
        return X.apply(lambda col: pd.Series(_treat_by_hand(col.to_numpy(float)), index=col.index))

    _check(r, _by_hand(data, meta, minmax(0, 100), amean, prepare))
    treat = next(s for s in r.record["steps"] if s["step"] == "treat")["details"]
    assert {d["action"] for d in treat.values()} == {"winsorise"} and len(treat) == 15
    assert max(d["winsorised"] for d in treat.values()) == 4  # Services: 4 points
    assert r.data["imputed"].notna().all().all()


def test_contributions_add_up(asem):
    data, meta = asem
    r = build(data, _spec(meta, normalise={"method": "minmax", "range": [0, 100]}))
    top = r.indicator_contributions.groupby("unit")["contribution"].sum()
    np.testing.assert_allclose(top.loc[r.units], r.scores["Index"], rtol=1e-12)
    g = build(data, _spec(meta, normalise={"method": "zscore", "mean": 10, "sd": 2}, aggregate="geometric"))
    logs = g.indicator_contributions.groupby("unit")["contribution"].sum()
    np.testing.assert_allclose(np.exp(logs.loc[g.units]), g.scores["Index"], rtol=1e-12)
    local = g.contributions[g.contributions["node"] == "Conn"].groupby("unit")["contribution"].sum()
    np.testing.assert_allclose(np.exp(local.loc[g.units]), g.scores["Conn"], rtol=1e-12)


def test_record_replays_and_refuses_other_data(asem):
    data, meta = asem
    r = build(data, _spec(meta, denominate=True, impute={"method": "group_median", "group": "EurAsia_group"},
                          treat={"winmax": 5}, normalise={"method": "zscore", "mean": 10, "sd": 2},
                          aggregate={"method": "geometric", "levels": {4: "arithmetic"}}))
    record = json.loads(json.dumps(r.record, default=str))
    again = replay(record, data)
    pd.testing.assert_frame_equal(again.scores, r.scores)
    assert [s["step"] for s in record["steps"]] == ["denominate", "impute", "treat", "normalise", "weights",
                                                    "aggregate"]
    changed = data.copy()
    changed.loc[0, "LPI"] = "4.5"
    with pytest.raises(Exception, match="differ from the data of the record"):
        replay(record, changed)


def test_cli_build_writes_scores_and_ranks_per_level(asem, data_dir, tmp_path):
    from typer.testing import CliRunner

    from leefbaar.cli import app

    spec = tmp_path / "p4.yaml"
    spec.write_text("name: asem_p4\nunit: uCode\nlabel: uName\nlevels: {1: indicator, 2: pillar, 3: sub, 4: index}\n"
                    "denominate: true\nimpute: {method: group_mean, group: EurAsia_group}\ntreat: {winmax: 5}\n"
                    "normalise: {method: minmax, range: [0, 100]}\n", encoding="utf-8")
    folder = data_dir / "peers" / "coinr_asem"
    res = CliRunner().invoke(app, ["index", "build", "--data", str(folder / "ASEM_iData.csv"), "--spec", str(spec),
                                   "--meta", str(folder / "ASEM_iMeta.csv"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    top = pd.read_csv(tmp_path / "out" / "scores_level4_index.csv")
    assert list(top.columns) == ["unit", "label", "Index", "Index_rank"] and len(top) == 51
    assert sorted(top["Index_rank"]) == list(range(1, 52))
    pillars = pd.read_csv(tmp_path / "out" / "scores_level2_pillar.csv")
    assert pillars.shape == (51, 2 + 16)
    assert json.loads((tmp_path / "out" / "record.json").read_text())["data"]["units"] == 51


def test_cli_uncertainty_of_pipeline1_in_one_command(data_dir, tmp_path):
    """500 runs varying the weights (+-25 %), the normaliser and the aggregator, with Sobol indices."""
    from typer.testing import CliRunner

    from leefbaar.cli import app

    folder = data_dir / "peers" / "coinr_asem"
    res = CliRunner().invoke(app, ["index", "uncertainty", "--data", str(folder / "ASEM_iData.csv"), "--meta",
                                   str(folder / "ASEM_iMeta.csv"), "--spec", "asem_minmax",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    scores = pd.read_csv(tmp_path / "uncertainty_scores.csv")
    assert len(scores) == 51
    assert (scores["rank_p05"] <= scores["rank_median"]).all() and (scores["rank_median"] <= scores["rank_p95"]).all()
    sob = pd.read_csv(tmp_path / "sensitivity_index.csv")
    assert list(sob["factor"]) == ["weights", "normaliser", "aggregator"]
    assert ((sob["ST"] >= -0.05) & (sob["ST"] <= 1.5)).all()
    units = pd.read_csv(tmp_path / "sensitivity_units.csv")
    assert len(units) == 51 * 3
