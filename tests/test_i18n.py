"""Message catalogues and locale formats (leefbaar.i18n): every text in the code has a Dutch and an English
translation, translations keep their placeholders, and numbers follow Babel's nl_NL and en_GB rules."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from leefbaar import i18n
from leefbaar.i18n import fmt_date, fmt_number, fmt_percent, fmt_signed, translator

SRC = Path(i18n.__file__).parent
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
TRANSLATION_CALLS = {"_", "N_", "ngettext", "gettext"}


def _code_msgids() -> set[str | tuple[str, str]]:
    """Every msgid the code passes to ``_``, ``ngettext`` or ``N_`` (as scripts/i18n.sh extract finds them)."""
    found = set()
    for _file, _line, msg, _comments, _context in extract_from_dir(SRC, method_map=[("**.py", "python")],
                                                                   keywords=KEYWORDS):
        found.add(msg if isinstance(msg, str) else tuple(msg))
    return found


def _catalogue(name: str):
    path = SRC / "locale" / (name if name.endswith(".pot") else f"{name}/LC_MESSAGES/leefbaar.po")
    with path.open("rb") as fh:
        return read_po(fh)


def _key(m):
    return m.id if isinstance(m.id, str) else tuple(m.id)


def _fields(text: str) -> set[str]:
    return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}


@pytest.fixture(scope="module")
def code_msgids():
    return _code_msgids()


def test_code_has_texts(code_msgids):
    assert len(code_msgids) > 40


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_text_is_translated(code_msgids, lang):
    cat = _catalogue(lang)
    translated = {_key(m): m for m in cat if m.id}
    missing = [k for k in code_msgids if k not in translated]
    assert not missing, f"texts without a {lang} entry (run scripts/i18n.sh update): {missing[:5]}"
    empty = [k for k, m in translated.items() if not (m.string if isinstance(m.string, str) else all(m.string))]
    assert not empty, f"{lang} entries without a translation: {empty[:5]}"
    fuzzy = [k for k, m in translated.items() if m.fuzzy]
    assert not fuzzy, f"fuzzy {lang} entries (they are not compiled): {fuzzy[:5]}"
    obsolete = [k for k in translated if k not in code_msgids]
    assert not obsolete, f"{lang} entries no longer in the code (run scripts/i18n.sh update): {obsolete[:5]}"


def test_template_matches_code(code_msgids):
    assert {_key(m) for m in _catalogue("leefbaar.pot") if m.id} == code_msgids


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_translations_keep_their_placeholders(lang):
    for m in _catalogue(lang):
        if not m.id:
            continue
        ids = [m.id] if isinstance(m.id, str) else list(m.id)
        strings = [m.string] if isinstance(m.string, str) else list(m.string)
        want = set().union(*(_fields(t) for t in ids))
        for s in strings:
            assert _fields(s) <= want | {"n"} and _fields(s) >= _fields(ids[0]) - {"n"}, (m.id, s)


def test_every_text_is_extractable():
    """Babel sees ``_("text")``, not ``translator(lang)("text")``, and on Python 3.11 no call inside an f-string:
    such texts would never reach the catalogue (and Dutch output would show the English msgid)."""
    bad = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Call) and node.args
                    and isinstance(node.args[0], ast.Constant | ast.JoinedStr)):
                bad.append(f"{path.relative_to(SRC)}:{node.lineno}")
            if isinstance(node, ast.JoinedStr):
                for inner in ast.walk(node):
                    if (isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name)
                            and inner.func.id in TRANSLATION_CALLS and inner.args
                            and isinstance(inner.args[0], ast.Constant)):
                        bad.append(f"{path.relative_to(SRC)}:{inner.lineno}")
    assert not bad, bad


def test_translator_is_not_shadowed():
    """A function that calls ``_(...)`` must not also use ``_`` as a throwaway name (``for _, row in ...``,
    ``value, _ = ...``)."""
    bad = []
    for path in SRC.rglob("*.py"):
        for fn in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(fn, ast.FunctionDef):
                continue
            calls = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_"
                        for n in ast.walk(fn))
            bound = [n.target for n in ast.walk(fn) if isinstance(n, ast.For | ast.comprehension)]
            bound += [t for n in ast.walk(fn) if isinstance(n, ast.Assign) for t in n.targets
                      if isinstance(t, ast.Tuple | ast.List)]
            targets = [t for b in bound for t in ast.walk(b) if isinstance(t, ast.Name) and t.id == "_"]
            if calls and targets:
                bad.append(f"{path.relative_to(SRC)}:{fn.name}")
    assert not bad, bad


def test_dutch_and_english_differ_where_they_should():
    nl, en = translator("nl"), translator("en")
    assert nl("Vulnerable areas") == "Kwetsbare gebieden" and en("Vulnerable areas") == "Vulnerable areas"
    assert nl("Comparison with {ref}", ref="APCG 2019") == "Vergelijking met APCG 2019"


@pytest.mark.parametrize(("lang", "expected"), [
    ("nl", ["1.518", "0,44", "+0,04", "-0,04", "44,1%", "0,000", "–", "5 maart 2024"]),
    ("en", ["1,518", "0.44", "+0.04", "-0.04", "44.1%", "0.000", "–", "5 March 2024"]),
])
def test_numbers_follow_the_locale(lang, expected):
    got = [fmt_number(1518, lang, 0), fmt_number(0.44, lang, 2), fmt_signed(0.04, lang, 2), fmt_signed(-0.04, lang, 2),
           fmt_percent(0.441, lang, 1), fmt_signed(-0.0001, lang, 3), fmt_number(float("nan"), lang),
           fmt_date("2024-03-05", lang)]
    assert got == expected


def test_unknown_language_is_an_error():
    with pytest.raises(i18n.LeefbaarError, match="--lang must be nl or en"):
        translator("de")


def test_stale_compiled_catalogue_is_not_used(tmp_path, monkeypatch):
    """A .mo older than its .po is ignored: the .po is compiled in memory, so an edited text shows at once."""
    folder = tmp_path / "nl" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    po = (SRC / "locale/nl/LC_MESSAGES/leefbaar.po").read_text(encoding="utf-8")
    (folder / "leefbaar.po").write_text(po, encoding="utf-8")
    (folder / "leefbaar.mo").write_bytes(i18n.compile_po(folder / "leefbaar.po"))
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    assert i18n.Translator("nl")("Vulnerable areas") == "Kwetsbare gebieden"
    edited = re.sub(r'msgstr "Kwetsbare gebieden"', 'msgstr "Kwetsbare buurten"', po)
    (folder / "leefbaar.po").write_text(edited, encoding="utf-8")
    import os

    os.utime(folder / "leefbaar.mo", (0, 0))
    assert i18n.Translator("nl")("Vulnerable areas") == "Kwetsbare buurten"


def test_sentence_table_is_complete_in_both_languages():
    """The facts layer's verdict sentences (facts/sentences.csv) stay one data table of Dutch and English, like a
    catalogue: every sentence has both, the same placeholders in both, reads as its language, and every key the
    code passes to ``say``/``both`` is in it."""
    from language import leaks
    from leefbaar.facts.rules import sentences

    table = sentences()
    for key, text in table.items():
        assert text["nl"] and text["en"], key
        assert _fields(text["nl"]) == _fields(text["en"]), key
        assert not leaks(text["nl"], "nl") and not leaks(text["en"], "en"), key
    used = set()
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("say", "both")
                    and node.args and isinstance(node.args[0], ast.Constant)):
                used.add(node.args[0].value)
    assert used and not used - set(table), sorted(used - set(table))


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_audit_report_is_in_one_language(lang):
    import pandas as pd

    from language import leaks
    from leefbaar.index.audit import report

    rows = [{"spec": s, "year": 2018, "share": "migration", "score": k, "pearson": v} for s in ("default", "lbm2")
            for k, v in (("official afw", -0.4), ("modelled afw", -0.35), ("residual", 0.15))]
    tables = {"association": pd.DataFrame(rows),
              "variant": pd.DataFrame({"spec": ["default", "lbm2"], "cv_r2_afw": [0.6, 0.62],
                                       "corr_modelled_migration": [-0.35, -0.4]}),
              "proxies": pd.DataFrame({"indicator": ["oad"], "corr_part": [0.1], "share_of_corr": [0.3]}),
              "removal": pd.DataFrame({"removed": ["oad"], "corr_migration": [-0.3], "corr_change": [0.05],
                                       "cv_r2_afw": [0.58], "cv_r2_change": [-0.02]})}
    text = report(tables, 2018, lang)
    assert not leaks(text, lang), leaks(text, lang)
    assert ("-0,40" in text) == (lang == "nl") and ("-0.40" in text) == (lang == "en")


def test_dashboard_catalogue_is_complete():
    """The dashboard's interface texts (web/static/i18n.js): the same keys in Dutch and English, none empty, the
    same {placeholders}, and every key the pages ask for with t("...") present."""
    import json
    import re
    import shutil
    import subprocess

    static = Path(__file__).resolve().parents[1] / "src" / "leefbaar" / "web" / "static"
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed to read the dashboard's catalogue (scripts/setup-web.sh installs the web bundle)")
    out = subprocess.run([node, "--input-type=module", "-e",
                          f"import {{ TEXT }} from {json.dumps((static / 'i18n.js').as_uri())};"
                          "console.log(JSON.stringify(TEXT));"], capture_output=True, text=True, check=True)
    text = json.loads(out.stdout)
    assert set(text) == {"nl", "en"} and set(text["nl"]) == set(text["en"])
    for key, nl in text["nl"].items():
        en = text["en"][key]
        assert nl.strip() and en.strip(), key
        assert set(re.findall(r"\{(\w+)\}", nl)) == set(re.findall(r"\{(\w+)\}", en)), key
    used = set()
    for js in [static / "app.js", *sorted((static / "pages").glob("*.js"))]:
        used |= set(re.findall(r"""\bt\(\s*["']([\w.]+)["']""", js.read_text(encoding="utf-8")))
    assert not used - set(text["nl"]), sorted(used - set(text["nl"]))
