"""The nowcast correction (``leefbaar.index.nowcast``) and the out-of-time validation that uses it, checked
against an independent OLS (statsmodels) on the official LBM3 dimension scores in the store."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from leefbaar.errors import LeefbaarError
from leefbaar.index.nowcast import NowcastCorrection, load_official
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


@pytest.fixture(scope="module")
def modelled(store_file):
    """Scores of a small index fitted on 2018, for the official years 2018, 2020 and 2022 (one region)."""
    from leefbaar.index.features import load_panel
    from leefbaar.index.model import LivabilityIndex
    from leefbaar.store.store import Store

    spec = replace(load_spec("default"), location=None, spatial_lag=False, knots=2)
    with Store.open(store_file) as s:
        panel = load_panel(s, spec, [2018, 2020, 2022]).reset_index(drop=True)
    panel = panel[panel["code"].str[0].isin(["1", "2", "3"])].reset_index(drop=True)
    model = LivabilityIndex(spec).fit(panel[panel["year"] == 2018], with_cov=False)
    return model.score(panel)[["code", "year", *DIMS]]


def test_level_form_matches_an_independent_ols(official):
    corr = NowcastCorrection().fit(official, DIMS, until=2018)
    assert corr.pair_ == (2014, 2018) and set(corr.pairs_["form"]) == {"level"}
    full = official.dropna(subset=DIMS)
    pair = full[full["year"] == 2014].merge(full[full["year"] == 2018], on="code", suffixes=("_a", "_b"))
    at = pair[[f"{d}_a" for d in DIMS]].set_axis(DIMS, axis=1)
    zero = pd.DataFrame(0.0, index=at.index, columns=DIMS)
    adj = corr.correction(at, zero, zero, np.full(len(at), 2014.0), np.full(len(at), 2018))
    for d in DIMS:
        ols = sm.OLS(pair[f"{d}_b"] - pair[f"{d}_a"], sm.add_constant(pair[f"{d}_a"])).fit()
        assert corr.pairs_.set_index("dimension").loc[d, "kappa"] == pytest.approx(ols.params[f"{d}_a"], rel=1e-9)
        # for h equal to the pair's span: the OLS slope times the deviation from the mean of all 2014 areas
        centre = full.loc[full["year"] == 2014, d].mean()
        assert corr.means_[(2014, d)] == pytest.approx(centre)
        np.testing.assert_allclose(adj[d].to_numpy(), ols.params[f"{d}_a"] * (pair[f"{d}_a"] - centre).to_numpy(),
                                   atol=1e-12)


def test_full_form_matches_an_independent_ols(official, modelled):
    corr = NowcastCorrection().fit(official, DIMS, modelled=modelled, until=2020)
    assert corr.pair_ == (2018, 2020)
    assert corr.pairs_.set_index("to_year").loc[2018, "form"].eq("level").all()
    p = (official.merge(modelled, on=["code", "year"], suffixes=("", "_m")).dropna())
    a, b = p[p["year"] == 2018].set_index("code"), p[p["year"] == 2020].set_index("code")
    a, b = a.loc[a.index.intersection(b.index)], b.loc[a.index.intersection(b.index)]
    mean18 = official[official["year"] == 2018].dropna(subset=DIMS)
    for d in DIMS:
        X = pd.DataFrame({"dm": b[f"{d}_m"] - a[f"{d}_m"], "r": a[d] - a[f"{d}_m"], "dev": a[d] - mean18[d].mean()})
        ols = sm.OLS(b[d] - a[d], sm.add_constant(X)).fit()
        got = corr.pairs_.query("to_year == 2020").set_index("dimension").loc[d]
        assert [got["alpha"], got["beta"], got["kappa"]] == pytest.approx(ols.params[["dm", "r", "dev"]].tolist(),
                                                                          rel=1e-7, abs=1e-10)
        adj = corr.correction(a[DIMS], a[DIMS] - a[[f"{x}_m" for x in DIMS]].set_axis(DIMS, axis=1),
                              (b[[f"{x}_m" for x in DIMS]] - a[[f"{x}_m" for x in DIMS]].values).set_axis(DIMS, axis=1),
                              np.full(len(a), 2018.0), np.full(len(a), 2020))
        # the anchored nowcast already has dm once; alpha is used no lower than 0 (monotonicity)
        k = ols.params
        expected = (max(k["dm"], 0) - 1) * X["dm"] + k["r"] * X["r"] + k["dev"] * X["dev"]
        np.testing.assert_allclose(adj[d].to_numpy(), expected.to_numpy(), atol=1e-10)


def test_correction_is_zero_before_the_anchor_and_decays_with_the_horizon(official, modelled):
    corr = NowcastCorrection().fit(official, DIMS, modelled=modelled)
    assert corr.pair_ == (2020, 2022)
    at = pd.DataFrame({d: [0.3] * 5 + [np.nan] for d in DIMS})
    res = pd.DataFrame({d: [0.05] * 6 for d in DIMS})
    dm = pd.DataFrame({d: [0.02] * 6 for d in DIMS})
    adj = corr.correction(at, res, dm, np.array([2022.0, 2022.0, np.nan, 2022.0, 2022.0, 2022.0]),
                          np.array([2021, 2022, 2023, 2023, 2024, 2024]))
    assert (adj.iloc[[0, 1, 2, 5]] == 0).all().all()  # before/at the anchor, no anchor, no official value
    for d in DIMS:
        c, centre = corr.coef_[d], corr.means_[(2022, d)]
        for row, h in ((3, 1), (4, 2)):
            assert adj.loc[row, d] == pytest.approx((c["alpha"] - 1) * 0.02 + (c["phi_r"] ** h - 1) * 0.05
                                                    + (c["phi_o"] ** h - 1) * (0.3 - centre))


def test_correction_needs_two_official_years(official):
    with pytest.raises(LeefbaarError, match="two official years"):
        NowcastCorrection().fit(official, DIMS, until=2014)


def test_out_of_time_reports_nowcasts_and_a_summary(store_file, official):
    from leefbaar.index import validate as V
    from leefbaar.index.features import load_panel
    from leefbaar.store.store import Store

    spec = replace(load_spec("default"), location=None, spatial_lag=False, knots=2)
    with Store.open(store_file) as s:
        panel = load_panel(s, spec, [2018, 2020, 2022]).reset_index(drop=True)
    panel = panel[panel["code"].str[0].isin(["1", "2", "3"])].reset_index(drop=True)
    oot, pairs = V.out_of_time(spec, panel, None, official, 2020, (2022,))
    afw = oot[oot["target"] == "afw"].set_index("kind")
    assert set(afw.index) == {"level", "level_anchored", "level_nowcast", "change", "change_nowcast"}
    # the correction uses official years up to 2020 only: 2014-2018 (level form) and 2018-2020 (used)
    assert pairs["to_year"].max() == 2020 and pairs.loc[pairs["used"], "form"].eq("full").all()
    assert afw.loc["level_anchored", "r2"] != afw.loc["level_nowcast", "r2"]
    assert afw.loc["change", "n"] == afw.loc["change_nowcast", "n"] > 1000
    cv = pd.DataFrame([{"model": "index", "year": 2018, "target": t, "n": 10, "r2": 0.5, "spearman": 0.7,
                        "mae": 0.1, "class_exact": 0.5, "class_within1": 0.9} for t in V.TARGETS])
    nl, en = V.summary_markdown(cv, oot, pairs, "nl"), V.summary_markdown(cv, oot, pairs, "en")
    assert "Buiten de tijd" in nl and "verandering, nowcast" in nl
    assert "Out of time" in en and "Met: R² no" in en


def test_validate_command_writes_tables_and_summary(store_file, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from leefbaar.cli import app

    spec = yaml.safe_load((Path(__file__).parents[1] / "src/leefbaar/catalogue/specs/default.yaml").read_text())
    spec.update(name="small_validate_test", spatial_lag=False, knots=2)
    spec.pop("location")
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["validate", "--store", str(store_file), "--out", str(out), "--spec", str(path),
                                      "--years", "2020,2022", "--fit-years", "2020", "--folds", "3", "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert {f.name for f in out.iterdir()} == {"cv.csv", "out_of_time.csv", "nowcast_correction.csv", "validate.md"}
    cv = pd.read_csv(out / "cv.csv")
    assert set(cv["year"]) == {2020, 2022} and (cv["n"] > 4000).all() and cv["r2"].between(0, 1).all()
    oot = pd.read_csv(out / "out_of_time.csv")
    assert set(oot["fit_year"]) == {2020} and set(oot["year"]) == {2022}
    assert "Out of time" in (out / "validate.md").read_text(encoding="utf-8")
    bad = CliRunner().invoke(app, ["validate", "--store", str(store_file), "--out", str(out), "--spec", str(path),
                                   "--years", "2018", "--fit-years", "2020"])
    assert bad.exit_code != 0 and "comes after" in str(bad.exception)


def test_linear_terms_rebuild_the_nowcast(official, modelled):
    corr = NowcastCorrection().fit(official, DIMS, modelled=modelled)
    rng = np.random.default_rng(0)
    n = 40
    m_now, m_anchor = (pd.DataFrame(rng.normal(0, 0.05, (n, 5)), columns=DIMS) for _ in range(2))
    o = pd.DataFrame(rng.normal(0, 0.08, (n, 5)), columns=DIMS)
    anchor = np.where(np.arange(n) % 4 == 0, np.nan, 2022.0)
    years = np.where(np.arange(n) % 2 == 0, 2023, 2021)  # after and before the anchor
    expected = m_now + np.where(np.isnan(anchor)[:, None], 0, (o - m_anchor).to_numpy())
    expected += corr.correction(o, o - m_anchor, m_now - m_anchor, anchor, years).to_numpy()
    c_now, c_anchor, const = corr.linear_terms(o, anchor, years)
    for d in DIMS:
        rebuilt = c_now[d] * m_now[d] + c_anchor[d] * m_anchor[d] + const[d]
        np.testing.assert_allclose(rebuilt, expected[d], atol=1e-12)
    sd = corr.error_sd(anchor, years)
    assert np.isnan(sd[np.isnan(anchor)]).all()
    assert sd[2] == pytest.approx(corr.error_sd_ / np.sqrt(corr.span_)) and corr.error_sd_ > 0


def test_draws_without_calibration_noise_reproduce_the_anchored_scores(store_file):
    from leefbaar.index import uncertainty as unc
    from leefbaar.index.features import load_panel
    from leefbaar.index.model import LivabilityIndex
    from leefbaar.index.pipeline import anchored_residual, nearest_official, nowcast_terms
    from leefbaar.store.store import Store

    spec = replace(load_spec("default"), location=None, spatial_lag=False, knots=2)
    with Store.open(store_file) as s:
        panel = load_panel(s, spec, [2020, 2021, 2022, 2023]).reset_index(drop=True)
        panel = panel[panel["code"].str[0] == "3"].reset_index(drop=True)
        model = LivabilityIndex(spec).fit(panel, with_cov=False)
        modelled = model.score(panel)[DIMS]
        target = model.targets(panel)
        is_official = target.notna().all(axis=1).to_numpy()
        anchor = nearest_official(panel["code"].to_numpy(), panel["year"].to_numpy(),
                                  panel.loc[is_official, ["code", "year"]])
        residual = anchored_residual(panel, target, modelled, anchor, is_official)
        correction, anchoring, _ = nowcast_terms(s, spec, panel, target, modelled, residual, anchor, is_official)
    point = (modelled + residual.to_numpy() + correction.to_numpy()).sum(axis=1).to_numpy()
    quiet = unc.Anchoring(anchoring.anchor_row, anchoring.c_now, anchoring.c_anchor, anchoring.const,
                          np.zeros(len(panel)))
    draws = unc.draws(unc.prepare([model], panel), 5, seed=1, concentration=np.inf, anchoring=quiet)
    modelled_rows = ~is_official
    np.testing.assert_allclose(draws[modelled_rows], np.repeat(point[modelled_rows, None], 5, axis=1), atol=1e-10)
    noisy = unc.draws(unc.prepare([model], panel), 400, seed=1, concentration=np.inf, anchoring=anchoring)
    after = modelled_rows & (panel["year"].to_numpy() == 2023)
    assert np.median(noisy[after].std(axis=1)) == pytest.approx(np.median(anchoring.noise_sd[after]), rel=0.15)
