"""What a reader returns: one file's tidy content, ready for the store, with its provenance."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from leefbaar.errors import InputError
from leefbaar.sources.catalogue import ColumnMap, indicators, plausible_ranges
from leefbaar.sources.tabular import STATUS_NAMES, RawTable, check_unique, parse_status

AREA_COLUMNS = ["code", "level", "vintage", "name", "gemeente_code", "wijk_code", "provincie_code", "area_type"]
OBS_COLUMNS = ["code", "level", "vintage", "year", "indicator", "value", "status"]
STATUS = np.array([*STATUS_NAMES, "rounded"], dtype=object)  # status codes of observations_from_wide


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
    # store-ready Arrow forms of the observations and geometries, made once when the batch is complete
    # (``leefbaar.store.store.encode``, in the reading thread during a build); empty until then
    encoded: dict[str, object] = field(default_factory=dict, repr=False, compare=False)


def area_frame(codes, level: str, vintage: int, **cols) -> pd.DataFrame:
    """An ``areas`` frame: ``codes`` at ``level`` and ``vintage``, other columns from ``cols`` or NULL."""
    code = pd.Series(codes, dtype=object).to_numpy()
    out = {"code": code, "level": np.full(len(code), level, dtype=object),
           "vintage": np.full(len(code), vintage, dtype=np.int64)}
    for c in AREA_COLUMNS[3:]:
        v = cols.get(c)
        out[c] = (pd.Series(v, dtype=object).to_numpy() if v is not None and not np.isscalar(v)
                  else np.full(len(code), v, dtype=object))
    return pd.DataFrame(out, columns=AREA_COLUMNS)


def observations_from_wide(raw: RawTable, codes: pd.Series, level: str, vintage: int,
                           mapping: dict[str, ColumnMap], year: int | dict[str, int],
                           decimal: str = ".") -> pd.DataFrame:
    """Melt the mapped columns of ``raw`` into observations.

    ``year`` is one year for the whole file, or a year per source column (for files with one column per year).
    Text classes are translated with the column's value map; an unmapped text is an error naming the cell.
    ``codes`` must be unique (one row per area). Every value must lie in its indicator's plausible range
    (``min``/``max`` in ``catalogue/indicators.csv``).
    """
    columns = list(mapping)
    if not codes.is_unique:  # the store relies on unique keys per file (no dedupe on write)
        check_unique(raw, codes.reset_index(drop=True), str(codes.name or "code"))
    numeric = [c for c in columns if mapping[c].value_map is None]
    nvals, ncode = parse_status(raw, raw.frame[numeric], decimal=decimal)
    n, k = len(raw.frame), len(columns)
    values = np.empty((k, n))
    status = np.empty((k, n), dtype=np.int8)  # codes into STATUS, column by column
    pos = {c: j for j, c in enumerate(numeric)}
    for j, c in enumerate(columns):
        m = mapping[c]
        if m.value_map is None:
            values[j], status[j] = nvals[:, pos[c]], ncode[:, pos[c]]
            continue
        text = raw.frame[c].str.strip()
        empty = text.isin(["", "NA"]).to_numpy()
        known = text.isin(list(m.value_map)).to_numpy() | empty
        if not known.all():
            i = int(np.flatnonzero(~known)[0])
            raise InputError(raw.path, f"text class {text.iloc[i]!r} is not in value map of the catalogue",
                             row=int(raw.row[i]), column=c)
        mapped = text.map(lambda t, vm=m.value_map: vm.get(t)).astype("float64").to_numpy()
        values[j] = mapped
        status[j] = np.where(np.isnan(mapped), np.where(empty, 2, 1), 0)
    check_plausible(raw, columns, [mapping[c].indicator for c in columns], values.T)
    rounded = np.array([mapping[c].rounded for c in columns], dtype=bool)
    status[rounded] = np.where(status[rounded] == 0, 3, status[rounded])
    years = np.array([year[c] if isinstance(year, dict) else year for c in columns])
    indicator_ids = [mapping[c].indicator for c in columns]
    key = list(zip(indicator_ids, years.tolist(), strict=True))
    if len(set(key)) != len(key):
        dup = next(x for x in key if key.count(x) > 1)
        raise InputError(raw.path, f"two columns map to indicator {dup[0]!r} for {dup[1]}; "
                         "check catalogue/columns.csv")
    # categoricals: the same few strings repeat n * k times (cheap to build, cast once on the way to the store);
    # the codes are unique (checked above), so each is its own category
    code_values = pd.Index(codes.to_numpy(dtype=object), dtype=object)
    status = status.reshape(-1)
    used = np.flatnonzero(np.bincount(status, minlength=len(STATUS)))
    recode = np.zeros(len(STATUS), dtype=np.int8)
    recode[used] = np.arange(len(used))
    return pd.DataFrame({
        "code": pd.Categorical.from_codes(np.tile(np.arange(n), k), categories=code_values),
        "level": pd.Categorical.from_codes(np.zeros(n * k, dtype=np.int8), categories=[level]),
        "vintage": vintage,
        "year": np.repeat(years, n),
        "indicator": pd.Categorical.from_codes(np.repeat(np.arange(k), n), categories=indicator_ids)
        if len(set(indicator_ids)) == k else pd.Categorical(np.repeat(np.array(indicator_ids, dtype=object), n)),
        "value": values.reshape(-1),
        "status": pd.Categorical.from_codes(recode[status], categories=pd.Index(STATUS[used], dtype=object)),
    })


def check_plausible(raw: RawTable, columns: list[str], indicator_ids: list[str], values: np.ndarray) -> None:
    """Reject a value outside its indicator's plausible range, naming the first such row and column.

    ``values`` has one column per source column (NaN where suppressed or missing, which is never checked).
    """
    ranges = plausible_ranges()
    lo = np.array([ranges[i][0] for i in indicator_ids], dtype=float)
    hi = np.array([ranges[i][1] for i in indicator_ids], dtype=float)
    with np.errstate(invalid="ignore"):
        bad = (values < lo) | (values > hi)
    if not bad.any():
        return
    cols = np.flatnonzero(bad.any(axis=0))
    j = int(cols[0])
    i = int(np.flatnonzero(bad[:, j])[0])
    ind = indicator_ids[j]
    unit = indicators().at[ind, "unit"]
    span = (f"{lo[j]:g} to {hi[j]:g}" if np.isfinite(lo[j]) and np.isfinite(hi[j])
            else f"at least {lo[j]:g}" if np.isfinite(lo[j]) else f"at most {hi[j]:g}")
    raise InputError(raw.path, f"value {values[i, j]:g} is implausible for indicator {ind!r} ({unit}): the "
                     f"catalogue allows {span} ({int(bad[:, j].sum())} such cells in this column)",
                     row=int(raw.row[i]), column=columns[j])
