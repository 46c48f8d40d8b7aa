"""Shared fixtures: the real data folder and a store built from it once per test session.

The suite runs in two processes (pytest-xdist, ``-n 2`` in ``scripts/test.sh``): the stores below are built once
for the whole run, by whichever worker asks first, while the other waits on a file lock.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from leefbaar.build import build
from leefbaar.store.store import Store

REPO = Path(__file__).resolve().parents[1]


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
"""Debian's chromium, which the browser tests drive through Playwright (never ``playwright install``)."""
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = REPO / "test-artifacts" / "screenshots"
"""Where the browser tests write their screenshots (git-ignored)."""
VENDOR = REPO / "src" / "leefbaar" / "web" / "static" / "vendor" / "maplibre-gl.mjs"


def skip_without_browser() -> None:
    """Skip the calling test module when chromium or the dashboard's front-end libraries are missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed: run scripts/setup-web.sh --test", allow_module_level=True)
    if not VENDOR.exists():
        pytest.skip("front-end libraries missing: run scripts/setup-web.sh", allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    """A headless chromium for the module's pages."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh Dutch page at 1400x900; ``page.problems`` collects page errors and console errors."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="nl-NL")
    pg = ctx.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
    pg.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
    pg.problems = problems
    yield pg
    ctx.close()


def shared_data_dir() -> Path:
    """``$LEEFBAAR_DATA`` or ``../shared/data`` beside the repository (as in CI)."""
    env = os.environ.get("LEEFBAAR_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = shared_data_dir()
    if not (path / "SOURCES.md").is_file():
        pytest.fail(f"the shared data folder is missing at {path}; set LEEFBAAR_DATA")
    return path


def once_per_run(tmp_path_factory, name: str, make) -> Path:
    """The folder ``name`` made by ``make(folder)`` once for the whole run, shared by the xdist workers.

    The first worker to ask makes it under a lock; the others wait and reuse it. ``done`` marks a folder made
    whole, so a worker that failed half-way leaves nothing the others would take for finished.
    """
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = root / f"shared_{name}"
    with open(root / f"shared_{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / "done").exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            (folder / "done").touch()
    return folder


@pytest.fixture(scope="session")
def store_file(tmp_path_factory, data_dir) -> Path:
    """A store built from the whole shared data folder (once per run). Open it read-only."""
    return once_per_run(tmp_path_factory, "store", lambda d: build(data_dir, d / "leefbaar.duckdb")) / "leefbaar.duckdb"


@pytest.fixture(scope="session")
def scored_file(store_file, tmp_path_factory) -> Path:
    """A copy of the session store with resolved programme areas and index scores for 2021 (modelled) and 2022
    (official), as ``leefbaar run`` leaves them (once per run). Copy it (:func:`copy_store`) before writing."""
    from typer.testing import CliRunner

    from leefbaar.cli import app

    def make(base: Path) -> None:
        path = shutil.copy(store_file, base / "leefbaar.duckdb")
        for args in (["resolve-areas", "--out", str(base / "resolved")],
                     ["score", "--out", str(base / "index"), "--years", "2021-2022", "--draws", "20"]):
            result = CliRunner().invoke(app, [*args, "--store", str(path)])
            assert result.exit_code == 0, (args, result.output)

    return once_per_run(tmp_path_factory, "scored", make) / "leefbaar.duckdb"


@pytest.fixture(scope="session")
def evaluated_file(store_file, tmp_path_factory):
    """(path, evaluation): a copy of the session store with the NPRZ evaluation recorded (99 permutations, 10
    placebos: fast), once per session. Open it read-only."""
    from leefbaar.evaluation.report import EvaluationConfig, evaluate, record

    path = tmp_path_factory.mktemp("evaluated") / "leefbaar.duckdb"
    shutil.copy(store_file, path)
    with Store.open(path, read_only=False) as st:
        ev = evaluate(st, "nprz", EvaluationConfig(n_permutations=99, n_placebos=10))
        with st.transaction(), st.run("evaluate", {"programme": "nprz"}):
            record(st, ev)
    return path, ev


def copy_store(source: Path, folder: Path) -> Path:
    """A writable copy of the store file ``source`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copy(source, folder / "store.duckdb"))


@pytest.fixture
def store(store_file):
    with Store.open(store_file) as st:
        yield st


@contextmanager
def dashboard_server(store: Path, ready: bool = True, timeout: float = 300) -> Iterator[str]:
    """``leefbaar serve`` (one worker, light warm-up: profiles, maps and tiles made on request) over ``store`` on a
    free local port; yields its base URL once it answers and, with ``ready``, once its warm-up is done.

    One worker warming every PC4 profile can take minutes on a busy machine, hence the generous ``timeout`` (s).
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from leefbaar.web import serve; "
                             "serve(sys.argv[1], '127.0.0.1', int(sys.argv[2]), workers=1)", str(store), str(port)],
                            env={**os.environ, "LEEFBAAR_WEB_WARM": "light"})
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{base}/api/health", timeout=2) as r:
                if not ready or b'"ready":true' in r.read():
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail("the dashboard server did not start")
        time.sleep(0.3)
    try:
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)
