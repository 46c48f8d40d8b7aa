"""The Rotterdam Wijkprofiel as a spec of the index engine (the 4,644 checks against the published values are
in tests/test_perception.py; here the rule itself on small frames)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from leefbaar.analysis import wijkprofiel as W


def test_engine_spec_structure():
    spec = W.engine_spec()
    h = spec.hierarchy
    assert h.depth == 3 and h.codes(3) == ["SI", "FI", "VI"]
    assert sorted(h.codes(2)) == sorted(["SI_s", "SI_o", "FIs", "FIo", "VIs", "VIo"])
    assert set(h.leaves_of("SI_o")) == {"Zo", "So", "Po", "Bo"}
    assert spec.min_share == 1.0 and spec.normaliser.method == "none"


def test_parts_and_indices_from_themes_and_given_parts():
    rng = np.random.default_rng(0)
    themes = [c for d in W.DIMENSIONS for c in (*d.subjective_themes, *d.objective_themes)]
    frame = pd.DataFrame(rng.uniform(60, 140, (6, len(themes))), columns=themes)
    frame.loc[2, "Zo"] = np.nan
    out = W.WijkprofielIndex(weight_subjective=0.25).transform(frame)
    si_s = frame[["As", "Zs", "Ss", "Ps", "Bs"]].mean(axis=1)
    si_o = frame[["Zo", "So", "Po", "Bo"]].mean(axis=1, skipna=False)
    np.testing.assert_allclose(out["SI_s"], si_s, rtol=1e-12)
    np.testing.assert_allclose(out["SI"], 0.75 * si_o + 0.25 * si_s, rtol=1e-12)
    assert np.isnan(out.loc[2, "SI_o"]) and np.isnan(out.loc[2, "SI"])  # a missing theme: part and index missing
    parts = out[["SI_s", "SI_o", "FIs", "FIo", "VIs", "VIo"]]
    again = W.WijkprofielIndex(weight_subjective=0.25).transform(parts)
    np.testing.assert_allclose(again["FI"], out["FI"], rtol=1e-12)
