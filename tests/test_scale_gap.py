"""Gap analysis at scale: the bootstrap in chunks gives exactly the one-block answer; resamples held as counts
give what ``measures`` gives on the resampled areas; the unweighted Theil decomposition by groupby equals
PySAL's TheilD (real LBM3 PC4 scores)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from inequality.theil import TheilD

from leefbaar.analysis import gap as gap_module
from leefbaar.analysis.gap import GapAnalysis, Resamples, YearValues, _search, measures
from leefbaar.analysis.panel import load_panel
from leefbaar.sources.registry import discover
from leefbaar.store.store import Store

DATA = Path(os.environ.get("LEEFBAAR_DATA", "/work/shared/data"))


@pytest.fixture(scope="module")
def panel(tmp_path_factory):
    found, _ = discover(DATA)
    fam, path = next((f, p) for f, p in found if f.name == "lbm3_pc4")
    file = tmp_path_factory.mktemp("gap") / "s.duckdb"
    with Store.open(file, read_only=False, build=True) as st, st.transaction():
        out = fam.read(path)
        for batch in out if isinstance(out, list) else [out]:
            st.ingest(batch)
        st.mark_built()
    with Store.open(file) as st:
        return load_panel(st, "official", "pc4", years=[2014, 2018, 2022])


def test_chunked_bootstrap_equals_one_block(panel, monkeypatch):
    one = GapAnalysis(panel, n_boot=99, seed=3).fit()
    monkeypatch.setattr(gap_module, "BOOT_CHUNK", 7 * len(one.codes) + 5)  # 7 resamples per chunk, last short
    chunked = GapAnalysis(panel, n_boot=99, seed=3).fit()
    pd.testing.assert_frame_equal(one.by_year, chunked.by_year)
    pd.testing.assert_frame_equal(one.change, chunked.change)
    monkeypatch.setattr(gap_module, "BOOT_CHUNK", 11 * len(one.codes))  # 9 chunks of 11: none short
    even = GapAnalysis(panel, n_boot=99, seed=3).fit()
    pd.testing.assert_frame_equal(one.by_year, even.by_year)


def test_row_search_equals_searchsorted_per_row():
    """The vectorised binary search of all resamples at once gives ``np.searchsorted`` of each row, both sides,
    with ties, keys outside the range and a row of length 1."""
    rng = np.random.default_rng(5)
    for n in (1, 2, 7, 1000):
        a = np.sort(rng.integers(0, 20, size=(6, n)).astype(float), axis=1)
        v = rng.integers(-2, 23, size=(6, 5)).astype(float)
        for side in ("left", "right"):
            want = np.stack([np.searchsorted(a[r], v[r], side=side) for r in range(6)])
            np.testing.assert_array_equal(_search(a, v, side), want)


def test_unweighted_decomposition_equals_pysal(panel):
    codes = panel.frame["code"].unique()
    gm = pd.Series([c[:2] for c in codes], index=codes)  # PC4 regions (first two digits) as groups
    res = GapAnalysis(panel, gemeente=gm, n_boot=9).fit()
    wide = panel.balanced(res.years)
    for row in res.decomposition.itertuples():
        d = TheilD(wide[row.year].to_numpy(), gm.reindex(wide.index).to_numpy())
        assert row.theil == pytest.approx(float(np.ravel(d.T)[0]), rel=1e-12, abs=1e-15)
        assert row.between == pytest.approx(float(np.ravel(d.bg)[0]), rel=1e-9, abs=1e-15)


def _same(new: dict, ref: dict) -> None:
    assert sorted(new) == sorted(ref)
    for k in ref:
        np.testing.assert_allclose(new[k], ref[k], rtol=1e-11, atol=1e-14, err_msg=k)


def test_resamples_as_counts_equal_measures_of_resampled_areas(panel):
    """Real LBM3 scores of 2022 with uneven weights (whole numbers and fractions, some zero) and a threshold:
    every measure of 60 resamples, counted, equals ``measures`` on the resampled areas to rounding."""
    y = panel.balanced([2022])[2022].to_numpy()
    rng = np.random.default_rng(11)
    for w in (rng.integers(0, 3000, len(y)).astype(float), rng.random(len(y)) * 50):
        below = y < np.quantile(y, 0.2)
        idx = rng.integers(0, len(y), size=(60, len(y)))
        _same(Resamples(idx).measures(YearValues(y, w, below, True)), measures(y[idx], w[idx], below[idx], True))
    idx = rng.integers(0, len(y), size=(5, len(y)))  # not all positive: no Theil, Gini; no threshold
    _same(Resamples(idx).measures(YearValues(y - 4.0, w, None, False)), measures(y[idx] - 4.0, w[idx], None, False))


def test_resamples_with_ties_between_areas_sort_tied_copies_as_drawn():
    """Many ties between areas of different weight (values rounded to 0.1): a weighted quantile at the edge of a
    tie depends on the order of the tied copies, which follows the draws as in ``measures``; a small sample
    agrees too."""
    rng = np.random.default_rng(3)
    for n in (12, 300):
        y = np.round(3.5 + rng.random(n), 1)
        w = rng.random(n) * 100
        idx = rng.integers(0, n, size=(200, n))
        _same(Resamples(idx).measures(YearValues(y, w, y < 3.9, True)), measures(y[idx], w[idx], y[idx] < 3.9, True))


def test_one_year_has_no_beta_period_and_no_warning(panel):
    """One year: the beta table keeps its one row (the year with itself) with no slope, and nothing divides
    by zero (formerly a RuntimeWarning)."""
    import dataclasses
    import warnings

    one = dataclasses.replace(panel, frame=panel.frame[panel.frame["year"] == 2022].reset_index(drop=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = GapAnalysis(one, n_boot=9).fit()
    assert len(res.beta) == 1 and res.beta["result"].iloc[0] == "none"
    assert np.isnan(res.beta["beta_per_year"].iloc[0]) and res.beta["n"].iloc[0] == len(one.frame)
