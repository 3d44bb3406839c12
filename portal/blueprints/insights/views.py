"""Insight for subscriptions.view (docs/rules.md rule 36): idle seats, sites running out, recurring revenue.

The page shows the first rows of each list (``insights.PAGE_ROWS``) and says
how many more the CSV holds; the CSV has every row. Both read
``portal.domain.insights``, as the API does. Each row links to the page
where it can be acted on: a site's seats (the seat panel's row of the type),
or the client for its revenue.
"""
from flask import request, url_for
from flask_login import current_user

from portal import clock
from portal.blueprints.insights import bp, rows
from portal.domain import insights
from portal.domain.billing.money import decimal_text
from portal.i18n import gettext as _
from portal.rbac.decorators import guard_request, require
from portal.web import csv_export
from portal.web.csv_export import safe_cell
from portal.web.errors import render_error
from portal.web.filters import id_url
from portal.web.rendering import render

# The lists of the CSV: ``?list=`` names one, its columns are these.
CSV_COLUMNS = {
    "idle": ["client_id", "client", "site_id", "site", "subscription_type", "idle_seats", "saving_per_period",
             "currency", "cycle"],
    "running_out": ["client_id", "client", "site_id", "site", "subscription_type", "allocated", "free",
                    "growth_30d", "days_left"],
    "mrr": ["client_id", "client", "billing_cycle", "currency", "mrr", "change_30d"],
}


@bp.before_request
def _require_subscriptions_view():
    response = guard_request()
    if response is not None:
        return response
    require(insights.capability(current_user.organisation))
    return None


def site_url():
    """``site_url(client_id, site_id, code)``: the site page at the type's row of its seat panel.

    Built once per page, the ids put in per row (as ``id_url`` does for one id).
    """
    client_mark, site_mark = "2147483646", "2147483645"
    head, _mark, rest = url_for("sites.detail", client_id=int(client_mark), site_id=int(site_mark)).partition(
        client_mark)
    middle, _mark, tail = rest.partition(site_mark)
    return lambda client_id, site_id, code: f"{head}{int(client_id)}{middle}{int(site_id)}{tail}#seat-{code}"


@bp.route("/insights", endpoint="index")
def index():
    found = insights.insights(current_user, limit=insights.PAGE_ROWS)
    to_site, to_client = site_url(), id_url("clients.detail", "client_id")
    return render("insights/index.html", insights=found,
                  idle_rows=rows.idle_rows(found.idle.rows, to_site),
                  running_out_rows=rows.running_out_rows(found.running_out.rows, to_site),
                  revenue_rows=rows.revenue_rows(found.revenue.clients.rows, to_client))


@bp.route("/insights.csv", endpoint="export")
def export():
    """One list as CSV (``?list=idle``, ``running_out`` or ``mrr``), every row; amounts as decimal text."""
    chosen = request.args.get("list", "")
    if chosen not in CSV_COLUMNS:
        return render_error(422, _("Choose the list to download: idle (idle seats), running_out (sites running "
                                   "out) or mrr (monthly recurring revenue)."))
    actor = current_user._get_current_object()
    today = clock.today()

    def rows():
        if chosen == "idle":
            for row in insights.idle_seats(actor, today=today).rows:
                yield [row.client_id, safe_cell(row.client_name), row.site_id, safe_cell(row.site_name),
                       row.subscription_type, row.idle_seats, decimal_text(row.saving_per_period), row.currency,
                       row.cycle]
        elif chosen == "running_out":
            for row in insights.running_out(actor, today=today).rows:
                yield [row.client_id, safe_cell(row.client_name), row.site_id, safe_cell(row.site_name),
                       row.subscription_type, row.allocated, row.free, row.growth,
                       "" if row.days_left is None else row.days_left]
        else:
            for row in insights.recurring_revenue(actor, today=today).clients.rows:
                yield [row.client_id, safe_cell(row.client_name), row.billing_cycle, row.currency,
                       decimal_text(row.mrr), decimal_text(row.change_30d)]

    return csv_export.csv_response(f"insights-{chosen}-{today.isoformat()}.csv", CSV_COLUMNS[chosen], rows)
