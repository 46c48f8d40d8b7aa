"""Ingest accepts nothing bad and drops nothing good silently (issue 14): every defect found by the attack run
on copies of the real files is refused with ``leefbaar: error:`` naming the file (and row and column where
there is one), and the store is left exactly as it was (same content hash of every table)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from leefbaar.build import build
from leefbaar.cli.data import print_summary
from leefbaar.errors import InputError, StoreError
from leefbaar.store.store import Store
from test_ingest_bad_input import APCG, LBM3, PC4_2018, SES, lines

PC4_2019 = "cbs_pc4/cbs_pc4_2019.csv"
GM2017 = "geo/gemeenten_2017_cbs_rd.geojson"
VOGELAAR = "policy_areas/vogelaarwijken_2007.csv"


@pytest.fixture(scope="module")
def base(tmp_path_factory, data_dir):
    """One small valid store (APCG list and LBM 3 scores) built once; each test gets a copy of it."""
    root = tmp_path_factory.mktemp("base")
    for f in (APCG, LBM3):
        (root / "data" / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / f, root / "data" / f)
    build(root / "data", root / "base.duckdb")
    return root


@pytest.fixture
def copy(base, tmp_path):
    shutil.copytree(base / "data", tmp_path / "data")
    shutil.copy(base / "base.duckdb", tmp_path / "store.duckdb")
    return tmp_path / "data", tmp_path / "store.duckdb"


def fingerprint(store_path: Path) -> dict[str, tuple]:
    """Row count and order-independent content hashes of every table, computed inside DuckDB."""
    con = duckdb.connect(str(store_path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        return {t: con.execute(f"SELECT count(*), sum(hash(t)::HUGEINT), bit_xor(hash(t)) FROM {t} t").fetchone()
                for t in tables}
    finally:
        con.close()


def refused(data: Path, store: Path, name: str, error=InputError):
    """Build, expect ``error`` naming ``name``, and check that the store is unchanged."""
    before = fingerprint(store)
    with pytest.raises(error) as info:
        build(data, store)
    assert fingerprint(store) == before, "a refused build changed the store"
    assert name in str(info.value), str(info.value)
    return info.value


def put(data: Path, rel: str, text: str | bytes) -> Path:
    target = data / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return target


def with_cell(src: Path, line: int, column: str, value: str, sep: str = ",") -> str:
    """The text of ``src`` with the cell of ``column`` on (1-based) ``line`` replaced by ``value``."""
    text = lines(src)
    col = text[0].rstrip("\r\n").replace('"', "").split(sep).index(column)
    fields = text[line - 1].rstrip("\r\n").split(sep)
    fields[col] = value
    text[line - 1] = sep.join(fields) + "\n"
    return "".join(text)


# -- values: finite, plausible, PC4 1000-9999 --------------------------------------------------------------
@pytest.mark.parametrize("value", ["1e309", "-1e309"])
def test_infinite_value_refused(copy, data_dir, value):
    data, store = copy
    put(data, PC4_2018, with_cell(data_dir / PC4_2018, 30, "WOZWONING", value))
    err = refused(data, store, "cbs_pc4_2018.csv")
    assert (err.row, err.column) == (30, "WOZWONING") and "finite" in str(err)


@pytest.mark.parametrize("rel,column,value,why", [
    (LBM3, "lbm", "1e308", "lbm"),                 # a Leefbaarometer score far outside any real score
    (LBM3, "afw", "-7.5", "lbm_afw"),
    (PC4_2018, "INWONER", "-5", "at least 0"),     # a negative count
    (PC4_2018, "P_KOOPWON", "150", "0 to 100"),    # a percentage above 100
])
def test_implausible_values_refused(copy, data_dir, rel, column, value, why):
    data, store = copy
    put(data, rel, with_cell(data_dir / rel, 40, column, value))
    err = refused(data, store, Path(rel).name)
    assert (err.row, err.column) == (40, column) and "implausible" in str(err) and why in str(err)


@pytest.mark.parametrize("code", ["0000", "0999"])
def test_pc4_below_1000_refused(copy, data_dir, code):
    data, store = copy
    put(data, PC4_2018, with_cell(data_dir / PC4_2018, 12, "PC4", code))
    err = refused(data, store, "cbs_pc4_2018.csv")
    assert (err.row, err.column) == (12, "PC4") and "1000-9999" in str(err)


# -- years: whole numbers, within the file name's years; no two files for one year ------------------------
def test_fractional_year_refused(copy, data_dir):
    data, store = copy
    put(data, LBM3, with_cell(data_dir / LBM3, 8, "jaar", "2022.5"))
    err = refused(data, store, "lbm3_pc4_scores_2002_2022.csv")
    assert (err.row, err.column) == (8, "jaar") and "whole" in str(err)


def test_fractional_year_in_ses_woa_refused(copy, data_dir):
    data, store = copy
    put(data, SES, with_cell(data_dir / SES, 5, "SES_Verslagjaar", "2022.5", sep=";"))
    err = refused(data, store, "cbs_ses_woa_pc4_2021_2022.csv")
    assert (err.row, err.column) == (5, "SES_Verslagjaar")


def test_year_outside_file_name_refused(copy, data_dir):
    data, store = copy
    put(data, LBM3, with_cell(data_dir / LBM3, 9, "jaar", "2024"))
    err = refused(data, store, "lbm3_pc4_scores_2002_2022.csv")
    assert err.row == 9 and "2002-2022" in str(err)


def test_copy_added_to_a_built_store_refused(copy, data_dir):
    """The real 2019 file is in the store already; a 2018 file added later as ..._2019_copy.csv is refused."""
    data, store = copy
    (data / "cbs_pc4").mkdir()
    shutil.copy(data_dir / PC4_2019, data / PC4_2019)
    build(data, store)
    shutil.copy(data_dir / PC4_2018, data / "cbs_pc4/cbs_pc4_2019_copy.csv")
    err = refused(data, store, "cbs_pc4_2019_copy.csv")
    assert "cbs_pc4_2019.csv" in str(err)


def test_copy_of_another_year_refused_naming_both_files(copy, data_dir):
    data, store = copy
    (data / "cbs_pc4").mkdir()
    shutil.copy(data_dir / PC4_2019, data / PC4_2019)
    shutil.copy(data_dir / PC4_2018, data / "cbs_pc4/cbs_pc4_2019_copy.csv")  # a 2018 file named as 2019
    err = refused(data, store, "cbs_pc4_2019_copy.csv")
    assert "cbs_pc4_2019.csv" in str(err) and "2019" in str(err)


# -- paths: every path read or listed with a reason ---------------------------------------------------------
def _directory(p: Path) -> None:
    p.mkdir()
    (p / "inside.csv").write_text("a\n1\n")


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _device(p: Path) -> None:
    p.symlink_to("/dev/null")


def _loop(p: Path) -> None:
    p.symlink_to(p.name)


def _dangling(p: Path) -> None:
    p.symlink_to(p.parent / "nowhere.csv")


@pytest.mark.parametrize("make,why", [(_directory, "folder"), (_fifo, "FIFO"), (_device, "device"),
                                      (_loop, "loops"), (_dangling, "to nothing")])
def test_unreadable_path_of_a_family_refused(copy, make, why):
    data, store = copy
    (data / "cbs_pc4").mkdir()
    make(data / "cbs_pc4/cbs_pc4_2019.csv")
    err = refused(data, store, "cbs_pc4_2019.csv")
    assert why in str(err)


def test_other_paths_listed_with_a_reason(copy):
    data, store = copy
    (data / "extra").mkdir()
    os.mkfifo(data / "extra/pipe")
    (data / "extra/loop").symlink_to("loop")
    (data / "extra/empty").mkdir()
    (data / "extra/up").symlink_to(data)  # a cycle
    (data / "extra/notes.txt").write_text("x")
    report = build(data, store)
    skipped = {f.file: f.note for f in report.files if f.status == "skipped"}
    assert "FIFO" in skipped["extra/pipe"] and "loops" in skipped["extra/loop"]
    assert "empty folder" in skipped["extra/empty"] and skipped["extra/notes.txt"] == "no reader for this file"
    assert "cycle" in skipped["extra/up"]
    read = {f.file for f in report.files if f.status != "skipped"}
    everything = {p.relative_to(data).as_posix() for p in data.rglob("*")}
    assert everything - {"extra", "policy_areas", "leefbaarometer"} == read | set(skipped)


def test_unreadable_file_refused(copy):
    """A file whose bytes cannot be read (EIO here; permission denied elsewhere) is an error, not a crash."""
    data, store = copy
    (data / "cbs_pc4").mkdir()
    (data / PC4_2019).symlink_to("/proc/self/mem")
    err = refused(data, store, "cbs_pc4_2019.csv")
    assert "cannot be read" in str(err)


def test_oversized_file_refused_before_reading(copy):
    data, store = copy
    (data / "cbs_pc4").mkdir()
    with open(data / PC4_2019, "wb") as f:  # a sparse 1 GB file: one line, no newline
        f.truncate(1_000_000_001)
    err = refused(data, store, "cbs_pc4_2019.csv")
    assert "LEEFBAAR_MAX_FILE_MB" in str(err)


def test_size_bound_is_a_setting_and_covers_gzip(copy, data_dir, monkeypatch):
    data, store = copy
    gz = "cbs_meta/85984NED_kwb2024_WijkenEnBuurten.csv.gz"
    shutil.rmtree(data / "leefbaarometer")  # the store keeps what it holds; only the new file is read
    put(data, gz, (data_dir / gz).read_bytes())  # 0.4 MB compressed, 2.8 MB unpacked
    monkeypatch.setenv("LEEFBAAR_MAX_FILE_MB", "1")
    err = refused(data, store, "WijkenEnBuurten.csv.gz")
    assert "above the bound of 1 MB" in str(err) and "LEEFBAAR_MAX_FILE_MB" in str(err)


@pytest.mark.parametrize("rel", ["grid/cbs_vk250_2024_rijnmond.csv", "leefbaarometer/lbm2_class_other.csv",
                                 "geo/pdok_land_2022_gegeneraliseerd_wgs84.geojson"])
def test_unexpected_file_names_are_errors_naming_the_file(copy, rel):
    data, store = copy
    put(data, rel, "a,b\n1,2\n")
    refused(data, store, Path(rel).name)


def test_zero_byte_geopackage_refused(copy):
    data, store = copy
    put(data, "grid/cbs_vierkant100m_leeg.gpkg", b"")
    err = refused(data, store, "cbs_vierkant100m_leeg.gpkg")
    assert "GeoPackage" in str(err)


def test_full_disk_is_an_error_naming_the_store(copy, data_dir, monkeypatch):
    data, store = copy
    shutil.copy(data_dir / PC4_2018, put(data, PC4_2018, ""))

    def full(self):
        raise duckdb.IOException("Could not write file: No space left on device")

    monkeypatch.setattr(Store, "_flush", full)
    err = refused(data, store, "store.duckdb", StoreError)
    assert "No space left" in str(err)


# -- geometry: a repair never yields an empty geometry without an error ----------------------------------
def test_collapsed_ring_refused(tmp_path, data_dir):
    doc = json.loads((data_dir / GM2017).read_text(encoding="utf-8"))
    doc["features"] = doc["features"][:3]
    x, y = doc["features"][1]["geometry"]["coordinates"][0][0]
    doc["features"][1]["geometry"] = {"type": "Polygon", "coordinates": [[[x, y]] * 4]}
    code = doc["features"][1]["properties"]["statcode"]
    data = tmp_path / "data"
    put(data, APCG, (data_dir / APCG).read_bytes())
    store = tmp_path / "s.duckdb"
    build(data, store)
    put(data, GM2017, json.dumps(doc))
    err = refused(data, store, "gemeenten_2017_cbs_rd.geojson")
    assert code in str(err) and err.row == 3 and "collapsed" in str(err)


# -- physical line numbers ----------------------------------------------------------------------------------
def test_row_numbers_count_blank_lines(copy, data_dir):
    data, store = copy
    text = lines(data_dir / PC4_2018)
    text.insert(10, "\n")  # a blank line 11; the bad cell is then on physical line 41
    src = data / "src.csv"
    src.write_text("".join(text), encoding="utf-8")
    put(data, PC4_2018, with_cell(src, 41, "WOZWONING", "onbekend"))
    src.unlink()
    err = refused(data, store, "cbs_pc4_2018.csv")
    assert (err.row, err.column) == (41, "WOZWONING")


def test_row_numbers_count_lines_inside_quoted_cells(copy, data_dir):
    data, store = copy
    text = lines(data_dir / VOGELAAR)
    header = text[0].rstrip("\n").split(",")
    assert header[:2] == ["gemeente", "gm_code"]
    text[2] = '"Amster\ndam"' + text[2][text[2].index(","):]  # a quoted cell over two lines (lines 3-4)
    fields = text[5].split(",")
    fields[1] = "GM12"  # record 6 starts on physical line 7
    text[5] = ",".join(fields)
    put(data, VOGELAAR, "".join(text))
    err = refused(data, store, "vogelaarwijken_2007.csv")
    assert (err.row, err.column) == (7, "gm_code")


# -- a first build killed half-way ---------------------------------------------------------------------------
def test_killed_first_build_is_refused_by_readers(tmp_path, data_dir):
    data = tmp_path / "data"
    for f in (APCG, VOGELAAR):
        put(data, f, (data_dir / f).read_bytes())
    store = tmp_path / "new.duckdb"
    script = (
        "import os, signal\n"
        "from leefbaar.store.store import Store\n"
        "from leefbaar.build import build\n"
        "def ingest(self, batch, digest=None):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "Store.ingest = ingest\n"
        f"build({str(data)!r}, {str(store)!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    assert store.exists()
    with pytest.raises(StoreError, match="did not complete"):
        Store.open(store)
    with pytest.raises(StoreError, match="did not complete"):
        Store.open(store, read_only=False)
    with pytest.raises(StoreError, match="rebuild"):  # what 'leefbaar summary' prints after 'leefbaar: error:'
        print_summary(store)
    build(data, store)  # a new build completes it
    with Store.open(store) as st:
        assert st.sql("SELECT count(*) AS n FROM sources")["n"].iloc[0] == 2
