"""Bad input on corrupted copies of the real files: a clear error naming file, row and column, a non-zero exit,
and a store left exactly as it was (ingest is transactional, also when the process is killed)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leefbaar.build import build
from leefbaar.errors import InputError
from leefbaar.store.store import Store

PC4_2018 = "cbs_pc4/cbs_pc4_2018.csv"
LBM3 = "leefbaarometer/lbm3_pc4_scores_2002_2022.csv"
APCG = "policy_areas/cbs_apcg_pc4_2019.csv"
SES = "cbs_pc4/cbs_ses_woa_pc4_2021_2022.csv"
KWB22 = "cbs_kwb/kwb2022_wijk_tmap.csv"
KWB17 = "cbs_kwb/kwb2017_wijk_wbkaart.csv"


def make_data(tmp: Path, data_dir: Path, *files: str) -> Path:
    """A data folder holding copies of some real files."""
    root = tmp / "data"
    for f in files:
        (root / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / f, root / f)
    return root


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def fingerprint(store_path: Path) -> dict[str, str]:
    """A content hash of every table, to prove a store is unchanged."""
    with Store.open(store_path) as st:
        tables = st.sql("SELECT table_name FROM information_schema.tables ORDER BY 1")["table_name"]
        out = {}
        for t in tables:  # the rows as a multiset: a view (observations) gives its rows in no fixed order
            rows = sorted(st.sql(f"SELECT * FROM {t}").to_csv(index=False, header=False).splitlines())
            out[t] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        return out


@pytest.fixture
def base_store(tmp_path, data_dir):
    """A small valid store (APCG list and LBM 3 scores), built from real files."""
    data = make_data(tmp_path, data_dir, APCG, LBM3)
    store = tmp_path / "base.duckdb"
    build(data, store)
    return data, store


def corrupt_and_fail(data: Path, store: Path, relpath: str, new_text: str | bytes) -> InputError:
    """Write a corrupted file into the data folder, build, and return the error (store must be unchanged)."""
    before = fingerprint(store)
    target = data / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(new_text, bytes):
        target.write_bytes(new_text)
    else:
        target.write_text(new_text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        build(data, store)
    assert fingerprint(store) == before, "a failed build changed the store"
    assert target.name in str(info.value)
    return info.value


def test_truncated_file(base_store, data_dir):
    data, store = base_store
    text = lines(data_dir / PC4_2018)
    cut = "".join(text[:100]) + text[100][: len(text[100]) // 3]  # killed half-way through a row
    err = corrupt_and_fail(data, store, PC4_2018, cut)
    assert err.row == 101
    assert "truncated" in str(err)


def test_wrong_encoding(base_store, data_dir):
    data, store = base_store
    raw = (data_dir / KWB17).read_text(encoding="utf-8")
    assert "Skarsterlân" in raw
    err = corrupt_and_fail(data, store, KWB17, raw.encode("cp1252"))
    first_bad = next(n for n, line in enumerate(raw.splitlines(), 1) if any(ord(ch) > 127 for ch in line))
    assert err.row == first_bad
    assert err.column == "WK_NAAM"
    assert "UTF-8" in str(err)


def test_unknown_column(base_store, data_dir):
    data, store = base_store
    text = lines(data_dir / PC4_2018)
    text[0] = text[0].replace("WOZWONING", "WOZ_WONING_NIEUW")
    err = corrupt_and_fail(data, store, PC4_2018, "".join(text))
    assert (err.row, err.column) == (1, "WOZ_WONING_NIEUW")


def test_missing_column(base_store, data_dir):
    data, store = base_store
    rows = [line.rstrip("\n").split(",") for line in lines(data_dir / LBM3)]
    drop = rows[0].index("onv")
    text = "".join(",".join(r[:drop] + r[drop + 1:]) + "\n" for r in rows)
    err = corrupt_and_fail(data, store, "leefbaarometer/lbm3_pc4_scores_2002_2022_v2.csv", text)
    assert err.column == "onv" and "missing" in str(err)


def test_duplicate_area_code(base_store, data_dir):
    data, store = base_store
    text = lines(data_dir / PC4_2018)
    text.insert(10, text[5])  # PC4 of row 6 appears again as row 11
    err = corrupt_and_fail(data, store, PC4_2018, "".join(text))
    assert err.column == "PC4" and "duplicate" in str(err)
    assert err.row == 11


def test_decimal_comma(base_store, data_dir):
    data, store = base_store
    text = lines(data_dir / PC4_2018)
    fields = text[50].split(",")
    header = text[0].rstrip("\n").split(",")
    col = header.index("GEM_HH_GR")
    fields[col] = '"2,3"'
    text[50] = ",".join(fields)
    err = corrupt_and_fail(data, store, PC4_2018, "".join(text))
    assert (err.row, err.column) == (51, "GEM_HH_GR")
    assert "decimal comma" in str(err)


def test_text_in_numeric_column(base_store, data_dir):
    data, store = base_store
    text = lines(data_dir / PC4_2018)
    header = text[0].rstrip("\n").split(",")
    col = header.index("WOZWONING")
    fields = text[200].split(",")
    fields[col] = "onbekend"
    text[200] = ",".join(fields)
    err = corrupt_and_fail(data, store, PC4_2018, "".join(text))
    assert (err.row, err.column) == (201, "WOZWONING")
    assert "onbekend" in str(err)


def test_empty_and_header_only_files(base_store, data_dir):
    data, store = base_store
    err = corrupt_and_fail(data, store, PC4_2018, "")
    assert "empty" in str(err)
    header = lines(data_dir / PC4_2018)[0]
    err = corrupt_and_fail(data, store, PC4_2018, header)
    assert "no data rows" in str(err)


def test_bad_gzip(base_store, data_dir):
    data, store = base_store
    gz = (data_dir / "cbs_meta/85984NED_kwb2024_WijkenEnBuurten.csv.gz").read_bytes()
    err = corrupt_and_fail(data, store, "cbs_meta/85984NED_kwb2024_WijkenEnBuurten.csv.gz", gz[: len(gz) // 2])
    assert "gzip" in str(err)


def test_cli_one_line_error_and_exit_code(base_store, data_dir):
    data, store = base_store
    text = lines(data_dir / PC4_2018)
    text[0] = text[0].replace("INWONER", "BEWONERS")
    (data / "cbs_pc4").mkdir(exist_ok=True)
    (data / PC4_2018).write_text("".join(text), encoding="utf-8")
    before = fingerprint(store)
    proc = subprocess.run([sys.executable, "-m", "leefbaar", "build", "--data", str(data), "--store", str(store)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    err_lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert err_lines == [f"leefbaar: error: {data / PC4_2018}, row 1, column 'BEWONERS': unknown or renamed column "
                         "(1 in all); the catalogue does not map it"]
    assert fingerprint(store) == before


def test_failed_first_build_leaves_no_store(tmp_path, data_dir):
    data = make_data(tmp_path, data_dir, APCG)
    (data / PC4_2018).parent.mkdir(parents=True)
    (data / PC4_2018).write_text("PC4,INWONER\n1011,abc\n", encoding="utf-8")
    store = tmp_path / "new.duckdb"
    with pytest.raises(InputError):
        build(data, store)
    assert not store.exists()


def test_kill_during_ingest_leaves_store_unchanged(base_store, data_dir):
    """SIGKILL the build process in the middle of its write transaction; the store must be readable and equal."""
    data, store = base_store
    for f in (PC4_2018, SES, KWB22):
        (data / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / f, data / f)
    before = fingerprint(store)
    script = (
        "import os, signal\n"
        "from leefbaar.store.store import Store\n"
        "from leefbaar.build import build\n"
        "real = Store.ingest\n"
        "calls = []\n"
        "def ingest(self, batch, digest=None):\n"
        "    out = real(self, batch, digest)\n"
        "    calls.append(1)\n"
        "    if len(calls) == 2:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return out\n"
        "Store.ingest = ingest\n"
        f"build({str(data)!r}, {str(store)!r})\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    assert fingerprint(store) == before
    # and the store still works: a normal build afterwards ingests the new files
    report = build(data, store)
    assert {f.file for f in report.files if f.status == "read"} == {PC4_2018, SES, KWB22}


def test_reingest_adds_nothing_and_changed_file_replaces_its_rows(base_store, data_dir):
    data, store = base_store
    before = fingerprint(store)
    report = build(data, store)
    assert {f.status for f in report.files if f.family != "(no reader)"} == {"unchanged"}
    after = fingerprint(store)
    assert {k: v for k, v in after.items() if k != "runs"} == {k: v for k, v in before.items() if k != "runs"}
    # change one value: the file's old rows are replaced, not added to
    text = lines(data / APCG)
    (data / APCG).write_text("".join(text[:-1]), encoding="utf-8")  # drop the last PC4
    build(data, store)
    with Store.open(store) as st:
        n = st.sql("SELECT count(*) AS n FROM area_groups WHERE group_id = 'apcg_2019'")["n"].iloc[0]
        files = st.sql("SELECT count(*) AS n FROM sources WHERE file LIKE '%apcg%'")["n"].iloc[0]
    assert (n, files) == (428, 1)


def test_python_dash_m_entry_point():
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "leefbaar", "--help"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0 and "build" in proc.stdout


def test_topojson_boundaries_are_the_fallback_for_the_geopackage(tmp_path, data_dir):
    """Without the PC4 GeoPackage, the TopoJSON of the same boundaries (RD, no CRS declared) is read instead."""
    data = make_data(tmp_path, data_dir, "geo/cbs_pc4_2017_v3_simplified_rd.topo.json")
    store = tmp_path / "topo.duckdb"
    report = build(data, store)
    assert [f.family for f in report.files if f.status == "read"] == ["boundaries_pc4_2017_topojson"]
    with Store.open(store) as st:
        topo = st.geometries("pc4", 2017).set_index("code")
    assert len(topo) == 4066 and topo.geometry.is_valid.all()
    from leefbaar.sources.boundaries import BoundarySpec, read_boundary_layer

    gpkg = read_boundary_layer(data_dir / "geo/cbs_pc4_2017_v3_simplified_rd.gpkg",
                               BoundarySpec("pc4", 2017, "PC4", layer="pc4_2017", crs=28992))
    ref = gpkg.geometries.set_index("code").geometry
    rel = (topo.geometry.area - ref.area.reindex(topo.index)).abs() / ref.area.reindex(topo.index)
    assert rel.median() < 0.001  # the same polygons (the GeoPackage is the repaired TopoJSON)
