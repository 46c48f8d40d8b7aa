"""Buurt families: Leefbaarometer 2024 per buurt, Rotterdam Wijkprofiel (data, codebook, CBS link), Rijnmond KWB
2024 - counts in the store built from the real data, and clear errors on corrupted copies of the real files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leefbaar.errors import InputError
from leefbaar.sources import buurt
from leefbaar.sources.catalogue import column_maps, indicators
from leefbaar.sources.registry import FAMILIES, discover
from leefbaar.store.store import Store
from test_buurt_data import buurt_store

LBM = "buurt/lbm2024_buurt_scores_nl.csv"
WP = "buurt/rotterdam_wijkprofiel_2014_2024.csv"
WP_CODEBOOK = "buurt/rotterdam_wijkprofiel_codebook.csv"
WP_AREAS = "buurt/rotterdam_wijkprofiel_areas_cbs2024.csv"
KWB = "buurt/rijnmond_kwb2024_buurt.csv"


@pytest.fixture(scope="module")
def store(tmp_path_factory, data_dir):
    with Store.open(buurt_store(tmp_path_factory, data_dir)) as st:
        yield st


def test_families_registered_and_discovered(data_dir):
    names = [f.name for f in FAMILIES]
    for fam in ("lbm3_buurt", "wijkprofiel", "wijkprofiel_codebook", "wijkprofiel_areas", "kwb_buurt"):
        assert names.count(fam) == 1
    found = {fam.name: path.relative_to(data_dir).as_posix() for fam, path in discover(data_dir)[0]}
    assert found["lbm3_buurt"] == LBM and found["wijkprofiel"] == WP and found["kwb_buurt"] == KWB
    assert found["wijkprofiel_codebook"] == WP_CODEBOOK and found["wijkprofiel_areas"] == WP_AREAS


def test_store_counts(store):
    lbm = store.sql("SELECT count(DISTINCT code) AS n FROM observations WHERE level = 'buurt' AND year = 2024 "
                    "AND indicator = 'lbm_afw' AND value IS NOT NULL")["n"].iloc[0]
    assert lbm == 12147
    classes = store.sql("SELECT indicator, count(*) AS n FROM observations WHERE level = 'buurt' "
                        "AND indicator LIKE 'lbm_klasse%' GROUP BY 1")
    assert sorted(classes["indicator"]) == ["lbm_klasse", "lbm_klasse_afw", "lbm_klasse_fys", "lbm_klasse_onv",
                                            "lbm_klasse_soc", "lbm_klasse_vrz", "lbm_klasse_won"]
    assert (classes["n"] == 12147).all()
    editions = store.sql("SELECT year, count(DISTINCT code) AS n FROM observations WHERE level = 'wijkprofiel' "
                         "GROUP BY 1 ORDER BY 1")
    assert editions["year"].tolist() == [2014, 2016, 2018, 2020, 2022, 2024]
    assert (editions["n"] == 86).all()
    kwb = store.sql("SELECT count(DISTINCT o.code) AS n FROM observations o JOIN sources s USING (source_id) "
                    "WHERE s.family = 'kwb_buurt' AND o.level = 'buurt' AND o.year = 2024")["n"].iloc[0]
    assert kwb == 625


def test_lbm_buurt_values_and_classes_as_published(store, data_dir):
    raw = pd.read_csv(data_dir / LBM, dtype={"bu_code": str}).set_index("bu_code")
    wide = store.table("buurt", years=[2024],
                       indicators=["lbm_afw", "lbm_onv", "lbm_klasse", "lbm_klasse_onv"]).set_index("code")
    wide = wide.loc[raw.index]
    assert np.array_equal(wide["lbm_afw"].to_numpy(), raw["afw"].to_numpy())
    assert np.array_equal(wide["lbm_onv"].to_numpy(), raw["onv"].to_numpy())
    assert np.array_equal(wide["lbm_klasse"].to_numpy(), raw["kscore"].to_numpy())
    assert np.array_equal(wide["lbm_klasse_onv"].to_numpy(), raw["konv"].to_numpy())
    area = store.sql("SELECT * FROM areas WHERE level = 'buurt' AND vintage = 2024 AND code = 'BU05990110'")
    assert area[["gemeente_code", "wijk_code", "provincie_code"]].iloc[0].tolist() == ["GM0599", "WK059901",
                                                                                       "PV28"]


def test_wijkprofiel_areas_keep_their_type(store):
    areas = store.sql("SELECT code, name, area_type, wijk_code FROM areas WHERE level = 'wijkprofiel'")
    assert areas["area_type"].value_counts().to_dict() == {"wijk": 63, "gebied": 14, "wijkcombinatie": 6,
                                                           "deelwijk": 2, "stad": 1}
    a = areas.set_index("code")
    assert a.loc["WP0010", "name"] == "Stadsdriehoek" and a.loc["WP0010", "wijk_code"] == "WK059901"
    assert a.loc["WP1009", "area_type"] == "deelwijk" and a.loc["WP5000", "area_type"] == "stad"
    assert pd.isna(a.loc["WP5000", "wijk_code"])
    link = store.sql("SELECT code, cbs_code, relation FROM wijkprofiel_cbs")
    rel = link.groupby("code")["relation"].first()
    assert rel["WP1009"] == "part" and rel["WP1010"] == "part" and rel["WP3006"] == "union"
    assert rel["WP0078"] == "union" and rel["WP0010"] == "equal"
    assert (link["code"] == "WP3006").sum() == 3


def test_catalogue_matches_wijkprofiel_codebook(data_dir):
    """Every codebook code has its catalogue rows (id wp_<code>, the codebook's Dutch label and editions)."""
    cb = pd.read_csv(data_dir / WP_CODEBOOK, dtype=str)
    maps = {m.column: m for m in column_maps() if m.family == "wijkprofiel"}
    cat = indicators()
    assert set(maps) == set(cb["code"])
    for r in cb.itertuples():
        m = maps[r.code]
        assert m.indicator == buurt.wijkprofiel_indicator(r.code)
        assert m.years == frozenset(int(y) for y in r.years.split(";"))
        assert cat.loc[m.indicator, "label_nl"] == r.label
    scores = [buurt.wijkprofiel_indicator(c) for c in ("SI", "SI_s", "FIo", "VIs3")]
    assert (cat.loc[scores, "unit"] == "index (Rotterdam 2014 = 100)").all()
    assert (cat.loc[scores, "direction"] == 1).all()
    assert cat.loc["wp_slechtegezondheid_p", "direction"] == -1


def test_kwb_identical_concepts_reuse_pc4_ids_and_keep_suppression(store, data_dir):
    raw = pd.read_csv(data_dir / KWB, dtype={"buurtcode": str}).set_index("buurtcode")
    wide = store.table("buurt", years=[2024], indicators=["inwoner", "wozwoning", "p_koopwon", "oad", "sted",
                                                          "afs_superm", "av1_superm", "p_huko_won"],
                       with_status=True).set_index("code").loc[raw.index]
    for col, ind in (("aantal_inwoners", "inwoner"), ("omgevingsadressendichtheid", "oad"),
                     ("grote_supermarkt_gemiddelde_afstand_in_km", "afs_superm")):
        ok = raw[col] != -99997
        assert np.allclose(wide.loc[ok, ind], raw.loc[ok, col])
    suppressed = raw["gemiddelde_woningwaarde"] == -99997
    assert suppressed.sum() == 106
    assert wide.loc[suppressed, "wozwoning"].isna().all()
    assert (wide.loc[suppressed, "wozwoning__status"] == "suppressed").all()
    assert (wide.loc[~suppressed, "wozwoning__status"] == "ok").all()
    assert wide["sted"].dropna().isin([1, 2, 3, 4, 5]).all()
    postcode = store.sql("SELECT * FROM buurt_postcode WHERE code = 'BU04890101'")
    assert postcode["pc4"].iloc[0] == str(int(raw.loc["BU04890101", "meest_voorkomende_postcode"]))


# -- bad input: every error names file, row and column ------------------------------------------------------
def corrupt(tmp_path: Path, data_dir: Path, rel: str, edit) -> Path:
    """A copy of a real file with ``edit(lines)`` applied."""
    target = tmp_path / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(data_dir / rel, target)
    lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
    target.write_text("".join(edit(lines)), encoding="utf-8")
    return target


def set_cell(lines: list[str], row: int, column: str, value: str) -> list[str]:
    """Set one cell (row = line number, header = 1) in a file without quoted commas in that row."""
    header = lines[0].rstrip("\r\n").split(",")
    cells = lines[row - 1].rstrip("\r\n").split(",")
    cells[header.index(column)] = value
    lines[row - 1] = ",".join(cells) + "\n"
    return lines


@pytest.mark.parametrize(("rel", "reader", "row", "column", "value", "message"), [
    (LBM, buurt.read_lbm3_buurt, 5, "kscore", "10", "not a whole number 1-9"),
    (LBM, buurt.read_lbm3_buurt, 7, "afw", "0.5", "not the sum of the five dimensions"),
    (LBM, buurt.read_lbm3_buurt, 9, "provincie_code", "35", "not a CBS provincie number"),
    (LBM, buurt.read_lbm3_buurt, 11, "bu_code", "BU12", "not a CBS code"),
    (LBM, buurt.read_lbm3_buurt, 13, "won", '"0,01"', "decimal comma"),
    (LBM, buurt.read_lbm3_buurt, 4, "jaar", "2023", "year 2023 lies outside the year 2024 in the file name"),
    (LBM, buurt.read_lbm3_buurt, 4, "jaar", "2024.0", "'2024.0' is not a whole four-digit year"),
    (WP, buurt.read_wijkprofiel, 20, "gebiedstype", "buurt", "area type 'buurt' is not one of"),
    (WP, buurt.read_wijkprofiel, 100, "naam", "Andere naam", "differs from the same area in another edition"),
    (WP, buurt.read_wijkprofiel, 2, "jaar", "2015", "edition 2015 is not a Wijkprofiel edition"),
    (WP, buurt.read_wijkprofiel, 2, "jaar", "2026", "year 2026 lies outside the years 2014-2024 in the file name"),
    (WP, buurt.read_wijkprofiel, 30, "VIs", "hoog", "text 'hoog' where a number is expected"),
    (WP, buurt.read_wijkprofiel, 3, "wijknr", "x1", "not a Wijkprofiel area number"),
    (KWB, buurt.read_kwb_buurt, 6, "jrstatcode", "2024BU04890199", "is not 2024 followed by the buurt code"),
    (KWB, buurt.read_kwb_buurt, 8, "wijkcode", "WK099901", "is not the wijk of the buurt code"),
    (KWB, buurt.read_kwb_buurt, 10, "gemiddelde_woningwaarde", "duur", "text 'duur' where a number"),
    (KWB, buurt.read_kwb_buurt, 12, "water", "MISSCHIEN", "is not JA or NEE"),
])
def test_bad_cell_is_located(tmp_path, data_dir, rel, reader, row, column, value, message):
    path = corrupt(tmp_path, data_dir, rel, lambda lines: set_cell(lines, row, column, value))
    with pytest.raises(InputError) as err:
        reader(path)
    assert err.value.row == row and err.value.column == column, str(err.value)
    assert message in str(err.value) and path.name in str(err.value)


def test_value_in_an_edition_the_catalogue_does_not_list(tmp_path, data_dir, monkeypatch):
    """A code measured from 2020 on (as the CROW scores are in practice) must be empty in 2014."""
    real = buurt.columns_for

    def columns_for(family, year):
        maps = real(family, year)
        return {c: m for c, m in maps.items() if not (c == "Schoon" and year < 2020)}
    monkeypatch.setattr(buurt, "columns_for", columns_for)
    assert buurt.read_wijkprofiel(data_dir / WP).observations["indicator"].eq("wp_schoon").sum() == 3 * 86
    path = corrupt(tmp_path, data_dir, WP, lambda lines: set_cell(lines, 2, "Schoon", "3.5"))
    with pytest.raises(InputError, match="in edition 2014, for which the codebook lists no such") as err:
        buurt.read_wijkprofiel(path)
    assert (err.value.row, err.value.column) == (2, "Schoon")


def test_duplicate_wijkprofiel_area_in_one_edition(tmp_path, data_dir):
    path = corrupt(tmp_path, data_dir, WP, lambda lines: [*lines[:3], lines[2], *lines[3:]])
    with pytest.raises(InputError, match="duplicate area code 'WP0004'") as err:
        buurt.read_wijkprofiel(path)
    assert err.value.column == "wijknr"


def test_unknown_column_and_codebook_drift(tmp_path, data_dir):
    path = corrupt(tmp_path, data_dir, KWB, lambda lines: [lines[0].replace(",jaar", ",jaartal", 1), *lines[1:]])
    with pytest.raises(InputError, match="unknown or renamed column") as err:
        buurt.read_kwb_buurt(path)
    assert err.value.column == "jaartal"

    def rename_code(lines):
        lines[1] = lines[1].replace("SI,SI,", "SIX,SI,", 1)
        return lines
    path = corrupt(tmp_path, data_dir, WP_CODEBOOK, rename_code)
    with pytest.raises(InputError, match="'SIX' is not in catalogue") as err:
        buurt.read_wijkprofiel_codebook(path)
    assert err.value.row == 2 and err.value.column == "code"


def test_link_needs_one_name_per_code(tmp_path, data_dir):
    def drop_name(lines):
        i = next(n for n, line in enumerate(lines) if line.startswith("3001,"))
        lines[i] = re.sub(r"Dorp;Rijnpoort", "Dorp", lines[i])
        return lines
    path = corrupt(tmp_path, data_dir, WP_AREAS, drop_name)
    with pytest.raises(InputError, match="one name per CBS code") as err:
        buurt.read_wijkprofiel_areas(path)
    assert err.value.column == "cbs_namen_2024"
