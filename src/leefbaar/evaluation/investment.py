"""Investment arithmetic from the registry: descriptive figures, never effects.

For each stated budget of a programme (and of its phases):

* ``eur_per_year``: the amount per year over the years it covers (when they are stated);
* ``stated_eur_per_resident_per_year``: the figure as stated by the source, and ``implied_residents``, the
  resident base that figure implies (amount per year divided by it);
* ``residents_resolved`` and ``eur_per_resident_per_year_resolved``: the same arithmetic with the residents
  (CBS 2024) of the areas leefbaar could attach to the programme; lists that are partial or not fully
  resolved undercount residents and so overstate this figure;
* ``multiplier`` (the stated 'hefboom': other investment per euro of this budget), ``implied_other_investment``
  and ``implied_total_investment``.

Every row carries ``nature`` = descriptive: these are amounts divided by counts, not what the money achieved.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.evaluation.registry import Registry, money
from leefbaar.i18n import N_, fmt_integer, fmt_number, translator

NATURE = N_("descriptive: amounts divided by counts, not an effect")
"""The ``nature`` of every row (translated into the table's language)."""


def investment_table(registry: Registry, programme_ids: list[str] | None = None,
                     residents: dict[str, float] | None = None, lang: str = "nl") -> pd.DataFrame:
    """Descriptive budget arithmetic for the given programmes and their phases (all when None).

    ``residents``: residents of the resolved areas per programme id (e.g. from the resolution statistics).
    """
    ids = programme_ids or registry.ids()
    wanted = []
    for pid in ids:
        wanted.append(registry.get(pid))
        wanted += registry.children(pid)
    rows = []
    seen = set()
    for p in wanted:
        if p.id in seen:
            continue
        seen.add(p.id)
        res = (residents or {}).get(p.id) or (residents or {}).get(p.parent or "")
        for b in p.budgets:
            per_year = b.per_year
            stated = b.stated_per_resident_per_year
            rows.append({
                "programme": p.id, "name": p.name(lang), "budget": b.label_en if lang == "en" else b.label_nl,
                "currency": b.currency, "amount": b.amount, "unit": b.unit,
                "years": "" if b.years is None else f"{b.years[0]}-{b.years[1]}",
                "eur_total": b.total, "eur_per_year": per_year, "approximate": b.approximate,
                "counted_in_programme_total": b.in_total,
                "stated_eur_per_resident_per_year": stated,
                "implied_residents": per_year / stated if stated and per_year else np.nan,
                "residents_resolved": res if res else np.nan,
                "eur_per_resident_per_year_resolved": per_year / res if res and per_year else np.nan,
                "multiplier": b.multiplier,
                "implied_other_investment": b.total * b.multiplier if b.multiplier and b.total else np.nan,
                "implied_total_investment": b.total * (1 + b.multiplier) if b.multiplier and b.total else np.nan,
                "covers": b.covers_en if lang == "en" else b.covers_nl, "source": b.source,
                "nature": translator(lang)(NATURE),
            })
    return pd.DataFrame(rows)


def describe(table: pd.DataFrame, lang: str = "nl") -> list[str]:
    """Plain-language lines for a summary, each marked as descriptive."""
    _ = translator(lang)
    lines = []
    for r in table.itertuples():
        line = f"{r.budget}: {money(r.eur_total if pd.notna(r.eur_total) else r.amount, lang)}"
        if r.years:
            line += " " + _("over {years}", years=r.years)
        if pd.notna(r.eur_per_year) and r.years:
            line += " (" + _("{amount} per year", amount=money(r.eur_per_year, lang)) + ")"
        if pd.notna(r.stated_eur_per_resident_per_year):
            line += "; " + _("stated {amount} per resident per year, which implies about {residents} residents",
                             amount=money(r.stated_eur_per_resident_per_year, lang),
                             residents=fmt_integer(r.implied_residents, lang))
        if pd.notna(r.eur_per_resident_per_year_resolved):
            line += "; " + _("over the {residents} residents (2024) of the areas leefbaar could attach: {amount} per "
                             "resident per year", residents=fmt_integer(r.residents_resolved, lang),
                             amount=money(r.eur_per_resident_per_year_resolved, lang))
        if pd.notna(r.implied_other_investment):
            line += "; " + _("a stated multiplier of 1:{multiplier} implies {amount} of other investment",
                             multiplier=fmt_number(r.multiplier, lang, 2, trailing_zeros=False),
                             amount=money(r.implied_other_investment, lang))
        lines.append(line + " " + _("(descriptive, not an effect)."))
    return lines
