"""The index at buurt level on the real Rijnmond buurten: panel in the spec's terms, leave-one-gemeente-out
validation against the official Leefbaarometer 2024 buurt scores, scores for every buurt, and the command.

A small spec (two indicators per dimension) keeps the tests fast; ``leefbaar validate-buurt`` runs the
default spec."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leefbaar.analysis import buurt_index as B
from leefbaar.cli import app
from leefbaar.index.classes import classify_total
from leefbaar.index.model import LivabilityIndex
from leefbaar.index.spec import load_spec
from leefbaar.store.store import Store
from test_buurt_data import buurt_store

SMALL_SPEC = """
name: small_buurt_test
level: pc4
reference: 4.102265
weighting: calibrated
spatial_lag: true
smoothing: 1.0
knots: 2
target: {won: lbm_won, fys: lbm_fys, vrz: lbm_vrz, soc: lbm_soc, onv: lbm_onv}
dimensions:
  won:
    indicators:
      - {id: wozwoning, direction: 1, transform: log, deflate: year_median}
      - {id: won_hcorp, per: woning, scale: 100, direction: 0}
  fys:
    indicators:
      - {id: oad, transform: log, direction: 0}
      - {id: wonvoor45, per: woning, scale: 100, direction: 0}
  vrz:
    indicators:
      - {id: afs_superm, transform: log, direction: -1}
      - {id: av1_cafe, transform: log, direction: 0}
  soc:
    indicators:
      - {id: uitkminaow, per: inwoner, scale: 100, direction: -1}
      - {id: inw_65pl, per: inwoner, scale: 100, direction: 0}
  onv:
    indicators:
      - {id: uitkminaow, per: inwoner, scale: 100, direction: -1}
      - {id: tothh_eenp, per: aantal_hh, scale: 100, direction: 0}
"""


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    path = tmp_path_factory.mktemp("spec") / "small_buurt_test.yaml"
    path.write_text(SMALL_SPEC, encoding="utf-8")
    return load_spec(path)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory, data_dir):
    return buurt_store(tmp_path_factory, data_dir)


@pytest.fixture(scope="module")
def store(store_path):
    with Store.open(store_path) as st:
        yield st


@pytest.fixture(scope="module")
def validation(store, spec):
    return B.validate_buurt(store, spec)


def test_panel_in_the_spec_terms(store, spec):
    panel = B.buurt_panel(store, spec)
    assert len(panel) == 625 and panel["gemeente_code"].nunique() == 12
    assert panel["lbm_won"].notna().sum() == 509
    np.testing.assert_allclose(panel["won_hcorp"], panel["p_huko_won"] * panel["woning"] / 100)
    np.testing.assert_allclose(panel["inw_65pl"], panel["p_65_eo_jr"] * panel["inwoner"] / 100)
    both = panel[list(B.BENEFITS)].notna().all(axis=1)
    np.testing.assert_allclose(panel.loc[both, "uitkminaow"], panel.loc[both, list(B.BENEFITS)].sum(axis=1))
    assert panel.loc[~both, "uitkminaow"].isna().all()
    assert panel["area_km2"].notna().all() and panel["name"].notna().all()
    bspec, dropped = B.buurt_spec(spec, panel)
    assert dropped == ["wonvoor45"] and bspec.level == "buurt"
    assert [i.id for i in bspec.dimension("fys").indicators] == ["oad"]


def test_neighbours_bridge_the_simplified_boundaries(store):
    codes = B.rijnmond_codes(store)
    src, dst, _ = B.buurt_pairs(store, codes)
    assert set(src) == set(codes)  # no island: fuzzy contiguity joins buurten that do not quite touch
    pairs = set(zip(src, dst, strict=True))
    assert all((b, a) in pairs for a, b in pairs)


def test_leave_one_gemeente_out(store, spec, validation):
    """A buurt's prediction comes from a model fitted without its gemeente: refitting reproduces it."""
    v = validation
    assert (v.n_buurten, v.n_scored, v.n_gemeenten) == (625, 509, 12)
    assert list(v.table["model"].unique()) == ["buurt"]  # no PC4 data in this store
    assert any("pc4 en pc4+buurt zijn overgeslagen" in n for n in v.notes)
    panel = B.buurt_panel(store, spec)
    bspec, _ = B.buurt_spec(spec, panel)
    scored = panel["lbm_won"].notna() & panel["lbm_onv"].notna()
    pairs = B.buurt_pairs(store, panel["code"].tolist())
    held = "GM0556"  # Maassluis
    model = LivabilityIndex(bspec, pairs=pairs).fit(panel[scored & (panel["gemeente_code"] != held)],
                                                    with_cov=False)
    expect = B._score(model, panel, pairs).loc[scored & (panel["gemeente_code"] == held)]
    got = v.predictions[(v.predictions["gemeente_code"] == held) & (v.predictions["model"] == "buurt")]
    got = got.set_index("code")
    np.testing.assert_allclose(got.loc[panel.loc[expect.index, "code"], "afw"], expect["afw"], atol=1e-9)
    # the same gemeente with its own buurten in the fit is predicted better: the split is real
    inside = B._score(LivabilityIndex(bspec, pairs=pairs).fit(panel[scored], with_cov=False), panel, pairs)
    off = panel.loc[expect.index, ["lbm_won", "lbm_fys", "lbm_vrz", "lbm_soc", "lbm_onv"]].sum(axis=1)
    assert np.mean((inside.loc[expect.index, "afw"] - off) ** 2) < np.mean((expect["afw"] - off) ** 2)


def test_validation_table(validation):
    """The layout of the PC4 validation table (model, year, target, n, r2, spearman, mae, class agreement)."""
    assert list(validation.table.columns[:9]) == ["model", "year", "target", "n", "r2", "spearman", "mae",
                                                  "class_exact", "class_within1"]
    t = validation.table[validation.table["model"] == "buurt"].set_index("target")
    assert list(t.index) == list(B.COMPONENTS)
    assert (t["n"] == 509).all() and (t["year"] == 2024).all()
    assert t.loc["vrz", "pearson_r"] > 0.5 and t.loc["afw", "pearson_r"] > 0.4
    p = validation.predictions
    assert p["official_afw"].notna().all() and len(p) == 509
    g = validation.by_gemeente
    assert len(g) == 12 and g["n"].sum() == 509


def test_baseline_reference_joins_the_table(store, spec, monkeypatch):
    """The gradient-boosting reference (``--baseline``) runs through the same folds; a stand-in predicting the
    training mean keeps this test fast and shows the fold split: R2 out of gemeente is below 0."""
    def mean_model(bspec, columns):
        def run(train, test):
            out = test[["code", "year"]].copy()
            for d in bspec.dimensions:
                out[d.code] = train[d.target].mean()
            out["afw"] = out[list(bspec.dimension_codes)].sum(axis=1)
            return out
        return run
    monkeypatch.setattr(B, "baseline_fit_predict", mean_model)
    v = B.validate_buurt(store, spec, baseline=True)
    t = v.table.set_index(["model", "target"])
    assert set(v.table["model"]) == {"buurt", "baseline"} and v.chosen == "buurt"
    assert t.loc[("baseline", "afw"), "r2"] < 0 < t.loc[("buurt", "afw"), "r2"]


def test_validation_metrics_known_answer():
    pred = pd.Series([0.0, 0.1, -0.1, 0.3])
    off = pd.Series([0.0, 0.1, -0.1, 0.1])
    m = B.validation_metrics(pred, off, "afw")
    assert m["n"] == 4 and m["bias"] == pytest.approx(0.05) and m["mae"] == pytest.approx(0.05)
    assert m["rmse"] == pytest.approx(0.1) and m["r2"] == pytest.approx(1 - 0.04 / 0.0275)
    assert m["class_exact"] == pytest.approx(np.mean(classify_total(pred.to_numpy()) == classify_total(off)))


def test_every_buurt_scored(validation):
    s = validation.scores
    assert len(s) == 625 and s["afw"].notna().all() and s["variant"].eq("buurt").all()
    np.testing.assert_allclose(s["afw"], s[list(B.DIMENSIONS)].sum(axis=1))
    np.testing.assert_allclose(s["total"], 4.102265 + s["afw"])
    assert (s["klasse"] == classify_total(s["afw"])).all()
    assert s["official_afw"].notna().sum() == 509


def test_validate_buurt_command(store_path, tmp_path, spec):
    path = tmp_path / "store.duckdb"
    shutil.copy(store_path, path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["validate-buurt", "--store", str(path), "--out", str(out), "--spec",
                                      spec.source, "--save", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert {f.name for f in out.iterdir()} == {"buurt_validation.csv", "buurt_validation_by_gemeente.csv",
                                               "buurt_predictions.csv", "buurt_scores.csv",
                                               "chart_buurt_validation.png", "summary.md"}
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "How far 625 buurten carry" in summary and "leave one gemeente out" in summary
    with Store.open(path) as st:
        stored = st.sql("SELECT * FROM buurt_scores")
        run = st.sql("SELECT * FROM runs WHERE command = 'validate-buurt'")
    assert len(stored) == 625 and set(stored["spec"]) == {"small_buurt_test"} and len(run) == 1
