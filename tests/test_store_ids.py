"""observations stored integer-keyed (obs_values and its dimension tables) behind a view with the long columns;
a store of schema version 1 (observations a table of text keys) is converted with its rows kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from leefbaar.errors import StoreError
from leefbaar.sources.batch import AREA_COLUMNS, Batch
from leefbaar.store.store import Store

LONG = [("code", "VARCHAR"), ("level", "VARCHAR"), ("vintage", "INTEGER"), ("year", "INTEGER"),
        ("indicator", "VARCHAR"), ("value", "DOUBLE"), ("status", "VARCHAR"), ("source_id", "INTEGER")]


def batch(tmp_path, name: str, rows: list[tuple]) -> Batch:
    """Observations (code, level, year, indicator, value) from a file ``name``."""
    path = tmp_path / name
    path.write_text(name)
    obs = pd.DataFrame(rows, columns=["code", "level", "year", "indicator", "value"])
    obs = obs.assign(vintage=2020, status=np.where(obs["value"].isna(), "suppressed", "ok"))
    areas = pd.DataFrame({"code": obs["code"], "level": obs["level"], "vintage": 2020}).reindex(
        columns=AREA_COLUMNS).drop_duplicates(["code", "level"])
    return Batch("test", path, "publisher", "CC BY 4.0", len(obs), areas=areas, observations=obs)


def long(st: Store) -> pd.DataFrame:
    return st.sql("SELECT * EXCLUDE (source_id) FROM observations ORDER BY level, code, year, indicator")


ROWS = [("0363", "gemeente", 2020, "inwoner", 900.0), ("0363", "pc4", 2020, "inwoner", 9.0),
        ("1011", "pc4", 2020, "inwoner", 1.0), ("1011", "pc4", 2021, "wozwoning", None),
        ("1012", "pc4", 2021, "inwoner", 2.0)]


@pytest.fixture
def built(tmp_path):
    path = tmp_path / "s.duckdb"
    with Store.open(path, read_only=False, build=True) as st, st.transaction():
        st.ingest(batch(tmp_path, "a.csv", ROWS))
        st.mark_built()
    return path


def test_view_has_the_long_columns_and_one_area_per_level_and_code(built):
    with Store.open(built) as st:
        cols = st.sql("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = "
                      "'observations' ORDER BY ordinal_position")
        assert list(cols.itertuples(index=False, name=None)) == LONG
        got = long(st)
        assert list(got.itertuples(index=False, name=None))[:2] == [
            ("0363", "gemeente", 2020, 2020, "inwoner", 900.0, "ok"), ("0363", "pc4", 2020, 2020, "inwoner", 9.0, "ok")]
        assert st.sql("SELECT count(*) AS n FROM obs_areas")["n"].iloc[0] == 4  # 0363 at two levels: two areas
        wide = st.table("pc4", with_status=True)
        assert wide[["code", "year"]].values.tolist() == [["0363", 2020], ["1011", 2020], ["1011", 2021],
                                                         ["1012", 2021]]
        assert wide["inwoner"].tolist()[:2] == [9.0, 1.0] and np.isnan(wide["inwoner"].iloc[2])
        assert wide["wozwoning__status"].tolist() == [np.nan, np.nan, "suppressed", np.nan]
        assert st.table("gemeente")["inwoner"].tolist() == [900.0]


def _as_version_1(path) -> None:
    """Turn a store into schema version 1: observations a table of text keys, no obs_* tables."""
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE observations_v1 AS SELECT * FROM observations")
    con.execute("DROP VIEW observations")
    for t in ("obs_values", "obs_areas", "obs_indicators", "obs_statuses"):
        con.execute(f"DROP TABLE {t}")
    con.execute("ALTER TABLE observations_v1 RENAME TO observations")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.close()


def test_a_version_1_store_is_converted_with_its_rows_kept(built, tmp_path):
    with Store.open(built) as st:
        before, wide = long(st), st.table("pc4", with_status=True)
    _as_version_1(built)
    with pytest.raises(StoreError, match="schema version '1'.*open it for writing once"):
        Store.open(built)
    with Store.open(built, read_only=False) as st:
        pd.testing.assert_frame_equal(long(st), before)
        pd.testing.assert_frame_equal(st.table("pc4", with_status=True), wide)
        with st.transaction():  # ids continue after the converted ones
            st.ingest(batch(tmp_path, "b.csv", [("1013", "pc4", 2021, "inwoner", 3.0),
                                                ("1011", "pc4", 2020, "inwoner", 5.0)]))
        assert st.sql("SELECT count(DISTINCT area) AS n FROM obs_areas")["n"].iloc[0] == 5
    with Store.open(built) as st:
        got = long(st).set_index(["level", "code", "year", "indicator"])["value"]
        assert got[("pc4", "1013", 2021, "inwoner")] == 3.0 and got[("pc4", "1011", 2020, "inwoner")] == 5.0
        assert len(got) == len(before) + 1


def test_a_failed_ingest_adds_no_ids(built, tmp_path):
    with Store.open(built, read_only=False) as st:
        counts = {t: st.sql(f"SELECT count(*) AS n FROM {t}")["n"].iloc[0] for t in ("obs_areas", "obs_indicators")}
        with pytest.raises(RuntimeError), st.transaction():
            st.ingest(batch(tmp_path, "c.csv", [("9999", "pc4", 2022, "new_indicator", 1.0)]))
            raise RuntimeError("killed")
        assert {t: st.sql(f"SELECT count(*) AS n FROM {t}")["n"].iloc[0] for t in counts} == counts


def test_table_of_a_level_whose_area_ids_are_not_one_block(built, tmp_path):
    with Store.open(built, read_only=False) as st:
        with st.transaction():
            st.ingest(batch(tmp_path, "g.csv", [("0599", "gemeente", 2020, "inwoner", 600.0)]))
            st.ingest(batch(tmp_path, "p.csv", [("1010", "pc4", 2020, "inwoner", 10.0)]))
        ids = st.sql("SELECT level, list(area ORDER BY area) AS ids FROM obs_areas GROUP BY level ORDER BY level")
        assert ids["ids"].map(list).tolist() == [[0, 4], [1, 2, 3, 5]]
        wide = st.table("pc4", [2020])
        assert wide.values.tolist() == [["0363", 2020, 9.0], ["1010", 2020, 10.0], ["1011", 2020, 1.0]]
        assert st.table("gemeente", indicators=["inwoner"])["inwoner"].tolist() == [900.0, 600.0]
