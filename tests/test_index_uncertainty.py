"""Monte Carlo uncertainty of the index: the vectorised calibration draws against a known sandwich and against
the reference method (rebuilding the index on bootstrap samples of the rows) on a real region."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from threadpoolctl import threadpool_limits

from leefbaar.index import uncertainty as unc
from leefbaar.index.engine.calibrated import fit_dimension
from leefbaar.index.features import load_panel, neighbour_pairs
from leefbaar.index.model import LivabilityIndex
from leefbaar.index.spec import load_spec


def test_cov_is_the_hc2_sandwich_of_the_reduced_problem():
    """Known answer: with no penalty and one monotone feature held at its bound, the covariance of the free
    slope is the HC2 sandwich of the regression on the free feature alone, the intercept's variance is
    var(y) / n, and the bounded coefficient gets none."""
    rng = np.random.default_rng(4)
    n = 2000
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    y = 0.5 * x1 - 0.3 * x2 + rng.normal(size=n) * (0.5 + np.abs(x1))  # x2 hurts but is declared +1
    X = pd.DataFrame({"a": x1, "b": x2})
    m = fit_dimension(X, y, ["a", "b"], {"a": 0, "b": 1}, knots=0, smoothing=0.0)
    assert m.coef[1] == 0.0
    assert m.cov.shape == (3, 3)
    np.testing.assert_array_equal(m.cov[2], 0.0)
    np.testing.assert_array_equal(m.cov[:, 2], 0.0)
    z = m.design(X)[:, 0]
    ols = sm.OLS(y, sm.add_constant(z)).fit(cov_type="HC2")
    np.testing.assert_allclose(m.coef[0], ols.params[1], rtol=1e-8)
    np.testing.assert_allclose(m.cov[1, 1], ols.cov_params()[1, 1], rtol=2e-3)
    np.testing.assert_allclose(m.cov[0, 0], y.var() / n, rtol=1e-10)


@pytest.fixture(scope="module")
def region(store_file):
    """PC4 of 2022 in postcode region 3 (Utrecht, Rotterdam and surroundings; about 460 with official
    dimension scores), with Queen neighbours among them. The default spec with 3 knots and 8 location centres
    (the region is small); no carrying of values across years (one year only: it would find nothing)."""
    from libpysal.weights import Queen

    from leefbaar.store.store import Store

    spec = replace(load_spec("default"), knots=3, location=(8, 12.0, 1e-4), missing_carry_years=0)
    with Store.open(store_file) as st:
        panel = load_panel(st, spec, [2022])
        geo = st.geometries("pc4").reset_index(drop=True)
    panel = panel[panel["code"].str.startswith("3")].reset_index(drop=True)
    geo = geo[geo["code"].isin(panel["code"])].reset_index(drop=True)
    w = Queen.from_dataframe(geo, ids=geo["code"].astype(str).tolist(), use_index=False, silence_warnings=True)
    w.transform = "r"
    return spec, panel, neighbour_pairs(w)


def test_calibration_draws_agree_with_bootstrap_refits(region):
    """Calibration only (one normalisation, weights fixed at 1): the per-area sd of afw from 1,000 vectorised
    draws and from 30 full rebuilds on bootstrap samples (knots, winsor limits, medians, lags and location
    centres refitted each time) agree: ratio of the median sd within [0.67, 1.5] and correlation of the
    per-area sd above 0.5. (Measured here: ratio 0.90, correlation 0.94; a 30-draw sd has a relative sd of
    about 13 %. The former draws, the unconstrained HC0 sandwich clipped at the bounds: 0.88 and 0.89; the
    HC0 sandwich of the reduced problem without the leverage adjustment: 0.78.)"""
    spec, panel, pairs = region
    with threadpool_limits(limits=1):
        model = LivabilityIndex(spec, pairs).fit(panel)
        fast = unc.draws(unc.prepare([model], panel), 1000, seed=2, concentration=np.inf)
        naive = unc.naive_draws([spec], panel, panel, pairs, 30, seed=3, concentration=np.inf)
    sd_fast, sd_naive = fast.std(axis=1), naive.std(axis=1)
    ratio = np.median(sd_fast) / np.median(sd_naive)
    assert 0.67 < ratio < 1.5, ratio
    assert np.corrcoef(sd_fast, sd_naive)[0, 1] > 0.5
    # draws are centred on the point scores (no shift from clipping): mean within a tenth of the median sd
    point = model.score(panel)["afw"].to_numpy()
    assert abs(np.median(fast.mean(axis=1) - point)) < 0.1 * np.median(sd_fast)


def test_one_product_per_alternative_is_the_model_per_dimension(region):
    """``draws`` (all dimensions of an alternative as one matrix product) equals the definition, dimension by
    dimension: sum of weight x (c_now * (t0 + B(row) theta) + c_anchor * (t0 + B(anchor) theta) + const)."""
    spec, panel, pairs = region
    with threadpool_limits(limits=1):
        model = LivabilityIndex(spec, pairs).fit(panel)
        alt = LivabilityIndex(unc.rank_variant(spec), pairs).fit(panel)
    prepared = unc.prepare([model, alt], panel)
    n, dims = len(panel), list(spec.dimension_codes)
    rng = np.random.default_rng(8)
    rows = np.arange(n)
    anchor = np.where(rng.random(n) < 0.4, rng.integers(0, n, n), rows)
    linked = anchor != rows
    anchoring = unc.Anchoring(anchor, {d: rng.uniform(0.5, 1.0, n) for d in dims},
                              {d: np.where(linked, rng.uniform(0, 0.5, n), 0.0) for d in dims},
                              {d: rng.normal(0, 0.01, n) for d in dims}, np.zeros(n))
    plan = unc._plan(prepared, 40, 6, 50.0)
    ref = np.zeros((n, 40))
    for (idx, per_dim), prep in zip(plan.coefs, prepared, strict=True):
        for k, d in enumerate(dims):
            t0, coef = per_dim[d]
            m, m_anchor = (t0 + prep.design(d, r) @ coef.T for r in (rows, anchor))
            value = (anchoring.c_now[d][:, None] * m + np.where(linked[:, None], anchoring.c_anchor[d][:, None]
                     * m_anchor, 0.0) + anchoring.const[d][:, None])
            ref[:, idx] += plan.weights[idx, k] * value
    np.testing.assert_allclose(unc.draws(prepared, 40, seed=6, anchoring=anchoring), ref, rtol=0, atol=1e-10)


def test_interval_bounds_are_numpys_quantiles():
    """``_quantiles`` (one partition in float32) gives exactly ``np.quantile`` of the float64 values, NaN too."""
    rng = np.random.default_rng(2)
    for n in (1000, 200, 7, 1):
        a = rng.standard_normal((300, n)).astype(np.float32)
        a[5, 0] = np.nan
        for lo, hi in ((0.05, 0.95), (0.025, 0.975)):
            want = np.quantile(a.astype(np.float64), [lo, hi], axis=1)
            got = unc._quantiles(a, lo, hi)
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])


def test_ranks_from_packed_keys_equal_a_stable_argsort():
    """``_ranks`` (float32: one sort of 64-bit keys per draw) gives exactly the ranks of a stable argsort of the
    negated column (1 = highest, ties in row order, NaN last), with many ties, -0.0 beside 0.0, infinities and
    NaN; float64 too."""
    rng = np.random.default_rng(7)
    m, n = 5003, 70
    for dtype in (np.float32, np.float64):
        a = np.round(rng.standard_normal((m, n)), 2).astype(dtype)  # about 500 distinct values: ties everywhere
        a[rng.random((m, n)) < 0.01] = -0.0
        a[rng.random((m, n)) < 0.01] = np.nan
        a[rng.random((m, n)) < 0.005] = np.inf
        a[rng.random((m, n)) < 0.005] = -np.inf
        want = np.argsort(np.argsort(-a, axis=0, kind="stable"), axis=0) + 1
        got = a.copy()
        unc._ranks(got, 3, 40)
        unc._ranks(got, 40, n)
        np.testing.assert_array_equal(got[:, 3:], want[:, 3:])
        np.testing.assert_array_equal(got[:, :3], a[:, :3])  # other draws untouched


def test_class_share_by_bisection_counts_every_draw():
    """``_class_share`` (bisection on the sorted draws) equals counting the draws whose class differs, with draws
    on the class boundaries, NaN draws and a point without a class."""
    from leefbaar.index.classes import classify_total, load_scheme

    rng = np.random.default_rng(3)
    bounds = load_scheme().total_boundaries
    a = rng.normal(0, 0.3, (400, 1000)).astype(np.float32)
    a[rng.random(a.shape) < 0.05] = np.float32(bounds[3])
    a[rng.random(a.shape) < 0.01] = np.nan
    point = rng.normal(0, 0.3, 400)
    point[:5] = np.nan
    point[5:10] = bounds[3]
    pc = classify_total(point)
    want = (classify_total(a) != pc[:, None]).mean(axis=1)
    np.testing.assert_array_equal(unc._class_share(np.sort(a, axis=1), pc, classify_total), want)
    zeros = lambda v: np.zeros(np.shape(v), np.int8)  # noqa: E731  (specs without classes)
    np.testing.assert_array_equal(unc._class_share(np.sort(a, axis=1), zeros(point), zeros), 0.0)


def _random_anchoring(region, seed: int, share_now: float):
    """A fitted model's prepared terms on ``region`` and a random ``Anchoring`` (30 % of rows anchored elsewhere,
    ``c_now`` 1 in ``share_now`` of rows): (prep, dims, rows, anchor, anchoring, plan, rng)."""
    spec, panel, pairs = region
    with threadpool_limits(limits=1):
        model = LivabilityIndex(spec, pairs).fit(panel)
    prep = unc.prepare([model], panel)[0]
    dims = list(spec.dimension_codes)
    n = len(panel)
    rng = np.random.default_rng(seed)
    rows = np.arange(n)
    anchor = np.where(rng.random(n) < 0.3, rng.integers(0, n, n), rows)
    c_now = {d: np.where(rng.random(n) < share_now, 1.0, rng.uniform(0.5, 1, n)) for d in dims}
    anchoring = unc.Anchoring(anchor, c_now,
                              {d: np.where(anchor != rows, rng.uniform(-1, 0, n), 0.0) for d in dims},
                              {d: rng.normal(0, 0.01, n) for d in dims}, np.zeros(n))
    return prep, dims, rows, anchor, anchoring, unc._plan([prep], 50, 2, 50.0), rng


def test_columns_leave_out_only_what_adds_nothing(region):
    """``_Columns`` (the design straight into float32, the basis columns whose coefficient is 0 in every draw
    left out) times the kept coefficients equals ``_terms`` times all of them; a row whose left-out column is
    not finite is flagged to be redone with every column (as the product would be NaN there)."""
    prep, dims, rows, anchor, anchoring, plan, rng = _random_anchoring(region, 1, 0.5)
    n = len(rows)
    idx, per_dim = plan.coefs[0]
    for anch in (None, anchoring):
        cols = unc._Columns(prep, dims, anch)
        assert cols.width < len(cols.keep) + 1 and cols.width == len(cols.keep)
        theta = unc._coefficients(per_dim, plan.weights[idx], dims, anch is not None)
        assert len(cols.keep) < len(theta)  # some coefficients are held at 0 in every draw
        dropped = np.setdiff1d(np.arange(len(theta)), cols.keep)
        assert (theta[dropped] == 0).all()
        r = rng.permutation(n)[: n // 2]
        linked = np.flatnonzero(anchor[r] != r) if anch else np.array([], int)
        E = np.empty((len(r), cols.width))
        redo = cols.fill(E, r, linked, anchor[r[linked]], ({}, {}))
        assert not redo.any()
        ref = unc._terms(prep, dims, r, anch, linked, anchor[r[linked]])
        np.testing.assert_array_equal(E, ref[:, cols.keep])
        np.testing.assert_allclose(E @ theta[cols.keep], ref @ theta, rtol=0, atol=1e-12)
    # a left-out column that is not finite: the row is flagged
    d = next(d for d in dims if len(cols.parts[d]["exact"]))
    f = cols.parts[d]["exact"][0]
    saved = cols.parts[d]["x"][f]
    cols.parts[d]["x"][f] = saved.copy()
    cols.parts[d]["x"][f][r[:3]] = np.inf
    E = np.empty((len(r), cols.width))
    redo = cols.fill(E, r, linked, anchor[r[linked]], ({}, {}))
    linked_mask = np.zeros(len(r), bool)
    linked_mask[linked] = True
    want = np.isin(r, r[:3]) | (linked_mask & np.isin(anchor[r], r[:3]))  # the row's own or its anchor's basis
    np.testing.assert_array_equal(redo, want)
    cols.parts[d]["x"][f] = saved


def test_rank_normalisation_is_pandas_groupby_rank():
    """The rank alternative's normalisation (one sort per year) gives exactly pandas' ``groupby(year).rank(pct=True)``:
    ties averaged, NaN kept, -0.0 tied with 0.0, infinities ranked, a year without values all NaN."""
    from leefbaar.index.features import _rank_pct, _year_groups

    rng = np.random.default_rng(3)
    n = 5000
    years = rng.integers(2017, 2024, n)
    x = np.where(rng.random(n) < 0.4, np.round(rng.normal(size=n), 1), rng.normal(size=n))
    x[rng.random(n) < 0.1] = np.nan
    x[rng.random(n) < 0.02] = np.inf
    x[rng.random(n) < 0.02] = -0.0
    x[rng.random(n) < 0.02] = 0.0
    x[years == 2020] = np.nan
    want = pd.Series(x).groupby(years).rank(pct=True).to_numpy()
    np.testing.assert_array_equal(_rank_pct(x, _year_groups(years)), want)


def test_merged_layout_of_rows_that_are_their_own_model(region):
    """Rows without an anchor and with ``c_now`` 1: a feature's basis shared by several dimensions and the location
    basis are one block each, the intercepts one column (``_Columns.fill_merged``), fewer columns, and the
    product with the summed coefficients is ``_terms`` times the coefficients; the other rows are not
    ``own``; a left-out basis value that is not finite flags the row."""
    prep, dims, rows, anchor, anchoring, plan, rng = _random_anchoring(region, 5, 0.8)
    n = len(rows)
    idx, per_dim = plan.coefs[0]
    for anch in (None, anchoring):
        cols = unc._Columns(prep, dims, anch)
        assert cols.merged_width < cols.width
        theta = unc._coefficients(per_dim, plan.weights[idx], dims, anch is not None)
        own = cols.own(rows)
        if anch is None:
            assert own.all()
        else:
            want = anchor == rows
            for d in dims:
                want &= anchoring.c_now[d] == 1
            np.testing.assert_array_equal(own, want)
            assert 0 < own.sum() < n
        r = rng.permutation(rows[own])[: 400]
        E = np.empty((len(r), cols.merged_width))
        assert not cols.fill_merged(E, r, {}).any()
        none = np.array([], int)
        ref = unc._terms(prep, dims, r, anch, none, none)
        np.testing.assert_allclose(E @ cols.merged_coefficients(theta), ref @ theta, rtol=0, atol=1e-12)
    q = cols.parts["*"]
    f = q["exact"][0]
    saved = q["x"][f]
    q["x"][f] = saved.copy()
    q["x"][f][r[:3]] = np.nan
    np.testing.assert_array_equal(cols.fill_merged(E, r, {}), np.isin(r, r[:3]))
    q["x"][f] = saved
