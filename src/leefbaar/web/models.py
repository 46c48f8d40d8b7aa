"""Response models of the dashboard API (the OpenAPI schema; responses are checked against it in tests).

Scores are in Leefbaarometer score points (higher is better); ``total`` = 4.102265 + ``afw``; classes 1-9.
Every statement comes from the facts layer (``leefbaar.facts``): a score carries its ``kind`` (official,
modelled, aggregated), its interval with ``interval_level`` (percent; official values have none), its class or
``not_classed`` (small-area rule) and its rank among classed areas.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Error(BaseModel):
    error: str
    detail: str


class Health(BaseModel):
    status: str
    version: str
    read_only: bool
    ready: bool


class Labels(BaseModel):
    nl: str
    en: str


class LevelInfo(BaseModel):
    id: str
    label: Labels
    vintage: int
    score_years: list[int]
    default_year: int | None
    year_kinds: dict[str, str]
    indicators: list[str]


class IndicatorInfo(BaseModel):
    id: str
    label_nl: str | None
    label_en: str | None
    unit: str | None
    theme: str | None
    direction: int
    sensitive: bool


class Meta(BaseModel):
    model_config = ConfigDict(extra="allow")
    spec: str | None
    interval_level: int
    reference: float
    levels: list[LevelInfo]
    dimensions: list[Open]
    classes: Open
    indicators: list[IndicatorInfo]
    map_indicators: list[Open] = []
    map_schemes: list[Open] = []
    available: dict[str, bool]


class Area(BaseModel):
    level: str
    code: str
    name: str | None
    label: str
    gemeente_code: str | None
    gemeente_name: str | None
    wijk_code: str | None
    residents: int | None = None
    dwellings: int | None = None


class Gemeente(BaseModel):
    code: str
    name: str | None


class Legend(BaseModel):
    model_config = ConfigDict(extra="allow")
    breaks: list[float | None]
    colors: list[str]
    labels_nl: list[str]
    labels_en: list[str]
    kind: str
    no_data_color: str


class MapValues(BaseModel):
    model_config = ConfigDict(extra="allow")
    level: str
    year: int
    measure: str
    indicator: str | None
    base_year: int | None
    unit: str | None
    codes: list[str]
    values: list[float | None]
    bins: list[int]
    kind: str | None
    interval_level: int
    kinds: list[str] | None
    classed: list[bool] | None
    legend: Legend


class AreaNames(BaseModel):
    level: str
    codes: list[str]
    labels: list[str | None]
    gemeente_codes: list[str | None]
    wijk_codes: list[str | None]


class Score(BaseModel):
    model_config = ConfigDict(extra="allow")
    year: int
    total: float | None
    afw: float | None
    klasse: int | None
    klasse_label_nl: str | None
    klasse_label_en: str | None
    kind: str | None
    classed: bool
    not_classed: Labels | None
    total_lo: float | None
    total_hi: float | None
    interval_level: int
    interval: Open | None
    rank: int | None
    n_areas: int | None


class AreaSummary(BaseModel):
    area: Area
    score: Score | None
    years: list[int]


class Dimension(BaseModel):
    id: str
    label: Labels
    value: float | None
    klasse: int | None
    gemeente: float | None
    nederland: float | None


class TrendPoint(BaseModel):
    model_config = ConfigDict(extra="allow")
    year: int
    total: float | None
    afw: float | None
    klasse: int | None
    kind: str | None


class Change(BaseModel):
    model_config = ConfigDict(extra="allow")
    by: str
    total: float | None
    items: list[Open]


class Vulnerability(BaseModel):
    model_config = ConfigDict(extra="allow")
    available: bool
    flags: list[Open]


class AreaProgrammes(BaseModel):
    model_config = ConfigDict(extra="allow")
    member: list[Open]
    touched: list[Open]
    gemeente: list[Open]
    rule: Labels


class Profile(BaseModel):
    area: Area
    year: int | None
    years: list[int]
    default_year: int | None
    interval_level: int
    score: Score | None
    dimensions: list[Dimension]
    references: dict[str, Open | None]
    trend: list[TrendPoint]
    change: Change | None
    vulnerability: Vulnerability
    programmes: AreaProgrammes
    spec: str | None


class RankRow(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    label: str
    rank_nl: int | None
    classed: bool
    kind: str
    total: float | None
    afw: float | None
    klasse: int | None


class DistributionYear(BaseModel):
    model_config = ConfigDict(extra="allow")
    year: int
    n_areas: int
    mean: float | None
    classes: list[int]


class Distribution(BaseModel):
    model_config = ConfigDict(extra="allow")
    level: str
    gemeente_code: str | None
    unit: str
    years: list[DistributionYear]


class Programmes(BaseModel):
    registry: list[Open]
    membership_rule: Labels
    lists: list[Open]
    groups: list[Open]
    evaluation: list[Open]


class PerceptionGap(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str
    name: str
    year: int
    dimension: str
    label: Labels
    subjective: float | None
    objective: float | None
    gap: float | None
    rank: int | None
    text: Labels | None


class PerceptionOverview(BaseModel):
    model_config = ConfigDict(extra="allow")
    editions: list[int]
    edition: int
    dimensions: list[Open]
    scale: Labels
    city: list[PerceptionGap]
    largest: list[PerceptionGap]
    areas: list[Open]
    lbm: Open | None


class PerceptionArea(BaseModel):
    model_config = ConfigDict(extra="allow")
    area: Open
    indices: list[PerceptionGap]
    themes: list[Open]
    buurten: list[Open]
    lbm_year: int | None
    safety: Open | None
    link_text: Labels


class EvaluationEstimate(BaseModel):
    model_config = ConfigDict(extra="allow")
    method: str
    inference: str
    estimate: float | None
    lo: float | None
    hi: float | None
    p_value: float | None
    level: int | None
    status: str


class EvaluationCard(BaseModel):
    model_config = ConfigDict(extra="allow")
    programme: str
    name: Labels
    outcome: str
    conclusion: str
    verdict: Labels
    level: int
    headline: EvaluationEstimate | None
    estimates: list[EvaluationEstimate]
    pretrend: list[Open]
    reasons: Open
    warnings: Open
    n_treated: int | None
    n_references: int | None
    areas: list[Open]
    membership: Labels


class SegregationView(BaseModel):
    model_config = ConfigDict(extra="allow")
    available: bool
    gemeente: str
    dimension: str
    note: str | None = None
    series: list[Open] | None = None
    change: Open | None = None
    verdict: str | None = None
    verdict_text: str | None = None
