"""Derived geography written to the store after an ingest: vintage crosswalks and PC4 -> gemeente.

- gemeente crosswalks between consecutive vintages 2014 -> 2017 -> 2022 -> 2024 (both directions), area-weighted.
  The 2024 gemeenten are taken as the union of their 2024 buurt boundaries (scored buurten only; unscored,
  nearly empty buurten leave small holes, which the renormalised weights absorb).
- PC4 (2017 boundaries) -> gemeente 2017 and 2022, all shares kept in ``crosswalks``; the largest share is
  written to ``areas.gemeente_code`` for PC4 (2022 gemeenten), so that later work can group PC4 by gemeente.
"""

from __future__ import annotations

import pandas as pd

from leefbaar.geo.crosswalk import GEMEENTE_VINTAGES, assign_largest, gemeente_parts_from_buurten, overlay_weights
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


def derive_geography(store: Store) -> dict[str, int]:
    """Recompute all crosswalks in ``store`` (inside the caller's transaction). Returns rows per crosswalk."""
    store.con.execute("DELETE FROM crosswalks")
    gm = {v: g for v in GEMEENTE_VINTAGES if (g := _gemeenten(store, v)) is not None}
    vintages = sorted(gm)
    counts: dict[str, int] = {}
    frames = []
    for a, b in zip(vintages, vintages[1:], strict=False):
        for (src, dst), w in zip(((a, b), (b, a)), overlay_weights(gm[a], gm[b], both=True), strict=True):
            frames.append(w.assign(from_level="gemeente", from_vintage=src, to_level="gemeente", to_vintage=dst,
                                   method="area-weighted overlay"))
            counts[f"gemeente {src}->{dst}"] = len(w)
    has_pc4 = store.sql("SELECT count(*) AS n FROM geometries WHERE level = 'pc4'")["n"].iloc[0]
    if has_pc4:
        pc4 = store.geometries("pc4")
        pc4_vintage = int(pc4["vintage"].iloc[0])
        pc4_targets = [v for v in vintages if v in PC4_TARGET_VINTAGES]
        for v in pc4_targets:
            w = overlay_weights(pc4[["code", "geometry"]], gm[v])
            frames.append(w.assign(from_level="pc4", from_vintage=pc4_vintage, to_level="gemeente", to_vintage=v,
                                   method="area-weighted overlay"))
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
            ["from_level", "from_vintage", "from_code", "to_level", "to_vintage", "to_code", "weight", "method"]]
        store.append("crosswalks", all_rows)
    return counts
