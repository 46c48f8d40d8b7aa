"""The dimensions of the index shown, in display order, with their labels (what every surface may name).

The store says which dimensions the spec shown (``Facts.spec``) has, whatever they are called:
``spec_dimensions`` (written by ``leefbaar score``: position, code, Dutch and English label) first; for a store
scored before that table existed, the codes of ``dimension_scores`` (the five Leefbaarometer dimensions first in
their customary order, any other in the order of its packaged spec file, labelled from it or by its code). A
store without dimension scores answers the five Leefbaarometer dimensions (the official series).

A dimension whose code is the name of another score column (``total``, ``kind``, ``rank`` ...) cannot be shown
beside it: refused with an error naming it.
"""

from __future__ import annotations

from importlib import resources

import yaml

from leefbaar.errors import StoreError
from leefbaar.facts.series import COLUMNS, DIMENSIONS

LBM_LABELS = {
    "won": {"nl": "Woningvoorraad", "en": "Housing stock"},
    "fys": {"nl": "Fysieke omgeving", "en": "Physical environment"},
    "vrz": {"nl": "Voorzieningen", "en": "Amenities"},
    "soc": {"nl": "Sociale samenhang", "en": "Social cohesion"},
    "onv": {"nl": "Overlast en onveiligheid", "en": "Nuisance and insecurity"},
}
"""Labels of the five Leefbaarometer dimensions."""
RESERVED = frozenset(COLUMNS) - frozenset(DIMENSIONS) | {"spec", "level", "anchor_year", "gemeente_code", "label",
                                                        "classed", "indicator", "change", "value", "bin"}
"""Names a dimension cannot have (columns and measures beside the dimensions)."""


def _spec_file_dimensions(spec: str | None) -> dict[str, dict[str, str]]:
    """{code: {nl, en}} in the packaged spec file's order; empty when the spec is not a packaged file."""
    if not spec:
        return {}
    path = resources.files("leefbaar") / "catalogue" / "specs" / f"{spec}.yaml"
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (FileNotFoundError, OSError, yaml.YAMLError):
        return {}
    dims = doc.get("dimensions") or {}
    if not isinstance(dims, dict):
        return {}
    return {str(c): {"nl": str((d or {}).get("label_nl") or c), "en": str((d or {}).get("label_en") or c)}
            for c, d in dims.items()}


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def dimensions(facts) -> list[dict]:
    """``[{code, label: {nl, en}}]`` of the dimensions of the spec shown, in display order (module docstring)."""
    spec = facts.spec
    labels: dict[str, dict[str, str]] = {}
    if spec and "spec_dimensions" in facts.tables:
        rows = facts.sql("SELECT dimension, min(position) AS position, first(label_nl ORDER BY level) AS nl, "
                         "first(label_en ORDER BY level) AS en FROM spec_dimensions WHERE spec = ? "
                         "GROUP BY dimension ORDER BY position, dimension", [spec])
        labels = {str(r.dimension): {"nl": str(r.nl or r.dimension), "en": str(r.en or r.dimension)}
                  for r in rows.itertuples()}
    if not labels and spec and "dimension_scores" in facts.tables:
        held = set(facts.sql("SELECT DISTINCT dimension FROM dimension_scores WHERE spec = ?", [spec])[
            "dimension"].astype(str))
        in_file = _spec_file_dimensions(spec)
        codes = [c for c in DIMENSIONS if c in held]
        codes += [c for c in in_file if c in held and c not in codes]
        codes += sorted(held - set(codes))
        labels = {c: LBM_LABELS.get(c) or in_file.get(c) or {"nl": c, "en": c} for c in codes}
    if not labels:
        labels = dict(LBM_LABELS)
    clash = [c for c in labels if c in RESERVED]
    if clash:
        raise StoreError(f"spec {spec!r}: dimension {clash[0]!r} has the name of a score column or measure; give "
                         "the dimension another code in the spec and score again")
    return [{"code": c, "label": {"nl": _capital(lb["nl"]), "en": _capital(lb["en"])}} for c, lb in labels.items()]
