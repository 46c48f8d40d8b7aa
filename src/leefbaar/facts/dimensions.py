"""The dimensions of the index shown, in display order, with their labels (what the dashboard may name).

A store's ``dimension_scores`` (spec of ``Facts.spec``) says which dimensions exist; the five Leefbaarometer
dimensions come first in their customary order, any other dimension follows in the order of its spec file
(``catalogue/specs/<spec>.yaml``), labelled from the spec (``label_nl``/``label_en``) or by its code.
A store without dimension scores answers the five Leefbaarometer dimensions (the official series).
"""

from __future__ import annotations

from importlib import resources

import yaml

from leefbaar.facts.core import DIMENSION_LABELS


def _spec_dimensions(spec: str | None) -> dict[str, dict[str, str]]:
    """{code: {nl, en}} in the spec file's order; empty when the spec is not a packaged file."""
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


def dimensions(facts) -> list[dict]:
    """``[{code, label: {nl, en}}]`` of the dimensions with scores in the store, in display order."""
    codes: list[str] = list(DIMENSION_LABELS)
    if "dimension_scores" in facts.tables and facts.spec:
        held = facts.sql("SELECT DISTINCT dimension FROM dimension_scores WHERE spec = ?", [facts.spec])
        held = set(held["dimension"].astype(str))
        if held:
            spec = _spec_dimensions(facts.spec)
            codes = [c for c in DIMENSION_LABELS if c in held]
            codes += [c for c in spec if c in held and c not in codes]
            codes += sorted(held - set(codes))
    spec = _spec_dimensions(facts.spec)
    out = []
    for c in codes:
        label = DIMENSION_LABELS.get(c) or spec.get(c) or {"nl": c, "en": c}
        out.append({"code": c, "label": {"nl": label["nl"][:1].upper() + label["nl"][1:],
                                          "en": label["en"][:1].upper() + label["en"][1:]}})
    return out
