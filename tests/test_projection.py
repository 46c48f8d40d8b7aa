"""sources.projection.to_crs gives exactly the coordinates of GeoDataFrame.to_crs (real boundaries, both ways)."""

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import shapely

from leefbaar.sources.projection import to_crs

DATA = Path(os.environ.get("LEEFBAAR_DATA", "/work/shared/data"))


@pytest.fixture(scope="module")
def buurten():
    path = DATA / "geo" / "rijnmond_buurt_2024_simplified_wgs84.geojson"
    if not path.exists():
        pytest.skip("real data not available")
    return pyogrio.read_dataframe(path, columns=[], use_arrow=True)


def _same(a, b):
    return np.array_equal(shapely.to_wkb(a), shapely.to_wkb(b))


def test_same_numbers_as_geopandas_both_ways(buurten):
    rd = to_crs(buurten.geometry.to_numpy(), buurten.crs, 28992)
    assert _same(rd, buurten.to_crs(28992).geometry.to_numpy())
    # shared boundary vertices: fewer distinct coordinates than coordinates, each projected once
    xy = shapely.get_coordinates(rd)
    assert len(np.unique(xy, axis=0)) < 0.8 * len(xy)
    back = to_crs(rd, 28992, 4326)
    assert _same(back, gpd.GeoSeries(rd, crs=28992).to_crs(4326).to_numpy())


def test_same_crs_empty_and_z():
    square = shapely.box(100_000, 400_000, 100_100, 400_100)
    geoms = np.array([square, None], dtype=object)
    assert to_crs(geoms, 28992, "EPSG:28992") is geoms
    out = to_crs(geoms, 28992, 4326)
    assert out[1] is None and _same(out[:1], gpd.GeoSeries([square], crs=28992).to_crs(4326).to_numpy())
    assert len(to_crs(np.array([None], dtype=object), 28992, 4326)) == 1
    z = np.array([shapely.Point(100_000, 400_000, 5)], dtype=object)
    assert _same(to_crs(z, 28992, 4326), gpd.GeoSeries(z, crs=28992).to_crs(4326).to_numpy())
