"""Evaluation facts: one card per recorded evaluation (``leefbaar evaluate --record``), for every surface.

Per programme and outcome: the conclusion (``withheld``, ``effect``, ``uncertain``, ``no_effect``; the rule of
``Evaluation.conclusion``) worded from ``sentences.csv``; the headline estimate (matched difference-in-
differences, permutation interval, level stated) and the other estimates; the pre-trend tests with their
p-values; the reasons a number is withheld and the warnings, in Dutch and English; the programme's areas by the
one membership rule. Estimates are in the outcome's units (score points of ``afw`` for the Leefbaarometer).
"""

from __future__ import annotations

import re
from functools import cache

import pandas as pd

from leefbaar.evaluation.report import MIN_TREATED_CLUSTERS, PRETREND_ALPHA, EvaluationConfig
from leefbaar.facts.core import json_number
from leefbaar.facts.rules import LANGS, say
from leefbaar.i18n import _catalogue, fmt_integer, fmt_number, fmt_signed, translator

ALPHA = EvaluationConfig().alpha
"""Significance level of the evaluations; their intervals are at 1 - ALPHA."""
HEADLINE = ("matched_did", "permutation")
PRETRENDS = ("pretrend_holdout", "event_study_pretrend")
NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")


@cache
def _templates() -> list[tuple[re.Pattern, str]]:
    """The catalogue's English messages with fields, as patterns that recover the fields of a filled message."""
    out = []
    for msgid in _catalogue("nl")._catalog:
        if not isinstance(msgid, str) or "{" not in msgid:
            continue
        parts = re.split(r"\{(\w+)\}", msgid)
        if len(parts) < 3 or len(set(parts[1::2])) != len(parts[1::2]):
            continue
        rx = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)" for i, p in enumerate(parts))
        out.append((re.compile(f"^{rx}$"), msgid))
    return sorted(out, key=lambda t: -len(t[1]))


def _relocale(value: str, lang: str) -> str:
    """A number recovered from an English message, written by ``lang``'s rules (same decimals and sign)."""
    if not NUMBER.match(value):
        return value.replace("->", "–")
    decimals = len(value.split(".")[1]) if "." in value else 0
    x = float(value)
    if value.startswith(("+", "-")) and x != 0:
        return fmt_signed(x, lang, decimals)
    return fmt_number(x, lang, decimals) if decimals else fmt_integer(x, lang)


def translate_note(note: str, lang: str) -> list[str]:
    """The reasons of a stored (English) note, each in ``lang``: a reason is matched to its catalogue message
    and its fields are filled again with numbers in ``lang``'s format; a reason no message matches is named as
    a failed check (``evaluation.reason.other``)."""
    out = []
    for part in (p.strip() for p in note.split("; ") if p.strip()):
        for rx, msgid in _templates():
            m = rx.match(part)
            if m:
                out.append(translator(lang)(msgid, **{k: _relocale(v, lang) for k, v in m.groupdict().items()}))
                break
        else:
            out.append(part if lang == "en" else say("evaluation.reason.other", lang))
    return out


def _estimate(r: pd.Series) -> dict:
    return {"method": r["method"], "inference": r["inference"], "estimand": r["estimand"],
            "estimate": json_number(r["estimate"]), "lo": json_number(r["ci_low"]), "hi": json_number(r["ci_high"]),
            "p_value": json_number(r["p_value"]), "status": r["status"],
            "level": int(round(100 * (1 - ALPHA))) if json_number(r["ci_low"]) is not None else None}


def conclusion(rows: pd.DataFrame) -> tuple[str, float | None]:
    """The conclusion key and the p-value it rests on, from the stored rows of one evaluation (the rule of
    ``leefbaar.evaluation.report.Evaluation.conclusion``)."""
    main = rows[(rows["method"] == HEADLINE[0]) & ~rows["diagnostic"].astype(bool)]
    perm = main[main["inference"] == HEADLINE[1]]
    if perm.empty or (main["status"] == "withheld").any() or json_number(perm["p_value"].iloc[0]) is None:
        return "withheld", None
    p = float(perm["p_value"].iloc[0])
    clustered = main[main["inference"] != HEADLINE[1]]
    if len(clustered):
        c = clustered.iloc[0]
        n_cl, pc = json_number(c.get("n_treated_clusters")), json_number(c["p_value"])
        if n_cl is not None and n_cl >= MIN_TREATED_CLUSTERS and pc is not None and (pc < ALPHA) != (p < ALPHA):
            return "uncertain", p
    return ("effect" if p < ALPHA else "no_effect"), p


def evaluation_cards(facts) -> list[dict]:
    """One card per (programme, outcome) in the store's ``evaluation_results`` (empty list without them)."""
    results = facts.evaluation_results()
    if results is None or results.empty:
        return []
    results = results.copy()
    results["diagnostic"] = results["diagnostic"].fillna(False).astype(bool)
    cards = []
    for (prog, outcome), rows in results.groupby(["programme", "outcome"], sort=False):
        key, p = conclusion(rows)
        perm = rows[(rows["method"] == HEADLINE[0]) & (rows["inference"] == HEADLINE[1])]
        head = perm.iloc[0] if len(perm) else rows.iloc[0]
        note = next((n for n in rows.loc[~rows["diagnostic"], "note"] if isinstance(n, str) and n), "")
        reasons = {lg: translate_note(note, lg) for lg in LANGS} if key == "withheld" else {lg: [] for lg in LANGS}
        verdict = {lg: say(f"evaluation.{key}", lg, reasons="; ".join(reasons[lg]),
                           p=fmt_number(p, lg, 3) if p is not None else "–") for lg in LANGS}
        warnings = {lg: [] for lg in LANGS}
        n_cl = json_number(head.get("n_treated_clusters"))
        if n_cl is not None and n_cl < MIN_TREATED_CLUSTERS:
            msg = ("the treated areas lie in {n} gemeente: the clustered interval is unreliable, the permutation "
                   "interval leads") if n_cl == 1 else ("the treated areas lie in {n} gemeenten: the clustered "
                                                        "interval is unreliable, the permutation interval leads")
            warnings = {lg: [translator(lg)(msg, n=fmt_integer(n_cl, lg))] for lg in LANGS}
        pretrend = []
        for r in rows[rows["method"].isin(PRETRENDS)].to_dict("records"):
            pv = json_number(r["p_value"])
            period = r["estimand"].removeprefix("placebo change ").replace("->", "–") \
                if r["method"] == "pretrend_holdout" else None
            pretrend.append({"test": r["method"], "period": period, "estimate": json_number(r["estimate"]),
                             "p_value": pv,
                             "passed": None if pv is None else pv >= PRETREND_ALPHA, "alpha": PRETREND_ALPHA})
        members = facts.programme_members(prog)
        labels = facts.labels("pc4")
        cards.append({
            "programme": prog, "name": {lg: facts.programme_name(prog, lg) for lg in LANGS}, "outcome": outcome,
            "year_from": int(head["year_from"]), "year_to": int(head["year_to"]),
            "conclusion": key, "p_value": p, "verdict": verdict, "reasons": reasons, "warnings": warnings,
            "level": int(round(100 * (1 - ALPHA))),
            "headline": None if key == "withheld" else _estimate(head),
            "estimates": [_estimate(r) for _, r in rows[~rows["diagnostic"]].iterrows()],
            "pretrend": pretrend,
            "n_treated": None if json_number(head.get("n_treated")) is None else int(head["n_treated"]),
            "n_references": None if json_number(head.get("n_references")) is None else int(head["n_references"]),
            "n_treated_clusters": None if n_cl is None else int(n_cl),
            "areas": [{"level": "pc4", "code": c, "label": str(labels.get(c, c))} for c in members],
            "membership": {lg: say("membership.count.one" if len(members) == 1 else "membership.count", lg,
                                  n=fmt_integer(len(members), lg)) for lg in LANGS},
        })
    return cards
