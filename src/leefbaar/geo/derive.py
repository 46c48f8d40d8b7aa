"""Derived geography written to the store after an ingest: vintage crosswalks and PC4 -> gemeente.

- gemeente crosswalks between consecutive vintages 2014 -> 2017 -> 2022 -> 2024 (both directions), area-weighted.
  The 2024 gemeenten are taken as the union of their 2024 buurt boundaries (scored buurten only; unscored,
  nearly empty buurten leave small holes, which the renormalised weights absorb).
- PC4 (2017 boundaries) -> gemeente 2017 and 2022, all shares kept in ``crosswalks``; the largest share is
  written to ``areas.gemeente_code`` for PC4 (2022 gemeenten), so that later work can group PC4 by gemeente.
"""

from __future__ import annotations

from concurrent.futures import Executor, ThreadPoolExecutor

import pandas as pd

from leefbaar.geo.crosswalk import (
    GEMEENTE_VINTAGES,
    Boundaries,
    assign_largest,
    gemeente_parts_from_buurten,
    overlay_weights,
)
from leefbaar.store.store import Store

PC4_GEMEENTE_VINTAGE = 2022
# PC4 (2017 boundaries) is overlaid on the gemeenten of its own vintage and of 2022; other vintages are one
# gemeente crosswalk away.
PC4_TARGET_VINTAGES = (2017, 2022)


def _gemeenten(store: Store, vintage: int):
    have = store.sql("SELECT count(*) AS n FROM geometries WHERE level = 'gemeente' AND vintage = ?", [vintage])
    if have["n"].iloc[0]:
        return store.geometries("gemeente", vintage)[["code", "geometry"]]
    buurt = store.sql("SELECT count(*) AS n FROM geometries WHERE level = 'buurt' AND vintage = ?", [vintage])
    if buurt["n"].iloc[0]:
        return gemeente_parts_from_buurten(store.geometries("buurt", vintage))
    return None


class Geography:
    """The derived geography of a store, started from the boundaries it holds now.

    The boundaries are read on creation (on the caller's thread, which owns the store connection); the
    overlays are computed on ``pool`` (shapely releases the GIL), so that the caller can go on writing, for
    example the observations of a build. ``write`` waits for them and writes the crosswalks and the PC4
    gemeente codes (inside the caller's transaction).
    """

    def __init__(self, store: Store, pool: Executor):
        # one Boundaries per set: its hash and simplified polygons are computed once for all its overlays
        gm = {v: Boundaries(g) for v in GEMEENTE_VINTAGES if (g := _gemeenten(store, v)) is not None}
        self.vintages = vintages = sorted(gm)
        self.pairs = list(zip(vintages, vintages[1:], strict=False))
        has_pc4 = store.sql("SELECT count(*) AS n FROM geometries WHERE level = 'pc4'")["n"].iloc[0]
        pc4 = store.geometries("pc4") if has_pc4 else None
        self.pc4_vintage = int(pc4["vintage"].iloc[0]) if has_pc4 else None
        pc4 = Boundaries(pc4[["code", "geometry"]]) if has_pc4 else None
        self.pc4_targets = [v for v in vintages if v in PC4_TARGET_VINTAGES] if has_pc4 else []
        jobs = [((a, b), gm[a], gm[b], True) for a, b in self.pairs]
        jobs += [(("pc4", v), pc4, gm[v], False) for v in self.pc4_targets]
        # the largest overlays first, so that two threads finish at about the same time
        order = sorted(range(len(jobs)), key=lambda k: -(len(jobs[k][1]) + len(jobs[k][2])))
        self.overlays = {jobs[k][0]: pool.submit(overlay_weights, jobs[k][1], jobs[k][2], both=jobs[k][3])
                         for k in order}

    def write(self, store: Store) -> dict[str, int]:
        """Replace all crosswalks in ``store`` by the overlays. Returns rows per crosswalk."""
        store.con.execute("DELETE FROM crosswalks")
        counts: dict[str, int] = {}
        frames = []
        for a, b in self.pairs:
            for (src, dst), w in zip(((a, b), (b, a)), self.overlays[(a, b)].result(), strict=True):
                frames.append(w.assign(from_level="gemeente", from_vintage=src, to_level="gemeente",
                                       to_vintage=dst, method="area-weighted overlay"))
                counts[f"gemeente {src}->{dst}"] = len(w)
        if self.pc4_vintage is not None:
            pc4_vintage, pc4_targets = self.pc4_vintage, self.pc4_targets
            for v in pc4_targets:
                w = self.overlays[("pc4", v)].result()
                frames.append(w.assign(from_level="pc4", from_vintage=pc4_vintage, to_level="gemeente",
                                       to_vintage=v, method="area-weighted overlay"))
                counts[f"pc4 {pc4_vintage}->gemeente {v}"] = len(w)
            target = PC4_GEMEENTE_VINTAGE if PC4_GEMEENTE_VINTAGE in pc4_targets else (
                pc4_targets[-1] if pc4_targets else None)
            if target is not None:
                best = assign_largest(frames[-len(pc4_targets) + pc4_targets.index(target)])
                store.con.register("pc4_gm", best)
                store.con.execute("UPDATE areas a SET gemeente_code = p.to_code FROM pc4_gm p "
                                  "WHERE a.level = 'pc4' AND a.code = p.from_code")
                store.con.unregister("pc4_gm")
        if frames:
            all_rows = pd.concat(frames, ignore_index=True)[
                ["from_level", "from_vintage", "from_code", "to_level", "to_vintage", "to_code", "weight",
                 "method"]]
            store.append("crosswalks", all_rows)
        return counts


def derive_geography(store: Store) -> dict[str, int]:
    """Recompute all crosswalks in ``store`` (inside the caller's transaction). Returns rows per crosswalk."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return Geography(store, pool).write(store)
