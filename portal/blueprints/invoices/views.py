"""Invoice list, printable detail and a streamed CSV export (per-site chargeback)."""
import re
from datetime import date

from flask import current_app, request
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from portal.blueprints.invoices import bp
from portal.extensions import db
from portal.models import Invoice, InvoiceLine, Organisation
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.rbac.scoping import (
    client_filter,
    get_invoice_or_404,
    invoice_filter,
    invoice_lines_in_reach,
    site_ids_in_reach,
)
from portal.web import csv_export
from portal.web.csv_export import safe_cell
from portal.web.pagination import page_window
from portal.web.rendering import render_page_or_partial

CSV_COLUMNS = ["invoice", "kind", "issued_on", "period_start", "period_end", "client", "site",
               "subscription_type", "quantity", "unit_price", "days", "period_days", "amount", "currency"]


def _filters():
    """The list's filters from the query string, with an error for a malformed one."""
    args, errors = request.args, {}
    client_id = args.get("client_id", "")
    kind = args.get("kind", "")
    period = args.get("period", "").strip()
    if client_id and not re.fullmatch(r"[0-9]{1,12}", client_id):
        errors["client_id"], client_id = "Choose a client from the list.", ""
    if kind not in ("", "period", "proration"):
        errors["kind"], kind = "Choose period or proration.", ""
    if period and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        errors["period"], period = "Enter a month as YYYY-MM, e.g. 2027-01.", ""
    return dict(client_id=int(client_id) if client_id else None, kind=kind, period=period), errors


def _scoped_invoices(filters):
    query = invoice_filter(current_user, select(Invoice))
    if filters["client_id"]:
        query = query.where(Invoice.client_id == filters["client_id"])
    if filters["kind"]:
        query = query.where(Invoice.kind == filters["kind"])
    if filters["period"]:
        year, month = map(int, filters["period"].split("-"))
        first = date(year, month, 1)
        following = date(year + month // 12, month % 12 + 1, 1)
        query = query.where(Invoice.period_start >= first, Invoice.period_start < following)
    return query


@bp.before_request
@login_required
def _require_billing_view():
    require(permissions.view_invoices(current_user.organisation))


@bp.route("")
def index():
    filters, errors = _filters()
    query = _scoped_invoices(filters)
    per_page = current_app.config["USERS_PER_PAGE"]
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page, pages = page_window(total, per_page)
    rows = db.session.scalars(
        query.options(joinedload(Invoice.client)).order_by(Invoice.issued_on.desc(), Invoice.sequence.desc())
        .limit(per_page).offset((page - 1) * per_page)).all()
    choices = db.session.execute(
        client_filter(current_user, select(Organisation.id, Organisation.name)).order_by(Organisation.name)
        .limit(500)).all()
    status = 422 if errors else 200
    return render_page_or_partial("invoices/index.html", "invoices/_table.html", status, invoices=rows,
                                  total=total, page=page, pages=pages, filters=filters, errors=errors,
                                  clients=choices)


@bp.route("/<id:invoice_id>")
def detail(invoice_id):
    invoice = get_invoice_or_404(invoice_id)
    lines = invoice_lines_in_reach(current_user, invoice)
    return render_page_or_partial("invoices/detail.html", "invoices/detail.html", invoice=invoice, lines=lines,
                                  restricted=len(lines) != len(invoice.lines),
                                  subtotal=sum(line.amount for line in lines))


@bp.route("/export.csv")
def export():
    """Every visible invoice line as CSV, streamed: memory stays flat at any size."""
    filters, errors = _filters()
    invoices = _scoped_invoices(filters).subquery()
    query = (
        select(invoices.c.number, invoices.c.kind, invoices.c.issued_on, invoices.c.period_start,
               invoices.c.period_end, Organisation.name, InvoiceLine.site_name, InvoiceLine.subscription_type_code,
               InvoiceLine.quantity, InvoiceLine.unit_price, InvoiceLine.days, InvoiceLine.period_days,
               InvoiceLine.amount, invoices.c.currency, InvoiceLine.site_id, invoices.c.client_id)
        .join(InvoiceLine, InvoiceLine.invoice_id == invoices.c.id)
        .join(Organisation, Organisation.id == invoices.c.client_id)
        .order_by(invoices.c.sequence, InvoiceLine.id)
    )
    organisation = current_user.organisation
    reach = site_ids_in_reach(current_user, organisation) if organisation.kind == "client" else None
    if reach is not None:  # an accountant limited to some sites sees only their lines
        query = query.where(InvoiceLine.site_id.in_(reach))

    def rows():
        for row in db.session.execute(query.execution_options(yield_per=csv_export.BATCH)):
            yield [*row[:5], safe_cell(row[5]), safe_cell(row[6]), row[7], row[8], _decimal(row[9]), row[10],
                   row[11], _decimal(row[12]), row[13]]

    return csv_export.csv_response("invoice-lines.csv", CSV_COLUMNS, rows)


def _decimal(minor_units: int) -> str:
    return f"{minor_units // 100}.{minor_units % 100:02d}"
