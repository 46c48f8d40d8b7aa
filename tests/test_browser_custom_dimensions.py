"""The map page over a store scored with a spec of its own dimensions (test_custom_dimensions.SPEC), in a real
browser: its measure picker offers the spec's dimensions by their Dutch labels, not the Leefbaarometer's five,
and one of them is drawn. One page load."""

from __future__ import annotations

import pytest

from conftest import dashboard_server, skip_without_browser
from test_custom_dimensions import DIMS, score_custom

pytestmark = pytest.mark.browser
skip_without_browser()


@pytest.fixture(scope="module")
def server(store_file, tmp_path_factory):
    with dashboard_server(score_custom(store_file, tmp_path_factory.mktemp("custom_browser"))) as base:
        yield base


def test_map_picker_lists_the_specs_dimensions(server, page):
    page.goto(f"{server}/map?level=pc4&measure=groen&year=2022")
    page.wait_for_function("v => document.body.dataset.mapReady === v", arg="pc4:2022:groen", timeout=60_000)
    options = page.eval_on_selector_all("#f-measure option", "os => os.map(o => [o.value, o.textContent])")
    values = [v for v, _ in options]
    assert values[0] == "total" and values[1:4] == list(DIMS) and {"change", "indicator"} <= set(values)
    assert not {"won", "fys", "vrz", "soc", "onv"} & set(values)
    assert [t for v, t in options if v in DIMS] == [nl for nl, _ in DIMS.values()]
    assert page.locator("#f-measure").input_value() == "groen"
    assert "Groen en ruimte" in page.locator("#legend-title").inner_text()
    assert not page.problems, page.problems
