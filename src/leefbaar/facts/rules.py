"""The reporting rules (``rules.yaml``) and the sentence table (``sentences.csv``) of the facts layer.

Both are package data, validated on load. ``say(key, lang, **values)`` words a fact in Dutch or English from
the one table, so that every surface uses the same sentence for the same fact.
"""

from __future__ import annotations

import csv
import inspect
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from leefbaar.errors import SpecError

LANGS = ("nl", "en")


@dataclass(frozen=True)
class Rules:
    """Small-area rule, membership rule, verdict kinds and the interval level (one setting)."""

    min_residents: float
    min_dwellings: float
    residents_indicator: str
    dwellings_indicator: str
    min_share: float
    share_column: str
    verdict_kinds: tuple[str, ...]
    interval_level: float

    @property
    def interval_percent(self) -> int:
        """The interval level in percent (90 for a 90 % interval)."""
        return int(round(self.interval_level * 100))


def _interval_level() -> float:
    """The level of the Monte Carlo intervals the index engine stores (``index.uncertainty.summarise``)."""
    from leefbaar.index.uncertainty import summarise

    return float(inspect.signature(summarise).parameters["level"].default)


@cache
def load_rules() -> Rules:
    """``rules.yaml`` of this package, checked: thresholds non-negative, share in (0, 1]."""
    where = "leefbaar/facts/rules.yaml"
    raw = yaml.safe_load((resources.files("leefbaar.facts") / "rules.yaml").read_text(encoding="utf-8"))
    try:
        small, member, verdicts = raw["small_area"], raw["membership"], raw["verdicts"]
        rules = Rules(float(small["min_residents"]), float(small["min_dwellings"]),
                      str(small["residents_indicator"]), str(small["dwellings_indicator"]),
                      float(member["min_share"]), str(member["share_column"]),
                      tuple(str(k) for k in verdicts["kinds"]), _interval_level())
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"{where}: missing or invalid field {exc}") from None
    if rules.min_residents < 0 or rules.min_dwellings < 0:
        raise SpecError(f"{where}, small_area: thresholds must not be negative")
    if not 0 < rules.min_share <= 1:
        raise SpecError(f"{where}, membership.min_share: must be above 0 and at most 1")
    if not set(rules.verdict_kinds) <= {"official", "modelled", "aggregated"}:
        raise SpecError(f"{where}, verdicts.kinds: only official, modelled, aggregated")
    return rules


@cache
def sentences() -> dict[str, dict[str, str]]:
    """id -> {'nl': ..., 'en': ...} from ``sentences.csv``; every id needs both languages."""
    text = (resources.files("leefbaar.facts") / "sentences.csv").read_text(encoding="utf-8")
    out: dict[str, dict[str, str]] = {}
    for i, row in enumerate(csv.DictReader(text.splitlines()), start=2):
        if not row.get("id") or not row.get("nl") or not row.get("en"):
            raise SpecError(f"leefbaar/facts/sentences.csv, row {i}: id, nl and en are required")
        if row["id"] in out:
            raise SpecError(f"leefbaar/facts/sentences.csv, row {i}: duplicate id {row['id']!r}")
        out[row["id"]] = {"nl": row["nl"], "en": row["en"]}
    return out


def say(key: str, lang: str = "nl", **values) -> str:
    """The sentence ``key`` in ``lang`` with ``values`` filled in."""
    return sentences()[key]["en" if lang == "en" else "nl"].format(**values)


def both(key: str, **values) -> dict[str, str]:
    """The sentence in both languages: {'nl': ..., 'en': ...}."""
    return {lang: say(key, lang, **values) for lang in LANGS}


def told(exc: Exception, key: str, **values) -> Exception:
    """``exc`` (created with the English text) remembering its sentence, so that :func:`error_text` can word it
    in the user's language."""
    exc.sentence = (key, values)
    return exc


def error_text(exc: Exception, lang: str = "nl") -> str:
    """The one-line message of ``exc`` in ``lang``: its sentence (:func:`told`) with the place of an input error
    (file, row, column) worded in ``lang`` as well; otherwise its own text."""
    from leefbaar.errors import InputError
    from leefbaar.i18n import translator

    sentence = getattr(exc, "sentence", None)
    if sentence is None:
        return str(exc)
    message = say(sentence[0], lang, **sentence[1])
    if isinstance(exc, InputError):
        _ = translator(lang)
        where = exc.file
        where += _(", row {row}", row=exc.row) if exc.row is not None else ""
        where += _(", column '{column}'", column=exc.column) if exc.column is not None else ""
        return f"{where}: {message}"
    return message
