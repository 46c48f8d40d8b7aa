"""Area identity: code, level, a human name for every area, gemeente, residents and dwellings; search.

PC4 areas have no name of their own; they are named after their gemeente and the buurt (with its wijk) that
holds most of their residents (buurten placed in PC4 areas by their representative points):
"3072 Rotterdam – Afrikaanderwijk/Feijenoord". Residents and dwellings are the CBS counts (``inwoner``,
``woning``) of the latest year with a count.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

DASH = " – "


def area_table(store, sql, residents: str = "inwoner", dwellings: str = "woning") -> pd.DataFrame:
    """One row per (level, code): name, label, gemeente_code, gemeente_name, wijk_code, residents, dwellings,
    counts_year (latest vintage of each area); index (level, code)."""
    frame = sql(
        "SELECT a.level, a.code, a.name, a.gemeente_code, a.wijk_code, g.name AS gemeente_name "
        "FROM areas a "
        "LEFT JOIN (SELECT code, arg_max(name, vintage) AS name FROM areas WHERE level = 'gemeente' "
        "AND name IS NOT NULL GROUP BY code) g ON g.code = a.gemeente_code "
        "QUALIFY row_number() OVER (PARTITION BY a.level, a.code ORDER BY a.vintage DESC) = 1")
    counts = sql(
        "SELECT level, code, arg_max(value, year) FILTER (WHERE indicator = ?) AS residents, "
        "arg_max(value, year) FILTER (WHERE indicator = ?) AS dwellings, max(year) AS counts_year "
        "FROM observations WHERE indicator IN (?, ?) AND value IS NOT NULL GROUP BY level, code",
        [residents, dwellings, residents, dwellings])
    frame = frame.merge(counts, on=["level", "code"], how="left")
    names = pc4_names(store, sql)
    is_pc4 = frame["level"] == "pc4"
    gm = frame["gemeente_name"].fillna("")
    local = frame["code"].map(names).where(is_pc4)
    pc4_name = np.where(local.notna() & (gm != ""), gm + DASH + local.fillna(""), np.where(gm != "", gm, None))
    frame["name"] = np.where(is_pc4, pc4_name, frame["name"])
    frame["label"] = np.where(is_pc4, (frame["code"] + " " + frame["name"].fillna("")).str.strip(),
                              frame["name"].fillna(frame["code"]))
    return frame.set_index(["level", "code"]).sort_index()


def pc4_names(store, sql) -> pd.Series:
    """Per PC4 code the name of its dominant buurt (of the buurten whose representative point lies in the PC4,
    newest boundaries, the one with most residents), with its wijk when the names differ
    ("Afrikaanderwijk/Feijenoord")."""
    vint = sql("SELECT level, max(vintage) AS v FROM geometries WHERE level IN ('pc4', 'buurt') GROUP BY level")
    if len(vint) < 2:
        return pd.Series(dtype=object)
    v = dict(zip(vint["level"], vint["v"].astype(int), strict=True))
    pc4, buurt = store.geometries("pc4", v["pc4"]), store.geometries("buurt", v["buurt"])
    names = sql("SELECT b.code, b.name AS buurt, w.name AS wijk FROM areas b LEFT JOIN areas w ON w.level = 'wijk' "
                "AND w.code = b.wijk_code AND w.vintage = (SELECT max(vintage) FROM areas x WHERE x.level = 'wijk' "
                "AND x.code = b.wijk_code) WHERE b.level = 'buurt' AND b.vintage = ?", [v["buurt"]])
    pop = sql("SELECT code, arg_max(value, year) AS residents FROM observations WHERE level = 'buurt' AND "
              "indicator = 'inwoner' AND value IS NOT NULL GROUP BY code").set_index("code")["residents"]
    # each buurt belongs to the PC4 holding its representative point; a PC4 holding none takes the buurt under
    # its own representative point
    pc4_geom, b_geom = pc4.geometry.to_numpy(), buurt.geometry.to_numpy()
    b_pt = shapely.point_on_surface(b_geom)
    bi, pi = shapely.STRtree(pc4_geom).query(b_pt, predicate="within")
    pairs = pd.DataFrame({"pc4": pc4["code"].to_numpy()[pi], "buurt": buurt["code"].to_numpy()[bi]})
    pairs["people"] = pairs["buurt"].map(pop).fillna(0.0).to_numpy(float)
    pairs["area"] = shapely.area(b_geom[bi])
    missing = ~pc4["code"].isin(pairs["pc4"]).to_numpy()
    pi2, bi2 = shapely.STRtree(b_geom).query(shapely.point_on_surface(pc4_geom[missing]), predicate="within")
    extra = pd.DataFrame({"pc4": pc4["code"].to_numpy()[missing][pi2], "buurt": buurt["code"].to_numpy()[bi2],
                          "people": 0.0, "area": 0.0})
    pairs = pd.concat([pairs, extra], ignore_index=True)
    pairs = pairs.sort_values(["pc4", "people", "area"], ascending=[True, False, False]).drop_duplicates("pc4")
    pairs = pairs.merge(names, left_on="buurt", right_on="code", how="left")
    b = pairs["buurt_y"].fillna("")
    w = pairs["wijk"].fillna("").str.replace(r"^(Wijk|Wk) \d+\s+", "", regex=True)
    name = np.where((w != "") & (w.str.lower() != b.str.lower()) & (b != ""), b + "/" + w, np.where(b != "", b, w))
    out = pd.Series(name, index=pairs["pc4"].to_numpy())
    return out[out != ""]


class AreaSearch:
    """Search by code, name, gemeente name or postcode ('3072', '3072 AB', 'GM0599', 'Feijenoord').

    Built once from ``area_table``; queries read immutable arrays only (no lock), and answers are cached
    per query, so concurrent searches never wait for each other.
    """

    def __init__(self, table: pd.DataFrame, levels: list[str]):
        t = table.reset_index()
        t = t[t["level"].isin(levels)].reset_index(drop=True)
        self.levels = levels
        self._level = t["level"].to_numpy(str)
        self._is_pc4 = self._level == "pc4"
        self._code = t["code"].to_numpy(str)
        self._label = t["label"].fillna("").to_numpy(str)
        self._gm_code = t["gemeente_code"].fillna("").str.upper().to_numpy(str)
        self._lv_order = t["level"].map({lv: i for i, lv in enumerate(levels)}).to_numpy(int)
        # codes sorted for prefix ranges; names scanned by one Arrow kernel (C, releases the GIL)
        up = t["code"].str.upper().to_numpy(str)
        self._code_order = np.argsort(up, kind="stable")
        self._code_sorted = up[self._code_order]
        self._names = t["name"].fillna("").str.lower().tolist()
        self._name = pa.array(self._names, pa.string())
        pc4 = t[t["level"] == "pc4"]
        self._pc4_by_gm = {g: idx for g, idx in pc4.groupby(pc4["gemeente_name"].fillna("").str.lower()).indices
                           .items() if g}
        self._pc4_rows = np.flatnonzero(self._is_pc4)
        self.query = lru_cache(maxsize=4096)(self._query)

    def _query(self, q: str, limit: int = 20) -> tuple[tuple[str, str], ...]:
        q = q.strip()
        compact = q.replace(" ", "").upper()
        low = q.lower()
        prio = np.full(len(self._code), 9, dtype=np.int8)
        if len(compact) >= 4 and compact[:4].isdigit():
            prio[self._is_pc4 & (self._code == compact[:4])] = 0
        if compact:
            lo, hi = np.searchsorted(self._code_sorted, [compact, compact + "\uffff"])
            starts = self._code_order[lo:hi]
            prio[starts[prio[starts] > 1]] = 1
            prio[(self._gm_code == compact) & (prio > 4)] = 4  # a gemeente code finds its areas
        if len(q) >= 2:
            contains = np.flatnonzero(_mask(pc.match_substring(self._name, pattern=low)))
            prio[contains[prio[contains] > 3]] = 3
            starts = np.array([i for i in contains if self._names[i].startswith(low)], dtype=int)
            if len(starts):
                prio[starts[prio[starts] > 2]] = 2
            for g, idx in self._pc4_by_gm.items():
                if g.startswith(low):
                    rows = self._pc4_rows[idx]
                    prio[rows[prio[rows] > 4]] = 4
        hit = np.flatnonzero(prio < 9)
        key = prio[hit].astype(np.int32) * 16 + self._lv_order[hit]
        if len(hit) > limit:  # sort labels only among the candidates that can make the first `limit`
            cut = np.partition(key, limit - 1)[limit - 1]
            hit, key = hit[key <= cut], key[key <= cut]
        order = np.lexsort((self._label[hit], key))
        return tuple((str(self._level[i]), str(self._code[i])) for i in hit[order][:limit])


def _mask(result) -> np.ndarray:
    return result.to_numpy(zero_copy_only=False).astype(bool)
