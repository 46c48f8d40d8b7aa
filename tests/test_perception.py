"""The Wijkprofiel index mode, the profile API and ``leefbaar perception`` on the real Rotterdam Wijkprofiel and
the real Leefbaarometer 2024 buurt scores."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leefbaar.analysis import perception as P
from leefbaar.analysis import wijkprofiel as W
from leefbaar.cli import app
from leefbaar.errors import StoreError
from leefbaar.index.classes import load_scheme
from leefbaar.store.store import Store
from test_buurt_data import buurt_store


@pytest.fixture(scope="module")
def store_path(tmp_path_factory, data_dir):
    return buurt_store(tmp_path_factory, data_dir)


@pytest.fixture(scope="module")
def store(store_path):
    with Store.open(store_path) as st:
        yield st


@pytest.fixture(scope="module")
def frame(store):
    return W.wijkprofiel_frame(store)


def test_published_indices_reproduced_from_their_parts(frame):
    """SI, FI, VI = mean(subjective, objective) and each part = mean of its themes, for every area and edition,
    exactly up to the published rounding (ten significant digits)."""
    assert len(frame) == 516 and sorted(frame["year"].unique()) == [2014, 2016, 2018, 2020, 2022, 2024]
    rep = W.reproduce(frame)
    assert rep.n_checked == 516 * 9
    assert rep.all_within_rounding
    assert set(rep.max_abs_diff) == {"SI", "FI", "VI", "SI_s", "SI_o", "FIs", "FIo", "VIs", "VIo"}
    assert max(rep.max_abs_diff.values()) < 1e-7
    # the check can fail: a wrong rule (objective part only) is far outside the rounding
    wrong = frame.assign(SI=frame["SI_o"])
    assert not W.reproduce(wrong).all_within_rounding


def test_index_mode_transform_and_rule(frame):
    out = W.WijkprofielIndex().transform(frame)
    for d in W.DIMENSIONS:
        np.testing.assert_allclose(out[d.index], frame[d.index], atol=2e-7)
        np.testing.assert_allclose(out[d.subjective], frame[d.subjective], atol=2e-7)
    assert W.combine_parts(80.0, 120.0) == 100.0
    assert W.combine_parts(80.0, 120.0, weight_subjective=0.25) == 90.0
    with pytest.raises(ValueError):
        W.combine_parts(1.0, 2.0, weight_subjective=1.5)
    city_2014 = frame[(frame["code"] == "WP5000") & (frame["year"] == 2014)].iloc[0]
    assert [round(city_2014[c], 6) for c in ("SI", "FI", "VI")] == [100.0, 100.0, 100.0]


def test_published_rounding():
    np.testing.assert_allclose(W.published_rounding([135.6142403, 0.9249399112, 0.0]), [5e-8, 5e-11, 0.0])


def test_profile_api(store):
    prof = W.wijkprofiel_profile(store, 10)
    assert prof.area["code"] == "WP0010" and prof.area["name"] == "Stadsdriehoek"
    assert prof.area["cbs_codes"] == "BU05990110" and prof.area["gebied"] == "Rotterdam Centrum"
    assert len(prof.indices) == 6 * 3
    np.testing.assert_allclose(prof.indices["gap"], prof.indices["subjective"] - prof.indices["objective"])
    np.testing.assert_allclose(prof.indices["index"], (prof.indices["subjective"] + prof.indices["objective"]) / 2,
                               atol=2e-7)
    assert set(prof.themes["theme"]) >= {"zelfredzaamheid", "milieu", "overlast", "vis6", "as", "fis_alg"}
    assert prof.themes.loc[prof.themes["theme"] == "vis6", "objective"].isna().all()
    json.dumps(prof.to_dict())
    en = W.wijkprofiel_profile(store, "wp0010", lang="en")
    assert en.indices["label"].iloc[0] == "Social index"
    with pytest.raises(StoreError, match="no Wijkprofiel area 'WP0002'"):
        W.wijkprofiel_profile(store, 2)
    areas = W.wijkprofiel_areas(store)
    assert len(areas) == 86 and areas.set_index("code").loc["WP3006", "relation"] == "union"


def test_perception_gaps_ranked(frame):
    gaps = P.perception_gaps(frame)
    idx = gaps[(gaps["theme"] == "index") & (gaps["year"] == 2024) & (gaps["dimension"] == "veiligheid")]
    hoods = idx[idx["area_type"].isin(W.NEIGHBOURHOOD_TYPES)].sort_values("rank")
    assert len(hoods) == 71 and hoods["rank"].iloc[0] == 1
    assert hoods["gap"].is_monotonic_increasing
    assert idx.loc[idx["area_type"] == "stad", "rank"].isna().all()
    # least-squares residuals of the neighbourhoods sum to zero per edition and dimension
    assert abs(hoods["gap_residual"].sum()) < 1e-6
    np.testing.assert_allclose(gaps["gap"], gaps["subjective"] - gaps["objective"])
    assert {"index", "zelfredzaamheid", "wonen", "overlast"} <= set(gaps["theme"])


def test_safety_index_against_lbm_onv(store):
    cmp = P.lbm_comparison(store)
    assert (cmp.edition, cmp.lbm_year) == (2024, 2024)
    a = cmp.areas.set_index("code")
    assert a["relation"].value_counts().to_dict() == {"equal": 62, "union": 7}
    assert "WP1009" not in a.index  # Groot IJsselmonde-Noord shares its buurt: not comparable
    assert (a["scored_share"] >= P.MIN_SCORED_SHARE).all()
    stats = cmp.stats.set_index(["wijkprofiel", "lbm"])
    assert stats.loc[("VI", "onv"), "n"] == 69
    assert 0.8 < stats.loc[("VI", "onv"), "pearson_r"] < 0.9
    # same figure as the data notes for the 62 wijken that are exactly one CBS buurt (r = 0.88)
    single = a[(a["relation"] == "equal") & (a["area_type"] == "wijk")]
    assert round(single["VI"].corr(single["onv"]), 2) == 0.88
    lbm = store.table("buurt", years=[2024], indicators=["lbm_onv"]).set_index("code")
    assert a.loc["WP0010", "onv"] == lbm.loc["BU05990110", "lbm_onv"]
    assert cmp.areas["vis_residual"].is_monotonic_increasing


def test_buurt_layer_with_official_classes(store):
    layer = P.lbm_buurt_layer(store)
    assert len(layer) == 12147 and layer.crs.to_epsg() == 4326
    assert (layer["klasse_check"].astype(int) == layer["lbm_klasse"].astype(int)).all()
    labels = load_scheme().labels("total", "nl")
    assert set(layer["klasse_label"]) <= set(labels)
    assert layer.set_index("code").loc["BU05990110", "gemeente_code"] == "GM0599"


def check_outputs(out, lang):
    names = {p.name for p in out.iterdir()}
    assert {"perception_gaps.csv", "perception_ranked.csv", "safety_vs_lbm.csv", "safety_vs_lbm_stats.csv",
            "wijkprofiel_reproduction.csv", "chart_parts.png", "chart_ranking.png", "chart_city.png",
            "chart_safety_vs_lbm.png", "summary.md"} <= names
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert ("Grootste verschillen" if lang == "nl" else "Largest gaps") in summary
    assert ("binnen de publicatieafronding" if lang == "nl" else "within the published rounding") in summary
    ranked = pd.read_csv(out / "perception_ranked.csv")
    assert ranked["area_type"].isin(W.NEIGHBOURHOOD_TYPES).all()
    assert (out / "chart_parts.png").read_bytes()[:4] == b"\x89PNG"


def test_perception_command(store_path, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["perception", "--store", str(store_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Bospolder" in result.output  # the largest gap: FI 2024, residents far below the registers
    check_outputs(out, "nl")


def test_perception_summary_in_english(store, tmp_path):
    report = P.perception_report(store)
    big = report.largest.iloc[0]
    assert (big["name"], big["year"], big["dimension"]) == ("Bospolder", 2024, "fysiek") and big["gap"] < -70
    P.write_perception(report, tmp_path, lang="en")
    check_outputs(tmp_path, "en")
