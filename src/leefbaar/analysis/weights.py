"""Weights by residents or households, for averages and inequality "per inhabitant" instead of "per area".

CBS publishes residents (``inwoner``) and private households (``aantal_hh``) per PC4 for 2017-2023 only. A
score year without population figures is weighted with the nearest year that has them (the later one on a tie),
and the result says so. Values that CBS suppressed (0-4 residents) count as 0: those areas carry no weight.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leefbaar.analysis.panel import harmonise
from leefbaar.errors import StoreError
from leefbaar.store.store import Store

MEASURES = {"inwoner": ("inwoners", "residents"), "aantal_hh": ("huishoudens", "households")}


@dataclass
class PopulationWeights:
    """Residents or households per area and score year.

    ``frame``: ``code, year, weight, weight_year`` (``weight_year`` = the CBS year actually used).
    ``substitutions``: score year -> CBS year, for the years that had to borrow a nearby year.
    """

    measure: str
    frame: pd.DataFrame
    substitutions: dict[int, int]
    boundary_notes: list[str]

    def for_year(self, year: int, codes: pd.Index) -> np.ndarray:
        """Weights of ``codes`` in score ``year`` (0 for areas without a figure)."""
        part = self.frame[self.frame["year"] == year].set_index("code")["weight"]
        return part.reindex(codes).fillna(0.0).to_numpy(dtype=float)

    def notes(self) -> list[str]:
        """What was substituted ("Dutch | English")."""
        if not self.substitutions:
            return list(self.boundary_notes)
        nl, en = MEASURES[self.measure]
        pairs = ", ".join(f"{a}->{b}" for a, b in sorted(self.substitutions.items()))
        return [f"Weging naar {nl}: CBS-cijfers ontbreken voor sommige jaren; gebruikt is het dichtstbijzijnde "
                f"jaar ({pairs}). | Weighting by {en}: CBS figures are missing for some years; the nearest year was "
                f"used ({pairs}).", *self.boundary_notes]


def population_weights(store: Store, level: str, years: list[int], measure: str = "inwoner",
                       vintage: int | None = None) -> PopulationWeights:
    """Residents (``inwoner``) or households (``aantal_hh``) of ``level`` for every score year in ``years``."""
    if measure not in MEASURES:
        raise StoreError(f"unknown weight {measure!r}; use one of {', '.join(MEASURES)}")
    obs = store.sql("SELECT code, vintage, year, coalesce(value, 0.0) AS value FROM observations "
                    "WHERE level = ? AND indicator = ? AND status <> 'missing' ORDER BY code, vintage, year",
                    [level, measure])
    if obs.empty:
        raise StoreError(f"the store holds no {measure} figures at level {level!r}; cannot weight")
    frame, _, boundary_notes = harmonise(store, obs, level, extensive=True, target=vintage)
    have = sorted(int(y) for y in frame["year"].unique())
    parts, subs = [], {}
    for year in years:
        use = min(have, key=lambda h: (abs(h - year), -h))
        if use != year:
            subs[int(year)] = use
        part = frame[frame["year"] == use]
        parts.append(pd.DataFrame({"code": part["code"].to_numpy(), "year": int(year),
                                   "weight": part["value"].clip(lower=0).to_numpy(), "weight_year": use}))
    return PopulationWeights(measure, pd.concat(parts, ignore_index=True), subs, boundary_notes)

