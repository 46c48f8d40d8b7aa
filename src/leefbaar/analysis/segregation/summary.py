"""The answer in words: is a place becoming more or less segregated, and by how much (Dutch or English).

Every number is read from the result tables of ``Segregation``; the verdict is 'more'/'less' only when the
interval of the change excludes 0. Dutch numbers use a decimal comma.
"""

from __future__ import annotations

import pandas as pd

from leefbaar.analysis.segregation.monitor import HEADLINE_INDEX, INDEX_LABELS, Segregation

ORDER = ["dissimilarity", "spatial_dissimilarity", "gini", "entropy", "isolation", "exposure",
         "multi_dissimilarity", "information_theory"]
VERDICTS = {
    "nl": {"less": "wordt minder gesegregeerd", "more": "wordt meer gesegregeerd",
           "no_change": "wordt niet aantoonbaar meer of minder gesegregeerd"},
    "en": {"less": "is becoming less segregated", "more": "is becoming more segregated",
           "no_change": "is not demonstrably becoming more or less segregated"},
}


def _t(lang: str, nl: str, en: str) -> str:
    return nl if lang == "nl" else en


def num(x, nd: int = 3, lang: str = "nl", sign: bool = False) -> str:
    """``x`` with ``nd`` decimals in the locale's format; '-' when missing."""
    if x is None or pd.isna(x):
        return "-"
    s = f"{x:+,.{nd}f}" if sign else f"{x:,.{nd}f}"
    return s.replace(",", "_").replace(".", ",").replace("_", ".") if lang == "nl" else s


def interval(lo, hi, lang: str, nd: int = 3, sign: bool = False) -> str:
    return f"{num(lo, nd, lang, sign)} {_t(lang, 'tot', 'to')} {num(hi, nd, lang, sign)}"


def verdict(change: dict) -> str:
    """'more', 'less' or 'no_change' from a change row (interval excludes 0 or not)."""
    if not change["significant"]:
        return "no_change"
    return "more" if change["change"] > 0 else "less"


def answer(seg: Segregation, place: str, lang: str) -> list[str]:
    """The paragraph answering 'more or less segregated, and by how much' for ``place``."""
    h = seg.headline(place)
    name = seg.names.get(place, place)
    what = seg.catalogue.label(seg.dimension, lang)
    level = int(round(100 * seg.settings_used["interval"]))
    if h is None:
        lv = seg.levels[(seg.levels["place"] == place) & (seg.levels["index"] == HEADLINE_INDEX)]
        if lv.empty:
            return [_t(lang, f"{name}: te weinig gebieden met gegevens (minder dan {seg.settings_used['min_areas']}).",
                       f"{name}: too few areas with data (fewer than {seg.settings_used['min_areas']})."), ""]
        r = lv.sort_values("year").iloc[-1]
        return [_t(lang, f"{name}: één meetjaar ({int(r['year'])}); een verandering is niet te bepalen. "
                         f"D = {num(r['value'], 3, lang)} ({level} %-interval {interval(r['lo'], r['hi'], lang)}).",
                   f"{name}: one measurement year ({int(r['year'])}); no change can be estimated. "
                   f"D = {num(r['value'], 3, lang)} ({level}% interval {interval(r['lo'], r['hi'], lang)})."), ""]
    gs, a, b, c, d = h["set"], h["first"], h["last"], h["change"], h["decomposition"]
    v = verdict(c)
    sig = _t(lang, "significant" if c["significant"] else "niet significant",
             "significant" if c["significant"] else "not significant")
    text = _t(
        lang,
        f"**{name} {VERDICTS['nl'][v]} naar {what}.** De dissimilariteitsindex D tussen {gs.pair_label('nl')} "
        f"({gs.unit_label('nl')}) was {num(a['value'], 3, lang)} ({level} %-interval "
        f"{interval(a['lo'], a['hi'], lang)}) in {a['year']} en {num(b['value'], 3, lang)} "
        f"({interval(b['lo'], b['hi'], lang)}) in {b['year']}: een verandering van "
        f"{num(c['change'], 3, lang, True)} ({interval(c['change_lo'], c['change_hi'], lang, 3, True)}; {sig}, "
        f"p = {num(c['p_change'], 3, lang)}; gemeten op de {int(c['n_common'])} gebieden met gegevens in beide "
        f"jaren). D = {num(b['value'], 2, lang)} betekent dat {num(100 * b['value'], 0, lang)} % van één van beide "
        f"groepen naar een ander gebied zou moeten verhuizen om beide groepen gelijk over de gebieden te spreiden.",
        f"**{name} {VERDICTS['en'][v]} by {what}.** The dissimilarity index D between {gs.pair_label('en')} "
        f"({gs.unit_label('en')}) was {num(a['value'], 3, lang)} ({level}% interval "
        f"{interval(a['lo'], a['hi'], lang)}) in {a['year']} and {num(b['value'], 3, lang)} "
        f"({interval(b['lo'], b['hi'], lang)}) in {b['year']}: a change of {num(c['change'], 3, lang, True)} "
        f"({interval(c['change_lo'], c['change_hi'], lang, 3, True)}; {sig}, p = {num(c['p_change'], 3, lang)}; "
        f"measured on the {int(c['n_common'])} areas with data in both years). D = {num(b['value'], 2, lang)} "
        f"means that {num(100 * b['value'], 0, lang)}% of either group would have to move to another area for both "
        f"groups to be spread evenly.")
    lines = [text, ""]
    if d is not None:
        lines += [_t(
            lang,
            f"Ontleding van de verandering (Shapley, PySAL segregation): {num(d['spatial'], 3, lang, True)} komt uit "
            f"het ruimtelijke deel (welke gebieden welke aandelen hebben, bij een gelijke verdeling van de "
            f"aandelen) en {num(d['compositional'], 3, lang, True)} uit de samenstelling (de verdeling van de "
            f"aandelen over de gebieden zelf, onder meer doordat de groepen in de hele gemeente groter of kleiner "
            f"worden).",
            f"Decomposition of the change (Shapley, PySAL segregation): {num(d['spatial'], 3, lang, True)} comes "
            f"from the spatial part (which areas hold which shares, with the distribution of shares held fixed) "
            f"and {num(d['compositional'], 3, lang, True)} from composition (the distribution of shares over the "
            f"areas itself, among other things because the groups grow or shrink in the whole gemeente)."), ""]
    lv = seg.levels[(seg.levels["place"] == place) & (seg.levels["set"] == gs.id)
                    & (seg.levels["index"] == HEADLINE_INDEX)]
    if "null_mean" in lv.columns and lv["null_mean"].notna().any():
        lines += [_t(
            lang,
            f"Bij willekeurige toewijzing van de {gs.unit_label('nl')} over de groepen (gebiedsgrootte vast, "
            f"{seg.settings_used['permutations']} trekkingen) zou D gemiddeld {num(lv['null_mean'].min(), 3, lang)}"
            f"-{num(lv['null_mean'].max(), 3, lang)} zijn; de gemeten waarde ligt daar in elk jaar "
            + ("boven (p ≤ " + num(lv['p_random'].max(), 3, lang) + ")." if (lv["p_random"] < 0.05).all()
               else "niet in elk jaar significant boven."),
            f"Under random allocation of the {gs.unit_label('en')} over the groups (area sizes fixed, "
            f"{seg.settings_used['permutations']} draws) D would average {num(lv['null_mean'].min(), 3, lang)}"
            f"-{num(lv['null_mean'].max(), 3, lang)}; the measured value lies "
            + ("above it in every year (p ≤ " + num(lv['p_random'].max(), 3, lang) + ")."
               if (lv["p_random"] < 0.05).all() else "not significantly above it in every year.")), ""]
    return lines


def index_table(seg: Segregation, place: str, set_id: str, lang: str) -> list[str]:
    """A Markdown table of every index in the first and last year, with intervals and the change."""
    lv = seg.levels[(seg.levels["place"] == place) & (seg.levels["set"] == set_id)]
    if lv.empty:
        return []
    years = sorted(lv["year"].unique())
    y0, y1 = int(years[0]), int(years[-1])
    ch = seg.changes
    ch = ch[(ch["place"] == place) & (ch["set"] == set_id) & (ch["year_to"] == y1)] if not ch.empty else ch
    ch = ch.set_index("index") if not ch.empty else ch
    head = [_t(lang, "index", "index"), f"{y0}", *([f"{y1}", _t(lang, "verandering", "change")] if y1 != y0 else []),
            _t(lang, "willekeurig", "random")]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for k in ORDER:
        a = lv[(lv["index"] == k) & (lv["year"] == y0)]
        if a.empty:
            continue
        a = a.iloc[0]
        cells = [INDEX_LABELS[lang][k], f"{num(a['value'], 3, lang)} ({interval(a['lo'], a['hi'], lang)})"]
        if y1 != y0:
            b = lv[(lv["index"] == k) & (lv["year"] == y1)].iloc[0]
            cells.append(f"{num(b['value'], 3, lang)} ({interval(b['lo'], b['hi'], lang)})")
            if len(ch) and k in ch.index:
                c = ch.loc[k]
                star = " *" if c["significant"] else ""
                cells.append(f"{num(c['change'], 3, lang, True)} "
                             f"({interval(c['change_lo'], c['change_hi'], lang, 3, True)}){star}")
            else:
                cells.append("-")
        cells.append(num(a.get("null_mean"), 3, lang))
        rows.append("| " + " | ".join(cells) + " |")
    level = int(round(100 * seg.settings_used["interval"]))
    rows += ["", _t(lang, f"Tussen haakjes het {level} %-interval (basis-bootstrap binnen gebieden); * = de "
                          "verandering is significant (het interval bevat 0 niet). 'Willekeurig': de verwachte "
                          f"waarde in {y0} bij willekeurige toewijzing. Isolatie en blootstelling gaan over de eerste "
                          "groep van het paar, binnen het totaal van het paar.",
                    f"In brackets the {level}% interval (within-area bootstrap, basic); * = the change is "
                    "significant (the interval excludes 0). 'Random': the expected value in "
                    f"{y0} under random allocation. Isolation and exposure refer to the first group of the pair, "
                    "within the pair's total.")]
    return rows


def ranking_lines(seg: Segregation, set_id: str, lang: str, top: int = 10,
                  focus: tuple[str, ...] = ("GM0363", "GM0599", "GM0518", "GM0344")) -> list[str]:
    """The most segregated gemeenten in the last year, and the four largest, with rank intervals."""
    r = seg.ranking
    if r.empty or set_id not in set(r["set"]):
        return []
    r = r[r["set"] == set_id]
    y1 = int(r["year"].max())
    last = r[r["year"] == y1].sort_values("rank")
    n = int(last["n_ranked"].iloc[0])
    level = int(round(100 * seg.settings_used["interval"]))
    gs = next(s for s in seg.sets if s.id == set_id)
    out = [f"### {_t(lang, 'Rangorde', 'Ranking')}: {gs.label(lang)} ({gs.pair_label(lang)})", "",
           _t(lang, f"Rangorde van {n} gemeenten naar D in {y1} (1 = meest gesegregeerd; {level} %-interval van de "
                    "rang uit de bootstrap):",
              f"Ranking of {n} gemeenten by D in {y1} (1 = most segregated; {level}% interval of the rank from "
              "the bootstrap):"), "",
           "| " + _t(lang, "rang | gemeente | D | rang-interval", "rank | gemeente | D | rank interval") + " |",
           "|---|---|---|---|"]
    shown = pd.concat([last.head(top), last[last["place"].isin(focus) & (last["rank"] > top)]])
    for row in shown.itertuples():
        out.append(f"| {row.rank} | {row.name} | {num(row.value, 3, lang)} | {int(row.rank_lo)}-{int(row.rank_hi)} |")
    if "change_rank" in last.columns and last["change"].notna().any():
        y0 = int(r["year"].min())
        rise = last.dropna(subset=["change"]).sort_values("change")
        out += ["", _t(lang, f"Grootste daling van D {y0}-{y1}: ", f"Largest fall of D {y0}-{y1}: ")
                + ", ".join(f"{x.name} ({num(x.change, 3, lang, True)})" for x in rise.head(5).itertuples())
                + _t(lang, "; grootste stijging: ", "; largest rise: ")
                + ", ".join(f"{x.name} ({num(x.change, 3, lang, True)})" for x in rise.tail(5)[::-1].itertuples())
                + "."]
    return out + [""]


def summary(seg: Segregation, places: list[str], files: list[str], lang: str) -> str:
    """The whole summary.md."""
    what = seg.catalogue.label(seg.dimension, lang)
    title = _t(lang, f"Segregatie naar {what}", f"Segregation by {what}")
    names = ", ".join(seg.names.get(p, p) for p in places)
    lines = [f"# {title}: {names}", ""]
    sets = seg.sets

    def years_of(s) -> str:
        return ", ".join(map(str, sorted(seg.levels.loc[seg.levels["set"] == s.id, "year"].unique())))

    lines += [_t(lang, f"Niveau: {seg.level}; groepen: ", f"Level: {seg.level}; groups: ")
              + "; ".join(f"{s.label(lang)} ({years_of(s)})" for s in sets) + ".", ""]
    if any(s.modelled for s in sets):
        lines += ["> " + _t(lang, "**Gemodelleerd.** ", "**Modelled.** ")
                  + " ".join(s.note(lang) for s in sets if s.modelled), ""]
    if any(s.sensitive for s in sets):
        lines += ["> " + _t(lang, "**Gevoelig kenmerk.** ", "**Sensitive attribute.** ")
                  + " ".join(s.note(lang) for s in sets if s.sensitive), ""]
    for p in places:
        lines += [f"## {seg.names.get(p, p)}", ""]
        lines += answer(seg, p, lang)
        for s in sets:
            tab = index_table(seg, p, s.id, lang)
            if tab:
                lines += [f"### {s.label(lang)}: {s.pair_label(lang)}", "", *tab, ""]
    if not seg.ranking.empty:
        lines += [_t(lang, "## Gemeenten vergeleken", "## Gemeenten compared"), ""]
        for s in sets:
            lines += ranking_lines(seg, s.id, lang)
    lines += [_t(lang, "## Toelichting", "## Notes"), ""]
    lines += [f"- {s.label(lang)}: {s.note(lang)}" for s in sets if s.note(lang) and not (s.modelled or s.sensitive)]
    st = seg.settings_used
    lines.append(_t(
        lang,
        f"- Tellingen uit aandelen: aandeel maal het aantal {', '.join(sorted({s.unit_label('nl') for s in sets}))} "
        f"van hetzelfde gebied en jaar (zie catalogue/segregation.yaml). Een gemeente krijgt indices in een jaar "
        f"bij ten minste {st['min_areas']} gebieden met ten minste {st['min_total']:g} eenheden; "
        f"{st['permutations']} trekkingen voor willekeurige toewijzing, {st['bootstrap']} bootstrap-trekkingen, "
        f"seed {st['seed']}.",
        f"- Counts from shares: share times the number of {', '.join(sorted({s.unit_label('en') for s in sets}))} of "
        f"the same area and year (see catalogue/segregation.yaml). A gemeente gets indices in a year with at least "
        f"{st['min_areas']} areas of at least {st['min_total']:g} units; {st['permutations']} random-allocation "
        f"draws, {st['bootstrap']} bootstrap draws, seed {st['seed']}."))
    lines.append(_t(
        lang,
        "- Ruimtelijke dissimilariteit D(adj) (Morrill) trekt de verschillen tussen aangrenzende gebieden (Queen-"
        "contiguïteit) af van D: hoe lager ten opzichte van D, hoe meer de verschillen tussen buren zitten.",
        "- Spatial dissimilarity D(adj) (Morrill) subtracts the differences between adjacent areas (Queen "
        "contiguity) from D: the lower it is relative to D, the more of the unevenness lies between neighbours."))
    lines += [f"- {n.split(' | ', 1)[0 if lang == 'nl' else 1] if ' | ' in n else n}"
              for n in dict.fromkeys(seg.notes)]
    lines += ["", _t(lang, "## Bestanden", "## Files"), "", *[f"- {f}" for f in files], ""]
    return "\n".join(lines)
