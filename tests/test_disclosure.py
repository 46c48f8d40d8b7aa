"""Disclosure control of survey microdata: each attack of issue 14, and every combination of two imports.

All microdata here are SYNTHETIC (generated below) on real area codes: PC4 3011 and 3012 in Rotterdam
(GM0599), PC4 3111 in Schiedam (GM0606). The store is a small one holding only those areas. An independent
auditor reconstructs, from the synthetic files, which respondents stand behind every figure in the store and
checks with linear algebra that no combination of two figures, and no combination of all figures of an item,
isolates fewer respondents than the minimum.
"""

from __future__ import annotations

import hashlib
import itertools
import shutil
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from leefbaar.analysis import disclosure as D
from leefbaar.analysis import survey as S
from leefbaar.cli import app
from leefbaar.errors import InputError
from leefbaar.store.store import Store

MIN = 50
PC4 = {"3011": ("GM0599", 51), "3012": ("GM0599", 49), "3111": ("GM0606", 60)}
ITEMS = ["veilig", "tevreden"]


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory):
    """A store holding only the five real areas used here."""
    path = tmp_path_factory.mktemp("disclosure") / "areas.duckdb"
    with Store.open(path, read_only=False, build=True) as st, st.transaction():  # created as a build would
        st.mark_built()
        rows = [(c, "pc4", 2024, c, g) for c, (g, _) in PC4.items()]
        rows += [("GM0599", "gemeente", 2024, "Rotterdam", "GM0599"), ("GM0606", "gemeente", 2024, "Schiedam",
                                                                        "GM0606")]
        st.con.executemany("INSERT INTO areas (code, level, vintage, name, gemeente_code) VALUES (?, ?, ?, ?, ?)",
                           rows)
    return path


@pytest.fixture
def store(empty_store, tmp_path):
    path = tmp_path / "store.duckdb"
    shutil.copy(empty_store, path)
    return path


def base() -> pd.DataFrame:
    """SYNTHETIC respondents: id, PC4, gemeente, year, two items (10 % not answered), weight 0.8-1.25."""
    rng = np.random.default_rng(14)
    rows = []
    for pc4, (gm, n) in PC4.items():
        for _ in range(n):
            rows.append({"respondent": f"synthetic-{len(rows):04d}", "pc4": pc4, "gemeente": gm, "jaar": 2024,
                         "veilig": int(rng.integers(1, 11)),
                         "tevreden": int(rng.integers(1, 6)) if rng.random() > 0.1 else None,
                         "gewicht": round(float(rng.uniform(0.8, 1.25)), 4)})
    return pd.DataFrame(rows)


def first_of(frame: pd.DataFrame, pc4: str = "3011") -> int:
    return int(frame.index[frame["pc4"] == pc4][0])


def _minus_one(f):
    return f.drop(index=first_of(f))


def _one_weight(f):
    f = f.copy()
    f.loc[first_of(f), "gewicht"] *= 2
    return f


def _rescaled(f):
    return f.assign(gewicht=(f["gewicht"] * 3).round(4))


def _rescaled_one(f):
    f = _rescaled(f)
    f.loc[first_of(f), "gewicht"] += 0.5
    return f


# name -> (change to the base file, import arguments): the ways two imports of one survey can differ
VARIANTS = {
    "base": (lambda f: f, {}),
    "minus_one": (_minus_one, {}),
    "one_weight": (_one_weight, {}),
    "rescaled": (_rescaled, {}),
    "rescaled_one": (_rescaled_one, {}),
    "unweighted": (lambda f: f, {"weight_column": None}),
    "gemeente": (lambda f: f, {"level": "gemeente", "area_column": "gemeente"}),
    "minus_one_2023": (_minus_one, {"year_column": None, "year": 2023}),
}


@contextmanager
def opened(store, read_only: bool = True):
    """``store`` itself when it is an open Store, else the store at that path, opened."""
    if isinstance(store, Store):
        yield store
    else:
        with Store.open(store, read_only=read_only) as st:
            yield st


def run_import(store, tmp_path, name: str, survey_id: str, id_column: str | None):
    """Write variant ``name`` of the base file and import it; return its frame and arguments."""
    change, extra = VARIANTS[name]
    frame = change(base())
    file = tmp_path / f"synthetic_{survey_id}.csv"
    frame.to_csv(file, index=False)
    args = {"level": "pc4", "area_column": "pc4", "year_column": "jaar", "weight_column": "gewicht"} | extra
    with opened(store, read_only=False) as st:
        result = S.import_survey(st, file, "microdata", args["level"], args["area_column"], ITEMS, survey_id,
                                 args["year_column"], args.get("year"), args["weight_column"],
                                 respondent_column=id_column)
    return frame, args, result


def coefficient_vectors(store, imports: dict) -> pd.DataFrame:
    """Every row ever written to survey_scores (read raw, not through survey_scores()), with the weights of the
    true respondents behind it, reconstructed from the synthetic files: one column per respondent id."""
    with opened(store) as st:
        scores = st.sql("SELECT * FROM survey_scores") if "survey_scores" in set(
            st.sql("SELECT table_name FROM information_schema.tables")["table_name"]) else pd.DataFrame()
    vectors = []
    for _, row in scores.iterrows():
        frame, args = imports[row["survey_id"]]
        year = frame[args["year_column"]] if args["year_column"] else args["year"]
        w = frame[args["weight_column"]] if args["weight_column"] else pd.Series(1.0, index=frame.index)
        column = args.get("area_columns", {}).get(row["level"], args["area_column"])
        inside = (frame[column] == row["code"]) & (year == row["year"]) & frame[row["item"]].notna()
        g = frame[inside & (w > 0)]
        gw = w[g.index]
        assert np.isfinite(row["value"]) and row["n"] == len(g) >= MIN
        assert row["value"] == pytest.approx(np.average(g[row["item"]], weights=gw), abs=5e-3)
        vectors.append(pd.Series(gw.to_numpy(), index=g["respondent"], name=(row["survey_id"], row["code"],
                                                                               row["item"])))
    return pd.DataFrame(vectors).fillna(0.0) if vectors else pd.DataFrame()


def smallest_difference(a: np.ndarray, b: np.ndarray) -> int | None:
    """Fewest respondents behind any combination a - rho b that is not zero (None if a and b share none)."""
    both = (a > 0) & (b > 0)
    if not both.any():
        return None
    sizes = []
    for rho in np.unique(a[both] / b[both]):
        c = np.abs(a - rho * b)
        nonzero = c > 1e-9 * np.maximum(a, rho * b)
        if nonzero.any():
            sizes.append(int(nonzero.sum()))
    return min(sizes) if sizes else None


def audit(store, imports: dict) -> None:
    """Nothing below the minimum can be derived from the store: per figure, per pair and for all figures."""
    vectors = coefficient_vectors(store, imports)
    if vectors.empty:
        return
    for _, group in vectors.groupby(level=2):  # per item
        m = group.to_numpy()
        for i, j in itertools.combinations(range(len(m)), 2):
            smallest = smallest_difference(m[i], m[j])
            assert smallest is None or smallest >= MIN, (group.index[i], group.index[j], smallest)
        # no single respondent's answer is a linear combination of the published weighted totals
        _, s, vt = np.linalg.svd(m, full_matrices=False)
        basis = vt[s > 1e-9 * s[0]]
        leverage = np.square(basis).sum(axis=0)
        assert (leverage < 1 - 1e-6).all(), group.columns[leverage >= 1 - 1e-6].tolist()
    with opened(store) as st:
        prints = st.sql("SELECT run_id, level, code, year, item, count(*) AS n FROM survey_fingerprints "
                        "GROUP BY ALL")
    assert (prints["n"] >= MIN).all()


def table_hashes(store_path) -> dict[str, str]:
    with Store.open(store_path) as st:
        names = st.sql("SELECT table_name FROM information_schema.tables ORDER BY 1")["table_name"]
        return {t: hashlib.sha256(st.sql(f"SELECT * FROM {t}").sort_values(
            list(st.sql(f"SELECT * FROM {t} LIMIT 0").columns)).to_csv(index=False).encode()).hexdigest()
            for t in names}


@pytest.mark.parametrize("id_column", ["respondent", None], ids=["id_column", "row_hash"])
def test_every_combination_of_two_imports(empty_store, tmp_path, id_column):
    """Each ordered pair of variants, imported under two survey ids into one store: the auditor finds no
    difference of fewer than 50 respondents (on today's main, e.g. base + minus_one gives 1)."""
    for first in VARIANTS:
        after_first = tmp_path / f"{first}.duckdb"
        shutil.copy(empty_store, after_first)
        f1, a1, _ = run_import(after_first, tmp_path, first, "eerste", id_column)
        for second in VARIANTS:
            path = tmp_path / f"{first}-{second}.duckdb"
            shutil.copy(after_first, path)
            with Store.open(path, read_only=False) as st:
                f2, a2, _ = run_import(st, tmp_path, second, "tweede", id_column)
                audit(st, {"eerste": (f1, a1), "tweede": (f2, a2)})
            path.unlink()


@pytest.mark.parametrize("first, second", [("base", "minus_one"), ("base", "gemeente"), ("base", "one_weight"),
                                           ("rescaled_one", "base")])
def test_the_auditor_finds_the_attacks_without_the_check(store, tmp_path, monkeypatch, first, second):
    """The auditor is not vacuous: with the differencing check switched off, it finds each attack."""
    monkeypatch.setattr(S, "differencing", lambda *args: set())
    f1, a1, _ = run_import(store, tmp_path, first, "eerste", "respondent")
    f2, a2, _ = run_import(store, tmp_path, second, "tweede", "respondent")
    with pytest.raises(AssertionError):
        audit(store, {"eerste": (f1, a1), "tweede": (f2, a2)})


def test_same_survey_id_reimported_without_one_respondent(store, tmp_path):
    """Replacing a survey does not unpublish it: its fingerprints stay, so a corrected file minus one
    respondent under the same id is still checked against the first version."""
    f1, a1, _ = run_import(store, tmp_path, "base", "enquete", None)
    f2, a2, r2 = run_import(store, tmp_path, "minus_one", "enquete", None)
    assert r2.suppressed["difference"] == 1
    with Store.open(store) as st:
        assert S.survey_scores(st, "enquete").query("code == '3011' and item == 'veilig'").empty
    # the audit may use the first version's file for the old figures: they were published
    audit(store, {"enquete": (f2, a2)})


def test_differencing_between_imports_as_in_the_issue(store, tmp_path):
    """51 respondents under one id, the same file without one respondent under another: the second 3011
    figure is suppressed (secondary suppression), the identical 3111 figure is kept."""
    run_import(store, tmp_path, "base", "a", "respondent")
    _, _, result = run_import(store, tmp_path, "minus_one", "b", "respondent")
    assert result.suppressed["difference"] == 1
    with Store.open(store) as st:
        a, b = S.survey_scores(st, "a"), S.survey_scores(st, "b")
    assert ("3011", "veilig") in set(zip(a["code"], a["item"], strict=True))
    assert set(b.loc[b["item"] == "veilig", "code"]) == {"3111"}


@pytest.mark.parametrize("ids", [("respondent", None), (None, "respondent")])
def test_differencing_with_and_without_respondent_ids(store, tmp_path, ids):
    """The same file imported once with --respondent-column and once without (minus one respondent): the
    row keys still match, so the second 3011 figure is suppressed."""
    f1, a1, _ = run_import(store, tmp_path, "base", "met", ids[0])
    f2, a2, result = run_import(store, tmp_path, "minus_one", "zonder", ids[1])
    assert result.suppressed["difference"] == 1
    audit(store, {"met": (f1, a1), "zonder": (f2, a2)})


@pytest.mark.parametrize("order", [("pc4", "gemeente"), ("gemeente", "pc4")])
def test_differencing_between_levels(store, tmp_path, order):
    """PC4 3011 (51) and 3012 (49, suppressed) make up GM0599 (100): whichever level comes second loses the
    figure that would give 3012 by subtraction."""
    names = {"pc4": "base", "gemeente": "gemeente"}
    imports = {}
    for i, level in enumerate(order):
        frame, args, result = run_import(store, tmp_path, names[level], f"niveau_{i}", None)
        imports[f"niveau_{i}"] = (frame, args)
    assert result.suppressed["difference"] >= 1
    with Store.open(store) as st:
        scores = S.survey_scores(st)
    veilig = set(scores.loc[scores["item"] == "veilig", "code"])
    assert not {"3011", "GM0599"} <= veilig and "3012" not in veilig
    audit(store, imports)


def test_nested_levels_within_one_import(store, tmp_path):
    """One import at PC4 and gemeente level: GM0599 (100) less PC4 3011 (51) would give 3012 (49), so GM0599
    is suppressed; GM0606 holds exactly the respondents of PC4 3111 and is kept (the same figure twice)."""
    frame = base()
    frame.to_csv(tmp_path / "synthetic_nested.csv", index=False)
    with Store.open(store, read_only=False) as st:
        result = S.import_survey(st, tmp_path / "synthetic_nested.csv", "microdata", "pc4,gemeente",
                                 "pc4,gemeente", ITEMS, "genest", "jaar", weight_column="gewicht")
        scores = S.survey_scores(st, "genest")
    assert result.suppressed["difference"] >= 1
    veilig = scores[scores["item"] == "veilig"].set_index("code")["value"]
    assert set(veilig.index) == {"3011", "3111", "GM0606"} and veilig["3111"] == veilig["GM0606"]
    audit(store, {"genest": (frame, {"area_column": "pc4", "area_columns": {"pc4": "pc4", "gemeente": "gemeente"},
                                     "year_column": "jaar", "weight_column": "gewicht"})})


def test_dominance_one_huge_weight(store, tmp_path):
    """One respondent of 51 with weight 60 (n_eff 3.3), and one of 200 with 36 % more weight than the
    (1, 15) rule allows: neither figure is stored, with the rule that stopped it."""
    frame = base()
    frame.loc[first_of(frame), "gewicht"] = 60.0
    big = pd.DataFrame({"respondent": [f"synthetic-big-{i}" for i in range(200)], "pc4": "3111",
                        "gemeente": "GM0606", "jaar": 2024, "veilig": 5, "tevreden": 3, "gewicht": 1.0})
    big.loc[0, ["veilig", "gewicht"]] = [10, 36.0]
    frame = pd.concat([frame[frame["pc4"] != "3111"], big], ignore_index=True)
    frame.to_csv(tmp_path / "synthetic_dominance.csv", index=False)
    with Store.open(store, read_only=False) as st:
        result = S.import_survey(st, tmp_path / "synthetic_dominance.csv", "microdata", "pc4", "pc4", ["veilig"],
                                 year_column="jaar", weight_column="gewicht")
        scores = S.survey_scores(st)
        raw = st.sql("SELECT * FROM survey_scores")
    assert result.suppressed == {"count": 1, "effective": 1, "dominance": 1, "difference": 0}
    assert scores.empty and raw.empty
    rules = D.load_rules()
    w = np.r_[36.0, np.ones(199)]
    assert w.sum() ** 2 / np.square(w).sum() >= rules.min_effective and rules.reason(w) == "dominance"


@pytest.mark.parametrize("cell", ["1e308", "1e309", "inf", "nan", "-1", "5000"])
def test_absurd_weights_are_refused_without_echo(store, tmp_path, cell):
    frame = base().astype({"gewicht": object})
    frame.loc[7, "gewicht"] = cell
    frame.to_csv(tmp_path / "synthetic_weights.csv", index=False)
    before = table_hashes(store)
    with Store.open(store, read_only=False) as st, pytest.raises(InputError) as err:
        S.import_survey(st, tmp_path / "synthetic_weights.csv", "microdata", "pc4", "pc4", ITEMS,
                        year_column="jaar", weight_column="gewicht")
    assert (err.value.row, err.value.column) == (9, "gewicht")
    assert cell not in err.value.message and "308" not in err.value.message
    assert table_hashes(store) == before


def test_answers_must_be_finite_and_bounded(store, tmp_path):
    frame = base().astype({"veilig": object})
    frame.loc[3, "veilig"] = "1e308"
    frame.to_csv(tmp_path / "synthetic_answers.csv", index=False)
    with Store.open(store, read_only=False) as st, pytest.raises(InputError, match="an answer must be") as err:
        S.import_survey(st, tmp_path / "synthetic_answers.csv", "microdata", "pc4", "pc4", ITEMS,
                        year_column="jaar", weight_column="gewicht")
    assert (err.value.row, err.value.column) == (5, "veilig") and "308" not in err.value.message


@pytest.mark.parametrize("column, cell", [("veilig", "heel veilig"), ("gewicht", "zwaar 7"), ("jaar", "1850"),
                                          ("respondent", "synthetic-0000"), ("pc4", "9999"),
                                          ("tevreden", "-99997")])
def test_errors_name_row_and_column_never_the_value(store, tmp_path, column, cell):
    """Through the command line: the error (printed as ``leefbaar: error: <it>``) names file, row and column,
    never the cell."""
    frame = base().astype(str).replace("None", "")
    frame.loc[10, column] = cell
    file = tmp_path / "synthetic_echo.csv"
    frame.to_csv(file, index=False)
    before = table_hashes(store)
    result = CliRunner().invoke(app, [
        "survey", "import", str(file), "--kind", "microdata", "--level", "pc4", "--area-column", "pc4",
        "--year-column", "jaar", "--items", ",".join(ITEMS), "--weight-column", "gewicht",
        "--respondent-column", "respondent", "--store", str(store)])
    err = result.exception
    assert isinstance(err, InputError) and err.file == str(file), result.output
    assert (err.row, err.column) == (12, column)
    assert cell not in err.message + result.output
    assert table_hashes(store) == before


def test_fingerprints_are_keyed_and_hold_no_answers(store, tmp_path):
    frame, _, _ = run_import(store, tmp_path, "base", "a", "respondent")
    with Store.open(store) as st:
        prints = st.sql("SELECT * FROM survey_fingerprints")
        salt = st.sql("SELECT value FROM meta WHERE key = 'survey_fingerprint_salt'")["value"].iloc[0]
    assert set(prints.columns) == {"run_id", "survey_id", "level", "code", "year", "item", "respondent",
                                   "row_key", "weight"}
    keys = pd.concat([prints["respondent"], prints["row_key"]])
    plain = [hashlib.sha256(("id\x1f" + r).encode()).hexdigest()[:16] for r in frame["respondent"]]
    assert not keys.isin(frame["respondent"]).any() and not keys.isin(plain).any() and len(salt) == 64
    assert set(prints["code"]) <= {"3011", "3111"}  # only published groups (3012 has 49 respondents)
