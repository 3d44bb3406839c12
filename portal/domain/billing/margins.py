"""The margin report (docs/rules.md rule 23): revenue, cost and margin per client and subscription type.

Over the documents issued in ``[since, until)`` (days of issue; every kind:
period invoices and prorations, and credit notes once they exist, whose
negative lines count against the rest) that the actor reaches through
``portal.rbac.scoping.invoice_filter``: a partner's own, everything for the
operator. Revenue is the sum of the lines' amounts, cost the sum of the costs
copied on them when they were issued, margin the difference. Only
``margins.view`` reads it: the functions refuse anyone else (``Forbidden``).

One aggregate statement (GROUP BY client, type and currency), whatever the
number of invoices; the screen, its CSV and the API read the same statement.
Amounts are never added across currencies: each row has one, and the totals
are one per currency.
"""
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, select

from portal.domain.billing.money import half_up
from portal.domain.errors import Forbidden, Invalid
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import ngettext
from portal.models import Invoice, InvoiceLine, Organisation, SubscriptionType
from portal.rbac.permissions import may, view_margins
from portal.rbac.scoping import invoice_filter

# The longest range a report covers, in days: a year and a month to spare.
MAX_DAYS = 400


def margin_bp(revenue: int, cost: int) -> int | None:
    """The margin as a share of the revenue, in basis points rounded half-up (2500 = 25 %); None without revenue."""
    if revenue == 0:
        return None
    margin = (revenue - cost) * 10_000
    # A group of credits only (negative revenue) keeps the sign its margin has against its revenue.
    return half_up(margin, revenue) if revenue > 0 else half_up(-margin, -revenue)


class _Margin:
    """Margin and margin rate of anything with ``revenue`` and ``cost`` (a row, a total)."""

    revenue: int
    cost: int

    @property
    def margin(self) -> int:
        return self.revenue - self.cost

    @property
    def margin_bp(self) -> int | None:
        return margin_bp(self.revenue, self.cost)


@dataclass(frozen=True)
class MarginRow(_Margin):
    """One client and subscription type (in one currency) over the range."""

    client_id: int
    client_name: str
    subscription_type: str  # the code
    subscription_type_name: str
    currency: str
    revenue: int
    cost: int


@dataclass(frozen=True)
class MarginTotals(_Margin):
    """Every row of one currency added up."""

    currency: str
    revenue: int
    cost: int


@dataclass(frozen=True)
class MarginReport:
    since: date
    until: date  # the first day left out
    rows: list[MarginRow]
    totals: list[MarginTotals]  # one per currency of the rows, by currency; none without rows


def check_range(since: date, until: date, *, since_field: str = "from", until_field: str = "to") -> None:
    """A report's range: ``until`` (left out) not before ``since``, at most MAX_DAYS days; else ``Invalid``."""
    if until < since:
        raise Invalid(_("The end date is before the start date."), field=until_field)
    if (until - since).days > MAX_DAYS:
        raise Invalid(ngettext("A report covers at most %(num)d day; choose a shorter range.",
                               "A report covers at most %(num)d days; choose a shorter range.", MAX_DAYS),
                      field=until_field)


def _allowed(actor) -> None:
    if not may(actor, view_margins(actor.organisation)):
        raise Forbidden(_("Only finance administrators see costs and margins."))


def margins_query(actor, since: date, until: date) -> Select:
    """The report's one aggregate statement, rows in client name then type code order.

    Columns: client id, client name, type code, type name, currency, revenue, cost.
    Checks the actor (``margins.view``) and the range first.
    """
    _allowed(actor)
    check_range(since, until)
    query = (
        select(Invoice.client_id, Organisation.name, SubscriptionType.code, SubscriptionType.name,
               Invoice.currency, func.sum(InvoiceLine.amount), func.sum(InvoiceLine.cost))
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .join(Organisation, Organisation.id == Invoice.client_id)
        .join(SubscriptionType, SubscriptionType.id == InvoiceLine.subscription_type_id)
        .where(Invoice.issued_on >= since, Invoice.issued_on < until)
        .group_by(Invoice.client_id, Organisation.name, SubscriptionType.code, SubscriptionType.name,
                  Invoice.currency)
        .order_by(Organisation.name, Invoice.client_id, SubscriptionType.code, Invoice.currency)
    )
    return invoice_filter(actor, query)


def margin_report(actor, since: date, until: date) -> MarginReport:
    """Revenue, cost and margin per client and type over documents issued in ``[since, until)``, with totals.

    ``margins.view`` only (``Forbidden``); a range ending before it starts or
    longer than MAX_DAYS days is ``Invalid`` (field ``to``). One statement.
    """
    rows = [MarginRow(client_id, client_name, code, name, currency, int(revenue or 0), int(cost or 0))
            for client_id, client_name, code, name, currency, revenue, cost
            in db.session.execute(margins_query(actor, since, until))]
    sums: dict[str, list[int]] = {}
    for row in rows:  # the groups of the one statement, not invoices
        total = sums.setdefault(row.currency, [0, 0])
        total[0] += row.revenue
        total[1] += row.cost
    totals = [MarginTotals(currency, revenue, cost) for currency, (revenue, cost) in sorted(sums.items())]
    return MarginReport(since, until, rows, totals)
