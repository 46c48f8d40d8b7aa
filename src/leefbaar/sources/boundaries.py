"""Readers for boundaries (GeoJSON, TopoJSON, GeoPackage; RD New or WGS84) and CBS grid statistics.

Geometries are returned in RD New (EPSG:28992). A file without a declared CRS is taken to be in the CRS its
family declares (the PC4 TopoJSON is RD; GeoJSON without a ``crs`` member is WGS84 by the GeoJSON standard),
and the coordinates are checked against that CRS's extent of the Netherlands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from leefbaar.errors import InputError
from leefbaar.sources.batch import Batch, area_frame, observations_from_wide
from leefbaar.sources.catalogue import columns_for
from leefbaar.sources.cbs import CBS, PROVINCIE_CODES
from leefbaar.sources.projection import to_crs
from leefbaar.sources.tabular import RawTable, check_columns, check_unique, read_text_table

RD = 28992
# Plausible extents of the Netherlands (with margin) per CRS, used to catch a mislabelled CRS.
EXTENT = {RD: (-10_000, 290_000, 280_000, 650_000), 4326: (2.9, 50.6, 7.3, 53.7)}
_CELL = re.compile(r"^E(\d{4,5})N(\d{4,5})$")


@dataclass(frozen=True)
class BoundarySpec:
    """What one boundary file or layer holds: level, vintage, its code and name fields and default CRS."""

    level: str
    vintage: int
    code: str
    name: str | None = None
    layer: str | None = None
    crs: int = 4326
    gemeente_name: str | None = None
    attributes_family: str | None = None
    publisher: tuple[str, str] = ("CBS / Kadaster via PDOK", "CC BY 4.0")


def _code_of(level: str, value: pd.Series) -> pd.Series:
    value = value.astype(str).str.strip()
    if level == "provincie":
        value = value.where(value.str.startswith("PV"), "PV" + value)
    return value


def read_boundary_layer(path: Path, spec: BoundarySpec) -> Batch:
    """One boundary layer: areas (code, name) and geometries in RD; attributes as observations where mapped."""
    mapping = columns_for(spec.attributes_family, spec.vintage) if spec.attributes_family else {}
    wanted = [spec.code, *([spec.name] if spec.name else []), "province", *mapping]  # absent ones are skipped
    try:
        frame = pyogrio.read_dataframe(path, layer=spec.layer, columns=list(dict.fromkeys(wanted)), use_arrow=True)
    except Exception as exc:  # pyogrio raises several GDAL error types
        raise InputError(path, f"cannot be read as a vector layer{' ' + spec.layer if spec.layer else ''}: {exc}"
                         ) from None
    if spec.code not in frame.columns:
        raise InputError(path, "code field is missing", row=1, column=spec.code)
    if frame.crs is None:
        frame = frame.set_crs(spec.crs)
    epsg = frame.crs.to_epsg()
    if epsg in EXTENT and len(frame):
        x0, y0, x1, y1 = frame.total_bounds
        ex = EXTENT[epsg]
        if x0 < ex[0] or y0 < ex[1] or x1 > ex[2] or y1 > ex[3]:
            raise InputError(path, f"coordinates {frame.total_bounds.round(1).tolist()} lie outside the "
                             f"Netherlands for EPSG:{epsg}; is the CRS mislabelled?")
    geom = to_crs(frame.geometry.to_numpy(), frame.crs, RD)
    codes = _code_of(spec.level, frame[spec.code])
    rows = np.arange(2, len(frame) + 2)
    check_unique(RawTable(path, frame[[spec.code]], rows), codes.reset_index(drop=True), spec.code)
    geom = repair(path, geom, codes.to_numpy(), rows)
    names = frame[spec.name].astype(str) if spec.name else None
    extra = {}
    if spec.level in ("gemeente", "wijk") and "province" in frame:
        extra["provincie_code"] = frame["province"].map(PROVINCIE_CODES)
    if spec.level == "wijk":
        extra["gemeente_code"] = "GM" + codes.str[2:6]
    elif spec.level == "gemeente":
        extra["gemeente_code"] = codes
    elif spec.level == "buurt":
        extra["gemeente_code"] = "GM" + codes.str[2:6]
        extra["wijk_code"] = "WK" + codes.str[2:8]
    areas = area_frame(codes, spec.level, spec.vintage, name=names, **extra)
    geoms = gpd.GeoDataFrame({"code": codes.to_numpy(), "level": spec.level, "vintage": spec.vintage},
                             geometry=geom, crs=RD)
    obs = None
    if spec.attributes_family:
        attr = RawTable(path, frame[list(mapping)].astype(str).replace({"nan": "", "None": ""})
                        .reset_index(drop=True), rows)
        obs = observations_from_wide(attr, codes.reset_index(drop=True), spec.level, spec.vintage, mapping,
                                     spec.vintage)
    batch = Batch(f"boundaries_{spec.level}_{spec.vintage}", path, *spec.publisher, len(frame), areas=areas,
                  geometries=geoms)
    if obs is not None:
        batch.observations = obs
    return batch


def repair(path: Path, geom: np.ndarray, codes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Valid polygonal geometries: invalid ones repaired with ``make_valid`` (structure method), then checked.

    A feature without a geometry, or whose repaired geometry is empty or has no area (a ring collapsed to a
    point or a line), is an error naming the file, the feature's code and its row (numbered as in the attribute
    table, whose header is row 1).
    """
    geom = np.asarray(geom, dtype=object).copy()
    missing = shapely.is_missing(geom)
    invalid = ~missing & ~shapely.is_valid(geom)
    geom[invalid] = shapely.make_valid(geom[invalid], method="structure", keep_collapsed=False)
    polygonal = np.isin(shapely.get_type_id(geom), [3, 6])  # Polygon, MultiPolygon
    collection = shapely.get_type_id(geom) == 7
    if collection.any():  # keep the polygonal parts a repair may wrap in a collection
        parts = shapely.get_parts(geom[collection], return_index=True)
        keep = np.isin(shapely.get_type_id(parts[0]), [3, 6])
        merged = np.array([shapely.union_all(parts[0][keep & (parts[1] == k)]) for k in range(collection.sum())],
                          dtype=object)
        geom[collection] = merged
        polygonal = np.isin(shapely.get_type_id(geom), [3, 6])
    bad = missing | ~polygonal | shapely.is_empty(geom) | ~(shapely.area(geom) > 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        what = ("has no geometry" if missing[i] else
                "has a geometry without area (a collapsed ring, a point or a line), also after repair")
        more = f" ({int(bad.sum()) - 1} more such features)" if bad.sum() > 1 else ""
        raise InputError(path, f"feature {codes[i]!r} {what}{more}", row=int(rows[i]), column="geometry")
    return geom


def cell_squares(ids: pd.Series, size: int, column: str, raw: RawTable) -> np.ndarray:
    """Square polygons (RD) for CBS grid-cell ids like ``E0974N4514`` (lower-left corner in hectometres)."""
    parts = ids.str.extract(_CELL)
    bad = parts[0].isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(raw.path, f"{ids.iloc[i]!r} is not a CBS grid cell id (E<x>N<y>)", row=int(raw.row[i]),
                         column=column)
    x = parts[0].astype(int).to_numpy() * 100
    y = parts[1].astype(int).to_numpy() * 100
    return shapely.box(x, y, x + size, y + size)


def read_grid_csv(path: Path) -> Batch:
    """CBS vierkantstatistieken (100 m or 500 m) as CSV with GeoPackage column names; squares are built."""
    m = re.search(r"vk(100|500)_(\d{4})", path.name)
    if m is None:
        raise InputError(path, "file name does not state a 100 m or 500 m grid and a year (cbs_vk100_<year>_*.csv "
                         "or cbs_vk500_<year>_*.csv)")
    size, year = int(m.group(1)), int(m.group(2))
    family, level, id_col = f"grid{size}_{year}", f"grid{size}", f"crs28992res{size}m"
    raw = read_text_table(path)
    mapping = columns_for(family, year)
    check_columns(raw, set(mapping) | {id_col}, {id_col, "aantal_inwoners"})
    mapping = {c: v for c, v in mapping.items() if c in raw.frame.columns}
    ids = raw.frame[id_col].str.strip()
    check_unique(raw, ids, id_col)
    geoms = gpd.GeoDataFrame({"code": ids.to_numpy(), "level": level, "vintage": year},
                             geometry=cell_squares(ids, size, id_col, raw), crs=RD)
    obs = observations_from_wide(raw, ids, level, year, mapping, year)
    return Batch(family, path, *CBS, len(raw.frame), areas=area_frame(ids, level, year), observations=obs,
                 geometries=geoms)


def read_grid_gpkg(path: Path, year: int = 2020) -> Batch:
    """CBS vierkantstatistieken 100 m as served by PDOK (``c28992r100`` ids); statistics year 2020 assumed."""
    try:
        frame = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio raises several GDAL error types
        raise InputError(path, f"cannot be read as a GeoPackage: {exc}") from None
    if frame.crs is None or frame.crs.to_epsg() != RD:
        raise InputError(path, "grid GeoPackage must be in RD New (EPSG:28992)")
    rows = np.arange(2, len(frame) + 2)
    raw = RawTable(path, frame.drop(columns="geometry").astype(str).replace({"nan": ""}), rows)
    mapping = columns_for("grid100_pdok", year)
    check_columns(raw, set(mapping) | {"c28992r100"}, {"c28992r100"})
    mapping = {c: v for c, v in mapping.items() if c in raw.frame.columns}
    ids = raw.frame["c28992r100"].str.strip()
    check_unique(raw, ids, "c28992r100")
    geoms = gpd.GeoDataFrame({"code": ids.to_numpy(), "level": "grid100", "vintage": year},
                             geometry=repair(path, frame.geometry.to_numpy(), ids.to_numpy(), rows), crs=RD)
    obs = observations_from_wide(raw, ids, "grid100", year, mapping, year)
    return Batch("grid100_pdok", path, *CBS, len(frame), areas=area_frame(ids, "grid100", year), observations=obs,
                 geometries=geoms)
