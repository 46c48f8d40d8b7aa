"""Overlay areas: the shortcuts (a polygon wholly inside the other) give the intersection area, each boundary set
is hashed and simplified once, and two identical overlays at once are computed once."""

import time
from concurrent.futures import ThreadPoolExecutor

import geopandas as gpd
import numpy as np
import pytest
import shapely

from leefbaar.geo import crosswalk
from leefbaar.geo.crosswalk import Boundaries, cached_intersection_areas, intersection_areas, overlay_weights


def _frame(codes, geoms):
    return gpd.GeoDataFrame({"code": codes}, geometry=list(geoms), crs=28992)


@pytest.fixture
def sets():
    # targets wholly inside a source (a, b), one crossing two sources (x), one holding a source wholly (w)
    src = _frame(["A", "B", "C"], [shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000),
                                   shapely.box(3000, 0, 3100, 100)])
    dst = _frame(["a", "b", "x", "w"], [shapely.box(100, 100, 300, 300), shapely.box(1200, 200, 1500, 600),
                                        shapely.box(900, 400, 1100, 500), shapely.box(2900, -100, 3200, 200)])
    return src, dst


def test_areas_equal_the_intersections(sets):
    src, dst = sets
    got = intersection_areas(src, dst).set_index(["from", "to"])["a"]
    s, d = src.geometry.to_numpy(), dst.geometry.to_numpy()
    for (f, t), a in got.items():
        i, j = src.index[src["code"] == f][0], dst.index[dst["code"] == t][0]
        assert a == pytest.approx(shapely.area(shapely.intersection(s[i], d[j])), rel=1e-12)
    assert got[("A", "a")] == pytest.approx(40_000) and got[("A", "x")] == pytest.approx(10_000)
    assert got[("B", "x")] == pytest.approx(10_000) and got[("C", "w")] == pytest.approx(10_000)
    assert ("A", "b") not in got and len(got) == 5


def test_boundaries_hash_and_simplify_once(sets, monkeypatch):
    src, dst = sets
    b = Boundaries(src)
    assert b.digest == Boundaries(src.copy()).digest
    assert b.digest != Boundaries(src.assign(code=["A", "B", "D"])).digest
    calls = []
    real = shapely.simplify
    monkeypatch.setattr(crosswalk.shapely, "simplify", lambda *a, **k: calls.append(1) or real(*a, **k))
    one, two = b.simplified(), b.simplified()
    assert len(calls) == 1 and one[0] is not two[0] and shapely.equals_exact(one, two, 0).all()
    coarse = intersection_areas(b, Boundaries(dst), tolerance=50.0)  # another tolerance: simplified anew
    assert len(calls) == 3 and coarse["a"].sum() > 0


def test_identical_overlays_at_once_are_computed_once(sets, monkeypatch, tmp_path):
    monkeypatch.setenv("LEEFBAAR_CACHE", str(tmp_path))
    src, dst = (Boundaries(f) for f in sets)
    calls = []
    real = crosswalk.intersection_areas

    def slow(*a, **k):
        calls.append(1)
        time.sleep(0.2)
        return real(*a, **k)

    monkeypatch.setattr(crosswalk, "intersection_areas", slow)
    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(lambda _: cached_intersection_areas(src, dst), range(2))
    assert len(calls) == 1 and a.equals(b) and a is not b
    w = overlay_weights(src, dst)  # from the cache now
    assert len(calls) == 1
    assert np.allclose(w.groupby("from_code")["weight"].sum(), 1.0)
