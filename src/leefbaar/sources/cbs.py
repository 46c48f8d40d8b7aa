"""Readers for CBS statistics: PC4 files, SES-WOA, Kerncijfers wijken en buurten (KWB) and StatLine exports.

All values are as published by CBS (CC BY 4.0, "Bron: CBS"); suppression codes become NULL with a status.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from leefbaar.errors import InputError
from leefbaar.sources.batch import Batch, area_frame, observations_from_wide
from leefbaar.sources.catalogue import columns_for
from leefbaar.sources.tabular import RawTable, check_columns, check_unique, read_text_table, year_column

CBS = ("CBS (Centraal Bureau voor de Statistiek)", "CC BY 4.0")
_PC4 = re.compile(r"^[1-9]\d{3}$")
_REGION = re.compile(r"^(NL\d{2}|PV\d{2}|GM\d{4}|WK\d{4}[0-9A-Z]{2}|BU\d{4}[0-9A-Z]{4})$")
PROVINCIE_CODES = {
    "Groningen": "PV20", "Fryslân": "PV21", "Fryslan": "PV21", "Friesland": "PV21", "Drenthe": "PV22",
    "Overijssel": "PV23",
    "Flevoland": "PV24", "Gelderland": "PV25", "Utrecht": "PV26", "Noord-Holland": "PV27",
    "Zuid-Holland": "PV28", "Zeeland": "PV29", "Noord-Brabant": "PV30", "Limburg": "PV31",
}
LEVEL_OF_PREFIX = {"NL": "land", "PV": "provincie", "GM": "gemeente", "WK": "wijk", "BU": "buurt"}


def pc4_codes(raw: RawTable, column: str) -> pd.Series:
    """Validated postcode areas 1000-9999 from ``column`` (a number like ``1011`` or ``1011.0``)."""
    codes = raw.frame[column].str.strip().str.replace(r"\.0$", "", regex=True)
    bad = ~codes.str.match(_PC4)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(raw.path, f"{raw.frame[column].iloc[i]!r} is not a postcode area (four digits, 1000-9999)",
                         row=int(raw.row[i]), column=column)
    check_unique(raw, codes, column)
    return codes


def region_codes(raw: RawTable, column: str, prefixes: tuple[str, ...]) -> pd.Series:
    """Validated CBS region codes (``GM0599``, ``WK059901``, ``BU05990101``) with one of ``prefixes``."""
    codes = raw.frame[column].str.strip()
    bad = ~(codes.str.match(_REGION) & codes.str[:2].isin(prefixes))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(raw.path, f"{raw.frame[column].iloc[i]!r} is not a CBS code starting with "
                         f"{'/'.join(prefixes)}", row=int(raw.row[i]), column=column)
    check_unique(raw, codes, column)
    return codes


def read_cbs_pc4(path: Path) -> Batch:
    """CBS 'Statistische gegevens per postcode' (PC4), one file per year: ``cbs_pc4_<year>[_vN].csv``."""
    year = int(re.search(r"(\d{4})", path.stem.replace("pc4", "")).group(1))
    raw = read_text_table(path)
    mapping = columns_for("cbs_pc4", year)
    check_columns(raw, set(mapping) | {"PC4"})
    codes = pc4_codes(raw, "PC4")
    obs = observations_from_wide(raw, codes, "pc4", year, mapping, year)
    return Batch("cbs_pc4", path, *CBS, len(raw.frame), areas=area_frame(codes, "pc4", year), observations=obs)


def read_pc4_income_2017(path: Path) -> Batch:
    """CBS maatwerk: median standardised disposable income and national quintiles per PC4, 2017."""
    raw = read_text_table(path)
    mapping = columns_for("cbs_pc4_income2017", 2017)
    check_columns(raw, set(mapping) | {"PC4"})
    codes = pc4_codes(raw, "PC4")
    obs = observations_from_wide(raw, codes, "pc4", 2017, mapping, 2017)
    return Batch("cbs_pc4_income2017", path, *CBS, len(raw.frame), areas=area_frame(codes, "pc4", 2017),
                 observations=obs)


def read_ses_woa(path: Path) -> Batch:
    """CBS SES-WOA scores per PC4; semicolon-separated with decimal commas, one row per PC4 and year."""
    raw = read_text_table(path, sep=";")
    if "SES_Verslagjaar" not in raw.frame.columns:
        raise InputError(path, "required column is missing", row=1, column="SES_Verslagjaar")
    years = year_column(raw, "SES_Verslagjaar")
    areas, parts = [], []
    for year in sorted(years.unique()):
        mapping = columns_for("ses_woa", year)
        if not mapping:
            raise InputError(path, f"year {year} is not in the catalogue for SES-WOA", column="SES_Verslagjaar")
        check_columns(raw, set(mapping) | {"SES_PC4", "SES_Verslagjaar"})
        sel = (years == year).to_numpy()
        sub = RawTable(raw.path, raw.frame[sel].reset_index(drop=True), raw.row[sel])
        codes = pc4_codes(sub, "SES_PC4")
        parts.append(observations_from_wide(sub, codes, "pc4", year, mapping, year, decimal=","))
        areas.append(area_frame(codes, "pc4", year))
    return Batch("ses_woa", path, *CBS, len(raw.frame), areas=pd.concat(areas, ignore_index=True),
                 observations=pd.concat(parts, ignore_index=True))


def _kwb_wbkaart(path: Path, level: str) -> Batch:
    """CBS wijk- en buurtkaart 2017 attribute tables (short field codes; water rows are left out)."""
    raw = read_text_table(path)
    family = f"kwb2017_{level}"
    mapping = columns_for(family, 2017)
    ids = ["GM_CODE", "GM_NAAM", "WATER"] + (["WK_CODE", "WK_NAAM", "IND_WBI"] if level == "wijk" else [])
    check_columns(raw, set(mapping) | set(ids))
    land = (raw.frame["WATER"].str.strip() == "NEE").to_numpy()
    sub = RawTable(raw.path, raw.frame[land].reset_index(drop=True), raw.row[land])
    code_col = "WK_CODE" if level == "wijk" else "GM_CODE"
    codes = region_codes(sub, code_col, ("WK",) if level == "wijk" else ("GM",))
    names = sub.frame["WK_NAAM" if level == "wijk" else "GM_NAAM"]
    areas = area_frame(codes, level, 2017, name=names,
                       gemeente_code=sub.frame["GM_CODE"] if level == "wijk" else codes)
    obs = observations_from_wide(sub, codes, level, 2017, mapping, 2017)
    return Batch(family, path, *CBS, len(raw.frame), areas=areas, observations=obs)


def read_kwb2017_wijk(path: Path) -> Batch:
    return _kwb_wbkaart(path, "wijk")


def read_kwb2017_gemeente(path: Path) -> Batch:
    return _kwb_wbkaart(path, "gemeente")


def _kwb_tmap(path: Path, level: str) -> Batch:
    """KWB 2022 per wijk or gemeente as compiled for tmap (English column names, 2022 boundaries)."""
    raw = read_text_table(path)
    family = f"kwb2022_{level}_tmap"
    mapping = columns_for(family, 2022)
    check_columns(raw, set(mapping) | {"code", "name", "province"})
    codes = region_codes(raw, "code", ("WK",) if level == "wijk" else ("GM",))
    prov = raw.frame["province"].map(PROVINCIE_CODES)
    areas = area_frame(codes, level, 2022, name=raw.frame["name"], provincie_code=prov,
                       gemeente_code=("GM" + codes.str[2:6]) if level == "wijk" else codes)
    obs = observations_from_wide(raw, codes, level, 2022, mapping, 2022)
    return Batch(family, path, *CBS, len(raw.frame), areas=areas, observations=obs)


def read_kwb2022_wijk(path: Path) -> Batch:
    return _kwb_tmap(path, "wijk")


def read_kwb2022_gemeente(path: Path) -> Batch:
    return _kwb_tmap(path, "gemeente")


# Identity columns of a StatLine KWB table (stems; the suffix shifts by year).
STATLINE_IDENTITY = {"WijkenEnBuurten", "ID", "Gemeentenaam", "SoortRegio", "Codering",
                     "IndelingswijzigingGemeenteWijkBuurt"}


def statline_stem(key: str) -> str:
    """The stable part of a StatLine column key: ``AantalInwoners_5`` -> ``AantalInwoners``."""
    return re.sub(r"_\d+$", "", key)


def statline_frame_to_batch(raw: RawTable, year: int, family: str = "kwb_statline") -> Batch:
    """A StatLine KWB export (``WijkenEnBuurten`` plus ``CamelCase_N`` keys) for one year, any region level.

    Keys are matched on their stem, because CBS renumbers the suffix every year.
    """
    stems = columns_for("kwb_statline", year)
    mapping, seen = {}, {}
    for col in raw.frame.columns:
        if col in STATLINE_IDENTITY or statline_stem(col) in STATLINE_IDENTITY:
            continue
        stem = statline_stem(col)
        if stem not in stems:
            raise InputError(raw.path, "unknown StatLine key; the catalogue maps no indicator to its stem",
                             row=1, column=col)
        if stem in seen:
            raise InputError(raw.path, f"keys {seen[stem]!r} and {col!r} share the stem {stem!r}; StatLine reuses a "
                             "stem for different measures, so map the full key", row=1, column=col)
        seen[stem] = col
        mapping[col] = stems[stem]
    codes = region_codes(raw, "WijkenEnBuurten", ("NL", "GM", "WK", "BU"))
    levels = codes.str[:2].map(LEVEL_OF_PREFIX)
    areas, parts = [], []
    for level in sorted(levels.unique()):
        sel = (levels == level).to_numpy()
        sub = RawTable(raw.path, raw.frame[sel].reset_index(drop=True), raw.row[sel])
        c = codes[sel].reset_index(drop=True)
        gm = c if level == "gemeente" else ("GM" + c.str[2:6] if level in ("wijk", "buurt") else None)
        areas.append(area_frame(c, level, year, gemeente_code=gm))
        parts.append(observations_from_wide(sub, c, level, year, mapping, year))
    return Batch(family, raw.path, *CBS, len(raw.frame), areas=pd.concat(areas, ignore_index=True),
                 observations=pd.concat(parts, ignore_index=True))


def read_kwb_statline(path: Path) -> Batch:
    """``kwb<year>_*.csv`` with original StatLine keys (table 85984NED and its yearly siblings)."""
    year = int(re.search(r"kwb(\d{4})", path.name).group(1))
    return statline_frame_to_batch(read_text_table(path), year)


def read_kwb2024_buurt_inwoners(path: Path) -> Batch:
    """AantalInwoners of 85984NED (KWB 2024) for every buurt of the 2024 division."""
    raw = read_text_table(path)
    mapping = columns_for("kwb2024_buurt_inwoners", 2024)
    check_columns(raw, set(mapping) | {"nhood_id"})
    codes = region_codes(raw, "nhood_id", ("BU",))
    areas = area_frame(codes, "buurt", 2024, gemeente_code="GM" + codes.str[2:6])
    obs = observations_from_wide(raw, codes, "buurt", 2024, mapping, 2024)
    return Batch("kwb2024_buurt_inwoners", path, *CBS, len(raw.frame), areas=areas, observations=obs)


def read_statline_regions(path: Path) -> Batch:
    """The region dimension of a StatLine KWB table (``<table>_WijkenEnBuurten.csv[.gz]``): names per code."""
    year = int(re.search(r"kwb(\d{4})", path.name).group(1))
    raw = read_text_table(path)
    check_columns(raw, {"Key", "Title", "Description", "Municipality", "DetailRegionCode"},
                  {"Key", "Title", "Municipality"})
    codes = raw.frame["Key"].str.strip()
    raw = RawTable(raw.path, raw.frame.assign(Key=codes), raw.row)
    codes = region_codes(raw, "Key", ("NL", "GM", "WK", "BU"))
    levels = codes.str[:2].map(LEVEL_OF_PREFIX)
    keep = (levels != "land").to_numpy()
    gm = raw.frame["Municipality"].str.strip().replace("", None)
    areas = area_frame(codes[keep], "x", year, name=raw.frame["Title"].str.strip()[keep],
                       gemeente_code=gm[keep])
    areas["level"] = levels[keep].to_numpy()
    areas["wijk_code"] = np.where(areas["level"] == "buurt", "WK" + areas["code"].str[2:8], None)
    return Batch("statline_regions", path, *CBS, len(raw.frame), areas=areas)
