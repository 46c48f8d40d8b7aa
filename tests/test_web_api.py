"""The dashboard API over the real store: numbers equal the store's, errors are clean, the server only reads."""

from __future__ import annotations

import csv
import io

import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from fastapi.testclient import TestClient

from leefbaar.index.classes import classify_total
from leefbaar.web import create_app
from leefbaar.web.geometry import encode_topojson


@pytest.fixture(scope="module")
def client(store_file):
    app = create_app(store_file, warm=False)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def lbm(store, code: str, year: int) -> dict:
    frame = store.sql("SELECT indicator, value FROM observations WHERE level = 'pc4' AND code = ? AND year = ? "
                      "AND indicator LIKE 'lbm%'", [code, year])
    return dict(zip(frame["indicator"], frame["value"], strict=True))


def test_security_headers_on_every_response(client):
    for path in ("/api/health", "/map", "/static/app.js", "/api/profile/pc4/0000", "/api/profile/xx/1"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["x-frame-options"] == "DENY"


def test_health_and_read_only(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok" and body["read_only"] is True
    con = client.app.state.data.store.con
    with pytest.raises(Exception, match="read-only"):
        con.execute("CREATE TABLE intruder (a INTEGER)")


def test_meta_lists_levels_years_and_classes(client):
    meta = client.get("/api/meta").json()
    pc4 = next(lv for lv in meta["levels"] if lv["id"] == "pc4")
    assert pc4["score_years"] == [2002, 2008, 2012, 2014, 2016, 2018, 2020, 2022]
    assert len(meta["classes"]["labels_nl"]) == 9 and meta["classes"]["labels_nl"][-1] == "uitstekend"
    assert {"scores_table", "contributions", "programmes", "evaluation"} <= set(meta["available"])


def test_map_values_equal_the_store(client, store):
    body = client.get("/api/map/pc4", params={"year": 2022, "measure": "total"}).json()
    values = dict(zip(body["codes"], body["values"], strict=True))
    assert len(values) == store.sql("SELECT count(*) AS n FROM observations WHERE level = 'pc4' AND year = 2022 "
                                    "AND indicator = 'lbm' AND value IS NOT NULL")["n"].iloc[0]
    assert values["3072"] == pytest.approx(lbm(store, "3072", 2022)["lbm"], abs=1e-6)
    # bins of the total are the official class bands: bin + 1 == class of afw
    klasse = client.get("/api/map/pc4", params={"year": 2022, "measure": "klasse"}).json()
    k = dict(zip(klasse["codes"], klasse["values"], strict=True))
    afw = lbm(store, "1011", 2022)["lbm_afw"]
    assert k["1011"] == classify_total(afw)
    assert body["bins"][body["codes"].index("1011")] == classify_total(afw) - 1
    assert len(body["legend"]["colors"]) == 9


def test_change_and_indicator_maps(client, store):
    ch = client.get("/api/map/pc4", params={"year": 2022, "measure": "change"}).json()
    assert ch["base_year"] == 2020 and len(ch["legend"]["colors"]) == 7
    a, b = lbm(store, "3072", 2022)["lbm_afw"], lbm(store, "3072", 2020)["lbm_afw"]
    assert ch["values"][ch["codes"].index("3072")] == pytest.approx(a - b, abs=1e-6)
    woz = client.get("/api/map/gemeente", params={"year": 2022, "measure": "indicator", "indicator": "wozwoning"})
    assert woz.status_code == 200 and woz.json()["unit"]


def test_profile_numbers(client, store):
    p = client.get("/api/profile/pc4/3072").json()
    obs = lbm(store, "3072", 2022)
    assert p["year"] == 2022 and p["area"]["gemeente_code"] == "GM0599"
    assert p["score"]["total"] == pytest.approx(obs["lbm"], abs=1e-6)
    assert p["score"]["klasse"] == classify_total(obs["lbm_afw"])
    dims = {d["id"]: d["value"] for d in p["dimensions"]}
    assert dims == pytest.approx({d: obs[f"lbm_{d}"] for d in ("won", "fys", "vrz", "soc", "onv")}, abs=1e-6)
    assert sum(dims.values()) == pytest.approx(obs["lbm_afw"], abs=1e-5)
    assert [t["year"] for t in p["trend"]] == [2002, 2008, 2012, 2014, 2016, 2018, 2020, 2022]
    assert all(t["kind"] == "official" for t in p["trend"])
    # the explanation of the last change adds up to the change of afw (dimensions 2020 -> 2022)
    ch = p["change"]
    assert ch["by"] == "dimension" and ch["total"] == pytest.approx(
        obs["lbm_afw"] - lbm(store, "3072", 2020)["lbm_afw"], abs=1e-5)
    assert sum(it["delta"] for it in ch["items"]) == pytest.approx(ch["total"], abs=1e-5)
    # without resolved programme areas nothing is a member; the gemeente's designated areas are a separate fact
    assert p["programmes"]["member"] == [] and p["programmes"]["rule"]["nl"]
    assert any(x["programme"] == "nprz" for x in p["programmes"]["gemeente"])


def test_gemeente_reference_is_population_weighted(client, store):
    p = client.get("/api/profile/pc4/3072").json()
    codes = store.sql("SELECT code FROM areas WHERE level = 'pc4' AND gemeente_code = 'GM0599' "
                      "QUALIFY row_number() OVER (PARTITION BY code ORDER BY vintage DESC) = 1")["code"]
    sc = store.table("pc4", years=[2022], indicators=["lbm_onv"]).set_index("code")["lbm_onv"]
    pop = store.table("pc4", years=[2022], indicators=["inwoner"]).set_index("code")["inwoner"]
    sc = sc.reindex(codes).dropna()
    w = pop.reindex(sc.index).fillna(1.0)
    onv = next(d for d in p["dimensions"] if d["id"] == "onv")
    assert onv["gemeente"] == pytest.approx(np.average(sc, weights=w), abs=1e-6)


def test_empty_and_error_states(client):
    r = client.get("/api/profile/pc4/0000")
    assert r.status_code == 404 and r.json()["error"] == "not_found"
    r = client.get("/api/map/pc4", params={"year": 2021})
    assert r.status_code == 404 and "2022" in r.json()["detail"]
    r = client.get("/api/profile/xx/3072")
    assert r.status_code == 422 and r.json()["error"] == "invalid_parameter"
    assert client.get("/api/compare", params={"area": ["pc4:3072"]}).status_code == 422
    assert client.get("/api/compare", params={"area": ["pc4:3072", "pc4:../../etc"]}).status_code == 422
    assert client.get("/api/map/pc4", params={"year": 2022, "measure": "indicator", "indicator": "x;drop"}) \
        .status_code == 422


def test_internal_errors_reveal_nothing(client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret detail /etc/passwd")

    monkeypatch.setattr(client.app.state.data, "search", boom)
    r = client.get("/api/search", params={"q": "x"})
    assert r.status_code == 500
    assert r.json() == {"error": "internal_error", "detail": "interne fout"}  # Dutch unless ?lang=en
    r = client.get("/api/search", params={"q": "y", "lang": "en"})
    assert r.json() == {"error": "internal_error", "detail": "internal error"}
    assert "secret" not in r.text and "Traceback" not in r.text


def test_no_file_paths_from_requests(client):
    for path in ("/static/../../pyproject.toml", "/static/%2e%2e/%2e%2e/pyproject.toml", "/api/geometry/..%2F.."):
        r = client.get(path)
        assert r.status_code in (404, 422) and "leefbaar" not in r.text.lower().split("detail")[0]


def test_search_by_postcode_code_and_name(client):
    assert client.get("/api/search", params={"q": "3072 AB"}).json()[0]["code"] == "3072"
    # gemeenten have no scores in this store, so they are not offered: their code finds their scored areas
    hits = client.get("/api/search", params={"q": "GM0599"}).json()
    assert hits and all(a["gemeente_code"] == "GM0599" and a["level"] != "gemeente" for a in hits)
    assert client.get("/api/search", params={"q": "3072"}).json()[0]["label"] == (
        "3072 Rotterdam – Afrikaanderwijk/Feijenoord")
    names = [a["label"] for a in client.get("/api/search", params={"q": "Feijenoord"}).json()]
    assert "Feijenoord" in names


def test_ranking_and_downloads(client):
    rows = client.get("/api/ranking/pc4", params={"year": 2022, "gemeente": "GM0599"}).json()
    assert rows[0]["afw"] >= rows[-1]["afw"] and all(r["gemeente_code"] == "GM0599" for r in rows)
    r = client.get("/api/download/ranking/pc4", params={"year": 2022, "gemeente": "GM0599", "format": "csv"})
    assert r.headers["content-disposition"].startswith("attachment")
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [t["code"] for t in table] == [x["code"] for x in rows]
    r = client.get("/api/download/compare", params={"area": ["pc4:3072", "pc4:1011"], "format": "xlsx"})
    ws = openpyxl.load_workbook(io.BytesIO(r.content))["vergelijking"]
    assert [c.value for c in ws[1]][:3] == ["level", "code", "label"] and ws.max_row == 3
    gap = client.get("/api/download/gap/pc4", params={"format": "csv"})
    assert pd.read_csv(io.BytesIO(gap.content))["year"].tolist()[-1] == 2022


def test_gemeente_parameter_takes_a_code_or_a_name(client):
    """The API accepts what the CLI accepts: a name gives the same rows as its code; unknown is 404, not 422."""
    by_code = client.get("/api/ranking/pc4", params={"year": 2022, "gemeente": "GM0599"}).json()
    by_name = client.get("/api/ranking/pc4", params={"year": 2022, "gemeente": "Rotterdam"}).json()
    assert by_name == by_code and len(by_code) > 50
    gap = client.get("/api/gap/pc4", params={"gemeente": "rotterdam"})
    assert gap.status_code == 200
    assert client.get("/api/ranking/pc4", params={"year": 2022, "gemeente": "Atlantis"}).status_code == 404


def test_map_downloads_as_geopackage(client, tmp_path):
    r = client.get("/api/download/map/gemeente", params={"year": 2022, "measure": "indicator",
                                                         "indicator": "wozwoning", "format": "gpkg"})
    assert r.status_code == 200
    path = tmp_path / "map.gpkg"
    path.write_bytes(r.content)
    gdf = pyogrio.read_dataframe(path)
    assert len(gdf) == 345 and gdf.crs.to_epsg() == 28992 and "wozwoning" in gdf.columns


def _decode(topo: dict) -> list:
    """A minimal TopoJSON decoder (quantised, delta-encoded arcs) for the round-trip check."""
    sx, sy = topo["transform"]["scale"]
    tx, ty = topo["transform"]["translate"]
    arcs = [np.cumsum(np.asarray(a, float), axis=0) * [sx, sy] + [tx, ty] for a in topo["arcs"]]

    def ring(refs):
        pts = []
        for i in refs:
            a = arcs[i] if i >= 0 else arcs[~i][::-1]
            pts.extend(a if not pts else a[1:])
        return pts

    return [shapely.MultiPolygon([shapely.Polygon(ring(p[0]), [ring(h) for h in p[1:]]) for p in g["arcs"]])
            for g in topo["objects"]["areas"]["geometries"]]


def test_topojson_round_trip_keeps_shapes_and_shares_edges(store):
    gdf = store.geometries("gemeente", crs=4326)
    enc = encode_topojson(gdf["code"].tolist(), gdf.geometry.to_numpy())
    import json

    topo = json.loads(enc.raw)
    decoded = _decode(topo)
    assert [g["properties"]["code"] for g in topo["objects"]["areas"]["geometries"]] == gdf["code"].tolist()
    orig = shapely.area(gdf.geometry.to_numpy())
    rel = np.abs(shapely.area(np.array(decoded)) - orig) / orig
    assert np.median(rel) < 1e-3 and rel.max() < 0.05
    # shared boundaries are stored once: far fewer vertices than in the input
    assert enc.vertices < 0.75 * shapely.get_num_coordinates(gdf.geometry.to_numpy()).sum()
    assert len(enc.gz) < len(enc.raw) / 2


def test_geometry_endpoint_serves_all_pc4_compressed(client):
    r = client.get("/api/geometry/pc4", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert len(r.json()["objects"]["areas"]["geometries"]) == 4066
    again = client.get("/api/geometry/pc4", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_programmes_and_gap(client):
    pr = client.get("/api/programmes").json()
    assert len(pr["registry"]) >= 10 and any(p["id"] == "krachtwijken" for p in pr["registry"])
    gap = client.get("/api/gap/pc4", params={"gemeente": "GM0599"}).json()
    last = gap["years"][-1]
    assert last["p10"] <= last["p50"] <= last["p90"] and sum(last["classes"]) == last["n_classed"] < last["n_areas"]


# -- perception, evaluation cards, segregation, page addresses, Dutch CSV (views) ----------------------------------
def test_perception_overview_and_area_state_the_analysis(client, store):
    from leefbaar.analysis.perception import perception_gaps
    from leefbaar.analysis.wijkprofiel import NEIGHBOURHOOD_TYPES, wijkprofiel_frame

    o = client.get("/api/perception").json()
    assert o["editions"][0] == 2014 and o["edition"] == o["editions"][-1]
    gaps = perception_gaps(wijkprofiel_frame(store))
    latest = gaps[(gaps["theme"] == "index") & (gaps["year"] == o["edition"])
                  & gaps["area_type"].isin(NEIGHBOURHOOD_TYPES)]
    top = latest.loc[latest["gap"].abs().idxmax()]
    first = o["largest"][0]
    assert (first["code"], first["dimension"]) == (top["code"], top["dimension"])
    assert first["gap"] == pytest.approx(first["subjective"] - first["objective"])
    assert first["text"]["nl"].startswith(top["name"]) and "slechter" in first["text"]["nl"] and first["gap"] < 0
    assert "worse" in first["text"]["en"] and "slechter" not in first["text"]["en"]
    assert [abs(r["gap"]) for r in o["largest"]] == sorted((abs(r["gap"]) for r in o["largest"]), reverse=True)
    assert {r["code"] for r in o["city"]} == {"WP5000"}  # the city's own series, every edition and index
    area = client.get("/api/perception/81").json()
    assert area == client.get("/api/perception/WP0081").json() and area["area"]["name"] == "Bloemhof"
    assert {r["year"] for r in area["indices"]} == set(o["editions"])
    bu = area["buurten"][0]
    assert bu["code"].startswith("BU") and isinstance(bu["klasse"], int) and 1 <= bu["klasse"] <= 9
    lbm = store.sql("SELECT value FROM observations WHERE level = 'buurt' AND code = ? AND year = ? AND "
                    "indicator = 'lbm_afw'", [bu["code"], area["lbm_year"]])["value"].iloc[0]
    assert bu["afw"] == pytest.approx(lbm)
    assert client.get("/api/perception/WP9999").status_code == 404
    assert client.get("/api/perception", params={"edition": 2015}).status_code == 404


@pytest.fixture(scope="module")
def evaluated(evaluated_file):
    """A client over the session store with the NPRZ evaluation recorded, and that evaluation."""
    path, ev = evaluated_file
    with TestClient(create_app(path, warm=False), raise_server_exceptions=False) as c:
        yield c, ev


def test_evaluation_card_says_what_the_cli_says(evaluated):
    from leefbaar.cli.evaluate import verdict_line

    c, ev = evaluated
    cards = c.get("/api/evaluations").json()
    card = next(x for x in cards if x["programme"] == "nprz")
    assert card["conclusion"] == ev.conclusion
    assert card["verdict"] == {lang: verdict_line(ev, lang) for lang in ("nl", "en")}
    est = ev.estimates()
    if ev.conclusion == "withheld":
        assert card["headline"] is None and card["reasons"]["nl"] and card["reasons"]["en"]
        assert card["reasons"]["nl"] == ev.reasons("nl")
    else:
        perm = est[(est["method"] == "matched_did") & (est["inference"] == "permutation")].iloc[0]
        assert card["headline"]["estimate"] == pytest.approx(perm["estimate"])
        assert (card["headline"]["lo"], card["headline"]["hi"]) == pytest.approx((perm["ci_low"], perm["ci_high"]))
        assert card["headline"]["level"] == 95
    assert [p["test"] for p in card["pretrend"]] == ["pretrend_holdout", "event_study_pretrend"]
    assert all(isinstance(p["passed"], bool) for p in card["pretrend"])
    assert card["n_treated"] == ev.did.n_treated_ and len(card["areas"]) == int(card["membership"]["nl"].split()[0])


def test_withheld_reasons_are_translated_with_local_numbers():
    from leefbaar.facts.evaluations import translate_note

    note = ("the pre-trend differs: over the held-out period 2002->2008 the programme areas changed by -0.019 "
            "relative to the references (permutation p = 0.020); the event study finds differences before the "
            "start (Wald test p = 0.011)")
    nl = translate_note(note, "nl")
    assert len(nl) == 2 and "-0,019" in nl[0] and "0,020" in nl[0] and "2002–2008" in nl[0]
    assert "Wald" in nl[1] and "0,011" in nl[1] and "the " not in " ".join(nl)
    assert translate_note(note, "en")[1] == "the event study finds differences before the start (Wald test p = 0.011)"
    assert translate_note("something no catalogue message says", "nl") == [
        "een blokkerende controle is niet gehaald (zie het rapport van leefbaar evaluate)"]


def test_segregation_view_of_a_gemeente(client, store):
    from leefbaar.analysis.segregation import segregation_view

    d = client.get("/api/segregation/Rotterdam").json()
    assert d["available"] and d["gemeente"] == "GM0599" and d["interval_percent"] == 95
    assert all(r["lo"] <= r["value"] <= r["hi"] for r in d["series"])
    view = segregation_view(store, "GM0599")
    assert [r["value"] for r in d["series"]] == pytest.approx([r["value"] for r in view["series"]])
    assert view["text"].startswith(f"**{d['verdict_text']}**") and d["verdict"] == view["verdict"]
    assert client.get("/api/segregation/Atlantis").status_code == 404
    assert client.get("/api/segregation/GM0599", params={"by": "migration"}).status_code == 422


def test_every_page_address_answers_the_page(client):
    for path in ("/", "/map", "/area", "/area/pc4", "/area/pc4/3072", "/area/foo/1234", "/area/pc4/0000",
                 "/compare", "/gap", "/programmes", "/perception", "/perception/WP0081"):
        r = client.get(path)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html"), path
        assert b'<main id="main"' in r.content
    r = client.get("/no/such/page")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    r = client.get("/api/no-such-endpoint")
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_downloads_for_dutch_excel_and_classes_as_integers(client):
    rows = client.get("/api/ranking/pc4", params={"year": 2022, "gemeente": "GM0599"}).json()
    assert all(isinstance(r["klasse"], int) for r in rows if r["klasse"] is not None)
    nl = client.get("/api/download/ranking/pc4", params={"year": 2022, "gemeente": "GM0599", "format": "csv",
                                                         "lang": "nl"}).content
    assert nl.startswith(b"\xef\xbb\xbf")
    text = nl.decode("utf-8-sig")
    head = text.splitlines()[0]
    assert head.startswith("code;label;") and "," not in head
    table = pd.read_csv(io.StringIO(text), sep=";", decimal=",", dtype={"code": str})
    assert table["total"].dtype.kind == "f" and table["total"].iloc[0] == pytest.approx(rows[0]["total"])
    assert "," in text.splitlines()[1].split(";")[5]  # the score written with a decimal comma
    klasse = [line.split(";")[head.split(";").index("klasse")] for line in text.splitlines()[1:]]
    assert all(k == "" or k.isdigit() for k in klasse) and any(k for k in klasse)
    en = client.get("/api/download/ranking/pc4", params={"year": 2022, "gemeente": "GM0599", "format": "csv",
                                                         "lang": "en"}).content.decode("utf-8-sig")
    assert en.splitlines()[0].startswith("code,label,")
    m = client.get("/api/download/map/pc4", params={"year": 2022, "measure": "klasse", "format": "csv",
                                                    "lang": "nl"}).content.decode("utf-8-sig")
    values = [line.split(";")[m.splitlines()[0].split(";").index("klasse")] for line in m.splitlines()[1:]]
    assert {v for v in values if v} <= {str(k) for k in range(1, 10)}


def test_csv_export_conventions():
    from leefbaar.report.exports import csv_bytes, integers

    frame = pd.DataFrame({"code": ["3072", "1011"], "total": [4.1234, 3.5], "klasse": [9.0, np.nan],
                          "rank_nl": [1.0, 2.0], "share": [0.5, 1.0]})
    assert csv_bytes(frame, "nl").decode("utf-8-sig").splitlines() == [
        "code;total;klasse;rank_nl;share", "3072;4,1234;9;1;0,5", "1011;3,5;;2;1,0"]
    assert csv_bytes(frame).decode("utf-8-sig").splitlines()[1] == "3072,4.1234,9,1,0.5"
    assert integers(pd.DataFrame({"klasse": [1.5, 2.0]}))["klasse"].dtype.kind == "f"  # fractions stay
# -- map: dimensions, indicator choice, class breaks, context, names, filtered downloads ----------------------------
def test_meta_dimensions_and_map_indicators(client, store):
    meta = client.get("/api/meta").json()
    assert [d["code"] for d in meta["dimensions"]] == ["won", "fys", "vrz", "soc", "onv"]
    assert all(d["label"]["nl"] and d["label"]["en"] for d in meta["dimensions"])
    offered = {i["id"]: i for i in meta["map_indicators"]}
    cat = store.indicators().set_index("id")
    # no plain counts, no class codes, no published Leefbaarometer series; sensitive ones flagged as in the catalogue
    assert not any(cat.loc[i, "unit"] in ("aantal", "ha", "km2") for i in offered)
    assert not any(i.startswith("lbm") for i in offered) and "inwoner" not in offered and "p_koopwon" in offered
    assert {i for i, r in offered.items() if r["sensitive"]} == {i for i in offered if cat.loc[i, "sensitive"]}
    assert any(r["sensitive"] for r in offered.values())
    themes = [r["theme"] for r in meta["map_indicators"]]
    runs = [t for i, t in enumerate(themes) if i == 0 or t != themes[i - 1]]
    assert len(runs) == len(set(runs))  # grouped: each theme in one run


def test_indicator_map_class_breaks_through_mapclassify(client):
    import mapclassify

    for scheme, cls in (("quantiles", mapclassify.Quantiles), ("fisher_jenks", mapclassify.FisherJenks)):
        body = client.get("/api/map/pc4", params={"year": 2022, "measure": "indicator", "indicator": "p_koopwon",
                                                  "scheme": scheme}).json()
        lg = body["legend"]
        y = np.array([v for v in body["values"] if v is not None])
        ref = np.unique(cls(y, k=7).bins)
        assert lg["scheme"] == scheme and lg["unit"] == "%" and lg["labels_nl"][0].endswith(" %")
        np.testing.assert_allclose(lg["breaks"], ref[:-1])
        bins = np.array(body["bins"])
        assert ((bins >= 0) & (bins < len(lg["colors"]))).all()
        # upper bounds inclusive, as mapclassify: every value at most its class's upper break
        upper = np.r_[lg["breaks"], np.inf]
        assert (np.array(body["values"], float) <= upper[bins] + 1e-9).all()
    assert client.get("/api/map/pc4", params={"year": 2022, "measure": "indicator", "indicator": "p_koopwon",
                                              "scheme": "bogus"}).status_code == 422


def test_change_map_between_any_two_years_states_both_kinds(client):
    lv = next(x for x in client.get("/api/meta").json()["levels"] if x["id"] == "pc4")
    years = lv["score_years"]
    base, year = years[-5], years[-1]  # not the default (previous) year
    body = client.get("/api/map/pc4", params={"year": year, "measure": "change", "base_year": base}).json()
    assert body["base_year"] == base
    assert body["kind"] == lv["year_kinds"][str(year)] and body["base_kind"] == lv["year_kinds"][str(base)]
    afw = {y: client.get("/api/map/pc4", params={"year": y, "measure": "afw"}).json() for y in (base, year)}
    a = dict(zip(afw[year]["codes"], afw[year]["values"], strict=True))
    b = dict(zip(afw[base]["codes"], afw[base]["values"], strict=True))
    i = body["codes"].index("3072")
    assert body["values"][i] == pytest.approx(a["3072"] - b["3072"], abs=1e-5)
    assert client.get("/api/map/pc4", params={"year": base, "measure": "change", "base_year": year}).status_code == 404


def test_dimension_legend_has_a_neutral_middle(client):
    lg = client.get("/api/map/pc4", params={"year": 2022, "measure": "won"}).json()["legend"]
    mid = lg["colors"][len(lg["colors"]) // 2].lstrip("#")
    r, g, b = (int(mid[i:i + 2], 16) for i in (0, 2, 4))
    assert max(r, g, b) - min(r, g, b) <= 8 and min(r, g, b) > 200  # grey/white, not yellow


def test_map_context_water_and_gemeente_labels(client, store):
    fc = client.get("/api/context").json()
    water = [f for f in fc["features"] if f["properties"]["kind"] == "water"]
    labels = [f for f in fc["features"] if f["properties"]["kind"] == "gemeente_label"]
    assert len(water) == 1 and len(labels) == len(store.geometries("gemeente"))
    w = shapely.geometry.shape(water[0]["geometry"])
    assert w.contains(shapely.Point(5.3, 52.75))  # IJsselmeer
    assert not w.contains(shapely.Point(4.48, 51.92))  # Rotterdam centre is land
    rdam = next(f for f in labels if f["properties"]["code"] == "GM0599")
    assert rdam["properties"]["name"] == "Rotterdam"


def test_area_names_for_hover_and_filters(client):
    d = client.get("/api/names/pc4").json()
    i = d["codes"].index("3072")
    assert "Rotterdam" in d["labels"][i] and d["gemeente_codes"][i] == "GM0599"
    b = client.get("/api/names/buurt").json()
    assert any(w for w in b["wijk_codes"])


def test_map_download_filtered_by_gemeente_name_with_base_year(client):
    r = client.get("/api/download/map/pc4", params={"year": 2022, "format": "csv", "measure": "change",
                                                     "base_year": 2018, "gemeente": "Rotterdam"})
    assert r.status_code == 200
    text = r.content.decode("utf-8-sig")
    assert "GM0599" in text and "GM0363" not in text
    assert client.get("/api/download/map/pc4", params={"year": 2022, "format": "csv",
                                                        "gemeente": "Nergensdorp"}).status_code == 404
