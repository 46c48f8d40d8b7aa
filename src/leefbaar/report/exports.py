"""Table and map downloads: CSV (UTF-8 with BOM, so that Excel reads accents), Excel and GeoPackage.

CSV follows the language of the download, so that a spreadsheet opens it without an import dialogue: Dutch
(``lang='nl'``, what the Dutch dashboard asks for) is what Dutch Excel expects, semicolon separator and decimal
comma; English (``lang='en'``) and no language (scripts, the CLI's ``export``) are comma separator and decimal
point. Counts, years, ranks and classes (``INTEGER_COLUMNS``) are written as integers ("9", not "9.0") in every
format. All writers return bytes; temporary files (GeoPackage needs a file) live in a private temporary folder
whose name the caller never chooses.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gpkg": "application/geopackage+sqlite3",
}


CSV_DIALECTS = {"nl": {"sep": ";", "decimal": ","}, "en": {"sep": ",", "decimal": "."}}
"""Separator and decimal mark of a CSV download per language."""
INTEGER_COLUMNS = re.compile(r"^(klasse(_.*)?|class|rank(_.*)?|year(_.*)?|n_.*|residents|dwellings|inwoners?|"
                             r"pc4_(members|touched)|members|touched|entries|gemeenten|areas|criteria_met|start|end|"
                             r"evaluations)$")
"""Columns that hold whole numbers (counts, years, ranks, classes): written without decimals."""


def integers(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the whole-number columns (``INTEGER_COLUMNS``) as nullable integers, when every value in
    them is whole (a column with fractions is left as it is)."""
    out = {}
    for col in frame.columns:
        s = frame[col]
        if not isinstance(col, str) or not INTEGER_COLUMNS.match(col) or s.dtype.kind not in "fiO":
            continue
        num = pd.to_numeric(s, errors="coerce")
        if s.dtype.kind == "O" and num.notna().sum() != s.notna().sum():
            continue  # text in it
        whole = num.dropna()
        if (whole == whole.round()).all():
            out[col] = num.round().astype("Int64")
    return frame.assign(**out) if out else frame


def csv_bytes(frame: pd.DataFrame, lang: str | None = None) -> bytes:
    """The frame as CSV in ``lang``'s convention (``CSV_DIALECTS``; None: comma and point; UTF-8 with BOM)."""
    return integers(frame).to_csv(index=False, **CSV_DIALECTS["nl" if lang == "nl" else "en"]).encode("utf-8-sig")


def xlsx_bytes(frame: pd.DataFrame, sheet: str = "data", notes: list[str] | None = None) -> bytes:
    """The frame as an Excel workbook; ``notes`` (source, licence, units) go on a second sheet."""
    frame = integers(frame)
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        frame.to_excel(xw, sheet_name=sheet[:31], index=False)
        if notes:
            pd.DataFrame({"toelichting / notes": notes}).to_excel(xw, sheet_name="bron", index=False)
    return buf.getvalue()


def gpkg_bytes(frame: gpd.GeoDataFrame, layer: str) -> bytes:
    """The frame as a GeoPackage with one layer (CRS as in the frame)."""
    frame = integers(frame)
    with tempfile.TemporaryDirectory(prefix="leefbaar-") as tmp:
        path = Path(tmp) / "export.gpkg"
        frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
        return path.read_bytes()


def table_bytes(frame: pd.DataFrame, fmt: str, sheet: str = "data", notes: list[str] | None = None,
                lang: str | None = None) -> bytes:
    """CSV (in ``lang``'s convention) or Excel bytes of a table."""
    if fmt == "csv":
        return csv_bytes(frame, lang)
    if fmt == "xlsx":
        return xlsx_bytes(frame, sheet, notes)
    raise ValueError(f"unknown table format {fmt!r}")
