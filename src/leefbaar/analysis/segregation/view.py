"""``segregation_view``: what the facts layer and the dashboard may show about segregation in one gemeente."""

from __future__ import annotations

import pandas as pd

from leefbaar.analysis.segregation.monitor import HEADLINE_INDEX, Segregation
from leefbaar.analysis.segregation.summary import answer, verdict
from leefbaar.errors import LeefbaarError
from leefbaar.store.store import Store


def resolve_gemeente(store: Store, text: str) -> str:
    """A gemeente code (GM0599) from a code or a name (case-insensitive, any vintage; the latest name wins)."""
    gm = store.areas("gemeente").sort_values("vintage")
    code = text.strip().upper()
    if code in set(gm["code"]):
        return code
    hit = gm[gm["name"].str.lower() == text.strip().lower()]
    if hit.empty:
        raise LeefbaarError(f"--gemeente {text!r} is neither a gemeente code (GM0599) nor a gemeente name")
    return str(hit["code"].iloc[-1])


def segregation_view(store: Store, gemeente: str, by: str = "income", level: str = "pc4", lang: str = "nl",
                     **settings) -> dict:
    """Segregation of ``gemeente`` (code or name) by ``by`` (income, tenure, age, ses): one dict for a surface.

    Keys: ``gemeente``, ``name``, ``dimension``, ``set`` (id and label), ``pair`` (label of the two groups),
    ``unit`` (households, dwellings or residents), ``interval_level`` (e.g. 0.95), ``kind`` ('measured': indices
    of published CBS counts; 'modelled': SES groups modelled from published means and spreads; the intervals
    are bootstrap intervals at ``interval_level``), ``series`` (per year:
    year, value, lo, hi, value_bc, null_mean, p_random, n_areas for the pair dissimilarity D, 0 = even, 1 =
    fully apart), ``indices`` (every index per year, same columns), ``change`` (first to last year: change,
    change_lo, change_hi, p_change, significant), ``decomposition`` (spatial and compositional parts of the
    change), ``verdict`` ('more', 'less' or 'no_change'), ``text`` (the sentences of the summary in ``lang``),
    ``notes``. ``settings`` override the catalogue (permutations, bootstrap, interval, seed, min_areas,
    min_total). Migration background is not available here.
    """
    if by == "migration":
        raise LeefbaarError("segregation by migration background is only available in the CLI with --migration")
    code = resolve_gemeente(store, gemeente)
    seg = Segregation(by, level, gemeenten=[code], national=False, lang=lang, **settings).fit(store)
    gs = seg.sets[0]
    lv = seg.levels[(seg.levels["place"] == code) & (seg.levels["set"] == gs.id)]
    cols = [c for c in ("year", "value", "lo", "hi", "value_bc", "null_mean", "p_random", "n_areas")
            if c in lv.columns]
    head = seg.headline(code)
    return {
        "gemeente": code, "name": seg.names.get(code, code), "dimension": by,
        "set": {"id": gs.id, "label": gs.label(lang)}, "pair": gs.pair_label(lang), "unit": gs.unit,
        "interval_level": seg.settings_used["interval"], "kind": "modelled" if gs.modelled else "measured",
        "series": _records(lv[lv["index"] == HEADLINE_INDEX][cols]),
        "indices": _records(lv[["index", *cols]]),
        "change": None if head is None else {k: head["change"][k] for k in (
            "year_from", "year_to", "change", "change_lo", "change_hi", "p_change", "significant")},
        "decomposition": None if head is None or head["decomposition"] is None else {
            k: head["decomposition"][k] for k in ("year_from", "year_to", "spatial", "compositional")},
        "verdict": None if head is None else verdict(head["change"]),
        "text": " ".join(x for x in answer(seg, code, lang) if x),
        "notes": [n.split(" | ", 1)[0 if lang == "nl" else 1] if " | " in n else n for n in dict.fromkeys(seg.notes)],
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in frame.sort_values([c for c in ("index", "year") if c in frame.columns]).to_dict("records")]
