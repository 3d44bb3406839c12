"""Invoice list, printable detail, its PDF and a streamed CSV export (per-site chargeback)."""
import re

from flask import current_app, request
from flask_login import current_user
from sqlalchemy.orm import joinedload

from portal.blueprints.invoices import bp
from portal.domain.billing import queries
from portal.domain.billing.money import decimal_text
from portal.extensions import db
from portal.i18n import gettext as _
from portal.models import Invoice, Organisation
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.rbac.scoping import (
    get_invoice_or_404,
    invoice_lines_in_reach,
    reaches_several_partners,
    site_ids_in_reach,
)
from portal.web import csv_export
from portal.web.csv_export import safe_cell
from portal.web.pagination import requested
from portal.web.pdf import pdf_response
from portal.web.rendering import is_htmx, render, render_page_or_partial

CSV_COLUMNS = ["invoice", "kind", "issued_on", "period_start", "period_end", "client", "site",
               "subscription_type", "quantity", "unit_price", "days", "period_days", "amount", "currency"]


def _filters():
    """The list's filters from the query string, with an error for a malformed one."""
    args, errors = request.args, {}
    client_id = args.get("client_id", "")
    kind = args.get("kind", "")
    period = args.get("period", "").strip()
    if client_id and not re.fullmatch(r"[0-9]{1,12}", client_id):
        errors["client_id"], client_id = _("Choose a client from the list."), ""
    if kind not in ("", "period", "proration", "credit_note"):
        errors["kind"], kind = _("Choose a kind of invoice from the list."), ""
    if period and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        errors["period"], period = _("Enter a month as YYYY-MM, e.g. 2027-01."), ""
    return dict(client_id=int(client_id) if client_id else None, kind=kind, period=period), errors


def _invoices(filters):
    return queries.invoices_query(current_user, client_id=filters["client_id"], kind=filters["kind"],
                                  period=filters["period"])


@bp.before_request
@login_required
def _require_billing_view():
    require(permissions.view_invoices(current_user.organisation))


@bp.route("")
def index():
    filters, errors = _filters()
    # The operator reaches every partner's invoices: each row names its partner (the client's).
    show_partner = reaches_several_partners(current_user)
    client = joinedload(Invoice.client)
    listing = requested(_invoices(filters).order_by(Invoice.issued_on.desc(), Invoice.sequence.desc()),
                        current_app.config["USERS_PER_PAGE"],
                        options=(client.joinedload(Organisation.parent) if show_partner else client,))
    table = dict(invoices=listing.rows, total=listing.total, page=listing.page, pages=listing.pages,
                 filters=filters, errors=errors, show_partner=show_partner,
                 partner_links=show_partner and permissions.manage_partners().can())
    status = 422 if errors else 200
    if is_htmx():
        return render("invoices/_table.html", status, **table)
    # Only the whole page has the filter form, and its client choices.
    return render("invoices/index.html", status, clients=queries.client_choices(current_user), **table)


@bp.route("/<id:invoice_id>")
def detail(invoice_id):
    invoice = get_invoice_or_404(invoice_id)
    lines = invoice_lines_in_reach(current_user, invoice)
    return render_page_or_partial("invoices/detail.html", "invoices/detail.html", invoice=invoice, lines=lines,
                                  restricted=len(lines) != len(invoice.lines),
                                  subtotal=sum(line.amount for line in lines))


@bp.route("/<id:invoice_id>.pdf")
def pdf(invoice_id):
    """The invoice as a PDF document (docs/rules.md rule 26), in the reader's language; the lines as on
    the detail screen (a reader restricted to some sites: theirs, as an extract)."""
    invoice = get_invoice_or_404(invoice_id)
    return pdf_response(invoice, invoice_lines_in_reach(current_user, invoice))


@bp.route("/export.csv")
def export():
    """Every visible invoice line as CSV, streamed: memory stays flat at any size."""
    filters, errors = _filters()
    organisation = current_user.organisation
    # An accountant limited to some sites sees only their lines.
    reach = (site_ids_in_reach(current_user, organisation, permissions.view_invoices)
             if organisation.kind == "client" else None)
    query = queries.invoice_lines_query(_invoices(filters), reach)

    def rows():
        for row in db.session.execute(query.execution_options(yield_per=csv_export.BATCH)):
            yield [*row[:5], safe_cell(row[5]), safe_cell(row[6]), row[7], row[8], decimal_text(row[9]), row[10],
                   row[11], decimal_text(row[12]), row[13]]

    return csv_export.csv_response("invoice-lines.csv", CSV_COLUMNS, rows)

