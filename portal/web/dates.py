"""Days typed into a filter's ``from`` and ``to`` fields (the audit log, the margin report)."""
import re
from datetime import date

from flask import request

from portal.i18n import gettext as _

_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def day_arg(name: str, errors: dict) -> tuple[date | None, str]:
    """The query string's ``name`` as a day written YYYY-MM-DD: (the day, its text); (None, "") when absent.

    A malformed or impossible day puts a message under ``name`` in ``errors``
    (the start date's for ``from``, else the end date's) and reads as absent.
    """
    text = request.args.get(name, "").strip()
    if not text:
        return None, ""
    try:
        if not _DAY.fullmatch(text):
            raise ValueError
        return date.fromisoformat(text), text
    except ValueError:
        errors[name] = (_("Enter the start date as YYYY-MM-DD, e.g. 2027-01-31.") if name == "from" else
                        _("Enter the end date as YYYY-MM-DD, e.g. 2027-01-31."))
        return None, ""
