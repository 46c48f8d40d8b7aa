"""Readers for the buurt-level families in ``buurt/``: the Leefbaarometer 2024 buurt scores, the Rotterdam
Wijkprofiel 2014-2024 (data, codebook, link to CBS 2024 codes) and the CBS KWB 2024 for the Rijnmond buurten.

- Leefbaarometer 3 per buurt (BZK): ``lbm_afw`` (deviation of the total score from the national reference)
  and the five dimension contributions ``lbm_won`` ... ``lbm_onv`` (same ids as at PC4; afw = their sum),
  plus the official classes 1-9 ``lbm_klasse`` (total score), ``lbm_klasse_afw`` and ``lbm_klasse_won`` ...
  ``lbm_klasse_onv``. The total score itself is not in the file.
- Rotterdam Wijkprofiel (Gemeente Rotterdam, OBI): level ``wijkprofiel``; area codes ``WP`` + the four-digit
  Rotterdam number (``WP0010`` Stadsdriehoek, ``WP1009`` Groot IJsselmonde-Noord, ``WP5000`` the city);
  each area keeps its own type (wijk, deelwijk, wijkcombinatie, gebied, stad). Indicator ids are ``wp_`` +
  the lower-cased Wijkprofiel code (``SI_s`` -> ``wp_si_s``); indices and themes are points with 100 =
  Rotterdam 2014, survey and register shares are fractions 0-1. The codebook goes to table
  ``wijkprofiel_codebook``, the link to CBS 2024 codes to ``wijkprofiel_cbs``.
- CBS Kerncijfers wijken en buurten (GeoPackage field names): buurt level; identical concepts use the PC4
  ids (``inwoner``, ``wozwoning``, ``p_koopwon``, ``oad``, ``sted``, ``afs_*``/``av*`` nabijheid), other
  fields get their own ids (``catalogue/columns.csv``, family ``kwb_buurt``). The most frequent postcode per
  buurt goes to table ``buurt_postcode``.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from leefbaar.errors import InputError
from leefbaar.sources.batch import Batch, area_frame, observations_from_wide
from leefbaar.sources.catalogue import column_maps, columns_for
from leefbaar.sources.cbs import CBS, region_codes
from leefbaar.sources.tabular import (
    RawTable,
    check_columns,
    check_unique,
    parse_values,
    read_text_table,
    year_column,
)

BZK = ("Ministerie van BZK, Leefbaarometer open data (layer lbm3:buurtscore24)", "open data (BZK)")
OBI = ("Gemeente Rotterdam, OBI (Onderzoek en Business Intelligence), Wijkprofiel",
       "dataset voor derden; no licence stated")
WIJKPROFIEL_AREA_TYPES = ("wijk", "deelwijk", "wijkcombinatie", "gebied", "stad")
WIJKPROFIEL_GEMEENTE = "GM0599"
WIJKPROFIEL_SHEETS = ("SI", "FI-subj", "FI-obj", "VI")
LBM_DIMENSION_COLUMNS = ("won", "fys", "vrz", "soc", "onv")
# afw and the dimensions are published with six significant digits; their sum matches afw within 2e-6.
LBM_SUM_TOLERANCE = 1e-5


def wijkprofiel_code(wijknr: int) -> str:
    """The store code of a Wijkprofiel area: ``WP`` + Rotterdam's number in four digits (10 -> ``WP0010``)."""
    return f"WP{int(wijknr):04d}"


def wijkprofiel_indicator(code: str) -> str:
    """The indicator id of a Wijkprofiel code: ``wp_`` + the code in lower case (``VIs1`` -> ``wp_vis1``)."""
    return "wp_" + code.lower()


def _fail_first(raw: RawTable, bad: np.ndarray, column: str, message: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(raw.path, message.format(value=raw.frame[column].iloc[i]), row=int(raw.row[i]),
                         column=column)


def _year_column(raw: RawTable, column: str) -> pd.Series:
    """The whole four-digit year of every row, within the years of the file name (an error names the row)."""
    return year_column(raw, column)


def _rows(raw: RawTable, sel: np.ndarray) -> RawTable:
    return RawTable(raw.path, raw.frame[sel].reset_index(drop=True), raw.row[sel])


def _family_columns(family: str) -> set[str]:
    return {m.column for m in column_maps() if m.family == family}


# -- Leefbaarometer 3 per buurt ---------------------------------------------------------------------------
def read_lbm3_buurt(path: Path) -> Batch:
    """Leefbaarometer 3 scores and official classes per CBS buurt (``lbm<year>_buurt_scores_*.csv``).

    The buurt division is that of the measurement year (vintage = year). Checks: known year, valid and unique
    buurt codes, provincie code 20-31, classes whole numbers 1-9, and afw = won + fys + vrz + soc + onv.
    """
    raw = read_text_table(path)
    ids = {"bu_code", "naam", "gemeente", "provincie_code", "provincie", "jaar"}
    check_columns(raw, _family_columns("lbm3_buurt") | ids)
    years = _year_column(raw, "jaar")
    areas, parts = [], []
    for year in sorted(years.unique()):
        sel = (years == year).to_numpy()
        sub = _rows(raw, sel)
        mapping = columns_for("lbm3_buurt", int(year))
        if not mapping:
            _fail_first(raw, sel, "jaar", "year {value} is not a Leefbaarometer buurt year in the catalogue")
        codes = region_codes(sub, "bu_code", ("BU",))
        prov = sub.frame["provincie_code"].str.strip()
        _fail_first(sub, ~prov.isin([str(p) for p in range(20, 32)]).to_numpy(), "provincie_code",
                    "{value!r} is not a CBS provincie number (20-31)")
        klass = [c for c, m in mapping.items() if m.indicator.startswith("lbm_klasse")]
        values, _ = parse_values(sub, sub.frame[klass])
        values = np.asarray(values, dtype=float)
        for j, col in enumerate(klass):
            _fail_first(sub, ~np.isnan(values[:, j]) & ~np.isin(values[:, j], np.arange(1, 10)), col,
                        "class {value!r} is not a whole number 1-9")
        values, _ = parse_values(sub, sub.frame[["afw", *LBM_DIMENSION_COLUMNS]])
        values = np.asarray(values, dtype=float)
        gap = np.abs(values[:, 0] - values[:, 1:].sum(axis=1))
        _fail_first(sub, gap > LBM_SUM_TOLERANCE, "afw",
                    "{value} is not the sum of the five dimensions won, fys, vrz, soc and onv")
        obs = observations_from_wide(sub, codes, "buurt", int(year), mapping, int(year))
        areas.append(area_frame(codes, "buurt", int(year), name=sub.frame["naam"].str.strip(),
                                gemeente_code="GM" + codes.str[2:6], wijk_code="WK" + codes.str[2:8],
                                provincie_code="PV" + prov))
        parts.append(obs)
    return Batch("lbm3_buurt", path, *BZK, len(raw.frame), areas=pd.concat(areas, ignore_index=True),
                 observations=pd.concat(parts, ignore_index=True))


# -- Rotterdam Wijkprofiel --------------------------------------------------------------------------------
def _wijknr(raw: RawTable, column: str = "wijknr") -> pd.Series:
    text = raw.frame[column].str.strip()
    _fail_first(raw, ~text.str.fullmatch(r"\d{1,4}").to_numpy(), column,
                "{value!r} is not a Wijkprofiel area number (1-4 digits)")
    return text.astype(int)


def _area_types(raw: RawTable, column: str = "gebiedstype") -> pd.Series:
    types = raw.frame[column].str.strip()
    _fail_first(raw, ~types.isin(WIJKPROFIEL_AREA_TYPES).to_numpy(), column,
                "area type {value!r} is not one of " + ", ".join(WIJKPROFIEL_AREA_TYPES))
    return types


def read_wijkprofiel(path: Path) -> Batch:
    """The Rotterdam Wijkprofiel dataset: one row per area and edition, one column per Wijkprofiel code.

    Every code must be in the catalogue (family ``wijkprofiel``); a value in an edition the codebook does not
    list for that code is an error; an empty cell is a missing value. An area keeps the same number, name and
    type in every edition (the Wijkprofiel uses one area set); the vintage of the areas is the latest edition.
    """
    raw = read_text_table(path)
    ids = ["jaar", "gebied", "wijknr", "naam", "gebiedstype"]
    known = _family_columns("wijkprofiel")
    check_columns(raw, known | set(ids), set(ids))
    if not known & set(raw.frame.columns):
        raise InputError(path, "holds no Wijkprofiel indicator column", row=1)
    years = _year_column(raw, "jaar")
    nr = _wijknr(raw)
    types = _area_types(raw)
    names = raw.frame["naam"].str.strip()
    for col, values in (("naam", names), ("gebiedstype", types), ("gebied", raw.frame["gebied"].str.strip())):
        first = values.groupby(nr).transform("first")
        _fail_first(raw, (values != first).to_numpy(), col,
                    "{value!r} differs from the same area in another edition (one area set for all editions)")
    vintage = int(years.max())
    parts = []
    for year in sorted(years.unique()):
        sel = (years == year).to_numpy()
        sub = _rows(raw, sel)
        codes = nr[sel].map(wijkprofiel_code).reset_index(drop=True)
        check_unique(sub, codes, "wijknr")
        mapping = {c: m for c, m in columns_for("wijkprofiel", int(year)).items() if c in sub.frame.columns}
        if not mapping:
            _fail_first(raw, sel, "jaar", "edition {value} is not a Wijkprofiel edition in the catalogue")
        for col in sorted((set(sub.frame.columns) & known) - set(mapping)):
            _fail_first(sub, (sub.frame[col].str.strip() != "").to_numpy(), col,
                        f"value {{value!r}} in edition {year}, for which the codebook lists no such "
                        "indicator")
        parts.append(observations_from_wide(sub, codes, "wijkprofiel", vintage, mapping, int(year)))
    first = ~nr.duplicated().to_numpy()
    areas = area_frame(nr[first].map(wijkprofiel_code), "wijkprofiel", vintage, name=names[first],
                       gemeente_code=WIJKPROFIEL_GEMEENTE, area_type=types[first])
    return Batch("wijkprofiel", path, *OBI, len(raw.frame), areas=areas,
                 observations=pd.concat(parts, ignore_index=True))


def read_wijkprofiel_codebook(path: Path) -> Batch:
    """The Wijkprofiel codebook: code, sheet (SI, FI-subj, FI-obj, VI), Dutch label, hoefijzer flag, editions.

    Written to table ``wijkprofiel_codebook`` with the indicator id of every code; a code the catalogue does
    not map is an error, so that data and catalogue cannot drift apart.
    """
    raw = read_text_table(path)
    cols = ["code", "sheet_family", "label", "in_hoefijzer", "years"]
    check_columns(raw, cols)
    f = raw.frame.apply(lambda s: s.str.strip())
    check_unique(raw, f["code"], "code")
    mapped = {m.column: m for m in column_maps() if m.family == "wijkprofiel"}
    _fail_first(raw, ~f["code"].isin(list(mapped)).to_numpy(), "code",
                "Wijkprofiel code {value!r} is not in catalogue/columns.csv (family wijkprofiel)")
    _fail_first(raw, ~f["sheet_family"].isin(WIJKPROFIEL_SHEETS).to_numpy(), "sheet_family",
                "sheet {value!r} is not one of " + ", ".join(WIJKPROFIEL_SHEETS))
    _fail_first(raw, ~f["in_hoefijzer"].isin(["0", "1"]).to_numpy(), "in_hoefijzer",
                "{value!r} is not 0 or 1")
    _fail_first(raw, (f["label"] == "").to_numpy(), "label", "label is empty")
    editions = f["years"].map(lambda s: frozenset(int(y) for y in s.split(";") if y.isdigit()))
    differs = np.array([editions.iloc[i] != mapped[c].years for i, c in enumerate(f["code"])])
    _fail_first(raw, differs, "years", "editions {value!r} differ from catalogue/columns.csv for this code")
    table = pd.DataFrame({
        "code": f["code"], "indicator": f["code"].map(lambda c: mapped[c].indicator),
        "sheet_family": f["sheet_family"], "label": f["label"], "in_hoefijzer": f["in_hoefijzer"] == "1",
        "years": f["years"],
    })
    return Batch("wijkprofiel_codebook", path, *OBI, len(raw.frame), tables={"wijkprofiel_codebook": table})


def read_wijkprofiel_areas(path: Path) -> Batch:
    """The link from Wijkprofiel areas to CBS codes (buurten; a wijk for a gebied; the gemeente for the city).

    Written to table ``wijkprofiel_cbs`` (one row per area and CBS code) with ``relation``: ``equal`` (one
    CBS area), ``union`` (the area is several CBS areas) or ``part`` (several Wijkprofiel areas share one CBS
    area, as Groot IJsselmonde-Noord and -Zuid). The areas get the CBS wijk they lie in as ``wijk_code``.
    """
    raw = read_text_table(path)
    cols = ["wijknr", "naam", "gebied", "gebiedstype", "cbs_codes_2024", "cbs_namen_2024", "match_method"]
    check_columns(raw, cols)
    nr = _wijknr(raw)
    codes = nr.map(wijkprofiel_code)
    check_unique(raw, codes, "wijknr")
    types = _area_types(raw)
    split = raw.frame["cbs_codes_2024"].str.strip().str.split(";")
    names = raw.frame["cbs_namen_2024"].str.strip().str.split(";")
    _fail_first(raw, (split.str.len() != names.str.len()).to_numpy(), "cbs_namen_2024",
                "{value!r} does not give one name per CBS code")
    long = pd.DataFrame({"i": np.repeat(np.arange(len(raw.frame)), split.str.len()),
                         "cbs_code": [c.strip() for cs in split for c in cs],
                         "cbs_naam": [n.strip() for ns in names for n in ns]})
    bad = ~long["cbs_code"].str.fullmatch(r"BU\d{8}|WK\d{6}|GM\d{4}").to_numpy()
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"{long['cbs_code'].iloc[k]!r} is not a CBS buurt, wijk or gemeente code",
                         row=int(raw.row[int(long["i"].iloc[k])]), column="cbs_codes_2024")
    n_codes = split.str.len().to_numpy()[long["i"]]
    shared = long["cbs_code"].duplicated(keep=False).to_numpy()
    table = pd.DataFrame({
        "code": codes.to_numpy()[long["i"]], "wijknr": nr.to_numpy()[long["i"]],
        "naam": raw.frame["naam"].str.strip().to_numpy()[long["i"]],
        "gebied": raw.frame["gebied"].str.strip().to_numpy()[long["i"]],
        "area_type": types.to_numpy()[long["i"]],
        "cbs_code": long["cbs_code"], "cbs_level": long["cbs_code"].str[:2].map({"BU": "buurt", "WK": "wijk",
                                                                                  "GM": "gemeente"}),
        "cbs_naam": long["cbs_naam"],
        "relation": np.where(n_codes > 1, "union", np.where(shared, "part", "equal")),
        "match_method": raw.frame["match_method"].str.strip().to_numpy()[long["i"]],
    })
    wk = table.assign(wk=np.where(table["cbs_level"] == "gemeente", None,
                                  "WK" + table["cbs_code"].str[2:8])).groupby("code")["wk"].agg(
        lambda s: s.iloc[0] if s.notna().all() and s.nunique() == 1 else None)
    areas = area_frame(wk.index, "wijkprofiel", _wijkprofiel_vintage(path),
                       gemeente_code=WIJKPROFIEL_GEMEENTE, wijk_code=wk.to_numpy())
    return Batch("wijkprofiel_areas", path, "leefbaar data folder (derived link, see SOURCES.md)", "derived",
                 len(raw.frame), areas=areas, tables={"wijkprofiel_cbs": table})


def _wijkprofiel_vintage(path: Path) -> int:
    """The area vintage of a link file ``..._cbs<year>.csv``: the year of its CBS division."""
    m = re.search(r"cbs(\d{4})", path.name)
    if not m:
        raise InputError(path, "file name does not end in the CBS division year (e.g. _cbs2024.csv)")
    return int(m.group(1))


# -- CBS Kerncijfers wijken en buurten per buurt ----------------------------------------------------------
def read_kwb_buurt(path: Path) -> Batch:
    """CBS Kerncijfers wijken en buurten per buurt with GeoPackage field names (``*_kwb<year>_buurt.csv``).

    Water rows are left out. Checks: one year in ``jaar`` equal to the file name's, valid unique buurt codes,
    ``wijkcode``/``gemeentecode`` consistent with the buurt code and ``jrstatcode`` = year + buurt code.
    Suppressed cells (-99997) become NULL with status ``suppressed``.
    """
    m = re.search(r"kwb(\d{4})", path.name)
    if not m:
        raise InputError(path, "file name does not name the KWB year (e.g. rijnmond_kwb2024_buurt.csv)")
    year = int(m.group(1))
    raw = read_text_table(path)
    mapping = columns_for("kwb_buurt", year)
    if not mapping:
        raise InputError(path, f"the catalogue maps no KWB buurt columns for {year}")
    ids = {"buurtcode", "buurtnaam", "wijkcode", "gemeentecode", "gemeentenaam", "water", "jrstatcode",
           "jaar", "indelingswijziging_wijken_en_buurten", "meest_voorkomende_postcode", "dekkingspercentage"}
    check_columns(raw, set(mapping) | ids)
    water = raw.frame["water"].str.strip()
    _fail_first(raw, ~water.isin(["JA", "NEE"]).to_numpy(), "water", "{value!r} is not JA or NEE")
    raw = _rows(raw, (water == "NEE").to_numpy())
    _fail_first(raw, (_year_column(raw, "jaar") != year).to_numpy(), "jaar",
                f"year {{value}} differs from the file name's {year}")
    codes = region_codes(raw, "buurtcode", ("BU",))
    f = raw.frame
    _fail_first(raw, (f["wijkcode"].str.strip() != "WK" + codes.str[2:8]).to_numpy(), "wijkcode",
                "{value!r} is not the wijk of the buurt code")
    _fail_first(raw, (f["gemeentecode"].str.strip() != "GM" + codes.str[2:6]).to_numpy(), "gemeentecode",
                "{value!r} is not the gemeente of the buurt code")
    _fail_first(raw, (f["jrstatcode"].str.strip() != f"{year}" + codes).to_numpy(), "jrstatcode",
                f"{{value!r}} is not {year} followed by the buurt code")
    values, status = parse_values(raw, f[["meest_voorkomende_postcode", "dekkingspercentage",
                                          "indelingswijziging_wijken_en_buurten"]])
    values, status = np.asarray(values, dtype=float), np.asarray(status)
    pc4 = np.where(status[:, 0] == "ok", f["meest_voorkomende_postcode"].str.strip(), None)
    _fail_first(raw, np.array([p is not None and not re.fullmatch(r"[1-9]\d{3}", p) for p in pc4]),
                "meest_voorkomende_postcode", "{value!r} is not a postcode area (four digits, 1000-9999)")
    postcode = pd.DataFrame({"code": codes, "vintage": year, "pc4": pc4,
                             "dekking_klasse": pd.array(values[:, 1], dtype="Int64"),
                             "indelingswijziging": pd.array(values[:, 2], dtype="Int64")})
    areas = area_frame(codes, "buurt", year, name=f["buurtnaam"].str.strip(),
                       gemeente_code=f["gemeentecode"].str.strip(), wijk_code=f["wijkcode"].str.strip())
    obs = observations_from_wide(raw, codes, "buurt", year, mapping, year)
    return Batch("kwb_buurt", path, *CBS, len(f), areas=areas, observations=obs,
                 tables={"buurt_postcode": postcode})


_FAMILIES = None


def __getattr__(name: str):
    """``FAMILIES`` is built on first use: ``Family`` lives in ``registry``, which imports this module."""
    global _FAMILIES
    if name != "FAMILIES":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _FAMILIES is None:
        from leefbaar.sources.registry import Family

        _FAMILIES = [
            Family("lbm3_buurt", "buurt/lbm20[0-9][0-9]_buurt_scores_*.csv", read_lbm3_buurt,
                   "Leefbaarometer 3 scores and classes per buurt"),
            Family("wijkprofiel", "buurt/rotterdam_wijkprofiel_20[0-9][0-9]_20[0-9][0-9].csv",
                   read_wijkprofiel, "Rotterdam Wijkprofiel, all editions"),
            Family("wijkprofiel_codebook", "buurt/rotterdam_wijkprofiel_codebook.csv",
                   read_wijkprofiel_codebook, "Rotterdam Wijkprofiel codebook"),
            Family("wijkprofiel_areas", "buurt/rotterdam_wijkprofiel_areas_cbs20[0-9][0-9].csv",
                   read_wijkprofiel_areas, "Rotterdam Wijkprofiel areas linked to CBS codes"),
            Family("kwb_buurt", "buurt/*_kwb20[0-9][0-9]_buurt.csv", read_kwb_buurt,
                   "CBS Kerncijfers wijken en buurten per buurt (GeoPackage fields)"),
        ]
    return _FAMILIES
