"""Index spec validation and properties of the estimator: additivity, monotonicity, unit invariance, determinism,
and the score pipeline with its API on the real store (small settings to keep the tests fast)."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from leefbaar.errors import SpecError
from leefbaar.index import uncertainty as unc
from leefbaar.index.features import load_panel
from leefbaar.index.model import BASELINE, LivabilityIndex
from leefbaar.index.spec import load_spec, parse_spec

DIMS = ["won", "fys", "vrz", "soc", "onv"]


def small_spec():
    """The default spec without the regional term and lags, three knots: same code paths, faster."""
    return replace(load_spec("default"), location=None, spatial_lag=False, knots=3)


@pytest.fixture(scope="module")
def panel(store_file):
    from leefbaar.store.store import Store

    with Store.open(store_file) as s:
        frame = load_panel(s, load_spec("default"), [2020, 2021, 2022], extra=["lbm_afw"])
    # a subset of provinces' PC4 (first digits 1-3: Noord-Holland, Utrecht, Zuid-Holland...) keeps fits fast
    return frame[frame["code"].str[0].isin(["1", "2", "3"])].reset_index(drop=True)


@pytest.fixture(scope="module")
def fitted(panel):
    return LivabilityIndex(small_spec()).fit(panel[panel["year"] == 2022])


# -- spec errors ---------------------------------------------------------------------------------------------

def _default_raw():
    from importlib import resources

    return yaml.safe_load((resources.files("leefbaar") / "catalogue" / "specs" / "default.yaml").read_text())


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["dimensions"]["won"]["indicators"].append({"id": "no_such_thing"}), "unknown indicator"),
    (lambda d: d["dimensions"]["won"].update(include=["soc"]) or d["dimensions"]["soc"].update(include=["won"]),
     "cycle"),
    (lambda d: d["dimensions"]["fys"].update(indicators=[]), "empty"),
    (lambda d: d["dimensions"]["won"]["indicators"][0].update(weight="heavy"), "not a number"),
    (lambda d: d["dimensions"]["won"].update(weight=[1, 2]), "not a number"),
    (lambda d: d["dimensions"]["soc"]["indicators"].append({"id": "p_nw_mig_a"}), "migration"),
    (lambda d: d.update(weighting="magic"), "weighting"),
    (lambda d: d["dimensions"]["soc"]["indicators"].append({"id": "wozwoning", "direction": -1,
                                                            "transform": "log", "deflate": "year_median"}),
     "one direction"),
])
def test_bad_specs_are_rejected_clearly(mutate, message):
    data = _default_raw()
    mutate(data)
    with pytest.raises(SpecError, match=message):
        parse_spec(data, "bad.yaml")


def test_builtin_specs_load():
    assert load_spec("default").dimension_codes == tuple(DIMS)
    assert load_spec("lbm2_like").allow_sensitive
    with pytest.raises(SpecError, match="no spec"):
        load_spec("nope")


@pytest.mark.parametrize("name", ["default", "lbm2_like"])
def test_builtin_specs_are_engine_specs(name):
    spec = load_spec(name)
    eng = spec.engine_spec()
    h, m = eng.hierarchy, eng.weights_model
    assert h.depth == 2 and h.codes(2) == list(spec.dimension_codes)
    n_features = sum(len(d.indicators) for d in spec.dimensions)
    assert len(h.indicators) == 2 * n_features  # each feature and its spatial lag, per dimension
    assert "won:oad" in h.indicators and "won:oad@buren" in h.indicators and "won:oad" in m.free
    assert h.nodes["vrz:afs_superm"].direction == -1 and "vrz:afs_superm" not in m.free
    assert m.targets == {d.code: d.target for d in spec.dimensions}
    assert (m.knots, m.smoothing, m.location) == (spec.knots, spec.smoothing, spec.location)
    assert len(spec.engine_spec(lags=False).hierarchy.indicators) == n_features


# -- estimator properties ------------------------------------------------------------------------------------

def test_contributions_add_up_exactly(fitted, panel):
    rows = panel[panel["year"] == 2021]
    parts = fitted.contributions(rows)
    score = fitted.score(rows)
    for d in DIMS:
        np.testing.assert_allclose(parts[d].sum(axis=1).to_numpy(), score[d].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(score[DIMS].sum(axis=1), score["afw"], atol=1e-12)
    assert (parts["won"][BASELINE] == fitted.models_["won"].intercept).all()


DIRECTED = ["wozwoning", "p_link_hh", "p_hink_hh", "afs_superm", "uitkminaow", "p_koopwon"]


@settings(max_examples=25, deadline=None)
@given(row=st.integers(0, 10_000), which=st.sampled_from(DIRECTED), factor=st.floats(0.01, 3.0))
def test_improving_an_indicator_never_lowers_a_score(fitted, panel, row, which, factor):
    rows = panel[panel["year"] == 2022].reset_index(drop=True)
    direction = next(i.direction for d in fitted.spec.dimensions for i in d.indicators if i.id == which)
    before = rows.iloc[[row % len(rows)]].copy()
    after = before.copy()
    value = before[which].fillna(rows[which].median()).to_numpy(float)
    before[which] = value
    after[which] = value + direction * factor * (rows[which].std() or 1.0)
    after[f"{which}__status"] = "ok"
    a, b = fitted.score(before), fitted.score(after)
    for col in [*DIMS, "afw"]:
        assert b[col].iloc[0] >= a[col].iloc[0] - 1e-12, (which, col)


@pytest.mark.parametrize("indicator, factor", [("wozwoning", 1000.0), ("p_link_hh", 0.01), ("afs_superm", 1000.0)])
def test_unit_of_an_indicator_does_not_matter(panel, indicator, factor):
    rows = panel[panel["year"] == 2022].reset_index(drop=True)
    scaled = rows.copy()
    scaled[indicator] = scaled[indicator] * factor
    a = LivabilityIndex(small_spec()).fit(rows, with_cov=False).score(rows)
    b = LivabilityIndex(small_spec()).fit(scaled, with_cov=False).score(scaled)
    np.testing.assert_allclose(a[DIMS].to_numpy(), b[DIMS].to_numpy(), atol=1e-8)


def test_monte_carlo_is_deterministic_per_seed(fitted, panel):
    rows = panel[panel["year"] == 2022].reset_index(drop=True)
    prepared = unc.prepare([fitted], rows)
    a, b, c = (unc.draws(prepared, 50, seed=s) for s in (7, 7, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    assert a.shape == (len(rows), 50)


def test_other_weighting_methods(panel):
    rows = panel[panel["year"] == 2022].reset_index(drop=True)
    for method in ("equal", "pca", "expert"):
        spec = replace(small_spec(), weighting=method, reference=0.0)
        s = LivabilityIndex(spec).fit(rows).score(rows)
        assert np.isfinite(s["afw"]).all()
        np.testing.assert_allclose(s[DIMS].sum(axis=1), s["afw"], atol=1e-12)
        # directed indicators: the equal index correlates positively with the official score
        if method == "equal":
            assert np.corrcoef(s["afw"], rows["lbm_afw"].fillna(rows["lbm_afw"].mean()))[0, 1] > 0.3


# -- pipeline, store tables and API --------------------------------------------------------------------------

def test_score_pipeline_writes_tables_and_explains_changes(store_file, tmp_path):
    from leefbaar.index import api
    from leefbaar.index.pipeline import SCORE_COLUMNS, build_scores, score_summary, summary_markdown, write_scores
    from leefbaar.store.store import Store

    path = tmp_path / "store.duckdb"
    shutil.copy(store_file, path)
    with Store.open(path, read_only=False) as s:
        result = build_scores(s, small_spec(), [2021, 2022, 2023], n_draws=30, seed=3)
        write_scores(s, result, {"test": True})
    # the engine's record of the fitted model replays the modelled dimension scores bit for bit
    from leefbaar.index.engine import replay

    again = replay(json.loads(json.dumps(result.record)), result.model.matrix_.transform(result.panel))
    modelled = result.model.score(result.panel)
    for d in DIMS:
        np.testing.assert_array_equal(again.scores[d].to_numpy(), modelled[d].to_numpy())
    assert again.record["steps"][-2]["details"]["fitted"]["n_fit"] == (result.scores["kind"] == "official").sum()
    sc = result.scores
    assert list(sc.columns) == SCORE_COLUMNS
    summary = score_summary(result).set_index(["year", "kind"])
    assert summary.loc[(2022, "official"), "median_width"] == 0 and summary.loc[(2023, "modelled"), "median_width"] > 0
    assert summary["share_weak"].between(0, 1).all()
    md = summary_markdown(result, 1, "nl")
    assert "Nowcast-correctie, geschat op de officiële jaren" in md and "gemodelleerd" in md
    assert "Livability scores default (pc4), run 1" in summary_markdown(result, 1, "en")
    assert set(sc.loc[sc["year"] == 2021, "kind"]) == {"modelled"}
    assert (sc.loc[sc["year"] == 2022, "kind"] == "official").mean() > 0.99
    assert (sc.loc[(sc["year"] == 2023) & sc["anchor_year"].notna(), "anchor_year"] == 2022).all()
    off = sc[sc["kind"] == "official"]
    assert (off["total_lo"] == off["total"]).all() and (off["p_class_differs"] == 0).all()
    mod = sc[sc["kind"] == "modelled"]
    assert (mod["total_lo"] <= mod["total"] + 1e-9).mean() > 0.95 and (mod["rank_lo"] <= mod["rank_hi"]).all()
    with Store.open(path) as s:
        stored = api.load_scores(s, "default", "pc4")
        assert len(stored) == len(sc)
        code = "3072"
        change = api.explain_change(s, code, 2021, 2023)
        t = stored.set_index(["code", "year"])
        assert change["change"].sum() == pytest.approx(t.loc[(code, 2023), "afw"] - t.loc[(code, 2021), "afw"],
                                                       abs=1e-9)
        per_dim = change.groupby("dimension")["change"].sum()
        for d in DIMS:
            assert per_dim[d] == pytest.approx(t.loc[(code, 2023), d] - t.loc[(code, 2021), d], abs=1e-9)
        moved = change.set_index(["dimension", "indicator"])["change"]
        assert "_nowcast" in set(change["indicator"]) and moved.xs("_nowcast", level="indicator").abs().sum() > 0
        one = api.explain_area(s, code, 2022)
        assert one.groupby("dimension")["contribution"].sum()["vrz"] == pytest.approx(t.loc[(code, 2022), "vrz"])
        assert one["gemeente_code"].iloc[0] == "GM0599"
        runs = s.sql("SELECT command FROM runs")
        assert "score" in set(runs["command"])
