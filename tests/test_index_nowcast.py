"""Reversion to the mean for nowcasts (``leefbaar.index.nowcast``) and the out-of-time validation that uses it,
checked against an independent OLS on the official LBM3 dimension scores in the store."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from leefbaar.errors import LeefbaarError
from leefbaar.index.nowcast import Reversion, load_official
from leefbaar.index.spec import load_spec

DIMS = ["won", "fys", "vrz", "soc", "onv"]


@pytest.fixture(scope="module")
def official(store_file):
    from leefbaar.store.store import Store

    with Store.open(store_file) as s:
        return load_official(s, load_spec("default"))


def test_official_frame_has_the_dimension_years(official):
    years = sorted(official.dropna(subset=DIMS)["year"].unique())
    assert years == [2014, 2018, 2020, 2022]
    assert official.loc[official["year"] == 2018, DIMS].notna().all(axis=1).sum() > 4000


def test_slope_matches_an_independent_ols(official):
    rev = Reversion().fit(official, DIMS, until=2018)
    assert rev.pairs_[["from_year", "to_year"]].drop_duplicates().values.tolist() == [[2014, 2018]]
    full = official.dropna(subset=DIMS)
    pair = full[full["year"] == 2014].merge(full[full["year"] == 2018], on="code", suffixes=("_a", "_b"))
    for d in DIMS:
        ols = sm.OLS(pair[f"{d}_b"] - pair[f"{d}_a"], sm.add_constant(pair[f"{d}_a"])).fit()
        got = rev.pairs_.set_index("dimension").loc[d]
        assert got["kappa"] == pytest.approx(ols.params[f"{d}_a"], rel=1e-9)
        assert got["n"] == len(pair)
        # one pair of 4 years: the 4-year adjustment is the OLS prediction without its intercept
        at = pair[[f"{d}_a" for d in DIMS]].set_axis(DIMS, axis=1)
        adj = rev.adjustment(at, np.full(len(at), 2014.0), np.full(len(at), 2018))
        expected = ols.params[f"{d}_a"] * (pair[f"{d}_a"] - pair[f"{d}_a"].mean())
        np.testing.assert_allclose(adj[d].to_numpy(), expected.to_numpy(), atol=1e-12)


def test_reversion_pools_pairs_and_stays_put_before_the_anchor(official):
    rev = Reversion().fit(official, DIMS)
    assert len(rev.pairs_) == 3 * len(DIMS)
    for d in DIMS:
        g = rev.pairs_[rev.pairs_["dimension"] == d]
        span = g["to_year"] - g["from_year"]
        assert min(g["persistence"]) <= rev.persistence_[d] <= max(g["persistence"])
        assert rev.persistence_[d] == pytest.approx(np.exp((np.log(g["persistence"]) * span).sum() / span.sum()))
    at = pd.DataFrame({d: [0.3, 0.3, 0.3, np.nan] for d in DIMS})
    adj = rev.adjustment(at, np.array([2022.0, 2022.0, np.nan, 2022.0]), np.array([2021, 2022, 2023, 2023]))
    assert (adj.iloc[[0, 1, 2, 3]] == 0).all().all()  # before/at the anchor, no anchor, no official value
    later = rev.adjustment(at.iloc[[0]], np.array([2022.0]), np.array([2023]))
    for d in DIMS:
        centre = rev.means_[(2022, d)]
        assert later[d].iloc[0] == pytest.approx((rev.persistence_[d] - 1) * (0.3 - centre))


def test_reversion_needs_two_official_years(official):
    with pytest.raises(LeefbaarError, match="two official years"):
        Reversion().fit(official, DIMS, until=2014)


def test_out_of_time_reports_nowcasts_and_a_summary(store_file, official):
    from leefbaar.index import validate as V
    from leefbaar.index.features import load_panel
    from leefbaar.store.store import Store

    spec = replace(load_spec("default"), location=None, spatial_lag=False, knots=2)
    with Store.open(store_file) as s:
        panel = load_panel(s, spec, [2018, 2022]).reset_index(drop=True)
    panel = panel[panel["code"].str[0].isin(["1", "2", "3"])].reset_index(drop=True)
    oot = V.out_of_time(spec, panel, None, official, test_years=(2022,))
    afw = oot[oot["target"] == "afw"].set_index("kind")
    assert set(afw.index) == {"level", "level_anchored", "level_nowcast", "change", "change_nowcast"}
    # the reversion uses official years up to 2018 only, and moves the nowcast but not the model
    assert afw.loc["level_anchored", "r2"] != afw.loc["level_nowcast", "r2"]
    assert afw.loc["change", "n"] == afw.loc["change_nowcast", "n"] > 1000
    assert -1 <= afw.loc["change_nowcast", "spearman"] <= 1
    cv = pd.DataFrame([{"model": "index", "year": 2018, "target": t, "n": 10, "r2": 0.5, "spearman": 0.7,
                        "mae": 0.1, "class_exact": 0.5, "class_within1": 0.9} for t in V.TARGETS])
    rev = Reversion().fit(official, DIMS, until=2018).pairs_
    nl, en = V.summary_markdown(cv, oot, rev, "nl"), V.summary_markdown(cv, oot, rev, "en")
    assert "Buiten de tijd" in nl and "verandering, nowcast" in nl
    assert "Out of time" in en and "Met: R² no" in en
