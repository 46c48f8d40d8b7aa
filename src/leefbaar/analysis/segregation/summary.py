"""The answer in words: is a place becoming more or less segregated, and by how much (Dutch or English).

Every number is read from the result tables of ``Segregation``; the verdict is 'more'/'less' only when the
interval of the change excludes 0. Texts from the catalogues, numbers by the locale's rules.
"""

from __future__ import annotations

import pandas as pd

from leefbaar.analysis.segregation.monitor import HEADLINE_INDEX, INDEX_LABELS, Segregation
from leefbaar.i18n import N_, fmt_number, fmt_signed, translator

ORDER = ["dissimilarity", "spatial_dissimilarity", "gini", "entropy", "isolation", "exposure",
         "multi_dissimilarity", "information_theory"]
VERDICTS = {"less": N_("**{name} is becoming less segregated by {what}.**"),
            "more": N_("**{name} is becoming more segregated by {what}.**"),
            "no_change": N_("**{name} is not demonstrably becoming more or less segregated by {what}.**")}
"""The headline of each verdict (:func:`verdict`)."""


def num(x, nd: int = 3, lang: str = "nl", sign: bool = False) -> str:
    """``x`` with ``nd`` decimals by the locale's rules; '-' when missing."""
    if x is None or pd.isna(x):
        return "-"
    return fmt_signed(x, lang, nd) if sign else fmt_number(x, lang, nd)


def interval(lo, hi, lang: str, nd: int = 3, sign: bool = False) -> str:
    _ = translator(lang)
    return _("{lo} to {hi}", lo=num(lo, nd, lang, sign), hi=num(hi, nd, lang, sign))


def verdict(change: dict) -> str:
    """'more', 'less' or 'no_change' from a change row (interval excludes 0 or not)."""
    if not change["significant"]:
        return "no_change"
    return "more" if change["change"] > 0 else "less"


def answer(seg: Segregation, place: str, lang: str) -> list[str]:
    """The paragraph answering 'more or less segregated, and by how much' for ``place``."""
    _ = translator(lang)
    h = seg.headline(place)
    name = seg.names.get(place, place)
    what = seg.catalogue.label(seg.dimension, lang)
    level = int(round(100 * seg.settings_used["interval"]))
    if h is None:
        lv = seg.levels[(seg.levels["place"] == place) & (seg.levels["index"] == HEADLINE_INDEX)]
        if lv.empty:
            return [_("{name}: too few areas with data (fewer than {n}).", name=name,
                      n=seg.settings_used["min_areas"]), ""]
        r = lv.sort_values("year").iloc[-1]
        return [_("{name}: one measurement year ({year}); no change can be estimated. D = {value} ({level}% interval "
                  "{interval}).", name=name, year=int(r["year"]), value=num(r["value"], 3, lang), level=level,
                  interval=interval(r["lo"], r["hi"], lang)), ""]
    gs, a, b, c, d = h["set"], h["first"], h["last"], h["change"], h["decomposition"]
    v = verdict(c)
    text = _(VERDICTS[v], name=name, what=what) + " " + _(
        "The dissimilarity index D between {pair} ({unit}) was {a} ({level}% interval {a_interval}) in {a_year} and "
        "{b} ({b_interval}) in {b_year}: a change of {change} ({change_interval}; {significance}, p = {p}; measured "
        "on the {n} areas with data in both years). D = {b2} means that {percent}% of either group would have to "
        "move to another area for both groups to be spread evenly.",
        pair=gs.pair_label(lang), unit=gs.unit_label(lang), a=num(a["value"], 3, lang), level=level,
        a_interval=interval(a["lo"], a["hi"], lang), a_year=a["year"], b=num(b["value"], 3, lang),
        b_interval=interval(b["lo"], b["hi"], lang), b_year=b["year"], change=num(c["change"], 3, lang, True),
        change_interval=interval(c["change_lo"], c["change_hi"], lang, 3, True),
        significance=_("significant") if c["significant"] else _("not significant"), p=num(c["p_change"], 3, lang),
        n=_.integer(c["n_common"]), b2=num(b["value"], 2, lang), percent=num(100 * b["value"], 0, lang))
    lines = [text, ""]
    if d is not None:
        lines += [_("Decomposition of the change (Shapley, PySAL segregation): {spatial} comes from the spatial part "
                    "(which areas hold which shares, with the distribution of shares held fixed) and {composition} "
                    "from composition (the distribution of shares over the areas itself, among other things because "
                    "the groups grow or shrink in the whole gemeente).", spatial=num(d["spatial"], 3, lang, True),
                    composition=num(d["compositional"], 3, lang, True)), ""]
    lv = seg.levels[(seg.levels["place"] == place) & (seg.levels["set"] == gs.id)
                    & (seg.levels["index"] == HEADLINE_INDEX)]
    if "null_mean" in lv.columns and lv["null_mean"].notna().any():
        fields = {"unit": gs.unit_label(lang), "draws": seg.settings_used["permutations"],
                  "low": num(lv["null_mean"].min(), 3, lang), "high": num(lv["null_mean"].max(), 3, lang),
                  "p": num(lv["p_random"].max(), 3, lang)}
        lines += [_("Under random allocation of the {unit} over the groups (area sizes fixed, {draws} draws) D would "
                    "average {low}-{high}; the measured value lies above it in every year (p ≤ {p}).", **fields)
                  if (lv["p_random"] < 0.05).all() else
                  _("Under random allocation of the {unit} over the groups (area sizes fixed, {draws} draws) D would "
                    "average {low}-{high}; the measured value lies not significantly above it in every year.",
                    **fields), ""]
    return lines


def index_table(seg: Segregation, place: str, set_id: str, lang: str) -> list[str]:
    """A Markdown table of every index in the first and last year, with intervals and the change."""
    _ = translator(lang)
    lv = seg.levels[(seg.levels["place"] == place) & (seg.levels["set"] == set_id)]
    if lv.empty:
        return []
    years = sorted(lv["year"].unique())
    y0, y1 = int(years[0]), int(years[-1])
    ch = seg.changes
    ch = ch[(ch["place"] == place) & (ch["set"] == set_id) & (ch["year_to"] == y1)] if not ch.empty else ch
    ch = ch.set_index("index") if not ch.empty else ch
    head = [_("index"), f"{y0}", *([f"{y1}", _("change")] if y1 != y0 else []), _("random")]
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
    rows += ["", _("In brackets the {level}% interval (within-area bootstrap, basic); * = the change is significant "
                   "(the interval excludes 0). 'Random': the expected value in {year} under random allocation. "
                   "Isolation and exposure refer to the first group of the pair, within the pair's total.",
                   level=level, year=y0)]
    return rows


def ranking_lines(seg: Segregation, set_id: str, lang: str, top: int = 10,
                  focus: tuple[str, ...] = ("GM0363", "GM0599", "GM0518", "GM0344")) -> list[str]:
    """The most segregated gemeenten in the last year, and the four largest, with rank intervals."""
    _ = translator(lang)
    r = seg.ranking
    if r.empty or set_id not in set(r["set"]):
        return []
    r = r[r["set"] == set_id]
    y1 = int(r["year"].max())
    last = r[r["year"] == y1].sort_values("rank")
    n = int(last["n_ranked"].iloc[0])
    level = int(round(100 * seg.settings_used["interval"]))
    gs = next(s for s in seg.sets if s.id == set_id)
    out = ["### " + _("Ranking") + f": {gs.label(lang)} ({gs.pair_label(lang)})", "",
           _("Ranking of {n} gemeenten by D in {year} (1 = most segregated; {level}% interval of the rank from the "
             "bootstrap):", n=_.integer(n), year=y1, level=level), "",
           "| " + _("rank | gemeente | D | rank interval") + " |",
           "|---|---|---|---|"]
    shown = pd.concat([last.head(top), last[last["place"].isin(focus) & (last["rank"] > top)]])
    for row in shown.itertuples():
        out.append(f"| {row.rank} | {row.name} | {num(row.value, 3, lang)} | {int(row.rank_lo)}-{int(row.rank_hi)} |")
    if "change_rank" in last.columns and last["change"].notna().any():
        y0 = int(r["year"].min())
        rise = last.dropna(subset=["change"]).sort_values("change")
        out += ["", _("Largest fall of D {first}-{last}: {falls}; largest rise: {rises}.", first=y0, last=y1,
                      falls=", ".join(f"{x.name} ({num(x.change, 3, lang, True)})" for x in rise.head(5).itertuples()),
                      rises=", ".join(f"{x.name} ({num(x.change, 3, lang, True)})"
                                      for x in rise.tail(5)[::-1].itertuples()))]
    return out + [""]


def summary(seg: Segregation, places: list[str], files: list[str], lang: str) -> str:
    """The whole summary.md."""
    _ = translator(lang)
    what = seg.catalogue.label(seg.dimension, lang)
    names = ", ".join(seg.names.get(p, p) for p in places)
    lines = ["# " + _("Segregation by {what}", what=what) + f": {names}", ""]
    sets = seg.sets

    def years_of(s) -> str:
        return ", ".join(map(str, sorted(seg.levels.loc[seg.levels["set"] == s.id, "year"].unique())))

    lines += [_("Level: {level}; groups: {groups}.", level=seg.level,
                groups="; ".join(f"{s.label(lang)} ({years_of(s)})" for s in sets)), ""]
    if any(s.modelled for s in sets):
        lines += ["> **" + _("Modelled.") + "** " + " ".join(s.note(lang) for s in sets if s.modelled), ""]
    if any(s.sensitive for s in sets):
        lines += ["> **" + _("Sensitive attribute.") + "** " + " ".join(s.note(lang) for s in sets if s.sensitive),
                  ""]
    for p in places:
        lines += [f"## {seg.names.get(p, p)}", ""]
        lines += answer(seg, p, lang)
        for s in sets:
            tab = index_table(seg, p, s.id, lang)
            if tab:
                lines += [f"### {s.label(lang)}: {s.pair_label(lang)}", "", *tab, ""]
    if not seg.ranking.empty:
        lines += ["## " + _("Gemeenten compared"), ""]
        for s in sets:
            lines += ranking_lines(seg, s.id, lang)
    lines += ["## " + _("Notes"), ""]
    lines += [f"- {s.label(lang)}: {s.note(lang)}" for s in sets if s.note(lang) and not (s.modelled or s.sensitive)]
    st = seg.settings_used
    lines.append("- " + _(
        "Counts from shares: share times the number of {units} of the same area and year (see "
        "catalogue/segregation.yaml). A gemeente gets indices in a year with at least {min_areas} areas of at least "
        "{min_total} units; {permutations} random-allocation draws, {bootstrap} bootstrap draws, seed {seed}.",
        units=", ".join(sorted({s.unit_label(lang) for s in sets})), min_areas=st["min_areas"],
        min_total=fmt_number(st["min_total"], lang, 2, trailing_zeros=False), permutations=st["permutations"],
        bootstrap=st["bootstrap"], seed=st["seed"]))
    lines.append("- " + _(
        "Spatial dissimilarity D(adj) (Morrill) subtracts the differences between adjacent areas (Queen contiguity) "
        "from D: the lower it is relative to D, the more of the unevenness lies between neighbours."))
    lines += [f"- {n.split(' | ', 1)[0 if lang == 'nl' else 1] if ' | ' in n else n}"
              for n in dict.fromkeys(seg.notes)]
    lines += ["", "## " + _("Files"), "", *[f"- {f}" for f in files], ""]
    return "\n".join(lines)
