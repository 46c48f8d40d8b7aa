"""Build (or update) a store from a data folder: read every file family, then write all in one transaction.

Reading happens before any write, so a bad file stops the build with the store untouched; the writes and the
derived geography then commit together. Files whose SHA-256 is already in the store are skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from leefbaar.errors import InputError
from leefbaar.geo.derive import derive_geography
from leefbaar.sources.batch import Batch, sha256
from leefbaar.sources.registry import discover
from leefbaar.store.store import Store


@dataclass
class FileReport:
    """What happened to one file: ``read`` (with counts), ``unchanged`` or ``skipped`` (no reader)."""

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
    except BaseException:
        if created:  # leave no half-made store behind: there was none before
            for p in (store_path, store_path.with_name(store_path.name + ".wal")):
                p.unlink(missing_ok=True)
        raise
    return report


def _build(data_dir: Path, store_path: Path, found, others, report: BuildReport, progress: Progress) -> None:
    with Store.open(store_path, read_only=False) as store:
        pending: list[tuple[str, Path, str, list[Batch]]] = []
        todo = []
        for fam, path in found:
            digest = sha256(path)
            if store.known_source(path, digest):
                report.files.append(FileReport(fam.name, str(path.relative_to(data_dir)), "unchanged"))
            else:
                todo.append((fam, path, digest))
        # readers release the GIL in pyarrow, pyogrio and shapely: two threads; results and errors in file order
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(fam.read, path) for fam, path, _ in todo]
            try:
                for n, ((fam, path, digest), future) in enumerate(zip(todo, futures, strict=True), 1):
                    progress(f"reading {path.relative_to(data_dir)}", n, len(found) * 2)
                    out = future.result()
                    pending.append((fam.name, path, digest, out if isinstance(out, list) else [out]))
            except BaseException:
                pool.shutdown(cancel_futures=True)
                raise
        with store.transaction(), store.run("build", {"data": str(data_dir), "store": str(store_path)}):
            with store.bulk():
                for n, (family, path, digest, batches) in enumerate(pending, 1):
                    progress(f"writing {path.relative_to(data_dir)}", len(found) + n, len(found) * 2)
                    rep = FileReport(family, str(path.relative_to(data_dir)), "read")
                    for batch in batches:
                        counts = store.ingest(batch, digest)
                        rep.rows += batch.rows
                        rep.observations += counts["observations"]
                        rep.areas += counts["areas"]
                        rep.geometries += counts["geometries"]
                    report.files.append(rep)
            if pending:
                progress("deriving crosswalks", 1, 1)
                report.crosswalks = derive_geography(store)
        for p in others:
            report.files.append(FileReport("(no reader)", str(p.relative_to(data_dir)), "skipped", note=why_skipped(p)))
