"""Fit an index on some rows, apply it to others (scikit-learn style): ``fitted = fit(frame, spec)``, then
``fitted.apply(frame)``.

What is fitted is the weighting step. For ``meta``, ``equal``, ``pca``, ``optimise`` and the linear
``calibrated`` weighting these are the weights of every level, learnt on the rows given to ``fit`` (``rows``:
a boolean mask, all rows by default); ``apply`` runs denominate, screen, impute, treat and normalise on the
table it is given (they are relative to that table, as in COINr) and aggregates with the fitted weights.
``build(frame, spec)`` is ``fit(frame, spec).apply(frame)`` in one pass.

For a calibrated weighting with a ``model`` (``engine/calibrated.py``) the fitted part is the model: per
parent an additive spline model fitted on the rows that have every criterion (and lie in ``rows``), applied
to every row. Its record (``apply(...).record``) holds the fitted parameters in the weights step, so
``replay(record, frame)`` rebuilds the same scores without refitting. The data hash is the engine's one
``data_hash`` of the columns read (unit codes, indicators, criteria, coordinates) as read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from leefbaar.errors import InputError, LeefbaarError, SpecError
from leefbaar.index.engine import ops
from leefbaar.index.engine.build import (
    ENGINE_VERSION,
    IndexResult,
    Inputs,
    Stages,
    _numeric_block,
    aggregate_all,
    data_hash,
    final_weights,
    level_weights,
    prepare,
    run,
    validate,
)
from leefbaar.index.engine.calibrated import BASELINE, XY, DimensionModel, fit_dimension
from leefbaar.index.engine.spec import EngineSpec


@dataclass
class CalibratedModel:
    """The fitted calibrated weighting: ``models[parent]`` the additive model of the parent's children (its
    ``features`` are the children's codes), fitted on ``n_fit`` rows."""

    models: dict[str, DimensionModel]
    n_fit: int

    def contributions(self, X: pd.DataFrame) -> dict[str, pd.DataFrame]:
        """Per parent a frame (rows as ``X``): ``_baseline``, then one column per term; a row adds up to the
        parent's value."""
        out = {}
        for p, m in self.models.items():
            frame = pd.DataFrame(m.contributions(X), columns=m.terms, index=X.index)
            frame.insert(0, BASELINE, m.intercept)
            out[p] = frame
        return out

    def params(self) -> dict:
        return {"n_fit": self.n_fit, "models": {p: m.params() for p, m in self.models.items()}}

    @classmethod
    def from_params(cls, p: dict) -> CalibratedModel:
        return cls({k: DimensionModel.from_params(v) for k, v in p["models"].items()}, int(p["n_fit"]))


def model_inputs(frame: pd.DataFrame, spec: EngineSpec, source: str = "<data>") -> tuple[Inputs, pd.DataFrame]:
    """Validate a table for a spec with a calibrated model: unit codes present and unique, the indicators,
    criteria and coordinates numeric (errors name file, row and column). Returns the ``Inputs`` and the
    criteria and coordinates (``XY`` names) as a frame."""
    if spec.unit not in frame.columns:
        raise InputError(source, "the unit column named in the spec is missing", column=spec.unit)
    units = frame[spec.unit]
    blank = units.isna() | (units.astype(str).str.strip() == "")
    if blank.any():
        raise InputError(source, "a unit code is missing", int(np.flatnonzero(blank.to_numpy())[0]) + 2, spec.unit)
    dup = units.astype(str).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(source, f"unit {units.iloc[i]!r} appears twice", i + 2, spec.unit)
    m = spec.weights_model
    X = _numeric_block(frame, spec.hierarchy.indicators, source)
    extra_cols = m.columns()
    E = _numeric_block(frame, extra_cols, source)
    inf = ~np.isfinite(X) & ~np.isnan(X)
    if inf.any():
        i, j = np.argwhere(inf)[0]
        raise InputError(source, "an infinite value", int(i) + 2, spec.hierarchy.indicators[j])
    extra = pd.DataFrame(E, columns=extra_cols, index=frame.index)
    if m.location_columns:
        for c, name in zip(m.location_columns, XY, strict=True):
            extra[name] = extra[c]
    codes = units.astype(str).to_numpy()
    sha = data_hash({spec.unit: codes, tuple(spec.hierarchy.indicators): X, tuple(extra_cols): E})
    inputs = Inputs(codes, None, X, None, None, None, sha, source, frame)
    return inputs, extra


def _model_frame(st: Stages, inputs: Inputs, extra: pd.DataFrame, spec: EngineSpec) -> pd.DataFrame:
    """The model's input on the kept units: treated indicator values named by code (before the direction and
    normalising: the model standardises each child itself), the coordinates as ``XY``."""
    X = pd.DataFrame(st.treated, columns=spec.hierarchy.indicators, index=inputs.frame.index[st.keep], copy=False)
    if spec.weights_model.location_columns:
        for c in XY:
            X[c] = extra[c].to_numpy()[st.keep]
    return X


def _fit_model(X: pd.DataFrame, targets: pd.DataFrame, spec: EngineSpec, rows: np.ndarray,
               with_cov: bool) -> CalibratedModel:
    h, m = spec.hierarchy, spec.weights_model
    keep = targets.notna().all(axis=1).to_numpy() & rows
    if keep.sum() < 10:
        raise LeefbaarError(f"too few rows with a target to calibrate on ({int(keep.sum())})")
    A = h.membership(1)
    models = {}
    for g, parent in enumerate(h.codes(2)):
        kids = [h.indicators[i] for i in np.flatnonzero(A[:, g])]
        signs = {c: 0 if c in m.free else h.nodes[c].direction for c in kids}
        models[parent] = fit_dimension(X[keep], targets[parent].to_numpy(float)[keep], kids, signs, m.knots,
                                       m.smoothing, None, with_cov, m.location)
    return CalibratedModel(models, int(keep.sum()))


@dataclass
class Scored:
    """A fitted index applied to a table, before the result tables are built: the stages, the values of
    every level (``values[k]``: units x codes of level k + 1), the model's contributions per parent (wide,
    calibrated model only) and the build record."""

    inputs: Inputs
    stages: Stages
    values: list[np.ndarray]
    weights: list[np.ndarray]
    parts: dict[str, pd.DataFrame] | None
    record: dict
    units: np.ndarray = field(repr=False, default=None)


@dataclass
class FittedIndex:
    """An index fitted by ``fit``: the spec, the weights of every level and, for a calibrated model, the
    fitted ``model``; ``fit_rows``: how many rows it was fitted on."""

    spec: EngineSpec
    weights: list[np.ndarray]
    model: CalibratedModel | None = None
    fit_rows: int = 0

    def apply(self, frame: pd.DataFrame, source: str = "<data>") -> IndexResult:
        """The index on ``frame`` (any rows with the spec's columns), with its record."""
        if self.model is None:
            return run(validate(frame, self.spec, source), self.spec, weights=self.weights)
        return _result(self.score(frame, source), self.spec)

    def score(self, frame: pd.DataFrame, source: str = "<data>", expect_sha256: str | None = None) -> Scored:
        """A calibrated model on ``frame``: the values of every level, the contributions per parent and the
        record, without the long result tables."""
        inputs, extra, st, rec = self._prepared(frame, source, expect_sha256)
        parts = self.model.contributions(_model_frame(st, inputs, extra, self.spec))
        level2 = np.column_stack([parts[p].sum(axis=1).to_numpy() for p in self.spec.hierarchy.codes(2)])
        values = [st.normalised, *aggregate_all(level2, self.spec, self.weights, start=2)]
        return Scored(inputs, st, values, self.weights, parts, rec, inputs.units[st.keep])

    def record(self, frame: pd.DataFrame, source: str = "<data>") -> dict:
        """The build record of a calibrated model applied to ``frame``, without scoring it (``leefbaar score``
        computes the contributions of every area-year in chunks, ``model.contributions``)."""
        return self._prepared(frame, source, normalise=False)[3]

    def _prepared(self, frame: pd.DataFrame, source: str, expect_sha256: str | None = None,
                  normalise: bool = True):
        if self.model is None:
            raise SpecError(f"{self.spec.source}: score() is for a calibrated model; use apply()")
        spec = self.spec
        inputs, extra = model_inputs(frame, spec, source)
        if expect_sha256 is not None and inputs.sha256 != expect_sha256:
            raise InputError(source, "these data differ from the data of the record (SHA-256 of the columns used)")
        st = prepare(inputs, spec, normalise=normalise)
        h = spec.hierarchy
        m = spec.weights_model
        step = {"step": "weights", "params": {"method": "calibrated", "levels": [1], "target": m.targets,
                                              "model": spec.raw.get("weights", {}).get("model")},
                "details": {"fitted": self.model.params(),
                            "weights": {c: float(w) for lv in range(2, h.depth)
                                        for c, w in zip(h.codes(lv), self.weights[lv - 1], strict=True)}}}
        agg = {"step": "aggregate", "params": {"method": spec.aggregator, "levels": spec.aggregator_levels,
                                               "min_share": spec.min_share},
               "details": {"level2": "the calibrated model: _baseline plus the contributions of the children"}}
        rec = {"engine_version": ENGINE_VERSION, "spec": spec.raw,
               "data": {"source": source, "sha256": inputs.sha256,
                        "units": len(inputs.units), "units_kept": int(st.keep.sum())},
               "steps": st.steps + [step, agg]}
        return inputs, extra, st, rec


def fit(frame: pd.DataFrame, spec: EngineSpec, rows=None, source: str = "<data>",
        with_cov: bool = True) -> FittedIndex:
    """Fit ``spec``'s weighting on ``frame`` (``rows``: a boolean mask of the rows to fit on; default all).

    A calibrated model is fitted on the rows that have every criterion; ``with_cov`` also estimates the
    sampling covariance of its coefficients (``index/uncertainty.py`` draws from it)."""
    rows = np.ones(len(frame), bool) if rows is None else np.asarray(rows, bool)
    if spec.weights_model is None:
        inputs = validate(frame[rows], spec, source)
        st = prepare(inputs, spec, record=False)
        target = inputs.target[st.keep] if inputs.target is not None else None
        return FittedIndex(spec, final_weights(st.normalised, spec, target), None, int(st.keep.sum()))
    inputs, extra = model_inputs(frame, spec, source)
    st = prepare(inputs, spec, record=False, normalise=False)  # the model reads the treated values
    X = _model_frame(st, inputs, extra, spec)
    targets = pd.DataFrame({p: extra[c].to_numpy()[st.keep] for p, c in spec.weights_model.targets.items()},
                           index=X.index)
    model = _fit_model(X, targets, spec, rows[st.keep], with_cov)
    return FittedIndex(spec, level_weights(spec), model, model.n_fit)


def from_record(record: dict, source: str = "<record>") -> FittedIndex:
    """The fitted index of a build record (a calibrated model from its recorded parameters, not refitted)."""
    from leefbaar.index.engine.spec import parse_engine_spec

    spec = parse_engine_spec(record["spec"], f"{source} (record)")
    step = next(s for s in record["steps"] if s["step"] == "weights")
    if spec.weights_model is None or "fitted" not in step.get("details", {}):
        raise SpecError(f"{source}: the record holds no fitted calibrated model")
    model = CalibratedModel.from_params(step["details"]["fitted"])
    return FittedIndex(spec, level_weights(spec), model, model.n_fit)


@dataclass
class ModelResult(IndexResult):
    """The result of a calibrated model (an ``IndexResult``); its contributions are additive: a parent's value
    is the sum of its ``_baseline`` and its children's (and ``_ligging``'s) contributions (``parts``)."""

    parts: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @cached_property
    def _contribution_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        h, units = self.spec.hierarchy, self.units
        frames = []
        for p, part in self.parts.items():
            k = part.shape[1]
            frames.append(pd.DataFrame({"unit": np.repeat(units, k), "level": 2, "node": p,
                                        "child": np.tile(np.asarray(part.columns, object), len(units)),
                                        "contribution": part.to_numpy().ravel(), "space": "additive"}))
        for lv in range(2, h.depth):
            parts, space = ops.contributions(self.values[lv - 1], self.level_weights[lv - 1], h.membership(lv),
                                             self.spec.aggregator_at(lv + 1))
            kids, parents = h.codes(lv), h.codes(lv + 1)
            parent_of = h.membership(lv).argmax(axis=1)
            frames.append(pd.DataFrame({"unit": np.repeat(units, len(kids)), "level": lv + 1,
                                        "node": np.tile(np.asarray(parents, object)[parent_of], len(units)),
                                        "child": np.tile(np.asarray(kids, object), len(units)),
                                        "contribution": parts.ravel(), "space": space}))
        empty = pd.DataFrame(columns=["unit", "top", "indicator", "contribution", "space"])
        return pd.concat(frames, ignore_index=True), empty


def _result(s: Scored, spec: EngineSpec) -> ModelResult:
    """The result of a calibrated model's scoring."""
    h = spec.hierarchy
    wmap = {c: float(w) for lv in range(2, h.depth) for c, w in zip(h.codes(lv), s.weights[lv - 1], strict=True)}
    return ModelResult(spec, s.units, None, list(s.values), list(s.weights), s.stages, wmap, s.record, s.parts)
