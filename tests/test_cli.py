"""The ``leefbaar`` command itself: usage errors as one line with exit code 2, --version, lazy registration."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from leefbaar import __version__
from leefbaar.cli import COMMANDS, MODULES, load_commands, main


def run_main(args: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(args)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.mark.parametrize(("args", "reason"), [
    (["trends", "--bogus", "x"], "No such option: --bogus"),
    (["bogus"], "No such command 'bogus'"),
    (["--bogus"], "No such option: --bogus"),
    (["trends"], "Missing option '--out'"),
    (["trends", "--out"], "Option '--out' requires an argument"),
    (["gap", "--out", "x", "--bootstrap", "many"], "Invalid value for '--bootstrap'"),
    (["trends", "--out", "x", "--lang", "de"], "Invalid value for '--lang': must be nl or en, not 'de'"),
    (["clusters", "--out", "x", "--fdr", "--maps", "extra"], "Got unexpected extra argument"),
])
def test_usage_error_is_one_line_with_exit_code_2(args, reason, capsys):
    code, out, err = run_main(args, capsys)
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("leefbaar: error: ") and reason in lines[0], err
    assert "internal error" not in err and "Traceback" not in err


def test_duckdb_memory_setting_is_checked_before_the_store_opens(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LEEFBAAR_DUCKDB_MEMORY", "lots")
    code, out, err = run_main(["score", "--store", str(tmp_path / "none.duckdb"), "--out", str(tmp_path)], capsys)
    assert code == 1 and err.strip() == "leefbaar: error: LEEFBAAR_DUCKDB_MEMORY 'lots': give a size such as '4GB'"
    assert not (tmp_path / "none.duckdb").exists()
    monkeypatch.setenv("LEEFBAAR_DUCKDB_MEMORY", "1.5GB")
    from leefbaar.config import duckdb_memory

    assert duckdb_memory() == "1.5GB"


def test_version(capsys):
    code, out, err = run_main(["--version"], capsys)
    assert code == 0 and out.strip() == f"leefbaar {__version__}" and err == ""


def test_help_lists_every_command_without_importing_them():
    """--help runs in a fresh interpreter that must not import the stage modules or the heavy libraries."""
    probe = ("import sys\nfrom leefbaar.cli import main\n"
             "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
             "heavy = sorted(m for m in ('pandas', 'numpy', 'geopandas', 'esda', 'libpysal', 'duckdb', 'ibis', "
             "'statsmodels', 'leefbaar.cli.monitor', 'leefbaar.store') if m in sys.modules)\n"
             "print('HEAVY', heavy)\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout, proc.stdout.splitlines()[-1]
    listed = proc.stdout.split("Commands:", 1)[1]
    for name in COMMANDS:
        assert f"  {name} " in listed


def test_command_table_matches_the_registered_commands():
    """COMMANDS (used by --help without imports) names every command with the module and help it really has."""
    registered = {}
    for module in MODULES:
        for name, command in load_commands(module).items():
            registered[name] = (module, " ".join((command.help or "").split("\n\n")[0].split()))
    assert registered == COMMANDS


def test_a_command_runs_through_the_lazy_group(tmp_path, capsys):
    """A command's module is imported when it runs; its own errors stay one line with exit code 1."""
    code, out, err = run_main(["indicators", "--store", str(tmp_path / "none.duckdb"), "--search", "woz"], capsys)
    assert code == 1 and err.startswith("leefbaar: error: ") and "no store here" in err, err


@pytest.mark.parametrize(("value", "nl", "en"), [(0.035, "0,035", "0.035"), (4.1553, "4,155", "4.155"),
                                                  (12345.0, "12.345", "12,345"), (2022, "2022", "2022"),
                                                  (-2.7e-17, "0", "0"), (float("nan"), "", ""), ("a[b]", "a\\[b]",
                                                                                                "a\\[b]")])
def test_table_cells_follow_the_locale(value, nl, en):
    from leefbaar.cli.common import _fmt

    assert (_fmt(value, "nl"), _fmt(value, "en")) == (nl, en)


def test_write_csv_reads_back_and_leaves_no_half_file(tmp_path, monkeypatch):
    import numpy as np
    import pandas as pd
    import pyarrow.csv as pacsv

    from leefbaar.cli.common import write_csv

    frame = pd.DataFrame({"code": ["0101", "a,b", None], "x": [0.1, np.nan, 1 / 3], "mixed": [1, "x", None],
                          "klasse": pd.array([1, None, 9], dtype="Int8"), "kind": pd.Categorical(["a", "b", "a"])})
    path = write_csv(frame, tmp_path, "t.csv")
    assert path.read_text(encoding="utf-8").splitlines()[:2] == ['code,x,mixed,klasse,kind', '"0101",0.1,"1",1,"a"']
    back = pd.read_csv(path, dtype={"code": str})
    assert back["code"].tolist()[:2] == ["0101", "a,b"] and back["code"].isna().iloc[2]
    assert back["x"].iloc[2] == 1 / 3 and np.isnan(back["x"].iloc[1])  # shortest form that reads back exactly
    assert back["mixed"].tolist()[:2] == ["1", "x"] and back["klasse"].isna().iloc[1]

    def full_disk(table, where, options=None):  # half a file, then the disk is full
        Path(where).write_text("code,x\n\"01", encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pacsv, "write_csv", full_disk)
    with pytest.raises(OSError):
        write_csv(frame.head(1), tmp_path, "t.csv")
    assert pd.read_csv(path).shape == (3, 5) and [p.name for p in tmp_path.iterdir()] == ["t.csv"]
