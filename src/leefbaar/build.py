"""Build (or update) a store from a data folder: read every file family, then write all in one transaction.

Reading happens before any write, so a bad file stops the build with the store untouched; the writes and the
derived geography then commit together. Files whose SHA-256 is already in the store are skipped.

Every path under the data folder is read or listed with a reason (``status`` ``skipped``). Two files of one
family that give the same areas for the same level and year (a copy such as ``cbs_pc4_2019_copy.csv``) are an
error naming both, never "the later file wins". A store that cannot be written (a full disk) is an error
naming the store; the store is left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from leefbaar.errors import InputError, StoreError
from leefbaar.geo.derive import Geography
from leefbaar.sources.batch import Batch, sha256
from leefbaar.sources.registry import Family, discover
from leefbaar.store.store import Store, encode


@dataclass
class FileReport:
    """What happened to one path: ``read`` (with counts), ``unchanged`` or ``skipped`` (with the reason)."""

    family: str
    file: str
    status: str
    rows: int = 0
    observations: int = 0
    areas: int = 0
    geometries: int = 0
    note: str = ""


@dataclass
class BuildReport:
    files: list[FileReport] = field(default_factory=list)
    crosswalks: dict[str, int] = field(default_factory=dict)

    def by_family(self):
        import pandas as pd

        frame = pd.DataFrame([f.__dict__ for f in self.files])
        if frame.empty:
            return frame
        return (frame.groupby(["family", "status"], as_index=False)
                .agg(files=("file", "count"), rows=("rows", "sum"), observations=("observations", "sum"),
                     areas=("areas", "sum"), geometries=("geometries", "sum")))


Progress = Callable[[str, int, int], None]


def why_skipped(path: Path) -> str:
    """Why a file in the data folder is not ingested."""
    if "source_copies" in path.parts:
        return "byte copy of an original; its converted CSV is read instead"
    if "codebook" in path.name:
        return "code book; the catalogue maps its columns"
    if path.name.endswith(("DataProperties.csv", "TableInfos.csv", "Perioden.csv", "SoortMisdrijf.csv")):
        return "StatLine metadata (no observations)"
    if path.parent.name == "politie":
        return "police table metadata only; the data file is not in the folder"
    return "no reader for this file"


def build(data_dir: str | Path, store_path: str | Path, progress: Progress | None = None) -> BuildReport:
    """Ingest every file family found under ``data_dir`` into the store at ``store_path``."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(data_dir, "data folder not found; pass --data DIR or set LEEFBAAR_DATA")
    found, others = discover(data_dir)
    if not found:
        raise InputError(data_dir, "holds none of the known file families (see SOURCES.md)")
    report = BuildReport()
    progress = progress or (lambda *_: None)
    store_path = Path(store_path)
    created = not store_path.exists()
    try:
        _build(data_dir, store_path, found, others, report, progress)
    except (duckdb.IOException, duckdb.OutOfMemoryException) as exc:  # a full disk: the transaction rolled back
        if created:
            for p in (store_path, store_path.with_name(store_path.name + ".wal")):
                p.unlink(missing_ok=True)
        raise StoreError(f"{store_path}: cannot write the store ({exc}); the store is left as it was") from None
    except BaseException:
        if created:  # leave no half-made store behind: there was none before
            for p in (store_path, store_path.with_name(store_path.name + ".wal")):
                p.unlink(missing_ok=True)
        raise
    return report


def _digest(path: Path) -> str:
    try:
        return sha256(path)
    except OSError as exc:
        raise InputError(path, f"cannot be read: {exc.strerror or exc}") from None


def check_overlaps(read: list[tuple[Family, Path, list[Batch]]]) -> None:
    """Refuse two files of one family that give observations or boundaries for the same area, level and year.

    Only families with several files are compared (a file's own keys are unique: its reader checks them), and
    of those only the (level, year) that more than one file gives: the codes are compared there alone.
    """
    by_family: dict[str, list[tuple[Path, list[Batch]]]] = {}
    for fam, path, batches in read:
        by_family.setdefault(fam.name, []).append((path, batches))
    for files in by_family.values():
        if len(files) < 2:
            continue
        keyed = [(path, _area_keys(batches)) for path, batches in files]
        files_per_key: dict[tuple[str, str, int], int] = {}
        for _, keys in keyed:
            for key in keys:
                files_per_key[key] = files_per_key.get(key, 0) + 1
        seen: dict[tuple[str, str, int], tuple[Path, pd.Index]] = {}
        for path, keys in keyed:
            for (kind, level, year), parts in keys.items():
                if files_per_key[(kind, level, year)] < 2:
                    continue
                codes = _codes(parts)
                other = seen.get((kind, level, year))
                if other is not None and len(shared := other[1].intersection(codes)):
                    raise InputError(
                        path, f"gives {kind} for the same {len(shared)} {level} areas in {year} as "
                        f"{other[0]} (first {shared[0]!r}); two files of one family for one year are "
                        "ambiguous: remove the copy or the outdated file")
                seen[(kind, level, year)] = (path, codes if other is None else other[1].union(codes))


def _area_keys(batches: list[Batch]) -> dict[tuple[str, str, int], list[tuple[pd.DataFrame, np.ndarray]]]:
    """{(kind, level, year): [(frame, rows)]} for the observations and the geometries of one file, in order."""
    keys: dict[tuple[str, str, int], list[tuple[pd.DataFrame, np.ndarray]]] = {}
    for kind, attr, year_col in (("observations", "observations", "year"), ("boundaries", "geometries", "vintage")):
        for b in batches:
            f = getattr(b, attr)
            if f is None or not len(f):
                continue
            level, levels = pd.factorize(f["level"])  # a categorical level: from its codes
            group, pairs = pd.factorize((level.astype(np.int64) << 32) | f[year_col].to_numpy(np.int64))
            for g, pair in enumerate(pairs):
                key = (kind, str(levels[pair >> 32]), int(pair & 0xFFFFFFFF))
                keys.setdefault(key, []).append((f, group == g))
    return keys


def _codes(parts: list[tuple[pd.DataFrame, np.ndarray]]) -> pd.Index:
    """The distinct codes of the selected rows of the frames, in order."""
    codes = None
    for f, rows in parts:
        index = pd.Index(pd.unique(np.asarray(f["code"], dtype=object)[rows]))
        codes = index if codes is None else codes.union(index)
    return codes


def _read(fam: Family, path: Path) -> list[Batch]:
    out = fam.read(path)
    return [encode(b) for b in (out if isinstance(out, list) else [out])]


def _build(data_dir: Path, store_path: Path, found, others, report: BuildReport, progress: Progress) -> None:
    with Store.open(store_path, read_only=False, build=True) as store:
        pending: list[tuple[str, Path, str, list[Batch]]] = []
        digests = [(fam, path, _digest(path)) for fam, path in found]
        known = [store.known_source(path, digest) for _, path, digest in digests]
        # a new or changed file is compared with the other files of its family, so those are read again too
        changed = {fam.name for (fam, _, _), k in zip(digests, known, strict=True) if not k}
        todo = []
        for (fam, path, digest), k in zip(digests, known, strict=True):
            if k and fam.name not in changed:
                report.files.append(FileReport(fam.name, str(path.relative_to(data_dir)), "unchanged"))
            else:
                todo.append((fam, path, digest))
        # readers release the GIL in pyarrow, pyogrio, pyproj and shapely: two threads, each also encoding what it
        # read for the store (projection to WGS84, WKB, Arrow); results and errors in file order
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(_read, fam, path) for fam, path, _ in todo]
            try:
                for n, ((fam, path, digest), future) in enumerate(zip(todo, futures, strict=True), 1):
                    progress(f"reading {path.relative_to(data_dir)}", n, len(found) * 2)
                    pending.append((fam.name, path, digest, future.result()))
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
        check_overlaps([(fam, path, batches) for (fam, path, _), (_, _, _, batches) in zip(todo, pending,
                                                                                            strict=True)])
        with store.transaction(), store.run("build", {"data": str(data_dir), "store": str(store_path)}), \
                ThreadPoolExecutor(max_workers=2) as pool:
            try:
                geography = None
                with store.bulk():
                    for n in range(len(pending)):
                        family, path, digest, batches = pending[n]
                        pending[n] = (family, path, digest, [])  # staged by ingest: the frames can go
                        progress(f"writing {path.relative_to(data_dir)}", len(found) + n + 1, len(found) * 2)
                        rep = FileReport(family, str(path.relative_to(data_dir)), "read")
                        for batch in batches:
                            counts = store.ingest(batch, digest)
                            rep.rows += batch.rows
                            rep.observations += counts["observations"]
                            rep.areas += counts["areas"]
                            rep.geometries += counts["geometries"]
                        report.files.append(rep)
                    if pending:  # the boundaries are all written: overlay them while the observations are
                        geography = Geography(store, pool)
                if geography is not None:
                    progress("deriving crosswalks", 1, 1)
                    report.crosswalks = geography.write(store)
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
            store.mark_built()
        for p, why in others:
            note = why_skipped(p) if why is None else f"{why}, not a file"
            report.files.append(FileReport("(no reader)", str(p.relative_to(data_dir)), "skipped", note=note))
