"""The grid levels of the dashboard's map (CBS vierkantstatistieken cells of Rijnmond): what the API offers for
them and the numbers it answers, against the real store. A cell has no index score: only its own indicators."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from leefbaar.facts import choropleth
from leefbaar.web import create_app


@pytest.fixture(scope="module")
def client(store_file):
    app = create_app(store_file, warm=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture(scope="module")
def meta(client):
    return client.get("/api/meta").json()


def test_meta_offers_the_grid_levels_with_their_own_indicators(meta):
    grids = {g["id"]: g for g in meta["grid_levels"]}
    assert list(grids) == ["grid100", "grid500"]
    g = grids["grid100"]
    assert g["cell_m"] == 100 and g["vintage"] == 2024 and g["years"] == [2024]
    assert g["label"] == {"nl": "Vierkanten van 100 m (CBS)", "en": "100 m grid cells (CBS)"}
    ids = {m["id"]: m for m in g["measures"]}
    assert g["default_measure"] == "inwoner"
    assert {"inwoner", "p_koopwon", "woning", "uitkminaow"} <= set(ids)  # counts per equal cell are offered
    assert not any(i.startswith("lbm") for i in ids)  # no Leefbaarometer series, no score at this level
    assert ids["inwoner"]["unit_label"] == {"nl": "aantal per vierkant van 100 m", "en": "count per 100 m cell"}
    assert ids["percentage_geb_nederland_herkomst_nederland"]["sensitive"] is True
    assert "CBS-vierkantstatistieken 2024" in g["source"]["nl"] and "vierkantstatistieken" in g["source"]["en"]
    assert "Geen Leefbaarometer-score" in g["no_score"]["nl"] and "No Leefbaarometer score" in g["no_score"]["en"]
    (w, s), (e, n) = g["bounds"]
    assert 3.9 < w < e < 4.8 and 51.7 < s < n < 52.1  # Rijnmond
    assert "grid100" not in {lv["id"] for lv in meta["levels"]}  # not a score level


def test_grid_map_equals_the_store_with_no_data_kept_apart(client, store):
    body = client.get("/api/grid/grid100?indicator=p_koopwon").json()
    cells = store.sql("SELECT code FROM geometries WHERE level = 'grid100' AND vintage = 2024")["code"]
    assert sorted(body["codes"]) == sorted(cells) and len(body["codes"]) == 16383  # not the 2020 Ermelo cells
    obs = store.sql("SELECT code, value FROM observations WHERE level = 'grid100' AND year = 2024 "
                    "AND indicator = 'p_koopwon'").set_index("code")["value"]
    got = dict(zip(body["codes"], body["values"], strict=True))
    have = obs.dropna()
    assert body["n_values"] == len(have) == sum(v is not None for v in got.values())
    assert all(got[c] == pytest.approx(v) for c, v in have.items())
    empty = [i for i, c in enumerate(body["codes"]) if c not in have.index]
    assert len(empty) > 1000 and all(body["values"][i] is None and body["bins"][i] == -1 for i in empty)
    assert body["measure"] == "indicator" and body["year"] == 2024 and body["kind"] is None
    lg = body["legend"]
    assert lg["unit"] == "%" and lg["no_data_label"]["nl"].startswith("geen gegevens")
    v = np.array([x for x in body["values"] if x is not None])
    b = np.array([x for x in body["bins"] if x >= 0])
    assert np.array_equal(b, choropleth.bins_of(v, lg["breaks"]))
    assert body["rounded"] is None  # percentages are not rounded counts


def test_grid_map_default_is_inhabitants_and_counts_are_rounded(client):
    body = client.get("/api/grid/grid100").json()
    assert body["indicator"] == "inwoner" and body["n_values"] == 16383
    assert "vijftallen" in body["rounded"]["nl"] and "five" in body["rounded"]["en"]
    assert sum(body["values"]) == pytest.approx(1_299_500, rel=0.01)  # SOURCES.md: 1,299,500 inhabitants
    assert client.get("/api/grid/grid500?indicator=inwoner").json()["n_values"] == 1641


def test_grid_errors(client):
    r = client.get("/api/grid/pc4?lang=en")
    assert r.status_code == 404 and "no grid level pc4" in r.json()["detail"] and "grid100" in r.json()["detail"]
    assert client.get("/api/grid/grid100?indicator=lbm").status_code == 404  # no score series on the cells
    assert client.get("/api/grid/grid100?year=2020").status_code == 404  # the cells drawn are of 2024
    assert client.get("/api/grid/grid100?indicator=nonsense").status_code == 422
    assert "rasterniveau" in client.get("/api/grid/buurt").json()["detail"]


def test_what_a_grid_may_show():
    assert choropleth.is_grid_measure("aantal", "bevolking")  # a count per equal cell is a density
    assert not choropleth.is_choropleth("aantal", "bevolking")  # unlike on unequal areas
    assert not choropleth.is_grid_measure("ha", "oppervlakte") and not choropleth.is_grid_measure("klasse 1-5", "x")
    assert not choropleth.is_grid_measure("score", "leefbaarometer")


def test_regional_tiles_are_prepared_at_every_zoom(store):
    from leefbaar.web.geometry import PREBUILT_MAX_ZOOM, TILE_MAX_ZOOM, VectorTiles

    cells = store.geometries("grid100", 2024, crs=4326).head(400)
    vt = VectorTiles(cells["code"].tolist(), cells.geometry.to_numpy())
    deeper = [(z, x, y) for z in range(PREBUILT_MAX_ZOOM + 1, TILE_MAX_ZOOM + 1) for x, y in vt.tile_range(z)]
    assert all(vt.cached(*k) is None for k in deeper)  # made on request only
    assert vt.prepare() == len(deeper) and 0 < len(deeper) <= 64
    assert all(vt.cached(*k) is not None and vt.cached(*k) == vt.tile(*k) for k in deeper)
    assert sum(len(vt.cached(*k)[0]) > 0 for k in deeper) >= len(range(PREBUILT_MAX_ZOOM + 1, TILE_MAX_ZOOM + 1))


def test_grid_image_draws_every_cell_in_its_class_colour(client, meta, store):
    """The map's first view of a grid level: the image's pixel at each cell's centre has exactly the colour of
    that cell's class in /api/grid (no data: the legend's grey), pixels without a cell are transparent."""
    import io
    import math

    from PIL import Image

    body = client.get("/api/grid/grid100?indicator=p_koopwon").json()
    r = client.get("/api/grid/grid100/image?indicator=p_koopwon")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert client.get("/api/grid/grid100/image?indicator=p_koopwon",
                      headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    img = np.asarray(Image.open(io.BytesIO(r.content)).convert("RGBA"))
    (w, s), (e, n) = next(g for g in meta["grid_levels"] if g["id"] == "grid100")["bounds"]
    merc_y = lambda lat: math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))  # noqa: E731
    cells = store.geometries("grid100", 2024, crs=4326)
    centre = cells.geometry.centroid
    col = ((centre.x - w) / (e - w) * img.shape[1]).astype(int)
    row = ((merc_y(n) - centre.y.map(merc_y)) / (merc_y(n) - merc_y(s)) * img.shape[0]).astype(int)
    colours = body["legend"]["colors"]
    bins = dict(zip(body["codes"], body["bins"], strict=True))
    want = [colours[bins[c]] if bins[c] >= 0 else body["legend"]["no_data_color"] for c in cells["code"]]
    got = ["#{:02x}{:02x}{:02x}".format(*img[y, x, :3]) for y, x in zip(row, col, strict=True)]
    assert got == want and (img[row, col, 3] == 255).all()
    assert sum(b < 0 for b in body["bins"]) > 1000 and body["legend"]["no_data_color"] in got  # no data drawn grey
    assert (img[..., 3] == 0).mean() > 0.3  # the land and water between the towns: no cell, nothing drawn
    assert client.get("/api/grid/pc4/image").status_code == 404
    assert client.get("/api/grid/grid100/image?indicator=lbm").status_code == 404


def test_grid_image_needs_a_regular_grid():
    import shapely

    from leefbaar.web.geometry import GridRaster

    bounds = [[4.0, 51.9], [4.1, 52.0]]
    GridRaster(["a", "b"], np.array([shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)]), 100, bounds)
    with pytest.raises(ValueError, match="not squares of 100 m on one grid"):
        GridRaster(["a", "b"], np.array([shapely.box(0, 0, 100, 100), shapely.box(150, 0, 250, 100)]), 100, bounds)
