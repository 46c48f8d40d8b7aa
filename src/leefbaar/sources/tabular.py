"""Strict reading of delimited text files: every problem is located by file, row and column.

Rows are numbered as physical lines of the file (the header is row 1; blank lines and line breaks inside
quoted cells count). All cells are read as text first, so that a value is never silently coerced;
``parse_values`` then turns text into finite numbers with a status per cell.

A file larger than ``LEEFBAAR_MAX_FILE_MB`` megabytes (default 512; after gzip decompression for ``.gz``) is
refused before it is read, so that a runaway file never exhausts memory; the largest official file read today
is under 5 MB.

CBS suppression and missing-value codes (Kerncijfers wijken en buurten, PC4 and grid releases):

- ``-99999999``, ``-99997``, ``-99995`` and ``x``: suppressed (geheim, or too few units to publish);
- ``.``, empty, ``NA``: missing (not available).
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from leefbaar.errors import InputError

SUPPRESSION_NUMBERS = (-99999999.0, -99997.0, -99995.0)
SUPPRESSED_TEXT = {"x", "X"}
MISSING_TEXT = {"", ".", "NA", "N/A", "nan", "NaN"}
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+\s*$")
DEFAULT_MAX_FILE_MB = 512
ENV_MAX_FILE_MB = "LEEFBAAR_MAX_FILE_MB"


def max_file_bytes() -> int:
    """The size bound per input file in bytes: ``$LEEFBAAR_MAX_FILE_MB`` megabytes, default 512."""
    text = os.environ.get(ENV_MAX_FILE_MB, "").strip()
    try:
        mb = float(text) if text else DEFAULT_MAX_FILE_MB
    except ValueError:
        mb = float("nan")
    if not mb > 0:
        raise InputError(ENV_MAX_FILE_MB, f"{text!r} is not a positive number of megabytes")
    return int(mb * 1_000_000)


def check_size(path: Path, size: int) -> None:
    """Refuse a file of ``size`` bytes above the bound, naming the file and the setting."""
    limit = max_file_bytes()
    if size > limit:
        raise InputError(path, f"is {size / 1e6:,.0f} MB, above the bound of {limit / 1e6:,.0f} MB per file; "
                         f"raise {ENV_MAX_FILE_MB} if the file is genuine")


@dataclass(frozen=True)
class RawTable:
    """A file read as text: ``frame`` has string columns, ``row`` gives each record's 1-based line number."""

    path: Path
    frame: pd.DataFrame
    row: np.ndarray


def _check_encoding(path: Path, data: bytes, sep: str, encoding: str) -> None:
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        line_no = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        field_no = data.count(sep.encode(), line_start, exc.start)
        header = data.split(b"\n", 1)[0].decode(encoding, errors="replace").rstrip("\r").split(sep)
        column = header[field_no].strip('"') if field_no < len(header) else f"#{field_no + 1}"
        raise InputError(
            path, f"not valid {encoding} text (byte 0x{data[exc.start]:02x}); re-save the file as UTF-8",
            row=line_no, column=column,
        ) from None


def read_text_table(path: str | Path, sep: str = ",", encoding: str = "utf-8", pad_short_rows: bool = False
                    ) -> RawTable:
    """Read a delimited file (optionally ``.gz``) as text.

    A wrong encoding, an empty file, and a row with more or fewer fields than the header (a truncated or
    malformed file) are errors. With ``pad_short_rows`` a row with fewer fields is taken to omit trailing
    empty fields, as some official exports do (LBM 2.0 PC4 classes); more fields are still an error.
    """
    path = Path(path)
    try:
        check_size(path, path.stat().st_size)
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror or exc}") from None
    if path.suffix == ".gz":
        limit = max_file_bytes()
        try:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                data = gz.read(limit + 1)
        except (OSError, EOFError) as exc:
            raise InputError(path, f"is not a complete gzip file: {exc}") from None
        check_size(path, len(data))
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.strip():
        raise InputError(path, "is empty")
    _check_encoding(path, data, sep, encoding)
    problems: list[tuple[int | None, int, int]] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        number = row.number
        if number is None:  # Arrow does not always count lines: find the row's text in the file
            at = data.find(row.text.encode(encoding)) if row.text else -1
            number = data.count(b"\n", 0, at) + 1 if at >= 0 else None
        problems.append((number, row.expected_columns, row.actual_columns))
        return "skip"

    first = data.split(b"\n", 1)[0].decode(encoding).rstrip("\r")
    header = next(csv.reader([first], delimiter=sep))
    if pad_short_rows:
        lines = data.decode(encoding).splitlines()
        width = len(header) - 1
        data = "\n".join(line + sep * max(0, width - line.count(sep)) if line.strip() else line
                         for line in lines).encode()
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(block_size=1 << 26),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False,
                quoted_strings_can_be_null=False, auto_dict_encode=False, include_missing_columns=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(path, f"cannot be parsed as delimited text: {exc}") from None
    if problems:
        number, expected, actual = problems[0]
        more = f" (and {len(problems) - 1} more such rows)" if len(problems) > 1 else ""
        raise InputError(
            path, f"has {actual} fields where the header has {expected}: truncated or malformed row{more}",
            row=number,
        )
    names = [str(n).strip() for n in table.column_names]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(path, "appears twice in the header", row=1, column=dup)
    # text columns stay in Arrow memory (pandas ``str`` dtype): no Python object per cell
    table = pa.table([table.column(i).cast(pa.string()) for i in range(table.num_columns)], names=names)
    frame = table.to_pandas()
    if frame.empty:
        raise InputError(path, "has a header but no data rows", row=2)
    return RawTable(path, frame, _record_lines(data, sep, encoding, len(frame)))


def _record_lines(data: bytes, sep: str, encoding: str, n: int) -> np.ndarray:
    """The 1-based physical line on which each of the ``n`` data records starts (the header is line 1).

    Without blank lines or line breaks inside cells this is 2, 3, ...; otherwise the file is scanned once
    with a CSV parser that counts lines as Arrow does (blank lines skipped, quoted line breaks kept).
    """
    physical = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    if physical == n + 1 and b"\r" not in data.replace(b"\r\n", b""):
        return np.arange(2, n + 2)
    reader = csv.reader(io.StringIO(data.decode(encoding), newline=""), delimiter=sep)
    starts, prev = [], 0
    for record in reader:
        if record:
            starts.append(prev + 1)
        prev = reader.line_num
    starts = np.asarray(starts[1:], dtype=np.int64)
    if len(starts) != n:  # the two parsers disagree on where records are: number them as before
        return np.arange(2, n + 2)
    return starts


def check_columns(raw: RawTable, known: set[str] | list[str], required: set[str] | list[str] | None = None) -> None:
    """Reject unknown columns (not in ``known``) and missing ``required`` columns, naming the first one."""
    known = set(known)
    unknown = [c for c in raw.frame.columns if c not in known]
    if unknown:
        raise InputError(
            raw.path, f"unknown or renamed column ({len(unknown)} in all); the catalogue does not map it",
            row=1, column=unknown[0],
        )
    missing = [c for c in (required if required is not None else known) if c not in raw.frame.columns]
    if missing:
        raise InputError(raw.path, f"required column is missing ({len(missing)} in all)", row=1, column=missing[0])


def check_unique(raw: RawTable, codes: pd.Series, column: str) -> None:
    """Reject duplicate area codes, naming both rows."""
    dup = codes.duplicated(keep=False).to_numpy()
    if dup.any():
        idx = np.flatnonzero(dup)
        first = codes.iloc[idx[0]]
        rows = raw.row[idx][codes.iloc[idx].to_numpy() == first]
        raise InputError(
            raw.path, f"duplicate area code {first!r} (rows {', '.join(map(str, rows[:5]))})",
            row=int(rows[1]), column=column,
        )


_NAME_YEAR = re.compile(r"(?<!\d)(?:19|20)\d{2}(?!\d)")


def years_in_name(path: Path) -> tuple[int, int] | None:
    """The span of years a file name states (``..._2002_2022.csv`` -> (2002, 2022), ``lbm2024_...`` -> (2024,
    2024)); None if it names no year."""
    years = [int(y) for y in _NAME_YEAR.findall(Path(path).name)]
    return (min(years), max(years)) if years else None


def year_column(raw: RawTable, column: str) -> pd.Series:
    """Whole four-digit years from ``column``, each within the span the file name states (if any).

    A fractional year (``2022.5``), text or a year outside the file name's span is an error naming the row.
    """
    text = raw.frame[column].str.strip()
    bad = ~text.str.fullmatch(r"\d{4}").to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(raw.path, f"{text.iloc[i]!r} is not a whole four-digit year", row=int(raw.row[i]),
                         column=column)
    years = text.astype(int)
    span = years_in_name(raw.path)
    if span is not None:
        out = ((years < span[0]) | (years > span[1])).to_numpy()
        if out.any():
            i = int(np.flatnonzero(out)[0])
            named = f"{span[0]}" if span[0] == span[1] else f"{span[0]}-{span[1]}"
            raise InputError(raw.path, f"year {years.iloc[i]} lies outside the year{'s' * (span[0] < span[1])} "
                             f"{named} in the file name", row=int(raw.row[i]), column=column)
    return years


_NUMBER = r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$"


STATUS_NAMES = np.array(["ok", "suppressed", "missing"], dtype=object)  # by the codes of ``parse_status``


def parse_values(raw: RawTable, text: pd.DataFrame, decimal: str = ".") -> tuple[np.ndarray, np.ndarray]:
    """Parse the text cells of ``text`` (rows as in ``raw.frame``) into numbers and a status per cell.

    Returns ``(values, status)`` as 2-D arrays of shape (rows, columns): float64 values, NaN where the status
    is ``suppressed`` or ``missing`` (never a number), and status ``ok``, ``suppressed`` or ``missing``.
    Text that is not a number, a decimal comma where a point is expected, and a number too large for a
    float (``1e309``, read as infinity) raise an ``InputError`` naming the first offending row and column.
    """
    values, code = parse_status(raw, text, decimal)
    return values, STATUS_NAMES[code]


def parse_status(raw: RawTable, text: pd.DataFrame, decimal: str = ".") -> tuple[np.ndarray, np.ndarray]:
    """``parse_values`` with the status as a code per cell (int8: 0 ok, 1 suppressed, 2 missing; names in
    ``STATUS_NAMES``).

    Vectorised with Arrow compute kernels over the distinct texts only (a file repeats few thousand texts
    over hundreds of thousands of cells); each cell then takes the result of its text.
    """
    n, k = text.shape
    if k == 0:
        return np.empty((n, 0)), np.empty((n, 0), dtype=np.int8)
    columns = [pa.array(col, from_pandas=True) for _, col in text.items()]  # pandas str columns: no copy
    cells = pa.chunked_array([c if c.type == pa.large_string() else c.cast(pa.large_string()) for c in columns],
                             type=pa.large_string())
    encoded = pc.dictionary_encode(cells, null_encoding="encode").combine_chunks()
    index = encoded.indices.to_numpy(zero_copy_only=False)
    distinct = pc.utf8_trim_whitespace(encoded.dictionary.cast(pa.string()))
    if decimal == ",":
        distinct = pc.replace_substring(pc.replace_substring(distinct, ".", ""), ",", ".")
    missing = pc.fill_null(pc.is_in(distinct, pa.array(sorted(MISSING_TEXT))), True)
    numeric = pc.fill_null(pc.match_substring_regex(distinct, _NUMBER), False)
    values = pc.cast(pc.if_else(numeric, distinct, pa.scalar(None, pa.string())), pa.float64())
    values = values.to_numpy(zero_copy_only=False).copy()
    suppressed = (pc.fill_null(pc.is_in(distinct, pa.array(sorted(SUPPRESSED_TEXT))), False)
                  .to_numpy(zero_copy_only=False) | np.isin(values, SUPPRESSION_NUMBERS))
    missing = missing.to_numpy(zero_copy_only=False)
    bad = (~numeric.to_numpy(zero_copy_only=False) & ~missing & ~suppressed)[index]
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        col, i = text.columns[first // n], first % n
        value = str(text[col].iloc[i])
        why = ("decimal comma in a column that uses a decimal point" if _DECIMAL_COMMA.match(value)
               else f"text {value!r} where a number is expected")
        in_col = int(bad[(first // n) * n:(first // n + 1) * n].sum())
        raise InputError(raw.path, f"{why} ({in_col} such cells in this column)", row=int(raw.row[i]), column=col)
    infinite = np.isinf(values)[index]
    if infinite.any():
        first = int(np.flatnonzero(infinite)[0])
        col, i = text.columns[first // n], first % n
        raise InputError(raw.path, "number out of range (beyond ±1.8e308, read as infinity); only finite values "
                         "are accepted", row=int(raw.row[i]), column=col)
    values[missing | suppressed] = np.nan
    code = np.where(suppressed, 1, np.where(missing, 2, 0)).astype(np.int8)
    return values[index].reshape(k, n).T, code[index].reshape(k, n).T
