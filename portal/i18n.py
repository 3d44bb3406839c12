"""Languages (docs/rules.md rule 37): the one place that says which exist and how people read money and days.

Every word a person reads goes through ``gettext``/``ngettext`` (``_l`` where the text is
built at import time, as form labels are); the catalogues live in ``portal/translations``.
The API answers in English whatever the browser asks (its messages are a contract).
Money and days follow the language as CLDR writes them: ``15,00 €``, ``1 déc. 2026``.
"""
import functools
from datetime import date, datetime
from decimal import Decimal

from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, format_percent
from flask_babel import force_locale, get_locale, gettext, lazy_gettext, ngettext

__all__ = ["LANGUAGES", "LANGUAGE_NAMES", "force_locale", "format_basis_points", "format_day", "format_day_in",
           "format_money", "gettext", "_l", "language_or_none", "ngettext", "page_language"]

# The languages the portal is written in; English is the default and the API's.
LANGUAGES = ("en", "fr", "pl")
# Each language in its own words: a French reader looks for "Français", not "French".
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "pl": "Polski"}

_l = lazy_gettext


def page_language() -> str:
    """The page's language as a plain code ("fr"): the key of what is formatted once and kept per language."""
    return str(get_locale() or "en")


def language_or_none(value) -> str | None:
    """A stored language: one of LANGUAGES, or None for "follow the browser"."""
    return value if value in LANGUAGES else None


def format_money(amount: int | None, currency: str = "EUR") -> str:
    """Minor units for people, in the page's language: 164500 → "€1,645.00" / "1 645,00 €" (— for none)."""
    if amount is None:
        return "—"
    return _money(int(amount), currency, page_language())


@functools.lru_cache(maxsize=4096)
def _money(amount: int, currency: str, locale: str) -> str:
    """Kept per (amount, currency, language), as ``_medium_day``: the insight page writes some 150 amounts,
    mostly the same few, and CLDR formatting costs about 50 µs each."""
    return format_currency(Decimal(amount).scaleb(-2), currency, locale=locale)


def format_basis_points(basis_points: int | None) -> str:
    """Basis points as a percentage for people, in the page's language: 2000 → "20%" / "20 %", 1225 → "12.25%"
    (— for none). A basis point is 0.01 %, so two decimals say it exactly."""
    if basis_points is None:
        return "—"
    return format_percent(Decimal(int(basis_points)).scaleb(-4), locale=get_locale(), decimal_quantization=False)


def format_day(day: date | datetime | None) -> str:
    """A calendar day for people: "Dec 1, 2026", "1 déc. 2026", "1 gru 2026" (— for none)."""
    if day is None:
        return "—"
    if isinstance(day, datetime):
        day = day.date()
    return _medium_day(day, page_language())


def format_day_in(day: date, locale: str) -> str:
    """``format_day`` in the language ``locale`` names ("fr"), for text built once for every reader of it."""
    return _medium_day(day, locale)


@functools.lru_cache(maxsize=4096)
def _medium_day(day: date, locale: str) -> str:
    """Kept per (day, language): a chart's table writes 365 days per page, and CLDR formatting is slow."""
    return babel_format_date(day, "medium", locale=locale)
