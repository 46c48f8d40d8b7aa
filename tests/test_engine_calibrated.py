"""The engine's fit/apply split and its calibrated model (engine/fit.py, engine/calibrated.py) on small tables:
known answers, additivity, monotonicity, fit rows, replay from the record, and refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from leefbaar.errors import InputError, SpecError
from leefbaar.index.engine import build, parse_engine_spec, replay
from leefbaar.index.engine.fit import fit, from_record


def table(n=240, seed=0, missing=60):
    """Units u0..: indicators a1, a2 (parent A) and b1, b2 (parent B), coordinates, and criteria ya, yb that
    are exact functions of the indicators; the last ``missing`` rows have no criteria (rows to apply to)."""
    rng = np.random.default_rng(seed)
    f = pd.DataFrame({"unit": [f"u{i}" for i in range(n)], "a1": rng.normal(size=n), "a2": rng.uniform(0, 5, n),
                      "b1": rng.normal(size=n), "b2": rng.normal(size=n), "x": rng.uniform(0, 100, n),
                      "y": rng.uniform(0, 100, n)})
    f["ya"] = 2.0 + 0.5 * f["a1"] - 0.3 * f["a2"]
    f["yb"] = -1.0 + np.where(f["b1"] > 0, f["b1"], 0.0) + 0.2 * f["b2"]
    f.loc[n - missing:, ["ya", "yb"]] = np.nan
    return f


def spec(**model):
    body = {"unit": "unit", "normalise": "none", "impute": "none",
            "indicators": [{"code": "a1", "parent": "A"}, {"code": "a2", "parent": "A", "direction": -1},
                           {"code": "b1", "parent": "B"}, {"code": "b2", "parent": "B"}],
            "aggregates": [{"code": "A", "level": 2, "parent": "I"}, {"code": "B", "level": 2, "parent": "I"},
                           {"code": "I", "level": 3}],
            "weights": {"method": "calibrated", "level": 1, "target": {"A": "ya", "B": "yb"},
                        "model": {"knots": 0, "smoothing": 0, **model}}}
    return parse_engine_spec(body, "test")


def test_linear_criterion_is_recovered_exactly_and_applied_to_rows_without_it():
    f = table()
    fitted = fit(f, spec())
    assert fitted.fit_rows == 180  # the rows with every criterion
    res = fitted.apply(f)
    truth_a = 2.0 + 0.5 * f["a1"] - 0.3 * f["a2"]  # hand-computed: also on the 60 rows without a criterion
    np.testing.assert_allclose(res.scores["A"].to_numpy(), truth_a, atol=1e-9)
    m = fitted.model.models["A"]
    fit_rows = f.iloc[:180]
    assert m.intercept == pytest.approx(fit_rows["ya"].mean())
    # knots 0: one ramp per indicator, z = (x - median) / IQR; its coefficient is slope x IQR
    iqr = np.subtract(*np.quantile(fit_rows["a1"], [0.75, 0.25]))
    assert m.coef[0] == pytest.approx(0.5 * iqr)
    # the level above aggregates with the metadata's weights (arithmetic mean of A and B)
    np.testing.assert_allclose(res.scores["I"], (res.scores["A"] + res.scores["B"]) / 2, rtol=1e-12)


def test_contributions_add_up_and_monotone_children_never_fall():
    f = table()
    res = build(f, spec(knots=3, smoothing=1.0, free=["b2"]))
    c = res.contributions[res.contributions["level"] == 2]
    total = c.groupby(["unit", "node"], sort=False)["contribution"].sum().unstack()
    np.testing.assert_allclose(total.loc[res.units, "A"], res.scores["A"], rtol=0, atol=1e-12)
    assert {"_baseline", "a1", "a2"} <= set(c.loc[c["node"] == "A", "child"])
    # b1 has direction 1: its contribution is non-decreasing in b1 (the criterion is flat below 0)
    b1 = c[c["child"] == "b1"].set_index("unit")["contribution"].loc[res.units].to_numpy()
    order = np.argsort(f["b1"].to_numpy())
    assert (np.diff(b1[order]) >= -1e-12).all()
    # a2 has direction -1: non-increasing in a2
    a2 = c[c["child"] == "a2"].set_index("unit")["contribution"].loc[res.units].to_numpy()
    assert (np.diff(a2[np.argsort(f["a2"].to_numpy())]) <= 1e-12).all()


def test_fit_rows_and_location_term():
    f = table()
    only_first = np.arange(len(f)) < 100
    fitted = fit(f, spec(location={"centres": 5, "bandwidth_km": 30, "columns": ["x", "y"]}), rows=only_first)
    assert fitted.fit_rows == 100
    assert fitted.model.models["A"].intercept == pytest.approx(f["ya"].iloc[:100].mean())
    res = fitted.apply(f)
    assert "_ligging" in set(res.contributions["child"]) and res.scores["B"].notna().all()


def test_record_replays_identical_scores_without_refitting(tmp_path):
    f = table()
    res = build(f, spec(knots=2, smoothing=0.5, location={"centres": 4, "bandwidth_km": 25, "columns": ["x", "y"]}))
    res.write(tmp_path, "en")  # what 'leefbaar index build' writes
    assert (tmp_path / "scores_level2_level2.csv").exists() and "calibrated" in (tmp_path / "summary_en.md").read_text()
    record = json.loads((tmp_path / "record.json").read_text())
    weights = next(s for s in record["steps"] if s["step"] == "weights")
    assert set(weights["details"]["fitted"]["models"]) == {"A", "B"}
    again = replay(record, f)
    assert again.scores.equals(res.scores)  # bit for bit
    assert from_record(record).model.params() == json.loads(json.dumps(res.record))["steps"][-2]["details"]["fitted"]
    changed = f.copy()
    changed.loc[3, "a1"] += 1
    with pytest.raises(InputError, match="differ"):
        replay(record, changed)


def test_fit_then_apply_equals_build_for_weights_without_a_model():
    from leefbaar.index.engine.spec import parse_engine_spec as parse

    f = table(missing=0)
    body = {"unit": "unit", "normalise": {"method": "zscore"},
            "indicators": [{"code": c, "parent": c[0].upper()} for c in ("a1", "a2", "b1", "b2")],
            "aggregates": [{"code": "A", "level": 2, "parent": "I"}, {"code": "B", "level": 2, "parent": "I"},
                           {"code": "I", "level": 3}], "weights": {"method": "pca", "levels": [1]}}
    s = parse(body, "pca")
    assert fit(f, s).apply(f).scores.equals(build(f, s).scores)
    half = np.arange(len(f)) < 120
    part = fit(f, s, rows=half)
    assert part.fit_rows == 120
    on_half = build(f[half], s).weights
    np.testing.assert_array_equal(part.weights[0], [on_half[c] for c in ("a1", "a2", "b1", "b2")])
    assert not np.array_equal(part.weights[0], fit(f, s).weights[0])
    applied = part.apply(f)  # weights fitted on half the rows, applied to all: the record replays that
    assert replay(json.loads(json.dumps(applied.record)), f).scores.equals(applied.scores)
    assert not applied.scores.equals(build(f, s).scores)


@pytest.mark.parametrize("change, message", [
    ({"target": "ya"}, "map every parent"),
    ({"target": {"A": "ya", "Z": "yb"}}, "not a node of level 2"),
    ({"target": {"A": "ya"}}, "no criterion for 'B'"),
    ({"model": {"free": ["nope"]}}, "unknown indicator"),
    ({"model": {"knots": 1.5}}, "whole number"),
    ({"model": {"location": {"centres": 4}}}, "coordinate columns"),
    ({"model": {"smooth": 1}}, "unknown option"),
    ({"method": "pca", "levels": [1]}, "applies only to method calibrated"),
    ({"level": 2}, "level: 1"),
])
def test_bad_model_blocks_are_refused(change, message):
    body = {"unit": "unit", "indicators": [{"code": "a1", "parent": "A"}, {"code": "b1", "parent": "B"}],
            "aggregates": [{"code": "A", "level": 2, "parent": "I"}, {"code": "B", "level": 2, "parent": "I"},
                           {"code": "I", "level": 3}],
            "weights": {"method": "calibrated", "level": 1, "target": {"A": "ya", "B": "yb"}, "model": {}}}
    body["weights"].update(change)
    if change.get("method") == "pca":
        body["weights"].pop("target")
    with pytest.raises(SpecError, match=message):
        parse_engine_spec(body, "bad")


def test_model_data_errors_name_row_and_column():
    f = table()
    f["ya"] = f["ya"].astype(object)
    f.loc[4, "ya"] = "n/a"
    with pytest.raises(InputError, match="row 6.*'ya'|'ya'.*row 6"):
        fit(f, spec())
    g = table()
    g.loc[5, "unit"] = "u1"
    with pytest.raises(InputError, match="appears twice"):
        fit(g, spec())


def test_paths_that_take_weights_refuse_a_model_clearly():
    from leefbaar.index.engine.build import run, validate

    f, s = table(), spec()
    with pytest.raises(SpecError, match="not a set of weights"):
        run(validate(f, s), s)
