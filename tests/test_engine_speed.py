"""The public ``build`` is fast because it converts the table at once and makes its tables on access, not by
doing less: its record replays to the same result, its data hash tells data apart, bad cells are still named by
row and column, the caller's table and spec document are left as they were, and a cached spec is an
independent copy. (Speed itself is measured in benchmarks/bench_engine.py, never in a test.)"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from leefbaar.errors import InputError, SpecError
from leefbaar.index.engine import build, parse_engine_spec, read_meta, read_table, replay, validate

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

HIER = {"indicators": [{"code": "a", "parent": "P"}, {"code": "b", "parent": "P", "direction": -1},
                       {"code": "c", "parent": "Q", "weight": 2, "denominator": "pop"}, {"code": "d", "parent": "Q"}],
        "aggregates": [{"code": "P", "parent": "I", "level": 2}, {"code": "Q", "parent": "I", "level": 2},
                       {"code": "I", "level": 3}]}


def small() -> pd.DataFrame:
    f = pd.DataFrame(np.random.default_rng(5).lognormal(size=(8, 4)) * 10, columns=list("abcd"))
    f.insert(0, "unit", [f"u{i}" for i in range(8)])
    f["pop"] = np.arange(8) * 100.0 + 50
    f.loc[2, "b"] = np.nan
    return f


def spec(**kw):
    return parse_engine_spec({"name": "t", "unit": "unit", **HIER, **kw}, "t.yaml")


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as a CSV reader with ``dtype=object`` gives it (numbers as text, missing as NaN)."""
    return frame.astype(object).map(lambda v: v if isinstance(v, str) or pd.isna(v) else repr(v))


@pytest.fixture(scope="module")
def asem(data_dir):
    folder = data_dir / "peers" / "coinr_asem"
    return read_table(folder / "ASEM_iData.csv"), read_meta(folder / "ASEM_iMeta.csv")


def test_asem_record_replays_to_the_same_result_and_record(asem):
    data, meta = asem
    s = parse_engine_spec({"name": "asem", "unit": "uCode", "label": "uName", "denominate": True,
                           "impute": {"method": "group_mean", "group": "EurAsia_group"}, "treat": {"winmax": 5},
                           "screen": {"min_share": 0.5}, "normalise": {"method": "minmax", "range": [0, 100]},
                           "aggregate": {"method": "arithmetic"}}, "asem.yaml", meta=meta)
    r = build(data, s, "ASEM_iData.csv")
    record = json.loads(json.dumps(r.record, default=str))  # as written to record.json and read back
    again = replay(record, data, "ASEM_iData.csv")
    assert json.dumps(again.record, sort_keys=True, default=str) == json.dumps(r.record, sort_keys=True, default=str)
    for table in ("scores", "ranks", "contributions", "indicator_contributions"):
        pd.testing.assert_frame_equal(getattr(again, table), getattr(r, table))
    for step, frame in r.data.items():
        pd.testing.assert_frame_equal(again.data[step], frame)
    # the lazy tables hold what the arrays hold
    top = s.hierarchy.codes(4)[0]
    np.testing.assert_array_equal(r.scores[top].to_numpy(), r.values[-1][:, 0])
    assert r.scores.index.tolist() == r.units.tolist() and len(r.units) <= 51
    assert r.record["data"]["units"] == 51 and len(r.record["data"]["sha256"]) == 64


def test_same_values_same_hash_other_values_other_hash():
    f = small()
    h = validate(f, spec(denominate=True)).sha256
    assert validate(as_text(f), spec(denominate=True)).sha256 == h  # read as text or as numbers: same values
    assert validate(f.assign(extra=1.0), spec(denominate=True)).sha256 == h  # unused columns do not count
    changed = [f.assign(a=f["a"].where(f.index != 3, 1.5)),  # a value
               f.assign(pop=f["pop"] + 1),  # a denominator
               f.assign(unit=[f"v{i}" for i in range(8)]),  # a unit code
               f.iloc[::-1].reset_index(drop=True),  # the order of the rows
               f.assign(b=f["b"].fillna(0.0))]  # a missing value filled
    for g in changed:
        assert validate(g, spec(denominate=True)).sha256 != h
    assert validate(f, spec()).sha256 != h  # without denominate the denominator is not read


def test_replay_refuses_other_data_and_older_records():
    f = small()
    r = build(f, spec())
    with pytest.raises(InputError, match="differ from the data of the record"):
        replay(r.record, f.assign(d=f["d"] * 2))
    with pytest.raises(SpecError, match="engine version 0, not"):
        replay({**r.record, "engine_version": 0}, f)


@pytest.mark.parametrize("change, where", [
    (lambda f: f.assign(b=f["b"].astype(object).where(f.index != 4, "n/a")), r"row 6, column 'b'.*'n/a' is not"),
    (lambda f: as_text(f).assign(c=lambda g: g["c"].where(g.index != 6, "1,5")), r"row 8, column 'c'.*'1,5'"),
    (lambda f: f.assign(a=f["a"].where(f.index != 1, np.inf)), r"row 3, column 'a'.*infinite"),
    (lambda f: f.assign(unit=f["unit"].where(f.index != 5, " ")), r"row 7, column 'unit'.*unit code is missing"),
    (lambda f: f.assign(unit=f["unit"].where(f.index != 6, "u1")), r"row 8, column 'unit'.*'u1' appears twice"),
    (lambda f: pd.concat([f, f[["a"]]], axis=1), r"column 'a'.*two columns"),
    (lambda f: f.drop(columns="d"), r"column 'd'.*no such column"),
    (lambda f: f.drop(columns="pop"), r"column 'pop'.*no such column"),
])
def test_bad_cells_are_named(change, where):
    with pytest.raises(InputError, match=where):
        validate(change(small()), spec(denominate=True), "mine.csv")


def test_text_blanks_and_na_are_missing_and_the_table_is_left_as_it_was():
    f = as_text(small())
    f.loc[0, "a"], f.loc[1, "d"], f.loc[3, "c"] = "  ", pd.NA, ""
    before = f.copy()
    X = validate(f, spec()).X
    pd.testing.assert_frame_equal(f, before)
    assert np.isnan(X[0, 0]) and np.isnan(X[1, 3]) and np.isnan(X[3, 2]) and np.isnan(X[2, 1])
    assert np.isnan(X).sum() == 4
    np.testing.assert_allclose(X[4], small().loc[4, list("abcd")].to_numpy(float))


def test_cached_spec_is_an_independent_copy():
    doc = {"name": "t", "unit": "unit", **HIER, "normalise": {"method": "minmax", "per_indicator": {"a": "rank"}}}
    first = parse_engine_spec(doc, "t.yaml")
    assert doc["normalise"]["per_indicator"] == {"a": "rank"}  # the caller's document is not changed
    second = parse_engine_spec(doc, "t.yaml")
    assert second is not first and second.raw == first.raw and second.normaliser_per == first.normaliser_per
    second.raw["name"] = "changed"
    second.hierarchy.nodes["a"].weight = 9.0
    third = parse_engine_spec(doc, "t.yaml")
    assert third.raw["name"] == "t" and third.hierarchy.nodes["a"].weight == 1.0
    assert parse_engine_spec(doc, "other.yaml").source == "other.yaml"  # the source is part of the content
    bad = {**doc, "aggregate": {"method": "mode"}}
    for _ in range(2):  # a refused spec is refused every time
        with pytest.raises(SpecError, match="is not one of"):
            parse_engine_spec(bad, "t.yaml")
