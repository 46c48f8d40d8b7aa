"""Which file in a data folder is read by which reader.

Each family names a glob pattern relative to the data folder (the layout of ``shared/data``; see SOURCES.md
there). Families are read in this order; where two files give a geometry for the same area and vintage, the
first one read is kept (so the more detailed boundary file comes first).

Every path under the data folder is accounted for: read by a family, or listed with the reason it is not. A
path that a family's pattern names but that cannot be read as a regular file (a folder, a FIFO, a device, a
symbolic link that loops or points nowhere, an unreadable or oversized file) is an error naming it, so that a
year is never left out without a word.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath

from leefbaar.errors import InputError
from leefbaar.sources import buurt, cbs, leefbaarometer, policy
from leefbaar.sources.batch import Batch
from leefbaar.sources.boundaries import BoundarySpec, read_boundary_layer, read_grid_csv, read_grid_gpkg
from leefbaar.sources.tabular import check_size


@dataclass(frozen=True)
class Family:
    """A kind of source file: where it lies, and how it is read (into one batch or several)."""

    name: str
    pattern: str
    read: Callable[[Path], Batch | list[Batch]]
    description: str
    fallback_for: str | None = None  # read only when the named family finds no file


def _layers(*specs: BoundarySpec) -> Callable[[Path], list[Batch]]:
    return lambda path: [read_boundary_layer(path, s) for s in specs]


def _pdok_layer(path: Path) -> list[Batch]:
    """A boundary layer written by ``leefbaar download --boundaries`` (level and year in the file name)."""
    m = re.fullmatch(r"pdok_(gemeente|wijk|buurt|provincie)_(\d{4})_gegeneraliseerd_wgs84", path.stem)
    if m is None:
        raise InputError(path, "file name is not pdok_<gemeente|wijk|buurt|provincie>_<year>_gegeneraliseerd_wgs84"
                         ".geojson")
    return [read_boundary_layer(path, BoundarySpec(m[1], int(m[2]), "statcode", "statnaam"))]


FAMILIES: list[Family] = [
    Family("cbs_pc4_income2017", "cbs_pc4/cbs_pc4_2017_mediaan_besteedbaar_inkomen.csv", cbs.read_pc4_income_2017,
           "CBS median disposable income per PC4, 2017"),
    Family("cbs_pc4", "cbs_pc4/cbs_pc4_20[0-9][0-9]*.csv", cbs.read_cbs_pc4,
           "CBS statistics per PC4, one file per year"),
    Family("ses_woa", "cbs_pc4/cbs_ses_woa_pc4_*.csv", cbs.read_ses_woa, "CBS SES-WOA scores per PC4"),
    Family("lbm3_pc4", "leefbaarometer/lbm3_pc4_scores_*.csv", leefbaarometer.read_lbm3_pc4,
           "Leefbaarometer 3 scores per PC4"),
    Family("lbm2_pc4_classes", "leefbaarometer/lbm2_pc4_classes_*.csv", leefbaarometer.read_lbm2_pc4_classes,
           "Leefbaarometer 2.0 classes per PC4"),
    Family("lbm2_pc4_dimensions", "leefbaarometer/lbm2_pc4_dimensions_*.csv",
           leefbaarometer.read_lbm2_pc4_dimensions, "Leefbaarometer 2.0 dimension scores per PC4"),
    Family("lbm2_gemeente_classes", "leefbaarometer/lbm2_gemeente_classes_*.csv",
           leefbaarometer.read_lbm2_gemeente_classes, "Leefbaarometer 2.0 classes per gemeente"),
    Family("lbm2_wijk_classes", "leefbaarometer/lbm2_wijk_classes_*.csv", leefbaarometer.read_lbm2_wijk_classes,
           "Leefbaarometer 2.0 classes per wijk"),
    Family("lbm2_derived", "leefbaarometer/lbm2_class_*.csv", leefbaarometer.read_lbm2_derived,
           "Derived Leefbaarometer 2.0 class ranges and boundaries"),
    Family("kwb2017_wijk", "cbs_kwb/kwb2017_wijk_wbkaart.csv", cbs.read_kwb2017_wijk, "CBS KWB 2017 per wijk"),
    Family("kwb2017_gemeente", "cbs_kwb/kwb2017_gemeente_wbkaart.csv", cbs.read_kwb2017_gemeente,
           "CBS KWB 2017 per gemeente"),
    Family("kwb2022_wijk_tmap", "cbs_kwb/kwb2022_wijk_tmap.csv", cbs.read_kwb2022_wijk, "CBS KWB 2022 per wijk"),
    Family("kwb2022_gemeente_tmap", "cbs_kwb/kwb2022_gemeente_tmap.csv", cbs.read_kwb2022_gemeente,
           "CBS KWB 2022 per gemeente"),
    Family("kwb_statline", "cbs_kwb/kwb20[0-9][0-9]_gemeente_wijk_basis.csv", cbs.read_kwb_statline,
           "CBS KWB with StatLine keys per gemeente and wijk"),
    Family("kwb_statline_buurt", "cbs_kwb/kwb20[0-9][0-9]_buurt_statline.csv", cbs.read_kwb_statline,
           "CBS KWB with StatLine keys per buurt (leefbaar download)"),
    Family("kwb2024_buurt_inwoners", "cbs_kwb/kwb2024_buurt_inwoners.csv", cbs.read_kwb2024_buurt_inwoners,
           "CBS KWB 2024 inhabitants per buurt"),
    Family("statline_regions", "cbs_meta/*_kwb20[0-9][0-9]_WijkenEnBuurten.csv*", cbs.read_statline_regions,
           "CBS StatLine region list (names of gemeenten, wijken, buurten)"),
    Family("policy_apcg", "policy_areas/cbs_apcg_pc4_*.csv", policy.read_apcg, "CBS APCG PC4 list"),
    *[Family(f"policy_{n}", f"policy_areas/{n}.csv", policy.read_name_list, f"policy-area list {n}")
      for n in policy.NAME_LISTS],
    Family("boundaries_pc4_2017", "geo/cbs_pc4_2017_v3_simplified_rd.gpkg",
           _layers(BoundarySpec("pc4", 2017, "PC4", layer="pc4_2017", crs=28992)), "CBS PC4 boundaries 2017"),
    Family("boundaries_pc4_2017_topojson", "geo/cbs_pc4_2017_v3_simplified_rd.topo.json",
           _layers(BoundarySpec("pc4", 2017, "area_code", crs=28992)), "CBS PC4 boundaries 2017 (TopoJSON)",
           fallback_for="boundaries_pc4_2017"),
    Family("boundaries_gemeente_2017", "geo/gemeenten_2017_cbs_rd.geojson",
           _layers(BoundarySpec("gemeente", 2017, "statcode", "statnaam", crs=28992)), "gemeente boundaries 2017"),
    Family("boundaries_gemeente_2022", "geo/gemeenten_2022_pdok_gegeneraliseerd_wgs84.geojson",
           _layers(BoundarySpec("gemeente", 2022, "statcode", "statnaam")), "gemeente boundaries 2022 (PDOK)"),
    Family("boundaries_2022_tmap", "geo/nl_2022_wijk_gemeente_provincie_tmap.gpkg",
           _layers(BoundarySpec("wijk", 2022, "code", "name", layer="wijk_2022", crs=28992),
                   BoundarySpec("provincie", 2022, "code", "name", layer="provincie_2022", crs=28992)),
           "wijk and provincie boundaries 2022"),
    Family("boundaries_2014_tmap3", "geo/nl_2014_gemeente_provincie_tmap3.gpkg",
           _layers(BoundarySpec("gemeente", 2014, "code", "name", layer="gemeente_2014", crs=28992,
                                attributes_family="geo_2014_tmap3", publisher=("CBS and Kadaster", "CC BY 4.0")),
                   BoundarySpec("provincie", 2014, "code", "name", layer="provincie_2014", crs=28992,
                                attributes_family="geo_2014_tmap3", publisher=("CBS and Kadaster", "CC BY 4.0"))),
           "gemeente and provincie boundaries 2014 with population"),
    Family("boundaries_buurt_2024", "geo/lbm2024_buurten/*.geojson",
           _layers(BoundarySpec("buurt", 2024, "code", "naam",
                                publisher=("Ministerie van BZK, Leefbaarometer (CBS buurten 2024)", "open data"))),
           "buurt boundaries 2024 (scored buurten, simplified about 10 m)"),
    Family("boundaries_buurt_2024_rijnmond", "geo/rijnmond_buurt_2024_simplified_wgs84.geojson",
           _layers(BoundarySpec("buurt", 2024, "buurtcode")), "Rijnmond buurt boundaries 2024 (simplified)"),
    Family("boundaries_pdok_download", "geo/pdok_*_20[0-9][0-9]_gegeneraliseerd_wgs84.geojson", _pdok_layer,
           "PDOK CBS gebiedsindelingen (leefbaar download)"),
    Family("grid_csv", "grid/cbs_vk*_20[0-9][0-9]_*.csv", read_grid_csv, "CBS 100 m and 500 m grid statistics"),
    Family("grid100_pdok", "grid/cbs_vierkant100m_*.gpkg", partial(read_grid_gpkg, year=2020),
           "CBS 100 m grid (PDOK sample)"),
    *buurt.FAMILIES,
]


def not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as a regular file (None if it can); symbolic links are followed."""
    try:
        st = path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link that loops"
        if path.is_symlink():
            return "a symbolic link to nothing"
        return f"not accessible ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode):
        return None
    kinds = [(stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a device"),
             (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")]
    return next((what for test, what in kinds if test(st.st_mode)), "not a regular file")


def _check_readable(fam: Family, path: Path) -> None:
    why = not_a_file(path)
    if why is None and not os.access(path, os.R_OK):
        why = "not readable (permission denied)"
    if why is not None:
        raise InputError(path, f"is {why}, not a file that can be read; it is named like a file of "
                         f"{fam.description} (family {fam.name}): replace it by the file or remove it")
    check_size(path, path.stat().st_size)


def _all_paths(data_dir: Path) -> tuple[list[Path], dict[Path, str]]:
    """Every path under ``data_dir`` (symbolic links to folders followed once), and folders with a note.

    The notes say why a folder holds nothing that is read: it is empty, or a link back into a folder already
    walked (a cycle).
    """
    out, notes, seen = [], {}, set()

    def walk(folder: Path) -> None:
        st = folder.stat()
        if (st.st_dev, st.st_ino) in seen:
            notes[folder] = "a symbolic link to a folder already read (a cycle)"
            return
        seen.add((st.st_dev, st.st_ino))
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            notes[folder] = f"a folder that cannot be listed ({exc.strerror or exc})"
            return
        if not entries and folder != data_dir:
            notes[folder] = "an empty folder"
        for entry in entries:
            path = Path(entry.path)
            out.append(path)
            try:
                is_dir = entry.is_dir()  # follows symbolic links
            except OSError:
                is_dir = False
            if is_dir:
                walk(path)

    walk(data_dir)
    return sorted(out), notes


def _matches(rel: PurePosixPath, pattern: str) -> bool:
    return len(rel.parts) == len(PurePosixPath(pattern).parts) and rel.match(pattern)


def discover(data_dir: Path) -> tuple[list[tuple[Family, Path]], list[tuple[Path, str | None]]]:
    """The (family, file) pairs found under ``data_dir`` in reading order, and the other paths.

    Other paths come with why they are not a readable file (None for a regular file no family reads). A
    path a family names that is not a readable regular file within the size bound is an ``InputError``.
    """
    data_dir = Path(data_dir)
    paths, notes = _all_paths(data_dir)
    rels = {p: PurePosixPath(p.relative_to(data_dir).as_posix()) for p in paths}
    found, claimed, families_found = [], set(), set()
    for fam in FAMILIES:
        if fam.fallback_for in families_found:
            continue
        for path in paths:
            if path in claimed or not _matches(rels[path], fam.pattern):
                continue
            _check_readable(fam, path)
            found.append((fam, path))
            claimed.add(path)
            families_found.add(fam.name)
    fallbacks = {p for fam in FAMILIES if fam.fallback_for in families_found for p in paths
                 if _matches(rels[p], fam.pattern)}
    others = []
    for p in paths:
        if p in claimed or p in fallbacks or rels[p].as_posix() == "SOURCES.md":
            continue
        if p in notes:
            others.append((p, notes[p]))
        elif not_a_file(p) != "a folder":
            others.append((p, not_a_file(p)))
    return found, others
