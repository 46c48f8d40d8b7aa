"""The boundaries of a level as WKB in RD New (EPSG:28992), ready for a GeoPackage download.

The store keeps each boundary as WKB in RD New (``geometries.geom_rd``); a download writes those bytes to GDAL
as they are, without making shapely objects per request. One geometry type per layer, as GeoPackage readers
expect: a level that mixes polygons and multipolygons has its polygons promoted to multipolygons (as
geopandas/pyogrio did when the download was a GeoDataFrame).
"""

from __future__ import annotations

import struct

import pyarrow as pa
import shapely

from leefbaar.errors import StoreError

WKB_TYPES = {1: "Point", 2: "LineString", 3: "Polygon", 4: "MultiPoint", 5: "MultiLineString", 6: "MultiPolygon"}


def _wkb_type(wkb: bytes) -> int:
    return struct.unpack("<I" if wkb[0] == 1 else ">I", wkb[1:5])[0] % 1000


def wkb_table(sql, level: str, vintage: int | None = None) -> pa.Table:
    """``code`` and ``geometry`` (WKB, EPSG:28992) of every area of ``level`` in ``vintage`` (default: the latest),
    sorted by code; the schema metadata ``geometry_type`` names the one geometry type (``Unknown`` when the level
    mixes kinds that cannot be promoted). ``sql``: a facts-layer query function (``Facts.sql``)."""
    if vintage is None:
        row = sql("SELECT max(vintage) AS v FROM geometries WHERE level = ?", [level])
        if row.empty or row["v"].isna().all():
            raise StoreError(f"the store holds no geometries at level {level!r}")
        vintage = int(row["v"].iloc[0])
    frame = sql("SELECT code, geom_rd FROM geometries WHERE level = ? AND vintage = ? ORDER BY code",
                [level, vintage])
    wkb = [bytes(b) for b in frame["geom_rd"]]
    kinds = {_wkb_type(b) for b in wkb}
    if kinds == {3, 6}:  # promote polygons to multipolygons (one type per layer)
        geoms = shapely.from_wkb(wkb)
        single = shapely.get_type_id(geoms) == 3
        geoms[single] = shapely.multipolygons(geoms[single].reshape(-1, 1))
        wkb = list(shapely.to_wkb(geoms))
        kinds = {6}
    gtype = WKB_TYPES.get(next(iter(kinds)), "Unknown") if len(kinds) == 1 else "Unknown"
    table = pa.table({"code": pa.array(frame["code"].astype(str).tolist(), pa.string()),
                      "geometry": pa.array(wkb, pa.binary())})
    return table.replace_schema_metadata({"geometry_type": gtype})
