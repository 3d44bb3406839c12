"""Read models of invoices for the screens and the API: the list, its filters and the lines export.

Scoped to what the actor may read (``portal.rbac.scoping.invoice_filter``);
never reads the request: the caller hands in the filters it parsed.
"""
from datetime import date

from sqlalchemy import Select, select

from portal.extensions import db
from portal.models import Invoice, InvoiceLine, Organisation
from portal.rbac.scoping import client_filter, invoice_filter

CLIENT_CHOICES_SHOWN = 500


def month_bounds(period: str) -> tuple[date, date]:
    """``"YYYY-MM"`` as (first day of that month, first day of the next)."""
    year, month = map(int, period.split("-"))
    return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)


def invoices_query(actor, *, client_id: int | None = None, kind: str | None = None,
                   period: str | None = None) -> Select:
    """The invoices ``actor`` may read, of one client, one kind (period / proration) and one
    month of ``period_start`` (``"YYYY-MM"``) when given. Unordered: the caller orders."""
    query = invoice_filter(actor, select(Invoice))
    if client_id:
        query = query.where(Invoice.client_id == client_id)
    if kind:
        query = query.where(Invoice.kind == kind)
    if period:
        first, following = month_bounds(period)
        query = query.where(Invoice.period_start >= first, Invoice.period_start < following)
    return query


def client_choices(actor) -> list[tuple[int, str]]:
    """(id, name) of the clients ``actor`` reaches, by name, at most 500: the list's client filter."""
    query = client_filter(actor, select(Organisation.id, Organisation.name)).order_by(Organisation.name)
    return [tuple(row) for row in db.session.execute(query.limit(CLIENT_CHOICES_SHOWN))]


def invoice_lines_query(invoices: Select, reach: set[int] | None) -> Select:
    """The lines of ``invoices`` (a statement such as ``invoices_query``'s) for the CSV export, in
    invoice then line order, with the invoice and client columns; only the lines of the sites in
    ``reach`` unless None (an accountant limited to some sites).

    Columns: number, kind, issued_on, period_start, period_end, client name, site name, type code,
    quantity, unit_price, days, period_days, amount, currency, site_id, client_id.
    """
    chosen = invoices.subquery()
    query = (
        select(chosen.c.number, chosen.c.kind, chosen.c.issued_on, chosen.c.period_start,
               chosen.c.period_end, Organisation.name, InvoiceLine.site_name, InvoiceLine.subscription_type_code,
               InvoiceLine.quantity, InvoiceLine.unit_price, InvoiceLine.days, InvoiceLine.period_days,
               InvoiceLine.amount, chosen.c.currency, InvoiceLine.site_id, chosen.c.client_id)
        .join(InvoiceLine, InvoiceLine.invoice_id == chosen.c.id)
        .join(Organisation, Organisation.id == chosen.c.client_id)
        .order_by(chosen.c.sequence, InvoiceLine.id)
    )
    if reach is not None:
        query = query.where(InvoiceLine.site_id.in_(reach))
    return query
