"""Map context from the boundaries the store holds: open water, gemeente label points, area names.

Water: the PC4 boundaries of CBS cover land and water (their union is the whole country with its inland and
coastal waters, 41,543 km2), the gemeente boundaries land only (35,088 km2); their difference is the water
(IJsselmeer, Markermeer, Waddenzee, the Zeeland estuaries, the rivers' wide parts, the coastal strip). Slivers
where the two generalised datasets disagree are removed by an opening of ``SLIVER_M`` metres and parts under
``MIN_WATER_KM2``. No file from outside the store is used.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import shapely

from leefbaar.facts.choropleth import GRID_CELL_M, grid_level

SLIVER_M = 200.0
MIN_WATER_KM2 = 1.0
SIMPLIFY_M = 100.0
DECIMALS = 5  # degrees: about 1 m


def _union(gdf) -> shapely.Geometry:
    return shapely.union_all(shapely.buffer(shapely.make_valid(gdf.geometry.to_numpy()), 0.5))


def water(store) -> shapely.Geometry | None:
    """Open water in RD New (EPSG:28992) derived as above; None when the store lacks PC4 or gemeente
    boundaries."""
    try:
        pc4, gm = store.geometries("pc4"), store.geometries("gemeente")
    except Exception:  # noqa: BLE001 - a store without either level has no water layer
        return None
    w = _union(pc4).difference(_union(gm))
    w = w.buffer(-SLIVER_M, quad_segs=2).buffer(SLIVER_M, quad_segs=2)
    parts = [p for p in shapely.get_parts(w) if p.area >= MIN_WATER_KM2 * 1e6]
    if not parts:
        return None
    return shapely.simplify(shapely.MultiPolygon(parts), SIMPLIFY_M, preserve_topology=True)


def _to_wgs84(geom: shapely.Geometry) -> shapely.Geometry:
    from pyproj import Transformer

    tr = Transformer.from_crs(28992, 4326, always_xy=True)
    return shapely.transform(geom, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))


def context_geojson(store, facts) -> dict:
    """GeoJSON FeatureCollection in WGS84: ``kind`` "water" (one multipolygon) and "gemeente_label" (a point
    inside each gemeente with ``code`` and ``name``)."""
    features = []
    w = water(store)
    if w is not None:
        features.append({"type": "Feature", "properties": {"kind": "water"},
                         "geometry": shapely.geometry.mapping(_to_wgs84(w))})
    try:
        gm = store.geometries("gemeente")
    except Exception:  # noqa: BLE001
        gm = None
    if gm is not None and len(gm):
        names = pd.Series({g["code"]: g["name"] for g in facts.gemeenten})
        pts = _to_wgs84(shapely.MultiPoint(shapely.point_on_surface(gm.geometry.to_numpy())))
        for code, p, area in zip(gm["code"], shapely.get_parts(pts), gm.geometry.area, strict=True):
            features.append({"type": "Feature",
                             "properties": {"kind": "gemeente_label", "code": code,
                                            "name": names.get(code) or code, "area_km2": round(area / 1e6, 1)},
                             "geometry": shapely.geometry.mapping(p)})
    doc = {"type": "FeatureCollection", "features": features}
    # round coordinates (about 1 m) for a small answer
    return json.loads(json.dumps(doc), parse_float=lambda s: round(float(s), DECIMALS))


def area_names(facts, level: str) -> dict:
    """Per area of ``level``: ``codes``, display ``labels`` (facts layer), ``gemeente_codes``, ``wijk_codes``."""
    if level not in facts.areas.index.get_level_values(0):
        return {"level": level, "codes": [], "labels": [], "gemeente_codes": [], "wijk_codes": []}
    t = facts.areas.loc[level]
    gm = facts.gemeente_of(level).reindex(t.index)
    text = lambda s: [v if isinstance(v, str) else None for v in s]  # noqa: E731
    return {"level": level, "codes": t.index.astype(str).tolist(), "labels": text(t["label"]),
            "gemeente_codes": text(gm), "wijk_codes": text(t["wijk_code"])}


def grid_levels(facts) -> list[dict]:
    """The grid levels a map can draw (CBS vierkantstatistieken with cells in the store), finest first, each as
    ``choropleth.grid_level`` describes it: cells with their own CBS indicators, no index score."""
    return [g for g in (grid_level(facts, lv) for lv in GRID_CELL_M) if g is not None]
