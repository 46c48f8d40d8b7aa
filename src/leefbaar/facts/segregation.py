"""Segregation facts for one gemeente: ``segregation_view`` of the monitoring stage, for the dashboard.

The view (dissimilarity between the two groups of a dimension per year with bootstrap intervals at the level
stated, the change first -> last year with its interval and significance, the spatial/compositional
decomposition, the verdict and its summary sentences) is computed by ``leefbaar.analysis.segregation`` with the
catalogue's settings, so the dashboard states what ``leefbaar segregation`` states. A gemeente whose areas
cannot carry the analysis gets ``available: False`` with the reason.
"""

from __future__ import annotations

import math

from leefbaar.errors import LeefbaarError
from leefbaar.facts.rules import say

DIMENSIONS = ("income", "tenure", "age", "ses")
"""Dimensions a surface may ask for (migration background only in the CLI, with its explicit flag)."""


def segregation_facts(store, gemeente: str, by: str = "income", lang: str = "nl") -> dict:
    """The segregation view of ``gemeente`` (code) by ``by`` in ``lang``; ``available`` says whether it could
    be computed, ``note`` why not."""
    from leefbaar.analysis.segregation import segregation_view

    if by not in DIMENSIONS:
        raise ValueError(f"segregation by {by!r}: one of {', '.join(DIMENSIONS)}")
    try:
        view = segregation_view(store, gemeente, by=by, lang=lang)
    except LeefbaarError as exc:
        return {"available": False, "gemeente": gemeente, "dimension": by, "note": str(exc)}
    except (StopIteration, ValueError, KeyError, IndexError):  # too few areas for the contiguity or the indices
        return {"available": False, "gemeente": gemeente, "dimension": by,
                "note": say("segregation.unavailable", lang)}
    if not view["series"]:
        return _clean({**view, "available": False, "note": say("segregation.unavailable", lang)})
    # the summary's first (bold) sentence is the verdict; the rest explains it (one wording: the CLI's summary)
    head, _, rest = view["text"].removeprefix("**").partition("**")
    verdict, explanation = (head.strip(), rest.strip()) if view["text"].startswith("**") else (None, view["text"])
    return _clean({**view, "available": True, "interval_percent": int(round(100 * float(view["interval_level"]))),
            "verdict_text": verdict, "explanation": explanation})


def _clean(obj):
    """JSON-safe: NaN and infinities as None, numpy scalars as Python numbers."""
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
