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

from leefbaar.evaluation.registry import Registry

NATURE = {"nl": "beschrijvend: bedragen gedeeld door aantallen, geen effect",
          "en": "descriptive: amounts divided by counts, not an effect"}


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
                "nature": NATURE["en" if lang == "en" else "nl"],
            })
    return pd.DataFrame(rows)


def describe(table: pd.DataFrame, lang: str = "nl") -> list[str]:
    """Plain-language lines for a summary, each marked as descriptive."""
    lines = []
    en = lang == "en"
    for r in table.itertuples():
        amount = _money(r.eur_total if pd.notna(r.eur_total) else r.amount, en)
        line = f"{r.budget}: {amount}" + (f" over {r.years}" if r.years else "")
        if pd.notna(r.eur_per_year) and r.years:
            line += f" ({_money(r.eur_per_year, en)} {'per year' if en else 'per jaar'})"
        if pd.notna(r.stated_eur_per_resident_per_year):
            line += (f"; stated EUR {r.stated_eur_per_resident_per_year:,.0f} per resident per year, which implies "
                     f"about {r.implied_residents:,.0f} residents" if en else
                     f"; opgegeven EUR {r.stated_eur_per_resident_per_year:,.0f} per bewoner per jaar, wat neerkomt "
                     f"op ongeveer {_nl(r.implied_residents)} bewoners")
        if pd.notna(r.eur_per_resident_per_year_resolved):
            line += (f"; over the {r.residents_resolved:,.0f} residents (2024) of the areas leefbaar could attach: "
                     f"EUR {r.eur_per_resident_per_year_resolved:,.0f} per resident per year" if en else
                     f"; over de {_nl(r.residents_resolved)} bewoners (2024) van de gebieden die leefbaar kon "
                     f"koppelen: EUR {_nl(r.eur_per_resident_per_year_resolved)} per bewoner per jaar")
        if pd.notna(r.implied_other_investment):
            line += (f"; a stated multiplier of 1:{r.multiplier:g} implies {_money(r.implied_other_investment, en)} "
                     "of other investment" if en else
                     f"; een opgegeven hefboom van 1:{r.multiplier:g} betekent "
                     f"{_money(r.implied_other_investment, en)} aan investeringen van anderen")
        lines.append(line + (" (descriptive, not an effect)." if en else " (beschrijvend, geen effect)."))
    return lines


def _nl(x: float) -> str:
    return f"{x:,.0f}".replace(",", ".")


def _money(x: float, en: bool) -> str:
    if x >= 1e9:
        v, u = x / 1e9, ("bn" if en else "mld")
    elif x >= 1e6:
        v, u = x / 1e6, ("m" if en else "mln")
    else:
        return f"EUR {x:,.0f}" if en else f"EUR {_nl(x)}"
    text = f"{v:.3g}"
    return f"EUR {text} {u}" if en else f"EUR {text.replace('.', ',')} {u}"
