"""Languages (docs/rules.md rule 37): the one place that says which exist and how people read money and days.

Every word a person reads goes through ``gettext``/``ngettext`` (``_l`` where the text is
built at import time, as form labels are); the catalogues live in ``portal/translations``.
The API answers in English whatever the browser asks (its messages are a contract).
Money and days follow the language as CLDR writes them: ``15,00 €``, ``1 déc. 2026``.
"""
import contextlib
import functools
from datetime import date, datetime
from decimal import Decimal

import flask_babel
from babel.dates import format_date as babel_format_date
from babel.numbers import format_currency, format_percent
from babel.support import NullTranslations
from flask import has_app_context
from flask.globals import _cv_app
from flask_babel.speaklater import LazyString
from jinja2 import pass_eval_context
from markupsafe import Markup

__all__ = ["LANGUAGES", "LANGUAGE_NAMES", "force_locale", "format_basis_points", "format_day", "format_day_in",
           "format_money", "format_signed_money", "gettext", "_l", "install_template_gettext", "language_or_none",
           "ngettext", "page_language", "refresh_language"]

# The languages the portal is written in; English is the default and the API's.
LANGUAGES = ("en", "fr", "pl")
# Each language in its own words: a French reader looks for "Français", not "French".
LANGUAGE_NAMES = {"en": "English", "fr": "Français", "pl": "Polski"}

# Where the request's (language, catalogue) pair is kept on ``g``.
_NOW = "_portal_language"
_NO_TRANSLATIONS = NullTranslations()


def _language_now() -> tuple[str, NullTranslations]:
    """The language code and catalogue of the current context, looked up once per context.

    Flask-Babel finds them again on every word (three lookups of its namespace on ``g``, the locale
    turned into a string, a cache probe): about 750 times for the insight page, a fifth of its
    drawing. Flask-Babel stays the one that chooses; ``refresh_language`` and ``force_locale`` drop
    what is kept here whenever it may choose differently.
    """
    context = _cv_app.get(None)  # the app context itself: ``g``'s proxy costs more than the rest here
    if context is None:
        return "en", _NO_TRANSLATIONS
    kept = context.g.__dict__.get(_NOW)
    if kept is None:
        kept = context.g.__dict__[_NOW] = (str(flask_babel.get_locale() or "en"), flask_babel.get_translations())
    return kept


def _forget_language() -> tuple | None:
    """Drop the kept language of the current app context (if any); what was kept."""
    context = _cv_app.get(None)
    return context.g.__dict__.pop(_NOW, None) if context is not None else None


def refresh_language() -> None:
    """Choose the language again (a new request, or the account's language just changed)."""
    flask_babel.refresh()
    _forget_language()


@contextlib.contextmanager
def force_locale(locale: str):
    """Words and formats in ``locale`` inside the block (an e-mail in its reader's language), then back."""
    kept = _forget_language()
    try:
        with flask_babel.force_locale(locale):
            yield
    finally:
        _forget_language()
        if kept is not None and has_app_context():
            _cv_app.get().g.__dict__[_NOW] = kept


def gettext(string: str, **variables) -> str:
    """``string`` in the page's language, ``%(name)s`` filled from ``variables`` (as Flask-Babel's)."""
    text = _language_now()[1].ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    """The form of ``singular``/``plural`` for ``num`` in the page's language; ``%(num)s`` is ``num``."""
    variables.setdefault("num", num)
    return _language_now()[1].ungettext(singular, plural, num) % variables


def _l(string: str, **variables) -> LazyString:
    """``gettext`` when the text is read, for text built at import time (form labels, role names)."""
    return LazyString(gettext, string, **variables)


def install_template_gettext(jinja_env) -> None:
    """``_()``, ``gettext`` and ``ngettext`` in templates through the kept catalogue (after Babel's init_app,
    which installs its own)."""
    jinja_env.install_gettext_callables(
        gettext=lambda string: _language_now()[1].ugettext(string),
        ngettext=lambda singular, plural, num: _language_now()[1].ungettext(singular, plural, num),
        pgettext=lambda context, string: _language_now()[1].upgettext(context, string),
        npgettext=lambda context, singular, plural, num: _language_now()[1].unpgettext(context, singular,
                                                                                       plural, num),
        newstyle=True,
    )
    # ``_()`` and ``gettext()`` in one call rather than Jinja's three (its ``_`` looks ``gettext`` up and calls
    # it, which calls the function above): a client page asks for a hundred words.
    jinja_env.globals.update(_=_template_gettext, gettext=_template_gettext)


@pass_eval_context
def _template_gettext(eval_context, string: str, **variables):
    """What Jinja's new-style ``gettext`` does: translate, mark safe where the template escapes (the
    variables are escaped as they go in), then always format, so ``%%`` reads ``%`` with or without them."""
    text = _language_now()[1].ugettext(string)
    if eval_context.autoescape:
        text = Markup(text)
    # Formatting a text without "%" changes nothing; Markup's formatting costs a page of rows a few percent.
    return text % variables if variables or "%" in text else text


def page_language() -> str:
    """The page's language as a plain code ("fr"): the key of what is formatted once and kept per language."""
    return _language_now()[0]


def language_or_none(value) -> str | None:
    """A stored language: one of LANGUAGES, or None for "follow the browser"."""
    return value if value in LANGUAGES else None


def format_money(amount: int | None, currency: str = "EUR") -> str:
    """Minor units for people, in the page's language: 164500 → "€1,645.00" / "1 645,00 €" (— for none)."""
    if amount is None:
        return "—"
    return _money(int(amount), currency, page_language())


def format_signed_money(amount: int, currency: str = "EUR") -> str:
    """A change of money: "+€12.00" when it grew, "-€12.00" when it fell, "€0.00" when it did not."""
    text = format_money(amount, currency)
    return "+" + text if amount > 0 else text


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
    return format_percent(Decimal(int(basis_points)).scaleb(-4), locale=page_language(), decimal_quantization=False)


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
