"""Benchmark of the dashboard against a naive baseline that serves full-precision GeoJSON.

    python benchmarks/bench_web.py --store /path/leefbaar.duckdb [--concurrency 50] [--requests 2000]
    python benchmarks/bench_web.py --store /path/leefbaar.duckdb --paint-only [--runs 3]   (part 2 only)
    python benchmarks/bench_web.py --store S --paint-only --paint-baseline-src /path/to/main/src [--paint-maps grid100]

Measures, in one run, for the leefbaar server and for the baseline (both started here on 127.0.0.1):
  1. API latency with N concurrent keep-alive clients on loopback (p50/p95/p99 in ms, requests/s) for area,
     profile, map-data, search and vector-tile requests (codes drawn at random from all PC4, search queries
     from the store's codes, postcodes and names, tiles from the national zooms; seed fixed). The baseline
     (one process, plain uvicorn) computes every answer per request from the same prepared tables, without
     gzip or response cache, answers searches in the thread pool as today's server does (same facts-layer
     index), and returns map data as full-precision GeoJSON with the values joined in.
  2. Time to first map paint in headless Debian chromium (navigation start to the map's first 'idle' after
     colouring; fresh browser context per run, so nothing comes from the HTTP cache): all PC4 and all 2024
     buurten on the dashboard against the naive page (whole GeoJSON fetched, then drawn), and the 100 m cells
     of Rijnmond (grid100, coloured by inhabitants): the dashboard's own grid map (/map?level=grid100: values
     from /api/grid, first drawn from the image of the coloured cells, /api/grid/grid100/image, its vector tiles
     prepared at start-up and added after the first paint) against the naive page, with a bare bench page that
     draws leefbaar's tiles from the baseline process (tiles made on request) beside them. First paint is the
     page's own mark: the map's first 'idle' once every area has its colour (all tiles in view drawn coloured;
     for a grid level, its image drawn), never an empty page or an uncoloured map. With
     ``--paint-baseline-src`` the dashboard of another source folder (today's code, served by a second leefbaar
     process over the same store) is timed too; the runs of all pages are interleaved, so the machine's load
     falls alike on each.
  3. Bytes transferred for each map (as counted by the browser: encoded bytes on the wire).
  4. (``--mix``) The uncached heavy mix under load: downloads as CSV, GeoPackage and Excel, compare, gap,
     profile (with a year) and ranking, parameters drawn at random (seed fixed), N concurrent clients, first
     against a baseline (``--mix-baseline-src``, e.g. main's code, with ``--mix-baseline-workers`` processes:
     1 by default, 0 for its defaults), then against this code with its defaults (one worker per core). The
     mix starts once every worker reports ready (warm-up, and with this code the national downloads prepared).
     Reports latency of all answers and of the 200s, 503 share, and the RSS of the server process tree (after
     warm-up, peak, end). ``--mix-only`` runs just this part.
Only loopback traffic; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

NAIVE_HTML = """<!doctype html><html><head><meta charset="utf-8"><title>naive</title>
<link rel="stylesheet" href="/static/vendor/maplibre-gl.css">
<style>#map{position:absolute;top:0;bottom:0;left:0;right:0}</style></head>
<body><div id="map"></div><script type="module" src="/naive.js"></script></body></html>"""

NAIVE_JS = """import * as maplibregl from "/static/vendor/maplibre-gl.mjs";
const q = new URLSearchParams(location.search), level = q.get("level") || "pc4";
const bounds = level === "grid100" ? [[4.01, 51.80], [4.65, 52.05]] : [[3.31, 50.75], [7.23, 53.56]];
const map = new maplibregl.Map({container: "map", bounds, fadeDuration: 0,
  style: {version: 8, sources: {}, layers: [{id: "bg", type: "background", paint: {"background-color": "#eef3f7"}}]}});
map.on("load", async () => {
  if (q.get("mode") === "tiles") {  // the same layer from leefbaar's vector tiles, coloured by feature state
    map.addSource("areas", {type: "vector", tiles: [`${location.origin}/bench/tiles/${level}/{z}/{x}/{y}`],
                            minzoom: 4, maxzoom: 11, promoteId: "code"});
    const v = await (await fetch(`/naive/values/${level}`)).json();
    v.codes.forEach((c, i) => map.setFeatureState({source: "areas", sourceLayer: "areas", id: c}, {b: v.bins[i]}));
    const match = ["match", ["coalesce", ["feature-state", "b"], -1]];
    v.colors.forEach((c, i) => match.push(i, c)); match.push("#d9d9d9");
    map.addLayer({id: "fill", type: "fill", source: "areas", "source-layer": "areas",
                  paint: {"fill-color": match, "fill-outline-color": "#ffffff"}});
    map.once("idle", () => { document.body.dataset.mapReadyMs = String(Math.round(performance.now()));
                             document.body.dataset.mapReady = "1"; });
    return;
  }
  const data = await (await fetch(`/naive/map/${level}?year=${q.get("year") || 2022}&measure=total`)).json();
  map.addSource("areas", {type: "geojson", data});
  const colors = data.legend.colors, match = ["match", ["get", "bin"]];
  colors.forEach((c, i) => match.push(i, c)); match.push("#d9d9d9");
  map.addLayer({id: "fill", type: "fill", source: "areas", paint: {"fill-color": match}});
  map.addLayer({id: "line", type: "line", source: "areas", paint: {"line-color": "#fff", "line-width": 0.3}});
  map.once("idle", () => { document.body.dataset.mapReadyMs = String(Math.round(performance.now()));
                           document.body.dataset.mapReady = "1"; });
});"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the naive baseline server (run in its own process) ---------------------------------------------------
def baseline_app(store_path: str):
    """Full-precision GeoJSON with values joined per request; profiles computed per request; no gzip."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse, Response
    from fastapi.staticfiles import StaticFiles

    from leefbaar.report.data import DashboardData
    from leefbaar.store.store import Store
    from leefbaar.web.app import STATIC
    from leefbaar.web.geometry import level_tiles, naive_geojson

    store = Store.open(store_path)
    geojson = {lv: json.loads(naive_geojson(store, lv)) for lv in ("pc4", "buurt", "grid100")}
    app = FastAPI()

    base = DashboardData(store)  # the same prepared tables; answers computed per request, not kept
    base.warm("pc4")
    base.warm("buurt")
    lock = threading.Lock()

    @app.get("/naive/map/{level}")
    def naive_map(level: str, year: int, measure: str = "total"):
        mv = grid_values(level) if level == "grid100" else base.map_values(level, year, measure)
        by_code = dict(zip(mv["codes"], zip(mv["values"], mv["bins"], strict=True), strict=True))
        feats = []
        for f in geojson[level]["features"]:
            v, b = by_code.get(f["properties"]["code"], (None, -1))
            feats.append({**f, "properties": {**f["properties"], "value": v, "bin": b}})
        body = {"type": "FeatureCollection", "features": feats, "legend": mv["legend"]}
        return Response(json.dumps(body), media_type="application/json")

    def grid_values(level: str) -> dict:
        """Inhabitants per cell in the latest year, in seven quantile bins (the grid maps have no scores)."""
        with lock:
            v = store.sql("SELECT code, value FROM observations WHERE level = ? AND indicator = 'inwoner' AND year = "
                          "(SELECT max(year) FROM observations WHERE level = ? AND indicator = 'inwoner')",
                          [level, level])
        edges = v["value"].quantile([i / 7 for i in range(1, 7)]).to_numpy()
        bins = [int(sum(x > e for e in edges)) for x in v["value"]]
        colors = ["#fff5eb", "#fee6ce", "#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603"]
        return {"codes": v["code"].tolist(), "values": v["value"].tolist(), "bins": bins,
                "legend": {"colors": colors}, "colors": colors}

    @app.get("/naive/values/{level}")
    def naive_values(level: str):
        return grid_values(level)

    @app.get("/bench/tiles/{level}/{z}/{x}/{y}")
    def bench_tile(level: str, z: int, x: int, y: int):
        raw, gz = level_tiles(store, level).tile(z, x, y)
        headers = {"Content-Encoding": "gzip"} if raw else {}
        return Response(gz if raw else b"", media_type="application/vnd.mapbox-vector-tile", headers=headers)

    @app.get("/naive/search")
    def naive_search(q: str):
        return Response(json.dumps(base.search(q)), media_type="application/json")

    @app.get("/naive/profile/{level}/{code}")
    def naive_profile(level: str, code: str):
        return Response(json.dumps(base.profile(level, code)), media_type="application/json")

    @app.get("/naive/areas/{level}/{code}")
    def naive_area(level: str, code: str):
        p = base.profile(level, code)
        return Response(json.dumps({"area": p["area"], "score": p["score"], "years": p["years"]}),
                        media_type="application/json")

    @app.get("/naive.html")
    def page():
        return HTMLResponse(NAIVE_HTML)

    @app.get("/naive.js")
    def script():
        return Response(NAIVE_JS, media_type="text/javascript")

    for level in ("grid100", "pc4"):
        level_tiles(store, level)

    @app.get("/api/health")
    def health():
        return {"ready": True}

    app.mount("/static", StaticFiles(directory=STATIC))
    return app


def start(cmd: list[str], port: int, timeout: float = 1200, env: dict | None = None) -> subprocess.Popen:
    """Start a server and wait until it answers ready 10 times in a row (every worker process warm)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + timeout
    streak = 0
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                streak = streak + 1 if b'"ready":true' in r.read().replace(b" ", b"") else 0
            if streak >= 10:
                return proc
            continue
        except OSError:
            streak = 0
        if proc.poll() is not None:
            break
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"server on port {port} did not start")


# -- load generator: minimal HTTP/1.1 keep-alive client on asyncio streams ---------------------------------
async def _fetch(reader, writer, path: str) -> tuple[int, int]:
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length)
    return status, len(body)


async def _load(port: int, paths: list[str], concurrency: int, time_limit: float) -> tuple[list[float], int, float]:
    queue = list(reversed(paths))
    latencies: list[float] = []
    errors = 0
    t_end = time.monotonic() + time_limit

    async def worker():
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue and time.monotonic() < t_end:
                path = queue.pop()
                t0 = time.perf_counter()
                status, _ = await _fetch(reader, writer, path)
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += status != 200
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - t0


async def _fetch_head(reader, writer, path: str) -> tuple[int, float | None]:
    """(status, Retry-After seconds or None) of one GET on a keep-alive connection."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: gzip\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status, length, retry = int(head.split(b" ", 2)[1]), 0, None
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"retry-after":
            retry = float(value)
    await reader.readexactly(length)
    return status, retry


async def _load_mix(port: int, jobs: list[tuple[str, str]], concurrency: int, time_limit: float,
                    retries: int = 5) -> list[tuple]:
    """Per request (kind, first status, first ms, final status, ms until the final answer). A client that
    gets 503 waits Retry-After (at most 5 s) and asks again, up to ``retries`` times; a broken connection is
    reopened (status 0)."""
    queue = list(reversed(jobs))
    out: list[tuple] = []
    t_end = time.monotonic() + time_limit

    async def worker():
        reader = writer = None
        while queue and time.monotonic() < t_end:
            kind, path = queue.pop()
            t0 = time.perf_counter()
            first = None
            for _ in range(retries + 1):
                t1 = time.perf_counter()
                retry = None
                for fresh in (writer is None, True):  # the server closes keep-alive connections idle for 5 s
                    try:
                        if fresh:
                            if writer is not None:
                                writer.close()
                            reader, writer = await asyncio.open_connection("127.0.0.1", port)
                        status, retry = await asyncio.wait_for(_fetch_head(reader, writer, path),
                                                               max(1.0, t_end - time.monotonic()))
                        break
                    except (TimeoutError, OSError, asyncio.IncompleteReadError):
                        status = 0
                        if writer is not None:
                            writer.close()
                        reader = writer = None
                        if fresh:
                            break
                first = first or (status, (time.perf_counter() - t1) * 1000)
                if status != 503 or time.monotonic() >= t_end:
                    break
                await asyncio.sleep(min(retry or 1.0, 5.0))
            out.append((kind, *first, status, (time.perf_counter() - t0) * 1000))
        if writer is not None:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


def tree_rss(pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants, from /proc."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            continue
    return total


def mix_jobs(rng: random.Random, n: int, codes: list[str], gemeenten: list[str], years: dict[str, list[int]]) -> list:
    """``n`` requests of the uncached heavy mix, kinds in turn, parameters at random."""
    measures = ["total", "afw", "klasse", "won", "fys", "vrz", "soc", "onv"]
    levels = [lv for lv in years if years[lv]]

    def level_year():
        lv = rng.choice(levels)
        return lv, rng.choice(years[lv])

    def areas(k):
        return "&".join(f"area=pc4:{c}" for c in rng.sample(codes, k))

    def csv():
        if rng.random() < 0.5:
            lv, y = level_year()
            return f"/api/download/map/{lv}?year={y}&measure={rng.choice(measures)}&format=csv"
        return f"/api/download/ranking/pc4?year={rng.choice(years['pc4'])}&gemeente={rng.choice(gemeenten)}&format=csv"

    def gpkg():
        lv, y = level_year()
        return f"/api/download/map/{lv}?year={y}&measure={rng.choice(measures)}&format=gpkg"

    def xlsx():
        r = rng.random()
        if r < 0.2:
            lv, y = level_year()
            return f"/api/download/map/{lv}?year={y}&measure={rng.choice(measures)}&format=xlsx"
        if r < 0.4:
            return f"/api/download/ranking/pc4?year={rng.choice(years['pc4'])}&gemeente={rng.choice(gemeenten)}" \
                   "&format=xlsx"
        if r < 0.6:
            return f"/api/download/profile/pc4/{rng.choice(codes)}?format=xlsx"
        if r < 0.8:
            return f"/api/download/compare?{areas(rng.randint(2, 5))}&format=xlsx"
        return f"/api/download/gap/pc4?gemeente={rng.choice(gemeenten)}&format=xlsx"

    kinds = {
        "csv": csv,
        "gpkg": gpkg,
        "xlsx": xlsx,
        "compare": lambda: f"/api/compare?{areas(rng.randint(2, 5))}" + ("&year=2022" if rng.random() < 0.5 else ""),
        "gap": lambda: f"/api/gap/pc4?gemeente={rng.choice(gemeenten)}",
        "profile": lambda: f"/api/profile/pc4/{rng.choice(codes)}?year={rng.choice(years['pc4'][-3:])}",
        "ranking": lambda: f"/api/ranking/pc4?year={rng.choice(years['pc4'])}"
                           + (f"&gemeente={rng.choice(gemeenten)}" if rng.random() < 0.9 else ""),
    }
    names = list(kinds)
    return [(names[i % len(names)], kinds[names[i % len(names)]]()) for i in range(n)]


def run_mix(label: str, cmd: list[str], env: dict, port: int, jobs: list, concurrency: int, time_limit: float) -> None:
    """Start a server, run the mix against it while sampling the RSS of its process tree, print, stop."""
    import threading

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env)
    try:
        _wait_ready(proc, port)
        time.sleep(2)
        rss0 = tree_rss(proc.pid)
        samples, stop = [rss0], threading.Event()

        def sample():
            while not stop.wait(0.5):
                samples.append(tree_rss(proc.pid))

        t = threading.Thread(target=sample, daemon=True)
        load0 = os.getloadavg()[0]
        t.start()
        t0 = time.perf_counter()
        res = asyncio.run(_load_mix(port, jobs, concurrency, time_limit))
        wall = time.perf_counter() - t0
        stop.set()
        t.join()
        rss1 = tree_rss(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    def q(ms):
        if len(ms) < 2:
            return (float("nan"),) * 3
        c = statistics.quantiles(ms, n=100, method="inclusive")
        return c[49], c[98], max(ms)

    n = len(res)
    first = {s: sum(1 for r in res if r[1] == s) for s in sorted({r[1] for r in res})}
    final = {s: sum(1 for r in res if r[3] == s) for s in sorted({r[3] for r in res})}
    print(f"\n{label}: {n} of {len(jobs)} requests in {wall:.0f} s ({n / wall:.1f}/s completed), load average "
          f"{load0:.1f} -> {os.getloadavg()[0]:.1f}; first answers {first}, final {final}")
    print(f"  RSS of the server process tree: {rss0 / 2**20:,.0f} MB after warm-up, peak {max(samples) / 2**20:,.0f}"
          f" MB, end {rss1 / 2**20:,.0f} MB (growth to peak {(max(samples) - rss0) / 2**20:+,.0f} MB)")
    print(f"  {'':<9} {'':>5} {'first answer (any status)':^33}   {'until done (503: Retry-After, ask again)':^42}")
    print(f"  {'kind':<9} {'n':>5} {'503':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}   {'200':>5} {'404':>5} "
          f"{'other':>5} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for kind in [*dict.fromkeys(r[0] for r in jobs), "all"]:
        rows = [r for r in res if kind in ("all", r[0])]
        a50, a99, amax = q([r[2] for r in rows])
        d50, d99, dmax = q([r[4] for r in rows])
        ok, nf = sum(r[3] == 200 for r in rows), sum(r[3] == 404 for r in rows)
        print(f"  {kind:<9} {len(rows):>5} {sum(r[1] == 503 for r in rows):>5} {a50:>8.0f} {a99:>8.0f} {amax:>8.0f}   "
              f"{ok:>5} {nf:>5} {len(rows) - ok - nf:>5} {d50:>8.0f} {d99:>8.0f} {dmax:>8.0f}")


def _wait_ready(proc: subprocess.Popen, port: int, timeout: float = 1800) -> None:
    deadline, streak = time.monotonic() + timeout, 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                streak = streak + 1 if b'"ready":true' in r.read().replace(b" ", b"") else 0
            if streak >= 10:
                return
            continue
        except OSError:
            streak = 0
        time.sleep(0.3)
    proc.terminate()  # uvicorn stops its worker processes on SIGTERM (a kill would leave them running)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    raise SystemExit(f"server on port {port} did not start")


def latency(port: int, paths: list[str], concurrency: int, time_limit: float = 120) -> dict:
    lat, errors, wall = asyncio.run(_load(port, paths, concurrency, time_limit))
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [float("nan")] * 99
    return {"n": len(lat), "errors": errors, "p50": q[49], "p95": q[94], "p99": q[98], "rps": len(lat) / wall}


# -- browser: time to first paint and bytes ----------------------------------------------------------------
class Browser:
    """Headless Debian chromium (software WebGL, as on a server without GPU): one page load per ``paint`` call in a
    fresh context with the HTTP cache off, so nothing comes from an earlier run."""

    def __enter__(self):
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self.browser = self._pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        return self

    def __exit__(self, *exc):
        self.browser.close()
        self._pw.stop()

    def paint(self, url: str) -> dict:
        """Time to first paint of one load of ``url``: navigation start to the moment the page marks its map
        drawn with every area coloured (``body[data-map-ready-ms]``: the map's first 'idle' after the colours
        are set, i.e. all tiles in view, or a grid level's image, loaded and drawn), and the bytes on the wire
        (all, and map data) up to 300 ms after that mark."""
        ctx = self.browser.new_context(viewport={"width": 1400, "height": 900})
        page = ctx.new_page()
        cdp = ctx.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        cdp.send("Performance.enable")
        # bytes of every request of the page and of its map's worker (the vector tiles: a CDP session on the page
        # alone does not see the worker's requests), as received: headers and (encoded) body
        done = []
        page.on("requestfinished", lambda r: done.append(r))
        page.goto(url)
        page.wait_for_selector("body[data-map-ready]", state="attached", timeout=120_000)
        ms = float(page.locator("body").get_attribute("data-map-ready-ms"))
        # task time of the page's renderer up to now (Performance.getMetrics TaskDuration: its main thread and the
        # map's worker; less load-sensitive than wall time; the GPU process's software GL is not in it)
        task = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}.get("TaskDuration", 0)
        page.wait_for_timeout(300)
        parts = ("/geometry/", "/tiles/", "/api/map/", "/api/grid/", "/naive/map", "/naive/values")
        sizes = {}
        for i, r in enumerate(done):
            got = r.sizes()
            sizes[i] = (r.url, max(0, got["responseBodySize"]) + max(0, got["responseHeadersSize"]))
        geo = sum(n for u, n in sizes.values() if any(part in u for part in parts))
        ctx.close()
        return {"ms": ms, "bytes": sum(n for _u, n in sizes.values()), "map_bytes": geo, "cpu": task}


def first_paint(pages: list[tuple[str, str]], runs: int) -> dict[str, dict]:
    """``runs`` loads of each (name, url), interleaved (run 1 of every page, then run 2, ...; the order turns
    each run) so that the machine's load falls alike on all; per name the median and all times, median bytes."""
    got: dict[str, list[dict]] = {name: [] for name, _ in pages}
    with Browser() as b:
        for i in range(runs):
            for name, url in pages[i % len(pages):] + pages[:i % len(pages)]:
                got[name].append(b.paint(url))
    return {name: {"paint_ms": statistics.median(r["ms"] for r in rs), "paint_all": [r["ms"] for r in rs],
                   "bytes": statistics.median(r["bytes"] for r in rs), "cpu": statistics.median(r["cpu"] for r in rs),
                   "map_bytes": statistics.median(r["map_bytes"] for r in rs)} for name, rs in got.items()}


def _loadavg() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def search_queries(store, rng: random.Random, n: int) -> list[str]:
    """``n`` search queries as users type them: PC4 codes and postcodes, gemeente, wijk and buurt names and
    their first letters, gemeente and buurt codes (from the store's areas; seed fixed)."""
    areas = store.sql("SELECT DISTINCT level, code, name FROM areas WHERE level IN ('pc4', 'buurt', 'wijk', "
                      "'gemeente')")
    by = {lv: g for lv, g in areas.groupby("level")}
    names = {lv: [x for x in by[lv]["name"].dropna() if x] for lv in ("gemeente", "wijk", "buurt")}
    kinds = [
        lambda: rng.choice(by["pc4"]["code"].tolist()),
        lambda: rng.choice(by["pc4"]["code"].tolist()) + " " + rng.choice("ABCDEGHJKLMNPRSTVWXZ") * 2,
        lambda: rng.choice(names["gemeente"]),
        lambda: (lambda x: x[:rng.randint(2, max(2, min(6, len(x))))])(rng.choice(names["gemeente"])),
        lambda: rng.choice(names["wijk"]),
        lambda: rng.choice(names["buurt"]),
        lambda: (lambda x: x[:rng.randint(3, max(3, min(8, len(x))))])(rng.choice(names["buurt"])),
        lambda: rng.choice(by["gemeente"]["code"].tolist()),
        lambda: rng.choice(by["buurt"]["code"].tolist())[:rng.randint(4, 10)],
    ]
    return [kinds[i % len(kinds)]() for i in range(n)]


def _impl(module: str) -> str:
    import importlib.util

    return module if importlib.util.find_spec(module) else "pure Python"


def mix(args) -> None:
    """Part 4: the uncached heavy mix against today's configuration and against this code, one after the other."""
    from leefbaar.report.data import DashboardData
    from leefbaar.store.store import Store

    with Store.open(args.store) as st:
        d = DashboardData(st)
        years = {lv: d.score_years(lv) for lv in d.levels}
        codes = sorted(d.scores("pc4").query("year == 2022")["code"].unique())
        gemeenten = [g["code"] for g in d.gemeenten()]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start (a shared machine: "
          "other work inflates every figure)")
    print(f"Uncached heavy mix, {args.concurrency} concurrent keep-alive clients on loopback: kinds in turn "
          "(csv, gpkg, xlsx downloads, compare, gap, profile, ranking), parameters at random (seed 7)")
    code = "import sys; from leefbaar.web import serve; serve(sys.argv[1], '127.0.0.1', int(sys.argv[2])"
    here = str(Path(__file__).resolve().parents[1] / "src")
    bw = args.mix_baseline_workers
    for label, src, n, extra in (
            (f"baseline ({args.mix_baseline_src}, " + (f"{bw} worker{'s' if bw > 1 else ''})" if bw else
                                                       "its defaults)"), args.mix_baseline_src,
             args.mix_baseline_requests, f", {bw})" if bw else ")"),
            ("this code, defaults (one worker per core)", here, args.mix_requests, ")")):
        if n <= 0:
            continue
        port = free_port()
        env = {**os.environ, "PYTHONPATH": src}
        jobs = mix_jobs(random.Random(7), n, codes, gemeenten, years)
        run_mix(label, [sys.executable, "-c", code + extra, args.store, str(port)], env, port, jobs,
                args.concurrency, args.mix_time_limit)
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


def paint_part(args, port: int, bport: int, base_port: int | None) -> None:
    """Part 2: time to first map paint of the dashboard (this code, and ``--paint-baseline-src`` when given)
    against the naive page, interleaved per run."""
    print(f"\nTime to first map paint, headless chromium 1400x900, software WebGL (median of {args.runs}, fresh "
          "context, runs interleaved); leefbaar: vector tiles (a grid level: its image first), naive: whole "
          "GeoJSON then drawn; load average "
          f"{_loadavg()}")
    lf, nv = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bport}"
    bs = f"http://127.0.0.1:{base_port}" if base_port else None
    maps = {
        "pc4": ("all PC4, 2022", "/map?level=pc4&year=2022&measure=total", "/naive.html?level=pc4&year=2022", []),
        "buurt": ("all buurten (2024 boundaries), 2024", "/map?level=buurt&year=2024&measure=total",
                  "/naive.html?level=buurt&year=2024", []),
        "grid100": ("grid100 Rijnmond, inhabitants", "/map?level=grid100&indicator=inwoner",
                    "/naive.html?level=grid100", [("tiles*", f"{nv}/naive.html?level=grid100&mode=tiles")]),
    }
    for key in args.paint_maps.split(","):
        title, path, naive, extra = maps[key]
        pages = [("leefbaar", lf + path), *([("baseline", bs + path)] if bs else []), ("naive", nv + naive), *extra]
        print(f"  {title}")
        for name, r in first_paint(pages, args.runs).items():
            print(f"    {name:<9} first paint {r['paint_ms']:>7.0f} ms  (runs: "
                  f"{', '.join(f'{t:.0f}' for t in r['paint_all'])})  renderer tasks {r['cpu']:5.2f} s  "
                  f"bytes on the wire: page "
                  f"{r['bytes']:>11,.0f}  map data {r['map_bytes']:>11,.0f}")
    if bs:
        print(f"  (baseline: the dashboard of {args.paint_baseline_src}, same store, same browser)")
    if "grid100" in args.paint_maps:
        print("  (* a bare page drawing leefbaar's grid100 tiles from the baseline process, not the dashboard)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", required=True, help="a leefbaar store (read-only)")
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--requests", type=int, default=2000, help="requests per endpoint for leefbaar")
    ap.add_argument("--baseline-requests", type=int, default=300, help="requests per endpoint for the baseline "
                    "(map data: a tenth of it, each response is megabytes)")
    ap.add_argument("--runs", type=int, default=3, help="browser runs per page")
    ap.add_argument("--workers", type=int, default=1, help="leefbaar server processes")
    ap.add_argument("--baseline-server", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--paint-only", action="store_true", help="run only the time to first map paint (part 2)")
    ap.add_argument("--paint-baseline-src", help="also time the dashboard of this source folder (e.g. main's "
                    "src, PYTHONPATH of a second leefbaar server), interleaved with this code's")
    ap.add_argument("--paint-maps", default="grid100,pc4,buurt",
                    help="which maps to time (comma-separated from grid100, pc4, buurt)")
    ap.add_argument("--mix", action="store_true", help="also run the uncached heavy mix under load")
    ap.add_argument("--mix-only", action="store_true", help="run only the uncached heavy mix")
    ap.add_argument("--mix-requests", type=int, default=3000, help="requests of the mix for this code")
    ap.add_argument("--mix-baseline-requests", type=int, default=1000, help="requests of the mix for the baseline")
    ap.add_argument("--mix-baseline-src", default="/work/main/src",
                    help="source folder of today's configuration (PYTHONPATH of the baseline server)")
    ap.add_argument("--mix-baseline-workers", type=int, default=1,
                    help="server processes of the baseline (0: its defaults, one per core)")
    ap.add_argument("--mix-time-limit", type=float, default=900, help="seconds per server at most")
    args = ap.parse_args()
    if args.baseline_server:
        import uvicorn

        uvicorn.run(baseline_app(args.store), host="127.0.0.1", port=args.baseline_server, log_level="warning",
                    access_log=False)
        return

    from leefbaar.report.data import DashboardData
    from leefbaar.store.store import Store
    from leefbaar.web.geometry import level_tiles, level_topojson, naive_geojson

    if args.mix or args.mix_only:
        mix(args)
        if args.mix_only:
            return
    with Store.open(args.store) as st:
        years = DashboardData(st).score_years("pc4")  # the years both servers can map
        codes = st.sql("SELECT DISTINCT code FROM observations WHERE level = 'pc4' AND indicator = 'lbm' "
                       "AND year = 2022 ORDER BY code")["code"].tolist()
        queries = search_queries(st, random.Random(7), 600)
        tiles = [(lv, z, x, y) for lv in ("pc4", "buurt") for z in (5, 6, 7, 8)
                 for x, y in level_tiles(st, lv).tile_range(z)]
        enc = level_topojson(st, "pc4")
        naive = naive_geojson(st, "pc4")
    print(f"machine: {os.cpu_count()} cores, load average (uptime) {_loadavg()} at start (other work on the "
          "machine inflates every figure; compare leefbaar and naive within this run)")
    print(f"PC4 boundaries: {len(codes)} areas with 2022 scores, {enc.features} polygons")
    print(f"  leefbaar TopoJSON (quantised 1e5, shared arcs): {len(enc.raw):>11,} B raw  {len(enc.gz):>10,} B gzip"
          f"  ({enc.vertices:,} vertices)")
    print(f"  naive full-precision GeoJSON:                   {len(naive):>11,} B raw  "
          f"{len(gzip.compress(naive, 6)):>10,} B gzip")
    print(f"  ratio (raw): {len(naive) / len(enc.raw):.1f}x smaller; as sent (leefbaar gzip vs naive raw): "
          f"{len(naive) / len(enc.gz):.1f}x smaller")

    rng = random.Random(42)
    port, bport = free_port(), free_port()
    server = start([sys.executable, "-c", "import sys; from leefbaar.web import serve; "
                    "serve(sys.argv[1], '127.0.0.1', int(sys.argv[2]), int(sys.argv[3]))", args.store, str(port),
                    str(args.workers)], port)
    baseline = start([sys.executable, __file__, "--store", args.store, "--baseline-server", str(bport)], bport)
    servers = [server, baseline]
    base_port = None
    if args.paint_baseline_src:  # the dashboard of another source folder (today's code), for a same-run baseline
        base_port = free_port()
        servers.append(start([sys.executable, "-c", "import sys; from leefbaar.web import serve; "
                              "serve(sys.argv[1], '127.0.0.1', int(sys.argv[2]), int(sys.argv[3]))", args.store,
                              str(base_port), str(args.workers)], base_port,
                             env={**os.environ, "PYTHONPATH": args.paint_baseline_src}))
    try:
        if not args.paint_only:
            print(f"\nAPI latency, {args.concurrency} concurrent keep-alive clients on loopback (ms); leefbaar with "
                  f"{args.workers} worker process(es), http={_impl('httptools')}, loop={_impl('uvloop')}")
            print(f"  {'endpoint':<10} {'server':<9} {'n':>6} {'err':>4} {'p50':>8} {'p95':>8} {'p99':>8} {'req/s':>8}")
            for kind in ("area", "profile", "map", "search", "tile"):
                for name, p, prefix, n in (("leefbaar", port, "/api", args.requests),
                                           ("naive", bport, "/naive", args.baseline_requests)):
                    if kind == "tile":
                        if name == "naive":  # the naive map has no tiles: its geometry is the whole GeoJSON above
                            continue
                        paths = [f"/api/tiles/{lv}/{z}/{x}/{y}" for lv, z, x, y in rng.choices(tiles, k=n)]
                    elif kind == "search":
                        paths = [f"{prefix}/search?q={urllib.parse.quote(q)}" for q in rng.choices(queries, k=n)]
                    elif kind == "map":
                        n = max(args.concurrency, n // 10) if name == "naive" else n
                        paths = [f"{prefix}/map/pc4?year={rng.choice(years)}&measure="
                                 f"{rng.choice(['total', 'afw', 'klasse'])}" for _ in range(n)]
                    else:
                        paths = [f"{prefix}/{'areas' if kind == 'area' else 'profile'}/pc4/{rng.choice(codes)}"
                                 for _ in range(n)]
                    r = latency(p, paths, args.concurrency)
                    print(f"  {kind:<10} {name:<9} {r['n']:>6} {r['errors']:>4} {r['p50']:>8.1f} {r['p95']:>8.1f} "
                          f"{r['p99']:>8.1f} {r['rps']:>8.0f}")
        if Path("/usr/bin/chromium").exists():
            paint_part(args, port, bport, base_port)
        else:
            print("\n(no /usr/bin/chromium: first-paint benchmark skipped; run scripts/setup-web.sh --test)")
        print(f"load average (uptime) at the end: {_loadavg()}")
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
