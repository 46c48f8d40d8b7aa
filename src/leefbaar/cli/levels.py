"""``leefbaar levels``: gemeente, wijk and 2024 PC4 scores aggregated from the official measurements."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from leefbaar.cli.common import EngineOpt, LangOpt, OutOpt, StoreOpt, print_frame, resolve_store, write_csv
from leefbaar.errors import LeefbaarError
from leefbaar.i18n import LOCALES, N_, check_lang, translator

COLUMNS = {"level": N_("level"), "year": N_("year"), "kind": N_("kind"), "areas": N_("areas"), "subset": N_("subset"),
           "n": N_("n"), "exact": N_("exact"), "within_1": N_("±1"), "mean_difference": N_("difference"),
           "spearman": N_("Spearman"), "test": N_("test"), "what": N_("what"), "r2": N_("R²"), "mae": N_("MAE"),
           "sd_change": N_("sd of change")}
"""Column names of the result tables as shown."""
KINDS = {"official": N_("official"), "modelled": N_("modelled"), "aggregated": N_("aggregated")}
LBM2_TITLE = N_("Agreement with the official LBM 2.0 classes")
VALIDATION_TITLE = N_("The 2024 measurement per PC4 as a test of the 2023 nowcast")
WHAT = (
    N_("level: nowcast 2023 vs measured 2024"), N_("level: official 2022 vs measured 2024"),
    N_("change: nowcast 2023 - official 2022 vs measured 2024 - official 2022"),
    N_("change: official 2022 - 2020 vs measured 2024 - official 2022"),
    N_("level: (official 2018 + 2022) / 2 vs official 2020"),
    N_("change: (official 2022 - 2018) / 2 vs official 2020 - 2018"),
    N_("level: interpolation as above with noise added to official 2022 (sd: last column)"),
    N_("change: interpolation as above with noise added to official 2022 (sd: last column)"),
    N_("sd of the change official 2020 - 2018"), N_("sd of the change official 2022 - 2020"),
    N_("sd of the change measured 2024 - official 2022"))
"""The validation rows of ``analysis.levels`` (its ``what`` column is the English text), marked for translation."""
WHAT_DIMENSION = N_("level {dimension}: nowcast 2023 vs measured 2024")
TESTS = {"nowcast": N_("nowcast"), "persistence": N_("persistence"),
         "interpolation (history)": N_("interpolation (history)"),
         "interpolation (history, noisy endpoint)": N_("interpolation (history, noisy endpoint)"),
         "spread": N_("spread"), "dimension": N_("dimension")}
SUBSETS = {"all codes": N_("all codes"), "unchanged": N_("unchanged"), "all": N_("all"),
           "official LBM3 vs LBM2 (reference)": N_("official LBM3 vs LBM2 (reference)")}


def _number(v, lang: str, digits: int = 3) -> str:
    from babel.numbers import format_decimal

    if v is None or (isinstance(v, float) and pd.isna(v)):
        return ""
    if isinstance(v, str):
        return v
    fmt = "#,##0" if float(v).is_integer() and digits == 0 else "#,##0." + "0" * digits
    return format_decimal(v, format=fmt, locale=LOCALES[lang])


def _formatted(frame: pd.DataFrame, lang: str, counts=("n", "areas")) -> pd.DataFrame:
    """Numbers as text in the locale of ``lang`` (counts whole, others 3 decimals; years as they are), with the
    column names of ``lang``."""
    f = frame.copy()
    for c in f.columns:
        if pd.api.types.is_numeric_dtype(f[c]) or f[c].map(lambda v: isinstance(v, float | int)).all():
            f[c] = [("" if pd.isna(v) else str(v)) if c == "year" else _number(v, lang, 0 if c in counts else 3)
                    for v in f[c]]
    _ = translator(lang)
    return f.rename(columns={c: _(label) for c, label in COLUMNS.items()})


def _table(frame: pd.DataFrame, lang: str) -> str:
    return _formatted(frame, lang).to_markdown(index=False, disable_numparse=True)


def _subset(text: str, lang: str) -> str:
    _ = translator(lang)
    match = re.fullmatch(r"boundaries (\d+), (.+)", text)
    if match:
        return _("boundaries {year}, {subset}", year=match.group(1), subset=_(SUBSETS[match.group(2)]))
    return _(SUBSETS[text])


def _what(text: str, lang: str) -> str:
    _ = translator(lang)
    match = re.fullmatch(r"level (\w+): nowcast 2023 vs measured 2024", text)
    if match:
        return _(WHAT_DIMENSION, dimension=match.group(1))
    return _(text)


def localise(available: pd.DataFrame, agreement: pd.DataFrame, validation: pd.DataFrame, lang: str
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The three result tables with their words in ``lang`` (column names stay; ``_table`` renames them)."""
    _ = translator(lang)
    av = available.assign(kind=[_(KINDS[k]) if k in KINDS else k for k in available["kind"]])
    ag, val = agreement.copy(), validation.copy()
    ag["subset"] = [_subset(v, lang) for v in ag["subset"]]
    ag["year"] = ag["year"].replace("all", _(SUBSETS["all"]))
    val["what"] = [_what(v, lang) for v in val["what"]]
    val["test"] = [_(TESTS[v]) if v in TESTS else v for v in val["test"]]
    return av, ag, val


def summary_markdown(available: pd.DataFrame, agreement: pd.DataFrame, validation: pd.DataFrame, run: int,
                     pc4_years: list[int], min_coverage: float, lang: str = "nl") -> str:
    """The Dutch or English summary of a ``levels`` run."""
    _ = translator(check_lang(lang))
    av, ag, val = localise(available, agreement, validation, lang)
    sd = validation.set_index("what")["sd_change"]
    sp = validation.set_index("what")["spearman"]
    verdict = _(
        "not introduced. The measured change 2022-2024 per PC4 has a spread of {sd24} points against {sd22} for "
        "2020-2022; the nowcast change predicts it with Spearman {sp}. With an endpoint this noisy, interpolation "
        "reproduces the change 2018-2020 with Spearman {spi}: no better than the nowcast (see leefbaar validate "
        "and docs/levels.md).",
        sd24=_number(sd.get("sd of the change measured 2024 - official 2022"), lang),
        sd22=_number(sd.get("sd of the change official 2022 - 2020"), lang),
        sp=_number(sp.get("change: nowcast 2023 - official 2022 vs measured 2024 - official 2022"), lang),
        spi=_number(sp.get("change: interpolation as above with noise added to official 2022 (sd: last column)"),
                    lang))
    ys = f"{min(pc4_years)}-{max(pc4_years)}" if pc4_years else "-"
    return "\n".join([
        "# " + _("Livability at other levels from the official measurement (run {run})", run=run), "",
        _("Gemeente and wijk values and PC4 values for 2024 are resident-weighted means of the official "
          "Leefbaarometer scores (PC4 {pc4_years}; buurt 2024). Residents of a source in a target = CBS residents of "
          "the source x the share of its surface in the target. Kind: aggregated. Class: LBM3 class of the "
          "aggregated score. A value counts only when areas with an official score hold at least {cov} % of the "
          "estimated residents.", pc4_years=ys, cov=_number(min_coverage * 100, lang, 0)), "",
        "## " + _("Levels and years with scores"), "", _table(av, lang), "",
        "## " + _(LBM2_TITLE), "",
        _("Exact = same class; ±1 = at most one class apart; difference = mean LBM3 class minus LBM2 class. "
          "Reference pc4: the official LBM3 against the LBM2 classes per PC4, without aggregation (the difference "
          "between the two instruments)."), "", _table(ag, lang), "",
        "## " + _(VALIDATION_TITLE), "", _table(val, lang), "",
        _("2024 anchor for 2023 (interpolation): {verdict}", verdict=verdict), "",
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

    _ = translator(check_lang(lang))
    target = resolve_store(store)
    if not target.exists():
        raise LeefbaarError(_("{store}: no store here; build one with 'leefbaar build --data DIR --store {store}'",
                              store=target))
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
    print_frame(_formatted(ag[agreement["year"] == "all"], lang), title=_(LBM2_TITLE), lang=lang)
    print_frame(_formatted(val, lang), title=_(VALIDATION_TITLE), lang=lang)


def register(app: typer.Typer) -> None:
    app.command()(levels)
