"""Scores at gemeente, wijk and 2024 PC4 aggregated by residents from the official measurements (kind aggregated).

Known answers: a resident-weighted mean computed by hand below; on the real store, one gemeente recomputed from
the raw crosswalk, residents and official scores, the LBM 2.0 class agreement (floors stated below the values
measured on 2026-11-28: gemeente exact 0.569 / within one class 0.966, wijk 0.414 / 0.857) and the coverage of
the 2024 PC4 values.
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from leefbaar.analysis import levels as lv
from leefbaar.cli.levels import summary_markdown
from leefbaar.geo.aggregate import resident_weights, weighted_mean
from leefbaar.store.store import Store


def test_resident_weighted_mean_by_hand():
    # PC4 A: 1000 residents, all in GM1. B: 3000 residents, half its surface in GM1, half in GM2.
    # C: 500 residents in GM2, no official score.
    shares = pd.DataFrame({"from_code": ["A", "B", "B", "C"], "to_code": ["GM1", "GM1", "GM2", "GM2"],
                           "weight": [1.0, 0.5, 0.5, 1.0]})
    w = resident_weights(shares, pd.Series({"A": 1000.0, "B": 3000.0, "C": 500.0}))
    values = pd.DataFrame({"afw": [0.10, -0.02, np.nan], "won": [0.04, -0.01, np.nan]}, index=["A", "B", "C"])
    out = weighted_mean(values, w, ["afw", "won"])
    # GM1: (1000 * 0.10 + 1500 * -0.02) / 2500 = 70 / 2500 = 0.028; won (40 - 15) / 2500 = 0.01
    assert out.loc["GM1", "afw"] == pytest.approx(0.028, abs=1e-12)
    assert out.loc["GM1", "won"] == pytest.approx(0.01, abs=1e-12)
    # GM2: only B has a score: -0.02; it holds 1500 of the 2000 estimated residents
    assert out.loc["GM2", "afw"] == pytest.approx(-0.02, abs=1e-12)
    assert out.loc["GM2", "coverage"] == pytest.approx(0.75)
    assert out.loc["GM2", "residents"] == pytest.approx(2000.0)
    frame = values.reindex(columns=lv.VALUES).rename_axis("code").reset_index().assign(year=2022)
    pop = pd.DataFrame({"code": ["A", "B", "C"], "year": 2022, "weight": [1000.0, 3000.0, 500.0],
                        "weight_year": 2022})
    kept, _ = lv.aggregate(frame, pop, shares, min_coverage=0.8)
    assert kept["code"].tolist() == ["GM1"]  # GM2 (coverage 0.75) is not offered


@pytest.fixture(scope="module")
def levels_store(store_file, tmp_path_factory):
    """A copy of the session store with the aggregated levels written (the session store stays read-only)."""
    path = tmp_path_factory.mktemp("levels") / "l.duckdb"
    shutil.copy(store_file, path)
    with Store.open(path, read_only=False) as st:
        result = lv.build_levels(st)
        lv.write_levels(st, result, {"test": True})
    return path, result


def test_real_gemeente_recomputed_and_kind(levels_store):
    path, result = levels_store
    with Store.open(path) as st:
        # a gemeente with few PC4: recompute its 2022 afw from the raw rows, independently of the module
        cw = st.sql("SELECT from_code, weight FROM crosswalks WHERE from_level = 'pc4' AND to_level = 'gemeente' "
                    "AND to_vintage = 2022 AND to_code = 'GM0244'")
        raw = st.sql("SELECT code, indicator, value FROM observations WHERE level = 'pc4' AND "
                     "((indicator = 'lbm_afw' AND year = 2022) OR (indicator = 'inwoner' AND year = 2022))")
        stored = st.sql("SELECT * FROM scores WHERE level = 'gemeente' AND code = 'GM0244' AND year = 2022")
        available = lv.available(st)
    assert 2 <= len(cw) <= 8
    v = raw.pivot(index="code", columns="indicator", values="value").reindex(cw["from_code"])
    r = v["inwoner"].fillna(0).to_numpy() * cw["weight"].to_numpy()
    ok = v["lbm_afw"].notna().to_numpy()
    expected = float((r[ok] * v["lbm_afw"].to_numpy()[ok]).sum() / r[ok].sum())
    assert stored["afw"].iloc[0] == pytest.approx(expected, abs=1e-12)
    assert stored["kind"].iloc[0] == "aggregated" and stored["spec"].iloc[0] == lv.SPEC
    assert stored["total"].iloc[0] == pytest.approx(4.102265 + expected, abs=1e-9)
    assert pd.isna(stored["total_lo"].iloc[0])  # no interval is claimed for an aggregated value
    sc = result.scores
    assert set(sc["kind"]) == {"aggregated"}
    dims = sc.dropna(subset=["won"])
    # a weighted mean keeps afw = sum of the dimensions (the 2024 buurt file itself holds it to 2e-6)
    assert np.allclose(dims[["won", "fys", "vrz", "soc", "onv"]].sum(axis=1), dims["afw"], atol=5e-6)
    offered = set(map(tuple, available[["level", "year"]].to_numpy()))
    assert {("gemeente", 2002), ("gemeente", 2022), ("gemeente", 2024), ("wijk", 2016), ("wijk", 2024),
            ("pc4", 2024)} <= offered


def test_lbm2_agreement_floors(levels_store):
    path, result = levels_store
    with Store.open(path) as st:
        ag = lv.lbm2_agreement(st, result)
    total = ag[ag["year"] == "all"].set_index(["level", "subset"])
    gm = total.loc[("gemeente", "boundaries 2017, all")]
    wk = total.loc[("wijk", "boundaries 2022, all codes")]
    assert gm["n"] >= 1900 and gm["within_1"] >= 0.93 and gm["exact"] >= 0.50
    assert wk["n"] >= 11000 and wk["within_1"] >= 0.82 and wk["exact"] >= 0.38
    with Store.open(path) as st:
        available = lv.available(st)
    empty = pd.DataFrame(columns=["test", "what", "n", "spearman", "r2", "mae", "sd_change"])
    nl = summary_markdown(available, ag, empty, 1, [2002, 2022], 0.5, "nl")
    en = summary_markdown(available, ag, empty, 1, [2002, 2022], 0.5, "en")
    assert "grenzen 2017, alle" in nl and "0,9" in nl and not {"boundaries", "aggregated", "official"} & set(nl.split())
    assert "boundaries 2017, all" in en and not {"grenzen", "geaggregeerd", "officieel", "alle"} & set(en.split())


def test_2024_pc4_coverage(levels_store):
    path, result = levels_store
    pc4 = result.scores[(result.scores["level"] == "pc4") & (result.scores["year"] == 2024)]
    with Store.open(path) as st:
        official = lv.official_scores(st, "pc4")
        pop = st.sql("SELECT code, value FROM observations WHERE level = 'pc4' AND indicator = 'inwoner' "
                     "AND year = 2023 AND value IS NOT NULL").set_index("code")["value"]
    n2022 = official.loc[official["year"] == 2022, "code"].nunique()
    assert len(pc4) >= 0.97 * n2022  # measured: 4,010 of 4,057
    assert pop.reindex(pc4["code"]).sum() >= 0.99 * pop.sum()
    assert pc4["afw"].between(-0.8, 0.6).all() and pc4["klasse"].between(1, 9).all()
