"""No English in Dutch output and no Dutch in English output: CLI text and summary.md of the commands with --lang,
run on the session store in both languages and scanned with the word-list heuristic of ``tests/language.py``.

Covered: the monitoring commands and ``evaluate`` (output and summary.md), the store commands (``summary``,
``show``, ``indicators``), the programme commands (``programmes``, ``resolve-areas``), ``explain``, ``export``,
``serve`` (its start line), ``download`` and ``build`` (against the loopback CBS server of ``tests/odata_server.py``)
and the JSON API's error messages. ``run`` is its parts (build, summary, score, levels, resolve-areas, evaluate),
each with the same ``--lang``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import copy_store
from language import leaks
from leefbaar.cli import app
from leefbaar.errors import LeefbaarError

COMMANDS = {
    "gap": ["gap", "--bootstrap", "19", "--years", "2002,2022"],
    "trends": ["trends", "--group", "initial", "--years", "2002,2022"],
    "clusters": ["clusters", "--years", "2018,2022", "--permutations", "99", "--no-maps"],
    "vulnerable": ["vulnerable", "--top", "3"],
    "evaluate": ["evaluate", "nprz", "--permutations", "19", "--placebos", "5"],
    "segregation": ["segregation", "--by", "tenure", "--gemeente", "Rotterdam", "--years", "2017,2023",
                    "--permutations", "19", "--bootstrap", "19", "--no-national", "--no-maps"],
}
"""Commands that write a summary.md into --out."""

STORE_COMMANDS = {
    "summary": ["summary"],
    "show pc4": ["show", "pc4", "3072"],
    "show gemeente": ["show", "gemeente", "Rotterdam", "--theme", "leefbaarometer"],
    "levels": ["levels"],
    "indicators": ["indicators", "--search", "woz"],
    "programmes": ["programmes"],
    "export ranking": ["export", "ranking", "--gemeente", "Rotterdam"],
    "export map": ["export", "map", "--gemeente", "GM0599", "--format", "gpkg"],
    "explain change": ["explain", "pc4", "3072", "--from", "2021", "--to", "2022", "--top", "40"],
    "explain year": ["explain", "pc4", "3072", "--to", "2022", "--top", "40"],
}
"""Commands that print only (``--out`` is added where a command needs it), run on the scored store."""


@pytest.fixture(scope="module")
def outputs(store_file, tmp_path_factory) -> dict[tuple[str, str], tuple[str, str]]:
    """(command, lang) -> (CLI output, summary.md) for every command in both languages."""
    runner = CliRunner()
    found = {}
    for lang in ("nl", "en"):
        for name, args in COMMANDS.items():
            out = tmp_path_factory.mktemp(f"{name}_{lang}")
            result = runner.invoke(app, [*args, "--store", str(store_file), "--out", str(out), "--lang", lang])
            assert result.exit_code == 0, (name, lang, result.output)
            found[name, lang] = result.output, (out / "summary.md").read_text(encoding="utf-8")
    return found


@pytest.fixture(scope="module")
def scored(scored_file, tmp_path_factory) -> Path:
    """A copy of the session's scored store: resolved programme areas (printed in both languages below) and index
    scores for 2021 (modelled) and 2022 (official), as ``leefbaar run`` leaves them."""
    return copy_store(scored_file, tmp_path_factory.mktemp("leaks"))


@pytest.fixture(scope="module")
def printed(scored, tmp_path_factory) -> dict[tuple[str, str], str]:
    """(command, lang) -> CLI output of the printing commands, and of resolve-areas --dry-run."""
    runner = CliRunner()
    found = {}
    for lang in ("nl", "en"):
        for name, args in {**STORE_COMMANDS, "resolve-areas": ["resolve-areas", "--dry-run"]}.items():
            extra = (["--out", str(tmp_path_factory.mktemp("out"))] if args[0] in ("export", "resolve-areas", "levels")
                     else [])
            result = runner.invoke(app, [*args, *extra, "--store", str(scored), "--lang", lang])
            assert result.exit_code == 0, (name, lang, result.output)
            found[name, lang] = result.output
    return found


def test_the_heuristic_finds_a_leak():
    assert leaks("Conclusie: no conclusion, the pre-trend differs from the reference areas.", "nl")
    assert leaks("Conclusion: de trend vooraf wijkt af van de referentiegebieden.", "en")
    assert not leaks("De kloof tussen sterke en zwakke gebieden groeit niet (Den Haag, The Hague Southwest).", "nl")


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("name", list(COMMANDS))
def test_output_is_in_one_language(outputs, name, lang):
    cli, summary = outputs[name, lang]
    assert not leaks(cli, lang), leaks(cli, lang)
    assert not leaks(summary, lang), leaks(summary, lang)


@pytest.mark.slow
def test_dutch_and_english_outputs_differ(outputs):
    """The language option is honoured at all: each summary differs between the languages."""
    for name in COMMANDS:
        assert outputs[name, "nl"][1] != outputs[name, "en"][1], name


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["nl", "en"])
@pytest.mark.parametrize("name", [*STORE_COMMANDS, "resolve-areas"])
def test_printed_output_is_in_one_language(printed, name, lang):
    text = printed[name, lang]
    assert not leaks(text, lang), leaks(text, lang)
    assert printed[name, "nl"] != printed[name, "en"], name


@pytest.mark.slow
def test_counts_follow_the_locale(printed):
    """Counts carry the locale's thousands separator whatever their size; years and codes carry none."""
    nl, en = printed["summary", "nl"], printed["summary", "en"]
    assert "4.066" in nl and "16.383" in nl and "4,066" in en and "16,383" in en
    assert "2.022" not in nl and "2,022" not in en and "│ 2022 │" in nl
    assert "Gebieden per niveau en jaargang" in nl and "Areas per level and vintage" in en


@pytest.mark.slow
def test_explain_in_english_names_every_indicator(printed, scored):
    """``explain --lang en`` labels indicators with the catalogue's English labels, never with bare ids or Dutch
    labels (both the change and the one-year explanation)."""
    from leefbaar.store.store import Store

    with Store.open(scored) as st:
        cat = st.sql("SELECT id, label_nl, label_en FROM indicators")
    ids = set(cat["id"])
    dutch = set(cat.loc[cat["label_nl"] != cat["label_en"], "label_nl"])
    for name in ("explain change", "explain year"):
        en, nl = printed[name, "en"], printed[name, "nl"]
        cells = [c.strip() for line in en.splitlines() for c in line.split("│")[2:3]]
        assert cells and not [c for c in cells if c in ids], name  # the label column holds no bare id
        assert not [c for c in cells if c in dutch], name
        assert "(buren)" not in en and ("(neighbours)" in en) == ("(buren)" in nl), name


def test_indicator_labels_fall_back_in_english(store):
    """Every contribution key gets an English label: catalogue label_en, a documented fallback for ids outside
    the catalogue (area_km2), the id itself only when nothing is known."""
    from leefbaar.index import api

    labels = api._labels(store)
    key = next(i for i, v in sorted(labels.items()) if v["nl"] != v["en"] and "/" not in i)
    en = {k: api.indicator_label(k, labels, "en") for k in (key, f"{key}@buren", "inwoner/area_km2", "_nowcast",
                                                            "_residual", "unknown_id")}
    assert en[key] == labels[key]["en"]
    assert en[f"{key}@buren"] == f"{labels[key]['en']} (neighbours)"
    assert en["inwoner/area_km2"] == f"{labels['inwoner']['en']} per land area (km²)"
    assert en["_nowcast"].startswith("nowcast correction") and en["unknown_id"] == "unknown_id"
    nl = api.indicator_label("inwoner/area_km2@buren", labels, "nl")
    assert nl == f"{labels['inwoner']['nl']} per landoppervlakte (km²) (buren)"


def test_serve_prints_its_line_in_the_language(tmp_path, monkeypatch):
    import leefbaar.web.app as web_app

    monkeypatch.setattr(web_app, "serve", lambda *a, **k: None)
    texts = {}
    for lang in ("nl", "en"):
        result = CliRunner().invoke(app, ["serve", "--store", str(tmp_path / "x.duckdb"), "--workers", "2",
                                          "--lang", lang])
        assert result.exit_code == 0, result.output
        texts[lang] = result.output
    assert "alleen lezen, 2 processen" in texts["nl"] and "read-only, 2 workers" in texts["en"]


@pytest.fixture
def cbs_server(data_dir, monkeypatch):
    """The loopback CBS/PDOK server of tests/odata_server.py; connections elsewhere are refused."""
    from odata_server import LoopbackServer, refuse_remote

    refuse_remote(monkeypatch)
    with LoopbackServer(data_dir, page_size=20000, pdok_page_size=1000) as srv:
        monkeypatch.setenv("LEEFBAAR_CBS_ODATA_URL", srv.odata_root)
        monkeypatch.setenv("LEEFBAAR_PDOK_URL", srv.pdok_root)
        yield srv


@pytest.mark.slow
def test_download_and_build_speak_one_language(cbs_server, tmp_path):
    """``download`` then ``build`` of what it wrote, in both languages: tables, counts, skipped files."""
    runner = CliRunner()
    texts = {}
    for lang in ("nl", "en"):
        data = tmp_path / f"data_{lang}"
        down = runner.invoke(app, ["download", "--table", "85984NED", "--out", str(data), "--cache",
                                   str(tmp_path / "cache"), "--lang", lang])
        assert down.exit_code == 0, down.output
        built = runner.invoke(app, ["build", "--data", str(data), "--store", str(tmp_path / f"{lang}.duckdb"),
                                    "--lang", lang])
        assert built.exit_code == 0, built.output
        texts[lang] = down.output + built.output
        assert not leaks(texts[lang], lang), leaks(texts[lang], lang)
    assert "HTTP-verzoeken" in texts["nl"] and "Niet ingelezen bestanden" in texts["nl"]
    assert "HTTP requests" in texts["en"] and "Files not ingested" in texts["en"]
    assert "StatLine-metadata (geen waarnemingen)" in texts["nl"]


@pytest.fixture(scope="module")
def api(scored):
    from leefbaar.web.app import create_app

    with TestClient(create_app(scored, warm=False), raise_server_exceptions=False) as client:
        yield client


API_ERRORS = ["/api/areas/pc4/1000", "/api/profile/pc4/1000", "/api/profile/pc4/3072?year=1990",
              "/api/gap/pc4?gemeente=GM9999", "/api/map/pc4?year=1990", "/api/nothing-here",
              "/api/map/pc4?year=abc"]
"""API requests that fail: unknown area, year, gemeente, path and a malformed parameter."""


@pytest.mark.slow
def test_api_messages_in_english_hold_no_dutch(api):
    for path in API_ERRORS:
        response = api.get(path + ("&" if "?" in path else "?") + "lang=en")
        assert response.status_code in (404, 422), (path, response.status_code)
        detail = response.json()["detail"]
        assert detail and not leaks(str(detail), "en"), (path, detail)


@pytest.mark.slow
def test_api_messages_follow_the_language(api):
    for path in API_ERRORS:
        nl = api.get(path + ("&" if "?" in path else "?") + "lang=nl").json()["detail"]
        en = api.get(path + ("&" if "?" in path else "?") + "lang=en").json()["detail"]
        assert nl != en and not leaks(nl, "nl"), (path, nl)


@pytest.mark.parametrize("args", [["trends", "--weight", "bogus"], ["gap", "--bootstrap", "5"],
                                  ["clusters", "--permutations", "5"]])
def test_error_messages_follow_the_language(tmp_path, args):
    """An error raised after --lang is known is worded in that language (checked before any store is opened)."""
    texts = {}
    for lang in ("nl", "en"):
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--lang", lang])
        assert result.exit_code == 1 and isinstance(result.exception, LeefbaarError), result.output
        texts[lang] = str(result.exception)
        assert not leaks(texts[lang], lang)
    assert texts["nl"] != texts["en"]


@pytest.mark.parametrize("args", [["export", "ranking", "--format", "pdf"], ["export", "map", "--format", "shp"],
                                  ["evaluate", "nprz", "--match", "bogus"], ["evaluate", "nprz", "--from", "2020",
                                                                               "--to", "2010"]])
def test_option_errors_follow_the_language(tmp_path, args):
    texts = {}
    for lang in ("nl", "en"):
        result = CliRunner().invoke(app, [*args, "--out", str(tmp_path), "--store", str(tmp_path / "x.duckdb"),
                                          "--lang", lang])
        assert result.exit_code == 1 and isinstance(result.exception, LeefbaarError), result.output
        texts[lang] = str(result.exception)
    assert texts["nl"] != texts["en"], texts
