"""One set of facts behind every surface (issue 11): the CLI, the JSON API, the rendered dashboard page and the
gemeente report state the same programme membership, kind, class (or "not classed"), rank and interval level;
a programme's area count is the same number everywhere; explanations add up to the change shown.

Known answers independent of the facts layer: Overvecht (3563) and Pendrecht (3086) are confidently matched
Vogelaar (krachtwijken) areas in the store's ``programme_areas``; 1071 (Amsterdam-Zuid) is not; 6877 (Hoenderloo,
20 residents) falls under the small-area rule.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import CHROMIUM, CHROMIUM_ARGS, VENDOR, copy_store, dashboard_server
from leefbaar.cli import app as cli_app
from leefbaar.facts import Facts, load_rules
from leefbaar.store.store import Store

CODES = ["3563", "3086", "3072", "1071", "6877"]


def run(*args):
    r = CliRunner().invoke(cli_app, [str(a) for a in args], catch_exceptions=False, terminal_width=400)
    assert r.exit_code == 0, r.output
    return " ".join(r.output.split())


@pytest.fixture(scope="module")
def scored(scored_file, tmp_path_factory) -> Path:
    """A copy of the session's scored store (resolved programme areas, index scores for 2021 (modelled) and
    2022)."""
    return copy_store(scored_file, tmp_path_factory.mktemp("facts"))


@pytest.fixture(scope="module")
def facts(scored):
    with Store.open(scored) as st:
        f = Facts(st)
        f.scores("pc4"), f.areas, f.membership  # noqa: B018 - prepared while the store is open
        yield f


@pytest.fixture(scope="module")
def api(scored):
    from leefbaar.web.app import create_app

    with TestClient(create_app(scored, warm=False), raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def reports(scored, facts, tmp_path_factory):
    """The report of each gemeente of CODES: its ranking and programmes tables and its method text. Rotterdam's
    is written in full (HTML, PDF, CSV); the others are the same report content without the PDF pages."""
    from leefbaar.report.data import DashboardData
    from leefbaar.report.gemeente import _Content, build_report

    out = tmp_path_factory.mktemp("reports")
    rep = build_report(scored, "GM0599", out, lang="nl")
    tables = {"GM0599": {"ranking": pd.read_csv(out / "report_GM0599_ranking.csv", dtype={"code": str}),
                         "programmes": pd.read_csv(out / "report_GM0599_programmes.csv"),
                         "html": rep.html.read_text(encoding="utf-8")}}
    with Store.open(scored) as st:
        data = DashboardData(st)
        for gm in sorted({facts.area("pc4", c)["gemeente_code"] for c in CODES} - {"GM0599"}):
            c = _Content(data, gm, "pc4", None, "nl")
            tables[gm] = {"ranking": c.ranked_table().astype({"code": str}), "programmes": c.programmes,
                          "html": " ".join(c.method())}
    return tables


def _cli_facts(scored, code: str) -> dict:
    text = run("show", "pc4", code, "--store", scored)
    kind = re.search(r"score \d{4}: [\d.,]+ \((\w+)\)", text).group(1)
    klass = re.search(r"; klasse (\d) \(", text)
    rank = re.search(r"rang ([\d.]+) van ([\d.]+)", text)
    members = re.findall(r"([^;]+?): in het programma \(", text.split("geen interval (officiële meting)")[-1])
    return {"kind": {"officieel": "official", "gemodelleerd": "modelled"}[kind],
            "klasse": int(klass.group(1)) if klass else None, "not_classed": "niet geklasseerd" in text,
            "rank": int(rank.group(1).replace(".", "")) if rank else None, "interval": "%-interval" in text,
            "members": sorted(m.strip() for m in members)}


def test_membership_kind_class_rank_and_interval_level_agree_on_every_surface(scored, facts, api, reports):
    with Store.open(scored) as st:  # the rule applied by hand to the stored resolution
        raw = st.sql("SELECT programme, code, max(share_confident) AS s FROM programme_areas WHERE level = 'pc4' "
                     "GROUP BY ALL")
    rule = load_rules()
    by_hand = {c: sorted(raw.loc[(raw["code"] == c) & (raw["s"] >= rule.min_share), "programme"]) for c in CODES}
    assert "krachtwijken" in by_hand["3563"] and "krachtwijken" in by_hand["3086"]
    assert "krachtwijken" not in by_hand["1071"]
    level = facts.interval_level
    assert level == 90  # the level of index.uncertainty, stated once
    for code in CODES:
        f = facts.score("pc4", code)
        name = {p: facts.programme_name(p, "nl") for p in by_hand[code]}
        # API
        p = api.get(f"/api/profile/pc4/{code}").json()
        assert sorted(m["programme"] for m in p["programmes"]["member"]) == by_hand[code], code
        assert (p["score"]["kind"], p["score"]["klasse"], p["score"]["rank"]) == (f["kind"], f["klasse"], f["rank"])
        assert p["interval_level"] == level and (p["score"]["interval"] is None) == (f["kind"] == "official")
        # CLI
        c = _cli_facts(scored, code)
        assert c["members"] == sorted(name.values()), code
        assert (c["kind"], c["klasse"], c["rank"]) == (f["kind"], f["klasse"], f["rank"]), code
        assert c["not_classed"] == (f["klasse"] is None) and c["interval"] == (f["interval"] is not None)
        # report
        gm = facts.area("pc4", code)["gemeente_code"]
        row = reports[gm]["ranking"].set_index("code").loc[code]
        assert (None if pd.isna(row["rang NL"]) else int(row["rang NL"])) == f["rank"], code
        assert (None if pd.isna(row["klasse"]) else int(row["klasse"])) == f["klasse"], code
        assert row["soort"] == f["kind_label"]["nl"]
        if f["klasse"] is None:
            assert row["klasse (tekst)"] == "niet geklasseerd"
        progs = reports[gm]["programmes"]
        label = facts.area("pc4", code)["label"]
        listed = progs["gebieden"].fillna("").str.split("; ")
        in_report = sorted(progs.loc[[label in xs for xs in listed], "programma"])
        assert in_report == sorted(name.values()), code
        assert f"{level}%-interval" in reports[gm]["html"]
    small = facts.score("pc4", "6877")
    assert small["klasse"] is None and small["rank"] is None and small["residents"] < rule.min_residents


def test_a_programme_has_one_area_count_everywhere(scored, facts, api, reports, tmp_path):
    from leefbaar.evaluation.panel import build_panel
    from leefbaar.evaluation.registry import load_programmes

    with Store.open(scored) as st:
        n_hand = int(st.sql("SELECT count(DISTINCT code) AS n FROM programme_areas WHERE level = 'pc4' AND "
                            "programme = 'krachtwijken' AND share_confident >= ?", [load_rules().min_share])["n"][0])
        evaluated = build_panel(st, load_programmes().get("krachtwijken"), "lbm").info["treated_listed"]
    assert n_hand > 40 and facts.programme_counts()["krachtwijken"]["members"] == n_hand
    assert evaluated == n_hand
    listed = re.search(r"│ krachtwijken │.*?(\d+) PC4 in het programma", run("programmes", "--store", scored))
    assert int(listed.group(1)) == n_hand
    run("trends", "--store", scored, "--out", tmp_path, "--group", "programmes", "--years", "2014,2022")
    summary = (tmp_path / "summary.md").read_text(encoding="utf-8")
    assert f"{n_hand} gebieden waarvan >= 50% van de inwoners in de programmagebieden van krachtwijken" in summary
    reg = {p["id"]: p for p in api.get("/api/programmes").json()["registry"]}
    assert reg["krachtwijken"]["pc4_members"] == n_hand
    progs = reports["GM0599"]["programmes"].set_index("programma")
    assert progs.loc[facts.programme_name("krachtwijken", "nl"), "PC4 in programma (heel NL)"] == n_hand


@pytest.mark.parametrize("code", ["3072", "2243", "1071", "3563"])
def test_explanation_parts_add_up_to_the_change_shown(scored, facts, api, code):
    with Store.open(scored) as st:  # afw by year, straight from the store
        afw = st.sql("SELECT year, afw FROM scores WHERE level = 'pc4' AND code = ?", [code]).set_index("year")["afw"]
        lbm = st.sql("SELECT year, value FROM observations WHERE level = 'pc4' AND code = ? AND indicator = "
                     "'lbm_afw'", [code]).set_index("year")["value"]
    afw = afw.combine_first(lbm)
    for y0, y1 in [(2021, 2022), (2014, 2022), (2002, 2021), (2018, 2021)]:
        e = facts.explain("pc4", code, y0, y1)
        parts = np.array([i["delta"] for i in e["items"]])
        assert e["total"] == pytest.approx(afw[y1] - afw[y0], abs=1e-9), (code, y0, y1)
        assert abs(parts.sum() - e["total"]) < 1e-9, (code, y0, y1)
        assert e["development_class"] in range(1, 8)
    p = api.get(f"/api/profile/pc4/{code}?year=2021").json()  # a modelled year: the nowcast part is named
    ch = p["change"]
    assert abs(sum(i["delta"] for i in ch["items"]) - ch["total"]) < 1e-9
    assert ch["to"] == 2021 and ch["total"] == pytest.approx(afw[2021] - afw[ch["from"]], abs=1e-9)
    assert ch["development_label"]["nl"]


@pytest.fixture(scope="module")
def dashboard(scored):
    """The dashboard served over the scored store (own process, ephemeral port); answers before warm-up ends."""
    if not Path(CHROMIUM).exists() or not VENDOR.exists():
        pytest.skip("Debian chromium or the front-end bundle is missing (scripts/setup-web.sh --test)")
    with dashboard_server(scored, ready=False) as base:
        yield base


@pytest.mark.browser
def test_the_rendered_profile_states_the_same_facts(dashboard, facts):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(locale="nl-NL")
        for code in CODES:
            f = facts.score("pc4", code)
            page.goto(f"{dashboard}/area/pc4/{code}")
            page.wait_for_selector("#score-kind", timeout=90_000)
            assert page.get_attribute("#score-kind", "data-kind") == f["kind"], code
            assert page.get_attribute("#score-class", "data-klasse") == str(f["klasse"] or "none"), code
            assert page.get_attribute("#score-rank", "data-rank") == str(f["rank"] or "none"), code
            assert page.get_attribute("#score-interval", "data-level") == str(facts.interval_level)
            if f["klasse"] is None:
                assert "niet geklasseerd" in page.inner_text("#score-class")
            members = sorted(page.locator("#programmes-member li").evaluate_all(
                "els => els.map(e => e.dataset.programme)"))
            assert members == sorted(m["programme"] for m in facts.area_programmes("pc4", code)["member"]), code
        page.goto(f"{dashboard}/programmes")
        page.wait_for_selector("[data-programme='krachtwijken'][data-members]", timeout=60_000)
        shown = page.get_attribute("[data-programme='krachtwijken'][data-members]", "data-members")
        assert int(shown) == facts.programme_counts()["krachtwijken"]["members"]
        browser.close()
