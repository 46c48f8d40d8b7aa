"""``Facts``: the one place that answers what a user may be told, built on a read-only store.

Every surface (CLI, JSON API, dashboard, report, exports) takes its statements from here: area identity and
names, score series with kind, interval (level stated) and class under the small-area rule, the default year,
programme membership by one rule, explanations that add up, and verdicts worded from ``sentences.csv``.
Safe to use from several threads: each thread has its own DuckDB cursor; prepared tables are built once.
"""

from __future__ import annotations

import threading
from functools import cached_property

import numpy as np
import pandas as pd

from leefbaar.errors import InputError, StoreError
from leefbaar.facts import explain as ex
from leefbaar.facts.areas import AreaSearch, area_table
from leefbaar.facts.dimensions import LBM_LABELS, dimensions
from leefbaar.facts.membership import membership_table
from leefbaar.facts.rules import both, load_rules, say, told
from leefbaar.facts.series import DIMENSIONS, apply_rules, counts_by_year, default_year, raw_scores, year_kinds
from leefbaar.index.classes import load_scheme

LEVELS = ("pc4", "buurt", "wijk", "gemeente")
DIMENSION_LABELS = LBM_LABELS
"""Labels of the five Leefbaarometer dimensions (any spec's: ``Facts.dimensions``)."""


class NotFound(StoreError):
    """An area, year or series that the store does not hold (HTTP 404 in the web API)."""


def not_found(key: str, **values) -> NotFound:
    """``NotFound`` worded by the sentence ``key`` (English text; :func:`~leefbaar.facts.rules.error_text` words
    it in the user's language)."""
    return told(NotFound(say(key, "en", **values)), key, **values)


def json_number(v) -> float | None:
    """A JSON-safe float at full precision (None for missing), so that explanations add up exactly."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(f) else f


def _int(v) -> int | None:
    f = json_number(v)
    return None if f is None else int(f)


class _Rows:
    """{code: {year: score fact}} over a score frame, each code's facts made once when first asked for."""

    def __init__(self, frame: pd.DataFrame, make):
        self._frame, self._make = frame, make
        self._index = frame.groupby("code").indices if len(frame) else {}
        self._done: dict[str, dict[int, dict]] = {}

    def get(self, code: str, default=None) -> dict[int, dict]:
        if code not in self._index:
            return default if default is not None else {}
        if code not in self._done:
            idx = self._index[code]
            cols = self._columns
            recs = [{c: a[i] for c, a in cols.items()} for i in idx]
            self._done[code] = {int(r["year"]): self._make(r) for r in recs}
        return self._done[code]

    @cached_property
    def _columns(self) -> dict[str, np.ndarray]:
        return {c: self._frame[c].to_numpy(object) for c in self._frame.columns}


class Facts:
    """What a user may be told, from one store (see the module docstring)."""

    def __init__(self, store, sql=None):
        self.store = store
        self.rules = load_rules()
        self.scheme = load_scheme()
        self._local = threading.local()
        self._lock = threading.RLock()
        self._sql = sql
        self._scores: dict[str, pd.DataFrame] = {}
        self._rows: dict[str, dict] = {}
        self._years: dict[str, tuple] = {}
        self._prepared: dict[tuple[str, int, int], tuple] = {}

    # -- plumbing ------------------------------------------------------------------------------------
    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        """A parameterised query on this thread's own cursor."""
        if self._sql is not None:
            return self._sql(query, params)
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self.store.con.cursor()
        return cur.execute(query, params or []).df()

    @cached_property
    def tables(self) -> frozenset[str]:
        return frozenset(self.sql("SELECT table_name FROM information_schema.tables")["table_name"])

    @cached_property
    def spec(self) -> str | None:
        """The index spec shown ('default' if present, else the one with most rows), None without scores."""
        if "scores" not in self.tables:
            return None
        specs = self.sql("SELECT spec FROM scores GROUP BY spec ORDER BY count(*) DESC, spec")["spec"].tolist()
        return None if not specs else "default" if "default" in specs else str(specs[0])

    @cached_property
    def dimensions(self) -> list[dict]:
        """The dimensions of the spec shown, in display order: ``[{code, label: {nl, en}}]``, whatever they are
        called (``facts.dimensions``)."""
        return dimensions(self)

    @cached_property
    def dimension_codes(self) -> tuple[str, ...]:
        return tuple(d["code"] for d in self.dimensions)

    def dimension_label(self, code: str, lang: str) -> str:
        """The label of a dimension of the spec shown (its code when it has none)."""
        return next((d["label"][lang] for d in self.dimensions if d["code"] == code), code)

    @property
    def interval_level(self) -> int:
        """The level of every interval shown, in percent (one setting: ``Rules.interval_level``)."""
        return self.rules.interval_percent

    def interval_text(self, lang: str = "nl") -> str:
        return say("interval.level", lang, level=self.interval_level)

    def rules_text(self, lang: str = "nl") -> str:
        """The small-area rule in words ("not classed: fewer than 100 residents or 50 dwellings")."""
        return say("class.not_classed.reason", lang, min_residents=int(self.rules.min_residents),
                   min_dwellings=int(self.rules.min_dwellings))

    # -- identity ------------------------------------------------------------------------------------
    @cached_property
    def areas(self) -> pd.DataFrame:
        """Identity of every area (index level, code): name, label, gemeente, wijk, residents, dwellings."""
        return area_table(self.store, self.sql, self.rules.residents_indicator, self.rules.dwellings_indicator)

    @cached_property
    def _area_index(self) -> dict[tuple[str, str], int]:
        return {key: i for i, key in enumerate(self.areas.index)}

    def has_area(self, level: str, code: str) -> bool:
        return (level, code) in self._area_index

    def area(self, level: str, code: str) -> dict:
        """Identity of one area; ``NotFound`` when the store does not hold it."""
        i = self._area_index.get((level, code))
        if i is None:
            raise told(NotFound(say("error.unknown_area", "en", level=level, value=code)), "error.unknown_area",
                        level=level, value=code)
        c = self._area_columns
        text = lambda v: v if isinstance(v, str) else None  # noqa: E731
        return {"level": level, "code": code, "name": text(c["name"][i]), "label": c["label"][i],
                "gemeente_code": text(c["gemeente_code"][i]), "gemeente_name": text(c["gemeente_name"][i]),
                "wijk_code": text(c["wijk_code"][i]), "residents": _int(c["residents"][i]),
                "dwellings": _int(c["dwellings"][i])}

    @cached_property
    def _area_columns(self) -> dict[str, np.ndarray]:
        return {c: self.areas[c].to_numpy(object) for c in ("name", "label", "gemeente_code", "gemeente_name",
                                                             "wijk_code", "residents", "dwellings")}

    def labels(self, level: str) -> pd.Series:
        """Display label per code of ``level`` ("3072 Rotterdam – Afrikaanderwijk/Feijenoord")."""
        if level not in self.areas.index.get_level_values(0):
            return pd.Series(dtype=object)
        return self.areas.loc[level, "label"]

    def gemeente_of(self, level: str) -> pd.Series:
        """Gemeente code per area code of ``level``."""
        if level == "gemeente":
            codes = self.areas.loc["gemeente"].index
            return pd.Series(codes, index=codes)
        if level not in self.areas.index.get_level_values(0):
            return pd.Series(dtype=object)
        return self.areas.loc[level, "gemeente_code"]

    @cached_property
    def gemeenten(self) -> list[dict]:
        """Gemeenten of the latest division with a name, sorted by name."""
        if "gemeente" not in self.areas.index.get_level_values(0):
            return []
        g = self.areas.loc["gemeente"].reset_index()
        g = g[g["name"].notna()].sort_values("name")
        return [{"code": r.code, "name": r.name} for r in g.itertuples()]

    def gemeente_code(self, value: str) -> str:
        """A gemeente code from a code ('GM0599', '0599') or a name ('Rotterdam'); error when unknown."""
        text = value.strip()
        names = {g["code"]: g["name"] for g in self.gemeenten}
        code = text.upper() if text.upper().startswith("GM") else f"GM{text.zfill(4)}" if text.isdigit() else None
        if code in names:
            return code
        hits = [c for c, n in names.items() if n.lower() == text.lower()]
        if len(hits) == 1:
            return hits[0]
        raise told(InputError("--gemeente", say("error.unknown_gemeente", "en", value=value)), "error.unknown_gemeente",
                   value=value)

    def find_area(self, level: str, value: str) -> str:
        """The code of an area of ``level`` given by code or by (unique) name; error when unknown/ambiguous."""
        text = value.strip()
        code = text.upper() if level != "pc4" else text.replace(" ", "")[:4]
        if self.has_area(level, code):
            return code
        if level == "gemeente":
            return self.gemeente_code(text)
        t = self.areas.loc[level] if level in self.areas.index.get_level_values(0) else pd.DataFrame()
        hits = t.index[t["name"].fillna("").str.lower() == text.lower()].tolist() if len(t) else []
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            options = ", ".join(hits[:8])
            raise told(InputError("area", say("error.ambiguous_area", "en", value=value, options=options)),
                       "error.ambiguous_area", value=value, options=options)
        raise told(InputError("area", say("error.unknown_area", "en", level=level, value=value)), "error.unknown_area",
                   level=level, value=value)

    @cached_property
    def _search(self) -> AreaSearch:
        levels = [lv for lv in LEVELS if lv in self.areas.index.get_level_values(0)]
        return AreaSearch(self.areas, levels)

    def search(self, q: str, limit: int = 20, levels: list[str] | None = None) -> list[dict]:
        """Areas matching a code, a name, a gemeente name or a postcode, best first."""
        hits = self._search.query(q, max(limit, 20) if levels else limit)
        out = [self.area(lv, c) for lv, c in hits if levels is None or lv in levels]
        return out[:limit]

    # -- scores ------------------------------------------------------------------------------------------
    def scores(self, level: str) -> pd.DataFrame:
        """Score series of ``level`` with kind, interval, class/rank under the small-area rule; cached."""
        with self._lock:
            if level not in self._scores:
                raw = raw_scores(self.sql, self.tables, self.spec, level, self.scheme.reference,
                                 self.dimension_codes)
                self._scores[level] = apply_rules(raw, counts_by_year(self.sql, level, self.rules), self.rules)
            return self._scores[level]

    def levels(self) -> list[str]:
        """Levels with boundaries AND scores, in the order pc4, buurt, wijk, gemeente (empty levels are not
        offered)."""
        return [lv for lv in LEVELS if self.score_years(lv)]

    def score_years(self, level: str) -> list[int]:
        sc = self.scores(level)
        return sorted(int(y) for y in sc.loc[sc["afw"].notna(), "year"].unique())

    def default_year(self, level: str) -> int | None:
        """The latest official year of ``level`` (modelled years only when the user chooses them)."""
        return self._year_facts(level)[0]

    def year_kinds(self, level: str) -> dict[int, str]:
        """Per year of ``level``: official, modelled, aggregated or mixed (see ``series.year_kinds``)."""
        return self._year_facts(level)[1]

    def _year_facts(self, level: str) -> tuple[int | None, dict[int, str]]:
        with self._lock:
            if level not in self._years:
                sc = self.scores(level)
                self._years[level] = (default_year(sc), year_kinds(sc))
            return self._years[level]

    def official_years(self, level: str) -> list[int]:
        return [y for y, k in self.year_kinds(level).items() if k in self.rules.verdict_kinds]

    def kind_label(self, kind: str | None) -> dict[str, str] | None:
        return both(f"kind.{kind}") if kind in ("official", "modelled", "aggregated", "mixed") else None

    def _score_dict(self, r) -> dict:
        k = _int(r["klasse"])
        official = r["kind"] == "official"
        small = bool(r["small"])
        interval = None if official or json_number(r["total_lo"]) is None else {
            "level": self.interval_level, "lo": json_number(r["total_lo"]), "hi": json_number(r["total_hi"]),
            "text": both("interval", level=self.interval_level, lo="{lo}", hi="{hi}")}
        return {
            "year": int(r["year"]), "total": json_number(r["total"]), "afw": json_number(r["afw"]), "kind": r["kind"],
            "kind_label": self.kind_label(r["kind"]), "klasse": k, "classed": k is not None,
            "klasse_label_nl": self.scheme.total_labels_nl[k - 1] if k else None,
            "klasse_label_en": self.scheme.total_labels_en[k - 1] if k else None,
            "not_classed": both("class.not_classed.reason", min_residents=int(self.rules.min_residents),
                                min_dwellings=int(self.rules.min_dwellings)) if small else None,
            "small": small, "rank": _int(r["rank"]), "n_areas": _int(r["n_ranked"]),
            "interval_level": self.interval_level, "interval": interval,
            "total_lo": None if interval is None else interval["lo"],
            "total_hi": None if interval is None else interval["hi"],
            "rank_lo": _int(r["rank_lo"]), "rank_hi": _int(r["rank_hi"]),
            "p_class_differs": None if official or small else json_number(r["p_class_differs"]),
            "residents": _int(r["residents"]), "dwellings": _int(r["dwellings"]),
            **{d: json_number(r[d]) for d in (*DIMENSIONS, *self.dimension_codes) if d in r}}

    def _series_rows(self, level: str) -> _Rows:
        """Score facts of every area of ``level``, made per code on first use."""
        with self._lock:
            if level not in self._rows:
                self._rows[level] = _Rows(self.scores(level), self._score_dict)
            return self._rows[level]

    def series(self, level: str, code: str) -> list[dict]:
        """Every stored year of one area (2002 onward), each with kind, interval, class and rank."""
        rows = self._series_rows(level).get(code, {})
        return [rows[y] for y in sorted(rows) if rows[y]["afw"] is not None]

    def score(self, level: str, code: str, year: int | None = None) -> dict | None:
        """The score fact of one area-year (default: the latest official year of the level, else the area's
        latest year); None when the area has no score; ``NotFound`` for a year it does not have."""
        rows = self._series_rows(level).get(code, {})
        years = sorted(y for y, r in rows.items() if r["afw"] is not None)
        if not years:
            return None
        if year is None:
            dy = self.default_year(level)
            year = dy if dy in years else years[-1]
        if year not in years:
            raise not_found("error.no_score_year", level=level, code=code, year=year, years=", ".join(map(str, years)))
        return rows[year]

    def ranking(self, level: str, year: int, gemeente_code: str | None = None) -> pd.DataFrame:
        """Areas of ``level`` in ``year`` with their facts, classed areas by rank first, then the areas shown
        but not classed (small-area rule); optionally within one gemeente."""
        sc = self.scores(level)
        cur = sc[(sc["year"] == year) & sc["afw"].notna()].copy()
        if cur.empty:
            raise not_found("error.no_scores_year", level=level, year=year)
        cur.insert(1, "gemeente_code", cur["code"].map(self.gemeente_of(level)).to_numpy())
        if gemeente_code:
            cur = cur[cur["gemeente_code"] == gemeente_code]
        cur.insert(1, "label", cur["code"].map(self.labels(level)).fillna(cur["code"]).to_numpy())
        cur["classed"] = cur["klasse"].notna()
        return cur.sort_values(["small", "rank", "afw"], ascending=[True, True, False], ignore_index=True)

    def panel(self, level: str, official_only: bool = True):
        """The shown series as an analysis ``Panel`` (every stored year, official measurements before the index
        years included); with ``official_only`` only the years whose values are official (verdicts)."""
        from leefbaar.analysis.panel import Panel

        sc = self.scores(level)
        sc = sc[sc["afw"].notna()]
        if official_only:
            sc = sc[sc["year"].isin(self.official_years(level)) & (sc["kind"] == "official")]
        if sc.empty:
            raise StoreError(f"no {'official ' if official_only else ''}scores at level {level!r} in the store")
        dims = [d for d in self.dimension_codes if d in sc.columns]
        frame = sc[["code", "year", "total", "afw", *dims, "kind"]].reset_index(drop=True)
        comps = [d for d in dims if frame[d].notna().any()]
        label = f"leefbaar {self.spec}" if self.spec else "Leefbaarometer 3"
        kinds = "officiële jaren | official years" if official_only else "alle jaren | all years"
        return Panel(frame, level, "index" if self.spec else "official", label, "score", 1, comps, None,
                     [f"Reeks van de feitenlaag ({kinds}): {', '.join(map(str, sorted(frame['year'].unique())))}. "
                      f"| Series of the facts layer ({kinds.split(' | ')[1]})."])

    # -- programmes ----------------------------------------------------------------------------------
    @cached_property
    def membership(self) -> pd.DataFrame:
        """One row per (programme, level, code) with ``member`` by the rule and ``touched``."""
        return membership_table(self.sql, self.tables, self.rules)

    def membership_rule(self) -> dict[str, str]:
        return both("membership.rule", share=int(round(self.rules.min_share * 100)))

    def programme_members(self, programme: str, level: str = "pc4") -> list[str]:
        m = self.membership
        return sorted(m.loc[(m["programme"] == programme) & (m["level"] == level) & m["member"], "code"])

    def programme_counts(self, level: str = "pc4") -> dict[str, dict[str, int]]:
        """Per programme: areas of ``level`` that are members and that are only touched."""
        m = self.membership[self.membership["level"] == level]
        return {p: {"members": int(g["member"].sum()), "touched": int(g["touched"].sum())}
                for p, g in m.groupby("programme")}

    @cached_property
    def _registry(self):
        from leefbaar.evaluation.registry import load_programmes

        return load_programmes()

    def programme_name(self, programme: str, lang: str = "nl") -> str:
        try:
            return self._registry.get(programme).name(lang)
        except Exception:  # noqa: BLE001 - a programme id the registry does not know keeps its id
            return programme

    def area_programmes(self, level: str, code: str) -> dict:
        """The programmes of one area, three separate labelled facts: ``member`` (by the rule), ``touched``
        (residents inside, not a member) and ``gemeente`` (its gemeente has member areas)."""
        m = self.membership
        rows = self._membership_rows.get((level, code))
        mine = m.iloc[rows] if rows is not None else m.iloc[0:0]
        out = {"member": [], "touched": [], "gemeente": [], "rule": self.membership_rule()}
        for r in mine.itertuples(index=False):
            if not (r.member or r.touched):
                continue
            share = r.share_confident if r.member else r.share
            item = {"programme": r.programme, "name": {lg: self.programme_name(r.programme, lg) for lg in
                                                       ("nl", "en")},
                    "share": json_number(share), "confidence": r.confidence, "first_post_year": _int(r.first_post_year)}
            pct = int(round(100 * (share or 0))) if round(100 * (share or 0)) >= 1 or not share else "<1"
            key = "membership.member" if r.member else "membership.touched"
            item["text"] = {lg: say(key, lg, programme=item["name"][lg], share=pct,
                                     confidence=say(f"confidence.{r.confidence}", lg))
                            for lg in ("nl", "en")}
            out["member" if r.member else "touched"].append(item)
        gm = code if level == "gemeente" else self.area(level, code)["gemeente_code"] \
            if self.has_area(level, code) else None
        if gm:
            designated = self._members_by_gemeente.get(gm, set()) | self._listed(gm)
            for p in sorted(designated):
                if p in {i["programme"] for i in out["member"]}:
                    continue
                names = {lg: self.programme_name(p, lg) for lg in ("nl", "en")}
                out["gemeente"].append({"programme": p, "name": names,
                                        "text": {lg: say("membership.gemeente", lg, programme=names[lg])
                                                 for lg in ("nl", "en")}})
        return out

    @cached_property
    def _membership_rows(self) -> dict[tuple[str, str], np.ndarray]:
        m = self.membership
        return m.groupby(["level", "code"]).indices if len(m) else {}

    @cached_property
    def _members_by_gemeente(self) -> dict[str, set[str]]:
        """Programmes with member PC4 areas, per gemeente."""
        m = self.membership
        members = m[m["member"] & (m["level"] == "pc4")]
        gm = members["code"].map(self.gemeente_of("pc4"))
        return {g: set(part) for g, part in members["programme"].groupby(gm)}

    @cached_property
    def _listed_by_gemeente(self) -> dict[str, set[str]]:
        """Programmes whose policy lists name areas in a gemeente (``policy_lists.gm_code``), per gemeente."""
        if "policy_lists" not in self.tables:
            return {}
        lists = self.sql("SELECT DISTINCT list_id, gm_code FROM policy_lists WHERE gm_code IS NOT NULL")
        by_list: dict[str, set[str]] = {}
        for prog in self._registry:
            for link in prog.areas:
                if link.source == "policy_list":
                    by_list.setdefault(link.id, set()).add(prog.id)
        out: dict[str, set[str]] = {}
        for r in lists.itertuples(index=False):
            out.setdefault(r.gm_code, set()).update(by_list.get(r.list_id, set()))
        return out

    def _listed(self, gemeente_code: str) -> set[str]:
        return self._listed_by_gemeente.get(gemeente_code, set())

    # -- explanations --------------------------------------------------------------------------------
    def explain(self, level: str, code: str, year_from: int | None = None, year_to: int | None = None) -> dict | None:
        """The change of ``afw`` between two years of one area (default: the shown year and the official year
        before it) split into named parts that add up exactly to it, with the development class."""
        rows = self._series_rows(level).get(code, {})
        years = sorted(y for y, r in rows.items() if r["afw"] is not None)
        if len(years) < 2:
            return None
        y1 = year_to if year_to is not None else (self.score(level, code) or {}).get("year", years[-1])
        if y1 not in years:
            raise not_found("error.no_score_year", level=level, code=code, year=y1,
                             years=", ".join(map(str, years)))
        if year_from is None:
            earlier = [y for y in years if y < y1]
            official = [y for y in earlier if rows[y]["kind"] == "official"]
            if not earlier:
                return None
            year_from = (official or earlier)[-1]
        if year_from not in years or year_from >= y1:
            raise not_found("error.no_score_before", level=level, code=code, year=year_from, year_to=y1)
        y0 = year_from
        change = rows[y1]["afw"] - rows[y0]["afw"]
        items, by = self._contribution_parts(level, code, y0, y1), "indicator"
        if items is None:
            by = "dimension"
            items = [(d, d, rows[y1][d] - rows[y0][d]) for d in self.dimension_codes
                     if rows[y1].get(d) is not None and rows[y0].get(d) is not None]
            if not items:
                by = "total"
        parts, rest = ex.explanation(change, items)
        dev = ex.development(change)
        dev_labels = {"nl": self.scheme.development_labels_nl[dev - 1] if dev else None,
                      "en": self.scheme.development_labels_en[dev - 1] if dev else None}
        labels = self._part_labels
        return {
            "from": y0, "to": y1, "by": by, "total": change, "rest": rest,
            "kind_from": rows[y0]["kind"], "kind_to": rows[y1]["kind"],
            "development_class": dev, "development_label": dev_labels,
            "title": {lg: say("explain.title", lg, y0=y0, y1=y1,
                              change=f"{change:+.3f}".replace(".", "," if lg == "nl" else "."),
                              development=dev_labels[lg] or "–") for lg in ("nl", "en")},
            "items": [{"dimension": dim, "id": ind, "delta": float(delta),
                       **{f"label_{lg}": labels(ind, lg) + (
                           f" – {self.dimension_label(dim, lg).lower()}" if ind.startswith("_")
                           and dim in self.dimension_codes else "") for lg in ("nl", "en")}}
                      for dim, ind, delta in parts],
        }

    def prepare_explanations(self, level: str, y0: int, y1: int) -> None:
        """Read the contribution changes y0 -> y1 of every area of ``level`` in one query (server start-up:
        the default explanation of every profile then needs no query of its own)."""
        if "contributions" not in self.tables or self.spec is None:
            return
        frame = self.sql(
            "SELECT code, dimension, indicator, sum(contribution) FILTER (WHERE year = ?) AS t, "
            "sum(contribution) FILTER (WHERE year = ?) AS f, count(DISTINCT year) AS n FROM contributions "
            "WHERE spec = ? AND level = ? AND year IN (?, ?) GROUP BY code, dimension, indicator",
            [y1, y0, self.spec, level, y0, y1])
        years = self.sql("SELECT code, count(DISTINCT year) AS n FROM contributions WHERE spec = ? AND level = ? "
                         "AND year IN (?, ?) GROUP BY code", [self.spec, level, y0, y1])
        both_years = set(years.loc[years["n"] == 2, "code"])
        frame = frame[frame["code"].isin(both_years)]
        frame = frame.assign(delta=frame["t"].fillna(0.0) - frame["f"].fillna(0.0))
        frame = frame[frame["delta"] != 0]
        by_code: dict[str, list] = {}
        for code, dim, ind, delta in frame[["code", "dimension", "indicator", "delta"]].itertuples(index=False,
                                                                                                  name=None):
            by_code.setdefault(code, []).append((dim, ind, float(delta)))
        with self._lock:
            self._prepared[(level, y0, y1)] = (by_code, both_years)

    def _contribution_parts(self, level: str, code: str, y0: int, y1: int) -> list[tuple] | None:
        """(dimension, indicator, change) of every stored contribution that moved; None without contributions
        for both years."""
        if "contributions" not in self.tables or self.spec is None:
            return None
        prepared = self._prepared.get((level, y0, y1))
        if prepared is not None:
            by_code, codes = prepared
            return list(by_code.get(code, [])) if code in codes else None
        rows = self.sql("SELECT year, dimension, indicator, contribution FROM contributions WHERE spec = ? AND "
                        "level = ? AND code = ? AND year IN (?, ?)", [self.spec, level, code, y0, y1])
        if set(rows["year"].unique()) != {y0, y1}:
            return None
        return ex.parts(rows, y0, y1)

    @cached_property
    def _part_labels(self):
        from leefbaar.index.api import indicator_label

        cat = self.indicator_catalogue
        nl, en = cat["label_nl"].to_dict(), cat["label_en"].to_dict()

        def label(key: str, lang: str) -> str:
            if key == ex.REST:
                return say("explain.residual", lang)
            if key in self.dimension_codes:
                return self.dimension_label(key, lang)
            if key in DIMENSION_LABELS:
                return DIMENSION_LABELS[key][lang]
            if key.startswith("_"):
                return indicator_label(key, nl, lang)
            lag = key.endswith("@buren")
            ind, _, per = key.removesuffix("@buren").partition("/")
            names = nl if lang == "nl" else en
            text = names.get(ind) or ind
            if per:
                text += f" per {(names.get(per) or per).lower()}"
            return text + ((" (buren)" if lang == "nl" else " (neighbours)") if lag else "")
        return label

    @cached_property
    def indicator_catalogue(self) -> pd.DataFrame:
        return self.sql("SELECT id, label_nl, label_en, unit, theme, direction, sensitive FROM indicators "
                        "ORDER BY theme, id").set_index("id")

    # -- observations ----------------------------------------------------------------------------------
    def observation_years(self, level: str, code: str) -> list[int]:
        return self.sql("SELECT DISTINCT year FROM observations WHERE level = ? AND code = ? ORDER BY year",
                        [level, code])["year"].astype(int).tolist()

    def observations(self, level: str, code: str, year: int) -> pd.DataFrame:
        """Every catalogue indicator of one area-year: theme, indicator, label, value, unit, status, source."""
        return self.sql(
            "SELECT i.theme, o.indicator, i.label_nl AS label, i.label_en, o.value, i.unit, o.status, "
            "s.file AS source FROM observations o JOIN indicators i ON i.id = o.indicator "
            "JOIN sources s USING (source_id) WHERE o.level = ? AND o.code = ? AND o.year = ? "
            "ORDER BY i.theme, o.indicator", [level, code, year])

    # -- what the store holds (for the surfaces' selectors, downloads and credits) ---------------------
    def geometry_vintages(self) -> dict[str, int]:
        """Latest boundary vintage per level."""
        frame = self.sql("SELECT level, max(vintage) AS vintage FROM geometries GROUP BY level")
        return {r.level: int(r.vintage) for r in frame.itertuples()}

    def indicator_year_table(self) -> pd.DataFrame:
        """Distinct (level, indicator, year) with values."""
        return self.sql("SELECT DISTINCT level, indicator, year FROM observations WHERE value IS NOT NULL "
                        "ORDER BY level, indicator, year")

    def population(self) -> pd.DataFrame:
        """Inhabitants (``inwoner``) per level, code and year."""
        return self.sql("SELECT level, code, year, value AS inwoner FROM observations WHERE indicator = 'inwoner' "
                        "AND value IS NOT NULL ORDER BY level, code, year")

    def indicator_values(self, level: str, year: int, indicator: str) -> pd.DataFrame:
        """code, value of one indicator at a level in a year."""
        return self.sql("SELECT code, value FROM observations WHERE level = ? AND year = ? AND indicator = ? "
                        "AND value IS NOT NULL ORDER BY code", [level, year, indicator])

    def policy_lists(self) -> pd.DataFrame:
        return self.sql("SELECT list_id, count(*) AS entries, count(DISTINCT gm_code) AS gemeenten, "
                        "bool_or(partial) AS partial FROM policy_lists GROUP BY list_id ORDER BY list_id")

    def area_groups(self) -> pd.DataFrame:
        return self.sql("SELECT group_id, any_value(label) AS label, level, count(*) AS areas "
                        "FROM area_groups GROUP BY group_id, level ORDER BY group_id")

    def evaluation_results(self) -> pd.DataFrame | None:
        """The stored evaluation estimates (``leefbaar evaluate --record``), None when there are none."""
        for name in ("evaluation_results", "evaluations", "effects"):
            if name in self.tables:
                return self.sql(f"SELECT * FROM {name}").drop(columns=["source_id"], errors="ignore")
        return None

    def sources(self) -> pd.DataFrame:
        """Publishers and licences of the files the store was built from (for credits)."""
        return self.sql("SELECT publisher, licence, string_agg(DISTINCT family, ', ' ORDER BY family) AS families, "
                        "count(*) AS files FROM sources GROUP BY publisher, licence ORDER BY publisher")

    def source_hashes(self) -> dict[str, str]:
        """SHA-256 of every source file in the store (for run records)."""
        frame = self.sql("SELECT file, sha256 FROM sources ORDER BY file")
        return dict(zip(frame["file"], frame["sha256"], strict=True))

    def store_counts(self) -> dict[str, int]:
        """Indicators in the catalogue and observations in the store."""
        return {"indicators": int(self.sql("SELECT count(*) AS n FROM indicators")["n"].iloc[0]),
                "observations": int(self.sql("SELECT count(*) AS n FROM observations")["n"].iloc[0])}
