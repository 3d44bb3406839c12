"""Jinja filters and helpers: the seat usage bar, row links, moments and the page's language.

Money (``|money``) and days (``|day``) are portal/web/locale.py's.
"""
from collections.abc import Callable
from datetime import datetime, timezone

from babel.dates import format_date, format_time, get_datetime_format
from flask import url_for
from flask_babel import get_locale
from markupsafe import Markup, escape

from portal.i18n import gettext as _
from portal.i18n import page_language  # <html lang> (docs/rules.md rule 37)
from portal.models import BILLING_CYCLES
from portal.web.pagination import page_numbers

# Any id the <id:…> converter accepts; it only marks where the id goes.
_ID_MARK = 2_147_483_647


def usage_percent(consumed: int, allocated: int) -> int:
    """Consumed as a whole percentage of allocated, rounded down: 100 % only when every seat is used."""
    return consumed * 100 // allocated if allocated > 0 else 0


def usage(consumed: int, allocated: int) -> Markup:
    """A seat usage bar with its percentage: a ``<meter>`` (no inline style, which the CSP forbids).

    The percentage is written beside the bar: a bar alone says nothing to someone who cannot see
    its length. Python rather than a Jinja macro: it is drawn on every row of the long listings,
    where the macro cost four times as much as this.
    """
    consumed, allocated = int(consumed), int(allocated)  # ints: nothing to escape
    top = allocated or 1
    percent = usage_percent(consumed, allocated)
    title = escape(_("%(consumed)s of %(allocated)s used", consumed=consumed, allocated=allocated))
    return Markup(
        f'<span class="usage"><meter min="0" max="{top}" low="{round(top * 0.8, 2)}" high="{round(top * 0.95, 2)}" '
        f'optimum="0" value="{consumed}" title="{title}">{consumed} / {allocated}</meter>'
        f'<span class="percent">{percent}%</span></span>'
    )


def id_url(endpoint: str, argument: str) -> Callable[[int], str]:
    """``url_for`` for the rows of a list: ``id_url(e, "client_id")(7) == url_for(e, client_id=7)``.

    ``url_for`` looks the rule up and encodes its values each time, ~5 µs; a
    page of 25 clients spent more on its links than on its SQL. The URL is
    built once, and each row only puts its id in.
    """
    head, mark, tail = url_for(endpoint, **{argument: _ID_MARK}).rpartition(str(_ID_MARK))
    if not mark or "?" in head:
        raise ValueError(f"{endpoint}: {argument} is not a path segment")
    return lambda id_: f"{head}{int(id_)}{tail}"


def format_moment(moment: datetime | None, seconds: bool = False) -> str:
    """A moment for people, in UTC and the page's language: "Dec 1, 2026, 09:30", "1 déc. 2026, 09:30".

    The day as ``|day`` writes it and the time to the minute on a 24-hour clock (the
    screens say "UTC" beside it), joined as CLDR joins them for the language. Stored
    timestamps are UTC; a naive one is read as UTC. ``seconds`` for a log ("09:30:05").
    Machine formats (CSV, the API, ``datetime=`` attributes) keep ISO.
    """
    if moment is None:
        return "—"
    moment = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    locale = get_locale()
    return (get_datetime_format("medium", locale=locale).replace("'", "")
            .replace("{0}", format_time(moment, "HH:mm:ss" if seconds else "HH:mm", tzinfo=timezone.utc, locale=locale))
            .replace("{1}", format_date(moment, "medium", locale=locale)))


def register(app) -> None:
    app.add_template_filter(format_moment, "moment")
    app.add_template_global(page_language)
    app.add_template_global(usage)
    app.add_template_global(page_numbers)
    app.add_template_global(id_url)
    app.add_template_global(BILLING_CYCLES, "billing_cycles")
