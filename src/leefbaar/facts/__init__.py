"""The facts layer: what a user may be told (between analysis/evaluation and the surfaces).

``Facts(store)`` answers area identity and names, score series (kind, interval level, class under the
small-area rule, rank), the default year, programme membership (one rule), explanations that add up, and
verdicts worded from one sentence table. Rules: ``rules.yaml``; sentences: ``sentences.csv``.
"""

from leefbaar.facts.core import DIMENSION_LABELS, Facts, NotFound, not_found
from leefbaar.facts.rules import both, error_text, load_rules, say, told

__all__ = ["DIMENSION_LABELS", "Facts", "NotFound", "both", "error_text", "load_rules", "not_found", "say", "told"]
