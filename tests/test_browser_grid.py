"""The 100 m grid on the dashboard's map in a real browser (Debian's chromium driven by Playwright): choosing the
grid level colours the cells by their own CBS indicator, the legend names the indicator and its source and says
that there is no Leefbaarometer score there, in Dutch and in English, and so does the map's attribution line (the
cells' source, CBS vierkantstatistieken, not the Leefbaarometer); going back to PC4 restores the score map.
One page load; screenshots go to test-artifacts/screenshots/ (git-ignored)."""

from __future__ import annotations

import io
import math

import pytest

from conftest import SHOTS, dashboard_server, skip_without_browser

pytestmark = pytest.mark.browser
skip_without_browser()


@pytest.fixture(scope="module")
def server(store_file):
    with dashboard_server(store_file) as base:
        yield base


def _ready(pg, prefix: str) -> None:
    pg.wait_for_function("p => (document.body.dataset.mapReady || '').startsWith(p)", arg=prefix, timeout=90_000)


def _where(pg, color: str) -> list[tuple[int, int]]:
    """The (x, y) pixels of the map canvas in exactly ``color`` (#rrggbb): the cells are drawn without outline or
    blending, from the image of the cells and from their vector tiles alike."""
    import numpy as np
    from PIL import Image

    img = np.asarray(Image.open(io.BytesIO(pg.locator("#map canvas").screenshot())).convert("RGB"))
    ys, xs = np.nonzero((img == [int(color[i:i + 2], 16) for i in (1, 3, 5)]).all(axis=2))
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def _pixels(pg, color: str) -> int:
    return len(_where(pg, color))


def _tile_meets(url: str, w: float, s: float, e: float, n: float) -> bool:
    """Whether the Web Mercator tile .../z/x/y of ``url`` overlaps the box w, s, e, n (degrees)."""
    z, x, y = (int(v) for v in url.rsplit("/", 3)[1:])
    lon = lambda tx: tx / 2**z * 360 - 180  # noqa: E731
    lat = lambda ty: math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * ty / 2**z))))  # noqa: E731
    return lon(x) < e and lon(x + 1) > w and lat(y + 1) < n and lat(y) > s


def _attribution(pg) -> str:
    return pg.locator("#map .maplibregl-ctrl-attrib-inner").text_content()


def test_grid_level_colours_cells_and_names_indicator_and_source(server, page):
    page.goto(f"{server}/map?level=pc4")
    _ready(page, "pc4:")
    assert "Leefbaarometer BZK" in _attribution(page)
    assert page.locator("#f-measure option[value='total']").count() == 1
    tiles = []  # the grid tiles the map asks for (the map's worker fetches them; Playwright sees its requests)
    page.on("request", lambda r: tiles.append(r.url) if "/api/tiles/grid100/" in r.url else None)
    page.select_option("#f-level", "grid100")
    _ready(page, "grid100:2024:indicator")
    # only tiles within the cells' bounds are asked for (no empty tiles around Rijnmond in the first view)
    (w, s), (e, n) = next(g for g in page.evaluate("() => fetch('/api/meta').then(r => r.json())")["grid_levels"]
                          if g["id"] == "grid100")["bounds"]
    assert tiles and all(_tile_meets(u, w, s, e, n) for u in tiles), tiles
    assert "level=grid100" in page.url and "indicator=inwoner" in page.url
    # the measures are the cells' own indicators: no score, no dimension, no change map
    options = page.locator("#f-measure option").evaluate_all("os => os.map(o => o.value)")
    assert {"inwoner", "p_koopwon"} <= set(options) and "total" not in options and "change" not in options
    title = page.locator("#legend-title")
    assert title.inner_text().startswith("Legenda: Inwoners 2024") and title.get_attribute("data-kind") == "cbs"
    assert "CBS-vierkantstatistieken 2024" in page.locator("#legend-source").inner_text()
    assert "Geen Leefbaarometer-score op dit niveau" in page.locator("#legend-no-score").inner_text()
    assert "per vierkant van 100 m" in page.locator("#legend-scheme").inner_text()
    # the attribution names the cells' source, in Dutch, and no Leefbaarometer (no such figure at this level)
    assert "CBS-vierkantstatistieken" in _attribution(page) and "Leefbaarometer" not in _attribution(page)
    counts = page.locator("#legend li").evaluate_all("ls => ls.map(l => [l.dataset.bin, +l.dataset.count])")
    assert sum(n for _b, n in counts) == 16383 and dict(counts)["-1"] == 0
    page.wait_for_timeout(300)
    darkest = page.locator("#legend li[data-bin='6'] .swatch").evaluate("e => e.dataset.color")
    assert _pixels(page, darkest) > 500  # the densest cells (central Rotterdam) are coloured
    # the cells' vector tiles come after the first paint: the pointer then names the cell under it
    x, y = _where(page, darkest)[len(_where(page, darkest)) // 2]
    box = page.locator("#map canvas").bounding_box()
    for dx in range(20):  # moved until the tiles are there (a move before is answered by nothing)
        page.mouse.move(box["x"] + x + dx % 2, box["y"] + y)
        if page.locator("#tooltip").is_visible():
            break
        page.wait_for_timeout(250)
    assert page.locator("#tooltip strong").inner_text().startswith("Vierkant E")
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "grid100-nl.png"))

    # % koopwoningen: cells without a value are counted as "no data", not drawn as 0
    page.select_option("#f-measure", "p_koopwon")
    page.wait_for_function("() => document.getElementById('legend-title')?.dataset.indicator === 'p_koopwon'")
    nodata = page.locator("#legend li[data-bin='-1']")
    assert int(nodata.get_attribute("data-count")) > 1000 and "geen gegevens" in nodata.inner_text()

    page.click("#lang")
    page.wait_for_function("() => document.getElementById('legend-title')?.innerText.startsWith('Legend: Owner')")
    assert "vierkantstatistieken 2024" in page.locator("#legend-source").inner_text()
    assert "No Leefbaarometer score at this level" in page.locator("#legend-no-score").inner_text()
    assert "no data" in page.locator("#legend li[data-bin='-1']").inner_text()
    assert "CBS vierkantstatistieken (grid statistics" in _attribution(page)
    assert "Leefbaarometer" not in _attribution(page) and "CBS-vierkantstatistieken" not in _attribution(page)
    page.screenshot(path=str(SHOTS / "grid100-en.png"))

    page.select_option("#f-level", "pc4")  # back to a score level: the score map returns
    _ready(page, "pc4:")
    assert page.locator("#f-measure").input_value() == "total"
    assert page.locator("#legend-no-score").count() == 0
    assert "Leefbaarometer BZK" in _attribution(page) and "vierkantstatistieken" not in _attribution(page)
    assert not page.problems, page.problems


def test_first_view_of_the_grid_is_drawn_from_its_image(server, page):
    """The map's first paint of a grid level needs no vector tile: with every tile answered empty, the cells are
    still drawn in their class colours (from /api/grid/{level}/image), and the image is asked for before any tile.
    When the values of another measure fail, the legend says so and the image of the previous one is not shown."""
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/grid/grid100/image" in r.url or "/api/tiles/" in r.url
            else None)
    page.route("**/api/tiles/grid100/**", lambda route: route.fulfill(
        status=200, body=b"", headers={"Content-Type": "application/vnd.mapbox-vector-tile"}))
    page.goto(f"{server}/map?level=grid100&indicator=inwoner")
    _ready(page, "grid100:2024:indicator")
    darkest = page.locator("#legend li[data-bin='6'] .swatch").evaluate("e => e.dataset.color")
    lightest = page.locator("#legend li[data-bin='0'] .swatch").evaluate("e => e.dataset.color")
    assert _pixels(page, darkest) > 500 and _pixels(page, lightest) > 500
    assert "/api/grid/grid100/image" in asked[0] and "indicator=inwoner" in asked[0] and "year=2024" in asked[0]
    assert not page.problems, page.problems
    # another measure whose values fail: an error, and the previous measure's colours are not left on the map
    page.route("**/api/grid/grid100?*", lambda route: route.fulfill(status=500, body="{}"))
    page.select_option("#f-measure", "p_koopwon")
    page.wait_for_selector("#legend .error", timeout=30_000)
    for _ in range(20):
        if _pixels(page, darkest) == 0:
            break
        page.wait_for_timeout(250)
    assert _pixels(page, darkest) == 0
