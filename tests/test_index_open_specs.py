"""Store-based specs with any dimension names and without calibration score through ``build_scores`` (as
``leefbaar score``) with Monte Carlo intervals; ``missing.fill: none`` is refused with a clear error."""

from __future__ import annotations

import numpy as np
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
    assert np.isnan(score_summary(res)["share_uncertain"]).all()
    assert "geen officiële reeks" in summary_markdown(res, 1, "nl")
