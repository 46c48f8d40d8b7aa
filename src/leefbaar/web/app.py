"""The leefbaar dashboard: a FastAPI application over a read-only store, with its front end.

The API is documented at ``/openapi.json`` (no CDN-based docs page: the app works offline). Every parameter is
typed and validated (levels, measures and indicators are enums from the catalogue; codes and years are
pattern- and range-checked); queries are parameterised; no path comes from a request. Responses carry a
strict Content-Security-Policy and related headers; errors are short JSON messages, never stack traces.
Heavy answers (boundaries, map values, profiles, downloads) are computed once and served from memory,
gzip-compressed when the client accepts it (``Accept-Encoding`` with q-values; ``gzip;q=0`` is honoured).

Serving under load (settings: arguments of ``create_app``/``serve``, or the environment of each worker):
- ``LEEFBAAR_WEB_CACHE_MB`` (default 48): the memory budget of the answers each worker process keeps (``Budget``:
  the response cache, the answers served on the event loop, the search answers), bounded in bytes (raw + gzip
  bodies; least recently used entries go first). Everything else a worker keeps is made at warm-up, before it
  reports ready (``/api/health``), so under load a worker grows by this budget and the working memory of the
  requests running at once, nothing more; ``app.state.warm_steps`` gives the CPU time and memory of each step.
- Downloads (CSV, Excel, GeoPackage) are written once per parameter set, by streaming writers, into files in one
  folder that the workers share (``LEEFBAAR_WEB_DOWNLOAD_DIR``, default a fresh temporary folder removed at exit),
  at most ``LEEFBAAR_WEB_DOWNLOADS_MB`` (default 512), and streamed from disk. Their tables come from answers
  kept once per worker: the national ranking tables (cut per gemeente), the gap page's distribution of every
  gemeente (``facts.distribution``), the boundaries in RD New, the profiles. The national downloads (every score
  map as CSV, Excel and GeoPackage, rankings and gap tables of every scored level and year) are written at
  start-up, the work shared by the workers, before they report ready (``LEEFBAAR_WEB_PREPARE=national``, the
  default; ``none`` skips it; a list of levels such as ``pc4,wijk`` prepares theirs), and kept outside that
  bound, so their first request is answered from disk (measured on the real store: about 900 files, about
  1.1 GB of disk, mostly GeoPackages of about 5 MB, and about 200 s CPU in all, shared by the workers).
- ``LEEFBAAR_WEB_DUCKDB_MB`` (default 256) and ``LEEFBAAR_WEB_DUCKDB_THREADS`` (default 1): DuckDB's memory limit
  and threads in each worker process (one worker per core).
- ``LEEFBAAR_WEB_CONCURRENCY`` (default 4) API requests run at once per worker, in threads, each on its
  own read-only cursor of the store; ``LEEFBAAR_WEB_QUEUE`` (default 16) more wait, at most
  ``LEEFBAAR_WEB_MAX_WAIT`` seconds (default 1.5); downloads have their own lane (half as many at once, at
  least 2, and as long a queue). Beyond that, or when the expected wait is longer, the answer is at once ``503`` with
  ``Retry-After`` (seconds), not a long wait. Health, pages and static files are not queued.
- Start-up (``warm``) makes, for every scored level, everything its requests read (scores, score facts of every
  area, references, explanations, the analyses of the gap and vulnerability pages, distributions, national
  rankings, boundaries in RD New), so no kept table is built under load and no request waits behind the one-off
  analysis lock (``store_lock``); then the national downloads (above), the first level's profiles and score
  maps (into the response cache), the national zooms of every level's vector tiles, and for the grid levels
  (CBS cells, a small region) their default map with its image and their tiles at every zoom.
  ``LEEFBAAR_WEB_WARM=light`` makes the tables of every level, the grid levels' default maps and images and the
  first level's tiles only, and prepares no downloads (profiles, maps, downloads and other tiles are then made on
  first request; the tests use it).
- HEAD is answered like GET, without the body.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import gzip
import hashlib
import inspect
import json
import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated

import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import StringConstraints
from pydantic.fields import FieldInfo
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from leefbaar import __version__
from leefbaar.errors import LeefbaarError, StoreError
from leefbaar.facts import choropleth, error_text, not_found, say, told
from leefbaar.facts.boundaries import wkb_table
from leefbaar.facts.context import area_names, context_geojson, grid_levels
from leefbaar.facts.distribution import distribution as distribution_of
from leefbaar.facts.distribution import distributions
from leefbaar.facts.evaluations import evaluation_cards
from leefbaar.facts.perception import Perception
from leefbaar.facts.segregation import segregation_facts
from leefbaar.report import exports
from leefbaar.report.data import DIMENSIONS, DashboardData, NotFound, records
from leefbaar.sources.catalogue import indicators as catalogue_indicators
from leefbaar.store.store import Store
from leefbaar.web import models
from leefbaar.web.geometry import Encoded, GridRaster, VectorTiles, level_raster, level_tiles, level_topojson

log = logging.getLogger("leefbaar.web")
STATIC = Path(str(resources.files("leefbaar") / "web" / "static"))

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "worker-src 'self' blob:; child-src 'self' blob:; connect-src 'self'; font-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"geolocation=(), camera=(), microphone=(), payment=(), usb=()"),
]
PAGES = ("/", "/map", "/area", "/compare", "/gap", "/programmes", "/perception")


class Level(enum.StrEnum):
    """Area levels the dashboard can draw (pc4 = postcode area; buurt, wijk, gemeente = CBS areas)."""

    pc4 = "pc4"
    buurt = "buurt"
    wijk = "wijk"
    gemeente = "gemeente"


class Lang(enum.StrEnum):
    """Language of a download: nl (Dutch Excel: semicolon, decimal comma) or en (comma, decimal point)."""

    nl = "nl"
    en = "en"


class Segregation(enum.StrEnum):
    """Dimension of a segregation view (migration background only in the CLI, with its flag)."""

    income = "income"
    tenure = "tenure"
    age = "age"
    ses = "ses"
class Scheme(enum.StrEnum):
    """Class breaks of an indicator map (``mapclassify``): quantiles or Fisher-Jenks natural breaks."""

    quantiles = "quantiles"
    fisher_jenks = "fisher_jenks"


class TableFormat(enum.StrEnum):
    csv = "csv"
    xlsx = "xlsx"


class MapFormat(enum.StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    gpkg = "gpkg"


Indicator = enum.StrEnum("Indicator", {i: i for i in catalogue_indicators().index})
Indicator.__doc__ = "An indicator id of the catalogue (catalogue/indicators.csv)."

CodeParam = Annotated[
    str, PathParam(pattern=r"^[A-Za-z0-9]{1,12}$", description="Area code, e.g. 3072, BU05991578, GM0599.")
]
LevelName = Annotated[
    str, PathParam(pattern=r"^[a-z0-9]{2,12}$", description="Any level with boundaries in the store, e.g. grid100.")
]
YearQuery = Annotated[int | None, Query(ge=1990, le=2100, description="Year (default: latest with scores).")]
GemeenteQuery = Annotated[
    str | None, Query(min_length=1, max_length=60, description="Gemeente code (GM0599) or name (Rotterdam); 404 "
                                                              "when the store has no such gemeente.")
]
LangQuery = Annotated[Lang | None, Query(description="CSV convention: nl = semicolon and decimal comma (Dutch "
                                                     "Excel), en or none = comma and decimal point.")]
AreaRef = Annotated[
    list[Annotated[str, StringConstraints(pattern=r"^(pc4|buurt|wijk|gemeente):[A-Za-z0-9]{1,12}$")]],
    Query(min_length=2, max_length=5, description="2-5 areas as level:code, e.g. pc4:3072."),
]


def _setting(name: str, default: float) -> float:
    """A serving setting from the environment (``LEEFBAAR_WEB_<NAME>``), else ``default``."""
    value = os.environ.get(f"LEEFBAAR_WEB_{name}")
    return float(value) if value else default


ENTRY_OVERHEAD = 512  # bytes counted per cache entry beyond its bodies (key, tuple, dict slot)
BUDGET_MB = 48  # default answer budget of one worker process (``LEEFBAAR_WEB_CACHE_MB``)


@dataclass(frozen=True)
class Budget:
    """The memory one worker process may add after warm-up for the answers it keeps, in bytes, and its split.

    Everything else a worker keeps (scores, references, explanations, distributions, rankings, boundaries,
    analyses, tiles: ``create_app``'s ``keep`` and the facts layer) is made at warm-up, before the worker reports
    ready, so under load its memory grows only by these caches, each bounded in bytes and full after a while
    (least recently used out), plus the working memory of the requests running at that moment (at most
    ``LEEFBAAR_WEB_CONCURRENCY`` API requests and the download lane). Split: 3/4 the response cache (``Cache``:
    profiles, maps, compare, gap and ranking answers, tables cut for downloads), 1/6 the answers served on the
    event loop (``KeptAnswers``), 1/12 the search answers.
    """

    total: int

    @classmethod
    def of(cls, mb: float | None = None) -> Budget:
        """The budget of ``mb`` megabytes (default ``LEEFBAAR_WEB_CACHE_MB``, else ``BUDGET_MB``)."""
        return cls(int((mb if mb is not None else _setting("CACHE_MB", BUDGET_MB)) * 2**20))

    @property
    def cache(self) -> int:
        return self.total * 3 // 4

    @property
    def kept(self) -> int:
        return self.total // 6

    @property
    def searches(self) -> int:
        return self.total // 12


class Cache:
    """A least-recently-used cache of response bodies, bounded in bytes.

    ``get`` keeps encoded JSON (body, its gzip, ETag), ``value`` anything with its size. ``max_bytes`` bounds
    the sum of the sizes (bodies) plus ``ENTRY_OVERHEAD`` per entry; an entry larger than a quarter of the
    bound is answered but not kept. Concurrent misses of one key compute it once (the others wait for that
    result).
    """

    def __init__(self, max_bytes: int = 64 * 2**20):
        self.max_bytes, self.nbytes = int(max_bytes), 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._pending: dict = {}

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key, make: Callable[[], bytes]) -> tuple[bytes, bytes, str]:
        """The encoded body of ``key``: (raw, gzip, ETag), made with ``make`` on a miss."""

        def encode():
            raw = make()
            gz = gzip.compress(raw, 5)
            return (raw, gz, hashlib.sha256(raw).hexdigest()[:20]), len(raw) + len(gz)

        return self.value(key, encode)

    def value(self, key, make: Callable[[], tuple[object, int]]):
        """The value of ``key``; on a miss ``make`` returns the value and its size in bytes."""
        while True:
            with self._lock:
                if key in self._items:
                    self._items.move_to_end(key)
                    return self._items[key][0]
                wait = self._pending.get(key)
                if wait is None:
                    done = self._pending[key] = threading.Event()
                    break
            wait.wait()  # another thread makes it; take its result (or make it if that one failed)
        try:
            item, size = make()
            size += ENTRY_OVERHEAD
            with self._lock:
                if size <= self.max_bytes // 4:
                    self._items[key] = (item, size)
                    self.nbytes += size
                    while self.nbytes > self.max_bytes:
                        self.nbytes -= self._items.popitem(last=False)[1][1]
            return item
        finally:
            with self._lock:
                del self._pending[key]
            done.set()


def _rss() -> int:
    """Resident memory of this process in bytes (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110 12.5.3: ``q=0`` means not acceptable;
    ``*`` covers gzip when gzip is not named)."""
    star = False
    for part in accept_encoding.lower().split(","):
        token, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for p in params:
            name, _, value = p.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if token in ("gzip", "x-gzip"):
            return q > 0
        if token == "*":
            star = q > 0
    return star


def _encoded(
    request: Request, raw: bytes, gz: bytes | None, etag: str, media: str = "application/json", max_age: int = 300
) -> Response:
    """A cached body: 304 on a matching ETag, gzip when accepted (and given: None for a compressed format)."""
    headers = {"ETag": f'"{etag}"', "Cache-Control": f"public, max-age={max_age}", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    if gz is not None and accepts_gzip(request.headers.get("accept-encoding", "")):
        headers["Content-Encoding"] = "gzip"
        return Response(gz, media_type=media, headers=headers)
    return Response(raw, media_type=media, headers=headers)


@dataclass(frozen=True)
class Download:
    """A download: its file name (without extension), format (``exports.MEDIA_TYPES``) and how it is written
    into a file (``write(path)``; called only when the download is not kept yet)."""

    name: str
    fmt: str
    write: Callable[[Path], None]


def table_download(name: str, fmt: str, frame: Callable[[], pd.DataFrame], sheet: str, notes: Callable[[], list[str]],
                   lang: str | None) -> Download:
    """A CSV or Excel download of the table ``frame()`` (made only when the file is written)."""

    def write(path: Path) -> None:
        with open(path, "wb") as out:
            exports.write_table(frame(), fmt, out, sheet, notes(), lang)

    return Download(name, fmt, write)


class DownloadFiles:
    """Downloads made once per parameter set and kept as files in one folder that all worker processes share,
    bounded in bytes (least recently served first out), and streamed from disk in chunks. Files prepared at
    start-up (``prepare``) are pinned: kept for the server's life, outside the bound.

    File names are hashes of the parameters (no name comes from a request); a file is written (streamed by its
    writer, never held in memory whole) under a temporary name and renamed, so a worker never serves a
    half-written file, and the open file is served even when another worker evicts it meanwhile.
    """

    CHUNK = 256 * 1024

    def __init__(self, folder: str | Path, max_bytes: int = 512 * 2**20):
        self.folder, self.max_bytes = Path(folder), int(max_bytes)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock, self._pending = threading.Lock(), {}

    def _path(self, key) -> Path:
        return self.folder / (hashlib.sha256(repr(key).encode()).hexdigest()[:40] + ".dl")

    def response(self, key, download: Download) -> Response:
        """``download`` streamed from its file, written first when it is not kept (once, whoever asks)."""
        path = self._path(key)
        f = self._open(path)
        while f is None:
            with self._lock:
                done = self._pending.get(key)
                mine = done is None
                if mine:
                    done = self._pending[key] = threading.Event()
            if mine:
                try:
                    f = self._write(path, download)
                finally:
                    with self._lock:
                        del self._pending[key]
                    done.set()
            else:
                done.wait()
                f = self._open(path)  # None: the other request failed (its error went to its client) or evicted
        size = os.fstat(f.fileno()).st_size

        def chunks():
            with f:
                while chunk := f.read(self.CHUNK):
                    yield chunk

        return StreamingResponse(chunks(), media_type=exports.MEDIA_TYPES[download.fmt], headers={
            "Content-Disposition": f'attachment; filename="{download.name}.{download.fmt}"',
            "Content-Length": str(size), "Cache-Control": "no-store"})

    def prepare(self, key, download: Download) -> bool:
        """Write ``download``'s file ahead of any request (server start-up), unless it is kept already or another
        worker process is writing it (a claim file beside it); True when this call wrote it."""
        path = self._path(key)
        path.with_suffix(".pin").touch()  # prepared: never evicted
        if path.exists():
            return False
        claim = path.with_suffix(".claim")
        try:
            fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return False
        os.close(fd)
        try:
            if path.exists():
                return False
            self._write(path, download).close()
            return True
        finally:
            claim.unlink(missing_ok=True)

    def _open(self, path: Path):
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed when streamed out
        except FileNotFoundError:
            return None
        try:
            os.utime(path)  # recently served: evicted last
        except FileNotFoundError:  # evicted by another worker meanwhile: the open file is still whole
            pass
        return f

    def _write(self, path: Path, download: Download):
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.{threading.get_ident()}.tmp.{download.fmt}")
        try:
            download.write(tmp)
            f = open(tmp, "rb")  # noqa: SIM115 - the open file survives eviction by another worker
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        self._evict()
        return f

    def _evict(self) -> None:
        files = []
        for p in self.folder.glob("*.dl"):
            if p.with_suffix(".pin").exists():  # prepared at start-up: kept, outside the bound
                continue
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            files.append((st.st_mtime, st.st_size, p))
        total = sum(size for _, size, _ in files)
        for _, size, p in sorted(files):
            if total <= self.max_bytes:
                break
            p.unlink(missing_ok=True)
            total -= size


class HeadAsGet:
    """ASGI middleware: HEAD is answered like GET (status and headers, Content-Length included), no body."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def send_head(message):
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_head)


class _Lane:
    """Requests of one kind in admission control: how many run, who waits, mean service time (seconds)."""

    def __init__(self, concurrency: int, queue: int):
        self.concurrency, self.queue = max(1, concurrency), max(0, queue)
        self.active, self.waiting, self.service = 0, deque(), 0.1

    def expected_wait(self) -> float:
        """Seconds a request arriving now would wait (the queue ahead times the mean service time)."""
        return (len(self.waiting) + 1) * self.service / self.concurrency

    def release(self) -> None:
        while self.waiting:
            fut = self.waiting.popleft()
            if not fut.done():
                fut.set_result(True)  # the slot passes to the longest waiting request
                return
        self.active -= 1


class Admission:
    """ASGI middleware: admission control of API requests, per worker process.

    At most ``concurrency`` API requests run at once; up to ``queue`` more wait, each at most ``max_wait``
    seconds. Downloads (``/api/download/``) have their own lane (half as many at once, at least 2), so a
    large Excel file or GeoPackage does not hold up the JSON answers. A request beyond the queue, one whose
    expected wait (queue ahead times mean service time) exceeds ``max_wait``, or one that waited that long,
    is answered at once with ``503`` and ``Retry-After`` (whole seconds, at least 1). A slot is held while the
    answer is made, until its response starts: streaming a download file from disk to a slow client holds none.
    Paths outside ``/api/``, ``/api/health`` and the answers kept in memory (search, vector tiles) pass untouched.
    """

    def __init__(self, app, concurrency: int = 4, queue: int = 16, max_wait: float = 1.5):
        self.app, self.max_wait, self.rejected = app, max_wait, 0
        self.api = _Lane(concurrency, queue)
        self.downloads = _Lane(max(2, concurrency // 2), queue)

    async def _reject(self, lane: _Lane, send) -> None:
        self.rejected += 1
        body = _dumps({"error": "overloaded", "detail": "the server is busy; retry after the time given"})
        retry = max(1, math.ceil(lane.expected_wait()))
        await send({"type": "http.response.start", "status": 503, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry).encode()), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if (scope["type"] != "http" or not path.startswith("/api/") or path in ("/api/health", "/api/search")
                or path.startswith("/api/tiles/")):
            return await self.app(scope, receive, send)
        lane = self.downloads if path.startswith("/api/download/") else self.api
        if lane.active >= lane.concurrency:
            if len(lane.waiting) >= lane.queue or lane.expected_wait() > self.max_wait:
                return await self._reject(lane, send)
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            lane.waiting.append(fut)
            timer = loop.call_later(self.max_wait, lambda: fut.done() or fut.set_result(False))
            try:
                granted = await fut
            except BaseException:  # the client went away while waiting
                if fut.done() and not fut.cancelled() and fut.result():
                    lane.release()
                raise
            finally:
                timer.cancel()
                if fut in lane.waiting:
                    lane.waiting.remove(fut)
            if not granted:
                return await self._reject(lane, send)
        else:
            lane.active += 1
        t0, held = time.perf_counter(), True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                lane.service = 0.8 * lane.service + 0.2 * (time.perf_counter() - t0)
                lane.release()

        async def send_releasing(message) -> None:
            if message["type"] == "http.response.start":  # the answer is made: streaming it needs no slot
                release()
            await send(message)

        try:
            await self.app(scope, receive, send_releasing)
        finally:
            release()


class KeptAnswers:
    """ASGI middleware in front of admission control: an API answer the app keeps in memory (a 200 with an
    ETag, not ``no-store``; downloads excluded) is remembered per path, query and gzip choice, and asked again
    it is answered at once on the event loop (304 on a matching ETag), without routing, thread or queue. The
    store is read-only, so an answer never changes while it is served. Bounded in bytes (least recently used
    first out)."""

    def __init__(self, app, max_bytes: int = 16 * 2**20):
        self.app, self.max_bytes, self.nbytes = app, max_bytes, 0
        self._items: OrderedDict = OrderedDict()

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "")
        if (scope["type"] != "http" or scope["method"] != "GET" or not path.startswith("/api/")
                or path.startswith("/api/download/") or path == "/api/health"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        gz = accepts_gzip(headers.get(b"accept-encoding", b"").decode("latin-1"))
        key = (path, scope.get("query_string", b""), gz)
        kept = self._items.get(key)
        if kept is not None:
            self._items.move_to_end(key)
            head, body, etag = kept
            if headers.get(b"if-none-match") == etag:
                head = [h for h in head if h[0] not in (b"content-length", b"content-encoding", b"content-type")]
                await send({"type": "http.response.start", "status": 304, "headers": head})
                await send({"type": "http.response.body", "body": b""})
                return
            await send({"type": "http.response.start", "status": 200, "headers": head})
            await send({"type": "http.response.body", "body": body})
            return
        start, chunks = {}, []

        async def keep(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif start.get("status") == 200:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    self._keep(key, start.get("headers", []), b"".join(chunks))
            await send(message)

        await self.app(scope, receive, keep)

    def _keep(self, key, head, body: bytes) -> None:
        names = dict(head)
        if b"etag" not in names or b"no-store" in names.get(b"cache-control", b""):
            return
        size = len(body) + ENTRY_OVERHEAD
        if size > self.max_bytes // 4 or key in self._items:
            return
        self._items[key] = (list(head), body, names[b"etag"])
        self.nbytes += size
        while self.nbytes > self.max_bytes:
            self.nbytes -= len(self._items.popitem(last=False)[1][1]) + ENTRY_OVERHEAD


class SecurityHeaders:
    """ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    h for h in message["headers"] if h[0].lower() not in {k for k, _ in SECURITY_HEADERS}
                ] + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(
    store_path: str | Path,
    warm: bool = True,
    cache_mb: float | None = None,
    concurrency: int | None = None,
    queue: int | None = None,
    max_wait: float | None = None,
) -> FastAPI:
    """The dashboard application over the store at ``store_path`` (opened read-only).

    With ``warm`` the PC4 scores, boundaries, profiles, maps and analyses are prepared in a background thread
    at start-up, so the first visitor does not wait for them. The serving settings (cache size in MB, API
    requests run at once, queue length, longest wait in seconds) default to the ``LEEFBAAR_WEB_*``
    environment (module docstring).
    """
    store = Store.open(store_path, read_only=True, memory_limit=f"{int(_setting('DUCKDB_MB', 256))}MB",
                       threads=int(_setting("DUCKDB_THREADS", 1)))
    data = DashboardData(store)
    measures = data.measures()

    def measure_query() -> str:
        """The ``measure`` parameter: what a map shows, one of this store's measures (else 422)."""
        return Query("total", pattern="^(" + "|".join(re.escape(m) for m in measures) + ")$",
                     description="What the map shows: total score, deviation (afw), a dimension of the index shown ("
                     + ", ".join(data.facts.dimension_codes) + "), class, change, or an indicator.",
                     json_schema_extra={"enum": list(measures)})
    budget = Budget.of(cache_mb)
    cache = Cache(max_bytes=budget.cache)

    own_folder = None
    folder = os.environ.get("LEEFBAAR_WEB_DOWNLOAD_DIR")
    if not folder:
        folder = own_folder = tempfile.mkdtemp(prefix="leefbaar-downloads-")
    downloads = DownloadFiles(folder, int(_setting("DOWNLOADS_MB", 512) * 2**20))

    def kept(route: Callable[..., Download]) -> Callable[..., Response]:
        """A download route (checks its parameters, returns a ``Download``) whose file is written once per
        parameter set, kept on disk (``DownloadFiles``; the store does not change while it is served) and
        streamed."""

        signature = inspect.signature(route)

        def key(params: dict) -> tuple:
            bound = signature.bind(**params)
            bound.apply_defaults()
            full = {k: getattr(v, "default", v) if isinstance(v, FieldInfo) else v for k, v in bound.arguments.items()}
            return (__version__, str(store.path), route.__name__, *sorted((k, str(v)) for k, v in full.items()))

        @functools.wraps(route)
        def wrapper(**params) -> Response:
            return downloads.response(key(params), route(**params))

        def prepare(**params) -> bool:
            """Write this download's file now (start-up), as a request with ``params`` would."""
            return downloads.prepare(key(params), route(**params))

        wrapper.prepare = prepare
        return wrapper

    def _frame(key: tuple, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
        """A table kept in the byte-bounded cache (its size: the frame's memory)."""
        def sized():
            frame = make()
            return frame, int(frame.memory_usage(deep=True).sum())
        return cache.value(key, sized)

    def _in_gemeente(frame: pd.DataFrame, gemeente: str | None) -> pd.DataFrame:
        """The rows of one gemeente (all rows when None), in the table's order."""
        return frame if not gemeente else frame[frame["gemeente_code"] == gemeente].reset_index(drop=True)

    def map_frame(level: str, year: int, measure: str, indicator: str | None, gemeente: str | None,
                  base_year: int | None, scheme: str) -> pd.DataFrame:
        """The map's table (``DashboardData.map_frame``) for the whole country, kept; then one gemeente's rows."""
        return _in_gemeente(_frame(("map_frame", level, year, measure, indicator, base_year, scheme),
                                   lambda: data.map_frame(level, year, measure, indicator, None, base_year, scheme)),
                            gemeente)

    ready = threading.Event()
    kept_lock, kept_tables, made_late = threading.Lock(), {}, []

    def keep(key: tuple, make: Callable[[], object]):
        """A table this worker keeps for its whole life, made at warm-up (``warm_up``). One made after the worker
        reported ready (a kept table built lazily under load) is still kept and answered, but recorded in
        ``made_late`` and logged: warm-up should have made it."""
        with kept_lock:
            if key in kept_tables:
                return kept_tables[key]
        value = make()
        with kept_lock:
            if key not in kept_tables and ready.is_set():
                made_late.append(key)
                log.warning("kept table %r made after warm-up", key)
            return kept_tables.setdefault(key, value)

    def ranking_frame(level: str, year: int, gemeente: str | None) -> pd.DataFrame:
        """The ranking (``DashboardData.ranking``) of the whole country, kept; then one gemeente's rows (the
        national order is the gemeente's order)."""
        return _in_gemeente(keep(("ranking", level, year), lambda: data.ranking(level, year, None)), gemeente)

    def distribution(level: str, gemeente: str | None) -> dict:
        """The gap page's distribution of one gemeente or the country, from the table of every gemeente made
        once per level (``facts.distribution``), kept."""
        def make():
            pop = data.population
            return distributions(data.scores(level), data.facts.gemeente_of(level), pop[pop["level"] == level])
        return distribution_of(keep(("distributions", level), make), level, gemeente)

    def boundaries_rd(level: str):
        """The level's boundaries as WKB in RD New (``facts.boundaries``), kept."""
        return keep(("boundaries_rd", level), lambda: wkb_table(data.sql, level))

    def profile_body(level: str, code: str, year: int | None = None, base_year: int | None = None):
        return cache.get(("profile", level, code, year, base_year),
                         lambda: _dumps(data.profile(level, code, year, base_year)))

    def map_body(level: str, year: int, measure: str, indicator: str | None, base_year: int | None,
                 scheme: str = choropleth.DEFAULT_SCHEME):
        return cache.get(("map", level, year, measure, indicator, base_year, scheme),
                         lambda: _dumps(data.map_values(level, year, measure, indicator, base_year, scheme)))

    def meta_body():
        def make():
            out = data.meta()
            out["map_indicators"] = choropleth.map_indicators(data.indicator_catalogue, data.level_indicators)
            out["map_schemes"] = [{"id": s, "label": {lg: choropleth.SCHEME_LABELS[lg][s] for lg in ("nl", "en")}}
                                  for s in choropleth.MAP_SCHEMES]
            out["grid_levels"] = list(grids().values())
            return _dumps(out)

        return cache.get(("meta",), make)

    grid_lock = threading.Lock()
    grid_facts: list[dict[str, dict]] = []

    def grids() -> dict[str, dict]:
        """The grid levels by id (facts layer: cells with their CBS indicators), found once."""
        with grid_lock:
            if not grid_facts:
                grid_facts.append({g["id"]: g for g in grid_levels(data.facts)})
            return grid_facts[0]

    def grid_query(level: str, indicator: str | None, year: int | None) -> tuple[dict, str, int | None]:
        """The grid level's facts and the indicator and year asked for, defaults filled in (one cache key)."""
        gl = grids().get(level)
        if gl is None:
            raise not_found("error.no_grid", level=level, levels=", ".join(grids()) or "–")
        indicator = indicator or gl["default_measure"]
        m = next((x for x in gl["measures"] if x["id"] == indicator), None)
        return gl, indicator, year if year is not None or m is None else m["years"][-1]

    def grid_body(level: str, indicator: str | None = None, year: int | None = None,
                  scheme: str = choropleth.DEFAULT_SCHEME):
        gl, indicator, year = grid_query(level, indicator, year)
        return cache.get(("grid", level, indicator, year, scheme),
                         lambda: _dumps(choropleth.grid_map(data.facts, gl, indicator, year, scheme)))

    raster_lock = threading.Lock()
    rasters: dict[str, GridRaster] = {}

    def grid_image(level: str, indicator: str | None = None, year: int | None = None,
                   scheme: str = choropleth.DEFAULT_SCHEME) -> tuple[bytes, str]:
        """(PNG, ETag) of the cells coloured by the classes of ``grid_body``: its (cached) answer, read back."""
        gl, indicator, year = grid_query(level, indicator, year)

        def make():
            with raster_lock:
                if level not in rasters:
                    rasters[level] = level_raster(data.thread_store(), level, gl["cell_m"], gl["bounds"],
                                                  gl["vintage"])
            v = json.loads(grid_body(level, indicator, year, scheme)[0])
            png = rasters[level].png(v["codes"], v["bins"], v["legend"]["colors"], v["legend"]["no_data_color"])
            return (png, hashlib.sha256(png).hexdigest()[:20]), len(png)

        return cache.value(("grid-image", level, indicator, year, scheme), make)

    context_lock = threading.Lock()
    context: dict[str, tuple[bytes, bytes, str]] = {}

    def context_body():
        with context_lock:  # computed once per worker (a few seconds), kept out of the byte-bounded cache
            if "body" not in context:
                raw = _dumps(context_geojson(data.thread_store(), data.facts))
                context["body"] = (raw, gzip.compress(raw, 5), hashlib.sha256(raw).hexdigest()[:20])
            return context["body"]

    def area_body(level: str, code: str):
        def make():
            p = json.loads(profile_body(level, code)[0])
            return _dumps({"area": p["area"], "score": p["score"], "years": p["years"]})

        return cache.get(("area", level, code), make)
    geo: dict[str, Encoded] = {}
    geo_lock = threading.Lock()

    def geometry(level: str) -> Encoded:
        with geo_lock:
            if level not in geo:
                if level not in data.levels:
                    raise not_found("error.no_boundaries", level=level)
                geo[level] = level_topojson(data.thread_store(), level)
            return geo[level]

    tile_levels = sorted(data.facts.geometry_vintages())
    tile_sets: dict[str, VectorTiles] = {}  # read on the event loop once made

    def tiles(level: str) -> VectorTiles:
        if level not in tile_levels:
            raise NotFound(f"the store holds no boundaries at level {level!r}")
        if level not in tile_sets:
            tile_sets[level] = level_tiles(data.thread_store(), level)
        return tile_sets[level]

    warm_steps: list[tuple[str, float, int]] = []  # (step, CPU seconds, RSS growth in bytes) of warm-up

    def step(name: str, make: Callable[[], object]) -> None:
        """One step of warm-up, with its CPU time and the growth of this process's RSS recorded."""
        rss0, cpu0 = _rss(), time.process_time()
        make()
        warm_steps.append((name, time.process_time() - cpu0, _rss() - rss0))

    def level_tables(level: str) -> None:
        """What every request of ``level`` reads: scores, references, explanations and analyses (facts layer),
        and the kept national tables: distributions of every gemeente, rankings of every year, boundaries."""
        data.warm(level)
        search_index.set()  # built by warm
        for code in data.scores(level)["code"].unique():  # the score facts of every area (profiles, compare)
            data.facts.series(level, str(code))
        distribution(level, None)
        for year in data.score_years(level):
            data.references(level, year, None)
            ranking_frame(level, year, None)
        boundaries_rd(level)

    def score_measures() -> list[str]:
        """The measures of a score map (``DashboardData.measures`` but an indicator)."""
        return [m for m in data.measures() if m != "indicator"]

    def level_answers(level: str) -> None:
        """Every profile and every score map of ``level``, answered from memory (while the cache holds them)."""
        for code in data.scores(level)["code"].unique():
            area_body(level, str(code))
        for year in data.score_years(level):
            for measure in score_measures():
                try:
                    map_body(level, year, measure, None, None)
                except NotFound:  # no dimensions or no earlier year: answered as 404 on request
                    pass

    def prepare_downloads(levels: list[str]) -> None:
        """The files of the national downloads of ``levels``: per year the map of every score measure as CSV,
        Excel and GeoPackage and the ranking as CSV and Excel, and per level the gap table; written into the
        shared download folder, each by one worker (the others take the next), so their first request is
        answered from disk."""
        for level in levels:
            lv = Level(level)
            for year in data.score_years(level):
                for measure in score_measures():
                    for fmt in MapFormat:
                        try:
                            download_map.prepare(level=lv, year=year, format=fmt, measure=measure)
                        except NotFound:  # no earlier year for a change: answered as 404 on request
                            pass
                for fmt in TableFormat:
                    download_ranking.prepare(level=lv, year=year, format=fmt)
            for fmt in TableFormat:
                download_gap.prepare(level=lv, format=fmt)

    def warm_up() -> None:
        light = os.environ.get("LEEFBAAR_WEB_WARM", "full") == "light"
        try:
            levels = list(dict.fromkeys(data.levels[:1] + data.scored_levels))
            step(f"geometry {levels[0]}", lambda: geometry(levels[0]))
            for level in levels:
                step(f"{level} tables", lambda level=level: level_tables(level))
            prepare = os.environ.get("LEEFBAAR_WEB_PREPARE", "none" if light else "national")
            if prepare != "none":  # national: every scored level; or the levels named (pc4,wijk)
                chosen = data.scored_levels if prepare == "national" else prepare.split(",")
                step("downloads", lambda: prepare_downloads([lv for lv in data.scored_levels if lv in chosen]))
            if not light:
                step(f"{levels[0]} profiles and maps", lambda: level_answers(levels[0]))
            if "gemeente" in data.levels:
                step("geometry gemeente", lambda: geometry("gemeente"))
            for level in grids():  # the grid maps' default answer and image, and (full) every tile of their zooms
                step(f"grid {level}", lambda level=level: (grid_body(level), grid_image(level), not light
                                                           and level in tile_levels and tiles(level).prepare()))
            step("context", context_body)
            # the national views of the vector tiles (light: of the first level and the gemeente context only)
            for level in [lv for lv in data.levels[:1] + ["gemeente"] if lv in tile_levels] if light else data.levels:
                step(f"tiles {level}", lambda level=level: tiles(level))
        except LeefbaarError as exc:  # a store without PC4 data still serves the other pages
            log.warning("warm-up incomplete: %s", exc)
        finally:
            ready.set()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm:
            threading.Thread(target=warm_up, name="leefbaar-warm-up", daemon=True).start()
        else:
            ready.set()
        yield
        store.close()
        if own_folder:
            shutil.rmtree(own_folder, ignore_errors=True)

    admission = {
        "concurrency": int(concurrency or _setting("CONCURRENCY", 4)),
        "queue": int(queue if queue is not None else _setting("QUEUE", 16)),
        "max_wait": max_wait if max_wait is not None else _setting("MAX_WAIT", 1.5),
    }

    app = FastAPI(
        title="leefbaar",
        version=__version__,
        description="Leefbaarheid van Nederlandse buurten: scores, klassen, dimensies, trends, kwetsbaarheid "
        "en programma's, uit een leefbaar-store (alleen lezen). Livability of Dutch neighbourhoods: "
        "scores, classes, dimensions, trends, vulnerability and programmes, from a read-only store. "
        "Scores are on the Leefbaarometer scale (total = 4.102265 + afw; afw = won + fys + vrz + "
        "soc + onv; higher is better); classes 1 (zeer onvoldoende) .. 9 (uitstekend).",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        responses={422: {"model": models.Error, "description": "Invalid parameter"}},
    )
    app.add_middleware(Admission, **admission)
    app.add_middleware(KeptAnswers, max_bytes=budget.kept)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)
    app.state.data = data
    app.state.cache = cache
    app.state.budget = budget
    app.state.kept = kept_tables
    app.state.made_late = made_late
    app.state.warm_steps = warm_steps

    # -- errors -------------------------------------------------------------------------------------
    def _lang(request: Request) -> str:
        """The language of a message: ``?lang=en`` or ``nl`` (the default, as in the dashboard)."""
        return "en" if request.query_params.get("lang") == "en" else "nl"

    @app.exception_handler(NotFound)
    async def not_found_error(request: Request, exc: NotFound):
        return JSONResponse({"error": "not_found", "detail": error_text(exc, _lang(request))}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        lang = _lang(request)
        names = ", ".join(dict.fromkeys(str(e.get("loc", ("", ""))[-1]) for e in exc.errors()))
        detail = say("error.invalid_parameter", lang, name=names)
        if lang == "en":  # pydantic words its reasons in English only
            detail += ": " + "; ".join(str(e.get("msg", "")) for e in exc.errors())
        return JSONResponse({"error": "invalid_parameter", "detail": detail[:500]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = say("error.no_such_address", _lang(request), path=request.url.path.lstrip("/")) \
            if exc.status_code == 404 else str(exc.detail)
        return JSONResponse({"error": "http_error", "detail": detail}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"error": "internal_error", "detail": say("error.internal", _lang(request))},
                            status_code=500)

    not_found_doc = {404: {"model": models.Error, "description": "No such area, year or series"}}

    # -- API ----------------------------------------------------------------------------------------
    @app.get("/api/health", response_model=models.Health, tags=["meta"])
    def health():
        """Liveness: the store is open (read-only); ``ready`` once the start-up caches are filled."""
        return {"status": "ok", "version": __version__, "read_only": store.read_only, "ready": ready.is_set()}

    @app.get("/api/meta", response_model=models.Meta, tags=["meta"])
    def meta(request: Request):
        """Levels, years with scores, indicators, class labels and colours, and which optional results
        (index scores, contributions, vulnerability, programmes, evaluations) the store holds. ``dimensions``:
        the index's dimensions in display order (``code``, ``label``); ``map_indicators``: the indicators
        offered for indicator maps (rates, averages, densities; grouped by theme; ``sensitive`` flagged);
        ``map_schemes``: the class-break schemes of indicator maps."""
        return _encoded(request, *meta_body())

    searches = Cache(max_bytes=budget.searches)
    search_index = threading.Event()  # set once the facts layer's search index is built

    @app.get("/api/search", response_model=list[models.Area], tags=["areas"])
    async def search(request: Request,
                     q: Annotated[str, Query(min_length=1, max_length=60, description="Code, name or postcode.")]):
        """Areas whose code, name or postcode matches ``q`` (at most 20). Answered from the in-memory index on
        the event loop (no thread, no queue); each answer is kept."""
        key = " ".join(q.split()).lower()

        def make():
            return _dumps(data.search(key))

        if search_index.is_set():  # the index is built (at start-up): a query takes well under a millisecond
            return _encoded(request, *searches.get(key, make), max_age=3600)
        body = await run_in_threadpool(searches.get, key, make)
        search_index.set()
        return _encoded(request, *body, max_age=3600)

    @app.get("/api/gemeenten", response_model=list[models.Gemeente], tags=["areas"])
    def gemeenten():
        """All gemeenten (latest vintage) with names."""
        return data.gemeenten()

    @app.get(
        "/api/geometry/{level}",
        tags=["map"],
        responses={
            200: {
                "content": {"application/json": {"schema": {"type": "object"}}},
                "description": "TopoJSON (object 'areas', property 'code'), quantised and delta-encoded",
            },
            **not_found_doc,
        },
    )
    def boundaries(request: Request, level: Level):
        """Boundaries of a level as TopoJSON in WGS84 (cacheable; gzip-compressed when accepted)."""
        enc = geometry(level.value)
        return _encoded(request, enc.raw, enc.gz, enc.etag, max_age=86400)

    tile_doc = {200: {"content": {"application/vnd.mapbox-vector-tile": {}},
                      "description": "Mapbox Vector Tile (layer 'areas', property 'code'); empty outside the level"},
                **not_found_doc}

    @app.get("/api/tiles/{level}/{z}/{x}/{y}", tags=["map"], responses=tile_doc)
    async def tile(request: Request, level: LevelName, z: Annotated[int, PathParam(ge=0, le=24)],
                   x: Annotated[int, PathParam(ge=0)], y: Annotated[int, PathParam(ge=0)]):
        """One vector tile of a level's boundaries (the map's geometry): Mapbox Vector Tile 2.1, layer ``areas``
        with property ``code``, extent 4096, zooms 4-11 (empty outside the level or the zoom range; draw deeper
        zooms by overzooming 11); gzip-compressed when accepted. Tiles of the national views are made at
        start-up, deeper ones on first request and kept."""
        vt = tile_sets.get(level) or await run_in_threadpool(tiles, level)
        made = vt.cached(z, x, y) or await run_in_threadpool(vt.tile, z, x, y)
        headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
        if made[0] and accepts_gzip(request.headers.get("accept-encoding", "")):
            headers["Content-Encoding"] = "gzip"
            return Response(made[1], media_type="application/vnd.mapbox-vector-tile", headers=headers)
        return Response(made[0], media_type="application/vnd.mapbox-vector-tile", headers=headers)

    @app.get("/api/map/{level}", response_model=models.MapValues, tags=["map"], responses=not_found_doc)
    def map_values(
        request: Request,
        level: Level,
        year: Annotated[int, Query(ge=1990, le=2100)],
        measure: str = measure_query(),
        indicator: Indicator | None = None,
        base_year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        scheme: Scheme = Scheme.quantiles,
    ):
        """Values, bins and legend of one measure for all areas of a level in one year. ``change`` is the
        change of afw since ``base_year`` (default: the previous year with scores), binned in the seven
        development classes (``kind``/``base_kind``: official or modelled, of each year); ``indicator`` needs
        ``indicator`` and is classed by ``scheme`` (legend: ``scheme``, ``breaks``, ``unit``)."""
        return _encoded(request, *map_body(level.value, year, measure, indicator and indicator.value,
                                           base_year, scheme.value))

    @app.get("/api/grid/{level}", response_model=models.MapValues, tags=["map"], responses=not_found_doc)
    def grid_map(
        request: Request,
        level: LevelName,
        indicator: Indicator | None = None,
        year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        scheme: Scheme = Scheme.quantiles,
    ):
        """One CBS indicator for every cell of a grid level (``grid100``, ``grid500``: the levels in
        ``/api/meta`` ``grid_levels``, with the indicators each offers). A cell has no index score: the answer is
        the cells' own figure, classed by ``scheme``; cells without a value (empty or kept secret by CBS) have
        value null and bin -1. ``source`` and ``no_score`` say where the figures come from and that there is no
        Leefbaarometer score at this level. Default indicator: the level's ``default_measure``; default year:
        the latest with values."""
        return _encoded(request, *grid_body(level, indicator and indicator.value, year, scheme.value))

    @app.get("/api/grid/{level}/image", tags=["map"], responses={200: {
        "content": {"image/png": {}}, "description": "PNG, Web Mercator, corners: the level's bounds"},
        **not_found_doc})
    def grid_map_image(
        request: Request,
        level: LevelName,
        indicator: Indicator | None = None,
        year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        scheme: Scheme = Scheme.quantiles,
    ):
        """The cells of ``/api/grid/{level}`` with the same parameters, as one image: each cell in its class
        colour (no data: the legend's no-data grey; no cell: transparent). Web Mercator, square pixels of half
        a cell; its corners are the level's ``bounds`` in ``/api/meta`` ``grid_levels``. The map draws it first
        and adds the cells' vector tiles (pointer, outlines) after."""
        png, etag = grid_image(level, indicator and indicator.value, year, scheme.value)
        return _encoded(request, png, None, etag, "image/png")

    @app.get("/api/context", tags=["map"], responses={200: {
        "content": {"application/json": {"schema": {"type": "object"}}},
        "description": "GeoJSON: water (kind 'water') and gemeente label points (kind 'gemeente_label')"}})
    def map_context(request: Request):
        """Map context derived from the store's boundaries (WGS84): open water (PC4 extent minus gemeente
        land) and a label point with the name of each gemeente."""
        return _encoded(request, *context_body(), max_age=86400)

    @app.get("/api/names/{level}", response_model=models.AreaNames, tags=["map"])
    def names(request: Request, level: Level):
        """Display names of every area of a level with its gemeente and wijk (hover, selection, filters)."""
        return _encoded(request, *cache.get(("names", level.value),
                                            lambda: _dumps(area_names(data.facts, level.value))), max_age=86400)

    @app.get("/api/years/{level}", response_model=list[int], tags=["map"])
    def years(level: Level, indicator: Indicator | None = None):
        """Years with scores for a level, or with values of ``indicator``."""
        if indicator is None:
            return data.score_years(level.value)
        return data.indicator_years(level.value, indicator.value)

    @app.get(
        "/api/areas/{level}/{code}",
        response_model=models.AreaSummary,
        tags=["areas"],
        responses=not_found_doc,
    )
    def area(request: Request, level: Level, code: CodeParam):
        """One area: names, gemeente and latest score with class."""

        return _encoded(request, *area_body(level.value, code))

    @app.get(
        "/api/profile/{level}/{code}", response_model=models.Profile, tags=["areas"], responses=not_found_doc
    )
    def profile(request: Request, level: Level, code: CodeParam, year: YearQuery = None,
                base_year: Annotated[int | None, Query(ge=1990, le=2100, description="First year of the explained "
                                                       "change (default: the official year before 'year').")]
                = None):
        """The area profile: score and class with uncertainty (level stated), the dimensions against gemeente
        and national reference, every year's score with its kind, the change from ``base_year`` to ``year``
        split into parts that add up to it (indicators, nowcast correction, rest) or by dimension,
        vulnerability flags with reasons, and programmes whose areas include it."""
        return _encoded(request, *profile_body(level.value, code, year, base_year))

    @app.get("/api/compare", response_model=list[models.Profile], tags=["areas"], responses=not_found_doc)
    def compare(request: Request, area: AreaRef, year: YearQuery = None):
        """Profiles of two to five areas side by side (``area=pc4:3072&area=pc4:3011``)."""
        refs = _parse_refs(area)
        return _encoded(request, *cache.get(("compare", tuple(refs), year), lambda: b"[" + b",".join(
            profile_body(lv, code, year)[0] for lv, code in refs) + b"]"))

    @app.get(
        "/api/ranking/{level}", response_model=list[models.RankRow], tags=["tables"], responses=not_found_doc
    )
    def ranking(
        request: Request,
        level: Level,
        year: Annotated[int, Query(ge=1990, le=2100)],
        gemeente: GemeenteQuery = None,
    ):
        """Areas ranked by score (1 = highest in the country among classed areas; areas under the small-area
        rule last, unranked), optionally within one gemeente."""
        gemeente = _gemeente(gemeente)
        return _encoded(
            request,
            *cache.get(
                ("ranking", level.value, year, gemeente),
                lambda: _dumps(records(ranking_frame(level.value, year, gemeente).astype({"klasse": "Int64"}))),
            ),
        )

    @app.get("/api/gap/{level}", response_model=models.Distribution, tags=["tables"], responses=not_found_doc)
    def gap(request: Request, level: Level, gemeente: GemeenteQuery = None):
        """Inequality over time: weighted quantiles, P90-P10 spread, gap of the weakest tenth to the mean,
        share of inhabitants in an insufficient class (1-4), the class mix, and (``analysis``, national) the
        monitoring stage's P90-P10 gap with bootstrap band and its verdict (growing/shrinking/no change)."""
        gemeente = _gemeente(gemeente)

        def make():
            out = distribution(level.value, gemeente)
            out["analysis"] = data.gap_analysis(level.value)
            return _dumps(out)

        return _encoded(request, *cache.get(("gap", level.value, gemeente), make))

    @app.get("/api/programmes", response_model=models.Programmes, tags=["programmes"])
    def programmes(request: Request):
        """The programme registry (timeline), policy lists and area groups, evaluation results."""
        return _encoded(request, *cache.get(("programmes",), lambda: _dumps(data.programmes())))

    perception_lock, perception_facts = threading.Lock(), {}

    def perception() -> Perception:
        """The perception tables, computed once (on first use: the Wijkprofiel is one city's)."""
        with perception_lock:
            if "p" not in perception_facts:
                try:
                    perception_facts["p"] = Perception(data.thread_store())
                except LeefbaarError as exc:
                    raise _not_found_from(exc) from None
            return perception_facts["p"]

    @app.get("/api/perception", response_model=models.PerceptionOverview, tags=["perception"],
             responses=not_found_doc)
    def perception_overview(request: Request, edition: Annotated[int | None, Query(ge=2000, le=2100)] = None):
        """Residents' perception next to the figures (Rotterdam Wijkprofiel, points with 100 = Rotterdam 2014):
        the city's objective and subjective part per index and edition, the largest gaps (subjective minus
        objective) among neighbourhoods of ``edition`` (default: the latest), and the areas."""
        def make():
            try:
                return _dumps(perception().overview(edition))
            except StoreError as exc:
                raise _not_found_from(exc) from None
        return _encoded(request, *cache.get(("perception", edition), make))

    @app.get("/api/perception/{code}", response_model=models.PerceptionArea, tags=["perception"],
             responses=not_found_doc)
    def perception_area(request: Request, code: Annotated[str, PathParam(pattern=r"^(WP|wp)?[0-9]{1,4}$",
                                                                         description="WP0081 or 81.")]):
        """One Wijkprofiel area over every edition (index, objective and subjective part, gap, rank), with the
        CBS buurten it matches and their Leefbaarometer scores."""
        def make():
            body = perception().area(code)
            if body is None:
                raise not_found("error.no_wijkprofiel_area", value=code)
            return _dumps(body)
        return _encoded(request, *cache.get(("perception", code.upper()), make))

    @app.get("/api/evaluations", response_model=list[models.EvaluationCard], tags=["programmes"])
    def evaluations(request: Request):
        """One card per recorded evaluation: conclusion in words, headline estimate with its interval (level
        stated), the design, the pre-trend tests, why a number is withheld, and the programme's areas."""
        return _encoded(request, *cache.get(("evaluations",), lambda: _dumps(evaluation_cards(data.facts))))

    @app.get("/api/segregation/{gemeente}", response_model=models.SegregationView, tags=["tables"],
             responses=not_found_doc)
    def segregation(request: Request, gemeente: Annotated[str, PathParam(min_length=1, max_length=60)],
                    by: Segregation = Segregation.income, lang: Lang = Lang.nl):
        """Segregation in one gemeente (code or name): the dissimilarity between the two groups of ``by`` per
        year with intervals (level stated), the change and its significance, the decomposition, the verdict and
        its explanation in ``lang`` (as ``leefbaar segregation`` states them)."""
        code = _gemeente(gemeente)
        return _encoded(request, *cache.get(("segregation", code, by.value, lang.value), lambda: _dumps(
            segregation_facts(data.thread_store(), code, by.value, lang.value))))

    # -- downloads -----------------------------------------------------------------------------------
    table_doc = {
        200: {
            "content": {exports.MEDIA_TYPES["csv"]: {}, exports.MEDIA_TYPES["xlsx"]: {}},
            "description": "The table as CSV or Excel",
        },
        **not_found_doc,
    }

    @app.get(
        "/api/download/map/{level}",
        tags=["downloads"],
        responses={
            200: {
                "content": {
                    exports.MEDIA_TYPES["csv"]: {},
                    exports.MEDIA_TYPES["xlsx"]: {},
                    exports.MEDIA_TYPES["gpkg"]: {},
                },
                "description": "The map as a table or GeoPackage",
            },
            **not_found_doc,
        },
    )
    @kept
    def download_map(
        level: Level,
        year: Annotated[int, Query(ge=1990, le=2100)],
        format: MapFormat,
        measure: str = measure_query(),
        indicator: Indicator | None = None,
        gemeente: GemeenteQuery = None,
        lang: LangQuery = None,
        base_year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
        scheme: Scheme = Scheme.quantiles,
        wijk: Annotated[str | None, Query(pattern=r"^WK[0-9]{6}$", description="Only the areas of this wijk "
                                          "(levels with a wijk: buurt).")] = None,
    ):
        """The map's values (with names, kind and class labels; optionally of one gemeente or wijk); as
        GeoPackage with the boundaries (EPSG:28992). ``base_year`` and ``scheme`` as in ``/api/map``."""
        gemeente = _gemeente(gemeente)
        name = f"leefbaar_{level.value}_{year}_{indicator.value if indicator else measure}" + (
            f"_{wijk or gemeente}" if wijk or gemeente else "")

        def frame() -> pd.DataFrame:
            out = map_frame(level.value, year, measure, indicator and indicator.value, gemeente, base_year,
                            scheme.value)
            if wijk:
                names = area_names(data.facts, level.value)
                inside = {c for c, w in zip(names["codes"], names["wijk_codes"], strict=True) if w == wijk}
                if not inside:
                    raise not_found("error.no_areas_in_wijk", level=level.value, wijk=wijk)
                out = out[out["code"].isin(inside)].reset_index(drop=True)
            return out

        if format == MapFormat.gpkg:
            return Download(name, "gpkg",
                            lambda path: exports.write_gpkg(frame(), boundaries_rd(level.value), path, name))
        return table_download(name, format.value, frame, "kaart", _notes, lang)

    @app.get("/api/download/ranking/{level}", tags=["downloads"], responses=table_doc)
    @kept
    def download_ranking(
        level: Level,
        year: Annotated[int, Query(ge=1990, le=2100)],
        format: TableFormat,
        gemeente: GemeenteQuery = None,
        lang: LangQuery = None,
    ):
        """The ranking table."""
        gemeente = _gemeente(gemeente)
        name = f"leefbaar_ranking_{level.value}_{year}" + (f"_{gemeente}" if gemeente else "")
        return table_download(name, format.value, lambda: ranking_frame(level.value, year, gemeente), "ranking",
                              _notes, lang)

    def stored_profile(level: str, code: str, year: int | None = None) -> dict:
        """The profile as the API answers it (kept answer, read back)."""
        return json.loads(profile_body(level, code, year)[0])

    @app.get("/api/download/profile/{level}/{code}", tags=["downloads"], responses=table_doc)
    @kept
    def download_profile(level: Level, code: CodeParam, format: TableFormat, lang: LangQuery = None):
        """The area's trend table (all years, official or modelled, with dimensions and interval)."""
        def frame() -> pd.DataFrame:
            p = stored_profile(level.value, code)
            cols = ["year", "total", "afw", *data.facts.dimension_codes, "klasse", "kind", "total_lo", "total_hi",
                    "interval_level", "rank", "n_areas", "small"]
            out = pd.DataFrame(p["trend"], columns=cols)
            out["interval_level"] = out["interval_level"].where(out["total_lo"].notna())
            out.insert(0, "code", code)
            out.insert(0, "level", level.value)
            return out

        return table_download(f"leefbaar_{level.value}_{code}", format.value, frame, "trend", _notes, lang)

    @app.get("/api/download/compare", tags=["downloads"], responses=table_doc)
    @kept
    def download_compare(area: AreaRef, format: TableFormat, year: YearQuery = None, lang: LangQuery = None):
        """The comparison table (one row per area: score, class, dimensions)."""
        def frame() -> pd.DataFrame:
            rows = []
            for lv, code in _parse_refs(area):
                p = stored_profile(lv, code, year)
                s = p["score"] or {}
                rows.append(
                    {
                        "level": lv,
                        "code": code,
                        "label": p["area"]["label"],
                        "year": p["year"],
                        "total": s.get("total"),
                        "afw": s.get("afw"),
                        "klasse": s.get("klasse"),
                        "klasse_label": s.get("klasse_label_nl"),
                        **{d["id"]: d["value"] for d in p["dimensions"]},
                    }
                )
            return pd.DataFrame(rows, columns=["level", "code", "label", "year", "total", "afw", "klasse",
                                               "klasse_label", *data.facts.dimension_codes])

        return table_download("leefbaar_vergelijking", format.value, frame, "vergelijking", _notes, lang)

    @app.get("/api/download/gap/{level}", tags=["downloads"], responses=table_doc)
    @kept
    def download_gap(level: Level, format: TableFormat, gemeente: GemeenteQuery = None, lang: LangQuery = None):
        """The inequality table (one row per year)."""
        gemeente = _gemeente(gemeente)

        def frame() -> pd.DataFrame:
            out = pd.DataFrame(distribution(level.value, gemeente)["years"])
            if not out.empty:
                classes = pd.DataFrame(out.pop("classes").tolist(), columns=[f"klasse_{k}" for k in range(1, 10)])
                out = pd.concat([out, classes], axis=1)
            return out

        return table_download(f"leefbaar_ongelijkheid_{level.value}" + (f"_{gemeente}" if gemeente else ""),
                              format.value, frame, "ongelijkheid", _notes, lang)

    @app.get("/api/download/programmes", tags=["downloads"], responses=table_doc)
    @kept
    def download_programmes(format: TableFormat, lang: LangQuery = None):
        """The programme registry as one row per programme."""
        def frame() -> pd.DataFrame:
            return pd.DataFrame([
                {
                    "id": p["id"],
                    "kind": p["kind"],
                    "parent": p.get("parent"),
                    "name_nl": p["name_nl"],
                    "name_en": p["name_en"],
                    "start": p["start"],
                    "end": p.get("end"),
                    "themes": ", ".join(p.get("themes") or []),
                    "steering": ", ".join(p.get("steering") or []),
                    "areas": ", ".join(a["id"] for a in p.get("areas") or []),
                    "evaluations": len(p.get("evaluations") or []),
                    "pc4_members": p.get("pc4_members"),
                    "pc4_touched": p.get("pc4_touched"),
                }
                for p in data.programmes()["registry"]
            ])

        return table_download("leefbaar_programmas", format.value, frame, "programmas", _notes, lang)

    def _gemeente(value: str | None) -> str | None:
        """A gemeente code from a code or name; 404 when the store has no such gemeente."""
        if not value:
            return None
        try:
            return data.facts.gemeente_code(value)
        except LeefbaarError as exc:
            raise _not_found_from(exc) from None

    def _notes() -> list[str]:
        src = data.sources()
        return [
            "leefbaar " + __version__ + (f", index spec {data.spec}" if data.spec else ", official series"),
            "Scores: Leefbaarometer scale, total = 4.102265 + afw; afw = won + fys + vrz + soc + onv."
            if data.facts.dimension_codes == DIMENSIONS else
            f"Scores: total = 4.102265 + afw; dimensions: {', '.join(data.facts.dimension_codes)}.",
            f"kind: official (measured, no interval) / modelled ({data.facts.interval_level}% interval) / "
            "aggregated; small areas are shown but not classed: " + data.facts.rules_text("en"),
            *[f"{r.publisher} ({r.licence})" for r in src.itertuples()],
        ]

    # -- front end ----------------------------------------------------------------------------------
    index_html = STATIC / "index.html"

    for page in PAGES:
        app.add_api_route(
            page, lambda: FileResponse(index_html, media_type="text/html"), include_in_schema=False
        )

    @app.get("/area/{level}/{code}", include_in_schema=False)
    @app.get("/area/{level}", include_in_schema=False)
    @app.get("/perception/{code}", include_in_schema=False)
    def area_page():
        """Pages under /area and /perception: the page itself, whatever the code (the page says when it does not
        know the area, with search and a way back), so every bookmark and reload works."""
        return FileResponse(index_html, media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/{path:path}", include_in_schema=False)
    def unknown_page(path: str):
        """Any other path: the API and file names answer 404 in JSON, a page address gets the page (status 404),
        which says in Dutch or English that it does not exist and offers search."""
        if path == "api" or path.startswith(("api/", "static/")) or "." in path.rsplit("/", 1)[-1]:
            raise not_found("error.no_such_address", path=path)
        return FileResponse(index_html, media_type="text/html", status_code=404)

    return app


def _not_found_from(exc: Exception) -> NotFound:
    """``exc`` as a 404, keeping its sentence (so the answer is worded in the request's language)."""
    return told(NotFound(str(exc)), *exc.sentence[:1], **exc.sentence[1]) if hasattr(exc, "sentence") \
        else NotFound(str(exc))


def _parse_refs(refs: list[str]) -> list[tuple[str, str]]:
    """Validated ``level:code`` references as (level, code) pairs, duplicates dropped."""
    return list(dict.fromkeys(tuple(ref.split(":", 1)) for ref in refs))


def app_from_environment() -> FastAPI:
    """The app over the store named by ``$LEEFBAAR_WEB_STORE`` (the factory each worker process calls)."""
    return create_app(os.environ["LEEFBAAR_WEB_STORE"])


HEALTHCHECK_S = 60  # seconds a worker may take to answer uvicorn's liveness ping before it is restarted


def default_workers() -> int:
    """Server processes by default: one per core this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def serve(
    store_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int | None = None,
    cache_mb: float | None = None,
    queue: int | None = None,
) -> None:
    """Serve the dashboard over the store at ``store_path`` until interrupted (blocking).

    ``workers`` server processes (default: one per core), each opens the store read-only and fills its own
    caches (``cache_mb`` each); ``queue`` API requests may wait per worker before the answer is 503
    (module docstring). uvicorn uses httptools and uvloop when they are installed.
    """
    import uvicorn

    workers = workers or default_workers()
    for name, value in (("CACHE_MB", cache_mb), ("QUEUE", queue)):
        if value is not None:  # every worker process reads its settings from the environment
            os.environ[f"LEEFBAAR_WEB_{name}"] = str(value)
    own_folder = None
    if not os.environ.get("LEEFBAAR_WEB_DOWNLOAD_DIR"):  # one download folder for all workers
        own_folder = os.environ["LEEFBAAR_WEB_DOWNLOAD_DIR"] = tempfile.mkdtemp(prefix="leefbaar-downloads-")
    try:
        if workers > 1:
            os.environ["LEEFBAAR_WEB_STORE"] = str(Path(store_path).resolve())
            # worker processes: few malloc arenas, so memory freed by one request's threads is reused
            os.environ.setdefault("MALLOC_ARENA_MAX", "2")
            Store.open(store_path).close()  # fail here, once, if the store cannot be opened
            # a worker busy warming up on a loaded machine may answer the supervisor's ping late: not hung
            uvicorn.run("leefbaar.web.app:app_from_environment", factory=True, host=host, port=port,
                        workers=workers, log_level="warning", access_log=False,
                        timeout_worker_healthcheck=HEALTHCHECK_S)
            return
        uvicorn.run(create_app(store_path), host=host, port=port, log_level="warning", access_log=False)
    finally:
        if own_folder:
            shutil.rmtree(own_folder, ignore_errors=True)
            del os.environ["LEEFBAAR_WEB_DOWNLOAD_DIR"]
