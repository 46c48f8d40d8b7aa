"""Table and map downloads: CSV (UTF-8 with BOM, so that Excel reads accents), Excel and GeoPackage.

All writers return bytes; temporary files (GeoPackage needs a file) live in a private temporary folder whose
name the caller never chooses.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import geopandas as gpd
import pandas as pd

MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "gpkg": "application/geopackage+sqlite3",
}


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as CSV (comma-separated, point decimals, UTF-8 with byte-order mark)."""
    return frame.to_csv(index=False).encode("utf-8-sig")


def xlsx_bytes(frame: pd.DataFrame, sheet: str = "data", notes: list[str] | None = None) -> bytes:
    """The frame as an Excel workbook; ``notes`` (source, licence, units) go on a second sheet."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        frame.to_excel(xw, sheet_name=sheet[:31], index=False)
        if notes:
            pd.DataFrame({"toelichting / notes": notes}).to_excel(xw, sheet_name="bron", index=False)
    return buf.getvalue()


def gpkg_bytes(frame: gpd.GeoDataFrame, layer: str) -> bytes:
    """The frame as a GeoPackage with one layer (CRS as in the frame)."""
    with tempfile.TemporaryDirectory(prefix="leefbaar-") as tmp:
        path = Path(tmp) / "export.gpkg"
        frame.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
        return path.read_bytes()


def table_bytes(frame: pd.DataFrame, fmt: str, sheet: str = "data", notes: list[str] | None = None) -> bytes:
    """CSV or Excel bytes of a table."""
    if fmt == "csv":
        return csv_bytes(frame)
    if fmt == "xlsx":
        return xlsx_bytes(frame, sheet, notes)
    raise ValueError(f"unknown table format {fmt!r}")
