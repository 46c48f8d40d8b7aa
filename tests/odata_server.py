"""A loopback HTTP server that answers like CBS OData v3 and PDOK OGC API Features, with real rows.

It serves table 85984NED (Kerncijfers wijken en buurten 2024) from the shared data folder:

- ``/ODataApi/OData/85984NED/TableInfos`` and ``/DataProperties`` from ``cbs_meta/85984NED_kwb2024_*.csv``;
- ``/ODataApi/OData/85984NED/WijkenEnBuurten`` from ``cbs_meta/85984NED_kwb2024_WijkenEnBuurten.csv.gz``
  (18,310 regions, keys space-padded to 10 characters as CBS serves them);
- ``/ODataApi/OData/85984NED/TypedDataSet`` with one row per region: the values of
  ``cbs_kwb/kwb2024_gemeente_wijk_basis.csv`` for gemeenten and wijken and of ``kwb2024_buurt_inwoners.csv``
  (AantalInwoners) for buurten; every other cell is ``null`` (not in the shared data). Numbers are typed by
  the DataProperties ``Datatype`` (Long -> integer, Double -> float). ``$select``, ``$skip`` and ``$top``
  work; pages of ``page_size`` rows carry an ``odata.nextLink`` with the next ``$skip``.

  The shared basis file comes from a later release of 85984NED than the shared DataProperties (CBS added
  themes and renumbered keys: ``OppervlakteTotaal_122`` there, ``OppervlakteTotaal_112`` here), so the
  server renames those DataProperties keys to the data file's keys (matched on their stem).
- ``/cbs/gebiedsindelingen/ogc/v1/collections/gemeente_gegeneraliseerd/items?jaarcode=2022`` with the 345
  features of ``geo/gemeenten_2022_pdok_gegeneraliseerd_wgs84.geojson`` (``jaarcode`` added from
  ``jrstatcode``), paged by ``limit``/``offset`` with ``next`` links; other years give no features.

Faults for tests: ``inject(match, *kinds)`` makes the next requests whose path and query contain ``match``
fail, one kind per request: ``reset`` (TCP reset, no response), ``503``/``500``/``429`` (an OData error),
``truncate`` (half the announced body, then the connection closes) or ``badjson`` (a complete response whose
body is cut JSON). ``log`` holds the path and query of every request received.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ODATA_PREFIX = "/ODataApi/OData"
PDOK_PREFIX = "/cbs/gebiedsindelingen/ogc/v1"
TABLE = "85984NED"
_INT_FIELDS = {"ID", "Position", "ParentID", "MapYear", "Decimals"}


def refuse_remote(monkeypatch) -> None:
    """Refuse (AssertionError) any connection that is not to the loopback address, and drop proxy settings."""
    real = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] not in ("127.0.0.1", "::1"):
            raise AssertionError(f"a test tried to reach {address}")
        return real(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


def _read_csv(data: bytes) -> list[dict]:
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _typed(value: str, datatype: str | None):
    if value == "":
        return None
    if datatype == "Long":
        return int(float(value))
    if datatype == "Double":
        return float(value)
    return value


def _stem(key: str) -> str:
    return re.sub(r"_\d+$", "", key)


class KwbTable:
    """The 85984NED data as the server serves it."""

    def __init__(self, data_dir: Path):
        meta = data_dir / "cbs_meta"
        self.infos = [{k: (int(v) if k == "ID" else v) for k, v in r.items()}
                      for r in _read_csv((meta / f"{TABLE}_kwb2024_TableInfos.csv").read_bytes())]
        props = [{k: (int(float(v)) if k in _INT_FIELDS and v != "" else (v if v != "" else None))
                  for k, v in r.items()}
                 for r in _read_csv((meta / f"{TABLE}_kwb2024_DataProperties.csv").read_bytes())]
        self.regions = [{k: v for k, v in r.items()}
                        for r in _read_csv(gzip.decompress(
                            (meta / f"{TABLE}_kwb2024_WijkenEnBuurten.csv.gz").read_bytes()))]
        basis = _read_csv((data_dir / "cbs_kwb" / "kwb2024_gemeente_wijk_basis.csv").read_bytes())
        data_keys = [k for k in basis[0] if k != "WijkenEnBuurten"]
        by_stem = {}
        for p in props:
            if p.get("Type") == "Topic":
                by_stem.setdefault(_stem(p["Key"]), []).append(p)
        for key in data_keys:
            (match,) = by_stem[_stem(key)]  # each stem of the data file is unique in the code book
            match["Key"] = key
        self.properties = props
        self.datatype = {p["Key"]: p.get("Datatype") for p in props if p.get("Type") == "Topic"}
        self.values: dict[str, dict] = {}
        for row in basis:
            self.values[row["WijkenEnBuurten"].strip()] = {
                k: _typed(row[k], self.datatype[k]) for k in data_keys}
        for row in _read_csv((data_dir / "cbs_kwb" / "kwb2024_buurt_inwoners.csv").read_bytes()):
            self.values[row["nhood_id"].strip()] = {"AantalInwoners_5": _typed(row["population"], "Long")}
        names = {r["Key"].strip(): r["Title"] for r in self.regions}
        self.kind = {"NL": "Land", "GM": "Gemeente", "WK": "Wijk", "BU": "Buurt"}
        self.municipality = {r["Key"]: names.get(r["Municipality"], "Nederland") for r in self.regions}
        self.columns = ["ID", "WijkenEnBuurten", *self.datatype]

    def typed_row(self, i: int, columns: list[str]) -> dict:
        region = self.regions[i]
        key = region["Key"]
        code = key.strip()
        values = self.values.get(code, {})
        fixed = {"ID": i, "WijkenEnBuurten": key, "Gemeentenaam_1": self.municipality[key].ljust(40),
                 "SoortRegio_2": self.kind[code[:2]].ljust(10), "Codering_3": key,
                 "IndelingswijzigingGemeenteWijkBuurt_4": None}
        return {c: fixed[c] if c in fixed else values.get(c) for c in columns}


class LoopbackServer:
    """Start with ``with LoopbackServer(data_dir) as srv:``; ``srv.odata_root`` and ``srv.pdok_root``."""

    def __init__(self, data_dir: Path, page_size: int = 10_000, pdok_page_size: int = 100):
        self.data_dir, self.page_size, self.pdok_page_size = Path(data_dir), page_size, pdok_page_size
        self.log: list[str] = []
        self._faults: list[list[str]] = []
        self._lock = threading.Lock()
        self._table: KwbTable | None = None
        self._gemeenten: list[dict] | None = None
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> LoopbackServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def odata_root(self) -> str:
        return self.base + ODATA_PREFIX

    @property
    def pdok_root(self) -> str:
        return self.base + PDOK_PREFIX

    # -- faults ---------------------------------------------------------------------------------------------
    def inject(self, match: str, *kinds: str) -> None:
        with self._lock:
            self._faults.extend([match, k] for k in kinds)

    def take_fault(self, target: str) -> str | None:
        with self._lock:
            self.log.append(target)
            for i, (match, kind) in enumerate(self._faults):
                if match in target:
                    del self._faults[i]
                    return kind
        return None

    def requests_for(self, fragment: str) -> int:
        return sum(fragment in t for t in self.log)

    # -- content --------------------------------------------------------------------------------------------
    @property
    def table(self) -> KwbTable:
        if self._table is None:
            self._table = KwbTable(self.data_dir)
        return self._table

    def route(self, target: str) -> tuple[int, dict]:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path.startswith(ODATA_PREFIX + "/"):
            return self._odata(parts.path[len(ODATA_PREFIX) + 1:].strip("/").split("/"), query)
        if parts.path.startswith(PDOK_PREFIX + "/"):
            return self._pdok(parts.path[len(PDOK_PREFIX) + 1:].strip("/").split("/"), query)
        return 404, {"error": f"no resource at {parts.path}"}

    def _odata(self, segments: list[str], query: dict) -> tuple[int, dict]:
        if segments[0] != TABLE:
            return 404, _odata_error(f"Resource not found for the segment '{segments[0]}'.")
        if len(segments) != 2:
            return 404, _odata_error("Resource not found.")
        entity, t = segments[1], self.table
        meta = f"{self.odata_root}/{TABLE}/$metadata#Cbs.OData.WebAPI.{entity}"
        if entity == "TableInfos":
            return 200, {"odata.metadata": meta, "value": t.infos}
        if entity == "DataProperties":
            return 200, {"odata.metadata": meta, "value": t.properties}
        if entity == "WijkenEnBuurten":
            return self._paged(meta, entity, t.regions, query, lambda r: r)
        if entity == "TypedDataSet":
            select = [c.strip() for c in query.get("$select", "").split(",") if c.strip()] or t.columns
            unknown = [c for c in select if c not in t.columns]
            if unknown:
                return 400, _odata_error(f"Could not find a property named '{unknown[0]}'.")
            return self._paged(meta, entity, range(len(t.regions)), query, lambda i: t.typed_row(i, select))
        return 404, _odata_error(f"Resource not found for the segment '{entity}'.")

    def _paged(self, meta: str, entity: str, items, query: dict, make) -> tuple[int, dict]:
        skip = int(query.get("$skip", 0) or 0)
        top = int(query.get("$top", 0) or 0) or None
        end = len(items) if top is None else min(len(items), skip + top)
        stop = min(end, skip + self.page_size)
        body = {"odata.metadata": meta, "value": [make(items[i]) for i in range(skip, stop)]}
        if stop < end:
            rest = {k: v for k, v in query.items() if k != "$skip"}
            body["odata.nextLink"] = (f"{self.odata_root}/{TABLE}/{entity}?"
                                      + urlencode({**rest, "$skip": stop}, safe="$,"))
        return 200, body

    def _pdok(self, segments: list[str], query: dict) -> tuple[int, dict]:
        if len(segments) != 3 or segments[0] != "collections" or segments[2] != "items":
            return 404, {"code": "NotFound", "description": "no such resource"}
        collection = segments[1]
        if collection not in ("gemeente_gegeneraliseerd", "wijk_gegeneraliseerd", "buurt_gegeneraliseerd",
                              "provincie_gegeneraliseerd"):
            return 404, {"code": "NotFound", "description": f"collection {collection} does not exist"}
        if self._gemeenten is None:
            doc = json.loads((self.data_dir / "geo" / "gemeenten_2022_pdok_gegeneraliseerd_wgs84.geojson")
                             .read_text(encoding="utf-8"))
            self._gemeenten = [{**f, "properties": {**f["properties"],
                                                    "jaarcode": int(f["properties"]["jrstatcode"][:4])}}
                               for f in doc["features"]]
        year = query.get("jaarcode")
        features = [f for f in self._gemeenten if collection == "gemeente_gegeneraliseerd"
                    and (year is None or str(f["properties"]["jaarcode"]) == year)]
        limit = min(int(query.get("limit", 10) or 10), self.pdok_page_size)
        offset = int(query.get("offset", 0) or 0)
        page = features[offset:offset + limit]
        url = f"{self.pdok_root}/collections/{collection}/items"
        links = [{"rel": "self", "type": "application/geo+json", "href": f"{url}?{urlencode(query)}"}]
        if offset + limit < len(features):
            links.append({"rel": "next", "type": "application/geo+json",
                          "href": f"{url}?{urlencode({**query, 'offset': offset + limit})}"})
        return 200, {"type": "FeatureCollection", "timeStamp": "2024-01-01T00:00:00Z", "links": links,
                     "numberReturned": len(page), "features": page}


def _odata_error(message: str) -> dict:
    return {"odata.error": {"code": "", "message": {"lang": "en-US", "value": message}}}


class _Handler(BaseHTTPRequestHandler):
    owner: LoopbackServer
    protocol_version = "HTTP/1.0"

    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        fault = self.owner.take_fault(self.path)
        if fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            return
        if fault in ("429", "500", "503"):
            self._send(int(fault), json.dumps(_odata_error("Service temporarily unavailable")).encode())
            return
        status, doc = self.owner.route(self.path)
        body = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        if fault == "truncate":
            self._send(status, body, cut=len(body) // 2)
        elif fault == "badjson":
            self._send(status, body[: len(body) // 2])
        else:
            self._send(status, body)

    def _send(self, status: int, body: bytes, cut: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json;odata=minimalmetadata;charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body if cut is None else body[:cut])
        self.wfile.flush()

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:  # the connection was reset on purpose
            pass
