"""Area identity: code, level, a human name for every area, gemeente, residents and dwellings; search.

PC4 areas have no name of their own; they are named after their gemeente and the buurt (with its wijk) that
holds most of their surface in the store's crosswalk ``pc4 -> buurt``: "3072 Rotterdam – Afrikaanderwijk/
Feijenoord". Residents and dwellings are the CBS counts (``inwoner``, ``woning``) of the latest year with a
count.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

DASH = " – "


def area_table(sql, residents: str = "inwoner", dwellings: str = "woning") -> pd.DataFrame:
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
    names = pc4_names(sql)
    is_pc4 = frame["level"] == "pc4"
    gm = frame["gemeente_name"].fillna("")
    local = frame["code"].map(names).where(is_pc4)
    pc4_name = np.where(local.notna() & (gm != ""), gm + DASH + local.fillna(""), np.where(gm != "", gm, None))
    frame["name"] = np.where(is_pc4, pc4_name, frame["name"])
    frame["label"] = np.where(is_pc4, (frame["code"] + " " + frame["name"].fillna("")).str.strip(),
                              frame["name"].fillna(frame["code"]))
    return frame.set_index(["level", "code"]).sort_index()


def pc4_names(sql) -> pd.Series:
    """Per PC4 code the name of its dominant buurt (largest crosswalk weight), with its wijk when the names
    differ ("Afrikaanderwijk/Feijenoord")."""
    frame = sql(
        "WITH c AS (SELECT from_code AS code, to_code, to_vintage, weight FROM crosswalks "
        "  WHERE from_level = 'pc4' AND to_level = 'buurt' "
        "  QUALIFY row_number() OVER (PARTITION BY from_code ORDER BY to_vintage DESC, weight DESC) = 1) "
        "SELECT c.code, b.name AS buurt, w.name AS wijk FROM c "
        "LEFT JOIN areas b ON b.level = 'buurt' AND b.code = c.to_code AND b.vintage = c.to_vintage "
        "LEFT JOIN areas w ON w.level = 'wijk' AND w.code = b.wijk_code AND w.vintage = b.vintage")
    if frame.empty:
        return pd.Series(dtype=object)
    buurt, wijk = frame["buurt"].fillna(""), frame["wijk"].fillna("")
    name = np.where((wijk != "") & (wijk.str.lower() != buurt.str.lower()) & (buurt != ""), buurt + "/" + wijk,
                    np.where(buurt != "", buurt, wijk))
    out = pd.Series(name, index=frame["code"].to_numpy())
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
        self._code = t["code"].to_numpy(str)
        self._code_up = np.char.upper(self._code)
        self._name = t["name"].fillna("").str.lower().to_numpy(str)
        self._label = t["label"].fillna("").to_numpy(str)
        self._gm = t["gemeente_name"].fillna("").str.lower().to_numpy(str)
        self._order = {lv: i for i, lv in enumerate(levels)}
        self.query = lru_cache(maxsize=4096)(self._query)

    def _query(self, q: str, limit: int = 20) -> tuple[tuple[str, str], ...]:
        q = q.strip()
        compact = q.replace(" ", "").upper()
        low = q.lower()
        prio = np.full(len(self._code), 9, dtype=np.int8)
        if len(compact) >= 4 and compact[:4].isdigit():
            prio[(self._level == "pc4") & (self._code_up == compact[:4])] = 0
        if compact:
            prio[np.char.startswith(self._code_up, compact) & (prio > 1)] = 1
        if len(q) >= 2:
            contains = np.char.find(self._name, low) >= 0
            starts = np.char.startswith(self._name, low)
            prio[starts & (prio > 2)] = 2
            prio[contains & (prio > 3)] = 3
            prio[(self._level == "pc4") & np.char.startswith(self._gm, low) & (prio > 4)] = 4
        hit = np.flatnonzero(prio < 9)
        lv_order = np.array([self._order[lv] for lv in self._level[hit]])
        order = np.lexsort((self._label[hit], lv_order, prio[hit]))
        return tuple((str(self._level[i]), str(self._code[i])) for i in hit[order][:limit])
