"""Reports for ``permissions.view_margins`` (partner finance, the operator): the margin report.

docs/rules.md rule 23: revenue, cost and margin per client and subscription
type over the documents issued in a range of days, with totals, on screen and
as a streamed CSV. The range is read as people write it: ``from`` and ``to``
are both days included (the API's ``to`` is the first day left out), by default
the current calendar month. A malformed or impossible range is a field error
(422), never a 500.
"""
from datetime import date, timedelta

from flask_login import current_user

from portal import clock
from portal.blueprints.reports import bp
from portal.domain.billing import margins
from portal.domain.billing.money import decimal_text
from portal.domain.errors import Invalid
from portal.extensions import db
from portal.i18n import gettext as _
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.web import csv_export
from portal.web.csv_export import safe_cell
from portal.web.dates import day_arg
from portal.web.rendering import render_page_or_partial

CSV_COLUMNS = ["client_id", "client", "subscription_type", "currency", "revenue", "cost", "margin",
               "margin_percent"]


@bp.before_request
@login_required
def _require_margins_view():
    require(permissions.view_margins(current_user.organisation))


def _this_month() -> tuple[date, date]:
    """The first and the last day of the current calendar month."""
    first = clock.today().replace(day=1)
    following = (first + timedelta(days=31)).replace(day=1)
    return first, following - timedelta(days=1)


def _range():
    """(first day, first day left out) of the asked range, the fields' texts, and a message per bad field."""
    errors = {}
    first, last = _this_month()
    since, since_text = day_arg("from", errors)
    to, to_text = day_arg("to", errors)
    if "from" not in errors and since is None:
        since, since_text = first, first.isoformat()
    if "to" not in errors and to is None:
        to, to_text = last, last.isoformat()
    until = None
    if not errors:
        if to < since:
            errors["to"] = _("The end date is before the start date.")
        elif to == date.max:
            errors["to"] = _("Enter an end date before the year 9999.")
        else:
            until = to + timedelta(days=1)  # the last day shown is included
            try:
                margins.check_range(since, until)
            except Invalid as error:
                errors[error.field or "to"] = error.message
    return (since, until), dict(since=since_text, to=to_text), errors


def _discount():
    """A partner's staff read their discount beside the report; the operator reaches every partner's."""
    organisation = current_user.organisation
    return organisation.discount_bp if organisation.kind == "partner" else None


@bp.route("/margins", endpoint="margins")
def margins_report():
    (since, until), fields, errors = _range()
    report = None if errors else margins.margin_report(current_user, since, until)
    return render_page_or_partial("reports/margins.html", "reports/_margin_table.html", 422 if errors else 200,
                                  report=report, fields=fields, errors=errors, discount_bp=_discount(),
                                  last_day=until - timedelta(days=1) if until else None)


@bp.route("/margins.csv", endpoint="margins_csv")
def margins_csv():
    """The report's rows as CSV, streamed: amounts as decimal text ("1500.00"), the margin % likewise."""
    (since, until), fields, errors = _range()
    if errors:
        return render_page_or_partial("reports/margins.html", "reports/_margin_table.html", 422, report=None,
                                      fields=fields, errors=errors, discount_bp=_discount(), last_day=None)
    query = margins.margins_query(current_user, since, until)

    def rows():
        for client_id, client_name, code, _name, currency, revenue, cost in db.session.execute(
                query.execution_options(yield_per=csv_export.BATCH)):
            revenue, cost = int(revenue or 0), int(cost or 0)
            share = margins.margin_bp(revenue, cost)
            yield [client_id, safe_cell(client_name), code, currency, decimal_text(revenue), decimal_text(cost),
                   decimal_text(revenue - cost), "" if share is None else decimal_text(share)]

    return csv_export.csv_response(f"margins-{since.isoformat()}-{(until - timedelta(days=1)).isoformat()}.csv",
                                   CSV_COLUMNS, rows)
