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

    Ranking: the PC4 of a postcode (0), codes starting with the query (1), names starting with it (2), names
    containing it (3), areas of a gemeente whose code is the query or whose name starts with it (PC4 only, 4);
    within a rank by level (``levels`` order), then label. Built once from ``area_table`` into sorted arrays
    and an index of the two- and three-letter pieces of the names, so a query is a few binary searches plus a
    check of the names holding its rarest piece, in result order, that stops at the ``limit``-th hit (well
    under a millisecond); queries read immutable data only (no lock), and answers are cached per query.
    """

    def __init__(self, table: pd.DataFrame, levels: list[str]):
        t = table.reset_index()
        t = t[t["level"].isin(levels)]
        lv_order = t["level"].map({lv: i for i, lv in enumerate(levels)}).to_numpy(int)
        # rows in result order (level, label; ties in table order): a row's position is its rank
        t = t.iloc[np.lexsort((t["label"].fillna("").to_numpy(str), lv_order))].reset_index(drop=True)
        self.levels = levels
        self._level = t["level"].to_numpy(str)
        self._code = t["code"].to_numpy(str)
        up = t["code"].str.upper().to_numpy(str)
        self._code_order = np.argsort(up, kind="stable")
        self._code_sorted = up[self._code_order]
        pc4 = np.flatnonzero(self._level == "pc4")
        self._pc4_rows = dict(zip(self._code[pc4].tolist(), pc4.tolist(), strict=True))
        names = t["name"].fillna("").str.lower()
        self._name_order = np.argsort(names.to_numpy(str), kind="stable")
        self._name_sorted = names.to_numpy(str)[self._name_order]
        self._names = names.tolist()
        grams: dict[str, list[int]] = {}
        for row, name in enumerate(self._names):
            for n in (2, 3):
                for g in {name[i:i + n] for i in range(len(name) - n + 1)}:
                    grams.setdefault(g, []).append(row)
        self._grams = {g: np.array(rows) for g, rows in grams.items()}
        gm = t["gemeente_code"].fillna("").str.upper()
        self._by_gm_code = {g: idx for g, idx in t.groupby(gm).indices.items() if g}
        gm_name = t["gemeente_name"].fillna("").str.lower().where(t["level"] == "pc4", "")
        groups = {g: idx for g, idx in t.groupby(gm_name).indices.items() if g}
        self._gm_names = np.array(sorted(groups), dtype=str)
        self._pc4_by_gm = [groups[g] for g in self._gm_names]
        self.query = lru_cache(maxsize=4096)(self._query)

    def _query(self, q: str, limit: int = 20) -> tuple[tuple[str, str], ...]:
        q = q.strip()
        compact = q.replace(" ", "").upper()
        low = q.lower()
        hits: list[tuple[int, np.ndarray]] = []  # (rank, rows): each with at most `limit` best rows

        def best(rows: np.ndarray) -> np.ndarray:
            return rows if len(rows) <= limit else np.partition(rows, limit - 1)[:limit]

        def prefix(sorted_values: np.ndarray, text: str) -> tuple[int, int]:
            lo, hi = np.searchsorted(sorted_values, [text, text + "\uffff"])
            return int(lo), int(hi)

        if len(compact) >= 4 and compact[:4].isdigit() and compact[:4] in self._pc4_rows:
            hits.append((0, np.array([self._pc4_rows[compact[:4]]])))
        if compact:
            lo, hi = prefix(self._code_sorted, compact)
            hits.append((1, best(self._code_order[lo:hi])))
            hits.append((4, best(self._by_gm_code.get(compact, np.zeros(0, int)))))
        if len(q) >= 2:
            lo, hi = prefix(self._name_sorted, low)
            hits.append((2, best(self._name_order[lo:hi])))
            n = min(3, len(low))  # names containing the query: those holding its rarest piece, in rank order
            postings = [self._grams.get(low[i:i + n]) for i in range(len(low) - n + 1)]
            rows: list[int] = []
            if all(p is not None for p in postings):
                for row in min(postings, key=len).tolist():
                    if low in self._names[row]:
                        rows.append(row)
                        if len(rows) == limit:
                            break
            hits.append((3, np.array(rows, dtype=int)))
            lo, hi = prefix(self._gm_names, low)
            if hi > lo:
                hits.append((4, best(np.concatenate(self._pc4_by_gm[lo:hi]))))
        if not hits:
            return ()
        rank = np.concatenate([np.full(len(r), k) for k, r in hits])
        rows = np.concatenate([r for _, r in hits]).astype(int)
        order = np.lexsort((rows, rank))
        _, first = np.unique(rows[order], return_index=True)  # each row at its best rank
        chosen = order[np.sort(first)]
        chosen = chosen[np.lexsort((rows[chosen], rank[chosen]))][:limit]
        return tuple((str(self._level[i]), str(self._code[i])) for i in rows[chosen])
