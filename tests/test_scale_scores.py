"""Scoring at scale gives what scoring in one piece gave: the long contributions produced chunk by chunk, the
Monte Carlo summaries drawn year by year in float32, the vectorised nearest official year, and grid
contiguity from cell ids (against libpysal Queen on the real Rijnmond cells). Small real subsets, seconds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from leefbaar.index import uncertainty as unc
from leefbaar.index.classes import classify_total
from leefbaar.index.features import contiguity, contiguity_pairs, load_panel, neighbour_pairs
from leefbaar.index.model import BASELINE, RESIDUAL, LivabilityIndex
from leefbaar.index.nowcast import CORRECTION
from leefbaar.index.pipeline import Contributions, _modelled, nearest_official
from leefbaar.index.spec import load_spec

YEARS = [2021, 2022]


@pytest.fixture(scope="module")
def fitted(store_file):
    """PC4 of Rotterdam and surroundings (codes 30..31), 2021 and 2022, the default spec with 3 knots and 8
    location centres, no lags (fast); fitted on the official rows of 2022."""
    from leefbaar.store.store import Store

    spec = replace(load_spec("default"), knots=3, location=(8, 12.0, 1e-4), spatial_lag=False)
    with Store.open(store_file) as st:
        panel = load_panel(st, spec, YEARS)
    panel = panel[panel["code"].str[:2].isin(["30", "31"])].reset_index(drop=True)
    model = LivabilityIndex(spec).fit(panel)
    return spec, panel, model, model.matrix_.transform(panel)


def _old_long_contributions(spec, panel, parts, residual, correction):
    """The long table as main built it before (all rows in one frame): the reference."""
    frames = []
    for d, frame in parts.items():
        f = frame.copy()
        f[RESIDUAL] = residual[d].to_numpy()
        f[CORRECTION] = correction[d].to_numpy()
        values = f.to_numpy()
        n, k = values.shape
        frames.append(pd.DataFrame({"code": np.repeat(panel["code"].to_numpy(), k),
                                    "year": np.repeat(panel["year"].to_numpy(), k), "dimension": d,
                                    "indicator": np.tile(np.asarray(f.columns, dtype=object), n),
                                    "contribution": values.ravel()}))
    out = pd.concat(frames, ignore_index=True)
    out = out[(out["contribution"] != 0) | out["indicator"].isin([BASELINE, RESIDUAL])]
    out.insert(0, "spec", spec.name)
    out.insert(1, "level", spec.level)
    return out.reset_index(drop=True)


def test_contributions_in_chunks_are_the_table_in_one_piece(fitted):
    spec, panel, model, X = fitted
    dims = list(spec.dimension_codes)
    rng = np.random.default_rng(0)
    residual = pd.DataFrame(rng.normal(size=(len(panel), len(dims))), columns=dims)
    residual.iloc[::3] = 0.0  # rows without a residual keep their _residual row, drop their _nowcast row
    correction = pd.DataFrame(np.where(rng.random((len(panel), len(dims))) < 0.5, 0.0, 0.01), columns=dims)
    old = _old_long_contributions(spec, panel, model.contributions(panel, X), residual, correction)
    c = Contributions(spec, model, panel, X, residual, correction)
    chunks = list(c.chunks(rows=97))
    assert len(chunks) == -(-len(panel) // 97)
    new = pd.concat([t.to_pandas() for t in chunks], ignore_index=True)
    key = ["code", "year", "dimension", "indicator"]
    assert list(new.columns) == list(old.columns) and len(new) == len(old)
    a, b = old.sort_values(key).reset_index(drop=True), new.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a.drop(columns="contribution"), b.drop(columns="contribution"),
                                  check_dtype=False)
    np.testing.assert_allclose(b["contribution"], a["contribution"], rtol=0, atol=1e-12)
    whole_frame = c.frame()  # in one piece, for small data
    assert len(whole_frame) == len(old)
    assert whole_frame["contribution"].sum() == pytest.approx(old["contribution"].sum())
    # the model's dimension scores, chunk by chunk, are the sums of the contributions in one piece
    whole = model.contributions(panel, X)
    np.testing.assert_allclose(_modelled(model, panel, X, dims).to_numpy(),
                               np.column_stack([whole[d].sum(axis=1) for d in dims]), rtol=0, atol=1e-12)


def test_contributions_as_arrays_are_the_frames_to_the_bit(fitted):
    """``TermValues`` (the calibrated model straight from the column arrays, chunk by chunk) gives the very numbers
    of ``LivabilityIndex.contributions``, and ``_modelled`` the very sums ``DataFrame.sum(axis=1)`` made of them,
    also where a feature is missing (its term NaN, left out of the sum)."""
    from leefbaar.index.pipeline import TermValues

    spec, panel, model, X = fitted
    dims = list(spec.dimension_codes)
    X = X.copy()
    feature = model.models_[dims[0]].features[1]
    gap = X[feature].to_numpy(float).copy()
    gap[::7] = np.nan
    X[feature] = gap
    whole = model.contributions(panel, X)
    source = TermValues(model, panel, X)
    for part in (slice(0, len(panel)), slice(13, 50)):  # (the location term of a chunk is the model's on its rows)
        values = source.chunk(part)
        frames = model.contributions(panel.iloc[part], X.iloc[part])
        for d in dims:
            assert source.names[d] == list(frames[d].columns)
            assert values[d].flags["C_CONTIGUOUS"]
            np.testing.assert_array_equal(values[d], frames[d].to_numpy().T)
            np.testing.assert_array_equal(TermValues.total(values[d]), frames[d].sum(axis=1).to_numpy())
    assert np.isnan(source.chunk(slice(0, 1))[dims[0]]).any()
    np.testing.assert_array_equal(_modelled(model, panel, X, dims).to_numpy(),
                                  np.column_stack([whole[d].sum(axis=1) for d in dims]))
    m = model.models_[dims[0]]
    np.testing.assert_array_equal(m.term_rows([X[f].to_numpy(float) for f in m.features]
                                              + [X[c].to_numpy(float) for c in ("centroid_x_km", "centroid_y_km")]),
                                  m.contributions(X).T)


def test_contributions_stored_compact_are_the_long_table(fitted, tmp_path):
    """``write_contributions`` keeps the long rows as (unit, term, contribution) behind the view
    ``contributions``: the view gives the long table; a store holding ``contributions`` as a table (written
    before) is converted with its other specs' rows kept; writing again replaces the spec's rows only."""
    from leefbaar.index.pipeline import write_contributions
    from leefbaar.store.store import Store

    spec, panel, model, X = fitted
    dims = list(spec.dimension_codes)
    rng = np.random.default_rng(1)
    residual = pd.DataFrame(rng.normal(size=(len(panel), len(dims))), columns=dims)
    correction = pd.DataFrame(np.where(rng.random((len(panel), len(dims))) < 0.5, 0.0, 0.01), columns=dims)
    c = Contributions(spec, model, panel, X, residual, correction)
    long = c.frame()
    key = ["spec", "level", "code", "year", "dimension", "indicator"]
    with Store.open(tmp_path / "c.duckdb", read_only=False, build=True) as st:
        other = long.iloc[:500].assign(spec="other")
        st.append("contributions", pd.concat([other, long.iloc[:300]], ignore_index=True))  # main's layout
        assert write_contributions(st, c, rows=97) == len(long)
        kinds = dict(st.con.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall())
        assert kinds["contributions"] == "VIEW" and kinds["contribution_values"] == "BASE TABLE"
        got = st.sql("SELECT * FROM contributions ORDER BY ALL")
        want = pd.concat([other, long], ignore_index=True).sort_values(key, ignore_index=True)
        assert list(got.columns) == list(long.columns)
        pd.testing.assert_frame_equal(got.drop(columns="contribution"), want.drop(columns="contribution"),
                                      check_dtype=False)
        np.testing.assert_allclose(got["contribution"], want["contribution"], rtol=0, atol=1e-12)
        assert write_contributions(st, c) == len(long)  # again: replaced, not added
        assert st.sql("SELECT count(*) AS n FROM contributions")["n"][0] == len(long) + len(other)
        code, year = panel["code"].iloc[5], int(panel["year"].iloc[5])
        one = st.sql("SELECT dimension, indicator, contribution FROM contributions WHERE spec = ? AND level = ? "
                     "AND code = ? AND year = ? ORDER BY ALL", [spec.name, spec.level, code, year])
        ref = long[(long["code"] == code) & (long["year"] == year)].sort_values(["dimension", "indicator"])
        np.testing.assert_allclose(one["contribution"], ref["contribution"], rtol=0, atol=1e-12)


def _old_nearest_official(codes, years, official):
    """main's loop before vectorising: the reference."""
    by_code = official.groupby("code")["year"].apply(lambda s: np.sort(s.to_numpy()))
    out = np.full(len(codes), np.nan)
    for i, (c, y) in enumerate(zip(codes, years, strict=True)):
        ys = by_code.get(c)
        if ys is None or len(ys) == 0:
            continue
        d = np.abs(ys - y)
        out[i] = ys[np.flatnonzero(d == d.min())[0]]
    return out


def test_nearest_official_vectorised_is_the_loop(store_file):
    from leefbaar.store.store import Store

    with Store.open(store_file) as st:
        off = st.sql("SELECT DISTINCT code, year FROM observations WHERE level = 'pc4' AND indicator = 'lbm_afw' "
                     "AND value IS NOT NULL AND code LIKE '3%'")
    rng = np.random.default_rng(1)
    # drop some official years so that codes have gaps, ties (2 years either side) and no official year at all
    off = off[rng.random(len(off)) < 0.6]
    codes = np.concatenate([off["code"].unique(), ["9999x", "3000y"]])
    q = pd.DataFrame({"code": np.repeat(codes, 11), "year": np.tile(np.arange(2014, 2025), len(codes))})
    q = q.sample(frac=1.0, random_state=2)
    new = nearest_official(q["code"].to_numpy(), q["year"].to_numpy(), off)
    old = _old_nearest_official(q["code"].to_numpy(), q["year"].to_numpy(), off)
    np.testing.assert_array_equal(new, old)
    assert np.isnan(new).any() and (~np.isnan(new)).sum() > 1000
    assert np.isnan(nearest_official(q["code"].to_numpy(), q["year"].to_numpy(), off.iloc[:0])).all()


class _Cells:
    """A store holding only some grid cells (for ``contiguity``)."""

    def __init__(self, geo):
        self.geo = geo.reset_index(drop=True)

    def sql(self, query, params=None):
        return self.geo[["code", "area_m2"]].copy()

    def geometries(self, level):
        return self.geo


@pytest.mark.parametrize("level, n", [("grid100", 3000), ("grid500", 600)])
def test_grid_contiguity_from_cell_ids_is_queen(store_file, level, n):
    from libpysal.weights import Queen

    from leefbaar.store.store import Store

    with Store.open(store_file) as st:
        geo = st.geometries(level)
    rd = geo.geometry.bounds
    # the cells nearest Rotterdam's centre (populated cells only: holes and islands as in the real grid)
    near = np.argsort(np.hypot(rd["minx"] - 92_500, rd["miny"] - 437_500).to_numpy(), kind="stable")[:n]
    sub = geo.iloc[np.sort(near)].reset_index(drop=True)
    w = contiguity(_Cells(sub), level)
    q = Queen.from_dataframe(sub, ids=sub["code"].astype(str).tolist(), use_index=False, silence_warnings=True)
    q.transform = "r"
    assert w.id_order == q.id_order
    assert {k: set(v) for k, v in w.neighbors.items()} == {k: set(v) for k, v in q.neighbors.items()}
    assert w.mean_neighbors > 3 and w.islands == q.islands
    a, b = (pd.DataFrame(dict(zip(["i", "j", "w"], neighbour_pairs(x), strict=True)))
            .sort_values(["i", "j"], ignore_index=True) for x in (w, q))
    pd.testing.assert_frame_equal(a, b)
    for got, want in zip(contiguity_pairs(_Cells(sub), level), neighbour_pairs(w), strict=True):
        np.testing.assert_array_equal(got, want)  # the same pairs in the same order, without the weights object
    # not a grid (other codes, or cells of another size): polygons
    moved = sub.assign(code=sub["code"].str.replace("E", "X"))
    back = {k.replace("X", "E"): {c.replace("X", "E") for c in v}
            for k, v in contiguity(_Cells(moved), level).neighbors.items()}
    assert back == {k: set(v) for k, v in q.neighbors.items()}


def _anchoring(panel, rng):
    """Rows of 2021 anchored on the same area's 2022 row, as the nowcast does (other rows unanchored)."""
    pos = pd.Series(np.arange(len(panel)), index=pd.MultiIndex.from_frame(panel[["code", "year"]]))
    anchor = pos.reindex(pd.MultiIndex.from_arrays([panel["code"], np.full(len(panel), 2022)])).to_numpy()
    anchor = np.where((panel["year"] == 2021).to_numpy() & ~np.isnan(anchor), anchor, np.arange(len(panel)))
    anchor = anchor.astype(int)
    linked = anchor != np.arange(len(panel))
    dims = list(load_spec("default").dimension_codes)
    c_now = {d: np.where(linked, 0.8, 1.0) for d in dims}
    c_anchor = {d: np.where(linked, 0.2, 0.0) for d in dims}
    const = {d: np.where(linked, rng.normal(0, 0.01, len(panel)), 0.0) for d in dims}
    noise = np.where(linked, 0.03, np.where(rng.random(len(panel)) < 0.5, 0.02, np.nan))
    return unc.Anchoring(anchor, c_now, c_anchor, const, noise)


def test_draws_summarised_year_by_year_in_float32_match_all_draws_at_once(fitted):
    """Same draws (same generator and order) as ``draws``; float32 moves each draw by about 1e-7 relative
    to its largest terms (measured here: at most a few 1e-6 score points), so interval bounds (order
    statistics) move by no more than that: atol 1e-4 points. Ranks and classes change only where two areas,
    or an area and a class boundary, are within that distance in a draw: rank bounds within 1 place and
    shares of changed class within 2 draws of 200, nearly always exactly equal."""
    spec, panel, model, X = fitted
    rng = np.random.default_rng(5)
    alt = LivabilityIndex(unc.rank_variant(spec)).fit(panel)
    anchoring = _anchoring(panel, rng)
    years = panel["year"].to_numpy()
    point = model.score(panel)["afw"].to_numpy()
    fixed = (panel["year"] == 2022).to_numpy() & (rng.random(len(panel)) < 0.7)
    prep64 = unc.prepare([model, alt], panel, X=X)
    ref = unc.summarise(point, unc.draws(prep64, 200, seed=4, anchoring=anchoring, years=years), years,
                        spec.reference, classify_total, fixed=fixed)
    args = dict(seed=4, anchoring=anchoring, fixed=fixed)
    prep32 = unc.prepare([model, alt], panel, X=X, dtype=np.float32)
    new = unc.summarise_draws(prep32, 200, point, years, spec.reference, classify_total, chunk_rows=53, **args)
    # float64 in chunks: the very same numbers (the chunking changes nothing)
    same = unc.summarise_draws(prep64, 200, point, years, spec.reference, classify_total, chunk_rows=41,
                               dtype=np.float64, **args)
    ref64 = ref.assign(p_class_differs=np.where(fixed, 0.0, ref["p_class_differs"]))
    pd.testing.assert_frame_equal(same, ref64, check_exact=False, rtol=0, atol=1e-12)
    np.testing.assert_allclose(new[["total_lo", "total_hi"]], ref[["total_lo", "total_hi"]], rtol=0, atol=1e-4)
    np.testing.assert_array_equal(new["rank"], ref["rank"])
    for col in ("rank_lo", "rank_hi"):
        diff = np.abs(new[col] - ref[col])
        assert diff.max() <= 1 and (diff == 0).mean() > 0.98, (col, diff.max(), (diff == 0).mean())
    diff = np.abs(new["p_class_differs"] - ref64["p_class_differs"])
    assert diff.max() <= 2 / 200 and (diff == 0).mean() > 0.98
    assert (new["total_hi"] - new["total_lo"])[~fixed].median() > 0.01  # the draws do vary


@pytest.fixture(scope="module")
def lagged(store_file):
    """The ``fitted`` subset with spatial lags (the PC4 Queen pairs), 3 knots, 8 location centres."""
    from leefbaar.store.store import Store

    spec = replace(load_spec("default"), knots=3, location=(8, 12.0, 1e-4))
    with Store.open(store_file) as st:
        panel = load_panel(st, spec, YEARS)
        pairs = contiguity_pairs(st, "pc4")
    panel = panel[panel["code"].str[:2].isin(["30", "31"])].reset_index(drop=True)
    return spec, panel, pairs


def test_feature_matrix_without_copies_is_the_fitted_transform(lagged):
    """Preparing the indicators once for fit and transform, and the lags in column blocks, change nothing; the
    engine table holds each feature once, under every engine code that reads it."""
    from leefbaar.index.features import IndicatorMatrix, spatial_lag

    spec, panel, pairs = lagged
    once = IndicatorMatrix(spec, pairs).fit_transform(panel)
    twice = IndicatorMatrix(spec, pairs).fit(panel).transform(panel)
    pd.testing.assert_frame_equal(once, twice, check_exact=True)
    base = once[[c for c in once.columns if "@" not in c and not c.startswith("centroid")]]
    for block in (1, 5):
        pd.testing.assert_frame_equal(spatial_lag(panel, base, pairs, block=block),
                                      spatial_lag(panel, base, pairs, block=len(base.columns)), check_exact=True)
    model = LivabilityIndex(spec, pairs)
    X = model.fit_transform(panel)
    nodes = model.engine_.hierarchy.nodes
    by_feature: dict[str, list[str]] = {}
    for code in model.engine_.hierarchy.indicators:
        by_feature.setdefault(nodes[code].name, []).append(code)
    shared = [codes for codes in by_feature.values() if len(codes) > 1]
    assert shared, "the default spec uses some feature in two dimensions"
    for codes in shared:
        assert all(np.shares_memory(X[codes[0]].to_numpy(), X[c].to_numpy()) for c in codes[1:])


def test_model_fitted_on_its_criterion_rows_is_the_model_fitted_on_all(lagged):
    """The engine spec of an index spec prepares nothing, so fitting on the rows with every criterion (what
    ``LivabilityIndex`` does) gives the model fitted on the whole engine table, covariance included."""
    from leefbaar.index.engine.fit import fit
    from leefbaar.index.engine.ops import impute

    spec, panel, pairs = lagged
    model = LivabilityIndex(spec, pairs)
    X = model.fit_transform(panel)
    whole = fit(X, model.engine_, source="panel")
    assert whole.fit_rows == model.fitted_.fit_rows < len(panel)
    assert whole.model.params() == model.fitted_.model.params()
    for d, m in whole.model.models.items():
        np.testing.assert_array_equal(m.cov, model.fitted_.model.models[d].cov)
    values = X[model.engine_.hierarchy.indicators].to_numpy()
    assert impute(values, "none")[0] is values  # nothing to fill: no copy
