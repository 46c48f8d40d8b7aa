"""The leefbaar dashboard: a FastAPI application over a read-only store, with its front end.

The API is documented at ``/openapi.json`` (no CDN-based docs page: the app works offline). Every parameter is
typed and validated (levels, measures and indicators are enums from the catalogue; codes and years are
pattern- and range-checked); queries are parameterised; no path comes from a request. Responses carry a
strict Content-Security-Policy and related headers; errors are short JSON messages, never stack traces.
Heavy answers (boundaries, map values, profiles) are computed once and served from memory, gzip-compressed
when the client accepts it.
"""

from __future__ import annotations

import enum
import gzip
import hashlib
import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated

import pandas as pd
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import StringConstraints
from starlette.exceptions import HTTPException as StarletteHTTPException

from leefbaar import __version__
from leefbaar.errors import LeefbaarError
from leefbaar.report import exports
from leefbaar.report.data import DIMENSIONS, DashboardData, NotFound, records
from leefbaar.sources.catalogue import indicators as catalogue_indicators
from leefbaar.store.store import Store
from leefbaar.web import models
from leefbaar.web.geometry import Encoded, level_topojson

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
PAGES = ("/", "/map", "/compare", "/gap", "/programmes")


class Level(enum.StrEnum):
    """Area levels the dashboard can draw (pc4 = postcode area; buurt, wijk, gemeente = CBS areas)."""

    pc4 = "pc4"
    buurt = "buurt"
    wijk = "wijk"
    gemeente = "gemeente"


class Measure(enum.StrEnum):
    """What the map shows: total score, deviation, a dimension, class, change, or an indicator."""

    total = "total"
    afw = "afw"
    won = "won"
    fys = "fys"
    vrz = "vrz"
    soc = "soc"
    onv = "onv"
    klasse = "klasse"
    change = "change"
    indicator = "indicator"


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
YearQuery = Annotated[int | None, Query(ge=1990, le=2100, description="Year (default: latest with scores).")]
GemeenteQuery = Annotated[
    str | None, Query(pattern=r"^GM[0-9]{4}$", description="Gemeente code, e.g. GM0599.")
]
AreaRef = Annotated[
    list[Annotated[str, StringConstraints(pattern=r"^(pc4|buurt|wijk|gemeente):[A-Za-z0-9]{1,12}$")]],
    Query(min_length=2, max_length=5, description="2-5 areas as level:code, e.g. pc4:3072."),
]


class Cache:
    """A bounded in-memory cache of encoded responses (JSON bytes and their gzip)."""

    def __init__(self, size: int = 4096):
        self.size, self._items, self._lock = size, OrderedDict(), threading.Lock()

    def get(self, key, make: Callable[[], bytes]) -> tuple[bytes, bytes, str]:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        raw = make()
        item = (raw, gzip.compress(raw, 5), hashlib.sha256(raw).hexdigest()[:20])
        with self._lock:
            self._items[key] = item
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return item


def _dumps(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _encoded(
    request: Request, raw: bytes, gz: bytes, etag: str, media: str = "application/json", max_age: int = 300
) -> Response:
    """A cached body: 304 on a matching ETag, gzip when accepted."""
    headers = {"ETag": f'"{etag}"', "Cache-Control": f"public, max-age={max_age}", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        return Response(gz, media_type=media, headers=headers)
    return Response(raw, media_type=media, headers=headers)


def _download(body: bytes, fmt: str, name: str) -> Response:
    return Response(
        body,
        media_type=exports.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"', "Cache-Control": "no-store"},
    )


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


def create_app(store_path: str | Path, warm: bool = True) -> FastAPI:
    """The dashboard application over the store at ``store_path`` (opened read-only).

    With ``warm`` the PC4 scores and boundaries are prepared in a background thread at start-up, so the
    first visitor does not wait for them.
    """
    store = Store.open(store_path, read_only=True)
    data = DashboardData(store)
    cache = Cache(size=40_000)

    def profile_body(level: str, code: str, year: int | None = None, base_year: int | None = None):
        return cache.get(("profile", level, code, year, base_year),
                         lambda: _dumps(data.profile(level, code, year, base_year)))

    def map_body(level: str, year: int, measure: str, indicator: str | None, base_year: int | None):
        return cache.get(("map", level, year, measure, indicator, base_year),
                         lambda: _dumps(data.map_values(level, year, measure, indicator, base_year)))

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
                    raise NotFound(f"the store holds no boundaries at level {level!r}")
                with data.store_lock:  # the store's own connection is not shared between threads
                    geo[level] = level_topojson(store, level)
            return geo[level]

    ready = threading.Event()

    def warm_up() -> None:
        try:
            for level in data.levels[:1]:
                geometry(level)
                data.warm(level)
                for code in data.scores(level)["code"].unique():  # every profile answered from memory
                    area_body(level, str(code))
                for year in data.score_years(level):  # and every score map
                    for measure in ("total", "afw", "klasse", "change", *DIMENSIONS):
                        try:
                            map_body(level, year, measure, None, None)
                        except NotFound:  # no dimensions or no earlier year: answered as 404 on request
                            pass
            if "gemeente" in data.levels:
                geometry("gemeente")
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
    app.add_middleware(SecurityHeaders)
    app.state.data = data

    # -- errors -------------------------------------------------------------------------------------
    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return JSONResponse({"error": "not_found", "detail": str(exc)}, status_code=404)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        where = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in exc.errors()
        )
        return JSONResponse({"error": "invalid_parameter", "detail": where[:500]}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return JSONResponse({"error": "http_error", "detail": str(exc.detail)}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception):
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"error": "internal_error", "detail": "internal error"}, status_code=500)

    not_found_doc = {404: {"model": models.Error, "description": "No such area, year or series"}}

    # -- API ----------------------------------------------------------------------------------------
    @app.get("/api/health", response_model=models.Health, tags=["meta"])
    def health():
        """Liveness: the store is open (read-only); ``ready`` once the start-up caches are filled."""
        return {"status": "ok", "version": __version__, "read_only": store.read_only, "ready": ready.is_set()}

    @app.get("/api/meta", response_model=models.Meta, tags=["meta"])
    def meta(request: Request):
        """Levels, years with scores, indicators, class labels and colours, and which optional results
        (index scores, contributions, vulnerability, programmes, evaluations) the store holds."""
        return _encoded(request, *cache.get(("meta",), lambda: _dumps(data.meta())))

    @app.get("/api/search", response_model=list[models.Area], tags=["areas"])
    def search(q: Annotated[str, Query(min_length=1, max_length=60, description="Code, name or postcode.")]):
        """Areas whose code, name or postcode matches ``q`` (at most 20)."""
        return data.search(q)

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

    @app.get("/api/map/{level}", response_model=models.MapValues, tags=["map"], responses=not_found_doc)
    def map_values(
        request: Request,
        level: Level,
        year: Annotated[int, Query(ge=1990, le=2100)],
        measure: Measure = Measure.total,
        indicator: Indicator | None = None,
        base_year: Annotated[int | None, Query(ge=1990, le=2100)] = None,
    ):
        """Values, bins and legend of one measure for all areas of a level in one year. ``change`` is the
        change of afw since ``base_year`` (default: the previous year with scores), binned in the seven
        development classes; ``indicator`` needs ``indicator``."""
        return _encoded(request, *map_body(level.value, year, measure.value, indicator and indicator.value,
                                           base_year))

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
        """The area profile: score and class with uncertainty (level stated), five dimensions against gemeente
        and national reference, every year's score with its kind, the change from ``base_year`` to ``year``
        split into parts that add up to it (indicators, nowcast correction, rest) or by dimension,
        vulnerability flags with reasons, and programmes whose areas include it."""
        return _encoded(request, *profile_body(level.value, code, year, base_year))

    @app.get("/api/compare", response_model=list[models.Profile], tags=["areas"], responses=not_found_doc)
    def compare(request: Request, area: AreaRef, year: YearQuery = None):
        """Profiles of two to five areas side by side (``area=pc4:3072&area=pc4:3011``)."""
        refs = _parse_refs(area)
        return _encoded(
            request,
            *cache.get(
                ("compare", tuple(refs), year),
                lambda: _dumps([data.profile(lv, code, year) for lv, code in refs]),
            ),
        )

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
                lambda: _dumps(records(data.ranking(level.value, year, gemeente))),
            ),
        )

    @app.get("/api/gap/{level}", response_model=models.Distribution, tags=["tables"])
    def gap(request: Request, level: Level, gemeente: GemeenteQuery = None):
        """Inequality over time: weighted quantiles, P90-P10 spread, gap of the weakest tenth to the mean,
        share of inhabitants in an insufficient class (1-4), the class mix, and (``analysis``, national) the
        monitoring stage's P90-P10 gap with bootstrap band and its verdict (growing/shrinking/no change)."""
        gemeente = _gemeente(gemeente)

        def make():
            out = data.distribution(level.value, gemeente)
            out["analysis"] = data.gap_analysis(level.value)
            return _dumps(out)

        return _encoded(request, *cache.get(("gap", level.value, gemeente), make))

    @app.get("/api/programmes", response_model=models.Programmes, tags=["programmes"])
    def programmes(request: Request):
        """The programme registry (timeline), policy lists and area groups, evaluation results."""
        return _encoded(request, *cache.get(("programmes",), lambda: _dumps(data.programmes())))

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
    def download_map(
        level: Level,
        year: Annotated[int, Query(ge=1990, le=2100)],
        format: MapFormat,
        measure: Measure = Measure.total,
        indicator: Indicator | None = None,
        gemeente: GemeenteQuery = None,
    ):
        """The map's values (with names, kind and class labels; optionally of one gemeente); as GeoPackage with
        the boundaries (EPSG:28992)."""
        gemeente = _gemeente(gemeente)
        frame = data.map_frame(level.value, year, measure.value, indicator and indicator.value, gemeente)
        name = f"leefbaar_{level.value}_{year}_{indicator.value if indicator else measure.value}" + (
            f"_{gemeente}" if gemeente else "")
        if format == MapFormat.gpkg:
            with data.store_lock:
                geoms = store.geometries(level.value, crs=28992)[["code", "geometry"]]
            gdf = geoms.merge(frame, on="code", how="inner")
            return _download(exports.gpkg_bytes(gdf, name), "gpkg", name)
        return _download(exports.table_bytes(frame, format.value, "kaart", _notes()), format.value, name)

    @app.get("/api/download/ranking/{level}", tags=["downloads"], responses=table_doc)
    def download_ranking(
        level: Level,
        year: Annotated[int, Query(ge=1990, le=2100)],
        format: TableFormat,
        gemeente: GemeenteQuery = None,
    ):
        """The ranking table."""
        gemeente = _gemeente(gemeente)
        frame = data.ranking(level.value, year, gemeente)
        name = f"leefbaar_ranking_{level.value}_{year}" + (f"_{gemeente}" if gemeente else "")
        return _download(exports.table_bytes(frame, format.value, "ranking", _notes()), format.value, name)

    @app.get("/api/download/profile/{level}/{code}", tags=["downloads"], responses=table_doc)
    def download_profile(level: Level, code: CodeParam, format: TableFormat):
        """The area's trend table (all years, official or modelled, with dimensions and interval)."""
        p = data.profile(level.value, code)
        cols = ["year", "total", "afw", *DIMENSIONS, "klasse", "kind", "total_lo", "total_hi", "interval_level",
                "rank", "n_areas", "small"]
        frame = pd.DataFrame(p["trend"], columns=cols)
        frame["interval_level"] = frame["interval_level"].where(frame["total_lo"].notna())
        frame.insert(0, "code", code)
        frame.insert(0, "level", level.value)
        return _download(
            exports.table_bytes(frame, format.value, "trend", _notes()),
            format.value,
            f"leefbaar_{level.value}_{code}",
        )

    @app.get("/api/download/compare", tags=["downloads"], responses=table_doc)
    def download_compare(area: AreaRef, format: TableFormat, year: YearQuery = None):
        """The comparison table (one row per area: score, class, dimensions)."""
        rows = []
        for lv, code in _parse_refs(area):
            p = data.profile(lv, code, year)
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
        frame = pd.DataFrame(
            rows,
            columns=["level", "code", "label", "year", "total", "afw", "klasse", "klasse_label", *DIMENSIONS],
        )
        return _download(
            exports.table_bytes(frame, format.value, "vergelijking", _notes()),
            format.value,
            "leefbaar_vergelijking",
        )

    @app.get("/api/download/gap/{level}", tags=["downloads"], responses=table_doc)
    def download_gap(level: Level, format: TableFormat, gemeente: GemeenteQuery = None):
        """The inequality table (one row per year)."""
        gemeente = _gemeente(gemeente)
        d = data.distribution(level.value, gemeente)
        frame = pd.DataFrame(d["years"])
        if not frame.empty:
            classes = pd.DataFrame(
                frame.pop("classes").tolist(), columns=[f"klasse_{k}" for k in range(1, 10)]
            )
            frame = pd.concat([frame, classes], axis=1)
        return _download(
            exports.table_bytes(frame, format.value, "ongelijkheid", _notes()),
            format.value,
            f"leefbaar_ongelijkheid_{level.value}" + (f"_{gemeente}" if gemeente else ""),
        )

    @app.get("/api/download/programmes", tags=["downloads"], responses=table_doc)
    def download_programmes(format: TableFormat):
        """The programme registry as one row per programme."""
        frame = pd.DataFrame(
            [
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
            ]
        )
        return _download(
            exports.table_bytes(frame, format.value, "programmas", _notes()),
            format.value,
            "leefbaar_programmas",
        )

    def _gemeente(value: str | None) -> str | None:
        """A gemeente code from a code or name; 404 when the store has no such gemeente."""
        if not value:
            return None
        try:
            return data.facts.gemeente_code(value)
        except LeefbaarError as exc:
            raise NotFound(str(exc)) from None

    def _notes() -> list[str]:
        src = data.sources()
        return [
            "leefbaar " + __version__ + (f", index spec {data.spec}" if data.spec else ", official series"),
            "Scores: Leefbaarometer scale, total = 4.102265 + afw; afw = won + fys + vrz + soc + onv.",
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
    def area_page(level: Level, code: CodeParam):
        return FileResponse(index_html, media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _parse_refs(refs: list[str]) -> list[tuple[str, str]]:
    """Validated ``level:code`` references as (level, code) pairs, duplicates dropped."""
    return list(dict.fromkeys(tuple(ref.split(":", 1)) for ref in refs))


def app_from_environment() -> FastAPI:
    """The app over the store named by ``$LEEFBAAR_WEB_STORE`` (the factory each worker process calls)."""
    return create_app(os.environ["LEEFBAAR_WEB_STORE"])


def serve(store_path: str | Path, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the dashboard over the store at ``store_path`` until interrupted (blocking).

    ``workers`` > 1 runs that many server processes (each opens the store read-only and fills its own
    caches); uvicorn uses httptools and uvloop when they are installed.
    """
    import uvicorn

    if workers > 1:
        os.environ["LEEFBAAR_WEB_STORE"] = str(Path(store_path).resolve())
        Store.open(store_path).close()  # fail here, once, if the store cannot be opened
        uvicorn.run("leefbaar.web.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
                    log_level="warning", access_log=False)
        return
    uvicorn.run(create_app(store_path), host=host, port=port, log_level="warning", access_log=False)
