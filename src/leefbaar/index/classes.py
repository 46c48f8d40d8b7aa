"""The nine Leefbaarometer 3 classes, component classes and development classes.

Boundaries are data: ``catalogue/classes_lbm3.yaml`` (or any file of the same layout passed to
``load_scheme``), validated on load. They were derived from the official Leefbaarometer 2024 buurt file with
``derive_boundaries``, which anyone can re-run; the YAML states the rule found and where it comes from:

- total score (``kscore``): nine fixed bands on ``afw`` (``lbm = reference + afw``, reference 4.102265);
- component (``kafw``, ``kwon`` .. ``konv``): symmetric bands at ``offset + {-3, -2, -1, -0.5, 0.5, 1, 2, 3}
  x unit`` with unit sigma = 0.078394 on the score scale;
- development between two years: seven classes at +-1, 2, 3 steps (step sigma/2 = 0.039197 by default).

Scores are in Leefbaarometer score units (afw and the five dimensions add up: ``afw = won + fys + vrz + soc +
onv``); higher is better. A value equal to a boundary falls in the higher class. Missing values get class 0
(``NO_CLASS``) in arrays and ``<NA>`` in pandas Series.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from leefbaar.errors import InputError, SpecError

NO_CLASS = 0
DIMENSIONS = ("won", "fys", "vrz", "soc", "onv")
COMPONENT_CLASS_COLUMNS = {"afw": "kafw", "won": "kwon", "fys": "kfys", "vrz": "kvrz", "soc": "ksoc",
                           "onv": "konv"}


@dataclass(frozen=True)
class ClassScheme:
    """Validated class boundaries (all on the Leefbaarometer score scale, relative to ``reference``)."""

    name: str
    reference: float
    total_boundaries: np.ndarray
    total_labels_nl: tuple[str, ...]
    total_labels_en: tuple[str, ...]
    component_unit: float
    component_offset: float
    component_multiples: np.ndarray
    component_labels_nl: tuple[str, ...]
    component_labels_en: tuple[str, ...]
    development_step: float
    development_multiples: np.ndarray
    development_labels_nl: tuple[str, ...]
    development_labels_en: tuple[str, ...]

    @property
    def component_boundaries(self) -> np.ndarray:
        return self.component_offset + self.component_multiples * self.component_unit

    def development_boundaries(self, step: float | None = None) -> np.ndarray:
        return self.development_multiples * (self.development_step if step is None else step)

    def labels(self, kind: str = "total", lang: str = "nl") -> tuple[str, ...]:
        """Labels of ``kind`` 'total', 'component' or 'development' in ``lang`` 'nl' or 'en'."""
        if kind not in ("total", "component", "development") or lang not in ("nl", "en"):
            raise ValueError(f"unknown label set {kind!r}/{lang!r}")
        return getattr(self, f"{kind}_labels_{lang}")


def _section(data: dict, key: str, where: str) -> dict:
    value = data.get(key)
    if not isinstance(value, dict):
        raise SpecError(f"{where}: section '{key}' is missing or not a mapping")
    return value


def _numbers(section: dict, key: str, where: str, n: int | None = None) -> np.ndarray:
    value = section.get(key)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: '{key}' must be a list of numbers, got {value!r}") from None
    if arr.ndim != 1 or (n is not None and len(arr) != n) or not np.isfinite(arr).all():
        raise SpecError(f"{where}: '{key}' must be a list of {n or 'some'} finite numbers, got {value!r}")
    if len(arr) > 1 and not (np.diff(arr) > 0).all():
        raise SpecError(f"{where}: '{key}' must increase strictly, got {value!r}")
    return arr


def _labels(section: dict, key: str, where: str, n: int) -> tuple[str, ...]:
    value = section.get(key)
    if not isinstance(value, list) or len(value) != n or not all(isinstance(v, str) and v for v in value):
        raise SpecError(f"{where}: '{key}' must be a list of {n} non-empty labels")
    return tuple(value)


def _scalar(section: dict, key: str, where: str, positive: bool = False) -> float:
    value = section.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise SpecError(f"{where}: '{key}' must be a number, got {value!r}")
    if positive and value <= 0:
        raise SpecError(f"{where}: '{key}' must be positive, got {value!r}")
    return float(value)


def parse_scheme(data: object, where: str) -> ClassScheme:
    """Validate a parsed class-boundary document (layout of ``catalogue/classes_lbm3.yaml``)."""
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping with sections total, component, development")
    total = _section(data, "total", where)
    comp = _section(data, "component", where)
    dev = _section(data, "development", where)
    multiples = _numbers(comp, "multiples", f"{where} component", 8)
    dev_multiples = _numbers(dev, "multiples", f"{where} development", 6)
    return ClassScheme(
        name=Path(where).stem,
        reference=_scalar(data, "reference", where),
        total_boundaries=_numbers(total, "boundaries", f"{where} total", 8),
        total_labels_nl=_labels(total, "labels_nl", f"{where} total", 9),
        total_labels_en=_labels(total, "labels_en", f"{where} total", 9),
        component_unit=_scalar(comp, "unit", f"{where} component", positive=True),
        component_offset=_scalar(comp, "offset", f"{where} component"),
        component_multiples=multiples,
        component_labels_nl=_labels(comp, "labels_nl", f"{where} component", 9),
        component_labels_en=_labels(comp, "labels_en", f"{where} component", 9),
        development_step=_scalar(dev, "step", f"{where} development", positive=True),
        development_multiples=dev_multiples,
        development_labels_nl=_labels(dev, "labels_nl", f"{where} development", 7),
        development_labels_en=_labels(dev, "labels_en", f"{where} development", 7),
    )


@cache
def load_scheme(source: str | Path = "lbm3") -> ClassScheme:
    """Class boundaries from ``catalogue/classes_<source>.yaml`` or from a YAML file path."""
    path = Path(source)
    if path.suffix in (".yaml", ".yml"):
        where, text = str(path), None
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"{path}: cannot be read: {exc.strerror}") from None
    else:
        res = resources.files("leefbaar") / "catalogue" / f"classes_{source}.yaml"
        if not res.is_file():
            raise SpecError(f"no class scheme {source!r} (catalogue/classes_{source}.yaml)")
        where, text = f"catalogue/classes_{source}.yaml", res.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid YAML: {exc}") from None
    return parse_scheme(data, where)


def _apply(values, boundaries: np.ndarray):
    """Class 1..len(boundaries)+1 of each value (vectorised); NO_CLASS or <NA> where the value is missing."""
    if np.isscalar(values) or values is None:
        v = np.nan if values is None else float(values)
        return NO_CLASS if np.isnan(v) else int(np.searchsorted(boundaries, v, side="right") + 1)
    if isinstance(values, pd.Series):
        v = values.to_numpy(dtype=float, na_value=np.nan)
        out = np.searchsorted(boundaries, v, side="right") + 1
        return pd.Series(pd.array(np.where(np.isnan(v), pd.NA, out), dtype="Int8"), index=values.index,
                         name=values.name)
    v = np.asarray(values, dtype=float)
    out = (np.searchsorted(boundaries, v, side="right") + 1).astype(np.int8)
    out[np.isnan(v)] = NO_CLASS
    return out


def classify_total(afw, scheme: ClassScheme | None = None):
    """Class 1 (zeer onvoldoende) .. 9 (uitstekend) of the total score, from its deviation ``afw``.

    ``afw`` is a number, array or Series in score units relative to ``scheme.reference``; for an absolute
    score pass ``lbm - scheme.reference``.
    """
    return _apply(afw, (scheme or load_scheme()).total_boundaries)


def classify_component(values, scheme: ClassScheme | None = None):
    """Component class 1..9 of a dimension score or of ``afw`` as a component (official kafw, kwon .. konv).

    Class 5 is within half a unit of zero (unit 0.078394 score points); 1 and 9 are 3 units or more below or
    above.
    """
    return _apply(values, (scheme or load_scheme()).component_boundaries)


def development_class(change, step: float | None = None, scheme: ClassScheme | None = None):
    """Development class 1 (sterke achteruitgang) .. 7 (sterke vooruitgang) of a change in score points.

    ``change`` is later minus earlier score (total ``afw``/``lbm`` or a dimension); class 4 is a change
    smaller than one ``step`` (default ``scheme.development_step`` = 0.039197) either way, 3/5 one to two
    steps, 2/6 two to three, 1/7 three or more.
    """
    scheme = scheme or load_scheme()
    if step is not None and not step > 0:
        raise SpecError(f"development step must be positive, got {step!r}")
    return _apply(change, scheme.development_boundaries(step))


# -- derivation from an official file with scores and classes ----------------------------------------------

@dataclass(frozen=True)
class DerivedBoundaries:
    """What ``derive_boundaries`` found. ``total_gaps`` rows: (highest value of class k, lowest of k+1)."""

    total_gaps: np.ndarray
    total_boundaries: np.ndarray
    component_unit: float
    component_unit_range: tuple[float, float]
    component_offset: float
    component_offset_range: tuple[float, float]
    component_margin: float
    n_pairs: int


def _gaps(values: np.ndarray, classes: np.ndarray, k: int, what: str) -> np.ndarray:
    gaps = np.empty((k - 1, 2))
    for c in range(1, k):
        below, above = values[classes <= c], values[classes > c]
        if len(below) == 0 or len(above) == 0:
            raise InputError(what, f"class boundary {c}|{c + 1} cannot be derived: a side is empty")
        gaps[c - 1] = below.max(), above.min()
        if gaps[c - 1, 0] >= gaps[c - 1, 1]:
            raise InputError(what, f"classes {c} and {c + 1} overlap in value ({gaps[c - 1, 0]} >= "
                                   f"{gaps[c - 1, 1]}): not a set of fixed bands")
    return gaps


def derive_boundaries(frame: pd.DataFrame, multiples=(-3, -2, -1, -0.5, 0.5, 1, 2, 3),
                      what: str = "official classes") -> DerivedBoundaries:
    """Derive LBM3 class boundaries from a frame of scores and official classes.

    ``frame`` has columns afw, won, fys, vrz, soc, onv (score points) and kscore, kafw, kwon, kfys, kvrz,
    ksoc, konv (classes 1-9), e.g. the Leefbaarometer 2024 buurt file. Total: each boundary is the midpoint
    of the empty gap between classes (an overlap means the classes are not fixed bands: error). Components:
    a linear programme finds one ``unit`` and ``offset`` such that ``offset + multiple * unit`` separates
    every value/class pair of all six components with the largest margin, and the range of each.
    """
    from scipy.optimize import linprog

    need = ["afw", *DIMENSIONS, "kscore", *COMPONENT_CLASS_COLUMNS.values()]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise InputError(what, "required column is missing", column=missing[0])
    total_gaps = _gaps(frame["afw"].to_numpy(float), frame["kscore"].to_numpy(float), 9, what)
    values = np.concatenate([frame[v].to_numpy(float) for v in COMPONENT_CLASS_COLUMNS])
    classes = np.concatenate([frame[k].to_numpy(float) for k in COMPONENT_CLASS_COLUMNS.values()])
    ok = ~np.isnan(values) & ~np.isnan(classes)
    m = np.asarray(multiples, dtype=float)
    gaps = _gaps(values[ok], classes[ok], len(m) + 1, what)
    # variables (offset, unit, margin): gap_lo + margin <= offset + m*unit <= gap_hi - margin
    a_ub = np.vstack([np.column_stack([-np.ones_like(m), -m, np.ones_like(m)]),
                      np.column_stack([np.ones_like(m), m, np.ones_like(m)])])
    b_ub = np.concatenate([-gaps[:, 0], gaps[:, 1]])
    bounds = [(-1.0, 1.0), (0.0, 10.0), (None, None)]
    best = linprog([0, 0, -1], A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if best.status != 0 or best.x[2] <= 0:
        raise InputError(what, "no single unit separates the component classes at the given multiples")
    ranges = []
    for j in (0, 1):
        ext = []
        for sign in (1.0, -1.0):
            c = np.zeros(2)
            c[j] = sign
            r = linprog(c, A_ub=a_ub[:, :2], b_ub=b_ub, bounds=bounds[:2], method="highs")
            ext.append(r.x[j])
        ranges.append((float(min(ext)), float(max(ext))))
    return DerivedBoundaries(
        total_gaps=total_gaps, total_boundaries=total_gaps.mean(axis=1),
        component_unit=float(best.x[1]), component_unit_range=ranges[1],
        component_offset=float(best.x[0]), component_offset_range=ranges[0],
        component_margin=float(best.x[2]), n_pairs=int(ok.sum()),
    )


def read_official_buurt_classes(path: str | Path) -> pd.DataFrame:
    """The Leefbaarometer 2024 buurt file (``buurt/lbm2024_buurt_scores_nl.csv``) as numbers, read strictly.

    Returns bu_code plus the score columns (afw, won .. onv) and class columns (kscore, kafw .. konv).
    Prefer the store once the buurt reader has ingested it; this reader serves the derivation and its test.
    """
    from leefbaar.sources.tabular import check_columns, parse_values, read_text_table

    raw = read_text_table(path)
    cols = ["afw", *DIMENSIONS, "kscore", *COMPONENT_CLASS_COLUMNS.values()]
    check_columns(raw, set(raw.frame.columns), required=["bu_code", *cols])
    values, _ = parse_values(raw, raw.frame[cols])
    out = pd.DataFrame(values, columns=cols)
    out.insert(0, "bu_code", raw.frame["bu_code"].to_numpy())
    return out


def agreement(frame: pd.DataFrame, scheme: ClassScheme | None = None) -> pd.DataFrame:
    """Share of official classes reproduced by ``scheme``, per class column (kscore, kafw .. konv)."""
    scheme = scheme or load_scheme()
    rows = [("kscore", "afw", classify_total(frame["afw"].to_numpy(float), scheme), frame["kscore"])]
    rows += [(k, v, classify_component(frame[v].to_numpy(float), scheme), frame[k])
             for v, k in COMPONENT_CLASS_COLUMNS.items()]
    out = []
    for k, v, ours, official in rows:
        off = official.to_numpy(float)
        keep = ~np.isnan(off)
        out.append({"class_column": k, "score_column": v, "n": int(keep.sum()),
                    "agree": float((ours[keep] == off[keep]).mean())})
    return pd.DataFrame(out)
