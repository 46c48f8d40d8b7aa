"""Estimators against known answers on constructed panels: planted effects are recovered, placebos find none,
diverging pre-trends are caught, staggered adoption is handled where TWFE is biased."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leefbaar.evaluation.did import MatchedDiD
from leefbaar.evaluation.event_study import EventStudy
from leefbaar.evaluation.matching import ReferenceMatcher, balance_table
from leefbaar.evaluation.panel import make_panel
from leefbaar.evaluation.staggered import StaggeredDiD
from leefbaar.evaluation.synth import SyntheticControl

LBM_YEARS = (2002, 2008, 2012, 2014, 2016, 2018)


def simulate(effect=0.0, n=300, n_treated=30, years=LBM_YEARS, first_post=2010, pre_drift=0.0, seed=1,
             clusters=40, noise=0.03):
    """Areas with fixed levels, own trends and gemeente shocks; treated are drawn among the worst-off third
    (selection on level, as in area-based policy). ``effect`` is added from ``first_post`` on; ``pre_drift``
    makes the treated diverge before the start (per year)."""
    rng = np.random.default_rng(seed)
    level = rng.normal(4.0, 0.25, n)
    trend = rng.normal(0.0, 0.004, n)
    shock = rng.normal(0, 0.02, (clusters, len(years)))
    worst = np.argsort(level)[: n // 3]
    treated = np.zeros(n, bool)
    treated[rng.choice(worst, n_treated, replace=False)] = True
    rows = []
    for i in range(n):
        for k, y in enumerate(years):
            v = level[i] + trend[i] * (y - years[0]) + shock[i % clusters, k] + rng.normal(0, noise)
            if treated[i]:
                v += pre_drift * (min(y, first_post) - years[0]) + (effect if y >= first_post else 0.0)
            rows.append((f"u{i:03d}", y, v, first_post if treated[i] else np.inf, f"gm{i % clusters:02d}"))
    return make_panel(pd.DataFrame(rows, columns=["unit", "year", "y", "cohort", "cluster"]))


@pytest.fixture(scope="module")
def planted():
    panel = simulate(effect=0.10)
    return panel, MatchedDiD(n_permutations=199, seed=3).fit(panel)


@pytest.fixture(scope="module")
def null():
    panel = simulate(effect=0.0, seed=2)
    return panel, MatchedDiD(n_permutations=199, seed=3).fit(panel)


def test_matched_did_recovers_a_planted_effect(planted):
    _, m = planted
    assert m.att_ == pytest.approx(0.10, abs=0.02)
    assert m.perm_ci_[0] < 0.10 < m.perm_ci_[1] and m.perm_ci_[0] > 0
    assert m.ci_[0] < 0.10 < m.ci_[1] and m.ci_[0] > 0
    assert m.perm_p_ <= 0.01
    assert m.pretrend_ is not None and m.pretrend_["perm_p"] > 0.05  # no divergence was planted
    assert m.n_treated_ == 30 and m.designs_[0].base == 2008 and m.designs_[0].holdout == 2002
    periods = m.att_by_period_.set_index("period")["estimate"]
    assert periods.loc[-1] == 0.0 and periods.loc[0:].mean() == pytest.approx(m.att_)


def test_matched_did_placebo_finds_nothing(null):
    _, m = null
    assert abs(m.att_) < 0.02
    assert m.perm_ci_[0] < 0 < m.perm_ci_[1]
    assert m.perm_p_ > 0.05


def test_matching_balances_the_selected_areas(planted):
    panel, m = planted
    bal = m.balance_.set_index("covariate")
    assert abs(bal.loc["level", "smd_before"]) > 1.0  # treated were the worst off
    assert abs(bal.loc["level", "smd_after"]) < 0.1
    assert m.pairs_["weight"].sum() == pytest.approx(m.n_treated_)


def test_diverging_pre_trend_is_caught():
    panel = simulate(effect=0.0, pre_drift=-0.004, seed=5)
    m = MatchedDiD(n_permutations=199, seed=1).fit(panel)
    assert m.pretrend_["estimate"] < 0
    assert m.pretrend_["perm_p"] < 0.05


def test_propensity_matching_and_caliper():
    rng = np.random.default_rng(0)
    pool = pd.DataFrame({"a": rng.normal(0, 1, 400), "b": rng.normal(0, 1, 400)},
                        index=[f"p{i}" for i in range(400)])
    treated = pd.DataFrame({"a": rng.normal(0.8, 1, 40), "b": rng.normal(0, 1, 40)},
                           index=[f"t{i}" for i in range(40)])
    m = ReferenceMatcher("propensity", n_neighbors=3).fit(treated, pool)
    bal = m.balance_.set_index("covariate")
    assert bal.loc["a", "smd_before"] > 0.5 and abs(bal.loc["a", "smd_after"]) < 0.1
    assert (bal["smd_after"].abs() < 0.25).all()
    tight = ReferenceMatcher("mahalanobis", n_neighbors=1, caliper=1e-9).fit(treated, pool)
    assert len(tight.unmatched_) == 40 and tight.pairs_.empty
    table = balance_table(treated, pool)
    assert "smd_after" not in table and table["smd_before"].iloc[0] > 0.5


def test_event_study_estimates_and_tests_pre_trends(planted):
    panel, m = planted
    es = EventStudy().fit(panel, m.pairs_)
    coefs = es.coefs_.set_index("period")
    assert coefs.loc[0:, "estimate"].mean() == pytest.approx(0.10, abs=0.02)
    assert (coefs.loc[0:, "ci_low"] > 0).all()
    assert es.pretrend_["n_coefs"] == 1 and es.pretrend_["p_value"] > 0.05
    drift = simulate(effect=0.0, pre_drift=-0.004, seed=5)
    m2 = MatchedDiD(n_permutations=0).fit(drift)
    assert EventStudy().fit(drift, m2.pairs_).pretrend_["p_value"] < 0.05


def test_event_study_needs_two_pre_measurements():
    panel = simulate(effect=0.1, years=(2008, 2012, 2014), first_post=2010)
    m = MatchedDiD(n_permutations=0).fit(panel)
    assert m.pretrend_ is None and m.designs_[0].holdout is None
    es = EventStudy().fit(panel, m.pairs_)
    assert es.pretrend_ is None and "cannot be tested" in es.reason_


YEARS_LONG = (2002, 2008, 2012, 2014, 2016, 2018, 2020)


def test_synthetic_control_planted_and_placebo():
    kw = dict(n=160, n_treated=6, years=YEARS_LONG, first_post=2015, noise=0.01)
    hit = SyntheticControl(n_donors=8, n_placebos=25, seed=0).fit(simulate(effect=0.12, **kw))
    assert hit.status_ == "ok"
    assert hit.att_ == pytest.approx(0.12, abs=0.04)
    assert hit.p_value_ < 0.05 and hit.ci_[0] > 0
    none = SyntheticControl(n_donors=8, n_placebos=25, seed=0).fit(simulate(effect=0.0, seed=4, **kw))
    assert none.p_value_ > 0.05 and none.ci_[0] < 0 < none.ci_[1]
    assert len(hit.units_) == 6 and hit.units_["p_value"].between(0, 1).all()


def test_synthetic_control_refuses_too_few_pre_periods():
    sc = SyntheticControl().fit(simulate(effect=0.1))  # pre years 2002 and 2008 only
    assert "too few pre-period" in sc.status_ and np.isnan(sc.att_)


def test_staggered_adoption_recovers_heterogeneous_effects_where_twfe_is_biased():
    rng = np.random.default_rng(7)
    years = list(range(2010, 2021))
    cohort = np.r_[np.full(60, 2013.0), np.full(60, 2017.0), np.full(180, np.inf)]
    slope = {2013.0: 0.2, 2017.0: 0.05}
    rows = []
    for i, g in enumerate(cohort):
        a = rng.normal(0, 1)
        for y in years:
            v = a + 0.1 * (y - 2010) + rng.normal(0, 0.05)
            if np.isfinite(g) and y >= g:
                v += slope[g] * (y - g + 1)  # effects that grow with time since adoption
            rows.append((f"u{i}", y, v, g, f"gm{i % 30}"))
    panel = make_panel(pd.DataFrame(rows, columns=["unit", "year", "y", "cohort", "cluster"]))
    truth = (np.mean([0.2 * (e + 1) for e in range(8)]) + np.mean([0.05 * (e + 1) for e in range(4)])) / 2
    st = StaggeredDiD(n_boot=99).fit(panel)
    assert st.att_ == pytest.approx(truth, abs=0.02)
    assert st.ci_[0] < truth < st.ci_[1]
    assert abs(st.twfe_["estimate"] - truth) > 0.05  # the static TWFE coefficient is off
    ev = st.att_event_.set_index("event_time")
    assert ev.loc[0, "estimate"] == pytest.approx((0.2 + 0.05) / 2, abs=0.02)
    assert ev.loc[-2:-1, "estimate"].abs().max() < 0.03 if -1 in ev.index else ev.loc[-2, "estimate"] < 0.03
    nye = StaggeredDiD(control="notyet", n_boot=0, twfe=False).fit(panel)
    assert nye.att_ == pytest.approx(truth, abs=0.03)
