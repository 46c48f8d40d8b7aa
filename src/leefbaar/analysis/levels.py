"""Scores at other levels from one official measurement: population-weighted aggregation (kind ``aggregated``).

Two measurements exist in the store: the official Leefbaarometer 3 scores per PC4 (2002-2022, observations
``lbm_afw``, ``lbm_won`` .. ``lbm_onv`` at level pc4) and per buurt (2024, the same indicators at level buurt).
``build_levels`` carries them to

- gemeente and wijk (the latest boundary vintage in the store, 2022): every PC4 year and the 2024 buurt year;
- PC4 (2017 boundaries): the 2024 buurt year, so that the PC4 series gets a measured value for 2024.

Method (``geo.aggregate``): residents of a source area in a target = CBS residents of the source (nearest year
with counts; PC4 2017-2023, buurt 2024) x the share of the source's surface inside the target (the store's
``crosswalks`` for PC4 -> gemeente, otherwise an area-weighted overlay of the boundaries). A target's ``afw`` and
five dimensions are the resident-weighted means of its sources with an official value; ``total`` = reference +
``afw``; ``klasse`` = LBM3 class of ``afw`` (``index.classes``). A target value is kept only when the scored
sources hold at least ``MIN_COVERAGE`` of its estimated residents. No interval is stated: the values are
official scores re-weighted, not estimates with a sampling error.

``lbm2_agreement`` checks the aggregated gemeente and wijk classes against the official LBM 2.0 classes of
2002-2016; ``validate_2024`` tests the 2023 nowcast and the 2022 -> 2023 change against the 2024 PC4 values.
``available`` answers which levels and years have scores, for the facts layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from leefbaar.analysis.weights import population_weights
from leefbaar.errors import StoreError
from leefbaar.geo.aggregate import area_shares, resident_weights
from leefbaar.index.classes import DIMENSIONS, classify_total, load_scheme
from leefbaar.index.pipeline import SCORE_COLUMNS
from leefbaar.store.store import Store

KIND = "aggregated"
# Aggregated rows carry the spec name of the Leefbaarometer scale they are on, so that readers of ``scores``
# (DashboardData reads spec 'default') show them beside the index's PC4 rows.
SPEC = "default"
MIN_COVERAGE = 0.5
VALUES = ["afw", *DIMENSIONS]
OFFICIAL = {f"lbm_{c}": c for c in VALUES}
TARGET_LEVELS = ("gemeente", "wijk")
NOISE_DRAWS = 20
METHOD = "resident-weighted mean; residents = CBS residents x area share (areal interpolation)"


@dataclass
class LevelScores:
    """Result of ``build_levels``.

    ``scores``: rows for the ``scores`` table (columns ``index.pipeline.SCORE_COLUMNS``, kind 'aggregated').
    ``detail``: per value its provenance: level, vintage, code, year, from_level, from_vintage, weight_year
    (CBS year of the residents), residents (estimated residents of the target), residents_scored, coverage,
    sources. ``weights``: the resident weights used (level, vintage, code, from_level, from_vintage,
    from_code, weight_year, share, residents).
    """

    scores: pd.DataFrame
    detail: pd.DataFrame
    weights: pd.DataFrame
    vintages: dict[str, int] = field(default_factory=dict)


def official_scores(store: Store, level: str) -> pd.DataFrame:
    """Official afw and dimensions of ``level`` (pc4 or buurt): ``code, year, afw, won .. onv``."""
    long = store.sql("SELECT code, year, indicator, value FROM observations WHERE level = ? AND value IS NOT NULL "
                     f"AND indicator IN ({', '.join('?' * len(OFFICIAL))}) ORDER BY code, year, indicator",
                     [level, *OFFICIAL])
    if long.empty:
        return pd.DataFrame(columns=["code", "year", *VALUES])
    wide = long.pivot_table(index=["code", "year"], columns="indicator", values="value", aggfunc="first")
    wide = wide.rename(columns=OFFICIAL).reset_index()
    wide.columns.name = None
    for c in VALUES:
        if c not in wide:
            wide[c] = np.nan
    return wide[["code", "year", *VALUES]]


def _geometry_vintage(store: Store, level: str) -> int | None:
    row = store.sql("SELECT max(vintage) AS v FROM geometries WHERE level = ?", [level])["v"].iloc[0]
    return None if pd.isna(row) else int(row)


def _shares(store: Store, src_level: str, src_vintage: int, level: str, vintage: int, cache: dict) -> pd.DataFrame:
    key = (src_level, src_vintage, level, vintage)
    if key not in cache:
        cache[key] = area_shares(store, src_level, src_vintage, level, vintage)
    return cache[key]


def aggregate(values: pd.DataFrame, population: pd.DataFrame, shares: pd.DataFrame,
              min_coverage: float = MIN_COVERAGE, engine: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Aggregate one source level's official ``values`` (code, year, afw, dims) per year to targets.

    ``population``: code, year, weight (residents), weight_year; ``shares``: from_code, to_code, weight.
    Returns (values per target: code, year, afw, dims, residents, residents_scored, coverage, sources,
    weight_year) and the weights used (from_code, to_code, share, residents, weight_year). The means are one
    Ibis expression (``analysis.distributed.aggregate_levels``, all years at once) run on ``engine``
    (``store.compute``: DuckDB unless told otherwise).
    """
    from leefbaar.analysis.distributed import aggregate_frame  # Ibis on first use (2 s of imports)

    wy = {int(y): (int(p["weight_year"].iloc[0]) if len(p := population[population["year"] == y]) else np.nan)
          for y in sorted(values["year"].unique())}
    out = aggregate_frame(values, population, shares, VALUES, min_coverage, engine)
    out["weight_year"] = out["year"].map(wy)
    weights = [resident_weights(shares, population[population["year"] == y].set_index("code")["weight"])
               .assign(weight_year=w_year) for y, w_year in wy.items()]
    used = pd.concat(weights, ignore_index=True).drop_duplicates(["from_code", "to_code", "weight_year"])
    return out, used


def build_levels(store: Store, min_coverage: float = MIN_COVERAGE, engine: str | None = None) -> LevelScores:
    """Aggregate the official PC4 (all years) and buurt (2024) scores to gemeente, wijk and PC4 (see module);
    the means run on ``engine`` (``store.compute``)."""
    scheme = load_scheme()
    pc4, buurt = official_scores(store, "pc4"), official_scores(store, "buurt")
    if pc4.empty and buurt.empty:
        raise StoreError("the store holds no official Leefbaarometer scores (lbm_afw at pc4 or buurt); "
                         "build it from a data folder with leefbaarometer/ or buurt/")
    # the finer source first: a level-year that both could fill is taken from the buurten
    sources = [(lvl, _geometry_vintage(store, lvl), v) for lvl, v in (("buurt", buurt), ("pc4", pc4)) if not v.empty]
    targets = {lv: v for lv in (*TARGET_LEVELS, "pc4") if (v := _geometry_vintage(store, lv)) is not None}
    cache: dict = {}
    parts, details, weights, filled = [], [], [], set()
    for src_level, src_vintage, values in sources:
        if src_vintage is None:
            continue
        pop = population_weights(store, src_level, sorted(int(y) for y in values["year"].unique())).frame
        for level, vintage in targets.items():
            if level == src_level:
                continue
            todo = values[~values["year"].isin({y for lv_, y in filled if lv_ == level})]
            if todo.empty:
                continue
            shares = _shares(store, src_level, src_vintage, level, vintage, cache)
            agg, used = aggregate(todo, pop, shares, min_coverage, engine)
            if agg.empty:
                continue
            meta = dict(level=level, vintage=vintage, from_level=src_level, from_vintage=src_vintage)
            details.append(agg.drop(columns=VALUES).assign(**meta))
            weights.append(used.rename(columns={"to_code": "code"}).assign(**meta))
            parts.append(agg[["code", "year", *VALUES]].assign(level=level))
            filled |= {(level, int(y)) for y in todo["year"].unique()}
    if not parts:
        raise StoreError("no level could be filled: the store lacks boundaries or residents for the aggregation")
    sc = pd.concat(parts, ignore_index=True)
    sc["total"] = scheme.reference + sc["afw"]
    sc["klasse"] = pd.array(classify_total(sc["afw"].to_numpy(float)), dtype="Int8")
    sc["kind"] = KIND
    sc["spec"] = SPEC
    sc["anchor_year"] = pd.array([pd.NA] * len(sc), dtype="Int64")
    for c in ("total_lo", "total_hi", "rank_lo", "rank_hi", "p_class_differs"):
        sc[c] = np.nan
    sc["rank"] = sc.groupby(["level", "year"])["afw"].rank(ascending=False, method="min")
    detail_cols = ["level", "vintage", "code", "year", "from_level", "from_vintage", "weight_year", "residents",
                   "residents_scored", "coverage", "sources"]
    weight_cols = ["level", "vintage", "code", "from_level", "from_vintage", "from_code", "weight_year", "share",
                   "residents"]
    return LevelScores(sc[SCORE_COLUMNS].sort_values(["level", "code", "year"], ignore_index=True),
                       pd.concat(details, ignore_index=True)[detail_cols],
                       pd.concat(weights, ignore_index=True)[weight_cols], targets)


def write_levels(store: Store, result: LevelScores, params: dict) -> int:
    """Replace the aggregated rows of ``scores`` and the tables ``level_sources`` and ``level_weights`` in one
    transaction; returns the run id."""
    with store.transaction(), store.run("levels", {**params, "method": METHOD, "vintages": result.vintages}) as rid:
        for level, part in result.scores.groupby("level"):
            store.replace("scores", part.reset_index(drop=True), {"spec": SPEC, "level": level, "kind": KIND})
        store.replace("level_sources", result.detail.assign(method=METHOD))
        store.replace("level_weights", result.weights)
    return rid


def available(store: Store, spec: str = SPEC) -> pd.DataFrame:
    """Which levels and years have scores: level, year, kind, areas (one row per combination), ordered.

    Rows of ``scores`` (official, modelled, aggregated) plus the official Leefbaarometer observations
    (``lbm_afw``) of level-years that ``scores`` does not hold as official (e.g. PC4 2002-2016, buurt 2024).
    A level or year absent here has no values and must not be offered.
    """
    official = store.sql("SELECT level, year, 'official' AS kind, count(DISTINCT code) AS areas FROM observations "
                         "WHERE indicator = 'lbm_afw' AND value IS NOT NULL GROUP BY ALL")
    have = store.sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'scores'")["n"].iloc[0]
    scored = store.sql("SELECT level, year, kind, count(*) AS areas FROM scores WHERE spec = ? AND afw IS NOT NULL "
                       "GROUP BY ALL", [spec]) if have else official.iloc[:0]
    key = ["level", "year", "kind"]
    extra = official.merge(scored[key], on=key, how="left", indicator=True)
    out = pd.concat([scored, extra[extra["_merge"] == "left_only"].drop(columns="_merge")], ignore_index=True)
    out["areas"] = out["areas"].astype(int)
    return out.sort_values(key, ignore_index=True)


# -- checks ------------------------------------------------------------------------------------------------

def _fit(pred: np.ndarray, obs: np.ndarray) -> dict[str, float]:
    """n, Spearman, R² (1 - SSE/SST of ``pred`` as a prediction of ``obs``) and MAE, on pairs with both values."""
    ok = ~np.isnan(pred) & ~np.isnan(obs)
    p, o = pred[ok], obs[ok]
    if ok.sum() < 3:
        return {"n": int(ok.sum()), "spearman": np.nan, "r2": np.nan, "mae": np.nan}
    sst = float(((o - o.mean()) ** 2).sum())
    return {"n": int(ok.sum()), "spearman": float(spearmanr(p, o).statistic),
            "r2": 1.0 - float(((o - p) ** 2).sum()) / sst if sst > 0 else np.nan,
            "mae": float(np.abs(o - p).mean())}


def _class_agreement(ours: pd.Series, official: pd.Series) -> dict[str, float]:
    a, b = ours.to_numpy(float), official.to_numpy(float)
    ok = ~np.isnan(a) & ~np.isnan(b) & (a > 0) & (b > 0)
    d = a[ok] - b[ok]
    return {"n": int(ok.sum()), "exact": float((d == 0).mean()) if ok.any() else np.nan,
            "within_1": float((np.abs(d) <= 1).mean()) if ok.any() else np.nan,
            "mean_difference": float(d.mean()) if ok.any() else np.nan}


def lbm2_classes(store: Store, level: str) -> pd.DataFrame:
    """Official LBM 2.0 classes (``lbm2_klasse``, 1-9) of ``level``: code, year, lbm2_klasse."""
    return store.sql("SELECT code, year, value AS lbm2_klasse FROM observations WHERE level = ? AND "
                     "indicator = 'lbm2_klasse' AND value IS NOT NULL ORDER BY code, year", [level])


def _unchanged_wijken(store: Store, vintage: int) -> set[str]:
    """Wijk codes of ``vintage`` that carry the same code and name in the 2017 division (a proxy for unchanged
    boundaries since the LBM2 wijk file of 2016, which has no names)."""
    names = store.sql("SELECT code, vintage, lower(trim(name)) AS name FROM areas WHERE level = 'wijk' "
                      "AND vintage IN (2017, ?) AND name IS NOT NULL", [vintage])
    a = names[names["vintage"] == 2017].set_index("code")["name"]
    b = names[names["vintage"] == vintage].set_index("code")["name"]
    common = a.index.intersection(b.index)
    return set(common[(a[common] == b[common]).to_numpy()])


def lbm2_agreement(store: Store, result: LevelScores) -> pd.DataFrame:
    """Aggregated LBM3 classes against the official LBM 2.0 classes, per level, subset and year.

    gemeente: PC4 scores aggregated to the 2017 gemeenten (the division nearest the LBM2 file's 2016
    boundaries; codes matched). wijk: the stored values (latest vintage) matched by code to the 2016 wijken,
    all and 'unchanged' (same code and name in 2017 and the stored vintage). pc4 (reference): the official
    LBM3 PC4 classes against the official LBM2 PC4 classes, i.e. how far the two instruments agree without
    any aggregation. Columns: level, subset, year, n, exact, within_1, mean_difference (LBM3 minus LBM2 class),
    spearman (aggregated afw against the LBM2 class).
    """
    rows = []

    def add(level: str, subset: str, ours: pd.DataFrame, official: pd.DataFrame) -> None:
        m = ours.merge(official, on=["code", "year"])
        for year, g in m.groupby("year"):
            r = _class_agreement(g["klasse"], g["lbm2_klasse"])
            sp = spearmanr(g["afw"], g["lbm2_klasse"]).statistic if len(g) > 2 else np.nan
            rows.append({"level": level, "subset": subset, "year": int(year), **r, "spearman": float(sp)})

    pc4 = official_scores(store, "pc4")
    gm_official = lbm2_classes(store, "gemeente")
    if not pc4.empty and not gm_official.empty and 2017 in set(
            store.sql("SELECT DISTINCT to_vintage FROM crosswalks WHERE from_level = 'pc4' "
                      "AND to_level = 'gemeente'")["to_vintage"]):
        years = sorted(int(y) for y in gm_official["year"].unique())
        pop = population_weights(store, "pc4", years).frame
        shares = _shares(store, "pc4", _geometry_vintage(store, "pc4"), "gemeente", 2017, {})
        agg, _ = aggregate(pc4[pc4["year"].isin(years)], pop, shares)
        agg["klasse"] = classify_total(agg["afw"].to_numpy(float)).astype(float)
        add("gemeente", "boundaries 2017, all", agg, gm_official)
    wk_official = lbm2_classes(store, "wijk")
    wk = result.scores[result.scores["level"] == "wijk"]
    if not wk.empty and not wk_official.empty:
        ours = wk[["code", "year", "afw", "klasse"]].astype({"klasse": float})
        add("wijk", f"boundaries {result.vintages['wijk']}, all codes", ours, wk_official)
        same = _unchanged_wijken(store, result.vintages["wijk"])
        add("wijk", f"boundaries {result.vintages['wijk']}, unchanged", ours[ours["code"].isin(same)],
            wk_official)
    pc4_official = lbm2_classes(store, "pc4")
    if not pc4.empty and not pc4_official.empty:
        ref = pc4.assign(klasse=classify_total(pc4["afw"].to_numpy(float)).astype(float))
        add("pc4", "official LBM3 vs LBM2 (reference)", ref, pc4_official)
    out = pd.DataFrame(rows)
    if out.empty:
        return out
    total = out.groupby(["level", "subset"]).apply(
        lambda g: pd.Series({"n": int(g["n"].sum()), **{c: float(np.average(g[c], weights=g["n"]))
                                                       for c in ("exact", "within_1", "mean_difference", "spearman")}}),
        include_groups=False).reset_index().assign(year="all")
    return pd.concat([out.astype({"year": object}), total], ignore_index=True)


def index_scores(store: Store, years: list[int], spec: str = SPEC) -> pd.DataFrame:
    """The index's official and modelled PC4 rows of ``years``: code, year, kind, afw, won .. onv."""
    have = store.sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'scores'")["n"].iloc[0]
    if not have:
        return pd.DataFrame(columns=["code", "year", "kind", *VALUES])
    return store.sql(f"SELECT code, year, kind, {', '.join(VALUES)} FROM scores WHERE spec = ? AND level = 'pc4' "
                     f"AND kind <> ? "
                     f"AND year IN ({', '.join('?' * len(years))})", [spec, KIND, *years])


def validate_2024(store: Store, result: LevelScores) -> pd.DataFrame:
    """The 2024 PC4 values (buurt scores carried to PC4) as a test of the 2023 nowcast and of change detection.

    Rows (all on afw, score points): the 2023 nowcast and the official 2022 value (persistence) as predictions
    of the 2024 level; the modelled change 2022 -> 2023 against the measured change 2022 -> 2024; the official
    change 2020 -> 2022 against it (how much a change persists); the historical interpolation test (official
    2020 against the mean of official 2018 and 2022; change 2018 -> 2020 against half of 2018 -> 2022); and
    the sd of every two-year change (the 2022 -> 2024 one includes the aggregation error); the level of each
    dimension, nowcast 2023 against measured 2024. Columns: test,
    what, n, spearman, r2, mae, sd_change.
    """
    pc4_all = result.scores[(result.scores["level"] == "pc4") & (result.scores["year"] == 2024)].set_index("code")
    pc4 = pc4_all["afw"]
    off = official_scores(store, "pc4").pivot(index="code", columns="year", values="afw")
    idx = index_scores(store, [2023])
    now_all = idx[idx["kind"] == "modelled"].set_index("code")
    now = now_all["afw"]
    codes = off.index.union(pc4.index)
    off, m24, n23 = off.reindex(codes), pc4.reindex(codes).to_numpy(float), now.reindex(codes).to_numpy(float)
    o = {y: off[y].to_numpy(float) if y in off else np.full(len(codes), np.nan) for y in (2014, 2018, 2020, 2022)}
    rows = [
        ("nowcast", "level: nowcast 2023 vs measured 2024", n23, m24),
        ("persistence", "level: official 2022 vs measured 2024", o[2022], m24),
        ("nowcast", "change: nowcast 2023 - official 2022 vs measured 2024 - official 2022", n23 - o[2022],
         m24 - o[2022]),
        ("persistence", "change: official 2022 - 2020 vs measured 2024 - official 2022", o[2022] - o[2020],
         m24 - o[2022]),
        ("interpolation (history)", "level: (official 2018 + 2022) / 2 vs official 2020", (o[2018] + o[2022]) / 2,
         o[2020]),
        ("interpolation (history)", "change: (official 2022 - 2018) / 2 vs official 2020 - 2018",
         (o[2022] - o[2018]) / 2, o[2020] - o[2018]),
    ]
    rows += [("dimension", f"level {d}: nowcast 2023 vs measured 2024", now_all[d].reindex(codes).to_numpy(float),
              pc4_all[d].reindex(codes).to_numpy(float)) for d in DIMENSIONS]
    out = [{"test": t, "what": w, **_fit(p, y)} for t, w, p, y in rows]
    sds = {}
    for a, b, v in ((2018, 2020, o[2020] - o[2018]), (2020, 2022, o[2022] - o[2020]), (2022, 2024, m24 - o[2022])):
        label = "measured 2024 - official 2022" if b == 2024 else f"official {b} - {a}"
        sds[b] = float(np.nanstd(v, ddof=1))
        out.append({"test": "spread", "what": f"sd of the change {label}", "n": int((~np.isnan(v)).sum()),
                    "sd_change": sds[b], "mae": float(np.nanmean(np.abs(v)))})
    # The 2024 endpoint is noisier than an official one: the excess spread of its two-year change over the
    # official ones is taken as aggregation error, added to the official 2022 endpoint of the history test.
    noise = float(np.sqrt(max(sds[2024] ** 2 - (sds[2020] ** 2 + sds[2022] ** 2) / 2, 0.0)))
    fits = []
    for draw in range(NOISE_DRAWS):
        e = np.random.default_rng(draw).normal(0.0, noise, len(codes))
        fits.append(pd.DataFrame([_fit((o[2018] + o[2022] + e) / 2, o[2020]),
                                  _fit((o[2022] + e - o[2018]) / 2, o[2020] - o[2018])]))
    mean = sum(fits) / len(fits)
    for i, what in enumerate(("level", "change")):
        out.append({"test": "interpolation (history, noisy endpoint)", **mean.iloc[i].to_dict(), "sd_change": noise,
                    "what": f"{what}: interpolation as above with noise added to official 2022 (sd: last column)"})
    return pd.DataFrame(out)[["test", "what", "n", "spearman", "r2", "mae", "sd_change"]]
