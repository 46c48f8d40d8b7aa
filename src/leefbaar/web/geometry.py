"""Map transport: boundaries as quantised, delta-encoded TopoJSON, cached in memory and gzip-compressed.

The boundaries in the store are already generalised (PC4: about 6 % of the CBS vertices, 3 m grid; buurt:
Douglas-Peucker 10 m). For the web they are reprojected to WGS84, snapped to a 100,000 x 100,000 grid over
the bounding box of the level (about 2.3 m east-west and 3.5 m north-south for the Netherlands), cleaned of
repeated points and collapsed rings, and delta-encoded as TopoJSON arcs. Shared edges between neighbours
become one arc (a coverage is stored once, not twice). The browser decodes it with topojson-client. The
naive alternative - full-precision GeoJSON - is ``naive_geojson`` (kept for the benchmark).

The map draws the same boundaries as Mapbox Vector Tiles (``VectorTiles``: layer ``areas``, property ``code``,
extent 4096, zoom 4-11, overzoomed beyond): the browser loads only the tiles in view, each generalised to its
zoom, instead of tessellating every polygon of the country before the first paint.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import threading
from collections import OrderedDict
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


def _per_level(kept: dict, lock: threading.Lock, make, store: Store, level: str, vintage: int | None):
    """``make(codes, geometries)`` of the boundaries of ``level`` (WGS84), made once per store file and version
    and kept in ``kept``."""
    path = Path(store.path).resolve()
    key = (str(path), path.stat().st_mtime_ns, level, vintage)
    with lock:
        if key not in kept:
            gdf = store.geometries(level, vintage, crs=4326)
            kept[key] = make(gdf["code"].astype(str).tolist(), gdf.geometry.to_numpy())
        return kept[key]


def level_topojson(store: Store, level: str, vintage: int | None = None) -> Encoded:
    """The boundaries of ``level`` (latest vintage) as encoded TopoJSON; kept per store file and version."""
    return _per_level(_ENCODED, _ENCODED_LOCK, encode_topojson, store, level, vintage)


def naive_geojson(store: Store, level: str, vintage: int | None = None) -> bytes:
    """Full-precision GeoJSON of the same boundaries (the benchmark's naive baseline)."""
    gdf = store.geometries(level, vintage, crs=4326)
    return gdf[["code", "geometry"]].to_json().encode()


# -- vector tiles ------------------------------------------------------------------------------------------
TILE_EXTENT = 4096  # tile units per tile side (MVT default; 8 units per pixel of a 512-px tile)
TILE_BUFFER = 64  # units of geometry kept beyond each tile edge, so clipped edges are never drawn
TILE_MIN_ZOOM, TILE_MAX_ZOOM = 4, 11  # at z11 one unit is about 3 m in the Netherlands (the TopoJSON grid)
SIMPLIFY = 2.0  # Douglas-Peucker tolerance in tile units below the deepest zoom
PREBUILT_MAX_ZOOM = 8  # tiles up to this zoom are made when the layer is built (the national views)
PREPARED_MAX_TILES = 64  # ``VectorTiles.prepare``: deeper zooms are made ahead while they span at most this many
LAYER = "areas"


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = [bytes((i,)) for i in range(0x80)]


def _field(tag: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(tag << 3 | 2) + _varint(len(payload)) + payload


def _varints(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Protobuf varints of non-negative integers: (all bytes, byte offset of each value and of the end)."""
    v = values.astype(np.uint64)
    n = np.ones(len(v), np.int64)
    for k in (7, 14, 21, 28, 35):
        n += v >= np.uint64(1 << k)
    offsets = np.zeros(len(v) + 1, np.int64)
    np.cumsum(n, out=offsets[1:])
    out = np.empty(offsets[-1], np.uint8)
    for j in range(int(n.max()) if len(n) else 0):
        has = n > j
        byte = (v[has] >> np.uint64(7 * j)) & np.uint64(0x7F)
        byte |= np.where(n[has] > j + 1, np.uint64(0x80), np.uint64(0))
        out[offsets[:-1][has] + j] = byte.astype(np.uint8)
    return out, offsets


def _polygon_parts(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polygons of (multi)polygons and geometry collections, with the index of the geometry each came from."""
    parts, index = shapely.get_parts(geoms, return_index=True)
    while True:
        types = shapely.get_type_id(parts)
        multi = np.isin(types, (6, 7))  # MultiPolygon, GeometryCollection
        if not multi.any():
            break
        sub, sub_idx = shapely.get_parts(parts[multi], return_index=True)
        parts = np.concatenate([parts[~multi], sub])
        index = np.concatenate([index[~multi], index[multi][sub_idx]])
        order = np.argsort(index, kind="stable")
        parts, index = parts[order], index[order]
    keep = shapely.get_type_id(parts) == 3
    return parts[keep], index[keep]


def encode_tile(codes: np.ndarray, geoms: np.ndarray, z: int, x: int, y: int, simplify: bool = True) -> bytes:
    """One Mapbox Vector Tile (spec 2.1) of polygons in normalised Web Mercator ([0, 1], y down): layer
    ``areas``, one feature per area clipped to the tile (with ``TILE_BUFFER``), property ``code``. Coordinates
    are snapped to the tile grid; with ``simplify`` rings are first simplified by ``SIMPLIFY`` tile units (a
    quarter of a pixel); rings that collapse are left out (as geojson-vt does). Empty bytes when nothing is
    left."""
    n, b = 1 << z, TILE_BUFFER / TILE_EXTENT
    if not len(geoms):
        return b""
    clipped = shapely.clip_by_rect(geoms, (x - b) / n, (y - b) / n, (x + 1 + b) / n, (y + 1 + b) / n)
    if simplify:
        clipped = shapely.simplify(clipped, SIMPLIFY / (TILE_EXTENT * n), preserve_topology=False)
    parts, part_area = _polygon_parts(clipped)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    if not len(rings):
        return b""
    coords, point_ring = shapely.get_coordinates(rings, return_index=True)
    q = np.rint((coords * n - (x, y)) * TILE_EXTENT).astype(np.int64)
    # drop each ring's closing point and repeated points
    nr = len(rings)
    keep = np.ones(len(q), bool)
    keep[1:] = (point_ring[1:] != point_ring[:-1]) | np.any(q[1:] != q[:-1], axis=1)
    last = np.r_[point_ring[1:] != point_ring[:-1], True]
    keep &= ~last
    q, point_ring = q[keep], point_ring[keep]
    count = np.bincount(point_ring, minlength=nr)
    start = np.zeros(nr + 1, np.int64)
    np.cumsum(count, out=start[1:])
    # signed area (twice; positive = clockwise on screen, the MVT exterior orientation)
    nxt = np.arange(len(q)) + 1
    nxt[start[1:][count > 0] - 1] = start[:-1][count > 0]
    cross = q[:, 0] * q[nxt, 1] - q[nxt, 0] * q[:, 1] if len(q) else np.zeros(0, np.int64)
    area2 = np.bincount(point_ring, weights=cross, minlength=nr)
    exterior = np.r_[True, ring_part[1:] != ring_part[:-1]]
    valid = (count >= 3) & (area2 != 0)
    part_ok = valid[exterior]  # a polygon whose exterior collapsed goes with its holes
    ring_ok = valid & part_ok[np.cumsum(exterior) - 1]
    flip = ring_ok & ((area2 > 0) != exterior)
    pos = np.arange(len(q)) - start[point_ring]
    src = np.where(flip[point_ring], start[point_ring] + count[point_ring] - 1 - pos, np.arange(len(q)))
    q = q[src]
    take = ring_ok[point_ring]
    q, point_ring = q[take], point_ring[take]
    if not len(q):
        return b""
    rings_kept = np.flatnonzero(ring_ok)
    m = count[rings_kept]
    feature_of_ring = part_area[ring_part[rings_kept]]
    # deltas: the cursor runs through all rings of a feature and starts at (0, 0) for each feature
    first_of_feature = np.r_[True, feature_of_ring[1:] != feature_of_ring[:-1]]
    point_feature_first = np.zeros(len(q), bool)
    ring_start_pt = np.zeros(len(m) + 1, np.int64)
    np.cumsum(m, out=ring_start_pt[1:])
    point_feature_first[ring_start_pt[:-1][first_of_feature]] = True
    prev = np.vstack([np.zeros((1, 2), np.int64), q[:-1]])
    prev[point_feature_first] = 0
    d = q - prev
    zz = (d << 1) ^ (d >> 63)
    # command stream: MoveTo(1) x y, LineTo(m - 1) (x y)*, ClosePath per ring
    length = 2 * m + 3
    ring_off = np.zeros(len(m) + 1, np.int64)
    np.cumsum(length, out=ring_off[1:])
    stream = np.empty(ring_off[-1], np.int64)
    stream[ring_off[:-1]] = 9
    stream[ring_off[:-1] + 3] = 2 | (m - 1) << 3
    stream[ring_off[1:] - 1] = 15
    k = np.arange(len(q)) - np.repeat(ring_start_pt[:-1], m)
    px = np.repeat(ring_off[:-1], m) + 2 * k + 1 + (k > 0)
    stream[px], stream[px + 1] = zz[:, 0], zz[:, 1]
    data, offsets = _varints(stream)
    raw = data.tobytes()
    feat_bounds = np.flatnonzero(np.r_[first_of_feature, True])
    features, values = [], []
    for i, (a, e) in enumerate(zip(feat_bounds[:-1], feat_bounds[1:], strict=True)):
        geom = raw[offsets[ring_off[a]]:offsets[ring_off[e]]]
        features.append(_field(2, _field(2, b"\x00" + _varint(i)) + b"\x18\x03" + _field(4, geom)))
        values.append(_field(4, _field(1, str(codes[feature_of_ring[a]]).encode())))
    layer = (b"\x78\x02" + _field(1, LAYER.encode()) + b"".join(features) + _field(3, b"code") + b"".join(values)
             + b"\x28" + _varint(TILE_EXTENT))
    return _field(3, layer)


def to_mercator(geoms: np.ndarray) -> np.ndarray:
    """WGS84 geometries in normalised Web Mercator: x, y in [0, 1], y down (the tile pyramid's plane)."""

    def project(c: np.ndarray) -> np.ndarray:
        lat = np.radians(np.clip(c[:, 1], -85.05112878, 85.05112878))
        y = (1.0 - np.log(np.tan(lat) + 1.0 / np.cos(lat)) / math.pi) / 2
        return np.column_stack([(c[:, 0] + 180.0) / 360.0, y])

    return shapely.transform(geoms, project)


class VectorTiles:
    """The boundaries of one level as vector tiles, made from the store once and kept in memory.

    Tiles up to ``PREBUILT_MAX_ZOOM`` are made at construction; deeper tiles on first request and kept in a
    cache bounded in bytes (least recently used first out), or all at once by ``prepare`` for a regional layer.
    Each tile is kept raw and gzip-compressed.
    """

    def __init__(self, codes: list[str], geoms_wgs84: np.ndarray, max_bytes: int = 96 * 2**20):
        self.codes = np.asarray(codes, dtype=object)
        self.bounds = [float(v) for v in shapely.total_bounds(geoms_wgs84)]
        self._geoms = to_mercator(geoms_wgs84)
        self._tree = shapely.STRtree(self._geoms)
        self._fixed: dict[tuple[int, int, int], tuple[bytes, bytes]] = {}
        self._lru: OrderedDict = OrderedDict()
        self._lru_bytes, self.max_bytes = 0, max_bytes
        self._lock = threading.Lock()
        x0, y0, x1, y1 = shapely.total_bounds(self._geoms)
        self._extent = (x0, y0, x1, y1)
        for z in range(TILE_MIN_ZOOM, PREBUILT_MAX_ZOOM + 1):
            for tx, ty in self.tile_range(z):
                self._fixed[(z, tx, ty)] = self._make(z, tx, ty)

    def tile_range(self, z: int) -> list[tuple[int, int]]:
        """The tiles of zoom ``z`` that the level's extent touches."""
        n = 1 << z
        x0, y0, x1, y1 = self._extent
        xs = range(max(0, int(x0 * n)), min(n - 1, int(x1 * n)) + 1)
        ys = range(max(0, int(y0 * n)), min(n - 1, int(y1 * n)) + 1)
        return [(tx, ty) for tx in xs for ty in ys]

    def _make(self, z: int, x: int, y: int) -> tuple[bytes, bytes]:
        n, b = 1 << z, TILE_BUFFER / TILE_EXTENT
        idx = np.sort(self._tree.query(shapely.box((x - b) / n, (y - b) / n, (x + 1 + b) / n, (y + 1 + b) / n)))
        raw = encode_tile(self.codes[idx], self._geoms[idx], z, x, y, simplify=z < TILE_MAX_ZOOM)
        return raw, gzip.compress(raw, 5) if raw else b""

    def prepare(self, max_tiles: int = PREPARED_MAX_TILES) -> int:
        """Make and keep (outside the byte-bounded cache) every tile of the deeper zooms whose extent spans at
        most ``max_tiles`` tiles: a regional layer (the CBS grid of Rijnmond: 23 tiles at zooms 9-11) is then
        answered from memory at every zoom. Returns the number of tiles made."""
        made = 0
        for z in range(PREBUILT_MAX_ZOOM + 1, TILE_MAX_ZOOM + 1):
            keys = [(z, tx, ty) for tx, ty in self.tile_range(z)]
            if len(keys) > max_tiles:
                break
            for key in keys:
                if key not in self._fixed:
                    self._fixed[key] = self._make(*key)
                    made += 1
        return made

    def tile(self, z: int, x: int, y: int) -> tuple[bytes, bytes]:
        """(raw, gzip) of one tile; empty bytes for a tile outside the level or outside the zoom range."""
        if not (TILE_MIN_ZOOM <= z <= TILE_MAX_ZOOM) or not (0 <= x < 1 << z and 0 <= y < 1 << z):
            return b"", b""
        key = (z, x, y)
        if key in self._fixed:
            return self._fixed[key]
        if z <= PREBUILT_MAX_ZOOM:  # outside the extent
            return b"", b""
        with self._lock:
            if key in self._lru:
                self._lru.move_to_end(key)
                return self._lru[key]
        made = self._make(z, x, y)
        with self._lock:
            if key not in self._lru:
                self._lru[key] = made
                self._lru_bytes += len(made[0]) + len(made[1])
                while self._lru_bytes > self.max_bytes:
                    _, (r, g) = self._lru.popitem(last=False)
                    self._lru_bytes -= len(r) + len(g)
        return made

    def cached(self, z: int, x: int, y: int) -> tuple[bytes, bytes] | None:
        """The tile when it is answered from memory without work (prebuilt, cached, or empty), else None."""
        if not (TILE_MIN_ZOOM <= z <= TILE_MAX_ZOOM) or z <= PREBUILT_MAX_ZOOM or (z, x, y) in self._fixed:
            return self.tile(z, x, y)
        with self._lock:
            return self._lru.get((z, x, y))


_TILES: dict[tuple, VectorTiles] = {}
_TILES_LOCK = threading.Lock()


def level_tiles(store: Store, level: str, vintage: int | None = None) -> VectorTiles:
    """The vector tiles of ``level`` (latest vintage); made once per store file and version."""
    return _per_level(_TILES, _TILES_LOCK, VectorTiles, store, level, vintage)


# -- grid levels as an image -------------------------------------------------------------------------------
RASTER_PIXELS_PER_CELL = 2  # image pixels per cell side: every cell keeps its own colour up to zoom 11


class GridRaster:
    """The cells of a grid level (CBS vierkantstatistieken: squares of ``cell_m`` on RD New's grid lines) as one
    Web Mercator image, the map's first view of the cells: a single texture instead of thousands of polygons
    each under a pixel (Rijnmond's 16,383 cells of 100 m at the fitted view, about 94 m per pixel).

    ``bounds`` ([[west, south], [east, north]], WGS84: the level's bounds in ``/api/meta``) are the image's
    corners. Its pixels are square in Web Mercator, ``cell_m / RASTER_PIXELS_PER_CELL`` wide on the ground at the
    middle latitude; each shows the cell under its centre (exact: the centre is projected to RD New, not the
    image warped). ``cell`` (height x width) holds that cell's position in ``codes``, -1 where there is none.
    """

    def __init__(self, codes: list[str], geoms_rd: np.ndarray, cell_m: float, bounds: list[list[float]]):
        from pyproj import Transformer

        self.codes = np.asarray(codes, dtype=object)
        (w, s), (e, n) = bounds
        (mx0, my0), (mx1, my1) = shapely.get_coordinates(to_mercator(shapely.points([[w, n], [e, s]])))
        ground = 2 * math.pi * 6_378_137 * math.cos(math.radians((s + n) / 2))  # metres per unit of x
        px = cell_m / RASTER_PIXELS_PER_CELL / ground
        self.width, self.height = max(1, math.ceil((mx1 - mx0) / px)), max(1, math.ceil((my1 - my0) / px))
        # the cells on their grid: lower-left corner in cell units from the grid's lower-left
        box = shapely.bounds(geoms_rd)
        col0, row0 = np.floor(box[:, 0].min() / cell_m), np.floor(box[:, 1].min() / cell_m)
        ci, ri = box[:, 0] / cell_m - col0, box[:, 1] / cell_m - row0
        square = np.isclose(box[:, 2] - box[:, 0], cell_m) & np.isclose(box[:, 3] - box[:, 1], cell_m)
        if not (square.all() and np.allclose(ci, np.round(ci)) and np.allclose(ri, np.round(ri))):
            raise ValueError(f"the cells are not squares of {cell_m} m on one grid")
        ci, ri = np.round(ci).astype(np.int64), np.round(ri).astype(np.int64)
        lookup = np.full((ri.max() + 1, ci.max() + 1), -1, dtype=np.int32)
        lookup[ri, ci] = np.arange(len(ci), dtype=np.int32)
        # each pixel's centre, back to WGS84 and to RD New, then to its cell
        xs = mx0 + (np.arange(self.width) + 0.5) * (mx1 - mx0) / self.width
        ys = my0 + (np.arange(self.height) + 0.5) * (my1 - my0) / self.height
        shape = (self.height, self.width)
        lon = np.broadcast_to(xs * 360.0 - 180.0, shape)
        lat = np.broadcast_to(np.degrees(np.arctan(np.sinh(math.pi * (1 - 2 * ys))))[:, None], shape)
        x, y = Transformer.from_crs(4326, 28992, always_xy=True).transform(lon.ravel(), lat.ravel())
        c, r = np.floor(x / cell_m - col0).astype(np.int64), np.floor(y / cell_m - row0).astype(np.int64)
        inside = (c >= 0) & (c < lookup.shape[1]) & (r >= 0) & (r < lookup.shape[0])
        cell = np.full(c.shape, -1, dtype=np.int32)
        cell[inside] = lookup[r[inside], c[inside]]
        self.cell = cell.reshape(shape)

    def png(self, codes, bins, colors: list[str], no_data_color: str) -> bytes:
        """The image with each cell in the colour of its class: ``bins[i]`` is the class (index into ``colors``,
        #rrggbb) of ``codes[i]``, -1 for no data (``no_data_color``); a cell not in ``codes`` is no data too, a
        pixel without a cell transparent. A palette PNG."""
        from PIL import Image

        pos = pd.Index(np.asarray(codes, dtype=object)).get_indexer(self.codes)
        klass = np.where(pos >= 0, np.asarray(bins, dtype=np.int64)[pos], -1)  # per cell of the raster
        index = np.where(self.cell >= 0, klass[self.cell] + 2, 0).astype(np.uint8)  # 0 none, 1 no data, 2+ class
        img = Image.fromarray(index, mode="P")
        palette = [0, 0, 0] + [int(c[i:i + 2], 16) for c in [no_data_color, *colors] for i in (1, 3, 5)]
        img.putpalette(palette)
        out = io.BytesIO()
        img.save(out, format="PNG", transparency=0, optimize=False)
        return out.getvalue()


def level_raster(store: Store, level: str, cell_m: float, bounds: list[list[float]],
                 vintage: int | None = None) -> GridRaster:
    """The image layout of grid level ``level`` (latest vintage) over ``bounds``."""
    gdf = store.geometries(level, vintage, crs=28992)
    return GridRaster(gdf["code"].astype(str).tolist(), gdf.geometry.to_numpy(), cell_m, bounds)
