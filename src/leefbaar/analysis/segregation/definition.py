"""The segregation catalogue (``catalogue/segregation.yaml``): groups, denominators and settings, validated on load,
and the group counts per area and year that follow from it.

Counts come from shares: a ``percent`` group is ``percent / 100 * total`` of the same area and year (households,
dwellings or residents as the set's ``unit`` says); ``count`` groups are read as they are; a ``remainder`` is the
total minus the other groups and a ``minus`` group a percentage minus the counts of other groups, both clipped
at 0. An area takes part in a year only when the total and every group indicator have a value (CBS suppresses
small areas) and its total is at least ``min_total``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from leefbaar.errors import SpecError, StoreError
from leefbaar.store.store import Store

WHERE = "catalogue/segregation.yaml"
KINDS = ("percent", "count", "remainder", "minus", "normal_band")
UNITS = {"households": ("huishoudens", "households"), "dwellings": ("woningen", "dwellings"),
         "residents": ("inwoners", "residents")}
SETTINGS = {"min_areas": int, "min_total": float, "permutations": int, "bootstrap": int, "interval": float,
            "seed": int}


@dataclass(frozen=True)
class Group:
    id: str
    kind: str
    label_nl: str
    label_en: str
    indicator: str | None = None
    of: tuple[str, ...] = ()
    sd: str | None = None
    band: tuple[float, float] | None = None

    def label(self, lang: str) -> str:
        return self.label_nl if lang == "nl" else self.label_en


@dataclass(frozen=True)
class GroupSet:
    """One split of the population of a level into groups (see the catalogue for the keys)."""

    dimension: str
    id: str
    level: str
    unit: str
    total: str
    groups: tuple[Group, ...]
    pair: tuple[str, str]
    label_nl: str
    label_en: str
    note_nl: str = ""
    note_en: str = ""
    headline: bool = False
    sensitive: bool = False
    modelled: bool = False

    def label(self, lang: str) -> str:
        return self.label_nl if lang == "nl" else self.label_en

    def note(self, lang: str) -> str:
        return self.note_nl if lang == "nl" else self.note_en

    def unit_label(self, lang: str) -> str:
        return UNITS[self.unit][0 if lang == "nl" else 1]

    @property
    def group_ids(self) -> list[str]:
        return [g.id for g in self.groups]

    @property
    def indicators(self) -> list[str]:
        out = [self.total]
        for g in self.groups:
            out += [i for i in (g.indicator, g.sd) if i and i not in out]
        return out

    def pair_label(self, lang: str) -> str:
        names = {g.id: g.label(lang) for g in self.groups}
        other = names.get(self.pair[1], "overige" if lang == "nl" else "all others")
        return f"{names[self.pair[0]]} {'t.o.v.' if lang == 'nl' else 'vs'} {other}"


@dataclass(frozen=True)
class Catalogue:
    settings: dict
    labels: dict[str, tuple[str, str]]
    sets: tuple[GroupSet, ...] = field(default_factory=tuple)

    def dimensions(self) -> list[str]:
        return list(self.labels)

    def label(self, dimension: str, lang: str) -> str:
        return self.labels[dimension][0 if lang == "nl" else 1]

    def sets_for(self, dimension: str, level: str) -> list[GroupSet]:
        """The sets of ``dimension`` at ``level``, the headline set first."""
        found = [s for s in self.sets if s.dimension == dimension and s.level == level]
        return sorted(found, key=lambda s: not s.headline)


def _fail(msg: str, where: str = WHERE):
    raise SpecError(f"{where}: {msg}")


def load_catalogue(path: str | Path | None = None, known: set[str] | None = None) -> Catalogue:
    """The packaged catalogue or the YAML at ``path``; ``known`` indicator ids are checked when given."""
    where = str(path) if path else WHERE
    text = Path(path).read_text(encoding="utf-8") if path else (
        resources.files("leefbaar") / "catalogue" / "segregation.yaml").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        _fail(f"not valid YAML ({exc})", where)
    settings = data.get("settings") or {}
    for key, typ in SETTINGS.items():
        if key not in settings:
            _fail(f"settings.{key} is missing", where)
        try:
            settings[key] = typ(settings[key])
        except (TypeError, ValueError):
            _fail(f"settings.{key} must be a number, not {settings[key]!r}", where)
    if settings["min_areas"] < 3 or settings["permutations"] < 19 or settings["bootstrap"] < 19 or not (
            0.5 <= settings["interval"] < 1):
        _fail("settings: min_areas >= 3, permutations and bootstrap >= 19 and 0.5 <= interval < 1", where)
    labels, sets = {}, []
    for dim, spec in (data.get("dimensions") or {}).items():
        f = f"dimensions.{dim}"
        labels[dim] = (str(spec.get("label_nl", dim)), str(spec.get("label_en", dim)))
        for i, s in enumerate(spec.get("sets") or []):
            fs = f"{f}.sets[{i}]"
            for key in ("id", "level", "unit", "total", "groups", "pair"):
                if key not in s:
                    _fail(f"{fs}.{key} is missing", where)
            if s["unit"] not in UNITS:
                _fail(f"{fs}.unit must be one of {', '.join(UNITS)}", where)
            groups = []
            for j, g in enumerate(s["groups"]):
                fg = f"{fs}.groups[{j}]"
                if g.get("kind") not in KINDS:
                    _fail(f"{fg}.kind must be one of {', '.join(KINDS)}", where)
                if g["kind"] != "remainder" and not g.get("indicator"):
                    _fail(f"{fg}.indicator is missing", where)
                if known is not None and g.get("indicator") and g["indicator"] not in known:
                    _fail(f"{fg}.indicator {g['indicator']!r} is not in the indicator catalogue", where)
                band = None
                if g["kind"] == "normal_band":
                    band = tuple(float(b) for b in g.get("band", ()))
                    if not g.get("sd") or len(band) != 2 or not 0 <= band[0] < band[1] <= 1:
                        _fail(f"{fg}: a normal_band group needs sd and band [low, high] within [0, 1]", where)
                groups.append(Group(str(g["id"]), g["kind"], str(g.get("label_nl", g["id"])),
                                    str(g.get("label_en", g["id"])), g.get("indicator"), tuple(g.get("of", ())),
                                    g.get("sd"), band))
            ids = [g.id for g in groups]
            if len(set(ids)) != len(ids) or len(ids) < 2:
                _fail(f"{fs}.groups: at least two groups with distinct ids", where)
            for g in groups:
                if any(o not in ids for o in g.of):
                    _fail(f"{fs}.groups.{g.id}.of names an unknown group", where)
            pair = tuple(s["pair"])
            if len(pair) != 2 or pair[0] not in ids or (pair[1] not in ids and pair[1] != "rest") or (
                    pair[0] == pair[1]):
                _fail(f"{fs}.pair must name two different groups (the second may be 'rest')", where)
            if known is not None and s["total"] not in known:
                _fail(f"{fs}.total {s['total']!r} is not in the indicator catalogue", where)
            sets.append(GroupSet(dim, str(s["id"]), str(s["level"]), s["unit"], str(s["total"]), tuple(groups),
                                 pair, str(s.get("label_nl", s["id"])), str(s.get("label_en", s["id"])),
                                 str(s.get("note_nl", "")), str(s.get("note_en", "")), bool(s.get("headline")),
                                 bool(s.get("sensitive")), bool(s.get("modelled"))))
    if not sets:
        _fail("no dimensions with sets", where)
    return Catalogue(settings, labels, tuple(sets))


def counts_from_table(wide: pd.DataFrame, gs: GroupSet, min_total: float = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Group counts from a wide table (code, year, indicators...). Returns (counts, dropped).

    ``counts``: code, year, total, one column per group (same unit as ``total``). ``dropped``: code, year,
    reason ('missing' when the total or a group indicator has no value, 'small' below ``min_total``).
    """
    frame = wide.copy()
    for c in gs.indicators:
        if c not in frame.columns:
            frame[c] = np.nan
    missing = frame[gs.indicators].isna().any(axis=1)
    total = frame[gs.total].astype(float)
    small = ~missing & (total < min_total)
    out = frame.loc[~missing & ~small, ["code", "year"]].copy()
    t = total[out.index].to_numpy()
    out["total"] = t
    done: dict[str, np.ndarray] = {}
    for g in gs.groups:
        if g.kind == "percent":
            done[g.id] = frame.loc[out.index, g.indicator].to_numpy(float) / 100.0 * t
        elif g.kind == "count":
            done[g.id] = frame.loc[out.index, g.indicator].to_numpy(float)
    for g in gs.groups:
        if g.kind == "normal_band":
            done[g.id] = t * _normal_band(frame.loc[out.index], out["year"].to_numpy(), t, g)
    for g in gs.groups:
        if g.kind == "minus":
            done[g.id] = np.clip(frame.loc[out.index, g.indicator].to_numpy(float) / 100.0 * t
                                 - sum(done[o] for o in g.of), 0, None)
    for g in gs.groups:
        if g.kind == "remainder":
            done[g.id] = np.clip(t - sum(v for k, v in done.items() if k != g.id), 0, None)
    for g in gs.groups:
        out[g.id] = np.clip(done[g.id], 0, None)
    dropped = pd.concat([frame.loc[missing, ["code", "year"]].assign(reason="missing"),
                         frame.loc[small, ["code", "year"]].assign(reason="small")], ignore_index=True)
    return out.reset_index(drop=True), dropped


def _normal_band(frame: pd.DataFrame, years: np.ndarray, weights: np.ndarray, g: Group) -> np.ndarray:
    """Share of each area's units whose score lies in the national quantile band ``g.band`` of its year,
    taking the scores within an area as normal with the published mean (``g.indicator``) and spread (``g.sd``).

    The national quantiles are those of the mixture of the areas' normal distributions weighted by ``weights``
    (solved by bisection). A modelled share: CBS publishes means and spreads, not the distribution.
    """
    from scipy.stats import norm

    m = frame[g.indicator].to_numpy(float)
    sd = np.clip(frame[g.sd].to_numpy(float), 1e-6, None)
    out = np.zeros(len(m))
    for y in np.unique(years):
        k = years == y

        def cdf(x, k=k):
            return float((weights[k] * norm.cdf((x - m[k]) / sd[k])).sum() / weights[k].sum())

        cuts = []
        for q in g.band:
            if q <= 0 or q >= 1:
                cuts.append(-np.inf if q <= 0 else np.inf)
                continue
            lo, hi = float((m[k] - 8 * sd[k]).min()), float((m[k] + 8 * sd[k]).max())
            for _ in range(60):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
            cuts.append((lo + hi) / 2)
        out[k] = norm.cdf((cuts[1] - m[k]) / sd[k]) - norm.cdf((cuts[0] - m[k]) / sd[k])
    return out


def load_counts(store: Store, gs: GroupSet, years: list[int] | None = None,
                min_total: float = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Counts of ``gs`` for every area of its level in ``years`` (default: every year with all indicators)."""
    avail = store.sql(
        f"SELECT year, count(DISTINCT indicator) AS k FROM observations WHERE level = ? AND value IS NOT NULL "
        f"AND indicator IN ({', '.join('?' * len(gs.indicators))}) GROUP BY year", [gs.level, *gs.indicators])
    have = sorted(int(y) for y in avail.loc[avail["k"] == len(set(gs.indicators)), "year"])
    if years is not None:
        have = [y for y in have if y in set(years)]
    if not have:
        raise StoreError(f"the store holds no year with all of {', '.join(gs.indicators)} at level {gs.level}"
                         + (f" among {', '.join(map(str, years))}" if years else ""))
    wide = store.table(gs.level, have, gs.indicators)
    return counts_from_table(wide, gs, min_total)
