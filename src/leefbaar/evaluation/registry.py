"""The programme registry: Dutch urban-renewal programmes, phases, laws and classifications as data.

The registry lives in ``catalogue/programmes.yaml`` and is validated on load: a bad entry raises ``SpecError``
naming the file, the programme and the field. ``load_programmes()`` returns a ``Registry``; ``Registry.frame()``
is the flat table behind ``leefbaar programmes`` and the dashboard timeline. ``programmes_for_area`` tells which
programmes' resolved areas contain a given area (it reads the ``programme_areas`` table written by
``leefbaar resolve-areas``).

Budgets are nominal amounts as stated by the sources (EUR unless stated); nothing in the registry is an effect.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml

from leefbaar.errors import SpecError
from leefbaar.i18n import N_, fmt_integer, fmt_number, translator

KINDS = ("programme", "phase", "policy_note", "law", "classification")
STEERING = ("rijk", "provincies", "gemeenten", "corporaties", "regio")
THEMES = ("physical", "social", "economic", "safety")
THEME_LABELS = {"physical": N_("physical"), "social": N_("social"), "economic": N_("economic"), "safety": N_("safety")}
"""The themes as shown (translated where shown)."""
SOURCE_KINDS = ("official", "parliament", "law", "news", "secondary", "dossier")
CURRENCIES = ("EUR", "NLG")
BUDGET_UNITS = ("total", "per_year")
AREA_SOURCES = ("policy_list", "area_group")
YEAR_MIN, YEAR_MAX = 1900, 2100
_ID = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Source:
    title: str
    kind: str
    publisher: str | None = None
    year: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class Budget:
    """A stated amount. ``unit`` is ``total`` (for the years given) or ``per_year``; ``years`` is None when the
    source does not say which years the amount covers; ``multiplier`` is the stated other investment per euro of
    this budget (the 'hefboom'); ``in_total`` is False for a financing source of another budget of the same
    programme (it is then not added to the programme total)."""

    label_nl: str
    label_en: str
    amount: float
    currency: str
    unit: str
    years: tuple[int, int] | None
    covers_nl: str
    covers_en: str
    approximate: bool
    source: str
    stated_per_resident_per_year: float | None = None
    multiplier: float | None = None
    in_total: bool = True

    @property
    def n_years(self) -> int | None:
        return None if self.years is None else self.years[1] - self.years[0] + 1

    @property
    def total(self) -> float | None:
        """The amount over all years it covers (None for a yearly amount without stated years)."""
        if self.unit == "total":
            return self.amount
        return None if self.n_years is None else self.amount * self.n_years

    @property
    def per_year(self) -> float | None:
        """The amount per year (None for a total without stated years)."""
        if self.unit == "per_year":
            return self.amount
        return None if self.n_years is None else self.amount / self.n_years


@dataclass(frozen=True)
class AreaLink:
    """Treated areas attached from the store: a ``policy_list`` (names) or an ``area_group`` (codes)."""

    source: str
    id: str
    adoption_year: int
    first_post_year: int
    filter: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """A stable key for this link, e.g. ``proeftuinen_aardgasvrije_wijken_partial:ronde=1``."""
        return self.id + (":" + ",".join(f"{k}={v}" for k, v in self.filter) if self.filter else "")


@dataclass(frozen=True)
class Evaluation:
    title: str
    publisher: str | None
    year: int | None
    finding_nl: str
    finding_en: str
    authors: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Programme:
    id: str
    kind: str
    name_nl: str
    name_en: str
    start: int
    end: int | None
    steering: tuple[str, ...]
    themes: tuple[str, ...]
    core_problems_nl: tuple[str, ...]
    core_problems_en: tuple[str, ...]
    sources: tuple[Source, ...]
    budgets: tuple[Budget, ...] = ()
    areas: tuple[AreaLink, ...] = ()
    evaluations: tuple[Evaluation, ...] = ()
    instruments_nl: tuple[str, ...] = ()
    instruments_en: tuple[str, ...] = ()
    parent: str | None = None
    end_planned: int | None = None
    approximate_period: bool = False
    notes_nl: str | None = None
    notes_en: str | None = None

    def name(self, lang: str = "nl") -> str:
        return self.name_en if lang == "en" else self.name_nl

    def period(self) -> str:
        """``'2007-2011'``, ``'2011-'`` (running), ``'2019'`` (one year); ``~`` marks approximate periods."""
        mark = "~" if self.approximate_period else ""
        if self.end == self.start:
            return f"{mark}{self.start}"
        return f"{mark}{self.start}-{'' if self.end is None else self.end}"


@dataclass
class Registry:
    """All programmes, in file order, with lookup by id."""

    programmes: list[Programme]
    path: str = "programmes.yaml"
    _by_id: dict[str, Programme] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {p.id: p for p in self.programmes}

    def __iter__(self):
        return iter(self.programmes)

    def __len__(self) -> int:
        return len(self.programmes)

    def ids(self) -> list[str]:
        return [p.id for p in self.programmes]

    def get(self, programme_id: str) -> Programme:
        try:
            return self._by_id[programme_id]
        except KeyError:
            near = [i for i in self._by_id if programme_id.lower() in i]
            hint = f"; did you mean {', '.join(near)}?" if near else f"; known: {', '.join(self._by_id)}"
            raise SpecError(f"unknown programme {programme_id!r}{hint}") from None

    def children(self, programme_id: str) -> list[Programme]:
        return [p for p in self.programmes if p.parent == programme_id]

    def frame(self, lang: str = "nl") -> pd.DataFrame:
        """One row per programme: the table behind ``leefbaar programmes`` and the dashboard timeline.

        Columns: id, kind, parent, name, start, end, end_planned, period, steering, themes, budget_eur (sum of
        stated totals in EUR), budget_text, area_lists, sources (number), first_source_url.
        """
        _ = translator(lang)
        rows = []
        for p in self.programmes:
            eur = [b for b in p.budgets if b.currency == "EUR" and b.in_total and b.total is not None]
            rows.append({
                "id": p.id, "kind": p.kind, "parent": p.parent, "name": p.name(lang), "start": p.start,
                "end": p.end, "end_planned": p.end_planned, "period": p.period(),
                "steering": ", ".join(p.steering),
                "themes": ", ".join(_(THEME_LABELS[t]) for t in p.themes),
                "budget_eur": sum(b.total for b in eur) if eur else None,
                "budget_text": "; ".join(budget_text(b, lang) for b in p.budgets),
                "area_lists": ", ".join(a.key for a in p.areas),
                "sources": len(p.sources),
                "first_source_url": next((s.url for s in p.sources if s.url), None),
            })
        frame = pd.DataFrame(rows)
        for c in ("end", "end_planned"):
            frame[c] = frame[c].astype("Int64")
        return frame

    def to_json(self) -> str:
        """The full registry (every field) as JSON, for the dashboard."""
        def conv(obj):
            if isinstance(obj, tuple):
                return [conv(x) for x in obj]
            if hasattr(obj, "__dataclass_fields__"):
                return {k: conv(getattr(obj, k)) for k in obj.__dataclass_fields__ if not k.startswith("_")}
            return obj
        return json.dumps({"programmes": [conv(p) for p in self.programmes]}, ensure_ascii=False, indent=1)


def money(amount: float, lang: str = "nl", currency: str = "EUR") -> str:
    """An amount with three significant digits in billions or millions, else whole, by the locale's rules
    (nl: ``EUR 1,8 mld``, ``EUR 250 mln``, ``EUR 1.500``; en: ``EUR 1.8 bn``, ``EUR 250 m``, ``EUR 1,500``)."""
    import math

    _ = translator(lang)
    if amount >= 1e6:
        v = amount / (1e9 if amount >= 1e9 else 1e6)
        digits = max(0, 2 - math.floor(math.log10(abs(v)))) if v else 0
        num = fmt_number(round(v, digits), lang, digits, trailing_zeros=False)
        text = _("{amount} bn", amount=num) if amount >= 1e9 else _("{amount} m", amount=num)
    else:
        text = fmt_integer(amount, lang)
    return f"{currency} {text}"


def budget_text(b: Budget, lang: str = "nl") -> str:
    """``'EUR 1,8 mld (2000-2004)'`` / ``'EUR 1.8 bn (2000-2004)'``; ``ca.``/``about`` when approximate."""
    _ = translator(lang)
    text = money(b.amount, lang, b.currency)
    if b.unit == "per_year":
        text = _("{amount} per year", amount=text)
    if b.approximate:
        text = _("about {amount}", amount=text)
    if b.years is not None:
        text += f" ({b.years[0]})" if b.years[0] == b.years[1] else f" ({b.years[0]}-{b.years[1]})"
    return text


# -- loading and validation -------------------------------------------------------------------------------

def load_programmes(path: str | Path | None = None) -> Registry:
    """Load and validate the registry (the packaged ``programmes.yaml`` unless ``path`` is given)."""
    if path is None:
        ref = resources.files("leefbaar.catalogue") / "programmes.yaml"
        text, name = ref.read_text(encoding="utf-8"), "programmes.yaml"
    else:
        path = Path(path)
        if not path.is_file():
            raise SpecError(f"{path}: programme registry not found")
        text, name = path.read_text(encoding="utf-8"), str(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{name}: not valid YAML: {exc}") from None
    return parse_registry(data, name)


def parse_registry(data: object, name: str = "programmes.yaml") -> Registry:
    """Validate a parsed registry document and build the ``Registry``."""
    if not isinstance(data, dict) or not isinstance(data.get("programmes"), list):
        raise SpecError(f"{name}: expected a mapping with a 'programmes' list")
    if data.get("version") != 1:
        raise SpecError(f"{name}: unsupported registry version {data.get('version')!r} (expected 1)")
    if not data["programmes"]:
        raise SpecError(f"{name}: the 'programmes' list is empty")
    programmes, seen = [], set()
    for i, entry in enumerate(data["programmes"], start=1):
        where = f"{name}, programme #{i}"
        if not isinstance(entry, dict):
            raise SpecError(f"{where}: expected a mapping")
        pid = entry.get("id")
        if isinstance(pid, str):
            where = f"{name}, programme {pid!r}"
        prog = _programme(entry, where)
        if prog.id in seen:
            raise SpecError(f"{where}: duplicate id")
        seen.add(prog.id)
        programmes.append(prog)
    by_id = {p.id: p for p in programmes}
    for p in programmes:
        if p.parent is None:
            continue
        where = f"{name}, programme {p.id!r}, field 'parent'"
        parent = by_id.get(p.parent)
        if parent is None:
            raise SpecError(f"{where}: unknown programme {p.parent!r}")
        if parent.parent is not None:
            raise SpecError(f"{where}: {p.parent!r} is itself a phase; nest one level only")
        if p.start < parent.start or (parent.end is not None and (p.end is None or p.end > parent.end)):
            raise SpecError(f"{where}: period {p.period()} lies outside the parent's {parent.period()}")
    return Registry(programmes, name)


_KNOWN = {"id", "kind", "parent", "name_nl", "name_en", "start", "end", "end_planned", "approximate_period",
          "steering", "themes", "core_problems_nl", "core_problems_en", "instruments_nl", "instruments_en",
          "budgets", "areas", "evaluations", "sources", "notes_nl", "notes_en"}


def _programme(e: dict, where: str) -> Programme:
    unknown = sorted(set(e) - _KNOWN)
    if unknown:
        raise SpecError(f"{where}: unknown field {unknown[0]!r}")
    pid = _str(e, "id", where)
    if not _ID.fullmatch(pid):
        raise SpecError(f"{where}, field 'id': {pid!r} is not a lower-case snake_case identifier")
    kind = _choice(e, "kind", KINDS, where)
    start = _year(e, "start", where)
    end = _year(e, "end", where, optional=True)
    end_planned = _year(e, "end_planned", where, optional=True)
    if end is not None and end < start:
        raise SpecError(f"{where}, field 'end': {end} is before start {start}")
    if end_planned is not None and (end is not None or end_planned < start):
        raise SpecError(f"{where}, field 'end_planned': only for running programmes, and not before start")
    steering = _choices(e, "steering", STEERING, where)
    themes = _choices(e, "themes", THEMES, where)
    sources = e.get("sources")
    if not isinstance(sources, list) or not sources:
        raise SpecError(f"{where}, field 'sources': at least one source is required")
    parent = e.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise SpecError(f"{where}, field 'parent': expected a programme id")
    if kind == "phase" and parent is None:
        raise SpecError(f"{where}, field 'parent': a phase needs a parent programme")
    areas = tuple(_area(a, f"{where}, areas #{j}", start) for j, a in enumerate(_list(e, "areas", where), 1))
    return Programme(
        id=pid, kind=kind, name_nl=_str(e, "name_nl", where), name_en=_str(e, "name_en", where),
        start=start, end=end, end_planned=end_planned, steering=steering, themes=themes,
        core_problems_nl=_strs(e, "core_problems_nl", where), core_problems_en=_strs(e, "core_problems_en", where),
        instruments_nl=_strs(e, "instruments_nl", where, optional=True),
        instruments_en=_strs(e, "instruments_en", where, optional=True),
        sources=tuple(_source(s, f"{where}, sources #{j}") for j, s in enumerate(sources, 1)),
        budgets=tuple(_budget(b, f"{where}, budgets #{j}") for j, b in enumerate(_list(e, "budgets", where), 1)),
        areas=areas,
        evaluations=tuple(_evaluation(v, f"{where}, evaluations #{j}")
                          for j, v in enumerate(_list(e, "evaluations", where), 1)),
        parent=parent, approximate_period=_bool(e, "approximate_period", where, default=False),
        notes_nl=_str(e, "notes_nl", where, optional=True), notes_en=_str(e, "notes_en", where, optional=True),
    )


def _source(s: object, where: str) -> Source:
    if not isinstance(s, dict):
        raise SpecError(f"{where}: expected a mapping")
    unknown = sorted(set(s) - {"title", "kind", "publisher", "year", "url"})
    if unknown:
        raise SpecError(f"{where}: unknown field {unknown[0]!r}")
    kind = _choice(s, "kind", SOURCE_KINDS, where)
    url = _str(s, "url", where, optional=True)
    if url is not None and not url.startswith(("http://", "https://")):
        raise SpecError(f"{where}, field 'url': {url!r} is not an http(s) address")
    publisher = _str(s, "publisher", where, optional=True)
    if kind != "dossier" and url is None and publisher is None:
        raise SpecError(f"{where}: a source needs a url or a publisher")
    return Source(title=_str(s, "title", where), kind=kind, publisher=publisher,
                  year=_year(s, "year", where, optional=True), url=url)


_BUDGET_KEYS = {"label_nl", "label_en", "amount", "currency", "unit", "years", "covers_nl", "covers_en",
                "approximate", "source", "stated_per_resident_per_year", "multiplier", "in_total"}


def _budget(b: object, where: str) -> Budget:
    if not isinstance(b, dict):
        raise SpecError(f"{where}: expected a mapping")
    unknown = sorted(set(b) - _BUDGET_KEYS)
    if unknown:
        raise SpecError(f"{where}: unknown field {unknown[0]!r}")
    amount = _number(b, "amount", where)
    years = b.get("years")
    if years is not None and (not isinstance(years, list) or len(years) != 2
                              or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)
                              or not YEAR_MIN <= years[0] <= years[1] <= YEAR_MAX):
        raise SpecError(f"{where}, field 'years': expected [from, to] with from <= to, or null")
    per_res = _number(b, "stated_per_resident_per_year", where, optional=True)
    if per_res is not None and years is None:
        raise SpecError(f"{where}, field 'stated_per_resident_per_year': needs the years the amount covers")
    mult = _number(b, "multiplier", where, optional=True)
    return Budget(label_nl=_str(b, "label_nl", where), label_en=_str(b, "label_en", where), amount=amount,
                  currency=_choice(b, "currency", CURRENCIES, where), unit=_choice(b, "unit", BUDGET_UNITS, where),
                  years=None if years is None else (years[0], years[1]), covers_nl=_str(b, "covers_nl", where),
                  covers_en=_str(b, "covers_en", where), approximate=_bool(b, "approximate", where),
                  source=_str(b, "source", where), stated_per_resident_per_year=per_res, multiplier=mult,
                  in_total=_bool(b, "in_total", where, default=True))


def _area(a: object, where: str, start: int) -> AreaLink:
    if not isinstance(a, dict):
        raise SpecError(f"{where}: expected a mapping")
    unknown = sorted(set(a) - {"source", "id", "adoption_year", "first_post_year", "filter"})
    if unknown:
        raise SpecError(f"{where}: unknown field {unknown[0]!r}")
    adoption = _year(a, "adoption_year", where)
    first_post = _year(a, "first_post_year", where)
    if adoption < start:
        raise SpecError(f"{where}, field 'adoption_year': {adoption} is before the programme start {start}")
    if first_post < adoption:
        raise SpecError(f"{where}, field 'first_post_year': {first_post} is before adoption {adoption}")
    flt = a.get("filter") or {}
    if not isinstance(flt, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in flt.items()):
        raise SpecError(f"{where}, field 'filter': expected a mapping of text to text")
    return AreaLink(source=_choice(a, "source", AREA_SOURCES, where), id=_str(a, "id", where),
                    adoption_year=adoption, first_post_year=first_post, filter=tuple(sorted(flt.items())))


def _evaluation(v: object, where: str) -> Evaluation:
    if not isinstance(v, dict):
        raise SpecError(f"{where}: expected a mapping")
    unknown = sorted(set(v) - {"title", "authors", "publisher", "year", "url", "finding_nl", "finding_en"})
    if unknown:
        raise SpecError(f"{where}: unknown field {unknown[0]!r}")
    return Evaluation(title=_str(v, "title", where), publisher=_str(v, "publisher", where, optional=True),
                      year=_year(v, "year", where, optional=True), finding_nl=_str(v, "finding_nl", where),
                      finding_en=_str(v, "finding_en", where), authors=_str(v, "authors", where, optional=True),
                      url=_str(v, "url", where, optional=True))


def _str(d: dict, key: str, where: str, optional: bool = False) -> str | None:
    v = d.get(key)
    if v is None and optional:
        return None
    if not isinstance(v, str) or not v.strip():
        raise SpecError(f"{where}, field {key!r}: expected non-empty text")
    return v.strip()


def _strs(d: dict, key: str, where: str, optional: bool = False) -> tuple[str, ...]:
    v = d.get(key)
    if v is None and optional:
        return ()
    if not isinstance(v, list) or not v or not all(isinstance(x, str) and x.strip() for x in v):
        raise SpecError(f"{where}, field {key!r}: expected a non-empty list of text")
    return tuple(x.strip() for x in v)


def _list(d: dict, key: str, where: str) -> list:
    v = d.get(key)
    if v is None:
        return []
    if not isinstance(v, list):
        raise SpecError(f"{where}, field {key!r}: expected a list")
    return v


def _year(d: dict, key: str, where: str, optional: bool = False) -> int | None:
    v = d.get(key)
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not YEAR_MIN <= v <= YEAR_MAX:
        raise SpecError(f"{where}, field {key!r}: expected a year between {YEAR_MIN} and {YEAR_MAX}, got {v!r}")
    return v


def _number(d: dict, key: str, where: str, optional: bool = False) -> float | None:
    v = d.get(key)
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not v > 0:
        raise SpecError(f"{where}, field {key!r}: expected a positive number, got {v!r}")
    return float(v)


def _bool(d: dict, key: str, where: str, default: bool | None = None) -> bool:
    v = d.get(key, default)
    if not isinstance(v, bool):
        raise SpecError(f"{where}, field {key!r}: expected true or false")
    return v


def _choice(d: dict, key: str, allowed: tuple[str, ...], where: str) -> str:
    v = d.get(key)
    if v not in allowed:
        raise SpecError(f"{where}, field {key!r}: {v!r} is not one of {', '.join(allowed)}")
    return v


def _choices(d: dict, key: str, allowed: tuple[str, ...], where: str) -> tuple[str, ...]:
    v = d.get(key)
    if not isinstance(v, list) or not v:
        raise SpecError(f"{where}, field {key!r}: expected a non-empty list")
    bad = [x for x in v if x not in allowed]
    if bad:
        raise SpecError(f"{where}, field {key!r}: {bad[0]!r} is not one of {', '.join(allowed)}")
    if len(set(v)) != len(v):
        raise SpecError(f"{where}, field {key!r}: duplicate values")
    return tuple(v)


# -- areas in the store -----------------------------------------------------------------------------------

PROGRAMME_AREAS = "programme_areas"


def programmes_for_area(store, level: str, code: str, registry: Registry | None = None,
                        lang: str = "nl") -> pd.DataFrame:
    """Programmes whose resolved areas include ``code`` at ``level`` (pc4, wijk, buurt or gemeente).

    Reads the ``programme_areas`` table written by ``leefbaar resolve-areas``; returns an empty frame when that
    table does not exist yet. Columns: programme, name, period, start, end, adoption_year, first_post_year,
    share (0-1: the part of the area inside the programme's areas, by population where known), confidence,
    partial, name_as_listed.
    """
    registry = registry or load_programmes()
    cols = ["programme", "name", "period", "start", "end", "adoption_year", "first_post_year", "share",
            "confidence", "partial", "name_as_listed"]
    exists = store.sql("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = ?",
                       [PROGRAMME_AREAS])["n"].iloc[0]
    if not exists:
        return pd.DataFrame(columns=cols)
    rows = store.sql(f"SELECT programme, adoption_year, first_post_year, share, confidence, partial, name_as_listed "
                     f"FROM {PROGRAMME_AREAS} WHERE level = ? AND code = ? ORDER BY adoption_year, programme",
                     [level, code])
    if rows.empty:
        return pd.DataFrame(columns=cols)
    known = set(registry.ids())
    rows = rows[rows["programme"].isin(known)]
    progs = {p.id: p for p in registry}
    rows = rows.assign(name=[progs[p].name(lang) for p in rows["programme"]],
                       period=[progs[p].period() for p in rows["programme"]],
                       start=[progs[p].start for p in rows["programme"]],
                       end=[progs[p].end for p in rows["programme"]])
    return rows[cols].reset_index(drop=True)
