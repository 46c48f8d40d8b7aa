"""Online sources against a loopback server with real CBS rows: paging, retries, cache, clean failure, build.

No test reaches beyond 127.0.0.1: ``loopback_only`` refuses every other address, and the default service
URLs point at the loopback server too.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from conftest import shared_data_dir
from leefbaar.build import build
from leefbaar.cli import main
from leefbaar.errors import SpecError
from leefbaar.sources import cbs
from leefbaar.sources.boundaries import BoundarySpec, read_boundary_layer
from leefbaar.sources.catalogue import columns_for
from leefbaar.sources.odata import (
    CbsOData,
    DownloadError,
    HttpClient,
    ResponseCache,
    kwb_tables,
    select_keys,
    stem,
    validate_kwb_catalogue,
)
from leefbaar.store.store import Store
from odata_server import LoopbackServer, refuse_remote

BASIS = "cbs_kwb/kwb2024_gemeente_wijk_basis.csv"


def _last_selected_key() -> str:
    """The last key of the default selection (the server renames the code book's _112.._114 to the data
    file's _122.._124): it ends the $select of TypedDataSet requests, which fault injection matches on."""
    path = shared_data_dir() / "cbs_meta" / "85984NED_kwb2024_DataProperties.csv"
    with open(path, newline="", encoding="utf-8") as f:
        props = [{k: (v or None) for k, v in r.items()} for r in csv.DictReader(f)]
    key = select_keys(props, 2024, None, "85984NED").keys[-1]
    return {"OppervlakteTotaal_112": "OppervlakteTotaal_122", "OppervlakteLand_113": "OppervlakteLand_123",
            "OppervlakteWater_114": "OppervlakteWater_124"}.get(key, key)


LAST_KEY = _last_selected_key()


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch, tmp_path):
    """Refuse any connection that is not to the loopback address; keep env defaults local."""
    refuse_remote(monkeypatch)
    monkeypatch.setenv("LEEFBAAR_CACHE", str(tmp_path / "default-cache"))


@pytest.fixture(scope="module")
def server(data_dir):
    with LoopbackServer(data_dir, page_size=4000, pdok_page_size=100) as srv:
        yield srv


@pytest.fixture
def srv(server, monkeypatch):
    server.log.clear()
    server._faults.clear()
    monkeypatch.setenv("LEEFBAAR_CBS_ODATA_URL", server.odata_root)
    monkeypatch.setenv("LEEFBAAR_PDOK_URL", server.pdok_root)
    yield server
    server._faults.clear()


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """Run ``leefbaar <args>`` in-process; returns (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["leefbaar", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def download(monkeypatch, capsys, out: Path, cache: Path, *extra: str) -> tuple[int, str, str]:
    return run(monkeypatch, capsys, "download", "--out", str(out), "--cache", str(cache), "--backoff", "0",
               *extra)


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def shared_basis(data_dir: Path) -> pd.DataFrame:
    return pd.read_csv(data_dir / BASIS, dtype={"WijkenEnBuurten": str}).set_index("WijkenEnBuurten")


# -- catalogue and column selection -----------------------------------------------------------------
def test_catalogue_has_one_table_per_year():
    tables = kwb_tables()
    years = [t.year for t in tables]
    assert years == list(range(2013, 2026))
    by_year = {t.year: t.table for t in tables}
    assert by_year[2017] == "83765NED" and by_year[2020] == "84799NED" and by_year[2024] == "85984NED"
    assert len({t.table for t in tables}) == len(tables)


@pytest.mark.parametrize("doc, message", [
    ({"kwb": [{"year": 2024, "table": "85984NED"}, {"year": 2024, "table": "85618NED"}]},
     "year 2024 appears twice"),
    ({"kwb": [{"year": 2024, "table": "85984"}]}, "not a StatLine id"),
    ({"kwb": [{"year": "2024", "table": "85984NED"}]}, "is not a year"),
    ({"kwb": [{"year": 2024}]}, "exactly the fields"),
    ({"tables": []}, "needs a non-empty list"),
])
def test_catalogue_validation_names_the_problem(doc, message):
    with pytest.raises(SpecError, match=message):
        validate_kwb_catalogue(doc)


def code_book(data_dir: Path) -> list[dict]:
    path = data_dir / "cbs_meta" / "85984NED_kwb2024_DataProperties.csv"
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: (v or None) for k, v in r.items()} for r in csv.DictReader(f)]


def test_default_selection_is_what_the_catalogue_maps(data_dir):
    props = code_book(data_dir)
    sel = select_keys(props, 2024, None, "85984NED")
    mapped = set(columns_for("kwb_statline", 2024))
    assert {"AantalInwoners_5", "Bevolkingsdichtheid_34", "OppervlakteTotaal_112"} <= set(sel.keys)
    assert {stem(k) for k in sel.keys} == mapped - set(sel.absent)
    assert sel.unmapped == ()
    topics = [p["Key"] for p in props if p["Type"] == "Topic"]
    assert list(sel.keys) == [k for k in topics if k in sel.keys]  # table order


def test_explicit_selection_by_stem_key_or_all(data_dir):
    props = code_book(data_dir)
    sel = select_keys(props, 2024, "AantalInwoners, GemiddeldeWOZWaardeVanWoningen_36", "85984NED")
    assert sel.keys == ("AantalInwoners_5", "GemiddeldeWOZWaardeVanWoningen_36")
    mapped = set(columns_for("kwb_statline", 2024))
    assert set(sel.unmapped) == {"GemiddeldeWOZWaardeVanWoningen"} - mapped
    everything = select_keys(props, 2024, "all", "85984NED")
    assert len(everything.keys) == 118 and everything.keys[0] == "Gemeentenaam_1"
    with pytest.raises(DownloadError, match=r"'Nederland' matches several keys \(Nederland_17, Nederland_20"):
        select_keys(props, 2024, "Nederland", "85984NED")
    with pytest.raises(DownloadError, match="85984NED: no column 'Bestaatniet'"):
        select_keys(props, 2024, "AantalInwoners,Bestaatniet", "85984NED")
    with pytest.raises(DownloadError, match="maps no StatLine stems .* for 2013; choose columns"):
        select_keys(props, 2013, None, "82339NED")


# -- the HTTP layer ---------------------------------------------------------------------------------
def test_backoff_doubles_and_retry_after_is_honoured(srv, tmp_path):
    waits: list[float] = []
    http = HttpClient(retries=3, backoff=0.5, sleep=waits.append)
    srv.inject("TableInfos", "503", "reset", "truncate")
    infos = CbsOData(http, srv.odata_root).table_infos("85984NED")
    assert infos["Identifier"] == "85984NED" and infos["Period"] == "2024"
    assert waits == [0.5, 1.0, 2.0]
    assert srv.requests_for("TableInfos") == 4


def test_cache_rejects_a_damaged_entry(tmp_path):
    cache = ResponseCache(tmp_path)
    cache.put("ns", "http://127.0.0.1/x", b'{"value": [1]}')
    assert cache.get("ns", "http://127.0.0.1/x") == b'{"value": [1]}'
    assert cache.get("other", "http://127.0.0.1/x") is None
    (entry,) = (tmp_path / "http").rglob("*.cache")
    entry.write_bytes(entry.read_bytes()[:-3])
    assert cache.get("ns", "http://127.0.0.1/x") is None
    assert not entry.exists()


def test_the_guard_refuses_other_hosts():
    with pytest.raises(AssertionError, match="tried to reach"):
        HttpClient(retries=0).get_json("http://192.0.2.1/TableInfos", what="guard")


# -- leefbaar download: CBS -------------------------------------------------------------------------
def test_download_then_build_gives_the_shared_values(srv, data_dir, tmp_path, monkeypatch, capsys):
    out, cache = tmp_path / "data", tmp_path / "cache"
    code, stdout, err = download(monkeypatch, capsys, out, cache, "--table", "85984NED")
    assert code == 0, err
    assert files_under(out) == [
        "cbs_kwb/kwb2024_buurt_statline.csv", "cbs_kwb/kwb2024_gemeente_wijk_basis.csv",
        "cbs_kwb/kwb2024_nederland_statline.csv", "cbs_meta/85984NED_kwb2024_DataProperties.csv",
        "cbs_meta/85984NED_kwb2024_TableInfos.csv", "cbs_meta/85984NED_kwb2024_WijkenEnBuurten.csv"]
    assert srv.requests_for("/TypedDataSet") == 5  # 18,310 regions in pages of 4,000
    assert "leefbaar build --data" in stdout

    # The downloaded file has the shared file's rows, keys and values.
    shared = shared_basis(data_dir)
    mine = pd.read_csv(out / BASIS, dtype={"WijkenEnBuurten": str}).set_index("WijkenEnBuurten")
    assert set(shared.columns) <= set(mine.columns)
    pd.testing.assert_frame_equal(mine[shared.columns].astype(float), shared.astype(float))

    # build ingests it: the store holds the same values per gemeente and wijk, and the names of the regions.
    store_path = tmp_path / "store.duckdb"
    report = build(out, store_path)
    fam = report.by_family().set_index("family")
    assert fam.loc["kwb_statline", "rows"] == 3735 and fam.loc["statline_regions", "rows"] == 18310
    stems = columns_for("kwb_statline", 2024)
    indicator = {c: stems[stem(c)].indicator for c in shared.columns}
    with Store.open(store_path) as st:
        for level, prefix in (("gemeente", "GM"), ("wijk", "WK")):
            got = st.table(level, years=[2024], indicators=list(indicator.values())).set_index("code")
            want = shared[shared.index.str.startswith(prefix)].rename(columns=indicator)
            assert len(got) == len(want) == (342 if level == "gemeente" else 3393)
            np.testing.assert_array_equal(got.loc[want.index, want.columns].to_numpy(float),
                                          want.to_numpy(float))
        names = st.areas("wijk", 2024).set_index("code")["name"]
        assert names["WK168000"] == "Wijk 00 Annen"

    # The buurt file reads with the same reader (the registry does not list it yet).
    batch = cbs.read_kwb_statline(out / "cbs_kwb" / "kwb2024_buurt_statline.csv")
    obs = batch.observations
    inw = obs[obs["indicator"] == "inwoner"].set_index("code")["value"]
    ref = pd.read_csv(data_dir / "cbs_kwb" / "kwb2024_buurt_inwoners.csv").set_index("nhood_id")["population"]
    assert len(inw) == len(ref) == 14574
    np.testing.assert_array_equal(inw.loc[ref.index].to_numpy(), ref.to_numpy(float))


def test_resets_503_and_truncated_bodies_are_retried(srv, data_dir, tmp_path, monkeypatch, capsys):
    srv.inject("TableInfos", "reset")
    srv.inject("DataProperties", "badjson")
    srv.inject("WijkenEnBuurten?$format=json&$skip=8000", "500")
    srv.inject(f"{LAST_KEY}&$skip=4000", "reset", "503")
    srv.inject(f"{LAST_KEY}&$skip=16000", "truncate")
    out = tmp_path / "data"
    code, _, err = download(monkeypatch, capsys, out, tmp_path / "cache", "--table", "85984NED")
    assert code == 0, err
    assert srv.requests_for(f"{LAST_KEY}&$skip=4000") == 3
    assert srv.requests_for(f"{LAST_KEY}&$skip=16000") == 2
    assert srv.requests_for("TableInfos") == 2 and srv.requests_for("DataProperties") == 2
    mine = pd.read_csv(out / BASIS, dtype={"WijkenEnBuurten": str}).set_index("WijkenEnBuurten")
    shared = shared_basis(data_dir)
    pd.testing.assert_frame_equal(mine[shared.columns].astype(float), shared.astype(float))
    assert len(pd.read_csv(out / "cbs_kwb" / "kwb2024_buurt_statline.csv")) == 14574


def test_a_failure_writes_nothing_and_the_next_run_resumes(srv, data_dir, tmp_path, monkeypatch, capsys):
    out, cache = tmp_path / "data", tmp_path / "cache"
    srv.inject(f"{LAST_KEY}&$skip=8000", "reset", "reset", "reset")
    code, _, err = download(monkeypatch, capsys, out, cache, "--table", "85984NED", "--retries", "2")
    assert code == 1
    line = err.strip()
    assert "\n" not in line and line.startswith("leefbaar: error: CBS table 85984NED: GET http://127.0.0.1:")
    assert f"{LAST_KEY}&$skip=8000 failed after 3 attempts: connection reset by peer" in line
    assert not out.exists()  # nothing half-written: no file, not even the folder

    srv.log.clear()
    code, _, err = download(monkeypatch, capsys, out, cache, "--table", "85984NED")
    assert code == 0, err
    # Only the pages that were not complete are fetched again; the table version is always checked.
    assert srv.requests_for("/TypedDataSet") == 3 and srv.requests_for(f"{LAST_KEY}&$skip=4000") == 0
    assert srv.requests_for("/WijkenEnBuurten") == 0 and srv.requests_for("/DataProperties") == 0
    assert srv.requests_for("/TableInfos") == 1
    mine = pd.read_csv(out / BASIS, dtype={"WijkenEnBuurten": str}).set_index("WijkenEnBuurten")
    shared = shared_basis(data_dir)
    pd.testing.assert_frame_equal(mine[shared.columns].astype(float), shared.astype(float))


def test_a_damaged_cache_page_is_fetched_again(srv, tmp_path, monkeypatch, capsys):
    out, cache = tmp_path / "data", tmp_path / "cache"
    assert download(monkeypatch, capsys, out, cache, "--table", "85984NED")[0] == 0
    first = (out / BASIS).read_bytes()
    page = next(t for t in srv.log if t.endswith(f"{LAST_KEY}&$skip=4000"))
    infos = CbsOData(HttpClient(), srv.odata_root).table_infos("85984NED")
    entry = ResponseCache(cache)._path(f"cbs/85984NED/{infos['Modified']}", srv.base + page)
    data = bytearray(entry.read_bytes())
    data[-10] ^= 0x01
    entry.write_bytes(bytes(data))
    srv.log.clear()
    assert download(monkeypatch, capsys, out, cache, "--table", "85984NED")[0] == 0
    assert srv.requests_for("/TypedDataSet") == 1 and srv.requests_for(f"{LAST_KEY}&$skip=4000") == 1
    assert (out / BASIS).read_bytes() == first


def test_select_writes_only_the_chosen_columns(srv, tmp_path, monkeypatch, capsys):
    out = tmp_path / "data"
    code, _, err = download(monkeypatch, capsys, out, tmp_path / "cache", "--kwb", "2024", "--select",
                            "AantalInwoners")
    assert code == 0, err
    lines = (out / BASIS).read_text().splitlines()
    assert lines[0] == "WijkenEnBuurten,AantalInwoners_5" and lines[1] == "GM1680,25845"


@pytest.mark.parametrize("args, message", [
    (("--table", "99999NED"), "CBS table 99999NED: GET http://127.0.0.1:"),
    (("--table", "banana"), "'BANANA' is not a StatLine table id"),
    (("--kwb", "1990"), "no Kerncijfers wijken en buurten table for 1990"),
])
def test_bad_tables_fail_at_once_with_one_line(srv, tmp_path, monkeypatch, capsys, args, message):
    code, _, err = download(monkeypatch, capsys, tmp_path / "data", tmp_path / "cache", *args)
    assert code == 1 and message in err and err.strip().count("\n") == 0
    if "99999NED" in args:  # a 404 is not retried
        assert srv.requests_for("99999NED") == 1
        assert "HTTP 404" in err and "Resource not found for the segment '99999NED'" in err
    else:
        assert srv.log == []
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("args", [("--boundaries", "gemeente"), ("--boundaries", "dorp", "--year", "2022"),
                                  ("--year", "2022"), ("--boundaries", "wijk", "--year", "2024-2020"), ()])
def test_incomplete_requests_are_usage_errors(srv, tmp_path, monkeypatch, capsys, args):
    code, _, err = download(monkeypatch, capsys, tmp_path / "data", tmp_path / "cache", *args)
    assert code == 2 and srv.log == []


# -- leefbaar download: PDOK boundaries -------------------------------------------------------------
def test_boundaries_are_paged_retried_and_readable(srv, data_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "data"
    srv.inject("offset=200", "reset")
    code, _, err = download(monkeypatch, capsys, out, tmp_path / "cache", "--boundaries", "gemeente",
                            "--year", "2022")
    assert code == 0, err
    assert files_under(out) == ["geo/pdok_gemeente_2022_gegeneraliseerd_wgs84.geojson"]
    assert srv.requests_for("/items") == 5  # 345 features in pages of 100, one page twice
    spec = BoundarySpec("gemeente", 2022, "statcode", "statnaam")
    mine = read_boundary_layer(out / "geo" / "pdok_gemeente_2022_gegeneraliseerd_wgs84.geojson", spec)
    ref = read_boundary_layer(data_dir / "geo" / "gemeenten_2022_pdok_gegeneraliseerd_wgs84.geojson", spec)
    a = mine.geometries.set_index("code").geometry
    b = ref.geometries.set_index("code").geometry
    assert len(a) == 345 and set(a.index) == set(b.index)
    assert shapely.equals_exact(a.loc[b.index].to_numpy(), b.to_numpy(), tolerance=1e-6).all()
    names = mine.areas.set_index("code")["name"]
    assert names["GM0014"] == "Groningen"


def test_boundaries_of_an_unpublished_year_fail_cleanly(srv, tmp_path, monkeypatch, capsys):
    code, _, err = download(monkeypatch, capsys, tmp_path / "data", tmp_path / "cache", "--boundaries",
                            "gemeente", "--year", "2031")
    assert code == 1 and err.strip().count("\n") == 0
    assert "PDOK gemeente_gegeneraliseerd 2031: no features for jaarcode 2031" in err
    assert not (tmp_path / "data").exists()
