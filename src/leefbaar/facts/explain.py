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


def parts(contrib: pd.DataFrame, y0: int, y1: int) -> pd.DataFrame:
    """Per (dimension, indicator): contribution in ``y0`` and ``y1`` and the change (0 where absent)."""
    sums: dict[tuple[str, str], list[float]] = {}
    for year, dim, ind, value in contrib[["year", "dimension", "indicator", "contribution"]].itertuples(
            index=False, name=None):
        if year in (y0, y1):
            sums.setdefault((dim, ind), [0.0, 0.0])[year == y1] += float(value)
    out = pd.DataFrame([(d, i, a, b) for (d, i), (a, b) in sums.items()],
                       columns=["dimension", "indicator", "from", "to"])
    out["delta"] = out["to"] - out["from"]
    return out


def explanation(change: float, items: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """``items`` (with ``delta``) plus a ``_rest`` row so that the deltas add up to ``change`` exactly;
    sorted by absolute size. Returns the rows and the rest."""
    rest = float(change - items["delta"].sum())
    rows = items.copy()
    if abs(rest) > 0:
        rows = pd.concat([rows, pd.DataFrame([{"dimension": "", "indicator": REST, "delta": rest}])],
                         ignore_index=True)
    order = np.argsort(-np.abs(rows["delta"].to_numpy(float)), kind="stable")
    return rows.iloc[order].reset_index(drop=True), rest


def development(change: float) -> int | None:
    """Development class 1 (strong decline) .. 7 (strong improvement) of a change of afw."""
    if change is None or not np.isfinite(change):
        return None
    return int(development_class(np.array([change]))[0])
