"""Map transport: boundaries as quantised, delta-encoded TopoJSON, cached in memory and gzip-compressed.

The boundaries in the store are already generalised (PC4: about 6 % of the CBS vertices, 3 m grid; buurt:
Douglas-Peucker 10 m). For the web they are reprojected to WGS84, snapped to a 100,000 x 100,000 grid over
the bounding box of the level (about 2.3 m east-west and 3.5 m north-south for the Netherlands), cleaned of
repeated points and collapsed rings, and delta-encoded as TopoJSON arcs. Shared edges between neighbours
become one arc (a coverage is stored once, not twice). The browser decodes it with topojson-client. The
naive alternative - full-precision GeoJSON - is ``naive_geojson`` (kept for the benchmark).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from leefbaar.store.store import Store

QUANTISATION = 100_000


@dataclass(frozen=True)
class Encoded:
    """One encoded layer: the JSON bytes, their gzip, and an ETag."""

    raw: bytes
    gz: bytes
    etag: str
    features: int
    vertices: int


def _rings(geom) -> list[list[np.ndarray]]:
    """Polygons of a (multi)polygon as lists of coordinate arrays (exterior first)."""
    out = []
    for poly in shapely.get_parts(geom):
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        out.append(
            [shapely.get_coordinates(poly.exterior), *[shapely.get_coordinates(r) for r in poly.interiors]]
        )
    return out


def _split_shared(rings: list[np.ndarray]) -> tuple[list[list[tuple[int, bool]]], list[np.ndarray]]:
    """Cut closed quantised rings into arcs at junctions and store each shared arc once.

    A junction is a point whose neighbours differ between the rings that pass through it (the end of a
    shared boundary). Returns, per ring, the (arc index, reversed) list, and the arcs (absolute integer
    coordinates).
    """
    open_rings = [r[:-1] for r in rings]
    lengths = np.array([len(r) for r in open_rings])
    pts = np.vstack(open_rings)
    key = pts[:, 0] * (1 << 20) + pts[:, 1]
    ends = np.cumsum(lengths)
    starts = ends - lengths
    idx = np.arange(len(key))
    ring_of = np.repeat(np.arange(len(lengths)), lengths)
    prev = np.where(idx == starts[ring_of], ends[ring_of] - 1, idx - 1)
    nxt = np.where(idx == ends[ring_of] - 1, starts[ring_of], idx + 1)
    a, b = key[prev], key[nxt]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = pd.DataFrame({"key": key, "lo": lo, "hi": hi}).drop_duplicates()
    count = pairs.groupby("key").size()
    is_junction = np.isin(key, count.index[count > 1].to_numpy())
    arcs: list[np.ndarray] = []
    index: dict[tuple, int] = {}
    refs: list[list[tuple[int, bool]]] = []
    for s, e in zip(starts, ends, strict=True):
        ring_keys = key[s:e].tolist()
        cuts = np.flatnonzero(is_junction[s:e]).tolist()
        if not cuts:  # an island or an unshared ring: start at its smallest point so duplicates coincide
            cuts = [int(np.argmin(key[s:e]))]
        n = len(ring_keys)
        ring_refs = []
        for j, c in enumerate(cuts):
            stop = cuts[(j + 1) % len(cuts)]
            pos = list(range(c, stop + 1)) if stop > c else list(range(c, n)) + list(range(stop + 1))
            seq = tuple(ring_keys[i] for i in pos)
            if seq in index:
                ring_refs.append((index[seq], False))
            elif seq[::-1] in index:
                ring_refs.append((index[seq[::-1]], True))
            else:
                index[seq] = len(arcs)
                arcs.append(pts[s + np.asarray(pos)])
                ring_refs.append((index[seq], False))
        refs.append(ring_refs)
    return refs, arcs


def encode_topojson(
    codes: list[str], geoms: np.ndarray, names: list[str | None] | None = None, q: int = QUANTISATION
) -> Encoded:
    """Encode WGS84 (multi)polygons as one TopoJSON GeometryCollection ``areas`` with property ``code``."""
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    kx, ky = (x1 - x0) / (q - 1), (y1 - y0) / (q - 1)
    structure, rings = [], []
    for geom in geoms:
        polys = []
        for poly in _rings(geom):
            idx = []
            for c in poly:
                qi = np.column_stack([np.round((c[:, 0] - x0) / kx), np.round((c[:, 1] - y0) / ky)]).astype(
                    np.int64
                )
                keep = np.ones(len(qi), bool)
                keep[1:] = np.any(qi[1:] != qi[:-1], axis=1)
                qi = qi[keep]
                if len(qi) < 4 or not np.array_equal(qi[0], qi[-1]):
                    continue
                idx.append(len(rings))
                rings.append(qi)
            if idx:
                polys.append(idx)
        structure.append(polys)
    refs, arcs = _split_shared(rings)
    geometries = []
    for i, polys in enumerate(structure):
        arcs_of = [[[a if not rev else ~a for a, rev in refs[r]] for r in poly] for poly in polys]
        props = {"code": codes[i]}
        if names is not None and names[i]:
            props["name"] = names[i]
        geometries.append(
            {"type": "MultiPolygon", "arcs": arcs_of, "properties": props}
            if arcs_of
            else {"type": None, "properties": props}
        )
    encoded_arcs = [np.vstack([a[:1], np.diff(a, axis=0)]).tolist() for a in arcs]
    topo = {
        "type": "Topology",
        "bbox": [x0, y0, x1, y1],
        "transform": {"scale": [kx, ky], "translate": [x0, y0]},
        "objects": {"areas": {"type": "GeometryCollection", "geometries": geometries}},
        "arcs": encoded_arcs,
    }
    raw = json.dumps(topo, separators=(",", ":")).encode()
    return Encoded(
        raw,
        gzip.compress(raw, 6),
        hashlib.sha256(raw).hexdigest()[:20],
        len(codes),
        int(sum(len(a) for a in arcs)),
    )


_ENCODED: dict[tuple, Encoded] = {}
_ENCODED_LOCK = threading.Lock()


def level_topojson(store: Store, level: str, vintage: int | None = None) -> Encoded:
    """The boundaries of ``level`` (latest vintage) as encoded TopoJSON; kept per store file and version."""
    path = Path(store.path).resolve()
    key = (str(path), path.stat().st_mtime_ns, level, vintage)
    with _ENCODED_LOCK:
        if key not in _ENCODED:
            gdf = store.geometries(level, vintage, crs=4326)
            _ENCODED[key] = encode_topojson(gdf["code"].astype(str).tolist(), gdf.geometry.to_numpy())
        return _ENCODED[key]


def naive_geojson(store: Store, level: str, vintage: int | None = None) -> bytes:
    """Full-precision GeoJSON of the same boundaries (the benchmark's naive baseline)."""
    gdf = store.geometries(level, vintage, crs=4326)
    return gdf[["code", "geometry"]].to_json().encode()
