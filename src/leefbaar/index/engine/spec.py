"""Engine specs: a YAML/TOML data file (or a dict) that defines an index on any table of units and indicators.

Layout (every step is optional; an option that is not listed here is refused, never ignored)::

    name: asem
    unit: uCode                  # column with the unit codes (unique)
    label: uName                 # optional column with unit names
    meta: ASEM_iMeta.csv         # iMeta-style metadata, relative to the spec; or inline:
    indicators:                  #   - {code, parent, direction: 1|-1, weight, denominator, target, name}
    aggregates:                  #   - {code, parent, level, weight, name}
    levels: {1: indicator, 2: pillar, 3: sub-index, 4: index}   # names of the levels (optional)
    denominate: true             # divide by each indicator's Denominator (meta); {scale: 1000} multiplies
    screen: {min_share: 0.66, by: missing}          # missing | zeros | missing_or_zeros
    impute: {method: group_mean, group: EurAsia_group}  # none | mean | median | group_mean | group_median
    treat: {winmax: 5, skew: 2, kurt: 3.5, fallback: log, per_indicator: {Gas: none, Flights: {winmax: 3}}}
    normalise: {method: minmax, range: [0, 100], per_indicator: {Tariff: {method: rank}}}
               # minmax {range} | zscore {mean, sd} | rank | percentile {range} | borda | target {range, cap}
               # | goalposts {range} | none
    aggregate: {method: arithmetic, min_share: 0, levels: {4: geometric}}
               # arithmetic | geometric | harmonic | median, per level optional
    weights: {method: meta}      # meta | equal | pca {levels} | optimise {level} | calibrated {level, target}
    # calibrated with a model: per parent an additive spline model of its children fitted to its own criterion
    # (engine/calibrated.py), fitted on the rows with every criterion and applied to all rows:
    weights: {method: calibrated, level: 1, target: {won: lbm_won, fys: lbm_fys},
              model: {knots: 5, smoothing: 1.0, free: [won:oad],
                      location: {centres: 80, bandwidth_km: 12, penalty: 0.0001, columns: [x_km, y_km]}}}

Order of the steps: denominate, screen, impute, treat, normalise, weights, aggregate. Directions are applied
before normalising. Aggregation skips missing values and renormalises the weights of the available children;
a node with fewer than ``min_share`` of its children available is missing.
"""

from __future__ import annotations

import copy
import hashlib
import pickle
from collections import OrderedDict
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from leefbaar.errors import SpecError
from leefbaar.index.engine import ops
from leefbaar.index.engine.hierarchy import Hierarchy, from_meta, read_meta

TOP_KEYS = {"name", "description", "unit", "label", "meta", "indicators", "aggregates", "levels", "denominate",
            "screen", "impute", "treat", "normalise", "aggregate", "weights", "uncertainty"}
WEIGHTS = ("meta", "equal", "pca", "optimise", "calibrated")
DEFAULT_RANGE = {"minmax": (0.0, 100.0), "percentile": (0.0, 1.0), "target": (0.0, 1.0),
                 "goalposts": (0.0, 1.0)}


@dataclass(frozen=True)
class Normaliser:
    method: str = "minmax"
    lo: float = 0.0
    hi: float = 100.0
    mean: float = 0.0
    sd: float = 1.0
    cap: bool = True

    def as_dict(self) -> dict:
        out = {"method": self.method}
        if self.method in DEFAULT_RANGE:
            out["range"] = [self.lo, self.hi]
        if self.method == "zscore":
            out.update(mean=self.mean, sd=self.sd)
        if self.method == "target":
            out["cap"] = self.cap
        return out


@dataclass(frozen=True)
class Treatment:
    winmax: int = 5
    skew: float = 2.0
    kurt: float = 3.5
    fallback: str = "log"


@dataclass(frozen=True)
class ModelSpec:
    """The calibrated weighting's model (``weights.model``): ``targets`` maps each parent at level + 1 to its
    criterion column; ``free``: children whose contribution need not be monotone in their direction;
    ``location``: (centres, bandwidth in the coordinates' unit, ridge penalty) of the regional term read from
    the two ``location_columns``, or None."""

    targets: dict[str, str]
    knots: int = 5
    smoothing: float = 1.0
    free: frozenset[str] = frozenset()
    location: tuple[int, float, float] | None = None
    location_columns: tuple[str, str] | None = None

    def columns(self) -> list[str]:
        """The data columns the model reads besides the indicators: criteria, then coordinates."""
        return list(dict.fromkeys([*self.targets.values(), *(self.location_columns or ())]))


@dataclass
class EngineSpec:
    """A validated engine spec (see the module docstring). ``raw``: the document, with ``meta`` inlined."""

    name: str
    hierarchy: Hierarchy
    unit: str = "unit"
    label: str | None = None
    denominate: bool = False
    denominate_scale: float = 1.0
    screen_min_share: float | None = None
    screen_by: str = "missing"
    impute: str = "none"
    impute_group: str | None = None
    treat: Treatment | None = None
    treat_per: dict[str, Treatment | None] = field(default_factory=dict)
    normaliser: Normaliser = field(default_factory=Normaliser)
    normaliser_per: dict[str, Normaliser] = field(default_factory=dict)
    aggregator: str = "arithmetic"
    aggregator_levels: dict[int, str] = field(default_factory=dict)
    min_share: float = 0.0
    weights: str = "meta"
    weights_levels: tuple[int, ...] = ()
    weights_target: str | None = None
    weights_model: ModelSpec | None = None
    uncertainty: dict = field(default_factory=dict)
    description: str = ""
    source: str = "<spec>"
    raw: dict = field(default_factory=dict, repr=False)

    def aggregator_at(self, level: int) -> str:
        """The aggregation that makes the nodes of ``level`` (2..depth)."""
        return self.aggregator_levels.get(level, self.aggregator)

    def replace(self, **changes) -> EngineSpec:
        """A copy with some fields changed (used by the uncertainty analysis and its naive reference)."""
        new = copy.copy(self)
        for k, v in changes.items():
            if not hasattr(new, k):
                raise SpecError(f"an engine spec has no field {k!r}")
            setattr(new, k, v)
        return new


def _mapping(value, where: str, allowed: set[str]) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SpecError(f"{where}: must be a mapping")
    unknown = set(value) - allowed
    if unknown:
        raise SpecError(f"{where}: unknown option {sorted(unknown)[0]!r}; options: {', '.join(sorted(allowed))}")
    return value


def _num(value, where: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool):
        raise SpecError(f"{where}: {value!r} is not a number")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: {value!r} is not a number") from None
    if v != v or (lo is not None and v < lo) or (hi is not None and v > hi):
        raise SpecError(f"{where}: {value!r} must lie in [{lo}, {hi}]")
    return v


def parse_normaliser(body, where: str) -> Normaliser:
    """A normaliser from ``{method, range, mean, sd, cap}`` or a bare method name."""
    if isinstance(body, str):
        body = {"method": body}
    body = _mapping(body, where, {"method", "range", "mean", "sd", "cap"})
    method = body.get("method", "minmax")
    if method not in ops.NORMALISE:
        raise SpecError(f"{where}.method: {method!r} is not one of {', '.join(ops.NORMALISE)}")
    if "range" in body and method not in DEFAULT_RANGE:
        raise SpecError(f"{where}: 'range' does not apply to normalise method {method!r}")
    if ("mean" in body or "sd" in body) and method != "zscore":
        raise SpecError(f"{where}: 'mean' and 'sd' apply only to method zscore")
    if "cap" in body and method != "target":
        raise SpecError(f"{where}: 'cap' applies only to method target")
    lo, hi = DEFAULT_RANGE.get(method, (0.0, 100.0))
    if "range" in body:
        r = body["range"]
        if not isinstance(r, list | tuple) or len(r) != 2:
            raise SpecError(f"{where}.range: must be two numbers like [0, 100]")
        lo, hi = (_num(x, f"{where}.range") for x in r)
        if lo >= hi:
            raise SpecError(f"{where}.range: the lower bound must be below the upper bound")
    sd = _num(body.get("sd", 1.0), f"{where}.sd")
    if sd <= 0:
        raise SpecError(f"{where}.sd: must be positive")
    return Normaliser(method, lo, hi, _num(body.get("mean", 0.0), f"{where}.mean"), sd, bool(body.get("cap", True)))


def parse_treatment(body, where: str) -> Treatment | None:
    if body in (None, False, "none"):
        return None
    if body is True:
        body = {}
    body = _mapping(body, where, {"method", "winmax", "skew", "kurt", "fallback", "per_indicator"})
    if body.get("method", "winsorise") != "winsorise":
        raise SpecError(f"{where}.method: {body['method']!r} is not one of winsorise (or treat: none)")
    fallback = body.get("fallback", "log")
    if fallback not in ("log", "none"):
        raise SpecError(f"{where}.fallback: {fallback!r} is not one of log, none")
    return Treatment(int(_num(body.get("winmax", 5), f"{where}.winmax", 0)), _num(body.get("skew", 2.0),
                     f"{where}.skew", 0), _num(body.get("kurt", 3.5), f"{where}.kurt"), fallback)


def parse_model(body, target, level: int, hier: Hierarchy, where: str) -> ModelSpec:
    """The ``weights.model`` block of a calibrated weighting (see ``ModelSpec``)."""
    body = _mapping(body, f"{where}.model", {"knots", "smoothing", "free", "location"})
    if level != 1:
        raise SpecError(f"{where}: a calibrated model sets the parents of the indicators (level: 1), not level {level}")
    parents = hier.codes(2)
    if not isinstance(target, dict):
        raise SpecError(f"{where}.target: with a model, map every parent to its criterion column, like "
                        f"{{{parents[0]}: COLUMN}}")
    unknown = set(target) - set(parents)
    if unknown:
        raise SpecError(f"{where}.target: {sorted(unknown)[0]!r} is not a node of level 2")
    missing = [p for p in parents if p not in target]
    if missing:
        raise SpecError(f"{where}.target: no criterion for {missing[0]!r}")
    free = body.get("free") or []
    if not isinstance(free, list):
        raise SpecError(f"{where}.model.free: must be a list of indicator codes")
    for c in free:
        if c not in hier.indicators:
            raise SpecError(f"{where}.model.free: unknown indicator {c!r}")
    knots = _num(body.get("knots", 5), f"{where}.model.knots", 0)
    if knots != int(knots):
        raise SpecError(f"{where}.model.knots: must be a whole number")
    loc, cols = None, None
    if body.get("location") is not None:
        lb = _mapping(body["location"], f"{where}.model.location", {"centres", "bandwidth_km", "penalty", "columns"})
        cols = lb.get("columns")
        if not isinstance(cols, list | tuple) or len(cols) != 2 or not all(isinstance(c, str) for c in cols):
            raise SpecError(f"{where}.model.location.columns: name the two coordinate columns, like [x_km, y_km]")
        centres = _num(lb.get("centres", 80), f"{where}.model.location.centres", 1)
        bandwidth = _num(lb.get("bandwidth_km", 12), f"{where}.model.location.bandwidth_km", 0)
        if bandwidth <= 0:
            raise SpecError(f"{where}.model.location.bandwidth_km: must be positive")
        loc = (int(centres), bandwidth, _num(lb.get("penalty", 1e-4), f"{where}.model.location.penalty", 0))
        cols = tuple(cols)
    return ModelSpec({str(k): str(v) for k, v in target.items()}, int(knots),
                     _num(body.get("smoothing", 1.0), f"{where}.model.smoothing", 0), frozenset(free), loc, cols)


def _inline_meta(data: dict, source: str) -> pd.DataFrame:
    rows = []
    for key, level in (("indicators", 1), ("aggregates", None)):
        entries = data.get(key) or []
        if not isinstance(entries, list):
            raise SpecError(f"{source}: '{key}' must be a list of mappings")
        for i, e in enumerate(entries):
            where = f"{source}: {key} entry {i + 1}"
            e = _mapping(e, where, {"code", "name", "parent", "direction", "weight", "denominator", "target",
                                    "level", "goalposts"})
            if "code" not in e:
                raise SpecError(f"{where}: needs a 'code'")
            gp = e.get("goalposts") or [None, None]
            rows.append({"Level": e.get("level", level), "iCode": e["code"], "iName": e.get("name"),
                         "Direction": e.get("direction", 1 if level == 1 else None), "Weight": e.get("weight", 1),
                         "Denominator": e.get("denominator"), "Parent": e.get("parent"),
                         "Type": "Indicator" if level == 1 else "Aggregate", "Target": e.get("target"),
                         "GoalLow": gp[0], "GoalHigh": gp[1]})
    if not rows:
        raise SpecError(f"{source}: give the hierarchy as 'meta: FILE' or as 'indicators:' and 'aggregates:'")
    return pd.DataFrame(rows)


def _meta_records(hier: Hierarchy) -> list[dict]:
    """The hierarchy as iMeta-style rows (``Hierarchy.to_frame`` as records, missing values None)."""
    blank = dict.fromkeys(("Level", "iCode", "iName", "Direction", "Weight", "Denominator", "Parent", "Type",
                           "Target", "GoalLow", "GoalHigh"))
    rows = [{**blank, "Level": n.level, "iCode": n.code, "iName": n.name, "Direction": n.direction,
             "Weight": n.weight, "Denominator": n.denominator, "Parent": n.parent,
             "Type": "Indicator" if n.level == 1 else "Aggregate", "Target": n.target,
             "GoalLow": n.goalposts[0] if n.goalposts else None,
             "GoalHigh": n.goalposts[1] if n.goalposts else None} for n in hier.nodes.values()]
    return (rows + [{**blank, "iCode": g, "Type": "Group"} for g in hier.groups]
            + [{**blank, "iCode": d, "Type": "Denominator"} for d in hier.denominators])


_PARSED: OrderedDict[bytes, bytes] = OrderedDict()
"""Specs parsed before, by the SHA-256 of their content (pickled; the most recent ``_PARSED_MAX``)."""
_PARSED_MAX = 64


def _content_key(data, source, base, meta, meta_source) -> bytes | None:
    """A digest of everything a parse reads (the document, names, the metadata table or file), or None when
    some of it cannot be pickled or a metadata file cannot be found (then the spec is parsed uncached)."""
    file = None
    if isinstance(data, dict) and meta is None and isinstance(data.get("meta"), str | Path):
        path = Path(str(data["meta"]))
        path = base / path if not path.is_absolute() and base is not None else path
        try:
            st = path.stat()
        except OSError:
            return None
        file = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    try:
        blob = pickle.dumps((data, source, None if base is None else str(base), meta, meta_source, file),
                            protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError):
        return None
    return hashlib.sha256(blob).digest()


def parse_engine_spec(data: object, source: str = "<spec>", base: Path | None = None,
                      meta: pd.DataFrame | None = None, meta_source: str | None = None) -> EngineSpec:
    """Validate a parsed engine spec. ``meta`` (an iMeta-style table) overrides the spec's own hierarchy.

    A spec of the same content as one parsed before (the document, its metadata table or file, ``source`` and
    ``base``) is not validated again: an independent copy of that spec is returned."""
    key = _content_key(data, source, base, meta, meta_source)
    if key is not None and key in _PARSED:
        _PARSED.move_to_end(key)
        return pickle.loads(_PARSED[key])
    spec = _parse_engine_spec(data, source, base, meta, meta_source)
    if key is not None:
        _PARSED[key] = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
        if len(_PARSED) > _PARSED_MAX:
            _PARSED.popitem(last=False)
    return spec


def _parse_engine_spec(data: object, source: str, base: Path | None, meta: pd.DataFrame | None,
                       meta_source: str | None) -> EngineSpec:
    if not isinstance(data, dict):
        raise SpecError(f"{source}: an engine spec is a mapping with 'unit' and a hierarchy ('meta' or "
                        "'indicators')")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise SpecError(f"{source}: unknown field {sorted(unknown)[0]!r}; fields: {', '.join(sorted(TOP_KEYS))}")
    raw = copy.deepcopy(data)
    levels = data.get("levels") or {}
    if not isinstance(levels, dict):
        raise SpecError(f"{source}: 'levels' must map level numbers to names")
    level_names = {int(k): str(v) for k, v in levels.items()}
    if meta is not None:
        hier = from_meta(meta, meta_source or "<meta>", level_names)
    elif data.get("meta") is not None and not isinstance(data["meta"], list):
        path = Path(str(data["meta"]))
        if not path.is_absolute() and base is not None:
            path = base / path
        meta = read_meta(path)
        hier = from_meta(meta, str(path), level_names)
    elif isinstance(data.get("meta"), list):  # inlined by a build record
        meta = pd.DataFrame(data["meta"])
        hier = from_meta(meta, f"{source}: meta", level_names, row_offset=1)
    else:
        meta = _inline_meta(data, source)
        hier = from_meta(meta, source, level_names, row_offset=1)
    raw["meta"] = _meta_records(hier)
    raw.pop("indicators", None)
    raw.pop("aggregates", None)
    depth = hier.depth
    if depth < 2:
        raise SpecError(f"{source}: the hierarchy has one level only; an index needs at least one aggregate")

    den = data.get("denominate", False)
    scale = 1.0
    if isinstance(den, dict):
        den = _mapping(den, f"{source}: denominate", {"scale"})
        scale = _num(den.get("scale", 1.0), f"{source}: denominate.scale")
        den = True
    elif not isinstance(den, bool):
        raise SpecError(f"{source}: denominate must be true, false or {{scale: N}}")
    if den and not any(n.denominator for n in hier.nodes.values()):
        raise SpecError(f"{source}: denominate is on but no indicator has a Denominator")

    scr = data.get("screen")
    scr_share, scr_by = None, "missing"
    if scr not in (None, False):
        scr = _mapping(scr, f"{source}: screen", {"min_share", "by"})
        scr_share = _num(scr.get("min_share", 0.66), f"{source}: screen.min_share", 0, 1)
        scr_by = scr.get("by", "missing")
        if scr_by not in ops.SCREEN_BY:
            raise SpecError(f"{source}: screen.by {scr_by!r} is not one of {', '.join(ops.SCREEN_BY)}")

    imp = data.get("impute") or {"method": "none"}
    if isinstance(imp, str):
        imp = {"method": imp}
    imp = _mapping(imp, f"{source}: impute", {"method", "group"})
    method = imp.get("method", "none")
    if method in ("regression", "em"):
        raise SpecError(f"{source}: impute method {method!r} is not implemented; use one of {', '.join(ops.IMPUTE)}")
    if method not in ops.IMPUTE:
        raise SpecError(f"{source}: impute.method {method!r} is not one of {', '.join(ops.IMPUTE)}")
    group = imp.get("group")
    if method.startswith("group") and not group:
        raise SpecError(f"{source}: impute method {method!r} needs 'group: COLUMN'")
    if group and not method.startswith("group"):
        raise SpecError(f"{source}: impute.group applies only to group_mean and group_median")

    treat_body = data.get("treat")
    treat = parse_treatment(treat_body, f"{source}: treat")
    treat_per: dict[str, Treatment | None] = {}
    if isinstance(treat_body, dict):
        for code, body in (treat_body.get("per_indicator") or {}).items():
            if code not in hier.indicators:
                raise SpecError(f"{source}: treat.per_indicator: unknown indicator {code!r}")
            base_t = treat or Treatment()
            if isinstance(body, dict):
                merged = {"winmax": base_t.winmax, "skew": base_t.skew, "kurt": base_t.kurt,
                          "fallback": base_t.fallback, **body}
                treat_per[code] = parse_treatment(merged, f"{source}: treat.per_indicator.{code}")
            else:
                treat_per[code] = parse_treatment(body, f"{source}: treat.per_indicator.{code}")

    norm_body = data.get("normalise") or {"method": "minmax"}
    per_norm_body = None
    if isinstance(norm_body, dict):  # a copy: the caller's document stays as it was
        norm_body = dict(norm_body)
        per_norm_body = norm_body.pop("per_indicator", None)
    normaliser = parse_normaliser(norm_body, f"{source}: normalise")
    normaliser_per = {}
    for code, body in (per_norm_body or {}).items():
        if code not in hier.indicators:
            raise SpecError(f"{source}: normalise.per_indicator: unknown indicator {code!r}")
        normaliser_per[code] = parse_normaliser(body, f"{source}: normalise.per_indicator.{code}")
    for code, nz in [(None, normaliser), *normaliser_per.items()]:
        codes = [code] if code else hier.indicators
        for c in codes:
            if nz.method == "target" and hier.nodes[c].target is None:
                raise SpecError(f"{source}: normalise method target needs a Target for indicator {c!r}")
            if nz.method == "goalposts" and hier.nodes[c].goalposts is None:
                raise SpecError(f"{source}: normalise method goalposts needs GoalLow/GoalHigh for indicator {c!r}")

    agg = data.get("aggregate") or {}
    if isinstance(agg, str):
        agg = {"method": agg}
    agg = _mapping(agg, f"{source}: aggregate", {"method", "min_share", "levels"})
    aggregator = agg.get("method", "arithmetic")
    if aggregator not in ops.AGGREGATE:
        raise SpecError(f"{source}: aggregate.method {aggregator!r} is not one of {', '.join(ops.AGGREGATE)}")
    agg_levels = {}
    for lv, m in (agg.get("levels") or {}).items():
        lv = int(lv)
        if not 2 <= lv <= depth:
            raise SpecError(f"{source}: aggregate.levels: level {lv} is not an aggregate level (2..{depth})")
        if m not in ops.AGGREGATE:
            raise SpecError(f"{source}: aggregate.levels.{lv}: {m!r} is not one of {', '.join(ops.AGGREGATE)}")
        agg_levels[lv] = m

    wts = data.get("weights") or {"method": "meta"}
    if isinstance(wts, str):
        wts = {"method": wts}
    wts = _mapping(wts, f"{source}: weights", {"method", "levels", "level", "target", "model"})
    wmethod = wts.get("method", "meta")
    if wmethod not in WEIGHTS:
        raise SpecError(f"{source}: weights.method {wmethod!r} is not one of {', '.join(WEIGHTS)}")
    wlevels: tuple[int, ...] = ()
    if "level" in wts:
        wlevels = (int(wts["level"]),)
    if "levels" in wts:
        wlevels = tuple(int(x) for x in wts["levels"])
    if wmethod in ("optimise", "calibrated") and len(wlevels) != 1:
        raise SpecError(f"{source}: weights method {wmethod!r} needs 'level: N' (the level whose weights are set)")
    if wmethod == "calibrated" and not wts.get("target"):
        raise SpecError(f"{source}: weights method 'calibrated' needs 'target: COLUMN' (a criterion in the data)")
    if wts.get("target") and wmethod != "calibrated":
        raise SpecError(f"{source}: weights.target applies only to method calibrated")
    model = None
    if "model" in wts:
        if wmethod != "calibrated":
            raise SpecError(f"{source}: weights.model applies only to method calibrated")
        model = parse_model(wts["model"], wts.get("target"), wlevels[0], hier, f"{source}: weights")
    elif isinstance(wts.get("target"), dict):
        raise SpecError(f"{source}: weights.target maps parents to criteria only with a 'model'; without one it "
                        "names one criterion column")
    if wmethod in ("meta", "equal") and wlevels:
        raise SpecError(f"{source}: weights method {wmethod!r} applies to every level; 'level(s)' is not used")
    for lv in wlevels:
        if not 1 <= lv < depth:
            raise SpecError(f"{source}: weights level {lv} must be a level with a parent (1..{depth - 1})")

    if model is not None and (den or group or scr_share is not None):
        raise SpecError(f"{source}: a calibrated model reads every row of its table; denominate, screen and group "
                        "imputation are not available with it")
    unit = data.get("unit")
    if not unit:
        raise SpecError(f"{source}: 'unit' (the column with unit codes) is required")
    unc = data.get("uncertainty") or {}
    if not isinstance(unc, dict):
        raise SpecError(f"{source}: 'uncertainty' must be a mapping")
    spec = EngineSpec(
        name=str(data.get("name") or Path(source).stem), hierarchy=hier, unit=str(unit),
        label=None if data.get("label") is None else str(data["label"]), denominate=bool(den),
        denominate_scale=scale, screen_min_share=scr_share, screen_by=scr_by, impute=method, impute_group=group,
        treat=treat, treat_per=treat_per, normaliser=normaliser, normaliser_per=normaliser_per,
        aggregator=aggregator, aggregator_levels=agg_levels,
        min_share=_num(agg.get("min_share", 0.0), f"{source}: aggregate.min_share", 0, 1),
        weights=wmethod, weights_levels=wlevels, weights_target=None if model else wts.get("target"),
        weights_model=model, uncertainty=unc,
        description=str(data.get("description", "")), source=source, raw=raw)
    if unc:
        from leefbaar.index.engine.uncertainty import parse_uncertainty

        parse_uncertainty(unc, spec)  # validate now, so a bad option fails on load
    return spec


def load_engine_spec(path, meta=None) -> EngineSpec:
    """An engine spec from a ``.yaml``/``.yml``/``.toml`` file, or by the name of one in
    ``catalogue/specs/engine/`` (``asem_minmax``); ``meta``: an iMeta file overriding the spec's hierarchy."""
    import tomllib

    path = Path(path)
    builtin = resources.files("leefbaar") / "catalogue" / "specs" / "engine" / f"{path}.yaml"
    if not path.suffix and not path.exists() and builtin.is_file():
        path = Path(str(builtin))
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{path}: cannot be parsed: {exc}") from None
    meta_frame = read_meta(meta) if meta is not None else None
    return parse_engine_spec(data, str(path), path.parent, meta_frame, None if meta is None else str(meta))
