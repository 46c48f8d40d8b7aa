"""Store.table pivots in DuckDB: the same frame as a pandas pivot of the long rows (real CBS PC4 files)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leefbaar.errors import StoreError
from leefbaar.sources.registry import discover
from leefbaar.store.store import Store

DATA = Path(os.environ.get("LEEFBAAR_DATA", "/work/shared/data"))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    found, _ = discover(DATA)
    picked = [(f, p) for f, p in found if p.name in ("cbs_pc4_2018.csv", "cbs_pc4_2019.csv")]
    assert len(picked) == 2
    path = tmp_path_factory.mktemp("scale") / "s.duckdb"
    with Store.open(path, read_only=False, build=True) as st, st.transaction():
        for fam, p in picked:
            out = fam.read(p)
            for batch in out if isinstance(out, list) else [out]:
                st.ingest(batch)
        st.mark_built()
    with Store.open(path, read_only=False) as st:
        yield st


def _pandas_pivot(st: Store, years, inds) -> pd.DataFrame:
    long = st.sql(f"SELECT code, year, indicator, value, status FROM observations WHERE level = 'pc4' AND year IN "
                  f"({', '.join(map(str, years))}) AND indicator IN ({', '.join(repr(i) for i in inds)})")
    wide = long.pivot(index=["code", "year"], columns="indicator", values="value")
    st_ = long.pivot(index=["code", "year"], columns="indicator", values="status").add_suffix("__status")
    wide = wide.join(st_)
    cols = [c for c in inds if c in wide.columns]
    wide = wide[cols + [f"{c}__status" for c in cols]].reset_index().sort_values(["code", "year"], ignore_index=True)
    wide.columns.name = None
    return wide


def test_table_equals_pandas_pivot(store):
    inds = ["wozwoning", "inwoner", "p_koopwon", "uitkminaow", "not_in_these_files_but_known"]
    inds = [i for i in inds if i in set(store.sql("SELECT id FROM indicators")["id"])]
    got = store.table("pc4", [2018, 2019], inds, with_status=True)
    want = _pandas_pivot(store, [2018, 2019], inds)
    assert got["code"].nunique() > 4000 and (got.filter(like="__status") == "suppressed").any().any()
    status = [c for c in got.columns if c.endswith("__status")]
    assert all(isinstance(got[c].dtype, pd.CategoricalDtype) for c in status)  # a byte a row
    pd.testing.assert_frame_equal(got.astype({c: want[c].dtype for c in status}), want)
    assert np.isnan(got["uitkminaow"]).any()  # suppressed values stay NaN


def test_table_refuses_duplicate_keys(store):
    store.con.execute("INSERT INTO obs_values SELECT v.* FROM obs_values v JOIN obs_areas a ON v.area = a.area "
                      "JOIN obs_indicators i ON v.indicator = i.indicator WHERE a.level = 'pc4' AND v.year = 2018 "
                      "AND i.name = 'inwoner' LIMIT 1")
    with pytest.raises(StoreError, match="twice"):
        store.table("pc4", [2018], ["inwoner"])
