"""Monitoring (leefbaar.analysis): numbers checked against hand computations on small real subsets."""

from __future__ import annotations

import itertools
import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from inequality.gini import Gini
from inequality.theil import Theil, TheilD
from typer.testing import CliRunner

from leefbaar.analysis.clusters import conditional_randomisation, contiguity, global_moran, local_moran, persistence
from leefbaar.analysis.gap import GapAnalysis, gini, measures, theil_decomposition, theil_t
from leefbaar.analysis.groups import area_group, assign, initial_class, user_groups
from leefbaar.analysis.panel import LBM_REFERENCE, Panel, load_panel
from leefbaar.analysis.trends import area_trends, group_trends, slope
from leefbaar.analysis.vulnerable import VulnerableAreas, load_definition, parse_definition, trend_test
from leefbaar.analysis.weights import population_weights
from leefbaar.cli import app
from leefbaar.errors import InputError, SpecError, StoreError
from leefbaar.index.classes import classify_component, classify_total, development_class

AMSTERDAM = [str(c) for c in range(1011, 1019)]  # eight contiguous PC4 in the centre of Amsterdam


@pytest.fixture(scope="module")
def official(store_file):
    from leefbaar.store.store import Store

    with Store.open(store_file) as st:
        yield load_panel(st)


def lbm(panel: Panel, codes: list[str], year: int) -> np.ndarray:
    part = panel.frame[(panel.frame["year"] == year) & panel.frame["code"].isin(codes)].set_index("code")
    return part.loc[codes, "total"].to_numpy(float)


# -- inequality measures ---------------------------------------------------------------------------------------
def test_gini_and_theil_by_hand_on_five_real_pc4(official):
    y = lbm(official, AMSTERDAM[:5], 2022)
    assert len(y) == 5 and (y > 3).all()
    n, mu = len(y), y.mean()
    gini_hand = sum(abs(a - b) for a in y for b in y) / (2 * n * n * mu)
    theil_hand = sum((v / mu) * math.log(v / mu) for v in y) / n
    assert gini(y) == pytest.approx(gini_hand, rel=1e-12)
    assert theil_t(y) == pytest.approx(theil_hand, rel=1e-12)
    assert Gini(y).g == pytest.approx(gini_hand, rel=1e-12)  # the PySAL package agrees
    assert float(np.ravel(Theil(y).T)[0]) == pytest.approx(theil_hand, rel=1e-9)


def test_weighted_measures_equal_replicated_areas(official):
    """Integer weights (residents) must give the same result as repeating each area that many times."""
    y = lbm(official, AMSTERDAM[:5], 2022)
    w = np.array([3, 1, 4, 1, 5], float)
    rep = np.repeat(y, w.astype(int))
    assert gini(y, w) == pytest.approx(gini(rep), rel=1e-12)
    assert theil_t(y, w) == pytest.approx(theil_t(rep), rel=1e-12)
    m = measures(y, w, None, positive=True)
    assert m["mean_w"][0] == pytest.approx(rep.mean())
    assert m["sd_w"][0] == pytest.approx(rep.std())
    # equal weights: quantiles are numpy's 'hazen' quantiles
    m = measures(y, np.ones(5), None, positive=True)
    assert m["p90_p10"][0] == pytest.approx(np.diff(np.quantile(y, [0.1, 0.9], method="hazen"))[0])


def test_theil_decomposition_by_hand(official):
    y = lbm(official, AMSTERDAM, 2022)
    groups = np.array(["a"] * 3 + ["b"] * 5)
    total, between = theil_decomposition(y, np.ones(len(y)), groups)
    mu = y.mean()
    hand_between = sum((g.sum() / y.sum()) * math.log(g.mean() / mu) for g in (y[:3], y[3:]))
    hand_within = sum((g.sum() / y.sum()) * theil_t(g) for g in (y[:3], y[3:]))
    assert between == pytest.approx(hand_between, rel=1e-12)
    assert total == pytest.approx(hand_between + hand_within, rel=1e-12)
    d = TheilD(y, groups)
    assert float(np.ravel(d.bg)[0]) == pytest.approx(between, rel=1e-9)


def test_gap_analysis_on_one_gemeente(store, official):
    codes = [c for c in official.frame["code"].unique() if c.startswith("30")][:60]  # Rotterdam 30xx
    sub = Panel(official.frame[official.frame["code"].isin(codes)].reset_index(drop=True), "pc4", "official",
                "test", "score", 1, list(official.components))
    pw = population_weights(store, "pc4", sub.years)
    gap = GapAnalysis(sub, pw, n_boot=49, seed=1, years=[2002, 2022]).fit()
    wide = sub.balanced([2002, 2022])
    est = gap.by_year.set_index(["year", "measure"])["estimate"]
    for y in (2002, 2022):
        q10, q90 = np.quantile(wide[y], [0.1, 0.9], method="hazen")
        assert est[(y, "p90_p10")] == pytest.approx(q90 - q10)
        assert est[(y, "sd")] == pytest.approx(wide[y].std(ddof=0))
        assert est[(y, "gini")] == pytest.approx(Gini(wide[y].to_numpy()).g)
    ch = gap.change.set_index("measure").loc["p90_p10"]
    assert ch["change"] == pytest.approx(est[(2022, "p90_p10")] - est[(2002, "p90_p10")])
    assert ch["lo"] <= ch["change"] <= ch["hi"]
    expected = "growing" if ch["lo"] > 0 else "shrinking" if ch["hi"] < 0 else "no_change"
    assert gap.verdict == expected
    beta = gap.beta.iloc[0]
    slope_hand = np.polyfit(wide[2002], (wide[2022] - wide[2002]) / 20, 1)[0]
    assert beta["beta_per_year"] == pytest.approx(slope_hand)
    rows = gap.by_year
    assert ((rows["lo"] <= rows["estimate"] + 1e-12) | rows["measure"].str.startswith("share")).all()


# -- population weights, groups and trends ---------------------------------------------------------------------
def test_population_weights_use_nearest_cbs_year(store):
    pw = population_weights(store, "pc4", [2002, 2016, 2018, 2024], "inwoner")
    assert pw.substitutions == {2002: 2017, 2016: 2017, 2024: 2023}
    raw = store.table("pc4", years=[2017, 2018], indicators=["inwoner"]).set_index(["code", "year"])["inwoner"]
    w = pw.frame.set_index(["code", "year"])["weight"]
    assert w[("1011", 2002)] == raw[("1011", 2017)]
    assert w[("1011", 2018)] == raw[("1011", 2018)]
    assert any("2002->2017" in n for n in pw.notes())


def test_slope_matches_polyfit(official):
    wide = official.wide("total").loc[AMSTERDAM[:3]]
    ours = slope(wide)
    for i, code in enumerate(wide.index):
        row = wide.loc[code].dropna()
        assert ours[i] == pytest.approx(np.polyfit(row.index.to_numpy(float), row.to_numpy(), 1)[0])


def test_area_trends_changes_and_classes(official):
    t = area_trends(official).set_index("code")
    row = official.frame[official.frame["code"] == "1011"].set_index("year")
    assert t.loc["1011", "change"] == pytest.approx(row.loc[2022, "total"] - row.loc[2002, "total"])
    assert t.loc["1011", "class_last"] == classify_total(row.loc[2022, "afw"])
    assert t.loc["1011", "development_class"] == development_class(t.loc["1011", "change"])
    assert t.loc["1011", "won_change_2014_2022"] == pytest.approx(row.loc[2022, "won"] - row.loc[2014, "won"])
    # lbm = reference + afw in the official series
    assert row["total"].to_numpy() == pytest.approx(LBM_REFERENCE + row["afw"].to_numpy())


def test_group_trends_weighted_mean_by_hand(store, official, tmp_path):
    f = tmp_path / "centrum.csv"
    f.write_text("code,group\n1011,west\n1012,west\n1013,oost\n1014,oost\n1015,oost\n", encoding="utf-8")
    g = user_groups(f)
    pw = population_weights(store, "pc4", official.years, "inwoner")
    table = group_trends(official, [g], {"inwoner": pw})
    row = table[(table["grouping"] == g.name) & (table["group"] == "oost") & (table["variable"] == "total")
                & (table["year"] == 2022)].iloc[0]
    y = lbm(official, ["1013", "1014", "1015"], 2022)
    res = store.table("pc4", years=[2022], indicators=["inwoner"]).set_index("code").loc[["1013", "1014", "1015"],
                                                                                         "inwoner"].to_numpy()
    assert row["n_areas"] == 3
    assert row["mean"] == pytest.approx(y.mean())
    assert row["mean_inwoner"] == pytest.approx((y * res).sum() / res.sum())
    first = table[(table["grouping"] == g.name) & (table["group"] == "oost") & (table["variable"] == "total")
                  & (table["year"] == 2002)].iloc[0]
    assert row["change_mean"] == pytest.approx(row["mean"] - first["mean"])


def test_groupings_initial_class_and_apcg(store, official):
    g = initial_class(official)
    afw = official.frame[(official.frame["year"] == 2002) & (official.frame["code"] == "1011")]["afw"].iloc[0]
    assert g.labels["1011"].startswith(f"{classify_total(afw)} ")
    apcg = area_group(store, "apcg_2019")
    labels = assign(apcg, pd.Index(["1011", "3073"]))
    assert labels["3073"] == "APCG 2019" and labels["1011"] == "overig"  # Rotterdam-Zuid is APCG, 1011 not
    with pytest.raises(StoreError, match="no area group"):
        area_group(store, "nonexistent")


def test_user_groups_file_errors(tmp_path):
    bad = tmp_path / "dup.csv"
    bad.write_text("code,group\n1011,a\n1011,b\n", encoding="utf-8")
    with pytest.raises(InputError, match="listed twice") as exc:
        user_groups(bad)
    assert exc.value.row == 3
    none = tmp_path / "nocode.csv"
    none.write_text("pc4\n1011\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing"):
        user_groups(none)


# -- spatial ----------------------------------------------------------------------------------------------------
def test_queen_neighbours_and_moran_by_hand(store, official):
    geo = store.geometries("pc4", 2017)
    sub = geo[geo["code"].isin(AMSTERDAM)].reset_index(drop=True)
    w, islands = contiguity(sub).weights(AMSTERDAM)
    assert not islands
    # independent neighbours: polygons that touch (shapely), checked pair by pair
    for a, b in itertools.combinations(range(len(sub)), 2):
        touch = sub.geometry[a].touches(sub.geometry[b])
        assert (sub["code"][b] in w.neighbors[sub["code"][a]]) == touch
    y = lbm(official, list(w.id_order), 2022)
    z = y - y.mean()
    n = len(y)
    num = sum(w.weights[c][k] * z[i] * z[w.id_order.index(nb)]
              for i, c in enumerate(w.id_order) for k, nb in enumerate(w.neighbors[c]))
    moran_hand = (n / n) * num / (z @ z)  # row-standardised: S0 = n
    assert global_moran(y, w, permutations=99)["I"] == pytest.approx(moran_hand, rel=1e-12)
    lisa = local_moran(y, w, permutations=99, seed=3)
    zs = z / y.std()
    for i, c in enumerate(w.id_order):
        lag = np.mean([zs[w.id_order.index(nb)] for nb in w.neighbors[c]])
        assert lisa["Is"][i] == pytest.approx((n - 1) * zs[i] * lag / (zs @ zs), rel=1e-12)


def test_conditional_randomisation_matches_exact_null(official, store):
    """With many permutations the pseudo p-value approaches the exact conditional p-value, which is found by
    enumerating every set of k_i neighbour values drawn from the other n-1 areas."""
    geo = store.geometries("pc4", 2017)
    w, _ = contiguity(geo[geo["code"].isin(AMSTERDAM)]).weights(AMSTERDAM)
    y = lbm(official, list(w.id_order), 2022)
    z = (y - y.mean()) / y.std()
    n = len(z)
    scale = (n - 1) / (z @ z)
    lag = np.array([np.mean([z[w.id_order.index(nb)] for nb in w.neighbors[c]]) for c in w.id_order])
    obs = scale * z * lag
    p = conditional_randomisation(z, w, obs, permutations=20000, seed=7, chunk=5000)
    for i, c in enumerate(w.id_order):
        k = len(w.neighbors[c])
        others = np.delete(z, i)
        sims = np.array([scale * z[i] * np.mean(s) for s in itertools.combinations(others, k)])
        ge = np.mean(sims >= obs[i] - 1e-12 - 1e-9 * abs(obs[i]))  # the observed set itself is a tie
        exact = min(ge, 1 - ge)
        assert p[i] == pytest.approx(exact, abs=0.012), c


def test_persistence_patterns():
    lisa = pd.DataFrame({"code": ["a", "a", "b", "b", "c", "c"], "year": [1, 2] * 3,
                         "cluster": ["LL", "LL", "LL", "ns", "ns", "HH"]})
    trans, per = persistence(lisa)
    per = per.set_index("code")
    assert per.loc["a", "pattern"] == "persistent_cold"
    assert per.loc["b", "pattern"] == "left_cold"
    assert per.loc["c", "pattern"] == "became_hot"
    assert trans.set_index(["from_cluster", "to_cluster"])["n"].sum() == 3


# -- vulnerable areas ------------------------------------------------------------------------------------------
def test_definition_validation_names_the_field():
    good = load_definition()
    assert good.decline_method == "development_class" and good.required == ("level",)
    with pytest.raises(SpecError, match="criteria.decline: 'method' must be one of"):
        parse_definition({"id": "x", "criteria": {"level": {"max_class": 4}, "decline": {"method": "magic"},
                                                  "cumulation": {"dimensions": ["won"], "min_count": 1}},
                          "rule": {"min_met": 1}}, "my.yaml")
    with pytest.raises(SpecError, match="unknown key 'weights'"):
        parse_definition({"id": "x", "weights": 1}, "my.yaml")
    with pytest.raises(SpecError, match="'min_count' must be between 1 and 1"):
        parse_definition({"id": "x", "criteria": {"level": {"max_class": 4}, "decline": {"method": "trend"},
                                                  "cumulation": {"dimensions": ["won"], "min_count": 3}},
                          "rule": {"min_met": 1}}, "my.yaml")


def test_trend_test_by_hand():
    wide = pd.DataFrame([[1.0, 0.9, 0.85, 0.7], [1.0, np.nan, 1.0, 1.0]], columns=[2014, 2018, 2020, 2022])
    t = trend_test(wide)
    x = np.array([2014, 2018, 2020, 2022], float)
    b, a = np.polyfit(x, wide.iloc[0].to_numpy(), 1)
    resid = wide.iloc[0].to_numpy() - (a + b * x)
    se = math.sqrt((resid @ resid) / 2 / ((x - x.mean()) @ (x - x.mean())))
    assert t["slope"].iloc[0] == pytest.approx(b) and t["se"].iloc[0] == pytest.approx(se)
    assert t["fitted_change"].iloc[0] == pytest.approx(8 * b)
    assert t["slope"].iloc[1] == pytest.approx(0.0)


def test_vulnerable_areas_follow_the_definition(store, official):
    vul = VulnerableAreas(load_definition()).fit(official, store)
    a = vul.areas.set_index("code")
    assert vul.year == 2022 and vul.since == 2014
    frame = official.frame.set_index(["code", "year"])
    for code in a.index[:5].tolist() + a.index[-3:].tolist():
        now, then = frame.loc[(code, 2022)], frame.loc[(code, 2014)]
        level = classify_total(now["afw"]) <= 4
        decline = development_class(now["afw"] - then["afw"]) <= 3
        n_low = sum(classify_component(now[d]) <= 3 for d in ("won", "fys", "vrz", "soc", "onv"))
        assert a.loc[code, "level"] == level and a.loc[code, "decline"] == decline
        assert a.loc[code, "n_low"] == n_low
        assert a.loc[code, "flagged"] == (level and (decline + (n_low >= 2) >= 1))
    flagged = a[a["flagged"]]
    assert flagged["rank"].tolist() == list(range(1, len(flagged) + 1))
    assert flagged["level"].all() and "klasse" in flagged["reason"].iloc[0]
    # reasons shared between areas without decline are written once: the same text as area by area
    cols = [c for c in ("class", "level", "decline", "development_class", "change", "slope", "slope_t",
                        *(f"{p}{d}" for d in vul.definition.dimensions for p in ("k", "low_")),
                        *(f"low_{r.id}" for r in vul.definition.indicators)) if c in a.columns]
    assert a["reason"].tolist() == [vul._reason(k) for k in a[cols].to_dict("records")]
    apcg = set(store.area_groups("apcg_2019")["code"])
    vul.compare(store, apcg, "apcg_2019")
    c = vul.comparison
    assert c["both"] + c["only_flagged"] == len(flagged)
    assert c["both"] == len(set(flagged.index) & apcg)
    assert vul.profile.set_index("set").loc["both", "n"] == c["both"]


# -- commands on the real store --------------------------------------------------------------------------------
runner = CliRunner()


def run(*args):
    result = runner.invoke(app, [str(a) for a in args], catch_exceptions=True)
    return result


def test_gap_command_writes_answer_and_band(store_file, tmp_path):
    out = tmp_path / "gap"
    r = run("gap", "--store", store_file, "--out", out, "--bootstrap", 19, "--years", "2002,2022", "--lang", "en")
    assert r.exit_code == 0, r.output
    text = (out / "summary.md").read_text()
    assert "**Answer: the gap" in text and "P90-P10" in text
    change = pd.read_csv(out / "gap_change.csv").set_index("measure")
    assert {"p90_p10", "theil", "gini", "share_below_w"} <= set(change.index)
    assert (out / "gap.png").stat().st_size > 10_000 and (out / "gap.svg").exists()
    assert json.loads((out / "run.json").read_text())["params"]["bootstrap"] == 19
    dec = pd.read_csv(out / "theil_decomposition.csv")
    assert (dec["between"] + dec["within"]).to_numpy() == pytest.approx(dec["theil"].to_numpy())


def test_trends_vulnerable_clusters_commands(store_file, tmp_path):
    out = tmp_path / "t"
    r = run("trends", "--store", store_file, "--out", out, "--group", "initial", "--group", "apcg_2019",
            "--years", "2002,2014,2022")
    assert r.exit_code == 0, r.output
    assert (out / "trends_initial_class.png").exists() and (out / "dimensions_apcg_2019.svg").exists()
    assert "Klasse in 2002" in (out / "summary.md").read_text()
    out = tmp_path / "v"
    r = run("vulnerable", "--store", store_file, "--out", out, "--top", 3)
    assert r.exit_code == 0, r.output
    assert "Vergelijking met APCG 2019" in (out / "summary.md").read_text()
    assert (out / "vulnerable_map.png").exists() and (out / "definition.yaml").exists()
    out = tmp_path / "c"
    r = run("clusters", "--store", store_file, "--out", out, "--years", "2018,2022", "--permutations", 99,
            "--no-maps")
    assert r.exit_code == 0, r.output
    moran = pd.read_csv(out / "moran_global.csv")
    assert len(moran) == 2 and (moran["I"] > 0.2).all()
    assert "Moran's I" in (out / "summary.md").read_text()


def test_commands_fail_with_one_clear_error(store_file, tmp_path):
    copy = store_file
    r = run("gap", "--store", copy, "--out", tmp_path / "x", "--source", "index")
    assert isinstance(r.exception, StoreError) and "leefbaar score" in str(r.exception)
    r = run("trends", "--store", copy, "--out", tmp_path / "x", "--level", "gemeente")
    assert isinstance(r.exception, StoreError) and "per PC4" in str(r.exception)
    r = run("clusters", "--store", copy, "--out", tmp_path / "x", "--variable", "xyz")
    assert r.exception is not None and "--variable" in str(r.exception)


def test_index_source_and_programme_groups(store_file, tmp_path, official):
    """leefbaar's own scores (table ``scores``) and resolved programme areas are read from the store."""
    from leefbaar.analysis.groups import programme_groupings
    from leefbaar.store.store import Store

    copy = tmp_path / "s.duckdb"
    shutil.copy(store_file, copy)
    real = official.frame[official.frame["year"].isin([2018, 2022])]
    scores = real.assign(spec="test", level="pc4", klasse=0, kind="official")
    with Store.open(copy, read_only=False) as st, st.transaction():
        st.replace("scores", scores[["spec", "level", "code", "year", "total", "afw", "won", "fys", "vrz", "soc",
                                     "onv", "klasse", "kind"]])
    with Store.open(copy) as st:
        panel = load_panel(st, "index", "pc4", spec="test")
        with pytest.raises(StoreError, match="no index scores for spec 'other'"):
            load_panel(st, "index", "pc4", spec="other")
    assert panel.years == [2018, 2022] and panel.components == ["won", "fys", "vrz", "soc", "onv"]
    merged = panel.frame.merge(real, on=["code", "year"], suffixes=("", "_o"))
    assert len(merged) == len(real) and (merged["total"] == merged["total_o"]).all()
    rows = pd.DataFrame({"programme": ["nprz", "nprz", "nprz", "apcg_2019"], "link": ["nprz_focuswijken"] * 3 +
                         ["apcg_2019"], "code": ["3073", "3074", "3081", "1011"], "share": [0.9, 0.5, 0.2, 1.0]})
    groups = programme_groupings(rows, 0.5, skip={"apcg_2019"})
    assert len(groups) == 1 and set(groups[0].labels.index) == {"3073", "3074"}
