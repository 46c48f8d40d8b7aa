"""Store.bulk: many sources written in few statements, with the same result as writing them one by one (later
sources win per (code, level, year, indicator), areas keep the first non-NULL value, and a failure leaves the
store as it was), whether everything is staged until the end or flushed on the way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from leefbaar.sources.batch import AREA_COLUMNS, Batch
from leefbaar.store import store as store_module
from leefbaar.store.store import Store


def batch(tmp_path, name: str, rows: list[tuple], areas: list[tuple] | None = None,
          categorical: bool = False) -> Batch:
    """A batch of observations (code, year, indicator, value) at level pc4, from a file ``name``."""
    path = tmp_path / name
    path.write_text(name)
    obs = pd.DataFrame(rows, columns=["code", "year", "indicator", "value"])
    obs = obs.assign(level="pc4", vintage=2017, status=np.where(obs["value"].isna(), "missing", "ok"))
    if categorical:
        obs = obs.astype({c: "category" for c in ("code", "level", "indicator", "status")})
    area = pd.DataFrame(areas or [], columns=["code", "name"]).assign(level="pc4", vintage=2017)
    area = area.reindex(columns=AREA_COLUMNS).astype({"vintage": int})
    return Batch("test", path, "publisher", "CC BY 4.0", len(obs), areas=area, observations=obs)


def rows(st: Store) -> dict[tuple, tuple]:
    out = st.sql("SELECT o.code, o.year, o.indicator, o.value, s.file FROM observations o "
                 "JOIN sources s USING (source_id) ORDER BY ALL")
    return {(c, y, i): (None if pd.isna(v) else v, f.split("/")[-1]) for c, y, i, v, f in out.itertuples(index=False)}


@pytest.mark.parametrize("flush_rows", [store_module.FLUSH_ROWS, 1])
def test_later_sources_win_and_areas_keep_the_first_value(tmp_path, monkeypatch, flush_rows):
    monkeypatch.setattr(store_module, "FLUSH_ROWS", flush_rows)
    a = batch(tmp_path, "a.csv", [("1011", 2020, "pop", 1.0), ("1012", 2020, "pop", 2.0),
                                  ("1011", 2021, "pop", 3.0)], [("1011", None), ("1012", "B")])
    b = batch(tmp_path, "b.csv", [("2000", 2020, "inc", 9.0)], categorical=True)
    c = batch(tmp_path, "c.csv", [("1012", 2020, "pop", 20.0), ("1013", 2020, "pop", np.nan)],
              [("1011", "A"), ("1012", "other")], categorical=True)
    with Store.open(tmp_path / "s.duckdb", read_only=False, build=True) as st:
        with st.transaction(), st.bulk():
            for x in (a, b, c):
                st.ingest(x)
        assert rows(st) == {("1011", 2020, "pop"): (1.0, "a.csv"), ("1012", 2020, "pop"): (20.0, "c.csv"),
                            ("1011", 2021, "pop"): (3.0, "a.csv"), ("2000", 2020, "inc"): (9.0, "b.csv"),
                            ("1013", 2020, "pop"): (None, "c.csv")}
        names = dict(st.sql("SELECT code, name FROM areas ORDER BY code").itertuples(index=False))
        assert names == {"1011": "A", "1012": "B"}  # NULL filled by a later source, a value kept
        # a later build replaces stored rows with the same key, and leaves the others
        d = batch(tmp_path, "d.csv", [("1011", 2020, "pop", 100.0)])
        with st.transaction(), st.bulk():
            st.ingest(d)
        assert rows(st)[("1011", 2020, "pop")] == (100.0, "d.csv")
        assert rows(st)[("1012", 2020, "pop")] == (20.0, "c.csv")
        assert st.sql("SELECT count(*) AS n FROM observations")["n"].iloc[0] == 5


def test_a_failure_in_bulk_leaves_the_store_as_it_was(tmp_path):
    a = batch(tmp_path, "a.csv", [("1011", 2020, "pop", 1.0)])
    with Store.open(tmp_path / "s.duckdb", read_only=False, build=True) as st:
        with st.transaction(), st.bulk():
            st.ingest(a)
        before = rows(st)
        b = batch(tmp_path, "b.csv", [("1011", 2020, "pop", 5.0), ("1012", 2020, "pop", 6.0)])
        with pytest.raises(RuntimeError), st.transaction(), st.bulk():
            st.ingest(b)
            raise RuntimeError("killed")
        assert rows(st) == before
        assert st.sql("SELECT count(*) AS n FROM sources")["n"].iloc[0] == 1


def test_written_tables_are_released_before_the_commit(tmp_path, monkeypatch):
    """DuckDB keeps what a statement reads alive until the transaction ends: the store hands it streams, so that
    the observations of a build, or the chunks of an append, are not all held in memory until the commit."""
    monkeypatch.setattr(store_module, "FLUSH_ROWS", 1)  # every ingest is written at once
    n = 200_000
    with Store.open(tmp_path / "s.duckdb", read_only=False, build=True) as st:
        base = pa.total_allocated_bytes()
        with st.transaction():
            with st.bulk():
                for k in range(3):
                    b = batch(tmp_path, f"{k}.csv", [(f"{c:06d}", 2020 + k, "pop", 1.0) for c in range(n)],
                              categorical=True)
                    st.ingest(b)
                    del b
                    assert pa.total_allocated_bytes() - base < 1_000_000
            for k in range(3):  # a derived table written chunk by chunk (as the contributions are)
                chunk = pa.table({"unit": pa.array(np.arange(n)).cast(pa.int32()), "source_id": pa.array(
                    np.full(n, k)).cast(pa.int32())})
                st.append("chunked", chunk)
                del chunk
                assert pa.total_allocated_bytes() - base < 1_000_000
        assert st.sql("SELECT count(*) AS n FROM observations")["n"].iloc[0] == 3 * n
        assert st.sql("SELECT count(*) AS n, sum(unit) AS s FROM chunked").iloc[0].tolist() == [3 * n,
                                                                                             3 * n * (n - 1) // 2]
        assert st._extra_tables() == ["chunked"]  # a created table with source_id is remembered, from Arrow too
