"""Table and map downloads: CSV (UTF-8 with BOM, so that Excel reads accents), Excel and GeoPackage.

CSV follows the language of the download, so that a spreadsheet opens it without an import dialogue: Dutch
(``lang='nl'``, what the Dutch dashboard asks for) is what Dutch Excel expects, semicolon separator and decimal
comma; English (``lang='en'``) and no language (scripts, the CLI's ``export``) are comma separator and decimal
point. Counts, years, ranks and classes (``INTEGER_COLUMNS``) are written as integers ("9", not "9.0") in every
format. The ``write_*`` functions stream a download into a file (the server's download files; memory stays
bounded by the frame, not by the workbook or the layer); the ``*_bytes`` functions return the same bytes (the CLI),
temporary files (GeoPackage needs a file) in a private temporary folder whose name the caller never chooses.

Excel workbooks are written by ``write_xlsx``, a streaming SpreadsheetML (ECMA-376) writer: rows go to the zip
member as they are formatted, with inline strings, numbers as written by Python (shortest round trip), booleans,
and empty cells for missing values; the header is bold and frozen. A few ms per thousand rows (openpyxl with
pandas took about a second for the 4,000 PC4 areas, keeping every cell as an object).
"""

from __future__ import annotations

import io
import math
import re
import zipfile
from pathlib import Path
from typing import BinaryIO
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
import pyarrow as pa

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
    buf = io.BytesIO()
    write_xlsx(frame, buf, sheet, notes)
    return buf.getvalue()


_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_NS_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
_PKG = "http://schemas.openxmlformats.org/package/2006"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (_XML_HEAD + f'<styleSheet {_NS}><fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
           '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts><fills count="2"><fill><patternFill '
           'patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1">'
           '<border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf '
           'numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" '
           'fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="0" borderId="0" '
           'xfId="0" applyFont="1"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" '
           'builtinId="0"/></cellStyles></styleSheet>')
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
ROWS_PER_CHUNK = 2000


def _column_letters(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


def _text_cell(ref: str, text: str, style: str = "") -> str:
    text = escape(_ILLEGAL_XML.sub("", text))
    space = ' xml:space="preserve"' if text[:1].isspace() or text[-1:].isspace() else ""
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _cell(ref: str, v) -> str:
    """One cell: missing values (None, NA, NaN, empty text) empty; numbers as numbers, infinities as text (as
    pandas wrote them); anything else as text."""
    if v is None or v is pd.NA or v is pd.NaT:
        return ""
    if isinstance(v, bool | np.bool_):
        return f'<c r="{ref}" t="b"><v>{int(v)}</v></c>'
    if isinstance(v, int | np.integer):
        return f'<c r="{ref}"><v>{int(v)}</v></c>'
    if isinstance(v, float | np.floating):
        v = float(v)
        if math.isnan(v):
            return ""
        if math.isinf(v):
            return _text_cell(ref, "inf" if v > 0 else "-inf")
        return f'<c r="{ref}"><v>{v!r}</v></c>'
    text = str(v)
    return _text_cell(ref, text) if text else ""  # an empty text is an empty cell (as openpyxl wrote it)


def _sheet_chunks(frame: pd.DataFrame):
    """The worksheet XML of ``frame`` (header row in bold, frozen), in chunks of ``ROWS_PER_CHUNK`` rows."""
    letters = [_column_letters(i) for i in range(frame.shape[1])]
    yield (_XML_HEAD + f'<worksheet {_NS}><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" '
           'topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews><sheetData>'
           '<row r="1">' + "".join(_text_cell(f"{c}1", str(name), ' s="1"') for c, name in zip(letters, frame.columns,
                                                                                               strict=True))
           + "</row>")
    for start in range(0, len(frame), ROWS_PER_CHUNK):
        part = frame.iloc[start:start + ROWS_PER_CHUNK]
        columns = [part[col].astype(object).tolist() for col in part.columns]
        rows = []
        for r, values in enumerate(zip(*columns, strict=True), start=start + 2):
            rows.append(f'<row r="{r}">' + "".join(_cell(f"{c}{r}", v) for c, v in zip(letters, values, strict=True))
                        + "</row>")
        yield "".join(rows)
    yield "</sheetData></worksheet>"


def write_xlsx(frame: pd.DataFrame, out: BinaryIO | str | Path, sheet: str = "data",
               notes: list[str] | None = None) -> None:
    """Stream ``frame`` (whole-number columns as integers) as an Excel workbook into ``out`` (a file name or a
    binary file); ``notes`` (source, licence, units) go on a second sheet, ``bron``."""
    sheets = [(sheet[:31], integers(frame))]
    if notes:
        sheets.append(("bron", pd.DataFrame({"toelichting / notes": notes})))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=5) as z:
        z.writestr("[Content_Types].xml", _XML_HEAD + f'<Types xmlns="{_PKG}/content-types"><Default Extension="rels" '
                   'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
                   'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
                   'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
                   'PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.'
                   'spreadsheetml.styles+xml"/>'
                   + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                             'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                             for i in range(1, len(sheets) + 1)) + "</Types>")
        z.writestr("_rels/.rels", _XML_HEAD + f'<Relationships xmlns="{_PKG}/relationships"><Relationship Id="rId1" '
                   f'Type="{_DOC}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", _XML_HEAD + f"<workbook {_NS} {_NS_R}><sheets>" + "".join(
            f'<sheet name="{escape(name, {chr(34): "&quot;"})}" sheetId="{i}" r:id="rId{i}"/>'
            for i, (name, _) in enumerate(sheets, start=1)) + "</sheets></workbook>")
        z.writestr("xl/_rels/workbook.xml.rels", _XML_HEAD + f'<Relationships xmlns="{_PKG}/relationships">' + "".join(
            f'<Relationship Id="rId{i}" Type="{_DOC}/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(sheets) + 1)) + f'<Relationship Id="rId{len(sheets) + 1}" Type="{_DOC}/styles" '
            'Target="styles.xml"/></Relationships>')
        z.writestr("xl/styles.xml", _STYLES)
        for i, (_, table) in enumerate(sheets, start=1):
            with z.open(f"xl/worksheets/sheet{i}.xml", "w") as f:
                for chunk in _sheet_chunks(table):
                    f.write(chunk.encode("utf-8"))


def write_gpkg(frame: pd.DataFrame, boundaries: pa.Table, path: str | Path, layer: str, crs: int = 28992) -> None:
    """Write the areas of ``frame`` (a ``code`` column) with their boundaries as a GeoPackage layer at ``path``.

    ``boundaries``: ``code`` and ``geometry`` (WKB in ``crs``, one geometry type, as ``facts.boundaries.wkb_table``
    gives them; its schema metadata ``geometry_type`` names it); areas without a boundary are left out, as a
    join of the GeoDataFrame did. The WKB goes to GDAL as it is (no shapely objects).
    """
    import pyarrow.compute as pc
    import pyogrio

    frame = integers(frame).reset_index(drop=True)
    rows = pc.index_in(boundaries["code"], pa.array(frame["code"].astype(str).to_numpy(), pa.string()))
    has = pc.is_valid(rows)
    keep = frame.iloc[rows.filter(has).to_numpy(zero_copy_only=False)].reset_index(drop=True)  # boundaries' order
    table = pa.Table.from_pandas(keep[["code", *(c for c in keep.columns if c != "code")]], preserve_index=False)
    table = table.append_column("geometry", boundaries["geometry"].filter(has))
    gtype = (boundaries.schema.metadata or {}).get(b"geometry_type", b"Unknown").decode()
    pyogrio.write_arrow(table, str(path), layer=layer, driver="GPKG", geometry_name="geometry",
                        geometry_type=gtype, crs=f"EPSG:{crs}")


def table_bytes(frame: pd.DataFrame, fmt: str, sheet: str = "data", notes: list[str] | None = None,
                lang: str | None = None) -> bytes:
    """CSV (in ``lang``'s convention) or Excel bytes of a table."""
    buf = io.BytesIO()
    write_table(frame, fmt, buf, sheet, notes, lang)
    return buf.getvalue()


def write_table(frame: pd.DataFrame, fmt: str, out: BinaryIO, sheet: str = "data", notes: list[str] | None = None,
                lang: str | None = None) -> None:
    """Write a table as CSV (in ``lang``'s convention) or Excel into the binary file ``out``."""
    if fmt == "csv":
        out.write(csv_bytes(frame, lang))
    elif fmt == "xlsx":
        write_xlsx(frame, out, sheet, notes)
    else:
        raise ValueError(f"unknown table format {fmt!r}")
