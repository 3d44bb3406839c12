"""Stored codes shown to people as words in their language (docs/rules.md rule 37).

The codes stay what they are in the database, the API, CSV exports and form option
values; only what a person reads goes through these labels. The labels are lazy
(``_l``): they are read in the language of the request that renders them. A code
without a label (one added later) shows as it is rather than failing.
"""
from datetime import date, timedelta

from portal.i18n import _l

BILLING_CYCLE_LABELS = {"monthly": _l("Monthly"), "annual": _l("Annual")}
INVOICE_KIND_LABELS = {"period": _l("Period"), "proration": _l("Proration"), "credit_note": _l("Credit note")}
# The invoice page's longer words for its kind.
INVOICE_KIND_DESCRIPTIONS = {"period": _l("Period invoice"), "proration": _l("Prorated seat addition"),
                             "credit_note": _l("Credit note for seats removed within 7 days")}
# A price's cycle after the amount: "15.00 € per month".
PER_CYCLE_LABELS = {"monthly": _l("per month"), "annual": _l("per year")}
# Where a client's price comes from (docs/rules.md rule 22; the API's ``source``).
PRICE_SOURCE_LABELS = {"client": _l("The client's own price"), "price_book": _l("Your price book"),
                       "list": _l("The list price")}
USER_STATUS_LABELS = {"invited": _l("Invited"), "active": _l("Active"), "deactivated": _l("Deactivated")}
# A seat request's status, and "all" for the queue's tab of every request.
REQUEST_STATUS_LABELS = {"pending": _l("Waiting"), "approved": _l("Approved"), "declined": _l("Declined"),
                         "all": _l("All")}


def _label(labels: dict, code) -> str:
    return str(labels[code]) if code in labels else ("—" if code is None else str(code))


def cycle_label(code) -> str:
    return _label(BILLING_CYCLE_LABELS, code)


def kind_label(code) -> str:
    return _label(INVOICE_KIND_LABELS, code)


def kind_description(code) -> str:
    return _label(INVOICE_KIND_DESCRIPTIONS, code)


def per_cycle(code) -> str:
    return _label(PER_CYCLE_LABELS, code)


def price_source_label(code) -> str:
    return _label(PRICE_SOURCE_LABELS, code)


def status_label(code) -> str:
    return _label(USER_STATUS_LABELS, code)


def request_status_label(code) -> str:
    return _label(REQUEST_STATUS_LABELS, code)


def last_day(end: date | None) -> date | None:
    """The last day of a period stored with its end excluded: people read periods with an
    inclusive end date (docs/rules.md screen 15)."""
    return end - timedelta(days=1) if end is not None else None


def template_helpers() -> dict:
    """A blueprint's context processor: ``cycle_label``, ``kind_label``, ``status_label``, ``last_day``…"""
    return dict(cycle_label=cycle_label, kind_label=kind_label, kind_description=kind_description,
                status_label=status_label, request_status_label=request_status_label, last_day=last_day,
                per_cycle=per_cycle, price_source_label=price_source_label)
