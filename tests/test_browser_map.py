"""The dashboard's map page in a real browser (Debian's chromium driven by Playwright): base-year change maps
with modelled years marked, the gemeente filter of the map table, the grouped indicator picker with its
sensitive opt-in, and the class legend with counts. One server for the module; screenshots go to
test-artifacts/screenshots/ (git-ignored), as in test_browser_dashboard.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SHOTS, dashboard_server, skip_without_browser

pytestmark = pytest.mark.browser
skip_without_browser()


@pytest.fixture(scope="module")
def scored(scored_file) -> Path:
    """The session's scored store: index scores for 2021 (a modelled year) and 2022 (served read-only)."""
    return scored_file


@pytest.fixture(scope="module")
def server(scored):
    with dashboard_server(scored) as base:
        yield base


def _shot(pg, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _ready(pg, value: str) -> None:
    pg.wait_for_function("v => document.body.dataset.mapReady === v", arg=value, timeout=60_000)


def test_change_map_with_chosen_base_year_marks_modelled(server, page):
    page.goto(f"{server}/map")
    kinds = page.evaluate("fetch('/api/meta').then(r => r.json())"
                          ".then(m => m.levels.find(l => l.id === 'pc4').year_kinds)")
    modelled = max(int(y) for y, k in kinds.items() if k == "modelled")
    official = sorted(int(y) for y, k in kinds.items() if k == "official")
    base = [y for y in official if y < modelled][-2]  # not the default (previous) year
    page.goto(f"{server}/map?level=pc4&measure=change&year={modelled}&area=3072")
    _ready(page, f"pc4:{modelled}:change")
    default = int(page.locator("#f-base-year").input_value())
    assert default == max(int(y) for y in kinds if int(y) < modelled)  # the previous year with scores
    page.select_option("#f-base-year", str(base))
    page.wait_for_function("b => document.getElementById('legend-title')?.dataset.baseYear === b", arg=str(base))
    title = page.locator("#legend-title")
    assert f"{base}–{modelled}" in title.inner_text() and title.get_attribute("data-kind") == "modelled"
    assert f"gemodelleerd: {modelled}" in title.inner_text() and f"base_year={base}" in page.url
    _ready(page, f"pc4:{modelled}:change")
    page.wait_for_timeout(300)
    box = page.locator("#map canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # 3072, centred by the selection
    page.wait_for_selector("#tooltip:not([hidden])", timeout=10_000)
    tip = page.locator("#tooltip").inner_text()
    assert "gemodelleerd" in tip and f"({base}–{modelled})" in tip and "Rotterdam" in tip
    assert "Rotterdam" in page.locator("#map-selected").inner_text()
    _shot(page, "map_change_base_year")
    # between two official years the map is official; the chosen base year is kept
    last = official[-1]
    page.select_option("#f-year", str(last))
    page.wait_for_function("y => document.getElementById('legend-title')?.textContent.includes(y)",
                           arg=f"{base}–{last}")
    assert page.locator("#f-base-year").input_value() == str(base)
    assert page.locator("#legend-title").get_attribute("data-kind") == "official"
    assert "gemodelleerd" not in page.locator("#legend-title").inner_text()
    assert not page.problems, page.problems


def _pixels(pg, color: str) -> int:
    """Pixels of the map canvas in exactly ``color`` (#rrggbb)."""
    import io

    from PIL import Image

    img = Image.open(io.BytesIO(pg.locator("#map canvas").screenshot())).convert("RGB")
    rgb = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    return sum(n for n, c in img.getcolors(img.width * img.height) if c == rgb)


def test_class_legend_counts_add_up(server, page):
    metas = []
    page.on("request", lambda r: metas.append(r.url) if "/api/meta" in r.url else None)
    page.goto(f"{server}/map?level=pc4&measure=total&year=2022")
    _ready(page, "pc4:2022:total")
    # the meta data are asked for once, by index.html (boot.js), before the modules have loaded
    assert len(metas) == 1
    # ready means drawn and coloured: the most frequent class is on the canvas at once
    top = max(range(9), key=lambda i: int(page.locator("#legend .legend-list li").nth(i).get_attribute("data-count")))
    color = page.locator("#legend .legend-list li").nth(top).locator(".swatch").evaluate("e => e.dataset.color")
    assert _pixels(page, color) > 1000
    items = page.locator("#legend .legend-list li")
    assert items.count() == 9
    counts = [int(items.nth(i).get_attribute("data-count")) for i in range(9)]
    shown = [int(items.nth(i).locator(".count").inner_text().replace(".", "")) for i in range(9)]
    assert counts == shown and sum(counts) > 3500
    # total, afw and klasse are one map: one control, old links land on it
    options = page.locator("#f-measure option").evaluate_all("os => os.map(o => o.value)")
    assert "afw" not in options and "klasse" not in options
    assert options[:6] == ["total", "won", "fys", "vrz", "soc", "onv"]
    page.goto(f"{server}/map?level=pc4&measure=klasse&year=2022")
    _ready(page, "pc4:2022:total")
    assert not page.problems, page.problems


def test_gemeente_filter_on_the_map_table(server, page):
    page.goto(f"{server}/map?level=pc4&measure=total&year=2022")
    _ready(page, "pc4:2022:total")
    page.wait_for_selector("#f-gemeente")
    page.select_option("#f-gemeente", "GM0599")
    page.wait_for_function("() => new URL(location.href).searchParams.get('gemeente') === 'GM0599'")
    page.wait_for_selector("#map-table tbody tr")
    rows = page.locator("#map-table tbody tr")
    names = [rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())]
    assert names and all("Rotterdam" in n for n in names)
    n = page.evaluate("fetch('/api/names/pc4').then(r => r.json())"
                      ".then(d => d.gemeente_codes.filter(g => g === 'GM0599').length)")
    shown = int(page.locator("#map-table caption").inner_text().rsplit("(", 1)[1].rstrip(")").replace(".", ""))
    assert 0 < shown <= n and shown >= 0.9 * n
    href = page.locator("#map-table .downloads a").first.get_attribute("href")
    assert "gemeente=GM0599" in href
    _shot(page, "map_table_gemeente_filter")
    assert not page.problems, page.problems


def test_indicator_picker_grouped_searchable_sensitive_opt_in(server, page):
    page.goto(f"{server}/map?level=pc4&measure=indicator&indicator=p_koopwon")
    page.wait_for_function("() => (document.body.dataset.mapReady || '').endsWith(':indicator')", timeout=60_000)
    groups = page.locator("#f-indicator optgroup")
    assert groups.count() >= 5
    values = page.locator("#f-indicator option").evaluate_all("os => os.map(o => o.value)")
    assert "p_koopwon" in values and "inwoner" not in values and not any(v.startswith("lbm") for v in values)
    assert page.locator("#f-indicator option[data-sensitive]").count() == 0
    assert page.locator("#sensitive-warning").count() == 0
    # the legend names the class-break scheme and the unit
    assert page.locator("#legend-scheme").get_attribute("data-scheme") == "quantiles"
    assert "eenheid: %" in page.locator("#legend-scheme").inner_text()
    page.fill("#f-indicator-search", "koopwon")
    found = page.locator("#f-indicator option").evaluate_all("os => os.map(o => o.value)")
    assert "p_koopwon" in found and len(found) < len(values)
    page.check("#f-sensitive")
    page.wait_for_selector("#sensitive-warning")
    assert page.locator("#f-indicator option[data-sensitive]").count() >= 1
    assert "gevoelig" in page.locator("#sensitive-warning").inner_text()
    page.select_option("#f-scheme", "fisher_jenks")
    page.wait_for_function("() => document.getElementById('legend-scheme')?.dataset.scheme === 'fisher_jenks'")
    _shot(page, "map_indicator_picker")
    assert not page.problems, page.problems
