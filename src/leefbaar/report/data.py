"""Read-only views of the store for the dashboard and the gemeente report.

``DashboardData`` answers the questions of each page (map values, area profiles, comparisons, distributions,
programmes) from the facts layer (``leefbaar.facts.Facts``): area names, score series with kind and interval
level, the small-area rule, the default year (latest official), programme membership and explanations all
come from there, so the dashboard, the API, the report and the exports say the same thing.
Scores are on the Leefbaarometer scale: ``total`` = reference (4.102265) + ``afw``; ``afw`` is the sum of the
five dimensions ``won`` (woningvoorraad), ``fys`` (fysieke omgeving), ``vrz`` (voorzieningen), ``soc``
(sociale samenhang), ``onv`` (overlast en onveiligheid); higher is better. Classes are 1 (zeer onvoldoende)
.. 9 (uitstekend), from ``leefbaar.index.classes``. A spec with dimensions of its own has those instead
(``Facts.dimensions``): they are mapped in quantile classes (not the Leefbaarometer's component bands) and have
no component class.

Every query is parameterised; results are plain Python structures (JSON-ready) or DataFrames. All methods are
safe to call from several threads: DuckDB work goes through one cursor per thread.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from leefbaar.analysis.gap import GapAnalysis
from leefbaar.analysis.vulnerable import VulnerableAreas
from leefbaar.analysis.weights import population_weights
from leefbaar.errors import LeefbaarError
from leefbaar.evaluation.registry import load_programmes
from leefbaar.facts import DIMENSION_LABELS, Facts, NotFound, both, choropleth, not_found
from leefbaar.facts.distribution import UNIT as DISTRIBUTION_UNIT
from leefbaar.facts.distribution import year_row
from leefbaar.facts.findings import vulnerable_analysis
from leefbaar.i18n import LANGS, N_, translator
from leefbaar.index.classes import classify_component, classify_total, load_scheme
from leefbaar.store.store import Store

DIMENSIONS = ("won", "fys", "vrz", "soc", "onv")
_LEVEL_MSGIDS = {"pc4": N_("Postcode area (PC4)"), "buurt": N_("Neighbourhood (buurt)"), "wijk": N_("District (wijk)"),
                 "gemeente": N_("Municipality (gemeente)")}
LEVEL_LABELS = {lv: {lang: translator(lang).gettext(m) for lang in LANGS} for lv, m in _LEVEL_MSGIDS.items()}
"""Level names in each interface language (gettext catalogues), as the API serves them."""
# observation indicator -> score column, for stores without the index engine's ``scores`` table
OFFICIAL_SERIES = {"lbm": "total", "lbm_afw": "afw", **{f"lbm_{d}": d for d in DIMENSIONS}}
# Nine class colours, 1 (zeer onvoldoende, dark red) .. 9 (uitstekend, dark blue): ColorBrewer RdYlBu,
# diverging and readable with the common colour-vision deficiencies.
CLASS_COLORS = [
    "#a50026",
    "#d73027",
    "#f46d43",
    "#fdae61",
    "#fee090",
    "#e0f3f8",
    "#abd9e9",
    "#74add1",
    "#313695",
]
# dimensions: diverging around a neutral grey middle ("gemiddeld"), ColorBrewer RdBu
COMPONENT_COLORS = ["#b2182b", "#d6604d", "#f4a582", "#fddbc7", "#ececec", "#d1e5f0", "#92c5de", "#4393c3", "#2166ac"]
DEVELOPMENT_COLORS = ["#b2182b", "#ef8a62", "#fddbc7", "#f7f7f7", "#d1e5f0", "#67a9cf", "#2166ac"]
NO_DATA_COLOR = "#d9d9d9"


__all__ = ["DIMENSION_LABELS", "DashboardData", "NotFound", "records"]


def _num(v) -> float | None:
    """A JSON-safe float (None for missing/NaN), rounded to 6 decimals."""
    if v is None or v is pd.NA:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) or math.isinf(f) else round(f, 6)


def _int(v) -> int | None:
    f = _num(v)
    return None if f is None else int(f)


@dataclass(frozen=True)
class Legend:
    """Bins of a choropleth: ``breaks`` are the n-1 inner boundaries (a value equal to one is in the higher
    bin); ``colors`` and ``labels`` have one entry per bin."""

    breaks: list[float]
    colors: list[str]
    labels_nl: list[str]
    labels_en: list[str]
    kind: str

    def bins(self, values: np.ndarray) -> np.ndarray:
        """Bin index 0..n-1 per value; -1 where the value is missing."""
        out = np.searchsorted(np.asarray(self.breaks, float), values, side="right")
        return np.where(np.isnan(values), -1, out)

    def as_dict(self) -> dict:
        return {
            "breaks": [_num(b) for b in self.breaks],
            "colors": self.colors,
            "labels_nl": self.labels_nl,
            "labels_en": self.labels_en,
            "kind": self.kind,
            "no_data_color": NO_DATA_COLOR,
        }


class DashboardData:
    """Answers for the dashboard pages and the gemeente report, from a read-only store."""

    def __init__(self, store: Store):
        self.store = store
        self.scheme = load_scheme()
        self._local = threading.local()
        self._lock = threading.Lock()  # short critical sections (caches of prepared tables)
        # held by work that uses the store's own connection (analyses of other stages, run once and cached);
        # request-time reads use ``sql`` or ``thread_store``, each thread on its own cursor, without this lock
        self.store_lock = threading.Lock()
        self.facts = Facts(store, sql=self.sql)

    # -- plumbing -----------------------------------------------------------------------------------
    def _cursor(self):
        """This thread's own cursor on the store (DuckDB cursors of one database run queries in parallel)."""
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self.store.con.cursor()
        return cur

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        """A parameterised query on this thread's own cursor."""
        return self._cursor().execute(query, params or []).df()

    def thread_store(self) -> Store:
        """The store seen through this thread's own cursor (read-only like the store), for readers of other
        stages that take a ``Store``; no lock needed."""
        st = getattr(self._local, "store", None)
        if st is None:
            st = self._local.store = Store(self._cursor(), self.store.path, self.store.read_only)
        return st

    @property
    def tables(self) -> frozenset[str]:
        """Names of the tables in the store (optional tables of later stages may be absent)."""
        return self.facts.tables


    # -- catalogue ----------------------------------------------------------------------------------
    @property
    def indicator_catalogue(self) -> pd.DataFrame:
        return self.facts.indicator_catalogue

    @cached_property
    def geometry_vintages(self) -> dict[str, int]:
        """Latest boundary vintage per level, for the levels the dashboard draws."""
        return {lv: v for lv, v in self.facts.geometry_vintages().items() if lv in LEVEL_LABELS}

    @cached_property
    def levels(self) -> list[str]:
        """Levels that have boundaries, in the order pc4, buurt, wijk, gemeente (indicator maps, borders)."""
        return [lv for lv in LEVEL_LABELS if lv in self.geometry_vintages]

    @cached_property
    def scored_levels(self) -> list[str]:
        """Levels with boundaries and scores: the only ones offered for score maps, profiles and search (a
        level that cannot be filled is not offered)."""
        have = set(self.facts.levels())
        return [lv for lv in self.levels if lv in have]

    @property
    def spec(self) -> str | None:
        """The index specification shown (facts layer), or None when the store has no index scores."""
        return self.facts.spec

    def score_years(self, level: str) -> list[int]:
        return self.facts.score_years(level)

    @cached_property
    def _indicator_years(self) -> dict[tuple[str, str], list[int]]:
        """Years with values per (level, indicator), from one scan of the observations."""
        frame = self.facts.indicator_year_table()
        return {(lv, ind): g["year"].astype(int).tolist() for (lv, ind), g in frame.groupby(["level", "indicator"])}

    def indicator_years(self, level: str, indicator: str) -> list[int]:
        """Years in which ``indicator`` has values at ``level``."""
        return self._indicator_years.get((level, indicator), [])

    @cached_property
    def level_indicators(self) -> dict[str, list[str]]:
        """Catalogue indicators with values per level (for the map's indicator choice)."""
        out: dict[str, list[str]] = {}
        for lv, ind in self._indicator_years:
            if lv in LEVEL_LABELS:
                out.setdefault(lv, []).append(ind)
        return out

    def meta(self) -> dict:
        """What the store holds, for the pages' selectors and empty states."""
        cat = self.indicator_catalogue
        return {
            "spec": self.spec,
            "reference": self.scheme.reference,
            "levels": [
                {
                    "id": lv,
                    "label": LEVEL_LABELS[lv],
                    "vintage": self.geometry_vintages[lv],
                    "score_years": self.score_years(lv),
                    "default_year": self.facts.default_year(lv),
                    "year_kinds": {str(y): k for y, k in self.facts.year_kinds(lv).items()},
                    "indicators": self.level_indicators.get(lv, []),
                }
                for lv in self.levels
            ],
            "interval_level": self.facts.interval_level,
            "rules": {"not_classed": both("class.not_classed.reason",
                                          min_residents=int(self.facts.rules.min_residents),
                                          min_dwellings=int(self.facts.rules.min_dwellings)),
                      "membership": self.facts.membership_rule()},
            "dimensions": [{"id": d["code"], **d} for d in self.facts.dimensions],
            "classes": {
                "colors": CLASS_COLORS,
                "labels_nl": list(self.scheme.total_labels_nl),
                "labels_en": list(self.scheme.total_labels_en),
            },
            "indicators": [
                {
                    "id": i,
                    "label_nl": r.label_nl,
                    "label_en": r.label_en,
                    "unit": r.unit,
                    "theme": r.theme,
                    "direction": int(r.direction),
                    "sensitive": bool(r.sensitive),
                }
                for i, r in cat.iterrows()
            ],
            "available": {
                "scores_table": "scores" in self.tables,
                "contributions": "contributions" in self.tables,
                "programmes": bool(self.programme_registry),
                "evaluation": self.evaluation_table is not None,
            },
        }

    # -- scores -------------------------------------------------------------------------------------
    def scores(self, level: str) -> pd.DataFrame:
        """Score series of ``level`` from the facts layer (kind, interval, class and rank under the small-area
        rule), one row per area and year; cached."""
        return self.facts.scores(level)

    @cached_property
    def population(self) -> pd.DataFrame:
        """Inhabitants (``inwoner``) per level, code and year: the weights of reference means."""
        return self.facts.population()

    def _weights(self, level: str, codes: pd.Series, year: int) -> np.ndarray:
        """Inhabitants of each area in the year nearest to ``year`` that has counts; 1 where unknown."""
        pop = self.population[self.population["level"] == level]
        if pop.empty:
            return np.ones(len(codes))
        years = np.array(sorted(pop["year"].unique()))
        nearest = int(years[np.argmin(np.abs(years - year))])
        w = pop[pop["year"] == nearest].set_index("code")["inwoner"]
        return codes.map(w).fillna(1.0).clip(lower=0).to_numpy(float)

    def labels(self, level: str) -> pd.Series:
        """Display label per code of ``level`` (the facts layer's names, e.g. "3072 Rotterdam –
        Afrikaanderwijk/Feijenoord")."""
        return self.facts.labels(level)

    def area(self, level: str, code: str) -> dict:
        """Identity of one area (facts layer); ``NotFound`` if the store has no such area."""
        return self.facts.area(level, code)

    def warm(self, level: str) -> None:
        """Prepare everything a first profile, map or gap request of ``level`` needs (server start-up)."""
        sc = self.scores(level)
        self.meta()
        self.facts.search("a")
        official = self.facts.official_years(level)
        if len(official) >= 2:  # the default explanation (previous official year -> default year) of every area
            self.facts.prepare_explanations(level, official[-2], official[-1])
        if not sc.empty:
            self.profile(level, str(sc["code"].iloc[0]))
            for year in self.score_years(level):
                self._reference_table(level, year)
        self.gap_analysis(level)

    # -- legends and map values ----------------------------------------------------------------------
    def measures(self) -> tuple[str, ...]:
        """What a map can show: the scores, the spec's dimensions (whatever they are called), class, change
        and an indicator."""
        return ("total", "afw", *self.facts.dimension_codes, "klasse", "change", "indicator")

    def legend(self, measure: str) -> Legend:
        """Bins for a measure: official class bands for total/afw/klasse, component bands for the five
        Leefbaarometer dimensions, development classes for change (indicator maps and other dimensions are
        classed by ``facts.choropleth``)."""
        s = self.scheme
        if measure in ("total", "afw", "klasse"):
            breaks = list(s.total_boundaries + (s.reference if measure == "total" else 0.0))
            if measure == "klasse":
                breaks = [k + 0.5 for k in range(1, 9)]
            return Legend(breaks, CLASS_COLORS, list(s.total_labels_nl), list(s.total_labels_en), "class")
        if measure in DIMENSIONS:
            return Legend(
                list(s.component_boundaries),
                COMPONENT_COLORS,
                list(s.component_labels_nl),
                list(s.component_labels_en),
                "component",
            )
        if measure == "change":
            return Legend(
                list(s.development_boundaries()),
                DEVELOPMENT_COLORS,
                list(s.development_labels_nl),
                list(s.development_labels_en),
                "development",
            )
        raise ValueError(f"no fixed class bands for measure {measure!r} (indicator maps: facts.choropleth)")

    def map_values(
        self, level: str, year: int, measure: str, indicator: str | None = None, base_year: int | None = None,
        scheme: str = choropleth.DEFAULT_SCHEME,
    ) -> dict:
        """Values of one measure for every area of ``level`` in ``year``, with bins and a legend.

        ``change`` is ``afw(year) - afw(base_year)`` (score points; default base: the previous year with
        scores). ``indicator`` values are catalogue observations (their unit in ``unit``), classed by ``scheme``
        (``facts.choropleth``: quantiles or Fisher-Jenks; the legend names it).
        """
        unit, base = "score", None
        if measure not in self.measures():
            raise not_found("error.no_measure_values", measure=measure, level=level, year=year)
        quantiles = measure in self.facts.dimension_codes and measure not in DIMENSIONS  # no fixed bands
        if measure == "indicator":
            if indicator is None:
                raise not_found("error.indicator_needed")
            frame = self.facts.indicator_values(level, year, indicator)
            if frame.empty:
                raise not_found("error.no_indicator_values", indicator=indicator, level=level, year=year)
            codes, values = frame["code"], frame["value"].to_numpy(float)
            row = self.indicator_catalogue.loc[indicator]
            unit, direction = row["unit"], int(row["direction"])
        else:
            sc = self.scores(level)
            years = self.score_years(level)
            if year not in years:
                raise not_found("error.no_scores_year_list", level=level, year=year,
                                years=", ".join(map(str, years)) or "–")
            cur = sc[sc["year"] == year].set_index("code")
            if measure == "change":
                earlier = [y for y in years if y < year]
                base = base_year if base_year is not None else (earlier[-1] if earlier else None)
                if base is None or base not in years or base >= year:
                    raise not_found("error.no_earlier_year", year=year, level=level)
                prev = sc[sc["year"] == base].set_index("code")["afw"]
                series = (cur["afw"] - prev.reindex(cur.index)).dropna()
            else:
                series = cur[measure].dropna()
            codes, values = pd.Series(series.index), series.to_numpy(float)
            if measure == "klasse":
                unit = "klasse 1-9"
            if len(values) == 0:
                raise not_found("error.no_measure_values", measure=measure, level=level, year=year)
        if measure == "indicator" or quantiles:
            legend_dict = {**(choropleth.indicator_legend(values, unit, direction, scheme) if measure == "indicator"
                              else choropleth.indicator_legend(values, None, 1, scheme)),  # score points: no unit
                           "no_data_color": NO_DATA_COLOR}
            bins = choropleth.bins_of(values, legend_dict["breaks"]).astype(int)
        else:
            legend = self.legend(measure)
            legend_dict, bins = legend.as_dict(), legend.bins(values).astype(int)
        kinds, classed = None, None
        if measure != "indicator":
            cur_rows = self.scores(level)
            cur_rows = cur_rows[cur_rows["year"] == year].set_index("code")
            small = cur_rows["small"].reindex(codes.to_numpy()).fillna(False).to_numpy(bool)
            kinds = cur_rows["kind"].reindex(codes.to_numpy()).fillna("official").tolist()
            classed = (~small).tolist()
            if measure in ("total", "afw", "klasse", *self.facts.dimension_codes, "change"):
                bins = np.where(small, -1, bins)  # shown, not coloured as a class (small-area rule)
        year_kind = self.facts.year_kinds(level).get(year) if measure != "indicator" else None
        return {
            "level": level,
            "year": year,
            "measure": measure,
            "indicator": indicator,
            "base_year": base,
            "unit": unit,
            "kind": year_kind,
            "base_kind": self.facts.year_kinds(level).get(base) if base else None,
            "kind_label": self.facts.kind_label(year_kind),
            "interval_level": self.facts.interval_level,
            "codes": codes.astype(str).tolist(),
            "values": [_num(v) for v in values],
            "bins": bins.tolist(),
            "kinds": kinds,
            "classed": classed,
            "not_classed_label": both("class.not_classed"),
            "legend": legend_dict,
        }

    def map_frame(self, level: str, year: int, measure: str, indicator: str | None = None,
                  gemeente_code: str | None = None, base_year: int | None = None,
                  scheme: str = choropleth.DEFAULT_SCHEME) -> pd.DataFrame:
        """``map_values`` as a table (code, name, value, kind, bin label) for downloads, optionally of one
        gemeente."""
        mv = self.map_values(level, year, measure, indicator, base_year, scheme)
        labels = mv["legend"]["labels_nl"]
        frame = pd.DataFrame({"code": mv["codes"], "value": mv["values"], "bin": mv["bins"]})
        frame.insert(1, "label", frame["code"].map(self.labels(level)).fillna(frame["code"]))
        frame.insert(2, "gemeente_code", frame["code"].map(self._gemeente_of(level)).to_numpy())
        not_classed = both("class.not_classed")["nl"]
        frame["klasse_label"] = [labels[b] if b >= 0 else (not_classed if mv["classed"] and not mv["classed"][i]
                                                           else None) for i, b in enumerate(frame["bin"])]
        if mv["kinds"] is not None:
            frame["kind"] = mv["kinds"]
        frame.insert(0, "year", year)
        frame.insert(0, "level", level)
        if gemeente_code:
            frame = frame[frame["gemeente_code"] == gemeente_code].reset_index(drop=True)
        return frame.rename(columns={"value": measure if measure != "indicator" else indicator})

    # -- profiles -----------------------------------------------------------------------------------
    def references(self, level: str, year: int, gemeente_code: str | None) -> dict:
        """Population-weighted mean scores of all areas of ``level`` (national) and of the gemeente."""
        table = self._reference_table(level, year)
        return {"nederland": table.get("__NL__"), "gemeente": table.get(gemeente_code) if gemeente_code else None}

    def _reference_table(self, level: str, year: int) -> dict[str, dict]:
        """Weighted means per gemeente and for the whole country (key ``__NL__``); cached per level and year."""
        with self._lock:
            cache = self.__dict__.setdefault("_refs", {})
            if (level, year) in cache:
                return cache[(level, year)]
        sc = self.scores(level)
        cur = sc[sc["year"] == year]
        gm = cur["code"].map(self._gemeente_of(level))
        w = self._weights(level, cur["code"], year)
        out = {}
        for key, mask in [("__NL__", np.ones(len(cur), bool)),
                          *((g, (gm == g).to_numpy()) for g in gm.dropna().unique())]:
            part = cur[mask]
            vals = {}
            for c in ("total", "afw", *self.facts.dimension_codes):
                v = part[c].to_numpy(float)
                ok = ~np.isnan(v)
                ww = w[mask][ok]
                vals[c] = _num(np.average(v[ok], weights=ww)) if ok.any() and ww.sum() > 0 else None
            vals["n_areas"] = int(len(part))
            out[key] = vals
        with self._lock:
            self.__dict__["_refs"][(level, year)] = out
        return out

    def _gemeente_of(self, level: str) -> pd.Series:
        """Gemeente code per area code of ``level``."""
        return self.facts.gemeente_of(level)

    def profile(self, level: str, code: str, year: int | None = None, base_year: int | None = None) -> dict:
        """Everything the area page shows: score (kind, interval with its level, class or 'not classed', rank),
        dimensions against references, the whole series, the explanation of the change into the shown year,
        vulnerability and programmes. Default year: the latest official year."""
        area = self.area(level, code)
        series = self.facts.series(level, code)
        years = [p["year"] for p in series]
        score = self.facts.score(level, code, year) if years else None
        year = score["year"] if score else None
        if score:
            score = {**score,
                     "klasse_lo": _int(classify_total(score["total_lo"] - self.scheme.reference))
                     if score["total_lo"] is not None and score["classed"] else None,
                     "klasse_hi": _int(classify_total(score["total_hi"] - self.scheme.reference))
                     if score["total_hi"] is not None and score["classed"] else None}
            refs = self.references(level, year, area["gemeente_code"])
            dims = [
                {
                    "id": d["code"],
                    "label": d["label"],
                    "value": score.get(d["code"]),
                    # component classes are bands of the Leefbaarometer scale: for its five dimensions only
                    "klasse": _int(classify_component(score[d["code"]])) if d["code"] in DIMENSIONS
                    and score[d["code"]] is not None and score["classed"] else None,
                    "gemeente": refs["gemeente"].get(d["code"]) if refs["gemeente"] else None,
                    "nederland": refs["nederland"].get(d["code"]) if refs["nederland"] else None,
                }
                for d in self.facts.dimensions
            ]
        else:
            refs, dims = {"nederland": None, "gemeente": None}, []
        return {
            "area": area,
            "year": year,
            "years": years,
            "default_year": self.facts.default_year(level),
            "interval_level": self.facts.interval_level,
            "score": score,
            "dimensions": dims,
            "references": refs,
            "trend": series,
            # full precision: the parts add up exactly to the change shown
            "change": self.facts.explain(level, code, base_year, year) if year else None,
            "vulnerability": self.vulnerability(level, code),
            "programmes": self.area_programmes(level, code),
            "spec": self.spec,
        }

    # -- vulnerability ------------------------------------------------------------------------------
    def _vulnerable(self, level: str, lang: str) -> VulnerableAreas | None:
        """The monitoring stage's vulnerable-area analysis (``catalogue/vulnerability.yaml``) on the official
        years of the series shown here (index scores when the store has them, else the official
        Leefbaarometer); areas under the small-area rule in the reference year are never listed; cached. None
        when the level has no series it can run on."""
        with self.store_lock:
            cache = self.__dict__.setdefault("_vuln", {})
            if (level, lang) not in cache:
                cache[(level, lang)] = vulnerable_analysis(self.facts, level, lang,
                                                           self.__dict__.setdefault("_vuln_errors", {}))
            return cache[(level, lang)]

    def vulnerability(self, level: str, code: str) -> dict:
        """Whether the area is flagged as vulnerable (latest year of the definition), the criteria it meets and
        why, in Dutch and English."""
        nl, en = self._vulnerable(level, "nl"), self._vulnerable(level, "en")
        if nl is None or en is None:
            return {"available": False, "flags": [],
                    "note": self.__dict__.get("_vuln_errors", {}).get(level)}
        d = nl.definition
        rows = self._vulnerable_rows(level)
        if code not in rows:
            return {"available": True, "flagged": False, "flags": [], "definition_nl": d.name("nl"),
                    "definition_en": d.name("en"), "year": nl.year, "since": nl.since}
        r, reason_en = rows[code]
        flags = [{"criterion": c, "met": bool(r[c])} for c in ("level", "decline", "cumulation")]
        return {"available": True, "flagged": bool(r["flagged"]), "rank": _int(r["rank"]),
                "criteria_met": _int(r["criteria_met"]), "reason_nl": r["reason"], "reason_en": reason_en,
                "flags": flags, "definition_nl": d.name("nl"), "definition_en": d.name("en"), "year": nl.year,
                "since": nl.since}

    def _vulnerable_rows(self, level: str) -> dict[str, tuple[dict, str]]:
        """Per area code: its row of the vulnerability analysis and the English reason; prepared once."""
        with self._lock:
            cache = self.__dict__.setdefault("_vuln_rows", {})
            if level not in cache:
                nl, en = self.__dict__["_vuln"][(level, "nl")], self.__dict__["_vuln"][(level, "en")]
                reasons_en = dict(zip(en.areas["code"], en.areas["reason"], strict=True))
                cache[level] = {r["code"]: (r, reasons_en.get(r["code"])) for r in nl.areas.to_dict("records")}
            return cache[level]

    def vulnerable_areas(self, level: str, gemeente_code: str | None = None, lang: str = "nl") -> pd.DataFrame | None:
        """Flagged areas of a level (optionally of one gemeente), ranked, with the reasons; None when the
        analysis cannot run on this level."""
        vul = self._vulnerable(level, lang)
        if vul is None:
            return None
        frame = vul.areas[vul.areas["flagged"]].copy()
        if gemeente_code:
            frame = frame[frame["code"].map(self._gemeente_of(level)) == gemeente_code]
        frame.insert(1, "label", frame["code"].map(self.labels(level)).fillna(frame["code"]).to_numpy())
        return frame[["code", "label", "rank", "total", "afw", "class", "criteria_met", "reason"]].reset_index(
            drop=True).assign(rank=lambda f: f["rank"].astype("Int64"), **{"class": lambda f: f["class"].astype(
                "Int64")})

    # -- programmes ---------------------------------------------------------------------------------
    @cached_property
    def programme_registry(self) -> list[dict]:
        """Programmes of the evaluation stage's registry (``catalogue/programmes.yaml``), every field."""
        return json.loads(load_programmes().to_json())["programmes"]

    @cached_property
    def evaluation_table(self) -> str | None:
        return next((n for n in ("evaluation_results", "evaluations", "effects") if n in self.tables), None)

    def programmes(self) -> dict:
        """The timeline of programmes (registry), the lists the store holds, evaluation results, and per
        programme its area count by the one membership rule of the facts layer."""
        lists, groups = self.facts.policy_lists(), self.facts.area_groups()
        results = self.facts.evaluation_results()
        evaluation = records(results) if results is not None else []
        counts = self.facts.programme_counts("pc4")
        return {
            "registry": [_jsonable({**p, "pc4_members": counts.get(p["id"], {}).get("members"),
                                    "pc4_touched": counts.get(p["id"], {}).get("touched")})
                         for p in self.programme_registry],
            "membership_rule": self.facts.membership_rule(),
            "lists": records(lists),
            "groups": records(groups),
            "evaluation": evaluation,
        }

    def area_programmes(self, level: str, code: str) -> dict:
        """Programme facts of one area: ``member`` (the one rule), ``touched`` and ``gemeente`` (its gemeente
        has designated areas), kept apart and labelled; ``rule`` states the rule."""
        return _jsonable(self.facts.area_programmes(level, code))

    # -- search, rankings, distributions --------------------------------------------------------------
    def search(self, q: str, limit: int = 20) -> list[dict]:
        """Areas matching a code, a name or a postcode ('3072', '3072 AB', 'GM0599', 'Feijenoord')."""
        return self.facts.search(q, limit, levels=self.scored_levels)

    def ranking(self, level: str, year: int, gemeente_code: str | None = None) -> pd.DataFrame:
        """Areas of ``level`` in ``year`` with kind, class and national rank (1 = highest; the small-area rule
        leaves small areas unclassed and unranked, listed last), optionally within one gemeente."""
        cur = self.facts.ranking(level, year, gemeente_code)
        cur["rank_nl"] = cur["rank"].astype("Int64")
        cur["klasse_label"] = [self.scheme.total_labels_nl[int(k) - 1] if k == k else None for k in cur["klasse"]]
        cur["kind_label"] = cur["kind"].map(lambda k: (self.facts.kind_label(k) or {}).get("nl"))
        cur["interval_level"] = [None if k == "official" else self.facts.interval_level for k in cur["kind"]]
        cols = ["code", "label", "gemeente_code", "year", "rank_nl", "total", "afw", *self.facts.dimension_codes,
                "klasse",
                "klasse_label", "classed", "kind", "kind_label", "total_lo", "total_hi", "interval_level",
                "residents", "dwellings"]
        return cur[cols]

    def distribution(self, level: str, gemeente_code: str | None = None) -> dict:
        """Per year: population-weighted quantiles of the score, the class mix, and the gap between the
        weakest tenth of areas and the whole (score points); national or within one gemeente."""
        sc = self.scores(level)
        if gemeente_code:
            sc = sc[sc["code"].map(self._gemeente_of(level)) == gemeente_code]
        rows = [year_row(int(year), part["afw"].to_numpy(float), self._weights(level, part["code"], int(year)),
                         part["klasse"].to_numpy(float), bool((part["kind"] == "official").all()))
                for year, part in sc[sc["afw"].notna()].groupby("year")]
        return {"level": level, "gemeente_code": gemeente_code, "unit": DISTRIBUTION_UNIT, "years": rows}

    def gap_analysis(self, level: str) -> dict:
        """The monitoring stage's inequality analysis (``leefbaar.analysis.gap.GapAnalysis``) over the official
        years of the series shown (verdicts use measurements, not modelled years), nationally: per year the
        P90-P10 gap (per area and per inhabitant) with a 95 % bootstrap band, and whether it grew between the
        first and last official year; the verdict worded from the facts layer's sentences. Cached;
        ``available`` False when it cannot run."""
        with self.store_lock:
            cache = self.__dict__.setdefault("_gap", {})
            if level not in cache:
                try:
                    panel = self.facts.panel(level, official_only=True)
                    weights = population_weights(self.store, level, panel.years, "inwoner", panel.vintage)
                    res = GapAnalysis(panel, weights, n_boot=499).fit()
                    keep = ["p90_p10", "p90_p10_w", "sd_w", "gini_w", "theil_w"]
                    key = {"growing": "gap.growing", "shrinking": "gap.narrowing"}.get(res.verdict, "gap.stable")
                    span = both("gap.years", y0=res.years[0], y1=res.years[-1])
                    cache[level] = {
                        "available": True, "verdict": res.verdict, "years": res.years, "n_areas": len(res.codes),
                        "kinds": sorted(set(self.facts.year_kinds(level).get(y, "official") for y in res.years)),
                        "verdict_text": {lg: f"{t} {span[lg]}" for lg, t in both(key).items()},
                        "by_year": records(res.by_year[res.by_year["measure"].isin(keep)]),
                        "change": records(res.change[res.change["measure"].isin(keep)]),
                        "notes": list(res.notes)}
                except LeefbaarError as exc:
                    cache[level] = {"available": False, "note": str(exc)}
            return cache[level]

    def gemeenten(self) -> list[dict]:
        """Gemeenten (latest vintage) with their names, for selectors and the report."""
        return self.facts.gemeenten

    def sources(self) -> pd.DataFrame:
        """Publishers and licences of the files the store was built from (for credits)."""
        return self.facts.sources()


def _jsonable(obj):
    """Plain JSON types: NaN to None, numpy scalars to Python, anything else unknown (dates) to text."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        return _num(obj)
    if obj is None or isinstance(obj, str):
        return obj
    if obj is pd.NA or obj is pd.NaT:
        return None
    return json.loads(json.dumps(obj, default=str))


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows of a frame as JSON-ready dicts (missing values as None)."""
    frame = frame.astype(object).where(frame.notna(), None)
    return [_jsonable(r) for r in frame.to_dict(orient="records")]
