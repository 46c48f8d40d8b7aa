"""What a reader returns: one file's tidy content, ready for the store, with its provenance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from leefbaar.errors import InputError
from leefbaar.sources.catalogue import ColumnMap
from leefbaar.sources.tabular import RawTable, parse_values

AREA_COLUMNS = ["code", "level", "vintage", "name", "gemeente_code", "wijk_code", "provincie_code", "area_type"]
OBS_COLUMNS = ["code", "level", "vintage", "year", "indicator", "value", "status"]
LEVELS = ("provincie", "gemeente", "wijk", "buurt", "pc4", "grid100", "grid500", "wijkprofiel")


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass
class Batch:
    """The content of one source file.

    ``areas`` has ``AREA_COLUMNS``; ``observations`` has ``OBS_COLUMNS`` (value float64, NaN unless status is
    ``ok`` or ``rounded``); ``geometries`` holds code, level, vintage and geometry in RD New (EPSG:28992);
    ``tables`` holds further tables by store table name (for example ``area_groups``).
    """

    family: str
    path: Path
    publisher: str
    licence: str
    rows: int
    areas: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=AREA_COLUMNS))
    observations: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=OBS_COLUMNS))
    geometries: gpd.GeoDataFrame | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def area_frame(codes, level: str, vintage: int, **cols) -> pd.DataFrame:
    """An ``areas`` frame: ``codes`` at ``level`` and ``vintage``, other columns from ``cols`` or NULL."""
    frame = pd.DataFrame({"code": pd.Series(codes, dtype=object).to_numpy()})
    frame["level"], frame["vintage"] = level, vintage
    for c in AREA_COLUMNS[3:]:
        v = cols.get(c)
        frame[c] = (pd.Series(v, dtype=object).to_numpy() if v is not None and not np.isscalar(v)
                    else v)
    return frame[AREA_COLUMNS]


def observations_from_wide(raw: RawTable, codes: pd.Series, level: str, vintage: int,
                           mapping: dict[str, ColumnMap], year: int | dict[str, int],
                           decimal: str = ".") -> pd.DataFrame:
    """Melt the mapped columns of ``raw`` into observations.

    ``year`` is one year for the whole file, or a year per source column (for files with one column per year).
    Text classes are translated with the column's value map; an unmapped text is an error naming the cell.
    """
    numeric = [c for c, m in mapping.items() if m.value_map is None]
    values, status = parse_values(raw, raw.frame[numeric], decimal=decimal)
    for c, m in mapping.items():
        if m.value_map is None:
            continue
        text = raw.frame[c].str.strip()
        known = text.isin(list(m.value_map)) | text.isin(["", "NA"])
        if not known.all():
            i = int(np.flatnonzero(~known.to_numpy())[0])
            raise InputError(raw.path, f"text class {text.iloc[i]!r} is not in value map of the catalogue",
                             row=int(raw.row[i]), column=c)
        mapped = text.map(lambda t, vm=m.value_map: vm.get(t)).astype("float64")
        values[c] = mapped.to_numpy()
        status[c] = np.where(mapped.isna(), np.where(text.isin(["", "NA"]), "missing", "suppressed"), "ok")
    n = len(raw.frame)
    parts = []
    for c in mapping:
        st = status[c].to_numpy()
        if mapping[c].rounded:
            st = np.where(st == "ok", "rounded", st)
        parts.append(pd.DataFrame({
            "code": codes.to_numpy(), "level": level, "vintage": vintage,
            "year": year[c] if isinstance(year, dict) else year,
            "indicator": mapping[c].indicator, "value": values[c].to_numpy(), "status": st,
        }))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=OBS_COLUMNS)
    dup = out.duplicated(["code", "year", "indicator"])
    if dup.any():
        first = out[dup].iloc[0]
        raise InputError(raw.path, f"two columns map to indicator {first.indicator!r} for {first.year}; "
                         "check catalogue/columns.csv")
    assert len(out) == n * len(mapping)
    return out
