"""Store-based specs with any dimension names and without calibration score through ``build_scores`` (as
``leefbaar score``) with Monte Carlo intervals; ``missing.fill: none`` is refused with a clear error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leefbaar.errors import SpecError
from leefbaar.index.pipeline import LBM_DIMENSIONS, build_scores, score_summary, summary_markdown
from leefbaar.index.spec import parse_spec

OPEN = {"name": "eigen", "level": "pc4", "weighting": "expert", "normalisation": "zscore",
        "dimensions": {
            "wonen": {"weight": 2, "indicators": [{"id": "wozwoning", "direction": 1, "transform": "log"},
                                                  {"id": "p_koopwon", "direction": 1, "weight": 2}]},
            "voorzieningen": {"indicators": [{"id": "afs_superm", "direction": -1, "transform": "log"}]}}}


def test_fill_none_is_refused():
    with pytest.raises(SpecError, match="missing.fill: 'none'.*not available for store-based"):
        parse_spec({**OPEN, "missing": {"fill": "none"}}, "eigen.yaml")


@pytest.mark.parametrize("weighting", ["expert", "equal", "pca"])
def test_any_dimension_names_score_with_intervals(store, weighting):
    spec = parse_spec({**OPEN, "weighting": weighting}, "eigen.yaml")
    res = build_scores(store, spec, [2022], n_draws=40, seed=1)
    s = res.scores
    assert s[list(LBM_DIMENSIONS)].isna().all().all()  # the store's LBM columns stay empty
    dims = res.dimensions.pivot_table(index="code", columns="dimension", values="score")
    # the dimensions add up to afw (the spec's own names, in the long table)
    np.testing.assert_allclose(dims.sum(axis=1).loc[s["code"]].to_numpy(), s["afw"].to_numpy(), atol=1e-9)
    assert s[["total_lo", "total_hi", "rank_lo", "rank_hi"]].notna().all().all()
    assert (s["total_lo"] <= s["total"] + 1e-9).mean() > 0.9 and (s["total_hi"] >= s["total"] - 1e-9).mean() > 0.9
    assert (s["total_hi"] > s["total_lo"]).mean() > 0.9
    assert s["p_class_differs"].isna().all() and s["klasse"].isna().all()
    wide = res.wide()
    assert list(wide.columns[:8]) == ["spec", "level", "code", "year", "total", "afw", "wonen", "voorzieningen"]
    pivot = res.dimensions.pivot_table(index=["code", "year"], columns="dimension", values="score")
    at = pd.MultiIndex.from_frame(wide[["code", "year"]])
    for d in ("wonen", "voorzieningen"):
        np.testing.assert_array_equal(wide[d].to_numpy(), pivot[d].reindex(at).to_numpy())
    assert wide[["code", "year", "total"]].equals(s[["code", "year", "total"]].reset_index(drop=True))
    assert np.isnan(score_summary(res)["share_uncertain"]).all()
    assert "geen officiële reeks" in summary_markdown(res, 1, "nl")


def test_prepare_and_draws_take_any_weighting(store):
    """``prepare`` works for a spec without calibration (as linear terms with fixed weights) and its draws
    are the spec's own score when nothing varies (one alternative, dimension weights fixed)."""
    from leefbaar.index import uncertainty as unc
    from leefbaar.index.features import load_panel
    from leefbaar.index.model import LivabilityIndex

    spec = parse_spec(OPEN, "eigen.yaml")
    panel = load_panel(store, spec, [2022]).reset_index(drop=True)
    model = LivabilityIndex(spec).fit(panel)
    draws = unc.draws(unc.prepare([model], panel), 5, seed=1, concentration=np.inf)
    np.testing.assert_allclose(draws, np.repeat(model.score(panel)["afw"].to_numpy()[:, None], 5, axis=1),
                               atol=1e-9)


def test_open_spec_is_stored_listed_and_served(store_file, tmp_path):
    """A spec with its own dimension names scores into a store (``write_scores``, as ``leefbaar score``), lists
    its dimensions in the spec's order with both labels, and the dashboard serves it without error."""
    import shutil

    from fastapi.testclient import TestClient

    from leefbaar.index.api import scored_dimensions
    from leefbaar.index.pipeline import write_scores
    from leefbaar.store.store import Store
    from leefbaar.web import create_app

    copy = tmp_path / "open.duckdb"
    shutil.copy(store_file, copy)
    body = {**OPEN, "dimensions": {"wonen": {**OPEN["dimensions"]["wonen"], "label_nl": "wonen",
                                             "label_en": "housing"},
                                   "voorzieningen": OPEN["dimensions"]["voorzieningen"]}}
    spec = parse_spec(body, "eigen.yaml")
    with Store.open(copy, read_only=False) as st:
        res = build_scores(st, spec, [2022], n_draws=40, seed=1)
        write_scores(st, res, {"spec": "eigen.yaml"})
        assert scored_dimensions(st, "eigen") == [
            {"code": "wonen", "label": {"nl": "wonen", "en": "housing"}},
            {"code": "voorzieningen", "label": {"nl": "voorzieningen", "en": "voorzieningen"}}]
        stored = st.sql("SELECT * FROM scores WHERE spec = 'eigen'")
    assert stored[["total", "total_lo", "total_hi", "rank_lo", "rank_hi"]].notna().all().all()
    code = str(stored.sort_values("rank")["code"].iloc[0])
    with TestClient(create_app(copy, warm=False), raise_server_exceptions=False) as client:
        meta = client.get("/api/meta")
        assert meta.status_code == 200 and meta.json()["spec"] == "eigen"
        for path in ("/api/map/pc4?year=2022", f"/api/profile/pc4/{code}?year=2022", f"/api/areas/pc4/{code}",
                     "/api/download/ranking/pc4?year=2022&format=csv"):
            assert client.get(path).status_code == 200, path
