"""LBM3 classes: derived boundaries reproduce every official class of the Leefbaarometer 2024 buurt file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from leefbaar.errors import SpecError
from leefbaar.index import classes as C


@pytest.fixture(scope="module")
def official(data_dir) -> pd.DataFrame:
    return C.read_official_buurt_classes(data_dir / "buurt" / "lbm2024_buurt_scores_nl.csv")


def test_boundaries_reproduce_all_official_classes(official):
    assert len(official) == 12147
    table = C.agreement(official)
    assert list(table["class_column"]) == ["kscore", "kafw", "kwon", "kfys", "kvrz", "ksoc", "konv"]
    assert (table["n"] == 12147).all()
    assert (table["agree"] == 1.0).all(), table


def test_derivation_matches_the_catalogue(official):
    derived = C.derive_boundaries(official)
    scheme = C.load_scheme()
    # every catalogue boundary lies inside the empty gap found in the official file
    assert ((derived.total_gaps[:, 0] < scheme.total_boundaries)
            & (scheme.total_boundaries < derived.total_gaps[:, 1])).all()
    np.testing.assert_allclose(derived.total_boundaries, scheme.total_boundaries, atol=1e-6)
    lo, hi = derived.component_unit_range
    assert lo <= scheme.component_unit <= hi
    assert 0.07839 < lo and hi < 0.07840
    assert derived.component_offset_range[0] <= scheme.component_offset <= derived.component_offset_range[1]
    assert derived.component_margin > 0
    assert derived.n_pairs == 6 * 12147
    # the development step is half the component unit
    assert scheme.development_step == pytest.approx(scheme.component_unit / 2, abs=1e-6)


def test_a_shifted_boundary_breaks_reproduction(official):
    scheme = C.load_scheme()
    moved = scheme.total_boundaries.copy()
    moved[5] = 0.02  # inside class 7 (afw 0.0102 .. 0.0895)
    shifted = C.ClassScheme(**{**scheme.__dict__, "total_boundaries": moved})
    agree = C.agreement(official, shifted).set_index("class_column")["agree"]
    assert agree["kscore"] < 1.0
    assert agree["kwon"] == 1.0


def test_classify_is_vectorised_and_handles_missing():
    afw = np.array([-1.0, -0.2, 0.0, 0.05, 0.5, np.nan])
    np.testing.assert_array_equal(C.classify_total(afw), [1, 4, 6, 7, 9, C.NO_CLASS])
    s = pd.Series([0.0, None, 0.3], index=["a", "b", "c"], name="won")
    out = C.classify_component(s)
    assert out.dtype == "Int8" and list(out.index) == ["a", "b", "c"] and out.name == "won"
    assert out["a"] == 5 and pd.isna(out["b"]) and out["c"] == 9
    assert C.classify_total(0.0) == 6 and C.classify_component(None) == C.NO_CLASS
    # a value on a boundary goes to the higher class
    b = C.load_scheme().total_boundaries[3]
    assert C.classify_total(b) == 5 and C.classify_total(np.nextafter(b, -1)) == 4


def test_development_classes():
    step = C.load_scheme().development_step
    change = np.array([-3.5, -2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 3.5]) * step
    np.testing.assert_array_equal(C.development_class(change), [1, 2, 3, 4, 4, 4, 5, 6, 7])
    assert C.development_class(0.06, step=0.1) == 4
    with pytest.raises(SpecError):
        C.development_class(0.1, step=0)


def test_labels():
    scheme = C.load_scheme()
    assert scheme.labels("total", "nl")[0] == "zeer onvoldoende"
    assert scheme.labels("total", "nl")[3] == "zwak"
    assert scheme.labels("total", "en")[8] == "excellent"
    assert len(scheme.labels("development", "en")) == 7


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["total"].update(boundaries=[0.1, 0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]), "increase"),
    (lambda d: d["total"].update(boundaries=[0.1, 0.2]), "8 finite"),
    (lambda d: d["component"].update(unit="wide"), "unit"),
    (lambda d: d["component"].update(unit=-1), "positive"),
    (lambda d: d.pop("development"), "development"),
    (lambda d: d["total"].update(labels_nl=["a"] * 8), "9 non-empty"),
])
def test_bad_scheme_is_rejected(tmp_path, mutate, message):
    from importlib import resources

    data = yaml.safe_load((resources.files("leefbaar") / "catalogue" / "classes_lbm3.yaml").read_text())
    mutate(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError, match=message):
        C.load_scheme(path)
    with pytest.raises(SpecError, match="no class scheme"):
        C.load_scheme("nope")
