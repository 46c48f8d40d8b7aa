"""CBS StatLine through OData v3: a robust HTTP layer and the download of 'Kerncijfers wijken en buurten'.

CBS serves every StatLine table at ``<root>/<table>/<entity>`` (root ``https://opendata.cbs.nl/ODataFeed/odata``,
the bulk service, which pages through ``odata.nextLink``; the ``ODataApi/odata`` root answers in the same
format). Entities used here: ``TableInfos`` (title, period, version), ``DataProperties`` (the code book: one
row per column key such as ``AantalInwoners_5``), the region dimension (``WijkenEnBuurten``; ``RegioS`` in
2013) and ``TypedDataSet`` (one row per region, numbers as numbers, ``null`` where CBS publishes '.' or
nothing).

CBS connections do reset and the service answers 5xx under load, so every request is retried with exponential
backoff; a body that ends early or is not complete JSON is retried too. Each page is kept in a local cache
keyed by the table version (``TableInfos.Modified``) and the URL, written to a temporary file and renamed, and
checked against its SHA-256 when read, so an interrupted download resumes where it stopped and a damaged cache
entry is fetched again. Output files are written only when a whole table has arrived (temp file + rename).
Licence of the data: CC BY 4.0, "Bron: CBS".
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import requests
import yaml

from leefbaar.errors import LeefbaarError, SpecError
from leefbaar.sources.catalogue import columns_for

DEFAULT_ODATA_URL = "https://opendata.cbs.nl/ODataFeed/odata"
ENV_ODATA_URL = "LEEFBAAR_CBS_ODATA_URL"
ENV_CACHE = "LEEFBAAR_CACHE"
RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
MAX_WAIT = 60.0
_TABLE_ID = re.compile(r"^\d{5}[A-Z]{3}$")
_REGION_GROUPS = {"NL": "nederland_statline", "GM": "gemeente_wijk_basis", "WK": "gemeente_wijk_basis",
                  "BU": "buurt_statline"}
# Columns of the region dimension that the ``statline_regions`` reader knows.
_REGION_FIELDS = ("Key", "Title", "Description", "Municipality", "DetailRegionCode")

Progress = Callable[[str, int, int], None]


class DownloadError(LeefbaarError):
    """A download that failed: names the table or layer, the URL and the reason, on one line."""


def default_cache_dir() -> Path:
    """``$LEEFBAAR_CACHE``, else ``$XDG_CACHE_HOME/leefbaar``, else ``~/.cache/leefbaar``."""
    if os.environ.get(ENV_CACHE):
        return Path(os.environ[ENV_CACHE])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "leefbaar"


def write_atomic(files: dict[Path, bytes]) -> None:
    """Write several files so that each is either absent/old or complete: temp file, fsync, then rename.

    All temporary files are written before the first rename, so a failure while writing leaves no output.
    """
    temps: list[tuple[Path, Path]] = []
    try:
        for path, data in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.part")
            temps.append((tmp, path))
            with open(tmp, "xb") as f:  # "x": a fresh file with the usual permissions (umask)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise


class ResponseCache:
    """Response bodies on disk, keyed by a namespace (e.g. a table version) and the full URL.

    Each entry is one file: a JSON header line (namespace, URL, SHA-256 and length of the body), then the
    body.
    An entry whose header or checksum does not match is removed and counts as absent.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    def _path(self, namespace: str, url: str) -> Path:
        key = hashlib.sha256(f"{namespace}\n{url}".encode()).hexdigest()
        return self.folder / "http" / key[:2] / f"{key}.cache"

    def get(self, namespace: str, url: str) -> bytes | None:
        path = self._path(namespace, url)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        head, sep, body = raw.partition(b"\n")
        try:
            meta = json.loads(head)
            valid = (sep and meta.get("namespace") == namespace and meta.get("url") == url
                     and meta.get("bytes") == len(body)
                     and meta.get("sha256") == hashlib.sha256(body).hexdigest())
        except ValueError:
            valid = False
        if not valid:
            path.unlink(missing_ok=True)
            return None
        return body

    def put(self, namespace: str, url: str, body: bytes) -> None:
        head = json.dumps({"namespace": namespace, "url": url, "bytes": len(body),
                           "sha256": hashlib.sha256(body).hexdigest(), "fetched": time.time()})
        write_atomic({self._path(namespace, url): head.encode() + b"\n" + body})


def _reason(exc: Exception) -> str:
    """A short, one-line description of a transport error."""
    text = " ".join(str(exc).split())
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return f"response body ended early ({text[:120]})"
    if isinstance(exc, requests.Timeout):
        return "timed out"
    lowered = text.lower()
    for needle, reason in (("reset", "connection reset by peer"), ("refused", "connection refused"),
                           ("aborted", "connection aborted"), ("name or service", "host name not found"),
                           ("remotedisconnected", "server closed the connection")):
        if needle in lowered:
            return reason
    return f"{type(exc).__name__}: {text[:160]}"


def _server_message(resp: requests.Response) -> str:
    """The OData error text of a failed response, if the server sent one."""
    try:
        err = resp.json().get("odata.error", {})
        msg = err.get("message", {})
        text = msg.get("value") if isinstance(msg, dict) else msg
    except (ValueError, AttributeError):
        return ""
    return f" ({' '.join(str(text).split())[:200]})" if text else ""


def full_url(url: str, params: dict | None) -> str:
    """``url`` with ``params`` appended; OData's ``$`` and the comma in ``$select`` stay readable."""
    if not params:
        return url
    return url + ("&" if "?" in url else "?") + urlencode(params, safe="$,'()")


class HttpClient:
    """GET JSON with retries (connection resets, timeouts, truncated bodies, 408/425/429/5xx) and a cache.

    ``retries`` is the number of extra attempts; the wait before attempt k+1 is ``backoff * 2**(k-1)`` seconds
    (at most 60), or the server's ``Retry-After`` if it gives one. Other HTTP errors fail at once.
    """

    def __init__(self, cache: ResponseCache | None = None, retries: int = 5, backoff: float = 1.0,
                 timeout: tuple[float, float] = (15.0, 180.0), refresh: bool = False,
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep):
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.cache, self.retries, self.backoff, self.timeout = cache, retries, backoff, timeout
        self.refresh, self.sleep = refresh, sleep
        self.session = session or requests.Session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "leefbaar"})
        self.requests_sent = 0
        self.cache_hits = 0

    def get_json(self, url: str, params: dict | None = None, *, what: str, namespace: str | None = None):
        """The parsed JSON at ``url``, cached under ``namespace`` unless None; ``what`` names the source."""
        target = full_url(url, params)
        if self.cache is not None and namespace is not None and not self.refresh:
            body = self.cache.get(namespace, target)
            if body is not None:
                self.cache_hits += 1
                return json.loads(body)
        reason, attempts = "", self.retries + 1
        for attempt in range(1, attempts + 1):
            wait = min(MAX_WAIT, self.backoff * 2 ** (attempt - 1))
            try:
                self.requests_sent += 1
                resp = self.session.get(target, timeout=self.timeout)
                body = resp.content
            except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError,
                    requests.exceptions.ContentDecodingError) as exc:
                reason = _reason(exc)
            else:
                if resp.status_code == 200:
                    try:
                        data = json.loads(body)
                    except ValueError:
                        reason = f"response of {len(body):,} bytes is not complete JSON"
                    else:
                        if self.cache is not None and namespace is not None:
                            self.cache.put(namespace, target, body)
                        return data
                elif resp.status_code in RETRY_STATUS:
                    reason = f"HTTP {resp.status_code} {resp.reason}{_server_message(resp)}"
                    after = resp.headers.get("Retry-After", "")
                    if after.isdigit():
                        wait = min(MAX_WAIT, float(after))
                else:
                    raise DownloadError(f"{what}: GET {target} failed: HTTP {resp.status_code} {resp.reason}"
                                        f"{_server_message(resp)}")
            if attempt < attempts:
                self.sleep(wait)
        raise DownloadError(f"{what}: GET {target} failed after {attempts} attempts: {reason}")


def same_host(base: str, url: str, what: str) -> str:
    """Resolve ``url`` against ``base`` and refuse links to another host (a paging link must stay put)."""
    resolved = urljoin(base, url)
    if urlsplit(resolved).netloc != urlsplit(base).netloc:
        raise DownloadError(f"{what}: paging link {resolved} leaves the host of {base}; not followed")
    return resolved


# -- the CBS table catalogue ----------------------------------------------------------------------
@dataclass(frozen=True)
class KwbTable:
    """One 'Kerncijfers wijken en buurten' table: statistics year and StatLine identifier."""

    year: int
    table: str


def validate_kwb_catalogue(doc, where: str = "catalogue/cbs_tables.yaml") -> tuple[KwbTable, ...]:
    """Check the parsed ``cbs_tables.yaml``: a ``kwb`` list of {year, table}, years and ids unique."""
    if not isinstance(doc, dict) or not isinstance(doc.get("kwb"), list) or not doc["kwb"]:
        raise SpecError(f"{where}: needs a non-empty list 'kwb' of {{year, table}} entries")
    out = []
    for n, entry in enumerate(doc["kwb"], 1):
        if not isinstance(entry, dict) or set(entry) != {"year", "table"}:
            raise SpecError(f"{where}: kwb entry {n} must have exactly the fields year and table")
        year, table = entry["year"], entry["table"]
        if not isinstance(year, int) or not 1990 <= year <= 2100:
            raise SpecError(f"{where}: kwb entry {n}: year {year!r} is not a year")
        if not isinstance(table, str) or not _TABLE_ID.match(table):
            raise SpecError(f"{where}: kwb entry {n}: {table!r} is not a StatLine id like 85984NED")
        out.append(KwbTable(year, table))
    for attr in ("year", "table"):
        values = [getattr(t, attr) for t in out]
        dup = next((v for v in values if values.count(v) > 1), None)
        if dup is not None:
            raise SpecError(f"{where}: {attr} {dup} appears twice in kwb")
    return tuple(sorted(out, key=lambda t: t.year))


@cache
def kwb_tables() -> tuple[KwbTable, ...]:
    """The KWB tables per year from the package catalogue ``catalogue/cbs_tables.yaml``."""
    with (resources.files("leefbaar") / "catalogue" / "cbs_tables.yaml").open(encoding="utf-8") as f:
        return validate_kwb_catalogue(yaml.safe_load(f))


def kwb_table_for_year(year: int) -> str:
    """The StatLine id of the KWB table of ``year``."""
    for t in kwb_tables():
        if t.year == year:
            return t.table
    years = [t.year for t in kwb_tables()]
    raise DownloadError(f"no Kerncijfers wijken en buurten table for {year} in catalogue/cbs_tables.yaml "
                        f"(years {years[0]}-{years[-1]})")


# -- the OData client ----------------------------------------------------------------------
class CbsOData:
    """StatLine tables from a CBS OData v3 root (default ``$LEEFBAAR_CBS_ODATA_URL``, else the bulk feed)."""

    def __init__(self, http: HttpClient, root: str | None = None):
        self.http = http
        self.root = (root or os.environ.get(ENV_ODATA_URL) or DEFAULT_ODATA_URL).rstrip("/")

    def url(self, table: str, entity: str) -> str:
        return f"{self.root}/{table}/{entity}"

    def table_infos(self, table: str) -> dict:
        """The ``TableInfos`` row of ``table`` (never cached: its ``Modified`` tells the table version)."""
        rows = list(self.rows(table, "TableInfos", namespace=None))
        if len(rows) != 1:
            raise DownloadError(f"CBS table {table}: TableInfos at {self.url(table, 'TableInfos')} has "
                                f"{len(rows)} rows, expected 1")
        return rows[0]

    def pages(self, table: str, entity: str, namespace: str | None, params: dict | None = None
              ) -> Iterator[list[dict]]:
        """The rows of one entity set, page by page, following ``odata.nextLink``."""
        what = f"CBS table {table}"
        url, query, seen = self.url(table, entity), {"$format": "json", **(params or {})}, set()
        while url:
            target = full_url(url, query)
            if target in seen:
                raise DownloadError(f"{what}: paging link {target} repeats; the server loops")
            seen.add(target)
            page = self.http.get_json(url, query, what=what, namespace=namespace)
            value = page.get("value") if isinstance(page, dict) else None
            if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
                raise DownloadError(f"{what}: GET {target} returned no OData 'value' list of rows")
            yield value
            nxt = page.get("odata.nextLink")
            url, query = (same_host(target, nxt, what), None) if nxt else (None, None)

    def rows(self, table: str, entity: str, namespace: str | None, params: dict | None = None
             ) -> Iterator[dict]:
        for page in self.pages(table, entity, namespace, params):
            yield from page


# -- Kerncijfers wijken en buurten ----------------------------------------------------------------------
def stem(key: str) -> str:
    """The stable part of a StatLine key: ``AantalInwoners_5`` -> ``AantalInwoners``."""
    return re.sub(r"_\d+$", "", key)


@dataclass(frozen=True)
class Selection:
    """The column keys to download, in table order, and the requested stems no catalogue row maps."""

    keys: tuple[str, ...]
    unmapped: tuple[str, ...]
    absent: tuple[str, ...]


def select_keys(properties: list[dict], year: int, select: str | None, table: str) -> Selection:
    """Resolve ``--select`` against a table's DataProperties.

    ``None``: every key whose stem the catalogue maps for ``year`` (family ``kwb_statline``), so that the file
    ingests as it is; ``absent`` lists mapped stems this table lacks. ``"all"``: every topic. Otherwise a
    comma-separated list of stems (``AantalInwoners``) or exact keys (``AantalInwoners_5``).
    """
    topics = [p["Key"] for p in properties if p.get("Type") == "Topic" and p.get("Key")]
    by_stem: dict[str, list[str]] = {}
    for key in topics:
        by_stem.setdefault(stem(key), []).append(key)
    mapped = set(columns_for("kwb_statline", year))
    if select is None:
        if not mapped:
            raise DownloadError(f"CBS table {table}: catalogue/columns.csv maps no StatLine stems (family "
                                f"kwb_statline) for {year}; choose columns with --select")
        wanted = sorted(mapped)
    elif select.strip().lower() == "all":
        return Selection(tuple(topics), tuple(sorted({stem(k) for k in topics} - mapped)), ())
    else:
        wanted = [s.strip() for s in select.split(",") if s.strip()]
        if not wanted:
            raise DownloadError("--select names no columns")
    keys, absent = set(), []
    for item in wanted:
        if item in topics:
            keys.add(item)
            continue
        found = by_stem.get(item, [])
        if len(found) > 1:
            raise DownloadError(f"CBS table {table}: '{item}' matches several keys ({', '.join(found)}); "
                                "select one of them by its full key")
        if not found:
            if select is None:
                absent.append(item)
                continue
            raise DownloadError(f"CBS table {table}: no column '{item}' (see its DataProperties: keys like "
                                f"{', '.join(topics[4:7])})")
        keys.add(found[0])
    if not keys:
        raise DownloadError(f"CBS table {table}: none of the selected columns is in the table")
    ordered = tuple(k for k in topics if k in keys)
    return Selection(ordered, tuple(sorted({stem(k) for k in ordered} - mapped)), tuple(absent))


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    return repr(value) if isinstance(value, float) else str(value)


def _meta_csv(rows: list[dict]) -> tuple[bytes, int]:
    """Rows as CSV in StatLine's export style (text quoted, numbers bare, null empty), and its width."""
    fields = list(dict.fromkeys(k for r in rows for k in r))

    def fmt(v) -> str:
        if v is None:
            return ""
        if isinstance(v, str):
            return '"' + v.replace('"', '""') + '"'
        return _cell(v)

    lines = [",".join(fmt(f) for f in fields)] + [",".join(fmt(r.get(f)) for f in fields) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8"), len(fields)


@dataclass(frozen=True)
class Written:
    """One output file: path, data rows and columns."""

    path: Path
    rows: int
    columns: int


def kwb_paths(out: Path, table: str, year: int) -> dict[str, Path]:
    """Where a KWB download goes inside the data folder ``out`` (the layout of ``shared/data``)."""
    return {
        "gemeente_wijk_basis": out / "cbs_kwb" / f"kwb{year}_gemeente_wijk_basis.csv",
        "buurt_statline": out / "cbs_kwb" / f"kwb{year}_buurt_statline.csv",
        "nederland_statline": out / "cbs_kwb" / f"kwb{year}_nederland_statline.csv",
        "DataProperties": out / "cbs_meta" / f"{table}_kwb{year}_DataProperties.csv",
        "TableInfos": out / "cbs_meta" / f"{table}_kwb{year}_TableInfos.csv",
        "WijkenEnBuurten": out / "cbs_meta" / f"{table}_kwb{year}_WijkenEnBuurten.csv",
    }


def _table_year(table: str, infos: dict) -> int:
    period = str(infos.get("Period") or "").strip()
    known = {t.table: t.year for t in kwb_tables()}
    if table in known:
        if re.fullmatch(r"\d{4}", period) and int(period) != known[table]:
            raise DownloadError(f"CBS table {table}: TableInfos.Period is {period} but "
                                f"catalogue/cbs_tables.yaml lists it for {known[table]}")
        return known[table]
    if not re.fullmatch(r"\d{4}", period):
        raise DownloadError(f"CBS table {table}: cannot tell its statistics year (TableInfos.Period "
                            f"{period!r}); add it to catalogue/cbs_tables.yaml")
    return int(period)


def download_kwb(client: CbsOData, table: str, out: Path, select: str | None = None,
                 progress: Progress | None = None) -> tuple[list[Written], Selection]:
    """Download one KWB table into the data folder ``out``; returns the files written and the selection.

    Writes the data split by region level (``cbs_kwb/kwb<year>_gemeente_wijk_basis.csv`` for gemeenten and
    wijken, ``..._buurt_statline.csv`` for buurten, ``..._nederland_statline.csv`` for NL00) with the StatLine
    keys as column names and the region code (trimmed) as ``WijkenEnBuurten``, plus the table's
    DataProperties, TableInfos and region list under ``cbs_meta/``. Nothing is written unless the table
    arrived complete: one data row per region of the region dimension.
    """
    table = table.strip().upper()
    if not _TABLE_ID.match(table):
        raise DownloadError(f"{table!r} is not a StatLine table id like 85984NED")
    progress = progress or (lambda *_: None)
    progress(f"{table}: table information", 0, 1)
    infos = client.table_infos(table)
    year = _table_year(table, infos)
    namespace = f"cbs/{table}/{infos.get('Modified') or 'unversioned'}"
    properties = list(client.rows(table, "DataProperties", namespace))
    geo = [p.get("Key") for p in properties if p.get("Type") == "GeoDetail"]
    if len(geo) != 1 or not geo[0]:
        raise DownloadError(f"CBS table {table} ({infos.get('Title')}) has no single region dimension; "
                            "only Kerncijfers wijken en buurten tables can be downloaded")
    region_key = geo[0]
    selection = select_keys(properties, year, select, table)
    regions = list(client.rows(table, region_key, namespace))
    expected = {str(r.get("Key", "")).strip() for r in regions}
    if len(expected) != len(regions) or "" in expected:
        raise DownloadError(f"CBS table {table}: region dimension {region_key} has empty or repeated keys")

    columns = ["WijkenEnBuurten", *selection.keys]
    buffers: dict[str, io.StringIO] = {}
    writers: dict[str, csv.writer] = {}
    counts: dict[str, int] = {}
    seen: set[str] = set()
    params = {"$select": ",".join([region_key, *selection.keys])}
    for page in client.pages(table, "TypedDataSet", namespace, params):
        for row in page:
            missing = [c for c in (region_key, *selection.keys) if c not in row]
            if missing:
                raise DownloadError(f"CBS table {table}: TypedDataSet rows lack column {missing[0]}; the "
                                    "table changed during the download, run it again with --refresh")
            code = str(row[region_key] or "").strip()
            group = _REGION_GROUPS.get(code[:2])
            if group is None or code in seen or code not in expected:
                why = ("repeated" if code in seen else "not in the region dimension" if group
                       else "unknown kind of")
                raise DownloadError(f"CBS table {table}: TypedDataSet has a {why} region code {code!r}")
            seen.add(code)
            if group not in writers:
                buffers[group] = io.StringIO()
                writers[group] = csv.writer(buffers[group], lineterminator="\n")
                writers[group].writerow(columns)
                counts[group] = 0
            writers[group].writerow([code, *(_cell(row[k]) for k in selection.keys)])
            counts[group] += 1
        progress(f"{table}: TypedDataSet", len(seen), len(expected))
    if seen != expected:
        raise DownloadError(f"CBS table {table}: TypedDataSet has {len(seen):,} of the {len(expected):,} "
                            f"regions of {region_key}; the download is incomplete, run it again")

    paths = kwb_paths(out, table, year)
    if not {"Key", "Title", "Municipality"} <= {k for r in regions for k in r}:
        # Without these fields the region list cannot name areas (reader statline_regions); keep it as served.
        paths["WijkenEnBuurten"] = paths["WijkenEnBuurten"].with_name(f"{table}_kwb{year}_{region_key}.csv")
    else:
        regions = [{f: r.get(f) for f in _REGION_FIELDS if f in r} for r in regions]
    meta = {"DataProperties": (_meta_csv(properties), len(properties)), "TableInfos": (_meta_csv([infos]), 1),
            "WijkenEnBuurten": (_meta_csv(regions), len(regions))}
    files = {paths[g]: buf.getvalue().encode("utf-8") for g, buf in buffers.items()}
    files.update({paths[name]: data for name, ((data, _), _) in meta.items()})
    write_atomic(files)
    written = [Written(paths[g], counts[g], len(columns)) for g in buffers]
    written += [Written(paths[name], n, width) for name, ((_, width), n) in meta.items()]
    return written, selection
