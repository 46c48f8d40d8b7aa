"""Short Markdown summaries of the monitoring results, stating the findings in plain Dutch (or English).

Every number in a summary is read from the result tables written beside it; nothing is typed in by hand.
Dutch numbers use a decimal comma.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.analysis.panel import DIMENSION_LABELS

VERDICT = {
    "nl": {"growing": "groeit", "shrinking": "neemt af", "no_change": "verandert niet aantoonbaar"},
    "en": {"growing": "is growing", "shrinking": "is shrinking", "no_change": "shows no demonstrable change"},
}


def num(x: float, nd: int = 3, lang: str = "nl", sign: bool = False) -> str:
    """``x`` with ``nd`` decimals (decimal comma in Dutch); '-' when missing."""
    if x is None or (isinstance(x, float) and not np.isfinite(x)):
        return "-"
    s = f"{x:+,.{nd}f}" if sign else f"{x:,.{nd}f}"
    return s.replace(",", "_").replace(".", ",").replace("_", ".") if lang == "nl" else s


def pct(x: float, nd: int = 1, lang: str = "nl") -> str:
    return num(100 * x, nd, lang) + " %"


def _t(lang: str, nl: str, en: str) -> str:
    return nl if lang == "nl" else en


def _notes(notes: list[str], lang: str) -> list[str]:
    """Notes are written 'Dutch | English'; keep the language asked for, once each, as list items."""
    out = [n.split(" | ", 1)[0 if lang == "nl" else 1] if " | " in n else n for n in notes]
    return [f"- {n}" for n in dict.fromkeys(out)]


def header(title: str, label: str, lang: str) -> list[str]:
    return [f"# {title}", "", _t(lang, f"Invoer: {label}.", f"Input: {label}."), ""]


def trends_summary(label: str, groups: pd.DataFrame, titles: dict[str, tuple[str, list[str]]], weight: str,
                   years: list[int], notes: list[str], files: list[str], lang: str) -> str:
    """Level and change per group (weighted by ``weight`` where known) between the first and last year.

    ``titles`` maps a grouping's name to its title and the order of its groups.
    """
    lines = header(_t(lang, "Trends in leefbaarheid", "Trends in livability"), label, lang)
    col = f"mean_{weight}" if f"mean_{weight}" in groups.columns else "mean"
    how = _t(lang, "gewogen", "weighted") if col != "mean" else _t(lang, "ongewogen", "unweighted")
    tot = groups[groups["variable"] == "total"]
    first, last = years[0], years[-1]
    nat = tot[tot["grouping"] == "national"].set_index("year")[col]
    if first in nat.index and last in nat.index:
        lines.append(_t(lang, f"Landelijk gemiddelde ({how}): {num(nat[first], 3, lang)} in {first} en "
                              f"{num(nat[last], 3, lang)} in {last} ({num(nat[last] - nat[first], 3, lang, True)}).",
                        f"National mean ({how}): {num(nat[first], 3, lang)} in {first} and {num(nat[last], 3, lang)} "
                        f"in {last} ({num(nat[last] - nat[first], 3, lang, True)})."))
        lines.append("")
    for grouping, (title, order) in titles.items():
        sub = tot[tot["grouping"] == grouping]
        if sub.empty:
            continue
        wide = sub.pivot(index="group", columns="year", values=col)
        count = sub.pivot(index="group", columns="year", values="n_areas")
        if first not in wide.columns or last not in wide.columns:
            continue
        wide = wide.reindex([g for g in order if g in wide.index])
        ch = (wide[last] - wide[first]).dropna().sort_values()
        lines += [f"## {title}", "",
                  _t(lang, f"| groep | gebieden | {first} | {last} | verandering |",
                     f"| group | areas | {first} | {last} | change |"), "|---|---:|---:|---:|---:|"]
        for g in wide.index:
            lines.append(f"| {g} | {int(count.loc[g, last]) if pd.notna(count.loc[g, last]) else 0} | "
                         f"{num(wide.loc[g, first], 3, lang)} | {num(wide.loc[g, last], 3, lang)} | "
                         f"{num(wide.loc[g, last] - wide.loc[g, first], 3, lang, True)} |")
        if len(ch) >= 2:
            lines += ["", _t(lang, f"Sterkste stijging: {ch.index[-1]} ({num(ch.iloc[-1], 3, lang, True)}); "
                                   f"zwakste: {ch.index[0]} ({num(ch.iloc[0], 3, lang, True)}).",
                             f"Largest rise: {ch.index[-1]} ({num(ch.iloc[-1], 3, lang, True)}); smallest: "
                             f"{ch.index[0]} ({num(ch.iloc[0], 3, lang, True)}).")]
        lines.append("")
    lines += [_t(lang, "## Toelichting", "## Notes"), "", *_notes(notes, lang), "", *_files(files, lang)]
    return "\n".join(lines) + "\n"


def gap_summary(label: str, gap, notes: list[str], files: list[str], lang: str) -> str:
    """Answer "is the gap growing?" from a fitted ``GapAnalysis``."""
    ch = gap.change.set_index("measure")
    first, last = gap.years[0], gap.years[-1]
    level = int(round(100 * gap.level))
    lines = header(_t(lang, "Groeit de kloof tussen sterke en zwakke gebieden?",
                      "Is the gap between strong and weak areas growing?"), label, lang)
    h = ch.loc["p90_p10"]
    lines.append(_t(lang,
                    f"**Antwoord: de kloof {VERDICT['nl'][h['verdict']]}.** Het verschil tussen de 10 % sterkste en de "
                    f"10 % zwakste gebieden (P90-P10) was {num(h['from_value'], 3, lang)} in {first} en "
                    f"{num(h['to_value'], 3, lang)} in {last}: {num(h['change'], 3, lang, True)} "
                    f"({level} %-interval {num(h['lo'], 3, lang, True)} tot {num(h['hi'], 3, lang, True)}, bootstrap "
                    f"over gebieden).",
                    f"**Answer: the gap {VERDICT['en'][h['verdict']]}.** The difference between the strongest and the "
                    f"weakest 10 % of areas (P90-P10) was {num(h['from_value'], 3, lang)} in {first} and "
                    f"{num(h['to_value'], 3, lang)} in {last}: {num(h['change'], 3, lang, True)} ({level} % interval "
                    f"{num(h['lo'], 3, lang, True)} to {num(h['hi'], 3, lang, True)}, bootstrap over areas)."))
    lines.append("")
    rows = [("p90_p10_w", "P90-P10, per inwoner", "P90-P10, per resident"), ("sd", "standaardafwijking (sigma)",
                                                                           "standard deviation (sigma)"),
            ("theil", "Theil-index", "Theil index"), ("theil_w", "Theil-index per inwoner", "Theil per resident"),
            ("gini", "Gini-coëfficiënt", "Gini coefficient"), ("gini_w", "Gini per inwoner", "Gini per resident"),
            ("share_below_w", "aandeel inwoners onder 'voldoende'", "share of residents below 'sufficient'"),
            ("share_below", "aandeel gebieden onder 'voldoende'", "share of areas below 'sufficient'")]
    lines += [_t(lang, f"| maat | {first} | {last} | verandering | {level} %-interval | oordeel |",
                 f"| measure | {first} | {last} | change | {level} % interval | verdict "
                 "|"), "|---|---:|---:|---:|---|---|"]
    for m, nl, en in [("p90_p10", "P90-P10 (scorepunten)", "P90-P10 (score points)"), *rows]:
        if m not in ch.index:
            continue
        r = ch.loc[m]
        nd = 5 if m.startswith("theil") else 4 if m.startswith("gini") else 3
        if m.startswith("share"):
            band = f"{num(100 * r['lo'], 1, lang, True)} .. {num(100 * r['hi'], 1, lang, True)}"
            vals = [pct(r["from_value"], 1, lang), pct(r["to_value"], 1, lang),
                    num(100 * r["change"], 1, lang, True) + _t(lang, " %-punt", " pp"), band]
        else:
            vals = [num(r["from_value"], nd, lang), num(r["to_value"], nd, lang), num(r["change"], nd, lang, True),
                    f"{num(r['lo'], nd, lang, True)} .. {num(r['hi'], nd, lang, True)}"]
        lines.append(f"| {_t(lang, nl, en)} | " + " | ".join(vals) + f" | {VERDICT[lang][r['verdict']]} |")
    lines.append("")
    b = gap.beta.iloc[0]
    lines.append(_t(lang,
                    f"Beta-convergentie {int(b['from_year'])}-{int(b['to_year'])}: een gebied dat 0,1 punt lager "
                    "begon, "
                    f"steeg per jaar {num(-0.1 * b['beta_per_year'], 4, lang)} punt meer (helling "
                    f"{num(b['beta_per_year'], 4, lang, True)} per jaar, p = {num(b['p'], 3, lang)}, n = "
                    f"{int(b['n'])}). "
                    "Let op: meetfouten in het beginniveau maken beta-convergentie groter dan de werkelijke inhaalslag "
                    "(regressie naar het gemiddelde); de spreiding (sigma) en P90-P10 zijn daarom het eigenlijke "
                    "antwoord.",
                    f"Beta convergence {int(b['from_year'])}-{int(b['to_year'])}: an area that started 0.1 point lower "
                    f"rose {num(-0.1 * b['beta_per_year'], 4, lang)} point more per year (slope "
                    f"{num(b['beta_per_year'], 4, lang, True)} per year, p = {num(b['p'], 3, lang)}, n = "
                    f"{int(b['n'])}). "
                    "Note: measurement error in the initial level inflates beta convergence (regression to the mean); "
                    "the spread (sigma) and P90-P10 are therefore the real answer."))
    lines.append("")
    c = gap.cohorts[gap.cohorts["cohort"] == "gap_strong_minus_weak"].set_index("year")["mean"]
    closer = c.iloc[-1] < c.iloc[0]
    lines.append(_t(lang,
                    f"De gebieden die in {first} bij de zwakste 10 % hoorden, "
                    f"{'liepen in op' if closer else 'raakten verder achter bij'} de sterkste 10 % van toen: het "
                    f"verschil tussen beide groepen ging van {num(c.iloc[0], 3, lang)} naar {num(c.iloc[-1], 3, lang)} "
                    "(regressie naar het gemiddelde speelt hierbij mee).",
                    f"Areas among the weakest 10 % in {first} {'caught up with' if closer else 'fell further behind'} "
                    f"the strongest 10 % of then: the difference between the two went from {num(c.iloc[0], 3, lang)} "
                    f"to {num(c.iloc[-1], 3, lang)} (regression to the mean plays a part)."))
    lines.append("")
    if gap.decomposition is not None:
        d = gap.decomposition
        lines.append(_t(lang,
                        f"Tussen en binnen gemeenten (Theil): in {first} lag "
                        f"{pct(d['between_share'].iloc[0], 0, lang)} "
                        f"van de ongelijkheid tussen gemeenten, in {last} {pct(d['between_share'].iloc[-1], 0, lang)}; "
                        "de rest zit binnen gemeenten.",
                        f"Between and within gemeenten (Theil): in {first} {pct(d['between_share'].iloc[0], 0, lang)} "
                        f"of inequality lay between gemeenten, in {last} {pct(d['between_share'].iloc[-1], 0, lang)}; "
                        "the rest lies within gemeenten."))
        lines.append("")
    lines += [_t(lang, "## Toelichting", "## Notes"), "",
              _t(lang, "- Theil en Gini zijn berekend op de totaalscore (lbm), niet op de afwijking (afw): ze vereisen "
                       "positieve waarden en de afwijking is in ongeveer de helft van de gebieden negatief. Omdat het "
                       "nulpunt van de score een afspraak is, zijn hun niveaus klein; alleen de verandering telt. "
                       "P90-P10 hangt niet van het nulpunt af.",
                 "- Theil and Gini are computed on the total score (lbm), not on the deviation (afw): they need "
                 "positive values, and the deviation is negative in about half the areas. Because the zero point of "
                 "the score is a convention their levels are small; only their change counts. P90-P10 does not "
                 "depend on the zero point."),
              *_notes(notes, lang), "", *_files(files, lang)]
    return "\n".join(lines) + "\n"


def vulnerable_summary(label: str, vul, notes: list[str], files: list[str], lang: str, top: int = 10) -> str:
    """Count, top of the ranking and the comparison with the reference list."""
    d = vul.definition
    a = vul.areas
    flagged = a[a["flagged"]]
    lines = header(_t(lang, "Kwetsbare gebieden", "Vulnerable areas"), label, lang)
    lines.append(_t(lang,
                    f"Definitie: {d.name('nl')} ({d.source}). Peiljaar {vul.year}, daling gemeten sinds {vul.since}. "
                    f"{len(flagged)} van {len(a)} gebieden voldoen: {int(a['level'].sum())} hebben een laag niveau, "
                    f"{int(a['decline'].sum())} gaan achteruit, {int(a['cumulation'].sum())} stapelen zwakke "
                    "dimensies.",
                    f"Definition: {d.name('en')} ({d.source}). Reference year {vul.year}, decline measured since "
                    f"{vul.since}. {len(flagged)} of {len(a)} areas qualify: {int(a['level'].sum())} have a low level, "
                    f"{int(a['decline'].sum())} decline, {int(a['cumulation'].sum())} accumulate weak dimensions."))
    lines += ["", _t(lang, f"## Top {min(top, len(flagged))}", f"## Top {min(top, len(flagged))}"), "",
              _t(lang, "| rang | gebied | score | waarom |", "| rank | area | score | why |"), "|---:|---|---:|---|"]
    for r in flagged.head(top).itertuples():
        lines.append(f"| {int(r.rank)} | {r.code} | {num(r.total, 3, lang)} | {r.reason} |")
    lines.append("")
    if hasattr(vul, "comparison"):
        lines += compare_text(vul, lang)
    lines += [_t(lang, "## Toelichting", "## Notes"), "", *_notes(notes + vul.notes, lang), "", *_files(files, lang)]
    return "\n".join(lines) + "\n"


def compare_text(vul, lang: str) -> list[str]:
    """Overlap with the reference list and what the differences have in common (from ``vul.profile``)."""
    c, p, name = vul.comparison, vul.profile.set_index("set"), vul.reference_name
    ref_label = name.upper().replace("_", " ")
    lines = [_t(lang, f"## Vergelijking met {ref_label}", f"## Comparison with {ref_label}"), ""]
    lines.append(_t(lang,
                    f"{int(c['both'])} gebieden staan op beide lijsten; {int(c['only_flagged'])} alleen bij leefbaar, "
                    f"{int(c[f'only_{name}'])} alleen op {ref_label} (overlap, Jaccard: {num(c['jaccard'], 2, lang)}). "
                    f"{pct(c[f'share_of_flagged_in_{name}'], 0, lang)} van de kwetsbare gebieden is ook {ref_label}; "
                    f"{pct(c[f'share_of_{name}_flagged'], 0, lang)} van de {ref_label}-gebieden is kwetsbaar.",
                    f"{int(c['both'])} areas are on both lists; {int(c['only_flagged'])} only in leefbaar's, "
                    f"{int(c[f'only_{name}'])} only in {ref_label} (overlap, Jaccard: {num(c['jaccard'], 2, lang)}). "
                    f"{pct(c[f'share_of_flagged_in_{name}'], 0, lang)} of the vulnerable areas are also {ref_label}; "
                    f"{pct(c[f'share_of_{name}_flagged'], 0, lang)} of the {ref_label} areas are vulnerable."))
    lines.append("")
    only_ref = f"only_{name}"
    if only_ref in p.index and p.loc[only_ref, "n"] > 0:
        r = p.loc[only_ref]
        lines.append(_t(lang,
                        f"Wat de {int(r['n'])} gebieden alleen op {ref_label} gemeen hebben: "
                        f"{'slechts ' if r['share_level'] < 0.5 else ''}{pct(r['share_level'], 0, lang)} heeft een "
                        "laag leefbaarheidsniveau (gemiddelde score "
                        f"{num(r['mean_total'], 3, lang)} tegen {num(p.loc['both', 'mean_total'], 3, lang)} op beide "
                        "lijsten), "
                        f"{pct(r['share_decline'], 0, lang)} gaat achteruit en {pct(r['share_cumulation'], 0, lang)} "
                        "stapelt "
                        f"zwakke dimensies. {_profile_contrast(p, only_ref, 'neither', lang)}",
                        f"What the {int(r['n'])} areas only in {ref_label} have in common: "
                        f"{'only ' if r['share_level'] < 0.5 else ''}{pct(r['share_level'], 0, lang)} have a low "
                        "livability level (mean score "
                        f"{num(r['mean_total'], 3, lang)} against {num(p.loc['both', 'mean_total'], 3, lang)} on "
                        "both lists), "
                        f"{pct(r['share_decline'], 0, lang)} decline and {pct(r['share_cumulation'], 0, lang)} "
                        "accumulate weak "
                        f"dimensions. {_profile_contrast(p, only_ref, 'neither', lang)}"))
        lines.append("")
    if "only_flagged" in p.index and p.loc["only_flagged", "n"] > 0:
        r = p.loc["only_flagged"]
        weak = sorted(((r.get(f"share_low_{dim}", np.nan), dim) for dim in DIMENSION_LABELS["nl"]
                       if f"share_low_{dim}" in r.index), reverse=True)[:2]
        weak_txt = ", ".join(f"{DIMENSION_LABELS[lang][dim]} ({pct(s, 0, lang)})" for s, dim in weak if np.isfinite(s))
        lines.append(_t(lang,
                        f"Wat de {int(r['n'])} gebieden alleen bij leefbaar gemeen hebben: "
                        f"{pct(r['share_decline'], 0, lang)} "
                        f"gaat achteruit (gemiddeld {num(r['mean_change'], 3, lang, True)}); vaakst zwak op "
                        f"{weak_txt}. "
                        f"{_profile_contrast(p, 'only_flagged', 'both', lang)}",
                        f"What the {int(r['n'])} areas only in leefbaar's list have in common: "
                        f"{pct(r['share_decline'], 0, lang)} "
                        f"decline (mean {num(r['mean_change'], 3, lang, True)}); most often weak on {weak_txt}. "
                        f"{_profile_contrast(p, 'only_flagged', 'both', lang)}"))
        lines.append("")
    return lines


PROFILE_LABELS = {
    "median_inwoner": ("inwoners", "residents", 0),
    "median_sted": ("stedelijkheid (1 = zeer sterk stedelijk)", "urbanity (1 = very strongly urban)", 0),
    "median_p_link_hh": ("% huishoudens met laag inkomen", "% low-income households", 1),
    "median_uitkering_per_100_inw": ("uitkeringen per 100 inwoners", "benefits per 100 residents", 1),
    "median_pct_corporatie": ("% corporatiewoningen", "% social-housing dwellings", 0),
    "median_wozwoning": ("WOZ-waarde (x 1000 euro)", "WOZ value (x 1000 euro)", 0),
}


def _profile_contrast(p: pd.DataFrame, a: str, b: str, lang: str) -> str:
    """Medians of set ``a`` beside set ``b`` for the CBS profile indicators present."""
    items = []
    for col, (nl, en, nd) in PROFILE_LABELS.items():
        if col in p.columns and np.isfinite(p.loc[a, col]) and np.isfinite(p.loc[b, col]):
            items.append(f"{_t(lang, nl, en)} {num(p.loc[a, col], nd, lang)} ({num(p.loc[b, col], nd, lang)})")
    if not items:
        return ""
    other = {"neither": _t(lang, "overige gebieden", "other areas"), "both": _t(lang, "beide lijsten", "both lists")}
    return _t(lang, f"Medianen (tussen haakjes: {other[b]}): ", f"Medians (in brackets: {other[b]}): ") + \
        "; ".join(items) + "."


def clusters_summary(label: str, moran: pd.DataFrame, counts: pd.DataFrame, per_area: pd.DataFrame,
                     settings: dict, notes: list[str], files: list[str], lang: str) -> str:
    """Global Moran's I per year, hot/cold spot counts and their persistence."""
    lines = header(_t(lang, "Ruimtelijke clusters", "Spatial clusters"), label, lang)
    m0, m1 = moran.iloc[0], moran.iloc[-1]
    lines.append(_t(lang,
                    f"Gebieden lijken op hun buren: Moran's I was {num(m0['I'], 3, lang)} in {int(m0['year'])} en "
                    f"{num(m1['I'], 3, lang)} in {int(m1['year'])} (0 = geen ruimtelijk patroon; pseudo-p "
                    f"{num(m1['p_sim'], 3, lang)} met {settings['permutations']} permutaties).",
                    f"Areas resemble their neighbours: Moran's I was {num(m0['I'], 3, lang)} in {int(m0['year'])} and "
                    f"{num(m1['I'], 3, lang)} in {int(m1['year'])} (0 = no spatial pattern; pseudo p "
                    f"{num(m1['p_sim'], 3, lang)} with {settings['permutations']} permutations)."))
    lines += ["", _t(lang, "| jaar | Moran's I | hotspots (HH) | coldspots (LL) | uitschieters (HL+LH) |",
                     "| year | Moran's I | hot spots (HH) | cold spots (LL) | outliers (HL+LH) |"),
              "|---:|---:|---:|---:|---:|"]
    for r in moran.itertuples():
        c = counts.loc[r.year] if r.year in counts.index else pd.Series(dtype=float)
        lines.append(f"| {r.year} | {num(r.I, 3, lang)} | {int(c.get('HH', 0))} | {int(c.get('LL', 0))} | "
                     f"{int(c.get('HL', 0) + c.get('LH', 0))} |")
    pat = per_area["pattern"].value_counts()
    lines += ["", _t(lang,
                     f"Bestendigheid: {int(pat.get('persistent_cold', 0))} gebieden waren in elk jaar een coldspot en "
                     f"{int(pat.get('persistent_hot', 0))} in elk jaar een hotspot; {int(pat.get('left_cold', 0))} "
                     f"coldspots van het eerste jaar waren het in het laatste jaar niet meer, "
                     f"{int(pat.get('became_cold', 0))} gebieden werden coldspot.",
                     f"Persistence: {int(pat.get('persistent_cold', 0))} areas were a cold spot in every year and "
                     f"{int(pat.get('persistent_hot', 0))} a hot spot in every year; {int(pat.get('left_cold', 0))} "
                     "cold "
                     f"spots of the first year were no longer one in the last, {int(pat.get('became_cold', 0))} areas "
                     "became a cold spot."), ""]
    lines += [_t(lang, "## Toelichting", "## Notes"), "",
              _t(lang, f"- Buren: Queen-contiguïteit (gedeelde grens of hoek), rij-gestandaardiseerd. LISA met "
                       f"{settings['permutations']} permutaties (conditionele randomisatie), seed {settings['seed']}, "
                       f"significant bij FDR {num(settings['alpha'], 2, lang)}"
                       f"{'' if settings['fdr'] else ' (zonder FDR-correctie)'}: in het laatste jaar p <= "
                       f"{num(m1['threshold'], 4, lang)} ({int(m1['n_significant'])} gebieden; zonder correctie "
                       f"{int(m1['n_p_below_alpha'])}). Met 999 permutaties ligt die drempel vlak boven de kleinst "
                       "mogelijke "
                       "p (0,001): welke gebieden er net boven of onder vallen, wisselt met de seed. Gebruik "
                       "--permutations 9999 voor een scherpere grens.",
                 f"- Neighbours: Queen contiguity (shared edge or corner), row-standardised. LISA with "
                 f"{settings['permutations']} permutations (conditional randomisation), seed {settings['seed']}, "
                 f"significant at FDR {num(settings['alpha'], 2, lang)}"
                 f"{'' if settings['fdr'] else ' (no FDR correction)'}: in the last year p <= "
                 f"{num(m1['threshold'], 4, lang)} ({int(m1['n_significant'])} areas; uncorrected "
                 f"{int(m1['n_p_below_alpha'])}). With 999 permutations that threshold lies just above the smallest "
                 "possible p (0.001): which areas fall just above or below it changes with the seed. Use "
                 "--permutations 9999 for a sharper boundary."),
              *_notes(notes, lang), "", *_files(files, lang)]
    return "\n".join(lines) + "\n"


def _files(files: list[str], lang: str) -> list[str]:
    return [_t(lang, "## Bestanden", "## Files"), "", *[f"- `{f}`" for f in files]]
