"""Invoices and credit notes as PDF documents (docs/rules.md rule 26), made with WeasyPrint.

The document is rendered from a Jinja template (``invoices/document.html``,
its print CSS inline) in the language of the request that asks for it (the
screens: the reader's; the API: always English), then laid out by WeasyPrint.
The system needs Pango (and its fonts: DejaVu Sans is named first, so Polish
and French letters print); see README, "Requirements".

Only what the invoice screen shows goes in: never a cost or a margin (rule 23).
A reader restricted to some sites gets their lines and subtotal only, marked
as an extract, as the screen shows them.
"""
from datetime import date

from babel.dates import format_interval
from flask import current_app, render_template
from flask_babel import get_locale

from portal.domain import mail
from portal.extensions import db
from portal.models import Invoice, User
from portal.rbac.scoping import invoice_lines_in_reach
from portal.web.labels import last_day, template_helpers

MEDIA_TYPE = "application/pdf"


def _no_fetching(url, *args, **kwargs):
    """Nothing is fetched while laying out an invoice: no file, no network (every resource is inline)."""
    raise ValueError(f"invoice documents fetch nothing: {url}")


def period_text(start: date, end: date) -> str:
    """A period stored with its end excluded, as people read it, end included: "Dec 1 – 31, 2026",
    "1–31 déc. 2026" (CLDR's interval, in the request's language)."""
    return format_interval(start, last_day(end), "yMMMd", locale=get_locale() or "en")


def invoice_pdf(invoice: Invoice, lines: list) -> bytes:
    """The PDF of ``invoice`` showing ``lines`` (all of them, or those of a restricted reader's sites)."""
    from weasyprint import HTML  # imported when first needed: it loads Pango, which the rest never needs

    restricted = len(lines) != len(invoice.lines)
    html = render_template("invoices/document.html", invoice=invoice, lines=lines, restricted=restricted,
                           subtotal=sum(line.amount for line in lines), period=period_text(
                               invoice.period_start, invoice.period_end), **template_helpers())
    return HTML(string=html, url_fetcher=_no_fetching).write_pdf()


def pdf_response(invoice: Invoice, lines: list):
    """The PDF as a download named after the invoice number (``NW-000042.pdf``)."""
    response = current_app.response_class(invoice_pdf(invoice, lines), mimetype=MEDIA_TYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{invoice.number}.pdf"'
    # An invoice is personal data: no shared cache keeps it.
    response.headers["Cache-Control"] = "private, no-store"
    return response


@mail.attachment_builder("invoice")
def invoice_attachment(reference: str) -> mail.Attachment:
    """``invoice:<invoice id>:<user id>``: the invoice's PDF as that user may read it now, for the e-mail
    telling them it was issued (docs/rules.md rule 33). A reader who left, or whose sites are no longer
    on it, gets no PDF: the message fails for good rather than show them what they may not read."""
    invoice_id, _, user_id = reference.partition(":")
    invoice = db.session.get(Invoice, int(invoice_id)) if invoice_id.isdigit() else None
    reader = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    lines = invoice_lines_in_reach(reader, invoice) if invoice and reader and reader.status == "active" else []
    if not lines:
        raise mail.MailError(f"invoice {invoice_id} is not for user {user_id} to read", permanent=True)
    document = mail.Attachment(f"{invoice.number}.pdf", MEDIA_TYPE, invoice_pdf(invoice, lines))
    db.session.rollback()  # no transaction held open while SMTP talks
    return document
