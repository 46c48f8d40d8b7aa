"""Short Markdown summaries of the monitoring results, stating the findings in plain Dutch (or English).

Every number in a summary is read from the result tables written beside it; nothing is typed in by hand. Texts come
from the message catalogues and numbers follow the locale (:mod:`leefbaar.i18n`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.analysis.panel import DIMENSION_LABELS
from leefbaar.i18n import N_, fmt_number, fmt_signed, translator

VERDICT = {"growing": N_("is growing"), "shrinking": N_("is shrinking"),
           "no_change": N_("shows no demonstrable change")}
"""What a verdict of the gap says, after "the gap" (translated where shown: :func:`verdict_text`)."""


def verdict_text(verdict: str, lang: str) -> str:
    """The words of ``verdict`` ("growing", "shrinking", "no_change") in ``lang``."""
    return translator(lang)(VERDICT[verdict])


def num(x: float, nd: int = 3, lang: str = "nl", sign: bool = False) -> str:
    """``x`` with ``nd`` decimals by the locale's rules (:func:`leefbaar.i18n.fmt_number` / ``fmt_signed``)."""
    return fmt_signed(x, lang, nd) if sign else fmt_number(x, lang, nd)


def _notes(notes: list[str], lang: str) -> list[str]:
    """Notes are written 'Dutch | English'; keep the language asked for, once each, as list items."""
    out = [n.split(" | ", 1)[0 if lang == "nl" else 1] if " | " in n else n for n in notes]
    return [f"- {n}" for n in dict.fromkeys(out)]


def header(title: str, label: str, lang: str) -> list[str]:
    _ = translator(lang)
    return [f"# {title}", "", _("Input: {label}.", label=label), ""]


def trends_summary(label: str, groups: pd.DataFrame, titles: dict[str, tuple[str, list[str]]], weight: str,
                   years: list[int], notes: list[str], files: list[str], lang: str) -> str:
    """Level and change per group (weighted by ``weight`` where known) between the first and last year.

    ``titles`` maps a grouping's name to its title and the order of its groups.
    """
    _ = translator(lang)
    lines = header(_("Trends in livability"), label, lang)
    col = f"mean_{weight}" if f"mean_{weight}" in groups.columns else "mean"
    how = _("weighted") if col != "mean" else _("unweighted")
    tot = groups[groups["variable"] == "total"]
    first, last = years[0], years[-1]
    nat = tot[tot["grouping"] == "national"].set_index("year")[col]
    if first in nat.index and last in nat.index:
        lines.append(_("National mean ({how}): {a} in {first} and {b} in {last} ({change}).", how=how,
                       a=_.number(nat[first]), first=first, b=_.number(nat[last]), last=last,
                       change=_.signed(nat[last] - nat[first])))
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
                  _row(_("group"), _("areas"), first, last, _("change")), "|---|---:|---:|---:|---:|"]
        for g in wide.index:
            n = int(count.loc[g, last]) if pd.notna(count.loc[g, last]) else 0
            lines.append(f"| {g} | {_.integer(n)} | {_.number(wide.loc[g, first])} | {_.number(wide.loc[g, last])} | "
                         f"{_.signed(wide.loc[g, last] - wide.loc[g, first])} |")
        if len(ch) >= 2:
            lines += ["", _("Largest rise: {top} ({top_change}); smallest: {bottom} ({bottom_change}).",
                            top=ch.index[-1], top_change=_.signed(ch.iloc[-1]), bottom=ch.index[0],
                            bottom_change=_.signed(ch.iloc[0]))]
        lines.append("")
    lines += ["## " + _("Notes"), "", *_notes(notes, lang), "", *_files(files, lang)]
    return "\n".join(lines) + "\n"


GAP_MEASURES = {
    "p90_p10": N_("P90-P10 (score points)"), "p90_p10_w": N_("P90-P10, per resident"),
    "sd": N_("standard deviation (sigma)"), "theil": N_("Theil index"), "theil_w": N_("Theil index per resident"),
    "gini": N_("Gini coefficient"), "gini_w": N_("Gini coefficient per resident"),
    "share_below_w": N_("share of residents below 'sufficient'"),
    "share_below": N_("share of areas below 'sufficient'"),
}
"""The gap measures of the summary table, in order, with their labels."""


def gap_summary(label: str, gap, notes: list[str], files: list[str], lang: str) -> str:
    """Answer "is the gap growing?" from a fitted ``GapAnalysis``."""
    _ = translator(lang)
    ch = gap.change.set_index("measure")
    first, last = gap.years[0], gap.years[-1]
    level = _.percent(gap.level)
    lines = header(_("Is the gap between strong and weak areas growing?"), label, lang)
    h = ch.loc["p90_p10"]
    lines.append(_("**Answer: the gap {verdict}.** The difference between the strongest and the weakest 10% of areas "
                   "(P90-P10) was {a} in {first} and {b} in {last}: {change} ({level} interval {lo} to {hi}, "
                   "bootstrap over areas).", verdict=_(VERDICT[h["verdict"]]), a=_.number(h["from_value"]),
                   first=first, b=_.number(h["to_value"]), last=last, change=_.signed(h["change"]), level=level,
                   lo=_.signed(h["lo"]), hi=_.signed(h["hi"])))
    lines.append("")
    lines += [_row(_("measure"), first, last, _("change"), _("{level} interval", level=level), _("verdict")),
              "|---|---:|---:|---:|---|---|"]
    for m, text in GAP_MEASURES.items():
        if m not in ch.index:
            continue
        r = ch.loc[m]
        nd = 5 if m.startswith("theil") else 4 if m.startswith("gini") else 3
        if m.startswith("share"):
            vals = [_.percent(r["from_value"], 1), _.percent(r["to_value"], 1),
                    _("{change} pp", change=_.signed(100 * r["change"], 1)),
                    f"{_.signed(100 * r['lo'], 1)} .. {_.signed(100 * r['hi'], 1)}"]
        else:
            vals = [_.number(r["from_value"], nd), _.number(r["to_value"], nd), _.signed(r["change"], nd),
                    f"{_.signed(r['lo'], nd)} .. {_.signed(r['hi'], nd)}"]
        lines.append(_row(_(text), *vals, _(VERDICT[r["verdict"]])))
    lines.append("")
    b = gap.beta.iloc[0]
    lines.append(_("Beta convergence {from_year}-{to_year}: an area that started 0.1 point lower rose {rise} point "
                   "more per year (slope {slope} per year, p = {p}, n = {n}). Note: measurement error in the initial "
                   "level inflates beta convergence (regression to the mean); the spread (sigma) and P90-P10 are "
                   "therefore the real answer.", from_year=int(b["from_year"]), to_year=int(b["to_year"]),
                   rise=_.number(-0.1 * b["beta_per_year"], 4), slope=_.signed(b["beta_per_year"], 4),
                   p=_.number(b["p"]), n=_.integer(b["n"])))
    lines.append("")
    c = gap.cohorts[gap.cohorts["cohort"] == "gap_strong_minus_weak"].set_index("year")["mean"]
    fields = {"first": first, "a": _.number(c.iloc[0]), "b": _.number(c.iloc[-1])}
    lines.append(_("Areas among the weakest 10% in {first} caught up with the strongest 10% of then: the difference "
                   "between the two went from {a} to {b} (regression to the mean plays a part).", **fields)
                 if c.iloc[-1] < c.iloc[0] else
                 _("Areas among the weakest 10% in {first} fell further behind the strongest 10% of then: the "
                   "difference between the two went from {a} to {b} (regression to the mean plays a part).", **fields))
    lines.append("")
    if gap.decomposition is not None:
        d = gap.decomposition
        lines.append(_("Between and within gemeenten (Theil): in {first} {a} of inequality lay between gemeenten, in "
                       "{last} {b}; the rest lies within gemeenten.", first=first,
                       a=_.percent(d["between_share"].iloc[0]), last=last, b=_.percent(d["between_share"].iloc[-1])))
        lines.append("")
    lines += ["## " + _("Notes"), "",
              "- " + _("Theil and Gini are computed on the total score (lbm), not on the deviation (afw): they need "
                       "positive values, and the deviation is negative in about half the areas. Because the zero "
                       "point of the score is a convention their levels are small; only their change counts. P90-P10 "
                       "does not depend on the zero point."),
              *_notes(notes, lang), "", *_files(files, lang)]
    return "\n".join(lines) + "\n"


def vulnerable_summary(label: str, vul, notes: list[str], files: list[str], lang: str, top: int = 10) -> str:
    """Count, top of the ranking and the comparison with the reference list."""
    _ = translator(lang)
    d = vul.definition
    a = vul.areas
    flagged = a[a["flagged"]]
    lines = header(_("Vulnerable areas"), label, lang)
    lines.append(_("Definition: {name} ({source}). Reference year {year}, decline measured since {since}. {n} of "
                   "{total} areas qualify: {level} have a low level, {decline} decline, {cumulation} accumulate weak "
                   "dimensions.", name=d.name(lang), source=d.source, year=vul.year, since=vul.since,
                   n=_.integer(len(flagged)), total=_.integer(len(a)), level=_.integer(a["level"].sum()),
                   decline=_.integer(a["decline"].sum()), cumulation=_.integer(a["cumulation"].sum())))
    lines += ["", "## " + _("Top {n}", n=min(top, len(flagged))), "",
              _row(_("rank"), _("area"), _("score"), _("why")), "|---:|---|---:|---|"]
    for r in flagged.head(top).itertuples():
        lines.append(f"| {int(r.rank)} | {r.code} | {_.number(r.total)} | {r.reason} |")
    lines.append("")
    if hasattr(vul, "comparison"):
        lines += compare_text(vul, lang)
    lines += ["## " + _("Notes"), "", *_notes(notes + vul.notes, lang), "", *_files(files, lang)]
    return "\n".join(lines) + "\n"


def compare_text(vul, lang: str) -> list[str]:
    """Overlap with the reference list and what the differences have in common (from ``vul.profile``)."""
    _ = translator(lang)
    c, p, name = vul.comparison, vul.profile.set_index("set"), vul.reference_name
    ref = name.upper().replace("_", " ")
    lines = ["## " + _("Comparison with {ref}", ref=ref), ""]
    lines.append(_("{both} areas are on both lists; {ours} only in leefbaar's, {theirs} only in {ref} (overlap, "
                   "Jaccard: {jaccard}). {share_ours} of the vulnerable areas are also {ref}; {share_theirs} of the "
                   "{ref} areas are vulnerable.", both=_.integer(c["both"]), ours=_.integer(c["only_flagged"]),
                   theirs=_.integer(c[f"only_{name}"]), ref=ref, jaccard=_.number(c["jaccard"], 2),
                   share_ours=_.percent(c[f"share_of_flagged_in_{name}"]),
                   share_theirs=_.percent(c[f"share_of_{name}_flagged"])))
    lines.append("")
    only_ref = f"only_{name}"
    if only_ref in p.index and p.loc[only_ref, "n"] > 0:
        r = p.loc[only_ref]
        fields = {"n": _.integer(r["n"]), "ref": ref, "level": _.percent(r["share_level"]),
                  "mean": _.number(r["mean_total"]), "mean_both": _.number(p.loc["both", "mean_total"]),
                  "decline": _.percent(r["share_decline"]), "cumulation": _.percent(r["share_cumulation"]),
                  "contrast": _profile_contrast(p, only_ref, "neither", lang)}
        lines.append((_("What the {n} areas only in {ref} have in common: only {level} have a low livability level "
                        "(mean score {mean} against {mean_both} on both lists), {decline} decline and {cumulation} "
                        "accumulate weak dimensions. {contrast}", **fields) if r["share_level"] < 0.5 else
                      _("What the {n} areas only in {ref} have in common: {level} have a low livability level (mean "
                        "score {mean} against {mean_both} on both lists), {decline} decline and {cumulation} "
                        "accumulate weak dimensions. {contrast}", **fields)).rstrip())
        lines.append("")
    if "only_flagged" in p.index and p.loc["only_flagged", "n"] > 0:
        r = p.loc["only_flagged"]
        weak = sorted(((r.get(f"share_low_{dim}", np.nan), dim) for dim in DIMENSION_LABELS["nl"]
                       if f"share_low_{dim}" in r.index), reverse=True)[:2]
        weak_txt = ", ".join(f"{DIMENSION_LABELS[lang][dim]} ({_.percent(s)})" for s, dim in weak if np.isfinite(s))
        lines.append(_("What the {n} areas only in leefbaar's list have in common: {decline} decline (mean {change}); "
                       "most often weak on {weak}. {contrast}", n=_.integer(r["n"]),
                       decline=_.percent(r["share_decline"]), change=_.signed(r["mean_change"]), weak=weak_txt,
                       contrast=_profile_contrast(p, "only_flagged", "both", lang)).rstrip())
        lines.append("")
    return lines


PROFILE_LABELS = {
    "median_inwoner": (N_("residents"), 0),
    "median_sted": (N_("urbanity (1 = very strongly urban)"), 0),
    "median_p_link_hh": (N_("% low-income households"), 1),
    "median_uitkering_per_100_inw": (N_("benefits per 100 residents"), 1),
    "median_pct_corporatie": (N_("% social-housing dwellings"), 0),
    "median_wozwoning": (N_("WOZ value (x 1000 euro)"), 0),
}
"""CBS profile indicators compared between sets of areas: label and decimals."""


def _profile_contrast(p: pd.DataFrame, a: str, b: str, lang: str) -> str:
    """Medians of set ``a`` beside set ``b`` for the CBS profile indicators present."""
    _ = translator(lang)
    items = [_(text) + f" {_.number(p.loc[a, col], nd)} ({_.number(p.loc[b, col], nd)})"
             for col, (text, nd) in PROFILE_LABELS.items()
             if col in p.columns and np.isfinite(p.loc[a, col]) and np.isfinite(p.loc[b, col])]
    if not items:
        return ""
    medians = (_("Medians (in brackets: other areas): ") if b == "neither" else
               _("Medians (in brackets: both lists): "))
    return medians + "; ".join(items) + "."


def clusters_summary(label: str, moran: pd.DataFrame, counts: pd.DataFrame, per_area: pd.DataFrame,
                     settings: dict, notes: list[str], files: list[str], lang: str) -> str:
    """Global Moran's I per year, hot/cold spot counts and their persistence."""
    _ = translator(lang)
    lines = header(_("Spatial clusters"), label, lang)
    m0, m1 = moran.iloc[0], moran.iloc[-1]
    lines.append(_("Areas resemble their neighbours: Moran's I was {a} in {first} and {b} in {last} (0 = no spatial "
                   "pattern; pseudo p {p} with {permutations} permutations).", a=_.number(m0["I"]),
                   first=int(m0["year"]), b=_.number(m1["I"]), last=int(m1["year"]), p=_.number(m1["p_sim"]),
                   permutations=_.integer(settings["permutations"])))
    lines += ["", _row(_("year"), "Moran's I", _("hot spots (HH)"), _("cold spots (LL)"), _("outliers (HL+LH)")),
              "|---:|---:|---:|---:|---:|"]
    for r in moran.itertuples():
        c = counts.loc[r.year] if r.year in counts.index else pd.Series(dtype=float)
        lines.append(f"| {r.year} | {_.number(r.I)} | {_.integer(c.get('HH', 0))} | {_.integer(c.get('LL', 0))} | "
                     f"{_.integer(c.get('HL', 0) + c.get('LH', 0))} |")
    pat = per_area["pattern"].value_counts()
    lines += ["", _("Persistence: {cold} areas were a cold spot in every year and {hot} a hot spot in every year; "
                    "{left} cold spots of the first year were no longer one in the last, {became} areas became a "
                    "cold spot.", cold=_.integer(pat.get("persistent_cold", 0)),
                    hot=_.integer(pat.get("persistent_hot", 0)), left=_.integer(pat.get("left_cold", 0)),
                    became=_.integer(pat.get("became_cold", 0))), ""]
    fields = {"permutations": _.integer(settings["permutations"]), "seed": settings["seed"],
              "alpha": _.number(settings["alpha"], 2), "threshold": _.number(m1["threshold"], 4),
              "n": _.integer(m1["n_significant"]), "n_raw": _.integer(m1["n_p_below_alpha"])}
    lines += ["## " + _("Notes"), "",
              "- " + (_("Neighbours: Queen contiguity (shared edge or corner), row-standardised. LISA with "
                        "{permutations} permutations (conditional randomisation), seed {seed}, significant at FDR "
                        "{alpha}: in the last year p <= {threshold} ({n} areas; uncorrected {n_raw}). With 999 "
                        "permutations that threshold lies just above the smallest possible p (0.001): which areas "
                        "fall just above or below it changes with the seed. Use --permutations 9999 for a sharper "
                        "boundary.", **fields) if settings["fdr"] else
                      _("Neighbours: Queen contiguity (shared edge or corner), row-standardised. LISA with "
                        "{permutations} permutations (conditional randomisation), seed {seed}, significant at "
                        "{alpha} (no FDR correction): in the last year p <= {threshold} ({n} areas; uncorrected "
                        "{n_raw}). With 999 permutations that threshold lies just above the smallest possible p "
                        "(0.001): which areas fall just above or below it changes with the seed. Use --permutations "
                        "9999 for a sharper boundary.", **fields)),
              *_notes(notes, lang), "", *_files(files, lang)]
    return "\n".join(lines) + "\n"


def _files(files: list[str], lang: str) -> list[str]:
    _ = translator(lang)
    return ["## " + _("Files"), "", *[f"- `{f}`" for f in files]]


def _row(*cells) -> str:
    """One row of a Markdown table."""
    return "| " + " | ".join(str(c) for c in cells) + " |"
