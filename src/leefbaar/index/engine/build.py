"""Build an index from a table of units and indicators with an ``EngineSpec``; record every step; replay.

``build(frame, spec)`` validates the table (``validate``: unique unit codes, numeric indicator columns; errors
name the file, row and column), then runs the steps in order (``run``): denominate, screen, impute, treat,
normalise, weights, aggregate, on NumPy arrays. The ``IndexResult`` holds the data set after every step, the
scores and ranks of every level (rank 1 = highest, ties at the minimum), the contributions, and ``record``:
the spec with its metadata inlined, a SHA-256 of the input data and what every step did. ``replay(record,
frame)`` rebuilds the same result from the record (and refuses data whose hash differs).

Contributions: every child's part of its parent (``ops.contributions``: linear for arithmetic, log-additive
for geometric: ``log node = sum (w / sum w) log child``, reciprocal for harmonic) and, where every level above
an indicator uses the same arithmetic or geometric mean, each indicator's part of the top node: the product
of the renormalised weights along its path times its normalised value (arithmetic; these add up exactly to
the index) or times its log (geometric; they add up to the log of the index).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from leefbaar.errors import InputError, SpecError
from leefbaar.i18n import N_, translator
from leefbaar.index.engine import ops
from leefbaar.index.engine.spec import EngineSpec, parse_engine_spec

ENGINE_VERSION = 2


@dataclass
class Inputs:
    """A validated table as arrays: ``X`` raw indicator values (units x indicators, NaN missing), ``D`` the
    denominator of each indicator column (NaN columns where an indicator has none)."""

    units: np.ndarray
    labels: np.ndarray | None
    X: np.ndarray
    D: np.ndarray | None
    groups: np.ndarray | None
    target: np.ndarray | None
    sha256: str
    source: str = "<data>"
    frame: pd.DataFrame | None = field(default=None, repr=False)


def read_table(path) -> pd.DataFrame:
    """A CSV or Parquet table of units and indicators."""
    path = Path(path)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix in (".csv", ".txt"):
            return pd.read_csv(path, dtype=object, keep_default_na=False, na_values=["", "NA", "NaN", "nan"])
    except (OSError, ValueError) as exc:
        raise InputError(str(path), f"cannot be read: {exc}") from None
    raise InputError(str(path), "the data must be a .csv or .parquet file")


def _numeric(frame: pd.DataFrame, col: str, source: str) -> np.ndarray:
    """One column as floats (see ``_numeric_block``)."""
    return _numeric_block(frame, [col], source)[:, 0]


def _numeric_block(frame: pd.DataFrame, cols: list[str], source: str) -> np.ndarray:
    """Columns as one float matrix (units x columns), converted at once; blank text and NA are NaN. Only a
    table that does not convert is searched for its first value that is not a number (by column, then row)."""
    names = frame.columns.tolist()
    where = {c: i for i, c in enumerate(names)}
    if len(where) < len(names):
        dup = next(c for i, c in enumerate(names) if where[c] != i)
        raise InputError(source, "two columns of the data have this name", column=str(dup))
    missing = [c for c in cols if c not in where]
    if missing:
        raise InputError(source, "the data have no such column", column=missing[0])
    pos = np.array([where[c] for c in cols], dtype=np.intp)
    if all(t.kind in "iuf" for t in frame.dtypes.to_numpy()[pos]):
        return frame.iloc[:, pos].to_numpy(float, na_value=np.nan)
    # one conversion of the whole table when it is mostly these columns (cheaper than selecting them)
    vals = frame.to_numpy(object)[:, pos] if 2 * len(pos) >= frame.shape[1] else frame.iloc[:, pos].to_numpy(object)
    try:
        return vals.astype(float)
    except (TypeError, ValueError):
        pass
    text = np.frompyfunc(lambda v: isinstance(v, str), 1, 1)(vals).astype(bool)
    blank = pd.isna(vals)
    blank[text] |= np.char.strip(vals[text].astype(str)) == ""
    vals = np.where(blank, np.nan, vals)
    try:
        return vals.astype(float)
    except (TypeError, ValueError):
        for j, c in enumerate(cols):
            for i, v in enumerate(vals[:, j]):
                try:
                    float(v)
                except (TypeError, ValueError):
                    raise InputError(source, f"{v!r} is not a number", i + 2, c) from None
        raise


def data_hash(columns: dict[str, np.ndarray]) -> str:
    """SHA-256 of the columns an index reads, as read: per column (in order) its name, then its values in row
    order, numbers as little-endian float64 (one NaN, no negative zero), text as JSON (missing: null). A 2-D
    array under a tuple of names is that many columns side by side (hashed column after column)."""
    h = hashlib.sha256()
    for name, values in columns.items():
        h.update(json.dumps(name).encode("utf-8") + b"\0")
        if values.dtype.kind == "f":
            for col in (values.T if values.ndim == 2 else [values]):  # column by column: no copy of the block
                v = np.asarray(col, "<f8") + 0.0
                v[np.isnan(v)] = np.nan
                h.update(v.tobytes())
        else:
            h.update(json.dumps([None if x is None else str(x) for x in values]).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def validate(frame: pd.DataFrame, spec: EngineSpec, source: str = "<data>") -> Inputs:
    """Check the table against the spec and return it as arrays (see ``Inputs``)."""
    h = spec.hierarchy
    if spec.unit not in frame.columns:
        raise InputError(source, "the unit column named in the spec is missing", column=spec.unit)
    raw_units = frame[spec.unit].to_numpy(object)
    text = raw_units.astype(str)
    blank = pd.isna(raw_units) | (np.char.strip(text) == "")
    if blank.any():
        raise InputError(source, "a unit code is missing", int(np.flatnonzero(blank)[0]) + 2, spec.unit)
    units = text.astype(object)
    if len(set(text.tolist())) < len(units):
        i = int(np.flatnonzero(pd.Index(units).duplicated())[0])
        raise InputError(source, f"unit {raw_units[i]!r} appears twice", i + 2, spec.unit)
    inds = h.indicators
    X = _numeric_block(frame, inds, source)
    inf = np.isinf(X)
    if inf.any():
        i, j = np.argwhere(inf)[0]
        raise InputError(source, "an infinite value", int(i) + 2, inds[j])
    used = {spec.unit: units, tuple(inds): X}
    D = None
    if spec.denominate:
        D = np.full(X.shape, np.nan)
        for j, c in enumerate(inds):
            den = h.nodes[c].denominator
            if den:
                if den not in used:
                    used[den] = _numeric(frame, den, source)
                D[:, j] = used[den]
    groups = None
    if spec.impute_group:
        if spec.impute_group not in frame.columns:
            raise InputError(source, "the group column named in the spec (impute.group) is missing",
                             column=spec.impute_group)
        groups = frame[spec.impute_group].astype(object).where(frame[spec.impute_group].notna(), None).to_numpy()
        used.setdefault(spec.impute_group, groups)
    target = None
    if spec.weights_target:
        target = _numeric(frame, spec.weights_target, source)
        used.setdefault(spec.weights_target, target)
    if spec.label and spec.label not in frame.columns:
        raise InputError(source, "the label column named in the spec is missing", column=spec.label)
    labels = None
    if spec.label:
        raw_labels = frame[spec.label].to_numpy(object)
        labels = raw_labels.astype(str).astype(object)
        labels[pd.isna(raw_labels)] = np.nan
    return Inputs(units, labels, X, D, groups, target, data_hash(used), source, frame)


@dataclass
class Stages:
    """Arrays after each step (rows: the kept units)."""

    keep: np.ndarray
    raw: np.ndarray
    denominated: np.ndarray
    imputed: np.ndarray
    treated: np.ndarray
    normalised: np.ndarray
    steps: list[dict] = field(default_factory=list)


def prepare(inputs: Inputs, spec: EngineSpec, record: bool = True, normalise: bool = True) -> Stages:
    """Every step up to and including normalising (the part an uncertainty analysis computes once); without
    ``normalise`` the normalised stage is None (a calibrated model reads the treated values), the record the
    same."""
    h = spec.hierarchy
    inds = h.indicators
    steps: list[dict] = []
    X = inputs.X
    den = X
    if spec.denominate:
        D = np.where(np.isnan(inputs.D), 1.0, inputs.D)
        den = np.where(np.isnan(inputs.D), X, ops.denominate(X, D, spec.denominate_scale))
        if record:
            steps.append({"step": "denominate", "params": {"scale": spec.denominate_scale},
                          "details": {c: h.nodes[c].denominator for c in inds if h.nodes[c].denominator}})
    keep = np.ones(len(X), bool)
    if spec.screen_min_share is not None:
        keep, share = ops.screen(den, spec.screen_min_share, spec.screen_by)
        if record:
            steps.append({"step": "screen", "params": {"min_share": spec.screen_min_share, "by": spec.screen_by},
                          "details": {"removed": inputs.units[~keep].tolist(),
                                      "share": dict(zip(inputs.units.tolist(), share.round(6).tolist(),
                                                        strict=True))}})
        if not keep.any():
            raise SpecError(f"{spec.source}: screening removed every unit (min_share {spec.screen_min_share})")
    every = bool(keep.all())  # nothing screened out: the arrays as they are, no copies
    den = den if every else den[keep]
    groups = inputs.groups[keep] if inputs.groups is not None and not every else inputs.groups
    imp, filled = ops.impute(den, spec.impute, groups)
    if record:
        steps.append({"step": "impute", "params": {"method": spec.impute, "group": spec.impute_group},
                      "details": {"filled": {c: int(n) for c, n in zip(inds, filled, strict=True) if n},
                                  "missing_after": int(np.isnan(imp).sum())}})
    treated = imp
    if spec.treat is not None or spec.treat_per:
        treated = imp.copy()
        details = {}
        for j, c in enumerate(inds):
            t = spec.treat_per.get(c, spec.treat)
            if t is None:
                continue
            treated[:, j], det = ops.treat(imp[:, j], t.winmax, t.skew, t.kurt, t.fallback)
            if det["action"] != "none":
                details[c] = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in det.items()}
        if record:
            t = spec.treat
            steps.append({"step": "treat", "params": None if t is None else {
                "winmax": t.winmax, "skew": t.skew, "kurt": t.kurt, "fallback": t.fallback},
                "details": details})
    norm = normalise_all(treated, spec) if normalise else None
    if record:
        steps.append({"step": "normalise", "params": spec.normaliser.as_dict(),
                      "details": {"per_indicator": {c: n.as_dict() for c, n in spec.normaliser_per.items()},
                                  "directions": {c: h.nodes[c].direction for c in inds
                                                 if h.nodes[c].direction != 1}}})
    return Stages(keep, X if every else X[keep], den, imp, treated, norm, steps)


def normalise_all(T: np.ndarray, spec: EngineSpec, normaliser=None) -> np.ndarray:
    """Normalise every indicator column with the spec's normaliser (or ``normaliser``) and its overrides."""
    h = spec.hierarchy
    inds = h.indicators
    dirs = np.array([h.nodes[c].direction for c in inds], float)
    targets = np.array([np.nan if h.nodes[c].target is None else h.nodes[c].target for c in inds])
    goal = np.array([h.nodes[c].goalposts or (np.nan, np.nan) for c in inds]).T

    def run(nz, cols):
        return ops.normalise(T[:, cols], dirs[cols], nz.method, lo=nz.lo, hi=nz.hi, mean=nz.mean, sd=nz.sd,
                             targets=targets[cols], cap=nz.cap, goalposts=goal[:, cols])

    nz = normaliser or spec.normaliser
    if not spec.normaliser_per or normaliser is not None:
        return run(nz, np.arange(len(inds)))
    out = np.empty_like(T, dtype=float)
    default = [j for j, c in enumerate(inds) if c not in spec.normaliser_per]
    if default:
        out[:, default] = run(nz, np.array(default))
    for c, n in spec.normaliser_per.items():
        j = inds.index(c)
        out[:, [j]] = run(n, np.array([j]))
    return out


def _pca_weights(V: np.ndarray, A: np.ndarray) -> np.ndarray:
    """Per parent: squared loadings of the first principal component of its (standardised, complete-case)
    children, normalised to sum 1 within the parent."""
    w = np.ones(V.shape[1])
    for g in range(A.shape[1]):
        kids = np.flatnonzero(A[:, g])
        if len(kids) < 2:
            continue
        sub = V[:, kids]
        sub = sub[~np.isnan(sub).any(axis=1)]
        if len(sub) < 3:
            raise SpecError(f"pca weights need at least 3 complete units under a node, found {len(sub)}")
        sd = sub.std(axis=0, ddof=1)
        Zs = (sub - sub.mean(axis=0)) / np.where(sd > 0, sd, 1)
        _, _, vt = np.linalg.svd(Zs, full_matrices=False)
        load = vt[0] ** 2
        w[kids] = load / load.sum()
    return w


def level_weights(spec: EngineSpec) -> list[np.ndarray]:
    """Child weights per level 1..depth-1 from the metadata (``equal``: all 1)."""
    h = spec.hierarchy
    return [np.ones(len(h.codes(lv))) if spec.weights == "equal" else h.weights(lv) for lv in range(1, h.depth)]


def aggregate_all(Z: np.ndarray, spec: EngineSpec, weights: list[np.ndarray], start: int = 1,
                  aggregators: dict[int, str] | None = None) -> list[np.ndarray]:
    """Values of levels ``start``..depth from the values ``Z`` of level ``start`` (``weights[k]``: children of
    level k + 1). Vectorised over a leading axis of draws when the weights are (draws, children)."""
    h = spec.hierarchy
    values = [Z]
    for lv in range(start, h.depth):
        method = (aggregators or {}).get(lv + 1, spec.aggregator_at(lv + 1))
        values.append(ops.aggregate(values[-1], weights[lv - 1], h.membership(lv), method, spec.min_share))
    return values


def _optimise_weights(Z, spec, weights, level) -> np.ndarray:
    """Weights of level ``level`` whose normalised correlations with the top node are equal (COINr
    ``get_opt_weights``, optype 'balance'), by Nelder-Mead over log weights."""
    from scipy.optimize import minimize

    h = spec.hierarchy
    if len(h.codes(h.depth)) != 1:
        raise SpecError(f"{spec.source}: optimised weights need a single top node")
    below = aggregate_all(Z, spec, weights)[: level]
    V = below[level - 1]
    n = V.shape[1]

    def top(logw):
        ws = list(weights)
        ws[level - 1] = np.exp(logw)
        return aggregate_all(V, spec, ws, start=level)[-1][:, 0]

    def loss(logw):
        t = top(logw)
        ok = ~np.isnan(t)
        r = np.array([np.corrcoef(np.where(np.isnan(V[ok, j]), np.nanmean(V[:, j]), V[ok, j]), t[ok])[0, 1]
                      for j in range(n)])
        r = np.nan_to_num(r)
        return float(((r / r.sum()) - 1 / n) @ ((r / r.sum()) - 1 / n)) if r.sum() else 1.0

    res = minimize(loss, np.log(np.maximum(weights[level - 1], 1e-6)), method="Nelder-Mead",
                   options={"xatol": 1e-6, "fatol": 1e-12, "maxiter": 4000})
    w = np.exp(res.x)
    return w / w.sum() * n


def _calibrated_weights(Z, spec, weights, level, target) -> np.ndarray:
    """Weights of level ``level``: per parent, non-negative least squares of the criterion on its children
    (complete cases), normalised to sum 1 within the parent."""
    from scipy.optimize import nnls

    h = spec.hierarchy
    V = aggregate_all(Z, spec, weights)[level - 1]
    A = h.membership(level)
    w = np.array(weights[level - 1], float)
    for g in range(A.shape[1]):
        kids = np.flatnonzero(A[:, g])
        sub = np.column_stack([V[:, kids], np.ones(len(V))])
        ok = ~np.isnan(sub).any(axis=1) & ~np.isnan(target)
        if ok.sum() < len(kids) + 2:
            raise SpecError(f"{spec.source}: calibrated weights need more complete units than children")
        coef, _ = nnls(np.column_stack([sub[ok, :-1], sub[ok, -1:], -sub[ok, -1:]]), target[ok])
        c = coef[: len(kids)]
        if c.sum() <= 0:
            raise SpecError(f"{spec.source}: calibrated weights of {h.codes(level + 1)[g]!r} are all zero")
        w[kids] = c / c.sum()
    return w


def final_weights(Z: np.ndarray, spec: EngineSpec, target: np.ndarray | None = None) -> list[np.ndarray]:
    """The weights used at every level after the ``weights`` step."""
    h = spec.hierarchy
    weights = level_weights(spec)
    if spec.weights == "pca":
        levels = spec.weights_levels or tuple(range(1, h.depth))
        values = Z
        for lv in range(1, h.depth):
            if lv in levels:
                weights[lv - 1] = _pca_weights(values, h.membership(lv))
            values = ops.aggregate(values, weights[lv - 1], h.membership(lv), spec.aggregator_at(lv + 1),
                                   spec.min_share)
    elif spec.weights == "optimise":
        weights[spec.weights_levels[0] - 1] = _optimise_weights(Z, spec, weights, spec.weights_levels[0])
    elif spec.weights == "calibrated":
        if spec.weights_model is not None:
            raise SpecError(f"{spec.source}: a calibrated model is not a set of weights: build it with build() or "
                            "engine.fit.fit(); its uncertainty analysis is not available in the engine")
        weights[spec.weights_levels[0] - 1] = _calibrated_weights(Z, spec, weights, spec.weights_levels[0], target)
    return weights


@dataclass
class IndexResult:
    """A built index, held as arrays; the tables are made on first access. ``values``: per level, the units x
    codes array (level 1: normalised indicators); ``level_weights``: per level 1..depth-1 the weight of every
    node in its parent after the weights step (``weights``: the same by code); ``stages``: the data after each
    step; ``record``: the build record.

    Tables: ``scores``/``ranks`` units x codes of every level; ``data`` the data set after each step (units x
    indicators); ``contributions`` long (unit, node, child, contribution, space); ``indicator_contributions``
    long (unit, top, indicator, contribution, space)."""

    spec: EngineSpec
    units: np.ndarray
    labels: np.ndarray | None
    values: list[np.ndarray] = field(repr=False)
    level_weights: list[np.ndarray] = field(repr=False)
    stages: Stages = field(repr=False)
    weights: dict[str, float]
    record: dict

    @cached_property
    def scores(self) -> pd.DataFrame:
        h = self.spec.hierarchy
        codes = [c for lv in range(1, h.depth + 1) for c in h.codes(lv)]
        return pd.DataFrame(np.column_stack(self.values), columns=codes, index=pd.Index(self.units, name="unit"))

    @cached_property
    def ranks(self) -> pd.DataFrame:
        return pd.DataFrame(ops.ranks(self.scores.to_numpy()), columns=self.scores.columns,
                            index=self.scores.index)

    @cached_property
    def data(self) -> dict[str, pd.DataFrame]:
        st, index = self.stages, pd.Index(self.units, name="unit")
        return {name: pd.DataFrame(arr, columns=self.spec.hierarchy.indicators, index=index)
                for name, arr in [("raw", st.raw), ("denominated", st.denominated), ("imputed", st.imputed),
                                  ("treated", st.treated), ("normalised", st.normalised)]}

    @cached_property
    def _contribution_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return _contributions(self.values, self.level_weights, self.spec, self.units)

    @property
    def contributions(self) -> pd.DataFrame:
        return self._contribution_tables[0]

    @property
    def indicator_contributions(self) -> pd.DataFrame:
        return self._contribution_tables[1]

    def level(self, level: int) -> pd.DataFrame:
        """Scores and ranks of one level: unit (label), one column per code and ``<code>_rank``."""
        codes = self.spec.hierarchy.codes(level)
        out = pd.DataFrame({"unit": self.units})
        if self.labels is not None:
            out["label"] = self.labels
        for c in codes:
            out[c] = self.scores[c].to_numpy()
        for c in codes:
            out[f"{c}_rank"] = self.ranks[c].to_numpy()
        return out

    def long(self) -> pd.DataFrame:
        """unit, level, level_name, code, score, rank for every level."""
        h = self.spec.hierarchy
        frames = []
        for c, node in h.nodes.items():
            frames.append(pd.DataFrame({"unit": self.units, "level": node.level,
                                        "level_name": h.level_name(node.level), "code": c,
                                        "score": self.scores[c].to_numpy(), "rank": self.ranks[c].to_numpy()}))
        return pd.concat(frames, ignore_index=True)

    def summary_markdown(self, lang: str = "nl", top: int = 10) -> str:
        """A short readable summary: the steps as recorded and the first ``top`` units of the top level."""
        _ = translator(lang)
        h = self.spec.hierarchy
        code = h.codes(h.depth)[0]
        levels = ", ".join(f"{lv} {h.level_name(lv)} ({len(h.codes(lv))})" for lv in range(1, h.depth + 1))
        lines = ["# " + _("Index {name}", name=self.spec.name), "",
                 _("{units} of {all} units; levels: {levels}. Data: SHA-256 {sha}… (in full in record.json, from "
                   "which the build replays).", units=len(self.units), all=self.record["data"]["units"],
                   levels=levels, sha=self.record["data"]["sha256"][:12]), "", "## " + _("Steps"), ""]
        for step in self.record["steps"]:
            params = {k: v for k, v in (step.get("params") or {}).items() if v not in (None, [], {})}
            name = _(STEP_NAMES[step["step"]]) if step["step"] in STEP_NAMES else step["step"]
            lines.append(f"- **{name}**: "
                         + ", ".join(f"`{k}: {v}`" for k, v in params.items()))
            if step["step"] == "treat" and step["details"]:
                treated = {c: _(TREATMENTS[d["action"]], n=d["winsorised"]) if d["action"] in TREATMENTS
                           else d["action"] for c, d in step["details"].items()}
                lines.append("  " + _("treated") + ": " + ", ".join(f"{c} ({how})" for c, how in treated.items()))
            if step["step"] == "impute" and step["details"]["filled"]:
                lines.append("  " + _("values imputed") + f": {_.integer(sum(step['details']['filled'].values()))}")
        table = self.level(h.depth).sort_values(f"{code}_rank").head(top)
        lines += ["", "## " + _("First {n} on {level}", n=top, level=h.level_name(h.depth)), "",
                  table.round(3).to_markdown(index=False), ""]
        return "\n".join(lines)

    def write(self, out: Path, lang: str = "nl") -> list[Path]:
        """Scores and ranks per level, the long table, data after each step, contributions, weights, the
        record (JSON) and a summary (Markdown, ``lang``) into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        h = self.spec.hierarchy
        written = []
        for lv in range(1, h.depth + 1):
            p = out / f"scores_level{lv}_{h.level_name(lv)}.csv"
            self.level(lv).to_csv(p, index=False)
            written.append(p)
        for name, frame in [("scores_long", self.long()), ("contributions", self.contributions),
                            ("indicator_contributions", self.indicator_contributions),
                            ("weights", pd.DataFrame({"code": list(self.weights),
                                                      "weight": list(self.weights.values())})),
                            *[(f"data_{k}", v.reset_index()) for k, v in self.data.items()]]:
            p = out / f"{name}.csv"
            frame.to_csv(p, index=False)
            written.append(p)
        p = out / "record.json"
        p.write_text(json.dumps(self.record, indent=1, default=_json_default), encoding="utf-8")
        written.append(p)
        p = out / f"summary_{lang}.md"
        p.write_text(self.summary_markdown(lang), encoding="utf-8")
        written.append(p)
        return written


STEP_NAMES = {"denominate": N_("denominate"), "screen": N_("screen"), "impute": N_("impute"), "treat": N_("outliers"),
              "normalise": N_("normalise"), "weights": N_("weights"), "aggregate": N_("aggregate")}
"""The build steps as named in the summary."""
TREATMENTS = {"winsorise": N_("winsorised, {n} points"), "log": N_("log"),
              "winsorise (still failing)": N_("winsorised, {n} points, still skewed")}
"""Outlier treatments as named in the summary (``{n}``: points winsorised)."""


def _json_default(v):
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return None if np.isnan(v) else float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)


def run(inputs: Inputs, spec: EngineSpec, record: bool = True, weights: list[np.ndarray] | None = None
        ) -> IndexResult | list[np.ndarray]:
    """All steps on validated ``inputs``. With ``record=False`` only the level values (a fast rebuild);
    ``weights``: fitted weights of every level (``fit.FittedIndex``) instead of the weights step's own."""
    st = prepare(inputs, spec, record)
    target = inputs.target[st.keep] if inputs.target is not None else None
    if weights is None:
        weights = final_weights(st.normalised, spec, target)
    values = aggregate_all(st.normalised, spec, weights)
    if not record:
        return values
    h = spec.hierarchy
    units = inputs.units[st.keep]
    labels = inputs.labels[st.keep] if inputs.labels is not None else None
    wmap = {c: float(w) for lv in range(1, h.depth) for c, w in zip(h.codes(lv), weights[lv - 1], strict=True)}
    missing = {c: n for lv in range(2, h.depth + 1)
               for c, n in zip(h.codes(lv), np.isnan(values[lv - 1]).sum(axis=0).tolist(), strict=True) if n}
    steps = st.steps + [
        {"step": "weights", "params": {"method": spec.weights, "levels": list(spec.weights_levels),
                                       "target": spec.weights_target}, "details": wmap},
        {"step": "aggregate", "params": {"method": spec.aggregator, "levels": spec.aggregator_levels,
                                         "min_share": spec.min_share},
         "details": {"missing": missing}}]
    rec = {"engine_version": ENGINE_VERSION, "spec": spec.raw,
           "data": {"source": inputs.source, "sha256": inputs.sha256, "units": len(inputs.units),
                    "units_kept": int(st.keep.sum())},
           "steps": steps}
    return IndexResult(spec, units, labels, values, weights, st, wmap, rec)


def _contributions(values, weights, spec: EngineSpec, units) -> tuple[pd.DataFrame, pd.DataFrame]:
    h = spec.hierarchy
    frames = []
    share_to_top = {h.depth: np.ones((len(units), len(h.codes(h.depth))))}
    spaces = {}
    for lv in range(h.depth - 1, 0, -1):
        A = h.membership(lv)
        method = spec.aggregator_at(lv + 1)
        parts, space = ops.contributions(values[lv - 1], weights[lv - 1], A, method)
        spaces[lv + 1] = space
        kids, parents = h.codes(lv), h.codes(lv + 1)
        parent_of = A.argmax(axis=1)
        frames.append(pd.DataFrame({
            "unit": np.repeat(units, len(kids)), "level": lv + 1,
            "node": np.tile(np.asarray(parents, object)[parent_of], len(units)),
            "child": np.tile(np.asarray(kids, object), len(units)), "contribution": parts.ravel(),
            "space": space}))
        present = ~np.isnan(values[lv - 1])
        wp = np.where(present, weights[lv - 1], 0.0)
        den = (wp @ A) @ A.T
        share = wp / np.where(den > 0, den, np.nan)
        share_to_top[lv] = share * share_to_top[lv + 1][:, parent_of]
    contrib = pd.concat(frames[::-1], ignore_index=True)
    kinds = {spaces[lv] for lv in range(2, h.depth + 1)}
    top = pd.DataFrame(columns=["unit", "top", "indicator", "contribution", "space"])
    if len(kinds) == 1 and next(iter(kinds)) in ("linear", "log"):
        space = next(iter(kinds))
        Z = values[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            base = Z if space == "linear" else np.log(Z)
        inds = h.indicators
        top_of = [h.nodes[c] for c in inds]
        for _ in range(h.depth - 1):
            top_of = [h.nodes[n.parent] for n in top_of]
        top = pd.DataFrame({"unit": np.repeat(units, len(inds)),
                            "top": np.tile(np.asarray([n.code for n in top_of], object), len(units)),
                            "indicator": np.tile(np.asarray(inds, object), len(units)),
                            "contribution": (share_to_top[1] * base).ravel(), "space": space})
    return contrib, top


def build(frame: pd.DataFrame, spec: EngineSpec, source: str = "<data>") -> IndexResult:
    """Validate ``frame`` and build the index (see the module docstring): ``fit(frame, spec).apply(frame)``
    (``engine/fit.py``) in one pass."""
    if spec.weights_model is not None:
        from leefbaar.index.engine.fit import fit

        return fit(frame, spec, source=source).apply(frame, source)
    return run(validate(frame, spec, source), spec)


def build_file(data, spec_path, meta=None) -> IndexResult:
    """``build`` from a CSV/Parquet file and a spec file (``meta``: an iMeta file overriding the spec's)."""
    from leefbaar.index.engine.spec import load_engine_spec

    spec = load_engine_spec(spec_path, meta)
    return build(read_table(data), spec, str(data))


def replay(record: dict, frame: pd.DataFrame, source: str = "<data>") -> IndexResult:
    """Rebuild an index from its ``record`` on the same data (refused when the data's hash differs), with the
    recorded weights (or the recorded calibrated model): nothing is refitted."""
    if record.get("engine_version") != ENGINE_VERSION:
        raise SpecError(f"the record is of engine version {record.get('engine_version')}, not {ENGINE_VERSION}")
    spec = parse_engine_spec(record["spec"], f"{source} (record)")
    if spec.weights_model is not None:  # a fitted calibrated model: applied from its recorded parameters
        from leefbaar.index.engine.fit import _result, from_record

        return _result(from_record(record, source).score(frame, source, record["data"]["sha256"]), spec)
    inputs = validate(frame, spec, source)
    if inputs.sha256 != record["data"]["sha256"]:
        raise InputError(source, "these data differ from the data of the record (SHA-256 of the columns used)")
    step = next(s for s in record["steps"] if s["step"] == "weights")
    h = spec.hierarchy  # the recorded weights, which may have been fitted on other rows (fit.FittedIndex.apply)
    weights = [np.array([step["details"][c] for c in h.codes(lv)], float) for lv in range(1, h.depth)]
    return run(inputs, spec, weights=weights)

