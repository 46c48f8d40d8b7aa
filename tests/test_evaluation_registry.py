"""The programme registry: coverage of the dossier's programmes, validation errors, investment arithmetic."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from leefbaar.errors import SpecError
from leefbaar.evaluation.investment import describe, investment_table
from leefbaar.evaluation.registry import load_programmes, parse_registry

REQUIRED = ["wederopbouw_stadssanering", "stadsvernieuwing", "sociale_vernieuwing", "pcg_beleid", "belstato", "gsb",
            "gsb_1", "gsb_2", "gsb_3", "isv_1", "isv_2", "isv_3", "wijken_56", "krachtwijken", "pluswijken_40",
            "nprz", "woningwet_2015", "decentralisaties_2015", "city_regio_deals", "proeftuinen_aardgasvrij",
            "plv_2019", "nplv_2022"]


@pytest.fixture(scope="module")
def registry():
    return load_programmes()


@pytest.fixture(scope="module")
def raw():
    from importlib import resources

    return yaml.safe_load((resources.files("leefbaar.catalogue") / "programmes.yaml").read_text(encoding="utf-8"))


def test_registry_covers_the_dossier_with_sources(registry):
    assert set(REQUIRED) <= set(registry.ids())
    for p in registry:
        assert p.sources, p.id
        assert p.themes and p.steering and p.core_problems_nl and p.core_problems_en
    assert (registry.get("gsb").start, registry.get("gsb").end) == (1995, 2012)
    assert registry.get("belstato").start == 1992
    assert registry.get("nplv_2022").end is None


def test_stated_budgets_are_as_in_the_dossier(registry):
    def amounts(pid):
        return [b.amount for b in registry.get(pid).budgets]

    assert amounts("isv_1") == [1.8e9] and amounts("isv_2") == [1.5e9] and amounts("isv_3") == [0.8e9]
    assert all(b.multiplier == 10 for i in (1, 2, 3) for b in registry.get(f"isv_{i}").budgets)
    assert registry.get("isv_3").budgets[0].approximate
    kw = registry.get("krachtwijken").budgets[0]
    assert kw.amount == 1e9 and kw.stated_per_resident_per_year == 388
    assert amounts("pluswijken_40") == [60e6]
    assert amounts("nprz") == [130e6]
    assert amounts("proeftuinen_aardgasvrij") == [120e6]
    assert [a.id for a in registry.get("krachtwijken").areas] == ["vogelaarwijken_2007"]
    assert {a.key for a in registry.get("proeftuinen_aardgasvrij").areas} == {
        "proeftuinen_aardgasvrije_wijken_partial:ronde=1", "proeftuinen_aardgasvrije_wijken_partial:ronde=3"}


def test_frame_and_json_for_the_timeline(registry):
    frame = registry.frame("en")
    assert list(frame["id"]) == registry.ids()
    row = frame.set_index("id").loc["krachtwijken"]
    assert row["period"] == "2007-2011"
    assert row["budget_eur"] == 1e9  # the Vogelaar levy finances it and is not added
    assert "about EUR 1 bn (2008-2011)" in row["budget_text"]
    data = json.loads(registry.to_json())
    assert len(data["programmes"]) == len(registry)
    assert registry.get("stadsvernieuwing").period() == "~1970-1995"


def test_unknown_programme_names_the_near_ones(registry):
    with pytest.raises(SpecError, match="did you mean krachtwijken"):
        registry.get("kracht")


@pytest.mark.parametrize("mutate, message", [
    (lambda p: p[0].update(start=1800), "field 'start'"),
    (lambda p: p[0].update(end=1940), "before start"),
    (lambda p: p[0].update(steering=["ministerie"]), "'ministerie' is not one of"),
    (lambda p: p[0].update(themes=[]), "field 'themes'"),
    (lambda p: p[0].update(sources=[]), "at least one source"),
    (lambda p: p[0].update(colour="red"), "unknown field 'colour'"),
    (lambda p: p[0].update(id="Bad Id"), "snake_case"),
    (lambda p: p[1].update(id=p[0]["id"]), "duplicate id"),
    (lambda p: p[0]["sources"][0].update(url="www.example.org"), "not an http"),
    (lambda p: next(x for x in p if x["id"] == "gsb_1").pop("parent"), "needs a parent"),
    (lambda p: next(x for x in p if x["id"] == "gsb_1").update(end=2015), "outside the parent"),
    (lambda p: next(x for x in p if x["id"] == "isv_1")["budgets"][0].update(amount=-5), "positive number"),
    (lambda p: next(x for x in p if x["id"] == "isv_1")["budgets"][0].update(years=[2004, 2000]), "from <= to"),
    (lambda p: next(x for x in p if x["id"] == "krachtwijken")["areas"][0].update(first_post_year=2001),
     "before adoption"),
    (lambda p: next(x for x in p if x["id"] == "krachtwijken")["areas"][0].update(source="map"), "'map' is not"),
])
def test_bad_entries_get_a_clear_error(raw, mutate, message):
    data = copy.deepcopy(raw)
    mutate(data["programmes"])
    with pytest.raises(SpecError, match=message):
        parse_registry(data, "test.yaml")


def test_bad_documents(raw):
    with pytest.raises(SpecError, match="'programmes' list"):
        parse_registry({"version": 1}, "x.yaml")
    with pytest.raises(SpecError, match="version"):
        parse_registry({**raw, "version": 2}, "x.yaml")
    with pytest.raises(SpecError, match="empty"):
        parse_registry({"version": 1, "programmes": []}, "x.yaml")


def test_investment_arithmetic_is_descriptive(registry):
    t = investment_table(registry, ["krachtwijken", "isv"], residents={"krachtwijken": 500_000})
    kw = t[(t["programme"] == "krachtwijken") & t["counted_in_programme_total"]].iloc[0]
    assert kw["eur_per_year"] == pytest.approx(1e9 / 4)
    assert kw["implied_residents"] == pytest.approx(1e9 / 4 / 388)
    assert kw["eur_per_resident_per_year_resolved"] == pytest.approx(1e9 / 4 / 500_000)
    isv1 = t[t["programme"] == "isv_1"].iloc[0]
    assert isv1["implied_other_investment"] == pytest.approx(18e9)
    assert isv1["implied_total_investment"] == pytest.approx(19.8e9)
    assert set(t["programme"]) == {"krachtwijken", "pluswijken_40", "isv_1", "isv_2", "isv_3"}
    assert t["nature"].str.contains("geen effect").all()
    lines = describe(t, "en")
    assert all(line.endswith("(descriptive, not an effect).") for line in lines)
    assert any("1:10" in line and "EUR 18 bn" in line for line in lines)
