"""Projection of polygon arrays between coordinate reference systems.

The numbers are those of ``GeoDataFrame.to_crs`` (the same pyproj transformer, ``always_xy``), but each distinct
coordinate is projected once: neighbouring areas share their boundary vertices, so about half the coordinates
of a boundary set (three quarters of a grid's) are repeats, and projecting a point is the costly part.
"""

from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer


@lru_cache
def _transformer(source: object, target: object) -> Transformer | None:
    """The transformer GeoDataFrame.to_crs uses (pyproj's are thread-safe), or None for the same CRS."""
    source, target = CRS.from_user_input(source), CRS.from_user_input(target)
    return None if source.is_exact_same(target) else Transformer.from_crs(source, target, always_xy=True)


def to_crs(geoms: np.ndarray, source: object, target: object) -> np.ndarray:
    """``geoms`` (shapely, in ``source``) projected to ``target`` (anything ``pyproj.CRS`` accepts)."""
    source, target = (c.srs if isinstance(c, CRS) else c for c in (source, target))  # a cheap cache key
    transformer = _transformer(source, target)
    if transformer is None:
        return geoms
    geoms = np.asarray(geoms, dtype=object)
    if shapely.has_z(geoms).any():
        return gpd.GeoSeries(geoms, crs=source).to_crs(target).to_numpy()
    xy = shapely.get_coordinates(geoms)
    if not len(xy):
        return geoms.copy()
    # distinct coordinates by their exact bits (x and y numbered apart, then the pairs)
    bits = xy.view(np.int64)
    x, _ = pd.factorize(bits[:, 0])
    y, ys = pd.factorize(bits[:, 1])
    pair, pairs = pd.factorize(x.astype(np.int64) * len(ys) + y)
    first = np.empty(len(pairs), dtype=np.int64)
    first[pair[::-1]] = np.arange(len(pair) - 1, -1, -1)
    px, py = transformer.transform(xy[first, 0], xy[first, 1])
    return shapely.set_coordinates(geoms.copy(), np.column_stack([px, py])[pair])
