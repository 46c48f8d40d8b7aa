"""A word-list check that a text is in one language: lines of Dutch output with English in them, and vice versa.

Heuristic: a line leaks when it holds at least two different common function words of the other language and more
of those than of its own. The lists hold only words that do not occur in the other language (not "in", "is", "of",
"over", "per"); code spans, paths, identifiers with underscores and URLs are removed first, so file names, column
names and area names rarely count. Short labels (a word or two) cannot be judged this way and are not flagged.
"""

from __future__ import annotations

import re

WORDS = {
    "en": {"the", "and", "with", "which", "from", "this", "that", "these", "are", "were", "has", "have", "not", "than",
           "between", "where", "when", "their", "its", "into", "been", "only", "both", "each", "every", "there",
           "no", "above", "below", "after", "before", "because", "should", "would", "could", "does", "areas",
           "files", "written", "change", "shows", "growing", "neighbours", "residents"},
    "nl": {"de", "het", "een", "en", "van", "met", "zijn", "niet", "voor", "naar", "tussen", "wordt", "werd", "dat",
           "die", "ook", "geen", "bij", "tot", "gebieden", "heeft", "hebben", "waar", "wanneer", "omdat",
           "alleen", "beide", "elk", "boven", "onder", "na", "geschreven", "bestanden", "verandering", "inwoners",
           "buren", "groeit", "neemt", "af", "sinds", "nog", "wel", "maar", "dan", "zonder"},
}
_NOISE = re.compile(r"`[^`]*`|https?://\S+|\S*[/\\_]\S*|\S+\.(?:csv|md|png|svg|json|yaml|pdf|html|duckdb)\b")
_WORD = re.compile(r"[a-zà-ÿ]+(?:'[a-z]+)?")


def leaks(text: str, lang: str) -> list[str]:
    """The lines of ``text`` (written in ``lang``) that read as the other language."""
    other = "en" if lang == "nl" else "nl"
    found = []
    for line in text.splitlines():
        words = _WORD.findall(_NOISE.sub(" ", line.lower()))
        theirs = [w for w in words if w in WORDS[other]]
        ours = [w for w in words if w in WORDS[lang]]
        if len(set(theirs)) >= 2 and len(theirs) > len(ours):
            found.append(line.strip())
    return found
