"""Invoices: period and prorated charges and credit notes, with their per-site lines, tax and parties; as PDF."""
from sqlalchemy.orm import joinedload, selectinload

from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.pagination import page_body, page_of
from portal.blueprints.api.registry import operation, read_query
from portal.blueprints.api.schemas import InvoiceOut, InvoicesQuery, Page
from portal.domain.billing.queries import invoices_query
from portal.domain.orgs.legal import PARTY_KEYS
from portal.models import Invoice
from portal.rbac import permissions
from portal.rbac.scoping import get_client_or_404, get_invoice_or_404, invoice_lines_in_reach
from portal.web import pdf


def invoice_out(invoice: Invoice) -> dict:
    """The invoice with the lines the caller may read (an accountant limited to sites: theirs)."""
    money = lambda amount: {"amount": amount, "currency": invoice.currency}  # noqa: E731
    lines = invoice_lines_in_reach(actor(), invoice)
    return {"id": invoice.id, "number": invoice.number, "client_id": invoice.client_id, "kind": invoice.kind,
            "period_start": invoice.period_start, "period_end": invoice.period_end,
            "issued_on": invoice.issued_on, "total": money(invoice.total),
            "tax_rate_bp": invoice.tax_rate_bp, "tax": money(invoice.tax),
            "total_with_tax": money(invoice.total_with_tax),
            "seller": _party(invoice.seller), "buyer": _party(invoice.buyer),
            "credits_invoice_id": invoice.credits_invoice_id,
            "lines": [{"site_id": line.site_id, "subscription_type": line.subscription_type_code,
                       "quantity": line.quantity, "unit_price": money(line.unit_price), "days": line.days,
                       "amount": money(line.amount)} for line in lines]}


def _party(snapshot: dict) -> dict:
    """A snapshot's three keys, whatever else an older one may hold."""
    return {key: (snapshot or {}).get(key) or "" for key in PARTY_KEYS}


@operation("GET", "/invoices", summary="Invoices, newest first", permission=permissions.view_invoices,
           response=Page[InvoiceOut], query=InvoicesQuery, errors=(403, 404))
def list_invoices():
    """Invoices of every client in reach, or of ``client_id`` only (404 if out of reach)."""
    user = actor()
    require(permissions.view_invoices(user.organisation))
    params = read_query()
    client_id = None
    if params.client_id is not None:
        client_id = get_client_or_404(params.client_id, user).id
    query = invoices_query(user, client_id=client_id).order_by(Invoice.issued_on.desc(), Invoice.id.desc())
    page = page_of(query, params, options=(selectinload(Invoice.lines), joinedload(Invoice.client)))
    return page_body([invoice_out(invoice) for invoice in page.rows], page)


@operation("GET", "/invoices/{invoice_id}", summary="One invoice", permission=permissions.view_invoices,
           response=InvoiceOut, errors=(403,))
def get_invoice(invoice_id):
    """The invoice with its lines (an accountant limited to some sites sees their lines only)."""
    user = actor()
    invoice = get_invoice_or_404(invoice_id, user)
    require(permissions.view_invoices(invoice.client))
    return invoice_out(invoice)


@operation("GET", "/invoices/{invoice_id}/pdf", summary="One invoice as a PDF document",
           permission=permissions.view_invoices, errors=(403,), media_type=pdf.MEDIA_TYPE,
           description="The invoice or credit note as a PDF (docs/rules.md rule 26), in English: seller, buyer, "
                       "number, dates, the period (end included), the lines per site and type, tax and totals. "
                       "Sent as an attachment named after the invoice number. An accountant limited to some "
                       "sites gets an extract of their lines.")
def get_invoice_pdf(invoice_id):
    user = actor()
    invoice = get_invoice_or_404(invoice_id, user)
    require(permissions.view_invoices(invoice.client))
    return pdf.pdf_response(invoice, invoice_lines_in_reach(user, invoice))
