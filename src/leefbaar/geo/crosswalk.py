"""Crosswalks between boundary vintages and levels, computed by area-weighted overlay.

A crosswalk row says: the share ``weight`` of the area of ``from_code`` (at ``from_level``/``from_vintage``)
lies in ``to_code``. Weights of one source area sum to 1 over its targets, up to slivers below ``MIN_SHARE``
caused by generalised boundaries, which are dropped before renormalising. ``apply_crosswalk`` moves values
across vintages: extensive variables (counts) are split by weight, intensive ones (rates, scores) averaged with
weights.

Intersection areas are cached by the hash of both boundary sets (codes and exact WKB) and the simplification
tolerance, under ``$LEEFBAAR_CACHE/overlays`` (see ``leefbaar.sources.odata.default_cache_dir``): a rebuild with
unchanged boundaries reuses them instead of overlaying again. A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import hashlib
import io
import threading
from concurrent.futures import Future

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely

from leefbaar.sources.odata import default_cache_dir, write_atomic

OVERLAY_CACHE_VERSION = "2"  # raise when intersection_areas changes what it computes
MIN_SHARE = 0.01
SIMPLIFY_M = 5.0
GEMEENTE_VINTAGES = (2014, 2017, 2022, 2024)


class Boundaries:
    """One boundary set (``code`` and RD polygons) ready for overlays: its hash and its simplified polygons are
    computed once, however many overlays use it, and safely from several threads.

    Several polygons may share a code (the parts of one area). The simplified polygons are shared read-only;
    each overlay prepares its own copy (a prepared GEOS geometry may not be used by two threads at once).
    """

    def __init__(self, frame: gpd.GeoDataFrame, tolerance: float = SIMPLIFY_M):
        self.codes = frame["code"].to_numpy()
        self.geometry = frame.geometry.to_numpy()
        self.tolerance = tolerance
        self._lock = threading.Lock()
        self._digest: bytes | None = None
        self._simplified: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def digest(self) -> bytes:
        """SHA-256 of the codes and the exact WKB of the polygons."""
        with self._lock:
            if self._digest is None:
                h = hashlib.sha256(str(len(self.codes)).encode())
                for code, wkb in zip(self.codes.astype(str), shapely.to_wkb(self.geometry, byte_order=1),
                                     strict=True):
                    h.update(code.encode() + b"\0" + len(wkb).to_bytes(8, "little") + wkb)
                self._digest = h.digest()
            return self._digest

    def simplified(self) -> np.ndarray:
        """The polygons simplified to ``tolerance`` metres, as a private copy the caller may prepare."""
        with self._lock:
            if self._simplified is None:
                self._simplified = shapely.simplify(self.geometry, self.tolerance)
            shared = self._simplified
        return shapely.from_wkb(shapely.to_wkb(shared))  # exact: WKB holds the doubles as they are


def _boundaries(frame: gpd.GeoDataFrame | Boundaries, tolerance: float) -> Boundaries:
    if isinstance(frame, Boundaries):
        if frame.tolerance == tolerance:
            return frame
        frame = gpd.GeoDataFrame({"code": frame.codes}, geometry=frame.geometry, crs=28992)
    return Boundaries(frame, tolerance)


def intersection_areas(source: gpd.GeoDataFrame | Boundaries, target: gpd.GeoDataFrame | Boundaries,
                       tolerance: float = SIMPLIFY_M) -> pd.DataFrame:
    """Intersection area (m2) of every overlapping (source code, target code) pair.

    Boundaries are first simplified to ``tolerance`` metres (the shares change by far less than the sliver
    threshold). Candidate pairs come from an STR-tree; a source polygon that lies wholly within one target
    gets its own area without an intersection, so only boundary-crossing polygons are intersected (and of
    those, a target polygon wholly within the source polygon gets its own area too).
    """
    source, target = _boundaries(source, tolerance), _boundaries(target, tolerance)
    src_geom, dst_geom = source.simplified(), target.simplified()
    shapely.prepare(dst_geom)
    i, j = shapely.STRtree(dst_geom).query(src_geom, predicate="intersects")
    inside = shapely.contains(dst_geom[j], src_geom[i])
    wholly = np.zeros(len(src_geom), dtype=bool)
    wholly[i[inside]] = True
    keep = inside | ~wholly[i]
    i, j, inside = i[keep], j[keep], inside[keep]
    area = shapely.area(src_geom[i])
    cross = np.flatnonzero(~inside)
    shapely.prepare(src_geom)
    within = shapely.contains(src_geom[i[cross]], dst_geom[j[cross]])
    area[cross[within]] = shapely.area(dst_geom[j[cross[within]]])
    cross = cross[~within]
    area[cross] = shapely.area(shapely.intersection(src_geom[i[cross]], dst_geom[j[cross]]))
    inter = pd.DataFrame({"from": source.codes[i], "to": target.codes[j], "a": area})
    return inter[inter["a"] > 0].groupby(["from", "to"], as_index=False)["a"].sum()


_running: dict[str, Future] = {}  # overlays being computed in this process, by cache key
_running_lock = threading.Lock()


def cached_intersection_areas(source: gpd.GeoDataFrame | Boundaries, target: gpd.GeoDataFrame | Boundaries,
                              tolerance: float = SIMPLIFY_M) -> pd.DataFrame:
    """``intersection_areas``, reused from the overlay cache when both boundary sets are unchanged.

    Two identical requests at once (the same boundary sets, for example two vintages with the same
    boundaries) compute the overlay once: the second waits for the first.
    """
    source, target = _boundaries(source, tolerance), _boundaries(target, tolerance)
    key = hashlib.sha256(f"{OVERLAY_CACHE_VERSION}|{tolerance!r}|".encode() + source.digest
                         + target.digest).hexdigest()
    with _running_lock:
        running = _running.get(key)
        if running is None:
            _running[key] = mine = Future()
    if running is not None:
        return running.result().copy()
    try:
        inter = _cached(key, source, target, tolerance)
    except BaseException as exc:
        mine.set_exception(exc)
        raise
    else:
        mine.set_result(inter)
    finally:
        with _running_lock:
            del _running[key]
    return inter.copy()


def _cached(key: str, source: Boundaries, target: Boundaries, tolerance: float) -> pd.DataFrame:
    path = default_cache_dir() / "overlays" / f"{key}.parquet"
    try:
        cached = pq.read_table(path).to_pandas()
        if list(cached.columns) == ["from", "to", "a"]:
            return cached
    except (OSError, pa.ArrowException):
        pass
    inter = intersection_areas(source, target, tolerance)
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(inter, preserve_index=False), buf)
    try:
        write_atomic({path: buf.getvalue()})
    except OSError:
        pass
    return inter


def _shares(inter: pd.DataFrame, by: str, min_share: float) -> pd.DataFrame:
    total = inter.groupby(by)["a"].transform("sum")
    kept = inter[inter["a"] / total >= min_share]
    return kept.assign(weight=kept["a"] / kept.groupby(by)["a"].transform("sum"))


def overlay_weights(source: gpd.GeoDataFrame | Boundaries, target: gpd.GeoDataFrame | Boundaries,
                    min_share: float = MIN_SHARE,
                    both: bool = False) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Area shares of each ``source`` area in each ``target`` area (both with a ``code`` column, RD, or
    ``Boundaries``).

    Several polygons may share a code (the parts of one area, e.g. the buurten of a gemeente for a vintage
    without gemeente boundaries); their intersection areas are added up. Returns ``from_code, to_code,
    weight`` where weight is the renormalised share of the source area; with ``both`` also the reverse
    crosswalk (target -> source), computed from the same intersection areas.
    """
    inter = cached_intersection_areas(source, target)

    def frame(by: str, other: str) -> pd.DataFrame:
        w = _shares(inter, by, min_share)
        return pd.DataFrame({"from_code": w[by].to_numpy(), "to_code": w[other].to_numpy(),
                             "weight": w["weight"].to_numpy()}).sort_values(
            ["from_code", "weight"], ascending=[True, False], ignore_index=True)

    forward = frame("from", "to")
    return (forward, frame("to", "from")) if both else forward


def gemeente_parts_from_buurten(buurten: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Gemeente areas of a vintage for which only buurt boundaries exist: each buurt polygon labelled with
    its gemeente (BU code digits 3-6), for use as the parts of that gemeente in ``overlay_weights``."""
    return buurten[["geometry"]].assign(code="GM" + buurten["code"].str[2:6].to_numpy())


def assign_largest(weights: pd.DataFrame) -> pd.DataFrame:
    """One target per source: the one holding the largest share of its area (``from_code, to_code, weight``)."""
    idx = weights.groupby("from_code")["weight"].idxmax()
    return weights.loc[idx].reset_index(drop=True)


def apply_crosswalk(values: pd.DataFrame, weights: pd.DataFrame, columns: list[str], extensive: bool) -> pd.DataFrame:
    """Move ``values`` (indexed by ``code``) to the target areas of ``weights``.

    Extensive columns are summed after splitting by weight; intensive columns are weighted means over the
    source areas that overlap each target, weighted by overlap share (missing values are left out).
    """
    merged = weights.merge(values[columns], left_on="from_code", right_index=True, how="inner")
    if extensive:
        out = merged[columns].mul(merged["weight"], axis=0).groupby(merged["to_code"]).sum(min_count=1)
    else:
        parts = {}
        for c in columns:
            ok = merged[c].notna()
            w = merged["weight"].where(ok, 0.0)
            num = (merged[c].fillna(0.0) * w).groupby(merged["to_code"]).sum()
            den = w.groupby(merged["to_code"]).sum()
            parts[c] = num / den.replace(0.0, np.nan)
        out = pd.DataFrame(parts)
    out.index.name = "code"
    return out
