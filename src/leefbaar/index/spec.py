"""Index specifications: YAML (or TOML) data files that name dimensions, indicators, transforms and weighting.

A spec is validated on load; every problem raises ``SpecError`` naming the file and the field. Layout (see
``catalogue/specs/default.yaml`` for a full example)::

    name: default
    level: pc4
    reference: 4.102265          # lbm = reference + afw (score points); 0 for uncalibrated methods
    weighting: calibrated        # calibrated | pca | expert | equal
    target: {won: lbm_won, ...}  # calibrated only: criterion per dimension (an indicator in the store)
    normalisation: zscore        # pca/expert/equal: zscore | minmax | rank
    missing: {suppressed: 2.0, carry_years: 1, fill: median}  # fill: median only
    spatial_lag: true            # add the mean of contiguous areas (Queen) of each indicator
    smoothing: 1.0               # calibrated: ridge penalty on slope changes (0 = none)
    location: {centres: 80, bandwidth_km: 12, penalty: 0.0001}  # calibrated: smooth regional term
    knots: 5                     # calibrated: interior knots of each indicator's piecewise-linear spline
    dimensions:
      won:
        label_nl: woningvoorraad
        label_en: housing stock
        weight: 1                # expert weighting: weight of the dimension in the total
        include: [other]         # optional: also use the indicators of another dimension (no cycles)
        indicators:
          - id: wozwoning        # an indicator of the catalogue (never a sensitive one unless allowed)
            direction: 1         # +1 higher is better, -1 higher is worse, 0 none (default: catalogue)
            transform: log       # none | log | rank
            deflate: year_median # divide by the median of the year (prices, incomes)
            per: woning          # denominator indicator, or 'area_km2' (geometry)
            scale: 100           # multiply after the denominator (100 = percent)
            winsor: [0.01, 0.99] # clip to these quantiles of the calibration data
            weight: 1            # expert weighting within the dimension

Directions matter: in calibrated indices an indicator with direction +1 (-1) gets a non-decreasing
(non-increasing) contribution, so improving it in its good direction never lowers a score.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from leefbaar.errors import SpecError
from leefbaar.sources.catalogue import indicators as catalogue

WEIGHTINGS = ("calibrated", "pca", "expert", "equal")
NORMALISATIONS = ("zscore", "minmax", "rank")
TRANSFORMS = ("none", "log", "rank")
AREA_DENOMINATOR = "area_km2"


@dataclass(frozen=True)
class IndicatorSpec:
    """One indicator of a dimension, with how it is transformed before modelling."""

    id: str
    direction: int
    transform: str = "none"
    deflate: str | None = None
    per: str | None = None
    scale: float = 1.0
    winsor: tuple[float, float] | None = None
    weight: float = 1.0

    @property
    def key(self) -> str:
        """Feature name: the indicator id, with its denominator when it has one (``won_hcorp/woning``)."""
        return f"{self.id}/{self.per}" if self.per else self.id


@dataclass(frozen=True)
class DimensionSpec:
    code: str
    label_nl: str
    label_en: str
    indicators: tuple[IndicatorSpec, ...]
    weight: float = 1.0
    target: str | None = None


@dataclass(frozen=True)
class IndexSpec:
    """A validated index specification."""

    name: str
    level: str
    weighting: str
    dimensions: tuple[DimensionSpec, ...]
    reference: float = 0.0
    normalisation: str = "zscore"
    spatial_lag: bool = False
    smoothing: float = 1.0
    knots: int = 5
    location: tuple[int, float, float] | None = None
    missing_suppressed: float | None = 2.0
    missing_carry_years: int = 1
    missing_fill: str = "median"
    allow_sensitive: bool = False
    source: str = ""
    description: str = ""
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def dimension_codes(self) -> tuple[str, ...]:
        return tuple(d.code for d in self.dimensions)

    def dimension(self, code: str) -> DimensionSpec:
        for d in self.dimensions:
            if d.code == code:
                return d
        raise SpecError(f"{self.source}: no dimension {code!r}")

    def engine_spec(self, lags: bool | None = None):
        """This spec as a spec of the index engine (``leefbaar.index.engine``; calibrated weighting only).

        Level 1 holds one node per dimension and feature, coded ``<dimension>:<feature key>`` (``won:oad``,
        with ``won:oad@buren`` for its spatial lag when ``lags``, default ``spatial_lag``): a feature used by
        several dimensions has its own spline in each. Level 2 holds the dimensions. No imputation, treatment
        or normalising in the engine (the features are prepared by ``features.IndicatorMatrix``); the weights
        step is the calibrated model (``engine/calibrated.py``) with this spec's knots, smoothing, criteria
        and location term, directions from the indicators (0: ``free``). The table it reads is
        ``model.EngineTable``: unit ``<code>:<year>``, the feature columns, criteria and centroids.
        """
        from leefbaar.index.engine.spec import parse_engine_spec

        if self.weighting != "calibrated":
            raise SpecError(f"{self.source}: only a calibrated spec is an engine spec here (weighting "
                            f"{self.weighting!r})")
        lags = self.spatial_lag if lags is None else lags
        indicators, free = [], []
        for d in self.dimensions:
            for suffix in ("", "@buren") if lags else ("",):
                for ind in d.indicators:
                    code = f"{d.code}:{ind.key}{suffix}"
                    indicators.append({"code": code, "parent": d.code, "direction": ind.direction or 1,
                                       "name": ind.key + suffix})
                    if ind.direction == 0:
                        free.append(code)
        model: dict = {"knots": self.knots, "smoothing": self.smoothing, "free": free}
        if self.location is not None and self.location[0] > 0:
            model["location"] = {"centres": self.location[0], "bandwidth_km": self.location[1],
                                 "penalty": self.location[2], "columns": ["centroid_x_km", "centroid_y_km"]}
        body = {"name": self.name, "description": self.description, "unit": "unit", "indicators": indicators,
                "aggregates": [{"code": d.code, "level": 2, "name": d.label_en, "weight": d.weight}
                               for d in self.dimensions],
                "levels": {1: "feature", 2: "dimension"}, "impute": "none", "normalise": "none",
                "weights": {"method": "calibrated", "level": 1, "target": {d.code: d.target for d in self.dimensions},
                            "model": model}}
        return parse_engine_spec(body, f"{self.source} (engine spec)")

    def store_indicators(self) -> list[str]:
        """Every store indicator the spec reads (indicators, denominators, targets)."""
        ids: list[str] = []
        for d in self.dimensions:
            for ind in d.indicators:
                ids += [ind.id] + ([ind.per] if ind.per and ind.per != AREA_DENOMINATOR else [])
            if d.target:
                ids.append(d.target)
        return list(dict.fromkeys(ids))


def _number(value, where: str, positive: bool = False, allow_zero: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(str(value).strip())
        except ValueError:
            raise SpecError(f"{where}: {value!r} is not a number") from None
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise SpecError(f"{where}: {value!r} is not a finite number")
    if positive and (value < 0 or (value == 0 and not allow_zero)):
        raise SpecError(f"{where}: must be {'positive' if not allow_zero else 'zero or more'}, got {value}")
    return value


def _choice(value, options, where: str) -> str:
    if value not in options:
        raise SpecError(f"{where}: {value!r} is not one of {', '.join(map(str, options))}")
    return value


def _resolve_includes(dims: dict, source: str) -> dict[str, list]:
    """Indicator entries of each dimension after ``include``; a cycle of includes is an error."""
    resolved: dict[str, list] = {}

    def visit(code: str, path: tuple[str, ...]) -> list:
        if code in path:
            cycle = " -> ".join((*path[path.index(code):], code))
            raise SpecError(f"{source}: dimensions include each other in a cycle: {cycle}")
        if code in resolved:
            return resolved[code]
        if code not in dims:
            raise SpecError(f"{source}: dimension {path[-1]!r} includes unknown dimension {code!r}")
        body = dims[code]
        entries = list(body.get("indicators") or [])
        for other in body.get("include") or []:
            entries += visit(other, (*path, code))
        resolved[code] = entries
        return entries

    for code in dims:
        visit(code, ())
    return resolved


def parse_spec(data: object, source: str = "<spec>") -> IndexSpec:
    """Validate a parsed spec document and return an ``IndexSpec``."""
    if not isinstance(data, dict):
        raise SpecError(f"{source}: a spec is a mapping with at least 'name', 'weighting' and 'dimensions'")
    cat = catalogue()
    name = str(data.get("name") or Path(source).stem)
    weighting = _choice(data.get("weighting", "calibrated"), WEIGHTINGS, f"{source}: weighting")
    normalisation = _choice(data.get("normalisation", "zscore"), NORMALISATIONS, f"{source}: normalisation")
    allow_sensitive = bool(data.get("allow_sensitive", False))
    dims = data.get("dimensions")
    if not isinstance(dims, dict) or not dims:
        raise SpecError(f"{source}: 'dimensions' must be a non-empty mapping of dimension code -> definition")
    for code, body in dims.items():
        if not isinstance(body, dict):
            raise SpecError(f"{source}: dimension {code!r} must be a mapping with 'indicators'")
    entries = _resolve_includes(dims, source)
    targets = data.get("target") or {}
    if not isinstance(targets, dict):
        raise SpecError(f"{source}: 'target' must map dimension codes to store indicators")
    missing = data.get("missing") or {}
    out_dims = []
    for code, body in dims.items():
        where = f"{source}: dimension {code!r}"
        if not entries[code]:
            raise SpecError(f"{where} is empty: it has no indicators")
        inds, seen = [], set()
        for i, entry in enumerate(entries[code]):
            w = f"{where}, indicator {i + 1}"
            if isinstance(entry, str):
                entry = {"id": entry}
            if not isinstance(entry, dict) or "id" not in entry:
                raise SpecError(f"{w}: must be an indicator id or a mapping with 'id'")
            unknown_keys = set(entry) - {"id", "direction", "transform", "deflate", "per", "scale", "winsor",
                                         "weight"}
            if unknown_keys:
                raise SpecError(f"{w}: unknown field {sorted(unknown_keys)[0]!r}")
            iid = str(entry["id"])
            if iid not in cat.index:
                raise SpecError(f"{w}: unknown indicator {iid!r}; see 'leefbaar indicators --search'")
            if int(cat.loc[iid, "sensitive"]) == 1 and not allow_sensitive:
                raise SpecError(f"{w}: indicator {iid!r} describes ethnicity or migration background; a spec "
                                "may use it only with 'allow_sensitive: true' (audit variants)")
            per = entry.get("per")
            if per is not None and per != AREA_DENOMINATOR and per not in cat.index:
                raise SpecError(f"{w}: unknown denominator {per!r}")
            direction = entry.get("direction", int(cat.loc[iid, "direction"]))
            if direction not in (-1, 0, 1):
                raise SpecError(f"{w}: direction must be -1, 0 or 1, got {direction!r}")
            winsor = entry.get("winsor")
            if winsor is not None:
                if not isinstance(winsor, list | tuple) or len(winsor) != 2:
                    raise SpecError(f"{w}: winsor must be two quantiles like [0.01, 0.99]")
                lo, hi = (_number(q, f"{w}: winsor") for q in winsor)
                if not 0 <= lo < hi <= 1:
                    raise SpecError(f"{w}: winsor quantiles must satisfy 0 <= low < high <= 1")
                winsor = (lo, hi)
            deflate = entry.get("deflate")
            if deflate is not None:
                _choice(deflate, ("year_median",), f"{w}: deflate")
            spec = IndicatorSpec(
                id=iid, direction=int(direction),
                transform=_choice(entry.get("transform", "none"), TRANSFORMS, f"{w}: transform"),
                deflate=deflate, per=per,
                scale=_number(entry.get("scale", 1.0), f"{w}: scale", positive=True, allow_zero=False),
                winsor=winsor,
                weight=_number(entry.get("weight", 1.0), f"{w}: weight", positive=True),
            )
            if spec.key in seen:
                raise SpecError(f"{w}: {spec.key!r} appears twice in this dimension")
            seen.add(spec.key)
            inds.append(spec)
        if weighting == "expert" and sum(i.weight for i in inds) <= 0:
            raise SpecError(f"{where}: expert weights of its indicators add up to zero")
        target = targets.get(code)
        if weighting == "calibrated":
            if target is None:
                raise SpecError(f"{where}: calibrated weighting needs a target indicator (target: {{{code}: ...}})")
            if target not in cat.index:
                raise SpecError(f"{where}: unknown target indicator {target!r}")
        out_dims.append(DimensionSpec(
            code=str(code), label_nl=str(body.get("label_nl", code)), label_en=str(body.get("label_en", code)),
            indicators=tuple(inds), target=target,
            weight=_number(body.get("weight", 1.0), f"{where}: weight", positive=True),
        ))
    directions: dict[str, tuple[int, str]] = {}
    for d in out_dims:
        for ind in d.indicators:
            first = directions.setdefault(ind.key, (ind.direction, d.code))
            if first[0] != ind.direction:
                raise SpecError(f"{source}: indicator {ind.key!r} has direction {first[0]} in dimension "
                                f"{first[1]!r} but {ind.direction} in {d.code!r}; one indicator has one direction")
    unknown_targets = set(targets) - set(dims)
    if unknown_targets:
        raise SpecError(f"{source}: target for unknown dimension {sorted(unknown_targets)[0]!r}")
    if weighting == "expert" and sum(d.weight for d in out_dims) <= 0:
        raise SpecError(f"{source}: expert weights of the dimensions add up to zero")
    suppressed = missing.get("suppressed", 2.0)
    location = data.get("location")
    if location is not None:
        if not isinstance(location, dict):
            raise SpecError(f"{source}: location must be a mapping with centres, bandwidth_km, penalty")
        location = (int(_number(location.get("centres", 80), f"{source}: location.centres", positive=True)),
                    _number(location.get("bandwidth_km", 12), f"{source}: location.bandwidth_km", positive=True,
                            allow_zero=False),
                    _number(location.get("penalty", 1e-4), f"{source}: location.penalty", positive=True))
    return IndexSpec(
        name=name, level=str(data.get("level", "pc4")), weighting=weighting, dimensions=tuple(out_dims),
        reference=_number(data.get("reference", 0.0), f"{source}: reference"),
        normalisation=normalisation, spatial_lag=bool(data.get("spatial_lag", False)),
        smoothing=_number(data.get("smoothing", 1.0), f"{source}: smoothing", positive=True),
        knots=int(_number(data.get("knots", 5), f"{source}: knots", positive=True, allow_zero=False)),
        location=location,
        missing_suppressed=None if suppressed is None else _number(suppressed, f"{source}: missing.suppressed"),
        missing_carry_years=int(_number(missing.get("carry_years", 1), f"{source}: missing.carry_years",
                                        positive=True)),
        missing_fill=_fill(missing.get("fill", "median"), f"{source}: missing.fill"),
        allow_sensitive=allow_sensitive, source=source, description=str(data.get("description", "")),
        raw=data,
    )


def _fill(value, where: str) -> str:
    """``median`` is the only fill of the store-based index: its models need a value in every cell."""
    if value == "none":
        raise SpecError(f"{where}: 'none' (skip a missing value and renormalise the weights of the others) is not "
                        "available for store-based indices, whose models need every value; use 'median', or the "
                        "index engine ('leefbaar index build', aggregate skips missing values)")
    return _choice(value, ("median",), where)


def _read(path: Path, text: str, source: str) -> object:
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text)
        return yaml.safe_load(text)
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"{source}: cannot be parsed: {exc}") from None


def builtin_specs() -> list[str]:
    """Names of the specs shipped in ``catalogue/specs/``."""
    folder = resources.files("leefbaar") / "catalogue" / "specs"
    return sorted(p.name.rsplit(".", 1)[0] for p in folder.iterdir() if p.name.endswith((".yaml", ".toml")))


def load_spec(name_or_path: str | Path = "default") -> IndexSpec:
    """A spec by built-in name (``default``, ``lbm2_like``, ...) or from a ``.yaml``/``.toml`` file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml", ".toml"):
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"{path}: cannot be read: {exc.strerror}") from None
        return parse_spec(_read(path, text, str(path)), str(path))
    folder = resources.files("leefbaar") / "catalogue" / "specs"
    for suffix in (".yaml", ".toml"):
        res = folder / f"{name_or_path}{suffix}"
        if res.is_file():
            source = f"catalogue/specs/{name_or_path}{suffix}"
            return parse_spec(_read(Path(source), res.read_text(encoding="utf-8"), source), source)
    raise SpecError(f"no spec {str(name_or_path)!r}; built-in specs: {', '.join(builtin_specs())}")
