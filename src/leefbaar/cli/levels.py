"""``leefbaar levels``: gemeente, wijk and 2024 PC4 scores aggregated from the official measurements."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from leefbaar.cli.common import EngineOpt, LangOpt, OutOpt, StoreOpt, print_frame, resolve_store, write_csv
from leefbaar.errors import LeefbaarError

TEXT = {
    "nl": {
        "title": "Leefbaarheid op andere niveaus uit de officiële meting (run {run})",
        "intro": "Gemeente- en wijkwaarden en PC4-waarden voor 2024 zijn bewonersgewogen gemiddelden van de officiële "
                 "Leefbaarometer-scores (PC4 {pc4_years}; buurt 2024). Bewoners van een bron in een doelgebied = "
                 "CBS-inwoners van de bron x het deel van haar oppervlak in het doelgebied. Soort: geaggregeerd. "
                 "Klasse: LBM3-klasse van de geaggregeerde score. Een waarde telt alleen als gebieden met een "
                 "officiële score minstens {cov} % van de geschatte bewoners bevatten.",
        "available": "Niveaus en jaren met scores",
        "lbm2": "Overeenstemming met de officiële LBM 2.0-klassen",
        "lbm2_note": "Exact = zelfde klasse; ±1 = hooguit één klasse verschil; verschil = gemiddelde LBM3-klasse min "
                     "LBM2-klasse. Referentie pc4: de officiële LBM3- tegen de LBM2-klassen per PC4, zonder "
                     "aggregatie (het verschil tussen de twee instrumenten).",
        "val": "De meting 2024 per PC4 als toets van de nowcast 2023",
        "anchor": "Anker 2024 voor 2023 (interpolatie): {verdict}",
        "anchor_no": "niet ingevoerd. De gemeten verandering 2022-2024 per PC4 heeft een spreiding van {sd24} "
                     "punt tegen {sd22} voor 2020-2022; de nowcast-verandering voorspelt haar met Spearman {sp}. "
                     "Met een eindpunt dat zo veel ruis heeft, geeft interpolatie de verandering 2018-2020 terug met "
                     "Spearman {spi}: niet beter dan de nowcast (zie leefbaar validate en docs/levels.md).",
        "cols": {"level": "niveau", "year": "jaar", "kind": "soort", "areas": "gebieden", "subset": "deel",
                 "n": "n", "exact": "exact", "within_1": "±1", "mean_difference": "verschil",
                 "spearman": "Spearman", "test": "toets", "what": "wat", "r2": "R²", "mae": "MAE",
                 "sd_change": "sd verandering"},
        "kinds": {"official": "officieel", "modelled": "gemodelleerd", "aggregated": "geaggregeerd"},
        "levels": {"gemeente": "gemeente", "wijk": "wijk", "pc4": "pc4", "buurt": "buurt"},
    },
    "en": {
        "title": "Livability at other levels from the official measurement (run {run})",
        "intro": "Gemeente and wijk values and PC4 values for 2024 are resident-weighted means of the official "
                 "Leefbaarometer scores (PC4 {pc4_years}; buurt 2024). Residents of a source in a target = CBS "
                 "residents of the source x the share of its surface in the target. Kind: aggregated. Class: LBM3 "
                 "class of the aggregated score. A value counts only when areas with an official score hold at "
                 "least {cov} % of the estimated residents.",
        "available": "Levels and years with scores",
        "lbm2": "Agreement with the official LBM 2.0 classes",
        "lbm2_note": "Exact = same class; ±1 = at most one class apart; difference = mean LBM3 class minus LBM2 "
                     "class. Reference pc4: the official LBM3 against the LBM2 classes per PC4, without "
                     "aggregation (the difference between the two instruments).",
        "val": "The 2024 measurement per PC4 as a test of the 2023 nowcast",
        "anchor": "2024 anchor for 2023 (interpolation): {verdict}",
        "anchor_no": "not introduced. The measured change 2022-2024 per PC4 has a spread of {sd24} points "
                     "against {sd22} for 2020-2022; the nowcast change predicts it with Spearman {sp}. "
                     "With an endpoint this noisy, interpolation reproduces the change 2018-2020 with Spearman "
                     "{spi}: no better than the nowcast (see leefbaar validate and docs/levels.md).",
        "cols": {"level": "level", "year": "year", "kind": "kind", "areas": "areas", "subset": "subset", "n": "n",
                 "exact": "exact", "within_1": "±1", "mean_difference": "difference", "spearman": "Spearman",
                 "test": "test", "what": "what", "r2": "R²", "mae": "MAE", "sd_change": "sd of change"},
        "kinds": {"official": "official", "modelled": "modelled", "aggregated": "aggregated"},
        "levels": {"gemeente": "gemeente", "wijk": "wijk", "pc4": "pc4", "buurt": "buurt"},
    },
}
# Validation rows are worded in both languages from one table (keys as written by analysis.levels).
WHAT_NL = {
    "level: nowcast 2023 vs measured 2024": "niveau: nowcast 2023 tegen gemeten 2024",
    "level: official 2022 vs measured 2024": "niveau: officieel 2022 tegen gemeten 2024",
    "change: nowcast 2023 - official 2022 vs measured 2024 - official 2022":
        "verandering: nowcast 2023 - officieel 2022 tegen gemeten 2024 - officieel 2022",
    "change: official 2022 - 2020 vs measured 2024 - official 2022":
        "verandering: officieel 2022 - 2020 tegen gemeten 2024 - officieel 2022",
    "level: (official 2018 + 2022) / 2 vs official 2020": "niveau: (officieel 2018 + 2022) / 2 tegen officieel 2020",
    "change: (official 2022 - 2018) / 2 vs official 2020 - 2018":
        "verandering: (officieel 2022 - 2018) / 2 tegen officieel 2020 - 2018",
    "level: interpolation as above with noise added to official 2022 (sd: last column)":
        "niveau: interpolatie als hierboven met ruis op officieel 2022 (sd: laatste kolom)",
    "change: interpolation as above with noise added to official 2022 (sd: last column)":
        "verandering: interpolatie als hierboven met ruis op officieel 2022 (sd: laatste kolom)",
    "sd of the change official 2020 - 2018": "sd van de verandering officieel 2020 - 2018",
    "sd of the change official 2022 - 2020": "sd van de verandering officieel 2022 - 2020",
    "sd of the change measured 2024 - official 2022": "sd van de verandering gemeten 2024 - officieel 2022",
}
WHAT_NL |= {f"level {d}: nowcast 2023 vs measured 2024": f"niveau {d}: nowcast 2023 tegen gemeten 2024"
            for d in ("won", "fys", "vrz", "soc", "onv")}
TEST_NL = {"nowcast": "nowcast", "persistence": "persistentie", "interpolation (history)": "interpolatie (historie)",
           "interpolation (history, noisy endpoint)": "interpolatie (historie, eindpunt met ruis)",
           "spread": "spreiding", "dimension": "dimensie"}
SUBSET_NL = {"all codes": "alle codes", "unchanged": "ongewijzigd", "all": "alle",
             "official LBM3 vs LBM2 (reference)": "officieel LBM3 tegen LBM2 (referentie)"}


def _number(v, lang: str, digits: int = 3) -> str:
    from babel.numbers import format_decimal

    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, str):
        return v
    fmt = "#,##0" if float(v).is_integer() and digits == 0 else "#,##0." + "0" * digits
    return format_decimal(v, format=fmt, locale="nl_NL" if lang == "nl" else "en_GB")


def _formatted(frame: pd.DataFrame, lang: str, counts=("n", "areas")) -> pd.DataFrame:
    """Numbers as text in the locale of ``lang`` (counts whole, others 3 decimals; years as they are), with the
    column names of ``lang``."""
    f = frame.copy()
    for c in f.columns:
        if pd.api.types.is_numeric_dtype(f[c]) or f[c].map(lambda v: isinstance(v, float | int)).all():
            f[c] = [("" if pd.isna(v) else str(v)) if c == "year" else _number(v, lang, 0 if c in counts else 3)
                    for v in f[c]]
    return f.rename(columns=TEXT[lang]["cols"])


def _table(frame: pd.DataFrame, lang: str) -> str:
    return _formatted(frame, lang).to_markdown(index=False, disable_numparse=True)


def _subset_nl(text: str) -> str:
    match = re.fullmatch(r"boundaries (\d+), (.+)", text)
    if match:
        return f"grenzen {match.group(1)}, {SUBSET_NL[match.group(2)]}"
    return SUBSET_NL[text]


def localise(available: pd.DataFrame, agreement: pd.DataFrame, validation: pd.DataFrame, lang: str
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The three result tables with their words in ``lang`` (column names stay; ``_table`` renames them)."""
    t = TEXT[lang]
    av = available.assign(kind=available["kind"].map(t["kinds"]), level=available["level"].map(t["levels"]))
    ag, val = agreement.copy(), validation.copy()
    if lang == "nl":
        ag["subset"] = ag["subset"].map(_subset_nl)
        ag["year"] = ag["year"].replace("all", "alle")
        val["what"] = val["what"].map(WHAT_NL)
        val["test"] = val["test"].map(TEST_NL)
    return av, ag, val


def summary_markdown(available: pd.DataFrame, agreement: pd.DataFrame, validation: pd.DataFrame, run: int,
                     pc4_years: list[int], min_coverage: float, lang: str = "nl") -> str:
    """The Dutch or English summary of a ``levels`` run."""
    lang = "en" if lang == "en" else "nl"
    t = TEXT[lang]
    av, ag, val = localise(available, agreement, validation, lang)
    sd = validation.set_index("what")["sd_change"]
    sp = validation.set_index("what")["spearman"]
    verdict = t["anchor_no"].format(
        sd24=_number(sd.get("sd of the change measured 2024 - official 2022"), lang),
        sd22=_number(sd.get("sd of the change official 2022 - 2020"), lang),
        sp=_number(sp.get("change: nowcast 2023 - official 2022 vs measured 2024 - official 2022"), lang),
        spi=_number(sp.get("change: interpolation as above with noise added to official 2022 (sd: last column)"),
                    lang))
    ys = f"{min(pc4_years)}-{max(pc4_years)}" if pc4_years else "-"
    return "\n".join([
        f"# {t['title'].format(run=run)}", "",
        t["intro"].format(pc4_years=ys, cov=_number(min_coverage * 100, lang, 0)), "",
        f"## {t['available']}", "", _table(av, lang), "",
        f"## {t['lbm2']}", "", t["lbm2_note"], "", _table(ag, lang), "",
        f"## {t['val']}", "", _table(val, lang), "",
        t["anchor"].format(verdict=verdict), "",
    ])


def levels(store: StoreOpt = None, out: OutOpt = Path("out/levels"), lang: LangOpt = "nl",
           min_coverage: Annotated[float, typer.Option(
               "--min-coverage", min=0.0, max=1.0,
               help="Share of residents in scored areas needed for a value.")] = 0.5,
           engine: EngineOpt = None) -> None:
    """Gemeente and wijk scores (all official years) and 2024 PC4 scores, aggregated from the official
    Leefbaarometer by residents (kind 'aggregated'), checked against the LBM 2.0 classes and the 2023 nowcast."""
    from leefbaar.analysis import levels as lv
    from leefbaar.store.store import Store

    if lang not in ("nl", "en"):
        raise LeefbaarError(f"--lang {lang!r}: use nl or en")
    target = resolve_store(store)
    if not target.exists():
        raise LeefbaarError(f"{target}: no store here; build one with 'leefbaar build --data DIR --store {target}'")
    with Store.open(target, read_only=False) as st:
        result = lv.build_levels(st, min_coverage, engine)
        run = lv.write_levels(st, result, {"min_coverage": min_coverage})
        available = lv.available(st)
        agreement = lv.lbm2_agreement(st, result)
        validation = lv.validate_2024(st, result)
        pc4_years = sorted(int(y) for y in lv.official_scores(st, "pc4")["year"].unique())
    write_csv(result.scores, out, "levels_scores.csv")
    write_csv(result.detail, out, "levels_sources.csv")
    write_csv(available, out, "levels_available.csv")
    write_csv(agreement, out, "lbm2_agreement.csv")
    write_csv(validation, out, "validation_2024.csv")
    (out / "summary.md").write_text(summary_markdown(available, agreement, validation, run, pc4_years, min_coverage,
                                                     lang), encoding="utf-8")
    av, ag, val = localise(available, agreement, validation, lang)
    t = TEXT[lang]
    print_frame(_formatted(ag[agreement["year"] == "all"], lang), title=t["lbm2"])
    print_frame(_formatted(val, lang), title=t["val"])


def register(app: typer.Typer) -> None:
    app.command()(levels)
