"""The indicator catalogue: package data files, validated on load.

- ``catalogue/indicators.csv``: one row per indicator (id, Dutch and English label, unit, theme, direction
  +1 = higher is better, -1 = higher is worse, 0 = no direction; ``sensitive`` = 1 for ethnicity or migration
  background, which no default index may use; ``min`` and ``max`` = the plausible range of a value in its
  unit, checked on every value read: percentages 0-100, shares 0-1, counts and amounts at least 0, classes
  their class numbers, scores a generous band around what the publisher can produce; empty = no bound).
- ``catalogue/columns.csv``: per source family, which column holds which indicator in which years, with an
  optional ``value_map`` (``catalogue/value_maps.yaml``) for text classes and ``rounded`` = 1 where the
  publisher rounds the value (CBS counts are rounded to 5).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import pandas as pd
import yaml

from leefbaar.errors import SpecError


def _package_file(name: str):
    return resources.files("leefbaar") / "catalogue" / name


def _years(spec: str, where: str) -> frozenset[int]:
    years: set[int] = set()
    try:
        for part in spec.split(";"):
            if "-" in part:
                a, b = part.split("-")
                years.update(range(int(a), int(b) + 1))
            else:
                years.add(int(part))
    except ValueError:
        raise SpecError(f"{where}: years {spec!r} is not a list like '2017-2023' or '2014;2018'") from None
    return frozenset(years)


@dataclass(frozen=True)
class ColumnMap:
    """How one source column maps to an indicator."""

    family: str
    column: str
    indicator: str
    years: frozenset[int]
    rounded: bool
    value_map: dict[str, float | None] | None


@cache
def indicators() -> pd.DataFrame:
    """The indicator catalogue as a frame indexed by ``id``."""
    with _package_file("indicators.csv").open(encoding="utf-8") as f:
        frame = pd.read_csv(f, dtype={"id": str}, keep_default_na=False)
    if frame["id"].duplicated().any():
        raise SpecError(f"catalogue/indicators.csv: duplicate id {frame['id'][frame['id'].duplicated()].iloc[0]!r}")
    bad = ~frame["direction"].isin([-1, 0, 1])
    if bad.any():
        raise SpecError(f"catalogue/indicators.csv: direction of {frame['id'][bad].iloc[0]!r} must be -1, 0 or 1")
    frame["sensitive"] = frame["sensitive"].astype(bool)
    for col in ("min", "max"):
        num = pd.to_numeric(frame[col].replace("", None), errors="coerce")
        bad = (frame[col] != "") & num.isna()
        if bad.any():
            raise SpecError(f"catalogue/indicators.csv: {col} of {frame['id'][bad].iloc[0]!r} is not a number")
        frame[col] = num.astype(float)
    bad = frame["min"] > frame["max"]
    if bad.any():
        raise SpecError(f"catalogue/indicators.csv: min above max for {frame['id'][bad].iloc[0]!r}")
    return frame.set_index("id")


@cache
def plausible_ranges() -> dict[str, tuple[float, float]]:
    """Indicator id -> (min, max) of a plausible value; -inf/inf where the catalogue sets no bound."""
    cat = indicators()
    lo, hi = cat["min"].fillna(-np.inf), cat["max"].fillna(np.inf)
    return {i: (float(a), float(b)) for i, a, b in zip(cat.index, lo, hi, strict=True)}


@cache
def value_maps() -> dict[str, dict[str, float | None]]:
    """Named maps from text classes to numbers."""
    with _package_file("value_maps.yaml").open(encoding="utf-8") as f:
        return yaml.safe_load(f)


@cache
def column_maps() -> tuple[ColumnMap, ...]:
    """All column mappings, validated against the indicator catalogue and the value maps."""
    known, maps = set(indicators().index), value_maps()
    out = []
    with _package_file("columns.csv").open(encoding="utf-8") as f:
        for n, row in enumerate(csv.DictReader(f), start=2):
            where = f"catalogue/columns.csv, row {n}"
            if row["indicator"] not in known:
                raise SpecError(f"{where}: unknown indicator {row['indicator']!r}")
            vm = row["value_map"] or None
            if vm and vm not in maps:
                raise SpecError(f"{where}: unknown value map {vm!r}")
            out.append(ColumnMap(row["family"], row["column"], row["indicator"], _years(row["years"], where),
                                 row["rounded"] == "1", maps[vm] if vm else None))
    return tuple(out)


def columns_for(family: str, year: int) -> dict[str, ColumnMap]:
    """The column mappings of ``family`` valid in ``year``, keyed by source column name."""
    return {m.column: m for m in column_maps() if m.family == family and year in m.years}
