"""Name resolution of policy areas: pure matching rules, and real Vogelaar/NPRZ names against the store."""

from __future__ import annotations

import pandas as pd
import pytest

from leefbaar.errors import InputError
from leefbaar.evaluation.registry import Registry, load_programmes
from leefbaar.evaluation.resolve import (
    Candidate,
    Candidates,
    load_reviews,
    match_component,
    normalise,
    resolve_programme_areas,
    split_components,
)


def test_normalise_and_split():
    assert normalise("Wijk 03 Overvecht") == "overvecht"
    assert normalise("Malburgen-Oost (Noord)") == "malburgen oost noord"
    assert normalise("Súdwest-Fryslân") == "sudwest fryslan"
    assert split_components("Zuidwest (Bouwlust, Vrederust, Morgenstond en Moerwijk)")[0] == [
        "Bouwlust", "Vrederust", "Morgenstond", "Moerwijk"]
    assert split_components("Malburgen / Immerloo") == (["Malburgen / Immerloo"], None)
    assert split_components("delen van Amsterdam-Oost")[0] == []
    assert "no area name" in split_components("(wijk not named on page)")[1]
    assert split_components("Overwhere-Zuid (deel)") == (["Overwhere-Zuid"], None)


def _cands(rows):
    return Candidates([Candidate.of(code, level, vintage, name, wijk) for code, level, vintage, name, wijk in rows])


def test_match_rules_on_constructed_names():
    cands = _cands([
        ("WK000101", "wijk", 2022, "Kralingen-Crooswijk", None),
        ("WK000101", "wijk", 2024, "Kralingen-Crooswijk", None),
        ("BU00010101", "buurt", 2024, "Oud Crooswijk", "WK000101"),
        ("BU00010102", "buurt", 2024, "Nieuw Crooswijk", "WK000101"),
        ("WK000102", "wijk", 2022, "Wijk 02 Bouwlust en Vrederust", None),
        ("WK000103", "wijk", 2022, "Wijk 03 Transvaalkwartier", None),
        ("WK000104", "wijk", 2022, "Buitenwijk Noordoost", None),
        ("WK000105", "wijk", 2022, "Feijenoord", None),
        ("WK000105", "wijk", 2024, "Feijenoord", None),
        ("BU00010501", "buurt", 2024, "Feijenoord", "WK000105"),
        ("BU00010502", "buurt", 2024, "Bloemhof", "WK000105"),
    ])
    m = match_component("Crooswijk", cands, set())
    assert (m.method, m.confidence, m.level) == ("family", "medium", "buurt")
    assert sorted(m.codes) == ["BU00010101", "BU00010102"]  # not the wijk Kralingen-Crooswijk
    m = match_component("Vrederust", cands, set())
    assert (m.method, m.codes) == ("part_of_name", ["WK000102"])
    m = match_component("Transvaal", cands, set())
    assert (m.method, m.confidence) == ("stem", "low")
    assert match_component("Noordoost", cands, set()).codes == ["WK000104"]
    assert match_component("Oost", cands, set()).method == "unresolved"  # a bare direction is not a place
    # the same name as wijk and buurt: buurt when the list also names buurten of that wijk
    assert match_component("Feijenoord", cands, {"bloemhof"}).level == "buurt"
    m = match_component("Feijenoord", cands, set())
    assert m.level == "wijk" and m.confidence == "medium" and "BU00010501" in m.alternatives
    m = match_component("Stad Feijenoord", cands, set(), ("stad",))
    assert m.level == "wijk" and "removed" in m.note
    assert "no wijk or buurt" in match_component("Atlantis", cands, set()).note


def test_packaged_reviews_are_valid(tmp_path):
    reviews = load_reviews()
    assert set(reviews["decision"]) <= {"accept", "reject", "replace", "envelope"}
    assert reviews["reason"].str.len().min() > 20
    bad = tmp_path / "review.csv"
    bad.write_text("list_id,gm_code,name_as_listed,component,decision,level,vintage,codes,confidence,reason\n"
                   "x,GM0001,A,A,replace,wijk,,WK000101,high,because\n", encoding="utf-8")
    with pytest.raises(InputError, match="row 2.*replace needs"):
        load_reviews(bad)


@pytest.fixture(scope="module")
def resolution(store_file):
    from leefbaar.store.store import Store

    reg = load_programmes()
    with Store.open(store_file) as st:
        return resolve_programme_areas(st, Registry([reg.get("krachtwijken"), reg.get("nprz")]))


def _row(res, gm, component):
    m = res.matches
    hit = m[(m["gm_code"] == gm) & (m["component"] == component)]
    assert len(hit) == 1, (gm, component)
    return hit.iloc[0]


def test_vogelaar_wijken_resolve_to_the_right_codes(resolution):
    r = _row(resolution, "GM0202", "Klarendal")
    assert (r["codes"], r["level"], r["confidence"], r["method"]) == ("WK020207", "wijk", "high", "exact")
    assert _row(resolution, "GM0344", "Overvecht")["codes"] == "WK034403"
    assert _row(resolution, "GM0479", "Poelenburg")["codes"] == "WK047912"
    assert _row(resolution, "GM0599", "Oude Westen")["codes"] == "BU05990111"
    assert _row(resolution, "GM0307", "De Kruiskamp")["codes"] == "WK030707"
    dh = _row(resolution, "GM0518", "Schilderswijk")  # automatic stem match, confirmed in the reviewed file
    assert dh["codes"] == "WK051829" and dh["confidence"] == "high" and "reviewed" in dh["note"]
    parts = resolution.matches[resolution.matches["name_as_listed"].str.startswith("Zuidwest (")]
    assert set(parts["component"]) == {"Bouwlust", "Vrederust", "Morgenstond", "Moerwijk"}
    # nothing silently dropped: every listed name is in the match table, with a reason when not placed
    m = resolution.matches[resolution.matches["link"] == "vogelaarwijken_2007"]
    assert m["name_as_listed"].nunique() == 41
    oost = _row(resolution, "GM0363", "delen van Amsterdam-Oost")
    assert oost["confidence"] == "envelope" and "not delimited" in oost["note"]


def test_nprz_focuswijken_are_buurten_and_overlay_on_pc4(resolution):
    m = resolution.matches[resolution.matches["link"] == "nprz_focuswijken"]
    assert len(m) == 7 and (m["level"] == "buurt").all()
    assert _row(resolution, "GM0599", "Feijenoord")["codes"] == "BU05991087"  # the buurt, not wijk WK059910
    a = resolution.areas
    pc4 = a[(a["programme"] == "nprz") & (a["level"] == "pc4")].set_index("code")
    assert pc4.loc["3074", "share_confident"] > 0.5  # Hillesluis
    assert pc4["share"].between(0, 1).all() and (pc4["share_confident"] <= pc4["share"] + 1e-9).all()
    assert set(pc4["first_post_year"]) == {2013}
    stats = resolution.stats().set_index("link")
    assert stats.loc["nprz_focuswijken", "unresolved"] == 0
    assert stats.loc["vogelaarwijken_2007", "high"] >= 25
    assert isinstance(resolution.matches, pd.DataFrame)
