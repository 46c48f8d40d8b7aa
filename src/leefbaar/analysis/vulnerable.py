"""Vulnerable areas: a low level, decline beyond noise and cumulation of weak dimensions, per a documented
definition (``catalogue/vulnerability.yaml``, or a user file of the same layout), ranked with reasons, and
compared with the APCG list of CBS (2019).

``VulnerableAreas(definition).fit(panel, store)`` sets ``areas`` (one row per area: criteria, counts, reasons,
flag, rank) and ``comparison``/``profile`` (overlap with a reference list and what the differences share).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from leefbaar.analysis.panel import DIMENSION_LABELS, DIMENSIONS, Panel
from leefbaar.analysis.summary import num
from leefbaar.errors import SpecError, StoreError
from leefbaar.i18n import N_, note_in_languages, translator
from leefbaar.index.classes import classify_component, classify_total, development_class, load_scheme
from leefbaar.store.store import Store

CRITERIA = ("level", "decline", "cumulation")
DECLINE_METHODS = ("development_class", "trend")
PROFILE_INDICATORS = ("inwoner", "sted", "p_link_hh", "uitkminaow", "won_hcorp", "woning", "wozwoning",
                      "p_huurwon")


@dataclass(frozen=True)
class IndicatorRule:
    """An indicator criterion: the area is among the worst ``worst_share`` (optionally of ``id / per``)."""

    id: str
    worst_share: float
    per: str | None = None


@dataclass(frozen=True)
class Definition:
    """A validated vulnerability definition (see ``catalogue/vulnerability.yaml`` for the meaning)."""

    id: str
    name_nl: str
    name_en: str
    year: int | None
    level_max_class: int
    decline_method: str
    decline_since: int | None
    decline_max_class: int
    decline_t_min: float
    decline_min_fall: float
    dimensions: tuple[str, ...]
    max_component_class: int
    indicators: tuple[IndicatorRule, ...]
    min_count: int
    required: tuple[str, ...]
    min_met: int
    source: str = ""

    def name(self, lang: str) -> str:
        return self.name_nl if lang == "nl" else self.name_en


def _get(section: dict, key: str, kind, where: str, default=None, choices=None, lo=None, hi=None):
    value = section.get(key, default)
    if value is None:
        raise SpecError(f"{where}: '{key}' is required")
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise SpecError(f"{where}: '{key}' must be a whole number, got {value!r}")
    if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise SpecError(f"{where}: '{key}' must be a number, got {value!r}")
    if kind is str and not isinstance(value, str):
        raise SpecError(f"{where}: '{key}' must be text, got {value!r}")
    if choices is not None and value not in choices:
        raise SpecError(f"{where}: '{key}' must be one of {', '.join(map(str, choices))}, got {value!r}")
    if lo is not None and value < lo or hi is not None and value > hi:
        raise SpecError(f"{where}: '{key}' must be between {lo} and {hi}, got {value!r}")
    return value


def _year(value, where: str, key: str) -> int | None:
    if value in ("latest", "first"):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1900 <= value <= 2100:
        raise SpecError(f"{where}: '{key}' must be a year or 'latest'/'first', got {value!r}")
    return value


def parse_definition(data: object, where: str) -> Definition:
    """Validate a parsed definition document; raise ``SpecError`` naming the file and field."""
    if not isinstance(data, dict):
        raise SpecError(f"{where}: expected a mapping with keys id, criteria, rule")
    unknown = set(data) - {"id", "name_nl", "name_en", "year", "criteria", "rule"}
    if unknown:
        raise SpecError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    crit = data.get("criteria")
    if not isinstance(crit, dict) or set(crit) - set(CRITERIA):
        raise SpecError(f"{where}: 'criteria' must be a mapping with keys among {', '.join(CRITERIA)}")
    sections = {}
    for c in CRITERIA:
        sec = crit.get(c)
        if not isinstance(sec, dict):
            raise SpecError(f"{where}: criteria.{c} is missing or not a mapping")
        sections[c] = sec
    lvl, dec, cum = sections["level"], sections["decline"], sections["cumulation"]
    dims = cum.get("dimensions", [])
    if not isinstance(dims, list) or any(d not in DIMENSIONS for d in dims):
        raise SpecError(f"{where} criteria.cumulation: 'dimensions' must be a list among {', '.join(DIMENSIONS)}")
    inds = cum.get("indicators", []) or []
    if not isinstance(inds, list):
        raise SpecError(f"{where} criteria.cumulation: 'indicators' must be a list")
    rules = []
    for i, item in enumerate(inds):
        w = f"{where} criteria.cumulation.indicators[{i}]"
        if not isinstance(item, dict) or set(item) - {"id", "worst_share", "per"}:
            raise SpecError(f"{w}: expected a mapping with id, worst_share and optionally per")
        rules.append(IndicatorRule(_get(item, "id", str, w), float(_get(item, "worst_share", float, w, lo=0.0,
                                                                          hi=1.0)),
                                   _get(item, "per", str, w) if "per" in item else None))
    if not dims and not rules:
        raise SpecError(f"{where} criteria.cumulation: list at least one dimension or indicator")
    rule = data.get("rule")
    if not isinstance(rule, dict):
        raise SpecError(f"{where}: 'rule' is missing or not a mapping")
    required = rule.get("required", [])
    if not isinstance(required, list) or any(r not in CRITERIA for r in required):
        raise SpecError(f"{where} rule: 'required' must be a list among {', '.join(CRITERIA)}")
    n_cum = len(dims) + len(rules)
    return Definition(
        id=_get(data, "id", str, where), name_nl=str(data.get("name_nl", data.get("id"))),
        name_en=str(data.get("name_en", data.get("id"))), year=_year(data.get("year", "latest"), where, "year"),
        level_max_class=_get(lvl, "max_class", int, f"{where} criteria.level", lo=1, hi=9),
        decline_method=_get(dec, "method", str, f"{where} criteria.decline", choices=DECLINE_METHODS),
        decline_since=_year(dec.get("since", "first"), f"{where} criteria.decline", "since"),
        decline_max_class=_get(dec, "max_class", int, f"{where} criteria.decline", default=3, lo=1, hi=7),
        decline_t_min=float(_get(dec, "t_min", float, f"{where} criteria.decline", default=2.0, lo=0.0)),
        decline_min_fall=float(_get(dec, "min_fall", float, f"{where} criteria.decline", default=0.0, lo=0.0)),
        dimensions=tuple(dims),
        max_component_class=_get(cum, "max_component_class", int, f"{where} criteria.cumulation", default=3,
                                 lo=1, hi=9),
        indicators=tuple(rules),
        min_count=_get(cum, "min_count", int, f"{where} criteria.cumulation", lo=1, hi=n_cum),
        required=tuple(required),
        min_met=_get(rule, "min_met", int, f"{where} rule", lo=1, hi=3),
        source=where,
    )


def load_definition(path: str | Path | None = None) -> Definition:
    """The packaged definition (``catalogue/vulnerability.yaml``) or the YAML file at ``path``."""
    if path is None:
        where, text = "catalogue/vulnerability.yaml", (resources.files("leefbaar") / "catalogue" /
                                                       "vulnerability.yaml").read_text(encoding="utf-8")
    else:
        where = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{where}: not valid YAML: {exc}") from None
    return parse_definition(data, where)


def trend_test(wide: pd.DataFrame) -> pd.DataFrame:
    """Per row of ``wide`` (columns = years): OLS slope per year, its standard error, t and fitted change.

    Rows with fewer than three values get NaN (no residual variance to judge noise).
    """
    years = np.asarray(wide.columns, float)
    y = wide.to_numpy(float)
    ok = np.isfinite(y)
    n = ok.sum(1)
    mx = np.where(ok, years, 0).sum(1) / np.maximum(n, 1)
    my = np.where(ok, y, 0).sum(1) / np.maximum(n, 1)
    dx = np.where(ok, years - mx[:, None], 0.0)
    dy = np.where(ok, y - my[:, None], 0.0)
    sxx = (dx * dx).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = (dx * dy).sum(1) / sxx
        resid = np.where(ok, dy - b[:, None] * dx, 0.0)
        se = np.sqrt((resid ** 2).sum(1) / (n - 2) / sxx)
        span = np.where(ok, years, -np.inf).max(1) - np.where(ok, years, np.inf).min(1)
        valid = n >= 3
        return pd.DataFrame({"slope": np.where(valid, b, np.nan), "se": np.where(valid, se, np.nan),
                             "t": np.where(valid, b / se, np.nan), "fitted_change": np.where(valid, b * span, np.nan)},
                            index=wide.index)


@dataclass
class VulnerableAreas:
    """Apply a ``Definition`` to a Leefbaarometer panel (see the module docstring)."""

    definition: Definition
    lang: str = "nl"
    year: int | None = None
    since: int | None = None
    notes: list[str] = field(default_factory=list)

    def fit(self, panel: Panel, store: Store, exclude: set[str] | None = None) -> VulnerableAreas:
        """Apply the definition; ``year``/``since`` given here override the definition's. Areas in ``exclude``
        (for instance those the facts layer's small-area rule does not class) are kept but never flagged."""
        d = self.definition
        if not panel.has_afw:
            raise StoreError(f"{panel.label}: vulnerable areas need Leefbaarometer scores with a deviation (afw); "
                             "use --source official or --source index")
        need_dims = bool(d.dimensions)
        with_dim = {c: set(panel.years_with(c)) for c in d.dimensions}
        years_dims = [y for y in panel.years if all(y in with_dim[c] for c in d.dimensions)]
        candidates = years_dims if need_dims else panel.years
        if not candidates:
            raise StoreError(f"{panel.label}: no year has all dimensions {', '.join(d.dimensions)}")
        year = self.year or (d.year if d.year is not None else candidates[-1])
        if year not in candidates:
            raise StoreError(f"{d.source}: reference year {year} has no scores"
                             + (" with all dimensions" if need_dims else "") + f"; use one of "
                             f"{', '.join(map(str, candidates))}")
        since = self.since or (d.decline_since if d.decline_since is not None else panel.years[0])
        if since >= year:
            raise StoreError(f"{d.source}: the decline starts in {since}, not before the reference year {year}")
        if since not in panel.years:
            raise StoreError(f"{d.source}: the decline is measured from {since}, but {panel.label} has no score "
                             f"in {since} (years with scores: {', '.join(map(str, panel.years))}); choose one "
                             "of them with --since")
        self.year, self.since = year, since
        frame = panel.frame.set_index(["code", "year"])
        now = frame.xs(year, level="year")
        out = pd.DataFrame(index=now.index)
        out["total"], out["afw"] = now["total"], now["afw"]
        out["class"] = classify_total(now["afw"])
        out["level"] = (out["class"] <= d.level_max_class).fillna(False).astype(bool)
        before = frame.xs(since, level="year")["afw"].reindex(out.index)
        out["change"] = out["afw"] - before
        out["development_class"] = development_class(out["change"])
        if d.decline_method == "development_class":
            out["decline"] = (out["development_class"] <= d.decline_max_class).fillna(False).astype(bool)
        else:
            years = [y for y in panel.years if since <= y <= year]
            tt = trend_test(panel.wide("total")[years].reindex(out.index))
            out[["slope", "slope_se", "slope_t", "fitted_change"]] = tt.to_numpy()
            out["decline"] = ((tt["t"] <= -d.decline_t_min) & (tt["fitted_change"] <= -d.decline_min_fall)).fillna(
                False).to_numpy(bool)
        low = []
        for dim in d.dimensions:
            out[dim] = now[dim]
            out[f"k{dim}"] = classify_component(now[dim])
            flag = (out[f"k{dim}"] <= d.max_component_class).fillna(False).astype(bool)
            out[f"low_{dim}"] = flag
            low.append(flag)
        for rule in d.indicators:
            flag = self._indicator_flag(store, panel, rule, out.index, year)
            out[f"low_{rule.id}"] = flag
            low.append(flag)
        out["n_low"] = np.sum(low, axis=0)
        out["cumulation"] = out["n_low"] >= d.min_count
        met = out[list(CRITERIA)].sum(axis=1)
        out["criteria_met"] = met
        ok = met >= d.min_met
        for r in d.required:
            ok &= out[r]
        out["flagged"] = ok & ~out.index.isin(list(exclude or ()))
        out = out[out["afw"].notna()]
        used = ["class", "level", "decline", "development_class", "change", "slope", "slope_t",
                *(f"{p}{dim}" for dim in d.dimensions for p in ("k", "low_")), *(f"low_{r.id}" for r in d.indicators)]
        out["reason"] = self._reasons(out[[c for c in used if c in out.columns]].to_dict("records"))
        out = out.sort_values(["flagged", "criteria_met", "n_low", "total"], ascending=[False, False, False, True])
        out["rank"] = np.where(out["flagged"], np.arange(1, len(out) + 1), np.nan)
        out.index.name = "code"
        self.areas = out.reset_index()
        return self

    def _indicator_flag(self, store: Store, panel: Panel, rule: IndicatorRule, codes: pd.Index,
                        year: int) -> pd.Series:
        ids = [rule.id] + ([rule.per] if rule.per else [])
        meta = store.sql(f"SELECT id, direction FROM indicators WHERE id IN ({', '.join('?' * len(ids))})", ids)
        if len(meta) < len(ids):
            missing = sorted(set(ids) - set(meta["id"]))[0]
            raise SpecError(f"{self.definition.source}: unknown indicator {missing!r} in criteria.cumulation")
        direction = int(meta.set_index("id").loc[rule.id, "direction"])
        if direction == 0:
            raise SpecError(f"{self.definition.source}: indicator {rule.id!r} has no direction (better/worse) in "
                            "the catalogue; it cannot mark a problem")
        have = store.sql("SELECT DISTINCT year FROM observations WHERE level = ? AND indicator = ? AND value IS "
                         "NOT NULL", [panel.level, rule.id])["year"].tolist()
        if not have:
            raise StoreError(f"indicator {rule.id!r} has no values at level {panel.level}")
        use = int(min(have, key=lambda y: (abs(y - year), -y)))
        vals = store.table(panel.level, years=[use], indicators=ids).set_index("code")
        v = vals[rule.id] / vals[rule.per].replace(0, np.nan) if rule.per else vals[rule.id]
        v = v.reindex(codes)
        cut = v.quantile(1 - rule.worst_share) if direction < 0 else v.quantile(rule.worst_share)
        flag = (v >= cut) if direction < 0 else (v <= cut)
        if use != year:
            self.notes.append(note_in_languages(N_("{indicator}: CBS {use} used for reference year {year}."),
                                                indicator=rule.id, use=use, year=year))
        return flag.fillna(False).astype(bool)

    def _reasons(self, rows: list[dict]) -> list[str]:
        """``_reason`` of every row; a row without decline is written once per distinct class, flags and
        component classes (its reason uses nothing else), so that 400,000 areas need a few thousand texts."""
        memo: dict[tuple, str] = {}
        out = []
        for k in rows:
            if k["decline"]:
                out.append(self._reason(k))
                continue
            key = tuple(v for c, v in k.items() if c not in ("development_class", "change", "slope", "slope_t"))
            if key not in memo:
                memo[key] = self._reason(k)
            out.append(memo[key])
        return out

    def _reason(self, k: dict) -> str:
        d, lang = self.definition, self.lang
        scheme = load_scheme()
        parts = []
        _ = translator(lang)
        if pd.notna(k["class"]):
            label = scheme.labels("total", lang)[int(k["class"]) - 1]
            fields = {"klasse": int(k["class"]), "label": label, "year": self.year}
            parts.append(_("class {klasse} {label} in {year} (low)", **fields) if k["level"] else
                         _("class {klasse} {label} in {year}", **fields))
        if k["decline"]:
            if d.decline_method == "development_class":
                dl = scheme.labels("development", lang)[int(k["development_class"]) - 1]
                parts.append(f"{dl} {self.since}-{self.year}: {num(k['change'], 3, lang, True)}")
            else:
                parts.append(_("declining trend {since}-{year}: {slope}/year (t = {t})", since=self.since,
                               year=self.year, slope=num(k["slope"], 4, lang, True), t=num(k["slope_t"], 1, lang)))
        weak = [DIMENSION_LABELS[lang][dim] + f" ({int(k[f'k{dim}'])})" for dim in d.dimensions if k[f"low_{dim}"]]
        weak += [r.id for r in d.indicators if k[f"low_{r.id}"]]
        if weak:
            parts.append(_("weak on: {items}", items=", ".join(weak)))
        return "; ".join(parts)

    # -- comparison with a reference list -----------------------------------------------------------------
    def compare(self, store: Store, reference: set[str], name: str) -> VulnerableAreas:
        """Overlap with ``reference`` codes and a profile of the four sets (both, only ours, only reference,
        neither): criteria shares, scores, dimensions and CBS indicators (nearest year)."""
        a = self.areas.set_index("code")
        ours = set(a.index[a["flagged"]])
        ref = reference & set(a.index)
        both, only_ours, only_ref = ours & ref, ours - ref, ref - ours
        self.reference_name = name
        self.comparison = pd.Series({
            "areas_scored": len(a), "flagged": len(ours), f"{name}": len(reference),
            f"{name}_scored": len(ref), "both": len(both), "only_flagged": len(only_ours),
            f"only_{name}": len(only_ref), "jaccard": len(both) / max(len(ours | ref), 1),
            f"share_of_{name}_flagged": len(both) / max(len(ref), 1),
            f"share_of_flagged_in_{name}": len(both) / max(len(ours), 1),
        })
        sets = {"both": both, "only_flagged": only_ours, f"only_{name}": only_ref,
                "neither": set(a.index) - ours - ref}
        ind = self._profile_indicators(store, a.index)
        rows = []
        for label, codes in sets.items():
            sub = a.loc[sorted(codes)]
            extra = ind.loc[sorted(codes)] if len(codes) else ind.iloc[:0]
            row = {"set": label, "n": len(sub), "mean_total": sub["total"].mean(), "mean_change": sub["change"].mean()}
            for c in CRITERIA:
                row[f"share_{c}"] = sub[c].mean() if len(sub) else np.nan
            for dim in self.definition.dimensions:
                row[f"mean_{dim}"] = sub[dim].mean()
                row[f"share_low_{dim}"] = sub[f"low_{dim}"].mean() if len(sub) else np.nan
            for col in extra.columns:
                row[f"median_{col}"] = extra[col].median()
            rows.append(row)
        self.profile = pd.DataFrame(rows)
        return self

    def _profile_indicators(self, store: Store, codes: pd.Index) -> pd.DataFrame:
        """CBS figures of each area in the CBS year nearest the reference year (rates per resident/dwelling)."""
        have = store.sql("SELECT indicator, list(DISTINCT year) AS years FROM observations WHERE level = 'pc4' "
                         f"AND indicator IN ({', '.join('?' * len(PROFILE_INDICATORS))}) AND value IS NOT NULL "
                         "GROUP BY indicator", list(PROFILE_INDICATORS))
        out = pd.DataFrame(index=codes)
        for ind, years in have.itertuples(index=False):
            use = int(min(years, key=lambda y: (abs(y - self.year), -y)))
            v = store.table("pc4", years=[use], indicators=[ind]).set_index("code")[ind]
            out[ind] = v.reindex(codes)
        if {"uitkminaow", "inwoner"} <= set(out.columns):
            out["uitkering_per_100_inw"] = 100 * out.pop("uitkminaow") / out["inwoner"].replace(0, np.nan)
        if {"won_hcorp", "woning"} <= set(out.columns):
            out["pct_corporatie"] = 100 * out.pop("won_hcorp") / out.pop("woning").replace(0, np.nan)
        return out
