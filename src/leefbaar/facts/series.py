"""Score series with kind, interval, class, rank and the small-area rule.

Scores are in Leefbaarometer score points (higher is better): ``total`` = reference + ``afw``; ``afw`` = the sum
of the five dimensions. Each row carries its ``kind``: ``official`` (a Leefbaarometer measurement, no
interval), ``modelled`` (leefbaar's index model, with the Monte Carlo interval ``total_lo`` .. ``total_hi`` at
the level of ``Rules.interval_level``) or ``aggregated`` (from another level). An area-year under the
small-area rule keeps its score but gets no class, no rank and no class probability (``small`` True).
Ranks: 1 = best ``afw`` among the classed areas of the level and year; ``n_ranked`` their number.
A spec with other dimensions than the Leefbaarometer's has one more column per dimension (``facts.dimensions``);
the five Leefbaarometer columns are then empty.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.facts.rules import Rules
from leefbaar.index.classes import classify_total

DIMENSIONS = ("won", "fys", "vrz", "soc", "onv")
OFFICIAL_SERIES = {"lbm": "total", "lbm_afw": "afw", **{f"lbm_{d}": d for d in DIMENSIONS}}
COLUMNS = ["code", "year", "total", "afw", *DIMENSIONS, "klasse", "kind", "total_lo", "total_hi", "rank_lo",
           "rank_hi", "p_class_differs", "residents", "dwellings", "small", "rank", "n_ranked"]
KINDS = ("official", "modelled", "aggregated")


def raw_scores(sql, tables: frozenset[str], spec: str | None, level: str, reference: float,
               dimensions: tuple[str, ...] = ()) -> pd.DataFrame:
    """The stored series of ``level``: the index engine's ``scores`` (spec ``spec``) when it has the level,
    otherwise the official Leefbaarometer observations (kind official). ``dimensions``: the spec's dimensions
    other than the five of the Leefbaarometer, one column each (from ``dimension_scores``), after the others."""
    extra = [d for d in dimensions if d not in DIMENSIONS]
    frame = pd.DataFrame(columns=["code", "year"])
    if spec is not None and "scores" in tables:
        have = set(sql("SELECT column_name FROM information_schema.columns WHERE table_name = 'scores'")[
            "column_name"])
        cols = ["total", "afw", *DIMENSIONS, "klasse", "kind", "total_lo", "total_hi", "rank_lo", "rank_hi",
                "p_class_differs"]
        select = ", ".join(c if c in have else f"NULL AS {c}" for c in cols)
        frame = sql(f"SELECT code, year, {select} FROM scores WHERE level = ? AND spec = ? ORDER BY code, year",
                    [level, spec])
        if extra and "dimension_scores" in tables and len(frame):
            dims = sql(f"SELECT code, year, dimension, score FROM dimension_scores WHERE level = ? AND spec = ? "
                       f"AND dimension IN ({', '.join('?' * len(extra))})", [level, spec, *extra])
            if len(dims):
                wide = dims.pivot_table(index=["code", "year"], columns="dimension", values="score", aggfunc="first")
                wide.columns.name = None
                frame = frame.merge(wide.reset_index(), on=["code", "year"], how="left")
    # official measurements of years the index table does not hold (e.g. 2002-2016 at PC4)
    known = sorted(int(y) for y in frame["year"].unique())
    long = sql("SELECT code, year, indicator, value FROM observations WHERE level = ? AND indicator IN "
               f"({', '.join('?' * len(OFFICIAL_SERIES))}) AND value IS NOT NULL"
               + (f" AND year NOT IN ({', '.join('?' * len(known))})" if known else "")
               + " ORDER BY code, year, indicator", [level, *OFFICIAL_SERIES, *known])
    if not long.empty:
        official = (long.pivot_table(index=["code", "year"], columns="indicator", values="value", aggfunc="first")
                    .rename(columns=OFFICIAL_SERIES).reset_index())
        official.columns.name = None
        official["kind"] = "official"
        frame = pd.concat([frame, official], ignore_index=True) if len(frame) else official
    if frame.empty:
        return pd.DataFrame(columns=[*COLUMNS[:13], *extra])
    for c in ("total", "afw", *DIMENSIONS, "klasse", "kind", "total_lo", "total_hi", "rank_lo", "rank_hi",
              "p_class_differs", *extra):
        if c not in frame:
            frame[c] = np.nan
    frame["year"] = frame["year"].astype(int)
    for c in ("total", "afw", *DIMENSIONS, "klasse", "total_lo", "total_hi", "rank_lo", "rank_hi",
              "p_class_differs", *extra):
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype(float)
    frame["afw"] = frame["afw"].fillna(frame["total"] - reference)
    frame["total"] = frame["total"].fillna(frame["afw"] + reference)
    frame["kind"] = frame["kind"].fillna("official").astype(str)
    missing = frame["klasse"].isna() & frame["afw"].notna()
    frame.loc[missing, "klasse"] = classify_total(frame.loc[missing, "afw"].to_numpy(float)).astype(float)
    frame.loc[frame["klasse"] == 0, "klasse"] = np.nan
    official = frame["kind"] == "official"
    # an official value is a measurement: no interval, no class uncertainty
    frame.loc[official, ["total_lo", "total_hi", "rank_lo", "rank_hi"]] = np.nan
    frame.loc[official, "p_class_differs"] = np.nan
    return frame.sort_values(["code", "year"], ignore_index=True)


def counts_by_year(sql, level: str, rules: Rules) -> pd.DataFrame:
    """Residents and dwellings per code and year of ``level`` (CBS counts)."""
    frame = sql("SELECT code, year, value AS residents FROM observations WHERE level = ? AND indicator = ? "
                "AND value IS NOT NULL ORDER BY code, year", [level, rules.residents_indicator])
    dw = sql("SELECT code, year, value AS dwellings FROM observations WHERE level = ? AND indicator = ? "
             "AND value IS NOT NULL ORDER BY code, year", [level, rules.dwellings_indicator])
    return frame.merge(dw, on=["code", "year"], how="outer")


def apply_rules(frame: pd.DataFrame, counts: pd.DataFrame, rules: Rules) -> pd.DataFrame:
    """Add residents, dwellings (nearest CBS year with a count, ties: earlier), ``small``, and the class, rank
    and ``n_ranked`` among classed areas; small area-years lose class, rank and class probability."""
    out = frame.copy()
    columns = [*COLUMNS, *(c for c in frame.columns if c not in COLUMNS)]  # other dimensions last
    if out.empty:
        return pd.DataFrame(columns=columns)
    for col in ("residents", "dwellings"):
        c = counts[["code", "year", col]].dropna()
        out[col] = _nearest(out[["code", "year"]], c, col) if not c.empty else np.nan
    known = out["residents"].notna() | out["dwellings"].notna()
    small = ~known | (out["residents"].fillna(np.inf) < rules.min_residents) | (
        out["dwellings"].fillna(np.inf) < rules.min_dwellings)
    # a level without any counts (e.g. provincie) is not subject to the rule
    out["small"] = small & bool(len(counts))
    out.loc[out["small"], ["klasse", "p_class_differs", "rank_lo", "rank_hi"]] = np.nan
    ranked = out["afw"].notna() & ~out["small"]
    out["rank"] = out["afw"].where(ranked).groupby(out["year"]).rank(ascending=False, method="min")
    out["n_ranked"] = ranked.groupby(out["year"]).transform("sum").where(ranked)
    return out[columns]


def _nearest(keys: pd.DataFrame, values: pd.DataFrame, col: str) -> np.ndarray:
    """``values[col]`` of the same code in the nearest year (ties: the earlier year)."""
    years = np.sort(values["year"].unique())
    if len(years) == 0:
        return np.full(len(keys), np.nan)
    wanted = np.sort(keys["year"].unique())
    pick = {}
    for y in wanted:
        d = np.abs(years - y)
        pick[int(y)] = int(years[np.argmin(d)])  # argmin takes the first (earlier) year on ties
    table = values.set_index(["code", "year"])[col]
    table = table[~table.index.duplicated()]
    idx = pd.MultiIndex.from_arrays([keys["code"].to_numpy(), keys["year"].map(pick).to_numpy()])
    exact = table.reindex(idx).to_numpy(float)
    # where the nearest year has no count for this code, fall back to the code's latest count
    latest = values.sort_values("year").groupby("code")[col].last()
    fallback = keys["code"].map(latest).to_numpy(float)
    return np.where(np.isnan(exact), fallback, exact)


def default_year(frame: pd.DataFrame) -> int | None:
    """The latest official year (``year_kinds``); else the latest aggregated year; else the latest year."""
    kinds = year_kinds(frame)
    for wanted in ("official", "aggregated"):
        years = [y for y, k in kinds.items() if k == wanted]
        if years:
            return max(years)
    return max(kinds) if kinds else None


MAJORITY = 0.95


def year_kinds(frame: pd.DataFrame) -> dict[int, str]:
    """Per year: the kind of at least 95 % of its values (each value keeps its own kind), else 'mixed'."""
    scored = frame[frame["afw"].notna()]
    out = {}
    for y, kinds in scored.groupby("year")["kind"]:
        share = kinds.value_counts(normalize=True)
        out[int(y)] = str(share.index[0]) if share.iloc[0] >= MAJORITY else "mixed"
    return out
