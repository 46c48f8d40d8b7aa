"""The dashboard server under load: caches bounded in bytes, content negotiation, admission control."""

from __future__ import annotations

import asyncio
import gzip
import io
import random
import threading
import time

import pytest
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
        def write(path):
            made.append(i)
            path.write_bytes(bytes([i]) * 400_000)

        return web_app.Download(f"t{i}", "csv", write)

    def body(r):
        async def collect():
            return b"".join([chunk async for chunk in r.body_iterator])

        return asyncio.run(collect())

    for i in (1, 1, 2, 3, 4, 4):
        r = files.response(("t", i), make(i))
        assert r.headers["content-length"] == "400000" and r.headers["content-disposition"].endswith(f't{i}.csv"')
        assert body(r) == bytes([i]) * 400_000
        assert sum(p.stat().st_size for p in tmp_path.iterdir()) <= 1_000_000
    assert made == [1, 2, 3, 4]  # a repeated download comes from its file
    assert len(list(tmp_path.iterdir())) == 2


def test_app_cache_holds_its_byte_bound(store_file):
    with TestClient(create_app(store_file, warm=False, cache_mb=1)) as client:
        cache, answered = client.app.state.cache, 0
        assert cache.max_bytes == client.app.state.budget.cache == 3 * 2**20 // 4  # the budget's share
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
    """An app whose gemeente list blocks until released, to hold the only slot."""
    app = create_app(store_file, warm=False, concurrency=1, **admission)
    started, release = threading.Event(), threading.Event()

    def slow_gemeenten():
        started.set()
        release.wait(20)
        return []

    app.state.data.gemeenten = slow_gemeenten
    return app, started, release


def _hold_slot(c, started):
    answers = []
    t = threading.Thread(target=lambda: answers.append(c.get("/api/gemeenten")))
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
        assert c.get("/api/search?q=rotterdam").status_code == 200  # nor are answers from memory
        assert c.get("/api/tiles/gemeente/7/65/42").status_code == 200
        release.set()
        t.join()
        assert answers[0].status_code == 200
        assert c.get("/api/gemeenten").status_code == 200  # the slot is free again


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



def test_a_download_being_streamed_holds_no_slot():
    """The download lane bounds the making of files, not their streaming: once a response has started, its slot
    is free for the next request, however slowly the client reads."""
    streaming, finish = asyncio.Event(), asyncio.Event()

    async def slow_download(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        streaming.set()
        await finish.wait()  # a slow client: the body is not sent yet
        await send({"type": "http.response.body", "body": b"x"})

    admission = web_app.Admission(slow_download, concurrency=2, queue=0)
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def receive():
        return {"type": "http.request"}

    async def scenario():
        scope = {"type": "http", "path": "/api/download/map/pc4", "method": "GET"}
        tasks = [asyncio.create_task(admission(scope, receive, send)) for _ in range(5)]  # more than the lane's 2
        await asyncio.wait_for(streaming.wait(), 5)
        await asyncio.sleep(0.05)
        assert admission.downloads.active == 0 and admission.rejected == 0  # all five started, none refused
        finish.set()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [200] * 5
    assert admission.downloads.active == 0

# -- vector tiles and search -----------------------------------------------------------------------------
def _pb(buf: bytes):
    """Fields of one protobuf message as (field number, wire type, value) (varints and length-delimited)."""
    i, out = 0, []
    while i < len(buf):
        key, i = _uvarint(buf, i)
        if key & 7 == 0:
            value, i = _uvarint(buf, i)
        elif key & 7 == 2:
            n, i = _uvarint(buf, i)
            value, i = buf[i:i + n], i + n
        else:
            raise AssertionError(f"unexpected wire type {key & 7}")
        out.append((key >> 3, key & 7, value))
    return out


def _uvarint(buf: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def _packed(raw: bytes) -> list[int]:
    out, i = [], 0
    while i < len(raw):
        v, i = _uvarint(raw, i)
        out.append(v)
    return out


def decode_mvt(tile: bytes) -> dict[str, list[list[tuple[int, int]]]]:
    """The polygons of layer 'areas' by property 'code', as rings in tile units, written from the MVT 2.1 spec
    (independently of the encoder)."""
    out = {}
    for field, _, layer in _pb(tile):
        assert field == 3
        fields = _pb(layer)
        assert dict((f, v) for f, _, v in fields if f in (1, 5, 15)) == {1: b"areas", 5: 4096, 15: 2}
        keys = [v.decode() for f, _, v in fields if f == 3]
        values = [_pb(v)[0][2].decode() for f, _, v in fields if f == 4]
        for f, _, feat in fields:
            if f != 2:
                continue
            parts = _pb(feat)
            tags = _packed(next(v for f2, _, v in parts if f2 == 2))
            props = {keys[tags[k]]: values[tags[k + 1]] for k in range(0, len(tags), 2)}
            assert next(v for f2, _, v in parts if f2 == 3) == 3  # POLYGON
            ints = _packed(next(v for f2, _, v in parts if f2 == 4))
            rings, x, y, k = [], 0, 0, 0
            while k < len(ints):
                cmd, count = ints[k] & 7, ints[k] >> 3
                k += 1
                if cmd == 7:
                    continue
                for _ in range(count):
                    dx, dy = ints[k], ints[k + 1]
                    k += 2
                    x += (dx >> 1) ^ -(dx & 1)
                    y += (dy >> 1) ^ -(dy & 1)
                    if cmd == 1:
                        rings.append([])
                    rings[-1].append((x, y))
            out[props["code"]] = rings
    return out


def _signed_area(ring) -> float:
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True)) / 2


def test_vector_tiles_decode_to_the_areas_they_cover(store):
    import numpy as np
    import shapely

    from leefbaar.web import geometry

    gdf = store.geometries("pc4", crs=4326)
    merc = geometry.to_mercator(gdf.geometry.to_numpy())
    codes = gdf["code"].to_numpy(object)
    z, x, y = 11, 1050, 675  # Rotterdam: at the deepest zoom the tile holds the boundaries unsimplified
    n, ext = 1 << z, geometry.TILE_EXTENT
    b = geometry.TILE_BUFFER / ext
    clip = shapely.clip_by_rect(merc, (x - b) / n, (y - b) / n, (x + 1 + b) / n, (y + 1 + b) / n)
    inside = ~shapely.is_empty(clip) & (shapely.area(clip) * (n * ext) ** 2 > 4)
    decoded = decode_mvt(geometry.encode_tile(codes, merc, z, x, y, simplify=False))
    assert len(decoded) > 20 and set(decoded) == set(codes[inside])
    for code, rings in decoded.items():
        areas = [_signed_area(r) for r in rings]
        assert areas[0] > 0  # an exterior ring first, clockwise on screen (positive area, MVT 2.1 4.3.4.4)
        want = shapely.area(clip[codes == code][0]) * (n * ext) ** 2
        got = sum(areas)  # exteriors positive, holes negative
        assert abs(got - want) <= 0.75 * shapely.length(clip[codes == code][0]) * n * ext  # snapped to units
        polys = [shapely.Polygon(np.asarray(r, float) / ext / n + (x / n, y / n)) for r in rings]
        assert shapely.hausdorff_distance(shapely.union_all(polys), clip[codes == code][0]) < 2.0 / ext / n
    assert geometry.encode_tile(codes, merc, z, 0, 0) == b""  # nothing there


def test_tiles_endpoint_covers_every_area_of_a_level(client, store):
    codes = set(store.geometries("gemeente", crs=4326)["code"])
    seen, z = set(), 8
    from leefbaar.web.geometry import level_tiles

    for tx, ty in level_tiles(store, "gemeente").tile_range(z):
        r = client.get(f"/api/tiles/gemeente/{z}/{tx}/{ty}", headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        seen |= set(decode_mvt(r.content)) if r.content else set()
    assert seen == codes  # every gemeente is drawn at the national zoom
    outside = client.get("/api/tiles/gemeente/8/0/0")
    assert outside.status_code == 200 and outside.content == b""
    assert client.get("/api/tiles/nosuchlevel/8/131/84").status_code == 404
    assert client.get("/api/tiles/pc4/8/x/84").status_code == 422


def _reference_search(table, levels, q, limit=20):
    """The search ranking written out row by row (the definition ``AreaSearch`` must follow)."""
    t = table.reset_index()
    t = t[t["level"].isin(levels)]
    q = q.strip()
    compact, low = q.replace(" ", "").upper(), q.lower()
    rows = []
    for r in t.itertuples():
        name, gm_name = (r.name or "").lower() if isinstance(r.name, str) else "", r.gemeente_name
        prio = 9
        if len(compact) >= 4 and compact[:4].isdigit() and r.level == "pc4" and r.code == compact[:4]:
            prio = 0
        elif compact and r.code.upper().startswith(compact):
            prio = 1
        elif len(q) >= 2 and name.startswith(low):
            prio = 2
        elif len(q) >= 2 and low in name:
            prio = 3
        elif compact and isinstance(r.gemeente_code, str) and r.gemeente_code.upper() == compact:
            prio = 4
        elif (len(q) >= 2 and r.level == "pc4" and isinstance(gm_name, str) and gm_name
              and gm_name.lower().startswith(low)):
            prio = 4
        if prio < 9:
            rows.append((prio, levels.index(r.level), r.label if isinstance(r.label, str) else "", r.level, r.code))
    return tuple((lv, code) for *_, lv, code in sorted(rows)[:limit])


@pytest.mark.parametrize("q", ["3072", "3072 AB", "rotterdam", "Feij", "GM0599", "BU0599", "a", "de", "zz",
                               "centrum", "noord", "'s-", "1011", "Oost", "xq"])
def test_search_index_follows_its_ranking(client, q):
    facts = client.app.state.data.facts
    assert facts._search._query(q) == _reference_search(facts.areas, facts._search.levels, q)


def test_search_answers_from_memory_are_the_facts_answers(client):
    data = client.app.state.data
    for q in ("Rotterdam", "3072", "feijenoord", "GM0363"):
        first = client.get("/api/search", params={"q": q})
        assert first.status_code == 200 and first.json() == data.search(q)
        again = client.get("/api/search", params={"q": f"  {q.upper()} "})  # the same question, kept
        assert again.content == first.content


def test_kept_answers_are_served_without_a_slot(store_file):
    app, started, release = _busy_app(store_file, queue=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        first = c.get("/api/areas/pc4/3072")
        t, _ = _hold_slot(c, started)
        again = c.get("/api/areas/pc4/3072")  # kept: answered although the only slot is taken
        assert again.status_code == 200 and again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
        assert "default-src 'self'" in again.headers["content-security-policy"]
        assert c.get("/api/areas/pc4/3072", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        assert c.get("/api/areas/pc4/3011").status_code == 503  # not kept yet: admission control applies
        release.set()
        t.join()


def _warm_app(store_file, monkeypatch, folder, prepare: str):
    """A warmed app (light warm-up: every level's kept tables) over its own download folder; ready."""
    monkeypatch.setenv("LEEFBAAR_WEB_WARM", "light")
    monkeypatch.setenv("LEEFBAAR_WEB_PREPARE", prepare)
    monkeypatch.setenv("LEEFBAAR_WEB_DOWNLOAD_DIR", str(folder))
    return create_app(store_file)


def _ready(c) -> None:
    deadline = time.monotonic() + 1200
    while not c.get("/api/health").json()["ready"]:
        assert time.monotonic() < deadline, "warm-up did not finish"
        time.sleep(0.2)


def _kept_content(app) -> dict:
    """What a worker keeps beyond its byte-bounded caches: its kept tables and the facts layer's tables."""
    data = app.state.data
    return {"kept": set(app.state.kept), "scores": set(data.facts._scores), "rows": set(data.facts._rows),
            "references": set(data.__dict__.get("_refs", {})), "gap": set(data.__dict__.get("_gap", {})),
            "explanations": set(data.facts._prepared)}


def test_kept_tables_of_every_level_are_made_at_warm_up_not_under_load(store_file, monkeypatch, tmp_path):
    app = _warm_app(store_file, monkeypatch, tmp_path, "none")
    with TestClient(app, raise_server_exceptions=False) as c:
        _ready(c)
        before = _kept_content(app)
        levels = [lv for lv in c.get("/api/meta").json()["levels"] if lv["score_years"]]
        assert len(levels) >= 2 and "pc4" in {lv["id"] for lv in levels}
        assert {k[1] for k in before["kept"] if k[0] == "distributions"} == {lv["id"] for lv in levels}
        for lv in levels:
            level, years = lv["id"], lv["score_years"]
            codes = c.get(f"/api/ranking/{level}?year={years[-1]}").json()
            assert codes
            code, gemeente = codes[0]["code"], codes[0]["gemeente_code"]
            paths = [f"/api/gap/{level}", f"/api/gap/{level}?gemeente={gemeente}",
                     f"/api/profile/{level}/{code}", f"/api/profile/{level}/{code}?year={years[0]}",
                     f"/api/compare?area={level}:{code}&area={level}:{codes[-1]['code']}",
                     f"/api/map/{level}?year={years[-1]}&measure=total",
                     f"/api/download/map/{level}?year={years[-1]}&measure=afw&format=gpkg",
                     f"/api/download/map/{level}?year={years[0]}&measure=total&format=csv&gemeente={gemeente}",
                     f"/api/download/gap/{level}?format=xlsx&gemeente={gemeente}",
                     f"/api/download/profile/{level}/{code}?format=csv"]
            paths += [f"/api/ranking/{level}?year={y}&gemeente={gemeente}" for y in years]
            paths += [f"/api/download/ranking/{level}?year={y}&format=csv" for y in years]
            for path in paths:
                assert c.get(path).status_code == 200, path
        assert app.state.made_late == []  # no kept table was built under load
        assert _kept_content(app) == before  # nor any table of the facts layer
        assert app.state.warm_steps and all(cpu >= 0 for _, cpu, _ in app.state.warm_steps)


def test_prepared_downloads_equal_the_downloads_made_on_demand(store_file, monkeypatch, tmp_path):
    import openpyxl
    import pyogrio

    level = "buurt"  # the test store's level with one score year: few files to prepare
    prepared = _warm_app(store_file, monkeypatch, tmp_path / "prepared", level)
    with TestClient(prepared, raise_server_exceptions=False) as c:
        _ready(c)
        data = prepared.state.data
        year = data.score_years(level)[-1]
        files = sorted((tmp_path / "prepared").glob("*.dl"))
        assert len(files) >= 10 and len(list((tmp_path / "prepared").glob("*.pin"))) >= len(files)
        paths = [f"/api/download/map/{level}?year={year}&measure={m}&format={f}" for m in ("total", "klasse", "afw")
                 for f in ("csv", "xlsx", "gpkg")]
        paths += [f"/api/download/ranking/{level}?year={year}&format=xlsx", f"/api/download/gap/{level}?format=csv",
                  f"/api/download/ranking/{level}?year={year}&format=csv&lang=nl"]  # with lang: not prepared
        got = {p: c.get(p) for p in paths}
        after = sorted((tmp_path / "prepared").glob("*.dl"))
        assert len(after) == len(files) + 1 and set(files) <= set(after)  # the others came from prepared files
    monkeypatch.setenv("LEEFBAAR_WEB_DOWNLOAD_DIR", str(tmp_path / "on_demand"))
    with TestClient(create_app(store_file, warm=False), raise_server_exceptions=False) as c:
        for p, r in got.items():
            want = c.get(p)
            assert r.status_code == want.status_code == 200, p
            assert r.headers["content-disposition"] == want.headers["content-disposition"], p
            if "format=gpkg" in p:  # a GeoPackage records when it was written: compare its layer
                a, b = (pyogrio.read_dataframe(io.BytesIO(x.content)) for x in (r, want))
                assert a.equals(b) and len(a) > 1000, p
            elif "format=xlsx" in p:  # so does the zip of a workbook: compare its cells
                a, b = ({ws.title: list(ws.iter_rows(values_only=True)) for ws in
                         openpyxl.load_workbook(io.BytesIO(x.content)).worksheets} for x in (r, want))
                assert a == b and len(next(iter(a.values()))) > 10, p
            else:
                assert r.content == want.content, p
