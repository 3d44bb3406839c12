"""The margin report (``margins.view``; docs/rules.md rule 23): revenue, cost and margin per client and type."""
from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.registry import operation, read_query
from portal.blueprints.api.schemas import MarginReportOut, MarginsQuery
from portal.domain.billing import margins
from portal.domain.billing.invoices import catalogue_currency
from portal.rbac import permissions


@operation("GET", "/reports/margins", summary="Revenue, cost and margin per client and subscription type",
           permission=permissions.view_margins, response=MarginReportOut, query=MarginsQuery, errors=(403, 409))
def margin_report():
    """Over the documents issued from ``from`` (included) to ``to`` (left out) in reach: one item per client
    and subscription type, and the totals. A range ending before it starts, or longer than 400 days: 422.
    Amounts of several currencies are never added up: a range whose documents are in more than one
    currency answers 409."""
    user = actor()
    require(permissions.view_margins(user.organisation))
    params = read_query()
    report = margins.margin_report(user, params.since, params.until)
    currencies = {total.currency for total in report.totals}
    if len(currencies) > 1:
        raise ApiError(409, "The documents of this range are in several currencies ("
                       + ", ".join(sorted(currencies)) + "); their amounts cannot be added up.",
                       code="conflict")

    def money(amount, currency):
        return {"amount": amount, "currency": currency}

    items = [{"client_id": row.client_id, "client_name": row.client_name, "subscription_type": row.subscription_type,
              "revenue": money(row.revenue, row.currency), "cost": money(row.cost, row.currency),
              "margin": money(row.margin, row.currency)} for row in report.rows]
    total = report.totals[0] if report.totals else margins.MarginTotals(catalogue_currency(), 0, 0)
    return {"items": items, "totals": {"revenue": money(total.revenue, total.currency),
                                       "cost": money(total.cost, total.currency),
                                       "margin": money(total.margin, total.currency)}}
