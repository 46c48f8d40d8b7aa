"""Name resolution of policy areas: the matching rules on constructed names (real names: test_evaluation_cli)."""

from __future__ import annotations

import pytest

from leefbaar.errors import InputError
from leefbaar.evaluation.resolve import (
    Candidate,
    Candidates,
    load_reviews,
    match_component,
    normalise,
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
