"""A spec with its own dimension names and no calibration, scored with draws into a store (as ``leefbaar
score``), on every surface: the facts layer lists its dimensions with both labels, the API maps each of them
(quantile legend: they are not on the Leefbaarometer's component scale) and refuses the five it does not have,
the profile, ranking, trend, comparison and map downloads carry them, the gemeente report names them. The
browser check of the map's picker is in test_browser_custom_dimensions.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SPEC = {"name": "eigen", "level": "pc4", "weighting": "expert", "normalisation": "zscore",
        "dimensions": {
            "wonen": {"label_nl": "wonen", "label_en": "housing", "weight": 2,
                      "indicators": [{"id": "wozwoning", "direction": 1, "transform": "log"},
                                     {"id": "p_koopwon", "direction": 1}]},
            "groen": {"label_nl": "groen en ruimte", "label_en": "green and space",
                      "indicators": [{"id": "oad", "direction": -1, "transform": "log"}]},
            "veilig": {"label_nl": "veiligheid", "label_en": "safety",
                       "indicators": [{"id": "p_link_hh", "direction": -1}, {"id": "uitkminaow", "direction": -1}]}}}
DIMS = {"wonen": ("Wonen", "Housing"), "groen": ("Groen en ruimte", "Green and space"),
        "veilig": ("Veiligheid", "Safety")}


def score_custom(store_file: Path, folder: Path) -> Path:
    """A copy of the session store scored for 2022 with ``SPEC`` (expert weights, 20 draws): its only spec."""
    from leefbaar.index.pipeline import build_scores, write_scores
    from leefbaar.index.spec import parse_spec
    from leefbaar.store.store import Store

    folder.mkdir(parents=True, exist_ok=True)
    path = Path(shutil.copy(store_file, folder / "eigen.duckdb"))
    with Store.open(path, read_only=False) as st:
        write_scores(st, build_scores(st, parse_spec(SPEC, "eigen.yaml"), [2022], n_draws=20, seed=1),
                     {"spec": "eigen.yaml"})
    return path


@pytest.fixture(scope="module")
def custom(store_file, tmp_path_factory) -> Path:
    return score_custom(store_file, tmp_path_factory.mktemp("custom"))


@pytest.fixture(scope="module")
def client(custom):
    from fastapi.testclient import TestClient

    from leefbaar.web import create_app

    with TestClient(create_app(custom, warm=False), raise_server_exceptions=False) as c:
        yield c


def test_facts_list_the_specs_dimensions(custom):
    from leefbaar.facts import Facts
    from leefbaar.store.store import Store

    with Store.open(custom) as st:
        facts = Facts(st)
        assert facts.spec == "eigen"
        assert [(d["code"], d["label"]["nl"], d["label"]["en"]) for d in facts.dimensions] == [
            (c, nl, en) for c, (nl, en) in DIMS.items()]
        sc = facts.scores("pc4")
        cur = sc[(sc["year"] == 2022) & sc["afw"].notna()]
        assert cur[list(DIMS)].notna().all().all() and cur[["won", "fys"]].isna().all().all()


def test_every_dimension_maps_with_intervals(client):
    meta = client.get("/api/meta").json()
    assert meta["spec"] == "eigen"
    assert [(d["id"], d["label"]["nl"], d["label"]["en"]) for d in meta["dimensions"]] == [
        (c, nl, en) for c, (nl, en) in DIMS.items()]
    for dim in DIMS:
        r = client.get(f"/api/map/pc4?year=2022&measure={dim}")
        assert r.status_code == 200, (dim, r.text)
        body = r.json()
        assert body["measure"] == dim and body["kind"] == "modelled" and body["interval_level"] == 90
        values = [v for v in body["values"] if v is not None]
        assert len(values) > 3000 and len(set(values)) > 100
        legend = body["legend"]
        assert legend["scheme"] == "quantiles" and len(legend["colors"]) == len(legend["labels_nl"]) > 3
        assert "score" not in legend["labels_nl"][0] and "," in legend["labels_nl"][0]  # Dutch decimal comma
        assert max(body["bins"]) == len(legend["colors"]) - 1
    for absent in ("won", "onv", "nonsense"):  # the Leefbaarometer's dimensions are not this spec's
        assert client.get(f"/api/map/pc4?year=2022&measure={absent}").status_code == 422
    total = client.get("/api/map/pc4?year=2022&measure=total").json()
    code = total["codes"][total["values"].index(max(v for v in total["values"] if v is not None))]
    profile = client.get(f"/api/profile/pc4/{code}?year=2022").json()
    assert [(d["id"], d["label"]["nl"], d["label"]["en"]) for d in profile["dimensions"]] == [
        (c, nl, en) for c, (nl, en) in DIMS.items()]
    assert all(d["value"] is not None and d["nederland"] is not None and d["klasse"] is None
               for d in profile["dimensions"])
    interval = profile["score"]["interval"]
    assert interval["level"] == 90 and interval["lo"] <= profile["score"]["total"] <= interval["hi"]
    assert interval["lo"] < interval["hi"]


def test_downloads_carry_the_dimensions(client):
    import io

    import pandas as pd

    def table(path):
        r = client.get(path)
        assert r.status_code == 200, (path, r.text)
        return pd.read_csv(io.StringIO(r.content.decode("utf-8-sig")))

    ranking = table("/api/download/ranking/pc4?year=2022&format=csv")
    assert {"wonen", "groen", "veilig", "total_lo", "total_hi"} <= set(ranking.columns)
    assert not {"won", "fys", "vrz", "soc", "onv"} & set(ranking.columns)
    assert ranking[["wonen", "groen", "veilig", "total_lo", "total_hi"]].notna().mean().min() > 0.9
    code = str(ranking["code"].iloc[0])
    trend = table(f"/api/download/profile/pc4/{code}?format=csv")
    assert trend.loc[trend["year"] == 2022, ["wonen", "groen", "veilig", "total_lo"]].notna().all().all()
    mapped = table("/api/download/map/pc4?year=2022&format=csv&measure=groen")
    assert "groen" in mapped.columns and mapped["groen"].notna().mean() > 0.9
    other = str(ranking["code"].iloc[1])
    compare = table(f"/api/download/compare?area=pc4:{code}&area=pc4:{other}&year=2022&format=csv")
    assert len(compare) == 2 and compare[["wonen", "groen", "veilig"]].notna().all().all()


def test_report_names_the_dimensions(custom):
    from leefbaar.report.data import DashboardData
    from leefbaar.report.gemeente import _Content
    from leefbaar.store.store import Store

    with Store.open(custom) as st:
        content = _Content(DashboardData(st), "GM0599", "pc4", 2022, "en")
        ranked = content.ranked_table()
        assert {"Housing", "Green and space", "Safety"} <= set(ranked.columns)
        assert "Housing stock" not in ranked.columns
        svg = content.dims_figure()
        labels = [t.get_text() for t in svg.axes[0].get_yticklabels()]
        assert labels == ["Housing", "Green and space", "Safety"]


def test_export_takes_the_specs_dimensions(custom, tmp_path):
    """``leefbaar export map`` maps a dimension of the spec, and refuses one it does not have (in the user's
    language, naming the measures this store has; test_i18n_leaks.py cannot: it has no store)."""
    import pandas as pd
    from typer.testing import CliRunner

    from leefbaar.cli import app
    from leefbaar.errors import InputError

    run = CliRunner().invoke(app, ["export", "map", "--measure", "veilig", "--year", "2022", "--gemeente", "GM0599",
                                   "--store", str(custom), "--out", str(tmp_path)])
    assert run.exit_code == 0, run.output
    written = pd.read_csv(next(tmp_path.glob("*veilig*.csv")), sep=None, engine="python", encoding="utf-8-sig")
    assert len(written) > 20
    texts = {}
    for lang in ("nl", "en"):
        run = CliRunner().invoke(app, ["export", "map", "--measure", "won", "--store", str(custom), "--out",
                                       str(tmp_path), "--lang", lang])
        assert run.exit_code == 1 and isinstance(run.exception, InputError), run.output
        texts[lang] = str(run.exception)
        assert "'won'" in texts[lang] and "wonen, groen, veilig" in texts[lang]
    assert texts["nl"] != texts["en"]
