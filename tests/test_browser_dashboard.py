"""The dashboard in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

The server runs as its own process on 127.0.0.1 with an ephemeral port. Screenshots of the main pages go to
test-artifacts/screenshots/ (git-ignored).
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import shapely
from PIL import Image

from conftest import SHOTS, dashboard_server, skip_without_browser
from leefbaar.report.gemeente import build_report

pytestmark = pytest.mark.browser
skip_without_browser()


@pytest.fixture(scope="module")
def evaluated_store(evaluated_file):
    """The session store with the NPRZ evaluation recorded, for the evaluation cards (served read-only)."""
    return evaluated_file[0]


@pytest.fixture(scope="module")
def server(evaluated_store):
    with dashboard_server(evaluated_store) as base:
        yield base


def _shot(pg, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=False)
    return path


def _wait_map(pg) -> None:
    pg.wait_for_selector("body[data-map-ready]", state="attached", timeout=60_000)


def test_map_draws_all_pc4_polygons(server, page):
    page.goto(f"{server}/map?level=pc4&year=2022&measure=total")
    _wait_map(page)
    assert page.locator("body").get_attribute("data-map-ready") == "pc4:2022:total"
    canvas = page.locator("#map canvas")
    path = SHOTS / "map_canvas.png"
    SHOTS.mkdir(parents=True, exist_ok=True)
    canvas.screenshot(path=str(path))
    px = np.asarray(Image.open(path).convert("RGB")).reshape(-1, 3).astype(int)
    background = np.array([0xEE, 0xF3, 0xF7])
    drawn = np.abs(px - background).sum(axis=1) > 30
    assert drawn.mean() > 0.2, "the map canvas is (nearly) blank"
    # the class colours are there: at least six of the nine
    legend = page.locator(".legend-list li")
    assert legend.count() == 9
    classes = ["#a50026", "#d73027", "#f46d43", "#fdae61", "#fee090", "#e0f3f8", "#abd9e9", "#74add1", "#313695"]
    rgb = [np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)]) for c in classes]
    present = sum((np.abs(px - c).sum(axis=1) < 12).mean() > 0.0005 for c in rgb)
    assert present >= 6
    assert page.locator("#map-table tbody tr").count() == 25
    _shot(page, "map")
    assert not page.problems, page.problems


def _mercator_centre(bounds):
    x0, y0, x1, y1 = bounds
    merc = lambda lat: math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))  # noqa: E731
    ym = (merc(y0) + merc(y1)) / 2
    return (x0 + x1) / 2, math.degrees(2 * math.atan(math.exp(ym)) - math.pi / 2)


def test_click_on_area_opens_its_profile_with_store_numbers(server, page, store):
    geo = store.geometries("pc4", crs=4326).set_index("code")
    code = next(c for c in ("3072", "3071", "3073", "1011", "3511") if shapely.contains(
        geo.loc[c, "geometry"], shapely.Point(_mercator_centre(geo.loc[c, "geometry"].bounds))))
    page.goto(f"{server}/map?level=pc4&year=2022&measure=total&area={code}")
    _wait_map(page)
    page.wait_for_timeout(500)
    box = page.locator("#map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_url(re.compile(rf"/area/pc4/{code}"))
    page.wait_for_selector("#score-total")
    expected = store.sql("SELECT value FROM observations WHERE level = 'pc4' AND code = ? AND year = 2022 "
                         "AND indicator = 'lbm'", [code])["value"].iloc[0]
    assert float(page.locator("#score-total").get_attribute("data-value")) == pytest.approx(expected, abs=1e-6)
    assert page.locator("#score-total").inner_text() == f"{expected:.3f}".replace(".", ",")
    assert page.locator("h1").inner_text().startswith(code)
    assert page.locator("svg.chart").count() >= 2
    _shot(page, "area_profile")
    assert not page.problems, page.problems


def test_language_toggle(server, page):
    page.goto(f"{server}/area/pc4/3072")
    page.wait_for_selector("#score-total")
    assert page.locator("html").get_attribute("lang") == "nl"
    assert page.locator("#nav a[data-page=map]").inner_text() == "Kaart"
    assert "Leefbaarheidsscore" in page.locator("#s-score").inner_text()
    page.click("#lang")
    page.wait_for_selector("text=Livability score")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("#nav a[data-page=map]").inner_text() == "Map"
    assert "lang=en" in page.url
    _shot(page, "area_profile_en")
    page.reload()  # the language is part of the shareable URL
    page.wait_for_selector("text=Livability score")
    page.click("#lang")
    page.wait_for_selector("text=Leefbaarheidsscore")
    assert "lang=en" not in page.url
    assert not page.problems, page.problems


def test_keyboard_search_opens_a_profile(server, page):
    page.goto(f"{server}/gap")
    page.wait_for_selector("svg.chart")
    page.focus("#search")
    page.keyboard.type("3072 AB")
    page.wait_for_selector("#search-results button")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/area/pc4/3072"))
    page.wait_for_selector("#score-total")
    assert not page.problems, page.problems


def test_other_pages_and_empty_states(server, page):
    page.goto(f"{server}/compare?area=pc4:3072&area=pc4:1011&area=pc4:6877")
    page.wait_for_selector("svg.chart")
    assert page.locator("table tbody tr").first.is_visible()
    _shot(page, "compare")
    page.goto(f"{server}/gap?level=pc4&gemeente=GM0599")
    page.wait_for_selector("svg.chart")
    _shot(page, "gap")
    page.goto(f"{server}/programmes")
    page.wait_for_selector(".tl-row")
    page.locator(".tl-row").nth(3).focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#prog-detail h2")
    _shot(page, "programmes")
    page.goto(f"{server}/area/pc4/0000")
    page.wait_for_selector(".empty")
    assert "0000" in page.locator(".empty").inner_text()
    page.goto(f"{server}/map?level=pc4&year=2021&measure=total")
    page.wait_for_selector(".legend .empty")
    assert "2022" in page.locator(".legend .empty").inner_text()
    assert [p for p in page.problems if "404" not in p] == []


def test_report_pdf_has_pages(store_file, tmp_path):
    result = build_report(store_file, "GM0599", tmp_path, lang="nl")
    pdf = result.pdf.read_bytes()
    assert pdf.startswith(b"%PDF") and result.pages >= 7
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == result.pages
    html = result.html.read_text(encoding="utf-8")
    assert "Rotterdam" in html and "CC BY 4.0" in html and "<svg" in html
    if shutil.which("pdftoppm"):
        SHOTS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "3", str(result.pdf),
                        str(SHOTS / "report_page")], check=True)


# -- perception, evaluation cards, routes, not found, phone layout (views) ----------------------------------------
def _json(server, path):
    import json
    import urllib.request

    with urllib.request.urlopen(f"{server}{path}", timeout=120) as r:
        return json.loads(r.read())


def test_perception_view(server, page):
    overview = _json(server, "/api/perception")
    page.goto(f"{server}/perception")
    page.wait_for_selector("#pe-largest li", timeout=120_000)
    items = page.locator("#pe-largest li")
    assert items.count() == len(overview["largest"]) == 10
    assert items.first.inner_text() == overview["largest"][0]["text"]["nl"]
    assert page.locator("figure.pe-chart svg.chart").count() == 3  # the city: one chart per index
    _shot(page, "perception")
    items.first.locator("a").click()
    code = overview["largest"][0]["code"]
    page.wait_for_url(re.compile(rf"/perception/{code}"))
    page.wait_for_selector("#pe-link")
    area = _json(server, f"/api/perception/{code}")
    assert page.locator("#pe-link").inner_text() == area["link_text"]["nl"]
    rows = page.locator("table").nth(0).locator("tbody tr")
    assert rows.count() == len(area["buurten"]) and area["buurten"][0]["code"] in rows.first.inner_text()
    _shot(page, "perception_area")
    page.click("#lang")
    page.wait_for_selector("text=Perception next to figures")
    assert page.locator("#pe-link").inner_text() == area["link_text"]["en"]
    assert "bewoners" not in page.locator("main").inner_text()
    _shot(page, "perception_area_en")
    assert not page.problems, page.problems


def test_evaluation_card(server, page):
    card = next(c for c in _json(server, "/api/evaluations") if c["programme"] == "nprz")
    page.goto(f"{server}/programmes")
    box = page.locator("article.evaluation[data-programme=nprz]")
    box.wait_for()
    assert box.get_attribute("data-conclusion") == card["conclusion"]
    assert box.locator(".verdict").inner_text() == card["verdict"]["nl"]
    text = box.inner_text()
    assert "estimate" not in text and "matched_did" not in text and "ci_low" not in text  # no raw table dump
    assert box.locator(".pretrend li").count() == 2
    if card["headline"]:
        est = box.locator(".estimate").inner_text()
        assert "95%-interval" in est and re.search(r"[+-]?0,\d{3}", est) and "." not in est.split("(")[0]
    else:
        assert box.locator(".estimate").get_attribute("data-estimate") == ""
    assert f"{len(card['areas'])} PC4-gebied" in box.locator(".ev-areas summary").inner_text()
    box.locator(".ev-areas summary").click()
    assert box.locator(".area-list a").count() == len(card["areas"])
    _shot(page, "programmes_evaluation")
    page.click("#lang")
    page.wait_for_selector("text=Evaluations: what did the programmes do?")
    assert page.locator("article.evaluation[data-programme=nprz] .verdict").inner_text() == card["verdict"]["en"]
    assert not page.problems, page.problems


ROUTES = {"/": "#map", "/map": "#map", "/area": "#page-search", "/area/pc4/3072": "#score-total",
          "/compare?area=pc4:3072&area=pc4:1011": "table", "/gap": "svg.chart", "/programmes": ".tl-row",
          "/perception": "#pe-largest", "/perception/WP0081": "#pe-link", "/area/foo/1234": "#notfound",
          "/area/pc4/0000": "#notfound", "/area/pc4/3072?year=1990": "#notfound", "/no/such/page": "#notfound",
          "/perception/WP9999": "#notfound"}


def test_every_route_works_on_reload(server, page):
    for path, selector in ROUTES.items():
        page.goto(f"{server}{path}")
        page.wait_for_selector(selector, state="attached", timeout=60_000)
        page.reload()
        page.wait_for_selector(selector, state="attached", timeout=60_000)
        assert page.locator("h1").count() >= 1, path
        if selector == "#notfound":
            assert page.locator("h1").first.inner_text() == "Niet gevonden", path
            assert page.locator("#page-search").is_visible() and page.locator("#nf-back").is_visible()
    assert [p for p in page.problems if "404" not in p] == []


def test_unknown_code_gives_a_page_with_search(server, page):
    page.goto(f"{server}/area/pc4/0000")
    page.wait_for_selector("#notfound")
    assert "0000" in page.locator("#notfound").inner_text() and "store" in page.locator("#notfound").inner_text()
    page.goto(f"{server}/area/pc4/3072?year=1990")
    page.wait_for_selector("#notfound")
    assert page.locator("#notfound").inner_text() == "Geen scores voor 3072 in 1990."
    page.fill("#page-search", "3072")
    page.wait_for_selector("#page-search-results a")
    page.locator("#page-search-results a").first.click()
    page.wait_for_url(re.compile(r"/area/pc4/3072$"))
    page.wait_for_selector("#score-total")
    page.goto(f"{server}/area/pc4/0000?lang=en")
    page.wait_for_selector("#notfound")
    assert page.locator("h1").first.inner_text() == "Not found"
    assert "No area 0000" in page.locator("#notfound").inner_text()
    _shot(page, "not_found_en")
    page.goto(f"{server}/area/foo/1234")
    page.wait_for_selector("#notfound")
    page.click("#nf-map")
    page.wait_for_url(re.compile(r"/map"))
    assert [p for p in page.problems if "404" not in p] == []


CHART_TEXT = """[...document.querySelectorAll('svg.chart')].flatMap(svg => {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  return [...svg.querySelectorAll('text')].filter(t => t.getBoundingClientRect().width > 0)
    .map(t => parseFloat(getComputedStyle(t).fontSize) * scale); })"""


@pytest.mark.parametrize("width", [390, 360])
def test_phone_layout_has_no_sideways_scroll(server, browser, width):
    ctx = browser.new_context(viewport={"width": width, "height": 844}, locale="nl-NL", device_scale_factor=1)
    pg = ctx.new_page()
    try:
        for path, selector in [("/map", "body[data-map-ready]"), ("/area/pc4/3072", "#score-total"),
                               ("/compare?area=pc4:3072&area=pc4:1011", "svg.chart"),
                               ("/gap?gemeente=GM0599", "svg.chart"), ("/programmes", "article.evaluation"),
                               ("/perception", "#pe-largest"), ("/perception/WP0081", "#pe-link"),
                               ("/area/pc4/0000", "#notfound")]:
            pg.goto(f"{server}{path}")
            pg.wait_for_selector(selector, state="attached", timeout=60_000)
            pg.wait_for_timeout(200)
            scroll, inner = pg.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
            assert scroll <= inner, f"{path}: {scroll} px wide at {inner} px"
            sizes = pg.evaluate(CHART_TEXT)
            assert not sizes or min(sizes) >= 10.9, f"{path}: chart text {min(sizes):.1f} px"
            if path == "/map":
                assert pg.locator("#map").bounding_box()["y"] < 844 / 2  # the map on the first screen
            if width == 390:
                _shot(pg, f"phone{path.replace('/', '_').split('?')[0]}")
    finally:
        ctx.close()


def test_segregation_beside_the_gap(server, page):
    view = _json(server, "/api/segregation/GM0599")
    page.goto(f"{server}/gap?level=pc4&gemeente=GM0599")
    page.wait_for_selector("#segregation-verdict", timeout=120_000)
    assert page.locator("#segregation-verdict").inner_text() == view["verdict_text"]
    assert page.locator("#segregation svg.chart").count() == 1
    assert page.locator("#segregation tbody tr").count() == len(view["series"])
    assert "95%-interval" in page.locator("#segregation").inner_text()
    _shot(page, "gap_segregation")
    assert not page.problems, page.problems
