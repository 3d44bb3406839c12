"""The client and site pages' words for codes and lists (docs/rules.md rule 37).

The shared labels (cycles, statuses, ``last_day``) are portal/web/labels.py's; these are
the few the client pages add: a cycle inside a sentence, and a list read "A, B or C".
"""
from babel.lists import format_list
from flask_babel import get_locale
from markupsafe import Markup, escape

from portal.i18n import _l
from portal.web import labels as shared

# Inside a sentence ("Withdraw the change to annual billing? The client stays on monthly billing.").
CYCLE_IN_SENTENCE = {"monthly": _l("monthly billing"), "annual": _l("annual billing")}


def cycle_in_sentence(code) -> str:
    return str(CYCLE_IN_SENTENCE[code]) if code in CYCLE_IN_SENTENCE else shared.cycle_label(code)


def or_list(items) -> Markup:
    """Items joined as the page's language joins alternatives ("A, B or C", "A, B ou C");
    each item is escaped unless it is already Markup."""
    items = [str(escape(item)) for item in items]
    return Markup(format_list(items, style="or", locale=get_locale())) if items else Markup("")


def template_helpers() -> dict:
    """The context processor of the client and site blueprints."""
    return dict(shared.template_helpers(), cycle_in_sentence=cycle_in_sentence, or_list=or_list)
