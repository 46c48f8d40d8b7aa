"""The gemeente report (issue 12): rendered for a large city (Rotterdam), a small gemeente (Baarle-Nassau, three
PC4) and a one-PC4 gemeente (Schiermonnikoog) on the session store, and read back from the PDF with pdftotext:
no page without content, every number in the report's locale, no English in the Dutch report, and the key
findings name the largest decline as the facts layer names the area. Known answers are computed here from the
facts layer's score series, not from the report's own findings.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from language import leaks
from leefbaar.facts.findings import DECLINE_SPAN, evaluation_verdict
from leefbaar.report.data import DashboardData
from leefbaar.report.gemeente import CHROMIUM, build_report
from leefbaar.store.store import Store

pytestmark = pytest.mark.browser
GEMEENTEN = {"GM0599": "Rotterdam", "GM0744": "Baarle-Nassau", "GM0088": "Schiermonnikoog"}
# names that hold a dot or comma between digits but are not numbers of the report (licences, versions)
NOT_NUMBERS = re.compile(r"CC\s+BY(-SA)?\s+\d\.\d|Leefbaarometer\s+\d\.\d|LBM\s?\d\.\d|leefbaar\s+\d+\.\d+\.\d+")

if not Path(CHROMIUM).exists() or not shutil.which("pdftotext"):
    pytest.skip("the report test needs Debian chromium and pdftotext (poppler-utils)", allow_module_level=True)


@pytest.fixture(scope="module")
def reports(store_file, tmp_path_factory):
    """(code, lang) -> (GemeenteReport, [text of each page]); Dutch for all three, English for the smallest."""
    out = tmp_path_factory.mktemp("reports")
    found = {}
    with Store.open(store_file) as st:
        data = DashboardData(st)
        for code, lang in [*((c, "nl") for c in GEMEENTEN), ("GM0088", "en")]:
            rep = build_report(None, code, out / lang, lang=lang, data=data)
            found[code, lang] = rep, _pages(rep.pdf, rep.pages)
    return found


@pytest.fixture(scope="module")
def facts(store_file):
    """The facts layer's score series, official years, gemeente per area and labels (read once)."""
    with Store.open(store_file) as st:
        f = DashboardData(st).facts
        return {"scores": f.scores("pc4"), "kinds": f.year_kinds("pc4"), "gemeente_of": f.gemeente_of("pc4"),
                "labels": f.labels("pc4")}


def _pages(pdf: Path, n: int) -> list[str]:
    return [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), str(pdf), "-"], capture_output=True, text=True,
                           check=True).stdout for i in range(1, n + 1)]


def _body(page: str) -> str:
    """A page without its running footer (title, version, page number)."""
    return "\n".join(line for line in page.splitlines() if "· leefbaar" not in line and
                     not re.fullmatch(r"\s*\d+/\d+\s*", line))


@pytest.mark.parametrize("code", list(GEMEENTEN))
def test_every_page_has_content(reports, code):
    rep, pages = reports[code, "nl"]
    pdf = rep.pdf.read_bytes()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) == rep.pages == len(pages)
    assert rep.pages >= 4
    for i, page in enumerate(pages, start=1):
        words = re.findall(r"\w+", _body(page))
        assert len(words) >= 15, (code, i, page)
        assert not re.fullmatch(r"\s*\S+( \S+){0,4}\s*geen gebieden\.?\s*", _body(page), re.I), (code, i)


@pytest.mark.parametrize(("code", "lang"), [*((c, "nl") for c in GEMEENTEN), ("GM0088", "en")])
def test_numbers_follow_the_report_language(reports, code, lang):
    _, pages = reports[code, lang]
    text = NOT_NUMBERS.sub(" ", "\n".join(pages))
    point, comma = re.findall(r"(?<![\d.,])\d+\.\d+(?:\.\d+)*", text), re.findall(r"(?<![\d.,])\d+,\d+(?:,\d+)*", text)
    grouped = re.compile(r"[1-9]\d{0,2}(?:[.,]\d{3})+")
    if lang == "nl":  # decimal comma; a dot only as the thousands separator (2.063)
        bad = [t for t in point if not grouped.fullmatch(t)]
        assert comma, "a Dutch report without decimal numbers"
    else:  # decimal point; a comma only as the thousands separator (2,063)
        bad = [t for t in comma if not grouped.fullmatch(t)]
        assert point, "an English report without decimal numbers"
    assert not bad, (code, lang, bad[:10])
    assert not re.search(r"[-−]0[,.]0+(?![0-9]*[1-9])", text), "a signed zero (-0,00)"
    assert "−" not in text, "matplotlib's minus sign instead of the locale's"


@pytest.mark.parametrize(("code", "lang"), [*((c, "nl") for c in GEMEENTEN), ("GM0088", "en")])
def test_report_is_in_one_language(reports, code, lang):
    _, pages = reports[code, lang]
    found = [line for page in pages for line in leaks(page, lang)]
    assert not found, found[:5]


def test_dutch_and_english_reports_differ(reports):
    nl, en = reports["GM0088", "nl"][1][0], reports["GM0088", "en"][1][0]
    assert "Kernpunten" in nl and "Key findings" in en


@pytest.mark.parametrize("code", list(GEMEENTEN))
def test_key_findings_name_the_largest_decline(reports, facts, code):
    sc = facts["scores"]
    official = [y for y, k in facts["kinds"].items() if k == "official"]
    y1 = max(official)
    y0 = max(y for y in official if y <= y1 - DECLINE_SPAN)
    mine = sc[sc["code"].map(facts["gemeente_of"]) == code]
    before = mine[mine["year"] == y0].set_index("code")["afw"]
    now = mine[(mine["year"] == y1) & ~mine["small"].astype(bool)].set_index("code")["afw"]
    change = (now - before.reindex(now.index)).dropna()
    labels = facts["labels"]
    page1 = " ".join(reports[code, "nl"][1][0].split())
    page1 = page1.replace("- ", "-")  # a name broken at its hyphen across lines
    assert GEMEENTEN[code] in page1
    if len(change) and change.min() < 0:
        worst = labels[change.idxmin()]
        assert worst in page1, (worst, page1[:800])
        assert "achteruit" in page1
    else:
        assert f"Geen enkel gebied in {GEMEENTEN[code]} ging tussen {y0} en {y1} achteruit" in page1


@pytest.mark.parametrize("code", list(GEMEENTEN))
def test_small_areas_are_never_listed_for_attention(reports, facts, code):
    rep, _ = reports[code, "nl"]
    sc, labels = facts["scores"], facts["labels"]
    small = set(sc.loc[sc["small"].astype(bool), "code"])
    for name in ("attention", "declines"):
        path = rep.pdf.parent / f"report_{code}_{name}.csv"
        if path.exists():
            listed = pd.read_csv(path).iloc[:, 0].astype(str)
            assert not set(listed) & {labels[c] for c in small if c in labels.index}, (code, name)


class _StoredEvaluations:
    """A facts stand-in holding the stored evaluation rows of NPRZ and Krachtwijken as the main store has them."""

    def evaluation_results(self):
        cols = ["programme", "outcome", "method", "estimand", "inference", "estimate", "ci_low", "ci_high", "p_value",
                "n_treated", "n_references", "n_treated_clusters", "n_clusters", "status", "year_from", "year_to"]
        rows = [
            ["nprz", "lbm", "matched_did", "ATT", "permutation", -0.059539, -0.110261, 0.002864, 0.064, 7, 33, 1, 25,
             "ok", 2002, 2022],
            ["nprz", "lbm", "matched_did", "ATT", "cluster-robust (gemeente)", -0.059539, -0.07718, -0.041898,
             3.3e-07, 7, 33, 1, 25, "ok", 2002, 2022],
            ["krachtwijken", "lbm", "matched_did", "ATT", "permutation", np.nan, np.nan, np.nan, np.nan, 63, 215, 17,
             121, "withheld", 2002, 2022],
            ["krachtwijken", "lbm", "pretrend_holdout", "placebo change 2002->2008", "permutation", -0.01915, np.nan,
             np.nan, 0.02, 63, 215, 17, 121, "diagnostic", 2002, 2022],
        ]
        return pd.DataFrame(rows, columns=cols)


def test_evaluation_verdicts_from_the_stored_rows():
    facts = _StoredEvaluations()
    nprz = evaluation_verdict(facts, "nprz", "nl")
    # the permutation test leads (one treated gemeente: the clustered p is not relied on), as `leefbaar evaluate`
    assert nprz["conclusion"] == "no_effect" and nprz["level"] == 95
    assert "geen effect aantoonbaar (p = 0,064)" in nprz["text"] and "-0,110 – +0,003" in nprz["text"]
    kw = evaluation_verdict(facts, "krachtwijken", "nl")
    assert kw["conclusion"] == "withheld" and kw["estimate"] is None
    assert kw["text"].startswith("Geen conclusie: de trend vooraf wijkt af") and "2002->2008" in kw["text"]
    assert not leaks(kw["text"], "nl") and not leaks(evaluation_verdict(facts, "krachtwijken", "en")["text"], "en")
    assert evaluation_verdict(facts, "gsb", "nl") is None


def test_band_sources_and_counts(reports):
    """A P10-P90 band only from enough areas; sources only where used (no Rotterdam Wijkprofiel in Brabant); file
    counts pluralised by the catalogue."""
    from leefbaar.facts.findings import MIN_BAND_AREAS

    text = {code: " ".join(" ".join(reports[code, "nl"][1]).split()) for code in GEMEENTEN}
    assert "P10–P90 van de gebieden van Rotterdam" in text["GM0599"]
    assert f"Geen P10–P90-band: Baarle-Nassau heeft minder dan {MIN_BAND_AREAS} gebieden" in text["GM0744"]
    assert "Wijkprofiel" not in text["GM0744"] and "Bronnen gebruikt voor deze gemeente" in text["GM0744"]
    for t in text.values():
        assert not re.search(r"\b1 bestanden\b|\b\d+ files\b|\b([2-9]|\d\d+) bestand\b", t)
    assert re.search(r"\b1 file\b|\b\d+ files\b", " ".join(reports["GM0088", "en"][1]))
