"""The programmes, resolve-areas and evaluate commands on the real store."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leefbaar.cli import app
from leefbaar.errors import LeefbaarError, SpecError, StoreError
from leefbaar.evaluation.registry import programmes_for_area
from leefbaar.store.store import Store


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture(scope="module")
def resolved(store_file, tmp_path_factory):
    base = tmp_path_factory.mktemp("evaluation")
    path = base / "store.duckdb"
    shutil.copy(store_file, path)
    r = run("resolve-areas", "--store", path, "--out", base / "resolved")
    assert r.exit_code == 0, r.output
    return path, base / "resolved"


def test_resolve_areas_writes_the_reviewable_file_and_stores_areas(resolved):
    path, out = resolved
    m = pd.read_csv(out / "area_matches.csv")
    assert {"name_as_listed", "component", "method", "confidence", "codes", "note", "pc4_main"} <= set(m.columns)
    assert m.loc[m["list_id"] == "vogelaarwijken_2007", "name_as_listed"].nunique() == 41
    unresolved = pd.read_csv(out / "unresolved.csv")
    assert (unresolved["confidence"] == "unresolved").all() and unresolved["note"].notna().all()
    with Store.open(path) as st:
        pc4 = st.sql("SELECT programme, count(*) FILTER (WHERE share_confident >= 0.5) AS n FROM programme_areas "
                     "WHERE level = 'pc4' GROUP BY programme").set_index("programme")["n"]
        assert pc4["krachtwijken"] >= 50 and pc4["apcg_2019"] == 429 and pc4["nprz"] >= 5
        partial = st.sql("SELECT DISTINCT partial FROM programme_areas WHERE programme = 'wijken_56'")
        assert partial["partial"].all()
        assert "resolve-areas" in set(st.sql("SELECT command FROM runs")["command"])
        hits = programmes_for_area(st, "pc4", "3074")  # Hillesluis, Rotterdam-Zuid
        assert {"nprz", "krachtwijken"} <= set(hits["programme"])
        assert hits.set_index("programme").loc["nprz", "confidence"] == "high"


def _match(path, gm, component):
    with Store.open(path) as st:
        hit = st.sql("SELECT * FROM area_matches WHERE gm_code = ? AND component = ?", [gm, component])
    assert len(hit) == 1, (gm, component)
    return hit.iloc[0]


def test_vogelaar_wijken_resolve_to_the_right_codes(resolved):
    path, _ = resolved
    r = _match(path, "GM0202", "Klarendal")
    assert (r["codes"], r["level"], r["confidence"], r["method"]) == ("WK020207", "wijk", "high", "exact")
    assert _match(path, "GM0344", "Overvecht")["codes"] == "WK034403"
    assert _match(path, "GM0479", "Poelenburg")["codes"] == "WK047912"
    assert _match(path, "GM0599", "Oude Westen")["codes"] == "BU05990111"
    assert _match(path, "GM0307", "De Kruiskamp")["codes"] == "WK030707"
    dh = _match(path, "GM0518", "Schilderswijk")  # automatic stem match, confirmed in the reviewed file
    assert dh["codes"] == "WK051829" and dh["confidence"] == "high" and "reviewed" in dh["note"]
    with Store.open(path) as st:
        m = st.sql("SELECT * FROM area_matches WHERE list_id = 'vogelaarwijken_2007'")
    parts = m[m["name_as_listed"].str.startswith("Zuidwest (")]
    assert set(parts["component"]) == {"Bouwlust", "Vrederust", "Morgenstond", "Moerwijk"}
    oost = _match(path, "GM0363", "delen van Amsterdam-Oost")
    assert oost["confidence"] == "envelope" and "not delimited" in oost["note"]


def test_nprz_focuswijken_are_buurten_and_overlay_on_pc4(resolved):
    path, out = resolved
    with Store.open(path) as st:
        m = st.sql("SELECT * FROM area_matches WHERE list_id = 'nprz_focuswijken'")
        pc4 = st.sql("SELECT * FROM programme_areas WHERE programme = 'nprz' AND level = 'pc4'").set_index("code")
    assert len(m) == 7 and (m["level"] == "buurt").all()
    assert _match(path, "GM0599", "Feijenoord")["codes"] == "BU05991087"  # the buurt, not wijk WK059910
    assert pc4.loc["3074", "share_confident"] > 0.5  # Hillesluis
    assert pc4["share"].between(0, 1).all() and (pc4["share_confident"] <= pc4["share"] + 1e-9).all()
    assert set(pc4["first_post_year"]) == {2013}
    stats = pd.read_csv(out / "resolution_stats.csv").set_index("link")
    assert stats.loc["nprz_focuswijken", "unresolved"] == 0
    assert stats.loc["vogelaarwijken_2007", "high"] >= 25


def test_programmes_lists_and_exports_the_registry(resolved, tmp_path):
    path, _ = resolved
    r = run("programmes", "--store", path, "--out", tmp_path, "--lang", "en")
    assert r.exit_code == 0, r.output
    frame = pd.read_csv(tmp_path / "programmes.csv").set_index("id")
    assert frame.loc["krachtwijken", "pc4"] >= 50 and frame.loc["isv_1", "budget_eur"] == 1.8e9
    assert len(json.loads((tmp_path / "programmes.json").read_text())["programmes"]) == len(frame)
    inv = pd.read_csv(tmp_path / "investment.csv")
    assert inv["nature"].str.startswith("descriptive").all()


def test_evaluate_writes_the_report_folder(resolved, tmp_path):
    path, _ = resolved
    out = tmp_path / "nprz"
    r = run("evaluate", "nprz", "--outcome", "lbm", "--store", path, "--out", out, "--permutations", 19,
            "--placebos", 8, "--record")
    assert r.exit_code == 0, r.output
    for name in ("estimates.csv", "balance.csv", "did_periods.csv", "event_study.csv", "treated_areas.csv",
                 "investment.csv", "summary.md", "run.json", "trends.png", "placebo.png", "balance.png",
                 "event_study.png"):
        assert (out / name).exists(), name
    est = pd.read_csv(out / "estimates.csv")
    effect = est[est["method"] == "matched_did"]
    if (effect["status"] == "ok").all():
        assert np.isfinite(effect["estimate"]).all() and (effect["ci_low"] <= effect["ci_high"]).all()
    else:  # withheld: no number, and the reason instead
        assert effect["estimate"].isna().all() and effect["note"].str.len().min() > 10
    text = (out / "summary.md").read_text(encoding="utf-8")
    assert "## Conclusie" in text and "Investeringen (beschrijvend)" in text and "geen effect" in text
    assert "Regio Deal" in text  # the stated budget, descriptively
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["config"]["n_permutations"] == 19 and run_info["panel"]["treated_in_panel"] >= 5
    assert set(run_info["panel"]["cohorts"]) == {"2013"}
    with Store.open(path) as st:
        stored = st.sql("SELECT * FROM evaluation_results WHERE programme = 'nprz'")
        assert len(stored) == len(est)


def test_evaluate_says_plainly_when_data_cannot_support_a_conclusion(resolved, tmp_path):
    path, _ = resolved
    # the national programme of 2022 has no Leefbaarometer measurement after its start
    r = run("evaluate", "nplv_2022", "--store", path, "--out", tmp_path / "nplv", "--permutations", 9)
    assert r.exit_code == 0, r.output
    text = (tmp_path / "nplv" / "summary.md").read_text(encoding="utf-8")
    assert "Er is geen conclusie mogelijk" in text and "geen meting na de start" in text
    est = pd.read_csv(tmp_path / "nplv" / "estimates.csv")
    assert est.loc[~est["diagnostic"], "estimate"].isna().all()
    # one measurement before the Vogelaar start only: the pre-trend cannot be checked
    r = run("evaluate", "krachtwijken", "--from", 2008, "--to", 2014, "--store", path, "--out", tmp_path / "kw",
            "--permutations", 9, "--lang", "en")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "kw" / "summary.md").read_text(encoding="utf-8")
    assert "## Conclusion" in text and "No conclusion is possible" in text
    assert "too few pre-period measurements" in text


def test_errors_are_one_line(store_file, monkeypatch, capsys):
    from leefbaar.cli import main

    monkeypatch.setattr(sys, "argv", ["leefbaar", "evaluate", "gsb", "--store", str(store_file)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("leefbaar: error:") and "has no areas attached" in lines[0]


@pytest.mark.parametrize("args, error, message", [
    (["evaluate", "kracht"], SpecError, "did you mean krachtwijken"),
    (["evaluate", "nprz", "--outcome", "nonsense"], StoreError, "unknown outcome"),
    (["evaluate", "nprz", "--from", "2014", "--to", "2008"], LeefbaarError, "is after"),
])
def test_bad_requests_raise_clear_errors(store_file, args, error, message):
    result = CliRunner().invoke(app, [*args, "--store", str(store_file), "--lang", "en"], catch_exceptions=True)
    assert isinstance(result.exception, error) and message in str(result.exception)
