"""No English in Dutch output and no Dutch in English output: CLI text and summary.md of the commands with --lang,
run on the session store in both languages and scanned with the word-list heuristic of ``tests/language.py``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from language import leaks
from leefbaar.cli import app
from leefbaar.errors import LeefbaarError

COMMANDS = {
    "gap": ["gap", "--bootstrap", "19", "--years", "2002,2022"],
    "trends": ["trends", "--group", "initial", "--years", "2002,2022"],
    "clusters": ["clusters", "--years", "2018,2022", "--permutations", "99", "--no-maps"],
    "vulnerable": ["vulnerable", "--top", "3"],
    "evaluate": ["evaluate", "nprz", "--permutations", "19", "--placebos", "5"],
}


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
