"""Explanations of a change that add up exactly to the change shown.

The change of ``afw`` (score points, higher is better) between two chosen years is split into the change of
each stored contribution (indicators, spatial lags, ``_ligging``, ``_baseline``, the official-minus-model part
``_residual`` and the nowcast correction ``_nowcast``), each a named part. Whatever the stored contributions do
not account for (rounding, a missing year) is one more named part, ``_rest``, so the parts always sum to the
change shown. Without contributions the change is split by the five dimensions, which sum to ``afw`` by
construction.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.index.classes import development_class

REST = "_rest"


def parts(contrib: pd.DataFrame, y0: int, y1: int) -> list[tuple[str, str, float]]:
    """(dimension, indicator, change y0 -> y1) of every contribution that moved (absent = 0)."""
    sums: dict[tuple[str, str], list[float]] = {}
    for year, dim, ind, value in contrib[["year", "dimension", "indicator", "contribution"]].itertuples(
            index=False, name=None):
        if year in (y0, y1):
            sums.setdefault((dim, ind), [0.0, 0.0])[year == y1] += float(value)
    return [(d, i, b - a) for (d, i), (a, b) in sums.items() if b != a]


def explanation(change: float, items: list[tuple[str, str, float]]) -> tuple[list[tuple[str, str, float]], float]:
    """``items`` (dimension, id, change) plus a ``_rest`` part so that the parts add up to ``change`` exactly;
    sorted by absolute size. Returns the parts and the rest."""
    rest = float(change - sum(d for _, _, d in items))
    rows = list(items) + ([("", REST, rest)] if abs(rest) > 1e-12 else [])
    rows.sort(key=lambda r: -abs(r[2]))
    return rows, rest


def development(change: float) -> int | None:
    """Development class 1 (strong decline) .. 7 (strong improvement) of a change of afw."""
    if change is None or not np.isfinite(change):
        return None
    return int(development_class(np.array([change]))[0])
