"""The store built from the real shared data: counts match the files, values and statuses are right, the query
surface (pandas and Ibis) agrees, and the derived geography is sound."""

from __future__ import annotations

import csv
import gzip
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest


def count_rows(path) -> int:
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


@pytest.mark.parametrize("year,fname", [(2017, "cbs_pc4_2017_v3.csv"), (2018, "cbs_pc4_2018.csv"),
                                        (2019, "cbs_pc4_2019.csv"), (2020, "cbs_pc4_2020.csv"),
                                        (2021, "cbs_pc4_2021.csv"), (2022, "cbs_pc4_2022.csv"),
                                        (2023, "cbs_pc4_2023.csv")])
def test_cbs_pc4_counts_match_files(store, data_dir, year, fname):
    rows = count_rows(data_dir / "cbs_pc4" / fname)
    n = store.sql("SELECT count(DISTINCT o.code) AS n FROM observations o JOIN sources s USING (source_id) "
                  "WHERE s.family = 'cbs_pc4' AND o.year = ?", [year])["n"].iloc[0]
    assert n == rows
    assert 4050 <= n <= 4070


def test_leefbaarometer_years_and_rows(store, data_dir):
    years = store.sql("SELECT year, count(*) AS n FROM observations WHERE indicator = 'lbm' AND level = 'pc4' "
                      "GROUP BY year ORDER BY year")
    assert years["year"].tolist() == [2002, 2008, 2012, 2014, 2016, 2018, 2020, 2022]
    assert years["n"].sum() == count_rows(data_dir / "leefbaarometer/lbm3_pc4_scores_2002_2022.csv") == 32300
    # afw = lbm - 4.102265 and afw = sum of the dimensions, in the store as in the file
    wide = store.table("pc4", [2018], ["lbm", "lbm_afw", "lbm_won", "lbm_fys", "lbm_vrz", "lbm_soc", "lbm_onv"])
    np.testing.assert_allclose(wide["lbm"] - wide["lbm_afw"], 4.102265, atol=1e-6)
    dims = wide[["lbm_won", "lbm_fys", "lbm_vrz", "lbm_soc", "lbm_onv"]].sum(axis=1)
    np.testing.assert_allclose(dims, wide["lbm_afw"], atol=1e-12)
    # dimensions are not published before 2014: no rows, rather than missing rows
    assert store.sql("SELECT count(*) AS n FROM observations WHERE indicator = 'lbm_won' AND year < 2014")["n"][0] == 0


def test_wijk_and_gemeente_counts(store):
    counts = store.sql("SELECT level, vintage, count(*) AS n FROM areas WHERE level IN ('wijk', 'gemeente') "
                       "GROUP BY ALL")
    got = {(r.level, r.vintage): r.n for r in counts.itertuples()}
    assert got[("wijk", 2022)] == 3340
    assert got[("gemeente", 2022)] == 345
    assert got[("gemeente", 2017)] == 388  # water rows of the wijk- en buurtkaart are left out
    assert got[("wijk", 2017)] == 3070
    assert got[("gemeente", 2014)] == 403
    assert got[("gemeente", 2024)] == 342 and got[("wijk", 2024)] == 3393
    pop = store.sql("SELECT sum(value) AS s FROM observations WHERE level = 'gemeente' AND year = 2022 "
                    "AND indicator = 'inwoner'")["s"].iloc[0]
    assert pop == 17_590_672


def test_suppression_codes_become_null_with_status(store, data_dir):
    raw = pd.read_csv(data_dir / "cbs_pc4/cbs_pc4_2022.csv", dtype=str, keep_default_na=False)
    suppressed = raw.loc[raw["STED"].str.strip() == "-99997", "PC4"].tolist()
    assert suppressed
    got = store.sql("SELECT code, value, status FROM observations WHERE indicator = 'sted' AND year = 2022 "
                    "AND level = 'pc4' AND code IN (SELECT unnest(?))", [suppressed])
    assert len(got) == len(suppressed)
    assert got["value"].isna().all() and (got["status"] == "suppressed").all()
    # no CBS code ever survives as a number
    assert store.sql("SELECT count(*) AS n FROM observations WHERE value IN (-99997, -99995, -99999999)")["n"][0] == 0
    # counts rounded by CBS are marked, values kept
    st = store.sql("SELECT status, value FROM observations WHERE indicator = 'inwoner' AND level = 'pc4' "
                   "AND year = 2022 AND code = '3072'")
    assert st["status"].iloc[0] == "rounded" and st["value"].iloc[0] == float(
        raw.loc[raw["PC4"] == "3072", "INWONER"].iloc[0])


def test_income_text_class_and_ses_decimal_comma(store):
    inc = store.table("pc4", [2018], ["m_inkhh_pct"], with_status=True)
    assert set(inc["m_inkhh_pct"].dropna().unique()) <= {10, 20, 30, 40, 50, 60, 70, 80, 90}
    assert (inc["m_inkhh_pct__status"] == "suppressed").sum() == 59  # 'onclassificeerbaar' in 2018
    ses = store.table("pc4", [2021], ["ses_totaal"])
    row = ses[ses["code"] == "1011"]
    assert row["ses_totaal"].iloc[0] == pytest.approx(0.111)


def test_table_pandas_and_ibis_agree(store):
    pdf = store.table("pc4", [2020, 2022], ["lbm", "wozwoning"])
    expr = store.table("pc4", [2020, 2022], ["lbm", "wozwoning"], ibis=True)
    idf = expr.to_pandas().sort_values(["code", "year"], ignore_index=True)[["code", "year", "lbm", "wozwoning"]]
    pd.testing.assert_frame_equal(pdf.reset_index(drop=True), idf, check_dtype=False)


def test_unknown_indicator_is_a_clear_error(store):
    from leefbaar.errors import StoreError

    with pytest.raises(StoreError, match="unknown indicator 'woz'"):
        store.table("pc4", [2022], ["woz"])


def test_provenance_every_observation_has_a_source(store):
    orphan = store.sql("SELECT count(*) AS n FROM observations o ANTI JOIN sources s USING (source_id)")["n"][0]
    assert orphan == 0
    src = store.sql("SELECT * FROM sources WHERE family = 'lbm3_pc4'")
    assert len(src) == 1 and len(src["sha256"].iloc[0]) == 64 and "BZK" in src["publisher"].iloc[0]
    runs = store.sql("SELECT command, status FROM runs")
    assert (runs["command"] == "build").any()


def test_crosswalks_sum_to_one_and_know_the_mergers(store):
    sums = store.sql("SELECT from_level, from_vintage, to_vintage, from_code, sum(weight) AS w FROM crosswalks "
                     "GROUP BY ALL")
    np.testing.assert_allclose(sums["w"], 1.0, atol=1e-9)
    # Bellingwedde and Vlagtwedde merged into Westerwolde (GM1950) on 1 January 2018
    cw = store.sql("SELECT from_code, to_code, weight FROM crosswalks WHERE from_level = 'gemeente' "
                   "AND from_vintage = 2017 AND to_vintage = 2022 AND from_code IN ('GM0007', 'GM0048')")
    assert set(cw["to_code"]) == {"GM1950"} and (cw["weight"] > 0.99).all()
    back = store.sql("SELECT to_code, weight FROM crosswalks WHERE from_vintage = 2022 AND to_vintage = 2017 "
                     "AND from_code = 'GM1950' ORDER BY weight DESC")
    assert set(back["to_code"]) == {"GM0007", "GM0048"}
    # an unchanged gemeente maps onto itself
    ams = store.sql("SELECT to_code, weight FROM crosswalks WHERE from_vintage = 2014 AND to_vintage = 2017 "
                    "AND from_code = 'GM0363'")
    assert ams["to_code"].tolist() == ["GM0363"] and ams["weight"].iloc[0] == pytest.approx(1.0)


def test_pc4_to_gemeente(store):
    pc4 = store.sql("SELECT code, gemeente_code FROM areas WHERE level = 'pc4' AND vintage = 2022")
    lookup = dict(zip(pc4["code"], pc4["gemeente_code"], strict=True))
    assert lookup["3072"] == "GM0599"  # Rotterdam
    assert lookup["1011"] == "GM0363"  # Amsterdam
    assert lookup["9711"] == "GM0014"  # Groningen
    assert pc4["gemeente_code"].notna().mean() > 0.99


def test_geometries_in_both_crs(store):
    rd = store.geometries("pc4")
    wgs = store.geometries("pc4", crs=4326)
    assert len(rd) == len(wgs) == 4066
    x0, y0, x1, y1 = wgs.total_bounds
    assert 3.2 < x0 < x1 < 7.3 and 50.7 < y0 < y1 < 53.6
    assert rd.geometry.is_valid.all()


def test_cli_show_and_indicators(store_file):
    run = [sys.executable, "-m", "leefbaar"]
    out = subprocess.run([*run, "show", "PC4", "3072", "--year", "2022", "--store", str(store_file)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "wozwoning" in out.stdout and "GM0599" in out.stdout
    out = subprocess.run([*run, "indicators", "--search", "woz", "--store", str(store_file)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "wozwoning" in out.stdout
    out = subprocess.run([*run, "show", "PC4", "3072", "--year", "1990", "--store", str(store_file)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("leefbaar: error: geen waarnemingen voor pc4 3072 in 1990")
