"""Segregation indices against hand computation (8 real Rotterdam PC4) and against PySAL ``segregation`` (all
PC4 3000-3089, 2022), a planted change that the decomposition must call spatial, and the CLI on the real store.

Data: ``cbs_pc4/cbs_pc4_2022.csv`` (CBS PC4 2022: AANTAL_HH, P_LINK_HH, P_HINK_HH) and the PC4 2017 boundaries
``geo/cbs_pc4_2017_v3_simplified_rd.gpkg`` of the shared data folder.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leefbaar.analysis.segregation import indices as ix
from leefbaar.analysis.segregation.definition import counts_from_table, load_catalogue
from leefbaar.analysis.segregation.inference import Units, decompose, level_table
from leefbaar.errors import SpecError

HAND_PC4 = [3011, 3012, 3013, 3014, 3015, 3016, 3021, 3022]


@pytest.fixture(scope="module")
def pc4_2022(data_dir) -> pd.DataFrame:
    """Rotterdam-area PC4 3000-3089 with published income shares; counts = share x households."""
    d = pd.read_csv(data_dir / "cbs_pc4" / "cbs_pc4_2022.csv", usecols=["PC4", "AANTAL_HH", "P_LINK_HH", "P_HINK_HH"])
    d = d[d["PC4"].between(3000, 3089) & (d["P_LINK_HH"] >= 0) & (d["P_HINK_HH"] >= 0) & (d["AANTAL_HH"] > 0)]
    d = d.assign(low=d["P_LINK_HH"] / 100 * d["AANTAL_HH"], high=d["P_HINK_HH"] / 100 * d["AANTAL_HH"])
    d["middle"] = d["AANTAL_HH"] - d["low"] - d["high"]
    return d.sort_values("PC4").reset_index(drop=True)


def test_counts_from_shares_follow_the_catalogue(pc4_2022):
    cat = load_catalogue()
    gs = cat.sets_for("income", "pc4")[0]
    assert gs.id == "low_high" and gs.pair == ("low", "high") and gs.total == "aantal_hh"
    wide = pc4_2022.rename(columns={"PC4": "code", "AANTAL_HH": "aantal_hh", "P_LINK_HH": "p_link_hh",
                                    "P_HINK_HH": "p_hink_hh"}).assign(year=2022)
    last = wide.index[-1]
    wide.loc[last, "p_hink_hh"] = np.nan  # a suppressed share drops the area
    counts, dropped = counts_from_table(wide, gs, min_total=100)
    assert dropped.loc[dropped["reason"] == "missing", "code"].tolist() == [wide.loc[last, "code"]]
    assert (counts["total"] >= 100).all()
    row = counts[counts["code"] == 3011].iloc[0]
    assert row["low"] == pytest.approx(0.407 * 10885) and row["high"] == pytest.approx(0.197 * 10885)
    assert row["middle"] == pytest.approx(10885 * (1 - 0.407 - 0.197))


def test_indices_by_hand_on_eight_pc4(pc4_2022):
    d = pc4_2022[pc4_2022["PC4"].isin(HAND_PC4)]
    assert len(d) == len(HAND_PC4)
    x, y, m = d["low"].to_numpy(), d["high"].to_numpy(), d["middle"].to_numpy()
    X, Y = x.sum(), y.sum()
    t = x + y
    T, P = t.sum(), X / (X + Y)
    p = x / t
    # Dissimilarity, isolation and exposure written out over the eight areas.
    D = sum(abs(x[i] / X - y[i] / Y) for i in range(8)) / 2
    iso = sum(x[i] / X * x[i] / t[i] for i in range(8))
    exp_ = sum(x[i] / X * y[i] / t[i] for i in range(8))
    # Gini: the full double sum.
    G = sum(t[i] * t[j] * abs(p[i] - p[j]) for i in range(8) for j in range(8)) / (2 * T * T * P * (1 - P))

    def ent(q):
        return -(q * np.log(q) + (1 - q) * np.log(1 - q))

    H = sum(t[i] * (ent(P) - ent(p[i])) for i in range(8)) / (ent(P) * T)
    c = np.column_stack([x, m, y])
    tt, Pk = c.sum(1), c.sum(0) / c.sum()
    MD = sum(tt[i] * abs(c[i, k] / tt[i] - Pk[k]) for i in range(8) for k in range(3)) / (
        2 * c.sum() * (Pk * (1 - Pk)).sum())
    MH = sum(tt[i] * (c[i, k] / tt[i]) * np.log(c[i, k] / tt[i] / Pk[k]) for i in range(8) for k in range(3)) / (
        c.sum() * -(Pk * np.log(Pk)).sum())
    got = ix.two_group(x, y)
    assert got["dissimilarity"] == pytest.approx(D, abs=1e-12)
    assert got["isolation"] == pytest.approx(iso, abs=1e-12)
    assert got["exposure"] == pytest.approx(exp_, abs=1e-12)
    assert got["gini"] == pytest.approx(G, abs=1e-12)
    assert got["entropy"] == pytest.approx(H, abs=1e-12)
    assert ix.multi_dissimilarity(c) == pytest.approx(MD, abs=1e-12)
    assert ix.information_theory(c) == pytest.approx(MH, abs=1e-12)
    # The real figures: D of low against high income in these central Rotterdam PC4.
    assert 0.05 < D < 0.6
    # Spatial dissimilarity with a hand adjacency: a chain 0-1-2-...-7 (both directions).
    edges = np.array([(i, i + 1) for i in range(7)] + [(i + 1, i) for i in range(7)])
    adj = sum(abs(p[i] - p[i + 1]) for i in range(7)) * 2 / 14
    assert ix.spatial_dissimilarity(x, y, edges) == pytest.approx(D - adj, abs=1e-12)
    # Local measures: entropy over log(3) and location quotients.
    le = -(c / tt[:, None] * np.log(c / tt[:, None])).sum(1) / np.log(3)
    assert ix.local_entropy(c) == pytest.approx(le, abs=1e-12)
    assert ix.location_quotients(c)[:, 0] == pytest.approx((x / tt) / (X / c.sum()), abs=1e-12)


def test_agrees_with_pysal_on_rotterdam_area(pc4_2022, data_dir):
    from libpysal.weights import Queen
    from segregation.local import MultiLocalEntropy, MultiLocationQuotient
    from segregation.multigroup import MultiDissim, MultiInfoTheory
    from segregation.singlegroup import Dissim, Entropy, Interaction, Isolation, SpatialDissim

    geo = gpd.read_file(data_dir / "geo" / "cbs_pc4_2017_v3_simplified_rd.gpkg",
                        where="CAST(PC4 AS INTEGER) BETWEEN 3000 AND 3089")
    geo["PC4"] = geo["PC4"].astype(int)
    g = geo.merge(pc4_2022, on="PC4").sort_values("PC4").reset_index(drop=True)
    assert len(g) > 60
    g["t"] = g["low"] + g["high"]
    x, y = g["low"].to_numpy(), g["high"].to_numpy()
    w = Queen.from_dataframe(g, use_index=False, silence_warnings=True)
    edges = np.array([(i, j) for i, nb in w.neighbors.items() for j in nb])
    ours = ix.two_group(x, y, edges)
    frame = pd.DataFrame(g[["low", "t"]])
    assert ours["dissimilarity"] == pytest.approx(Dissim(frame, "low", "t").statistic, abs=1e-10)
    assert ours["isolation"] == pytest.approx(Isolation(frame, "low", "t").statistic, abs=1e-10)
    assert ours["exposure"] == pytest.approx(Interaction(frame, "low", "t").statistic, abs=1e-10)
    # PySAL's Gini is a numba kernel that compiles for about a minute in every new process; our Gini is checked
    # against the full double sum by hand above (and matched PySAL to 1e-16 when this test was written).
    assert ours["entropy"] == pytest.approx(Entropy(frame, "low", "t").statistic, abs=1e-10)
    sd = SpatialDissim(g[["low", "t", "geometry"]], "low", "t", w=w).statistic
    assert ours["spatial_dissimilarity"] == pytest.approx(sd, abs=1e-10)
    groups = ["low", "middle", "high"]
    c = g[groups].to_numpy()
    assert ix.multi_dissimilarity(c) == pytest.approx(MultiDissim(g[groups], groups).statistic, abs=1e-10)
    assert ix.information_theory(c) == pytest.approx(MultiInfoTheory(g[groups], groups).statistic, abs=1e-10)
    assert ix.local_entropy(c) == pytest.approx(MultiLocalEntropy(g[groups], groups).statistics, abs=1e-10)
    assert ix.location_quotients(c) == pytest.approx(MultiLocationQuotient(g[groups], groups).statistics,
                                                     abs=1e-10)
    # Vectorised over draws: a stack of two copies gives the same value twice.
    stacked = ix.gini(np.stack([x, 2 * x]), np.stack([y, 2 * y]))
    assert stacked == pytest.approx([ours["gini"]] * 2)


def test_random_allocation_and_interval(pc4_2022):
    d = pc4_2022
    u = Units(d["PC4"].astype(str).to_numpy(), d[["low", "middle", "high"]].to_numpy(), (0, 2))
    tab, boot = level_table(u, np.random.default_rng(1), np.random.default_rng(2), 99, 99, 0.95)
    row = tab.set_index("index").loc["dissimilarity"]
    # Real income sorting is far above what random allocation of households gives (small-area noise only).
    assert row["null_mean"] < 0.05 < row["value"]
    assert row["p_random"] == pytest.approx(1 / 100)
    assert row["lo"] < row["value"] < row["hi"] and row["hi"] - row["lo"] < 0.05
    assert len(boot["dissimilarity"]) == 99


def test_planted_spatial_change_is_attributed_to_the_spatial_part(pc4_2022):
    """Households move so that the areas exchange their income mix (area totals fixed): the distribution of
    area shares is unchanged, only where they are is changed. The Shapley decomposition must give (nearly) the
    whole change to the spatial part; an uneven shift of every area's shares goes mostly to the compositional
    part."""
    d = pc4_2022
    c1 = d[["low", "middle", "high"]].to_numpy()
    t = c1.sum(1)
    shares = c1 / t[:, None]
    # Give the lowest share of low income to the largest area, and so on: a real reshuffle of who lives where.
    order_share = np.argsort(shares[:, 0])
    order_size = np.argsort(-t)
    moved = np.empty_like(shares)
    moved[order_size] = shares[order_share]
    c2 = moved * t[:, None]
    codes = d["PC4"].astype(str).to_numpy()
    u1, u2 = Units(codes, c1, (0, 2)), Units(codes, c2, (0, 2))
    res = decompose(u1, u2)
    change = res["dissimilarity_last"] - res["dissimilarity_first"]
    assert abs(change) > 0.05
    # PySAL maps ranks to quantiles of the other year with linear interpolation, so even an unchanged
    # distribution of shares leaks a few per cent of the change into the compositional part.
    assert res["spatial"] + res["compositional"] == pytest.approx(change, abs=1e-12)
    assert res["spatial"] / change > 0.9
    assert abs(res["compositional"]) < 0.1 * abs(change)
    # Control: every area loses a fifth of its low-income share to the middle (composition, not place).
    c3 = c1.copy()
    c3[:, 1] += 0.2 * c1[:, 0] * np.linspace(0.2, 1.8, len(c1))
    c3[:, 0] -= 0.2 * c1[:, 0] * np.linspace(0.2, 1.8, len(c1))
    res3 = decompose(u1, Units(codes, c3, (0, 2)))
    assert abs(res3["compositional"]) > abs(res3["spatial"])
    assert res3["spatial"] + res3["compositional"] == pytest.approx(
        res3["dissimilarity_last"] - res3["dissimilarity_first"], abs=1e-12)


def test_catalogue_validation(tmp_path):
    bad = tmp_path / "seg.yaml"
    bad.write_text("settings: {min_areas: 10, min_total: 50, permutations: 99, bootstrap: 99, interval: 0.95, "
                   "seed: 1}\ndimensions:\n  income:\n    sets:\n      - {id: a, level: pc4, unit: households, "
                   "total: aantal_hh, groups: [{id: low, kind: percent, indicator: p_link_hh}, {id: mid, kind: "
                   "remainder}], pair: [low, high]}\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"seg.yaml: dimensions.income.sets\[0\].pair"):
        load_catalogue(bad)


def test_cli_on_the_real_store(store_file, tmp_path):
    from leefbaar.cli import app

    runner = CliRunner()
    out = tmp_path / "seg"
    res = runner.invoke(app, ["segregation", "--by", "tenure", "--gemeente", "Rotterdam", "--store", str(store_file),
                              "--out", str(out), "--years", "2017,2023", "--permutations", "19", "--bootstrap", "19",
                              "--no-national", "--no-maps", "--lang", "en"])
    assert res.exit_code == 0, res.output
    levels = pd.read_csv(out / "levels.csv")
    assert set(levels["year"]) == {2017, 2023} and set(levels["place"]) == {"GM0599"}
    changes = pd.read_csv(out / "changes.csv")
    d = changes[changes["index"] == "dissimilarity"].iloc[0]
    assert d["change_lo"] <= d["change"] <= d["change_hi"]
    text = (out / "summary.md").read_text(encoding="utf-8")
    assert "Rotterdam" in text and ("more segregated" in text or "less segregated" in text
                                    or "not demonstrably" in text)
    assert "wordt" not in text  # English output holds no Dutch sentence
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["command"] == "segregation" and run["params"]["gemeenten"] == ["GM0599"]
    res = runner.invoke(app, ["segregation", "--by", "migration", "--store", str(store_file), "--out", str(out)])
    assert res.exit_code != 0 and "--migration" in str(res.exception)


def test_segregation_view_for_the_facts_layer(store):
    from leefbaar.analysis.segregation import segregation_view

    v = segregation_view(store, "GM0599", "income", permutations=19, bootstrap=19)
    assert v["gemeente"] == "GM0599" and v["name"] == "Rotterdam" and v["kind"] == "measured"
    assert v["interval_level"] == 0.95 and v["unit"] == "households"
    years = [r["year"] for r in v["series"]]
    assert years == sorted(years) and years[0] == 2017 and len(years) >= 5
    assert all(r["lo"] <= r["value"] <= r["hi"] for r in v["series"])
    c = v["change"]
    assert c["year_from"] == 2017 and c["change_lo"] <= c["change"] <= c["change_hi"]
    assert v["verdict"] in {"more", "less", "no_change"}
    assert v["decomposition"]["spatial"] + v["decomposition"]["compositional"] == pytest.approx(c["change"],
                                                                                                abs=1e-9)
    assert "Rotterdam" in v["text"] and "wordt" in v["text"]


def test_gemeente_without_areas_is_a_clear_error(store):
    """A gemeente that has no PC4 area in the store's boundaries (Aalburg, merged in 2019) is refused by name,
    not a StopIteration from an empty contiguity."""
    from leefbaar.analysis.segregation import segregation_view
    from leefbaar.errors import StoreError

    with pytest.raises(StoreError, match="GM0738"):
        segregation_view(store, "GM0738", "income", permutations=19, bootstrap=19)
