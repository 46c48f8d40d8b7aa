"""Boundaries from PDOK: CBS 'gebiedsindelingen', generalised gemeente, wijk, buurt and provincie areas.

Read through PDOK's OGC API Features (``https://api.pdok.nl/cbs/gebiedsindelingen/ogc/v1``): collection
``<level>_gegeneraliseerd``, filtered on ``jaarcode`` (the boundary year), paged with ``limit`` and the
``next`` links of each response. Features come in WGS84 (CRS84, the GeoJSON default) with the properties
``statcode`` (GM0599, WK059901, BU05990101, PV28), ``statnaam`` and ``jaarcode``, and are written as one
standard GeoJSON file per level and year. Requests share the retries and cache of
``leefbaar.sources.odata.HttpClient``. Publisher: CBS and Kadaster via PDOK, licence CC BY 4.0.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from leefbaar.sources.odata import (
    DownloadError,
    HttpClient,
    Progress,
    Written,
    full_url,
    same_host,
    write_atomic,
)

DEFAULT_PDOK_URL = "https://api.pdok.nl/cbs/gebiedsindelingen/ogc/v1"
ENV_PDOK_URL = "LEEFBAAR_PDOK_URL"
# level -> (collection, code prefix)
COLLECTIONS = {
    "gemeente": ("gemeente_gegeneraliseerd", "GM"),
    "wijk": ("wijk_gegeneraliseerd", "WK"),
    "buurt": ("buurt_gegeneraliseerd", "BU"),
    "provincie": ("provincie_gegeneraliseerd", "PV"),
}
PAGE_LIMIT = 1000


def boundary_path(out: Path, level: str, year: int) -> Path:
    """Where the boundaries of ``level`` in ``year`` go inside the data folder ``out``."""
    return out / "geo" / f"pdok_{level}_{year}_gegeneraliseerd_wgs84.geojson"


def download_boundaries(http: HttpClient, level: str, year: int, out: Path, root: str | None = None,
                        progress: Progress | None = None, limit: int = PAGE_LIMIT) -> Written:
    """Download the generalised boundaries of ``level`` (gemeente, wijk, buurt, provincie) for ``year``.

    Every feature must carry a ``statcode`` of the level's kind and a polygon; features of another
    ``jaarcode`` (a server that ignores the filter) are left out; a repeated code or an empty result is an
    error.
    Cached under the namespace ``pdok`` (use ``HttpClient(refresh=True)`` to fetch again).
    """
    if level not in COLLECTIONS:
        raise DownloadError(f"unknown boundary level {level!r}; use one of {', '.join(COLLECTIONS)}")
    collection, prefix = COLLECTIONS[level]
    root = (root or os.environ.get(ENV_PDOK_URL) or DEFAULT_PDOK_URL).rstrip("/")
    what = f"PDOK {collection} {year}"
    url = f"{root}/collections/{collection}/items"
    query: dict | None = {"f": "json", "jaarcode": year, "limit": limit}
    progress = progress or (lambda *_: None)
    features: dict[str, dict] = {}
    seen_urls: set[str] = set()
    while url:
        target = full_url(url, query)
        if target in seen_urls:
            raise DownloadError(f"{what}: paging link {target} repeats; the server loops")
        seen_urls.add(target)
        page = http.get_json(url, query, what=what, namespace="pdok")
        batch = page.get("features") if isinstance(page, dict) else None
        if not isinstance(batch, list):
            raise DownloadError(f"{what}: GET {target} returned no GeoJSON 'features' list")
        for feature in batch:
            _add(features, feature, year, prefix, what)
        matched = page.get("numberMatched")
        progress(f"{what}", len(features), matched if isinstance(matched, int) else len(features))
        nxt = next((link.get("href") for link in page.get("links", [])
                    if isinstance(link, dict) and link.get("rel") == "next" and link.get("href")), None)
        url, query = (same_host(target, nxt, what), None) if nxt and batch else (None, None)
    if not features:
        raise DownloadError(f"{what}: no features for jaarcode {year} at {root}/collections/{collection}; "
                            "PDOK may not publish this year")
    path = boundary_path(out, level, year)
    collection_doc = {"type": "FeatureCollection", "name": f"{collection}_{year}",
                      "features": list(features.values())}
    body = json.dumps(collection_doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    write_atomic({path: body})
    return Written(path, len(features), len(next(iter(features.values()))["properties"]) + 1)


def _add(features: dict[str, dict], feature, year: int, prefix: str, what: str) -> None:
    props = feature.get("properties") if isinstance(feature, dict) else None
    if not isinstance(props, dict):
        raise DownloadError(f"{what}: a feature has no properties")
    code = str(props.get("statcode") or "").strip()
    jaar = props.get("jaarcode")
    if jaar is not None and str(jaar).strip() != str(year):
        return
    if not code.startswith(prefix):
        raise DownloadError(f"{what}: feature with statcode {code!r} is not a {prefix} area")
    geom = feature.get("geometry")
    if not isinstance(geom, dict) or geom.get("type") not in ("Polygon", "MultiPolygon"):
        raise DownloadError(f"{what}: feature {code} has no polygon geometry")
    if code in features:
        raise DownloadError(f"{what}: statcode {code} appears twice; inconsistent paging")
    out = {"type": "Feature", "properties": {**props, "statcode": code}, "geometry": geom}
    if isinstance(feature.get("id"), str | int):
        out["id"] = feature["id"]
    features[code] = out
