"""Downloads and prepared answers of the server under load: the streaming Excel and GeoPackage writers give the
same tables as the writers they replaced, the distributions made once per level equal the per-gemeente answer,
the kept national ranking filtered per gemeente equals the gemeente's ranking, and the DuckDB bounds are set."""

from __future__ import annotations

import io
import math

import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from leefbaar.facts.boundaries import wkb_table
from leefbaar.facts.distribution import distribution, distributions
from leefbaar.report import exports
from leefbaar.report.data import DashboardData, records
from leefbaar.store.store import Store
from leefbaar.web import create_app


def _openpyxl_workbook(frame: pd.DataFrame, sheet: str, notes: list[str]) -> bytes:
    """The workbook as the server wrote it before (pandas with openpyxl): the reference."""
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xw:
        exports.integers(frame).to_excel(xw, sheet_name=sheet, index=False)
        pd.DataFrame({"toelichting / notes": notes}).to_excel(xw, sheet_name="bron", index=False)
    return buf.getvalue()


def _cells(body: bytes) -> dict[str, list[tuple]]:
    wb = openpyxl.load_workbook(io.BytesIO(body))
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}


def test_streamed_excel_holds_the_cells_the_openpyxl_writer_held():
    frame = pd.DataFrame({
        "code": ["3072", " lead", "a&b<c>\"d'", "tab\there", None],
        "year": [2022.0, 2022.0, np.nan, 2020.0, 2021.0],  # whole numbers: written as integers
        "total": [4.123456789012345, -0.5, np.nan, 1e-7, 12345678.25],
        "klasse": pd.array([9, None, 1, 4, 5], dtype="Int64"),
        "classed": [True, False, True, True, False],
        "label": ["Rotterdam – Feijenoord", "Zuid-Holland", "", "x" * 300, "ë"],
        "inf": [math.inf, -math.inf, 1.0, 2.5, np.nan],
    })
    notes = ["leefbaar 1.0", "CBS (CC BY 4.0)"]
    body = exports.xlsx_bytes(frame, "kaart", notes)
    new, old = _cells(body), _cells(_openpyxl_workbook(frame, "kaart", notes))
    assert list(new) == ["kaart", "bron"] == list(old)
    assert new["bron"] == old["bron"]
    assert new["kaart"] == old["kaart"]
    ctrl = _cells(exports.xlsx_bytes(pd.DataFrame({"t": ["a\x01b\x1fc"]})))["data"]
    assert ctrl == [("t",), ("abc",)]  # XML cannot hold control characters: dropped (openpyxl refused them)
    ws = openpyxl.load_workbook(io.BytesIO(body))["kaart"]
    assert ws["A1"].font.b and ws.freeze_panes == "A2" and ws["B2"].value == 2022 and isinstance(ws["B2"].value, int)


def test_streamed_excel_of_many_rows_in_chunks(tmp_path):
    n = exports.ROWS_PER_CHUNK * 2 + 7
    frame = pd.DataFrame({"code": [f"{i:04d}" for i in range(n)], "value": np.arange(n) / 3})
    path = tmp_path / "t.xlsx"
    exports.write_xlsx(frame, path, "data")
    rows = _cells(path.read_bytes())["data"]
    assert len(rows) == n + 1 and rows[-1] == (f"{n - 1:04d}", (n - 1) / 3)


@pytest.fixture(scope="module")
def data(store_file):
    with Store.open(store_file) as st:
        yield DashboardData(st)


def test_geopackage_from_stored_wkb_equals_the_geodataframe_download(data, tmp_path):
    st = data.store
    year = data.score_years("pc4")[-1]
    frame = data.map_frame("pc4", year, "total").iloc[::-1]  # any row order: the layer follows the boundaries
    exports.write_gpkg(frame, wkb_table(data.sql, "pc4"), tmp_path / "new.gpkg", "kaart")
    # the reference: the GeoDataFrame route the download took before
    old_frame = exports.integers(st.geometries("pc4", crs=28992)[["code", "geometry"]].merge(frame, on="code",
                                                                                            how="inner"))
    old_frame.to_file(tmp_path / "old.gpkg", layer="kaart", driver="GPKG", engine="pyogrio")
    new, old = (pyogrio.read_dataframe(tmp_path / f"{n}.gpkg") for n in ("new", "old"))
    assert len(new) == len(old) > 1000 and list(new.columns) == list(old.columns)
    assert new.drop(columns="geometry").equals(old.drop(columns="geometry"))
    assert shapely.equals_exact(np.asarray(new.geometry), np.asarray(old.geometry), 0).all()
    info = pyogrio.read_info(tmp_path / "new.gpkg")
    assert info["crs"] == "EPSG:28992" and info["geometry_type"] == pyogrio.read_info(tmp_path / "old.gpkg")[
        "geometry_type"]


@pytest.mark.parametrize("level", ["pc4", "wijk", "gemeente"])
def test_distributions_of_every_gemeente_equal_the_answer_per_gemeente(data, level):
    if not data.score_years(level):
        pytest.skip(f"no scores at level {level} in the test store")
    pop = data.population
    rows = distributions(data.scores(level), data.facts.gemeente_of(level), pop[pop["level"] == level])
    gemeenten = [g["code"] for g in data.gemeenten()]
    assert set(rows) - {None} <= set(gemeenten) and len(rows) > 10
    for g in [None, *gemeenten[::25], "GM9999"]:
        assert distribution(rows, level, g) == data.distribution(level, g)


@pytest.fixture(scope="module")
def client(store_file):
    with TestClient(create_app(store_file, warm=False), raise_server_exceptions=False) as c:
        yield c


def test_ranking_of_a_gemeente_from_the_national_ranking(client, data):
    year = data.score_years("pc4")[-1]
    for g in ("GM0599", "GM0363", "GM0014"):
        got = client.get(f"/api/ranking/pc4?year={year}&gemeente={g}").json()
        assert got == records(data.ranking("pc4", year, g).astype({"klasse": "Int64"})) and got


def test_gap_and_downloads_hold_the_same_rows_as_before(client, data):
    year = data.score_years("pc4")[-1]
    gap = client.get("/api/gap/pc4?gemeente=GM0599").json()
    assert gap["years"] == data.distribution("pc4", "GM0599")["years"]
    r = client.get(f"/api/download/map/pc4?year={year}&measure=total&format=xlsx&gemeente=GM0599")
    assert r.status_code == 200 and r.headers["content-disposition"].endswith(f'leefbaar_pc4_{year}_total_GM0599.xlsx"')
    got = _cells(r.content)["kaart"]
    want = exports.integers(data.map_frame("pc4", year, "total", gemeente_code="GM0599"))
    assert got[0] == tuple(want.columns) and len(got) == len(want) + 1 > 10
    assert [r[2] for r in got[1:]] == want["code"].tolist()
    r = client.get(f"/api/download/map/pc4?year={year}&measure=total&format=gpkg&gemeente=GM0599")
    assert r.status_code == 200 and int(r.headers["content-length"]) == len(r.content)
    layer = pyogrio.read_dataframe(io.BytesIO(r.content))
    assert sorted(layer["code"]) == sorted(want["code"])
    assert client.get("/api/download/map/pc4?year=1991&measure=total&format=gpkg").status_code == 404


def test_duckdb_bounds_of_the_server(client, store_file):
    con = client.app.state.data.store.con
    limit, threads = con.execute("SELECT current_setting('memory_limit'), current_setting('threads')").fetchone()
    assert limit.replace(" ", "") in ("256.0MiB", "244.1MiB") and threads == 1
    with pytest.raises(ValueError, match="memory_limit"):
        Store.open(store_file, memory_limit="1; DROP TABLE x")
