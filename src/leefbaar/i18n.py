"""Texts and number formats in Dutch and English: gettext message catalogues (managed with Babel) and CLDR rules.

Message ids are English. Every user-facing sentence is written once, in English, as the msgid of a call to a
:class:`Translator` (``_ = translator(lang)``; ``_("{n} files written", n=3)``); Dutch and English texts both come
from the catalogues ``locale/{nl,en}/LC_MESSAGES/leefbaar.po`` (the English one mostly repeats the msgid, so that
English wording can change without touching code). Placeholders are ``str.format`` fields with names; numbers are
formatted before they go in (:func:`fmt_number`, :func:`fmt_percent`, :func:`fmt_signed`), so a translation never
decides how a number looks. Labels kept in tables are marked with :func:`N_` and translated where they are shown.

Catalogue workflow (``scripts/i18n.sh``): ``extract`` (code -> ``locale/leefbaar.pot``), ``update`` (.pot -> .po),
``compile`` (.po -> .mo). Compiled ``.mo`` files are build products, not committed: ``scripts/test.sh`` compiles them,
and :func:`translator` compiles a catalogue in memory from its ``.po`` when the ``.mo`` is missing or older, so a
plain ``pip install -e .`` works and a stale ``.mo`` never serves old text. ``tests/test_i18n.py`` fails on a msgid
in the code without a non-empty Dutch and English translation.

Numbers follow Babel's locale data for ``nl_NL`` and ``en_GB``: 1.518 / 1,518; 0,44 / 0.44; +0,04 / +0.04.

Adding a text: write ``_("English text with {field}", field=...)`` (``_ = translator(lang)`` in the same function;
never ``translator(lang)("...")`` or a call inside an f-string, which Babel cannot see), run
``scripts/i18n.sh update``, write the Dutch msgstr in ``locale/nl/LC_MESSAGES/leefbaar.po``. For Jinja templates add
a ``[jinja2: ...]`` section to ``babel.cfg``.
"""

from __future__ import annotations

import gettext as _gettext
import io
import math
from datetime import date, datetime
from functools import cache
from pathlib import Path

from leefbaar.errors import LeefbaarError

LANGS = ("nl", "en")
"""Languages of the interface, Dutch first."""
LOCALES = {"nl": "nl_NL", "en": "en_GB"}
"""The Babel locale behind each language."""
DOMAIN = "leefbaar"
LOCALE_DIR = Path(__file__).parent / "locale"
MISSING = "–"
"""Shown for a missing or non-finite number."""


def N_(msgid: str) -> str:  # noqa: N802 (the gettext convention)
    """Mark ``msgid`` for extraction without translating it (labels in tables, translated where shown)."""
    return msgid


def check_lang(lang: str) -> str:
    """``lang`` if it is a language of the interface, else a :class:`LeefbaarError` naming the choices."""
    if lang not in LANGS:
        raise LeefbaarError(f"--lang must be nl or en, not {lang!r}")
    return lang


def _catalogue(lang: str) -> _gettext.NullTranslations:
    """The compiled catalogue of ``lang``: its .mo file, or its .po compiled in memory if the .mo is missing/older."""
    folder = LOCALE_DIR / lang / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if not po.exists():
        raise LeefbaarError(f"no message catalogue for language {lang!r} ({po})")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as fh:
            return _gettext.GNUTranslations(fh)
    return _gettext.GNUTranslations(io.BytesIO(compile_po(po)))


def compile_po(po: Path) -> bytes:
    """The .mo bytes of the catalogue ``po`` (fuzzy entries are left out, as ``pybabel compile`` does)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        catalog = read_po(fh)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    return buf.getvalue()


def _num(x) -> float | None:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt_number(x, lang: str, digits: int = 3, group: bool = True, trailing_zeros: bool = True) -> str:
    """``x`` with exactly ``digits`` decimals by the locale's rules (nl: 1.518 and 0,440); :data:`MISSING` if absent.

    ``group=False`` drops the thousands separator (codes, years); ``trailing_zeros=False`` shows at most ``digits``
    decimals (0,035 rather than 0,03500).
    """
    from babel.numbers import format_decimal

    v = _num(x)
    if v is None:
        return MISSING
    pattern = ("#,##0" if group else "0") + ("." + ("0" if trailing_zeros else "#") * digits if digits > 0 else "")
    return format_decimal(v, format=pattern, locale=LOCALES[check_lang(lang)], decimal_quantization=True)


def fmt_signed(x, lang: str, digits: int = 3) -> str:
    """``x`` with an explicit sign (nl: +0,040 and -0,040); zero at the shown precision gets no sign."""
    from babel.numbers import format_decimal

    v = _num(x)
    if v is None:
        return MISSING
    body = "#,##0" + ("." + "0" * digits if digits > 0 else "")
    if round(v, digits) == 0:
        return format_decimal(0, format=body, locale=LOCALES[check_lang(lang)])
    return format_decimal(v, format=f"+{body};-{body}", locale=LOCALES[check_lang(lang)])


def fmt_percent(x, lang: str, digits: int = 0) -> str:
    """The share ``x`` (0-1) as a percentage by the locale's rules (nl and en: 44%, 44,1% / 44.1%)."""
    from babel.numbers import format_percent

    v = _num(x)
    if v is None:
        return MISSING
    pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%"
    return format_percent(v, format=pattern, locale=LOCALES[check_lang(lang)])


def fmt_scientific(x, lang: str, digits: int = 1) -> str:
    """``x`` in scientific notation by the locale's rules (nl: 1,2E-11; en: 1.2E-11)."""
    from babel.numbers import format_scientific

    v = _num(x)
    if v is None:
        return MISSING
    return format_scientific(v, format="0." + "0" * digits + "E0", locale=LOCALES[check_lang(lang)])


def fmt_integer(x, lang: str) -> str:
    """A count with the locale's thousands separator (nl: 4.061; en: 4,061)."""
    return fmt_number(x, lang, 0)


def fmt_date(d: date | datetime | str, lang: str, format: str = "long") -> str:  # noqa: A002 (Babel's name)
    """A date by the locale's rules (nl long: 5 maart 2024; en_GB: 5 March 2024). Strings are ISO dates."""
    from babel.dates import format_date

    if isinstance(d, str):
        d = date.fromisoformat(d[:10])
    return format_date(d, format=format, locale=LOCALES[check_lang(lang)])


class Translator:
    """The texts and number formats of one language.

    ``_(msgid, **fields)`` translates and fills named fields; ``_.ngettext(singular, plural, n, **fields)`` picks the
    plural form (``n`` is also a field, formatted by the locale). ``_.number``, ``_.signed``, ``_.percent``,
    ``_.integer`` and ``_.date`` are the ``fmt_*`` functions in this language.
    """

    def __init__(self, lang: str):
        self.lang = check_lang(lang)
        self.locale = LOCALES[lang]
        self._cat = _catalogue(lang)

    def gettext(self, msgid: str) -> str:
        return self._cat.gettext(msgid)

    def __call__(self, msgid: str, **fields) -> str:
        text = self._cat.gettext(msgid)
        return text.format(**fields) if fields else text

    def ngettext(self, singular: str, plural: str, n: int, **fields) -> str:
        text = self._cat.ngettext(singular, plural, n)
        return text.format(**{"n": fmt_integer(n, self.lang), **fields})

    def number(self, x, digits: int = 3, group: bool = True) -> str:
        return fmt_number(x, self.lang, digits, group)

    def signed(self, x, digits: int = 3) -> str:
        return fmt_signed(x, self.lang, digits)

    def percent(self, x, digits: int = 0) -> str:
        return fmt_percent(x, self.lang, digits)

    def integer(self, x) -> str:
        return fmt_integer(x, self.lang)

    def date(self, d, format: str = "long") -> str:  # noqa: A002
        return fmt_date(d, self.lang, format)


def in_languages(msgid: str, **fields) -> tuple[str, ...]:
    """``msgid`` translated into every language of :data:`LANGS`, in that order (Dutch, English): for records that
    keep both, such as a dataclass with ``title_nl`` and ``title_en``. Mark the msgid with :func:`N_`. A field may
    be a function of the language (a number formatted by its locale, a catalogue label)."""
    return tuple(translator(lang)(msgid, **{k: v(lang) if callable(v) else v for k, v in fields.items()})
                 for lang in LANGS)


def note_in_languages(msgid: str, **fields) -> str:
    """A note kept in both languages as ``"Dutch | English"`` (analysis notes; a summary shows the half of its
    language): :func:`in_languages` joined."""
    return " | ".join(in_languages(msgid, **fields))


class ByLanguage(dict):
    """``{lang: {key: label}}`` for labels marked with :func:`N_` (``ByLanguage({"won": N_("housing stock")})``),
    translated on first use of a language: ``labels["nl"]["won"]``."""

    def __init__(self, labels: dict[str, str]):
        super().__init__()
        self.labels = dict(labels)

    def __missing__(self, lang: str) -> dict[str, str]:
        _ = translator(lang)
        self[lang] = {k: _(v) for k, v in self.labels.items()}
        return self[lang]


@cache
def translator(lang: str) -> Translator:
    """The (cached) :class:`Translator` of ``lang`` ("nl" or "en")."""
    return Translator(lang)

