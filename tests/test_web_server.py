"""The dashboard server under load: caches bounded in bytes, content negotiation, admission control."""

from __future__ import annotations

import asyncio
import gzip
import random
import threading
import time

import pytest
from fastapi.responses import Response
from fastapi.testclient import TestClient

from leefbaar.web import app as web_app
from leefbaar.web import create_app


@pytest.fixture(scope="module")
def client(store_file):
    app = create_app(store_file, warm=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def test_cache_is_bounded_in_bytes_not_entries():
    cache = web_app.Cache(max_bytes=1_000_000)
    body = random.Random(0).randbytes(100_000)  # ~100 KB, incompressible: about 200 KB with its gzip
    for i in range(40):
        raw, gz, _ = cache.get(("compare", i), lambda i=i: body + str(i).encode())
        assert gzip.decompress(gz) == raw
        assert cache.nbytes <= 1_000_000
    assert 1 <= len(cache) <= 5  # 40 entries of ~200 KB do not fit in 1 MB
    assert cache.get(("compare", 39), lambda: pytest.fail("the newest entry was dropped"))[0].endswith(b"39")
    cache.value("too big", lambda: (b"x", 300_000))  # above a quarter of the bound: answered, not kept
    assert "too big" not in cache._items and cache.nbytes <= 1_000_000
    assert cache.value("small", lambda: ("v", 10)) == "v" and cache.nbytes <= 1_000_000
    assert cache._items["small"][1] == 10 + web_app.ENTRY_OVERHEAD


def test_concurrent_misses_compute_once():
    cache, calls = web_app.Cache(max_bytes=10_000), []

    def make():
        calls.append(1)
        time.sleep(0.2)
        return b"{}"

    threads = [threading.Thread(target=cache.get, args=("k", make)) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1


def test_downloads_are_made_once_and_kept_within_their_byte_bound(tmp_path):
    files, made = web_app.DownloadFiles(tmp_path, max_bytes=1_000_000), []

    def make(i):
        made.append(i)
        return Response(bytes([i]) * 400_000, media_type="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="t{i}.csv"'})

    def body(r):
        async def collect():
            return b"".join([chunk async for chunk in r.body_iterator])

        return asyncio.run(collect())

    for i in (1, 1, 2, 3, 4, 4):
        r = files.response(("t", i), lambda i=i: make(i))
        assert r.headers["content-length"] == "400000" and r.headers["content-disposition"].endswith(f't{i}.csv"')
        assert body(r) == bytes([i]) * 400_000
        assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 1_000_000
    assert made == [1, 2, 3, 4]  # a repeated download comes from its file
    assert len(list(tmp_path.iterdir())) == 2


def test_app_cache_holds_its_byte_bound(store_file):
    with TestClient(create_app(store_file, warm=False, cache_mb=1)) as client:
        cache, answered = client.app.state.cache, 0
        assert cache.max_bytes == 2**20
        for year in (2002, 2008, 2012, 2014, 2016, 2018, 2020, 2022):
            for measure in ("total", "afw", "klasse", "won", "fys"):
                raw = client.get(f"/api/map/pc4?year={year}&measure={measure}",
                                 headers={"Accept-Encoding": "identity"}).content
                answered += len(raw) + len(gzip.compress(raw, 5))
                assert cache.nbytes <= cache.max_bytes
        assert answered > 2 * cache.max_bytes and len(cache) < 40  # they did not fit: the bound held them


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [("gzip", True), ("gzip;q=0", False), ("gzip; q=0.0, identity", False), ("deflate, gzip;q=0.5", True),
     ("*", True), ("*;q=0", False), ("*, gzip;q=0", False), ("br", False), ("", False), ("x-gzip", True)],
)
def test_gzip_only_when_acceptable(client, accept, gzipped):
    r = client.get("/api/meta", headers={"Accept-Encoding": accept})
    assert r.status_code == 200 and r.json()["levels"]
    assert (r.headers.get("content-encoding") == "gzip") is gzipped
    assert "accept-encoding" in r.headers["vary"].lower()


@pytest.mark.parametrize("path", ["/", "/map", "/compare", "/gap", "/programmes", "/area/pc4/3072", "/api/meta",
                                  "/static/app.js"])
def test_head_answers_like_get_without_body(client, path):
    get, head = client.get(path), client.head(path)
    assert head.status_code == get.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]
    assert "default-src 'self'" in head.headers["content-security-policy"]


def _busy_app(store_file, **admission):
    """An app whose search blocks until released, to hold the only slot."""
    app = create_app(store_file, warm=False, concurrency=1, **admission)
    started, release = threading.Event(), threading.Event()

    def slow_search(q, limit=20):
        started.set()
        release.wait(20)
        return []

    app.state.data.search = slow_search
    return app, started, release


def _hold_slot(c, started):
    answers = []
    t = threading.Thread(target=lambda: answers.append(c.get("/api/search?q=busy")))
    t.start()
    assert started.wait(20)
    return t, answers


def test_beyond_the_queue_the_answer_is_503_with_retry_after(store_file):
    app, started, release = _busy_app(store_file, queue=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        t, answers = _hold_slot(c, started)
        t0 = time.perf_counter()
        r = c.get("/api/gap/pc4")
        assert time.perf_counter() - t0 < 2  # at once, not after a wait
        assert r.status_code == 503 and r.json()["error"] == "overloaded"
        assert int(r.headers["retry-after"]) >= 1
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert c.get("/api/health").status_code == 200  # health, pages and static files are not queued
        assert c.get("/map").status_code == 200
        release.set()
        t.join()
        assert answers[0].status_code == 200
        assert c.get("/api/search?q=again").status_code == 200  # the slot is free again


def test_a_request_that_waits_too_long_gets_503(store_file):
    app, started, release = _busy_app(store_file, queue=5, max_wait=0.3)
    with TestClient(app, raise_server_exceptions=False) as c:
        t, _ = _hold_slot(c, started)
        t0 = time.perf_counter()
        r = c.get("/api/meta")
        assert r.status_code == 503 and "retry-after" in r.headers
        assert 0.25 <= time.perf_counter() - t0 < 5
        release.set()
        t.join()
        assert c.get("/api/meta").status_code == 200
