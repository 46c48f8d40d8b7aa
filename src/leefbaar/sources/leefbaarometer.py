"""Readers for the official Leefbaarometer open data (Ministerie van BZK).

- Leefbaarometer 3 per PC4, 2002-2022: ``lbm`` (total score) = 4.102265 + ``afw``; ``afw`` = won + fys + vrz +
  soc + onv (dimensions only in 2014, 2018, 2020 and 2022).
- Leefbaarometer 2.0 classes (1 = zeer onvoldoende ... 9 = uitstekend) per PC4, wijk and gemeente, development
  classes ``VKLaabb`` (1-7, 4 = no meaningful change), and PC4 dimension scores relative to the national mean.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from leefbaar.errors import InputError
from leefbaar.sources.batch import Batch, area_frame, observations_from_wide
from leefbaar.sources.catalogue import column_maps
from leefbaar.sources.cbs import pc4_codes, region_codes
from leefbaar.sources.tabular import RawTable, check_columns, parse_values, read_text_table, year_column

BZK = ("Ministerie van BZK, Leefbaarometer open data (Atlas Research / RIGO)", "open data (BZK)")


def read_lbm3_pc4(path: Path) -> Batch:
    """Leefbaarometer 3 scores per PC4 and year (long format: PC4, jaar, lbm, afw and five dimensions)."""
    raw = read_text_table(path)
    maps = {m.column: m for m in column_maps() if m.family == "lbm3_pc4"}
    check_columns(raw, set(maps) | {"PC4", "jaar"})
    years = year_column(raw, "jaar")
    areas, parts = [], []
    valid_years = set().union(*(m.years for m in maps.values()))
    for year in sorted(years.unique()):
        if year not in valid_years:
            i = int(np.flatnonzero((years == year).to_numpy())[0])
            raise InputError(path, f"year {year} is not a Leefbaarometer 3 measurement year",
                             row=int(raw.row[i]), column="jaar")
        sel = (years == year).to_numpy()
        sub = RawTable(raw.path, raw.frame[sel].reset_index(drop=True), raw.row[sel])
        codes = pc4_codes(sub, "PC4")
        obs = observations_from_wide(sub, codes, "pc4", year, maps, year)
        # Dimensions are only published from 2014 on; 'NA' before is 'not measured', not a missing value.
        parts.append(obs[~((obs["status"] == "missing") & obs["indicator"].isin(
            ["lbm_won", "lbm_fys", "lbm_vrz", "lbm_soc", "lbm_onv"]) & (year < 2014))])
        areas.append(area_frame(codes, "pc4", year))
    return Batch("lbm3_pc4", path, *BZK, len(raw.frame), areas=pd.concat(areas, ignore_index=True),
                 observations=pd.concat(parts, ignore_index=True))


def _year_columns(family: str) -> dict[str, tuple]:
    """Column -> (mapping, year) for files with one column per year (``KL18``, ``RLBWON14``, ``VKL0818``)."""
    out = {}
    for m in column_maps():
        if m.family == family:
            (year,) = m.years
            out[m.column] = (m, year)
    return out


def _lbm2(path: Path, family: str, level: str, code_column: str, vintage: int) -> Batch:
    raw = read_text_table(path, pad_short_rows=True)
    cols = _year_columns(family)
    check_columns(raw, set(cols) | {code_column})
    if level == "pc4":
        codes = pc4_codes(raw, code_column)
    else:
        codes = region_codes(raw, code_column, ("WK",) if level == "wijk" else ("GM",))
    obs = observations_from_wide(raw, codes, level, vintage, {c: m for c, (m, _) in cols.items()},
                                 {c: y for c, (_, y) in cols.items()})
    gm = ("GM" + codes.str[2:6]) if level == "wijk" else (codes if level == "gemeente" else None)
    return Batch(family, path, *BZK, len(raw.frame), areas=area_frame(codes, level, vintage, gemeente_code=gm),
                 observations=obs)


def read_lbm2_pc4_classes(path: Path) -> Batch:
    """LBM 2.0 (meting 2018) classes and development classes per PC4; empty = not scored."""
    return _lbm2(path, "lbm2_pc4_classes", "pc4", "CODE", 2018)


def read_lbm2_pc4_dimensions(path: Path) -> Batch:
    """LBM 2.0 total and dimension scores per PC4 relative to the national mean, 2012-2018."""
    return _lbm2(path, "lbm2_pc4_dimensions", "pc4", "GBD", 2018)


def read_lbm2_gemeente_classes(path: Path) -> Batch:
    """LBM 2.0 (meting 2016) classes per gemeente, 2016 boundaries."""
    return _lbm2(path, "lbm2_gemeente_classes", "gemeente", "gm_code", 2016)


def read_lbm2_wijk_classes(path: Path) -> Batch:
    """LBM 2.0 (meting 2016) classes per wijk, 2016 boundaries."""
    return _lbm2(path, "lbm2_wijk_classes", "wijk", "wk_code", 2016)


_DERIVED = {
    "lbm2_class_boundaries_inferred": ("lbm2_class_boundaries",
                                       ["boundary", "between", "max_abs_score_class_k", "min_abs_score_class_k1",
                                        "inferred_threshold"]),
    "lbm2_class_ranges_by_year_derived": ("lbm2_class_ranges",
                                          ["year", "klasse", "label_nl", "n_pc4", "rel_min", "rel_max",
                                           "national_mean_used", "abs_min", "abs_max"]),
}


def read_lbm2_derived(path: Path) -> Batch:
    """Derived LBM 2.0 class tables (ranges per year and inferred thresholds), kept as reference tables."""
    stem = re.sub(r"\.csv$", "", path.name)
    if stem not in _DERIVED:
        expected = " or ".join(f"{k}.csv" for k in _DERIVED)
        raise InputError(path, f"unknown derived Leefbaarometer table; expected {expected}")
    table, columns = _DERIVED[stem]
    raw = read_text_table(path)
    check_columns(raw, columns)
    text = [c for c in columns if c in ("boundary", "between", "label_nl")]
    numeric = [c for c in columns if c not in text]
    values, _ = parse_values(raw, raw.frame[numeric])
    frame = pd.concat([raw.frame[text], pd.DataFrame(values, columns=numeric)], axis=1)[columns]
    return Batch("lbm2_derived", path, "leefbaar (derived from LBM 2.0 open data)", "derived", len(raw.frame),
                 tables={table: frame})
