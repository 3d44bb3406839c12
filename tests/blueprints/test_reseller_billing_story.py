"""Issue 13's "done when", on screen, end to end (docs/rules.md rules 22-26).

A finance admin sets a price book and a client price, sees them reach the
next period, reads margins per client, undoes a mistaken "+" within the
window for a full credit, and downloads a PDF invoice with tax and both
parties; a client accountant sees none of the cost.
"""
import io
from datetime import timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal.domain.billing.run import run_billing
from portal.extensions import db
from portal.models import Invoice, Organisation


def pdf_text(response) -> str:
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.data)).pages)


def allocation_url(site, code):
    return f"/clients/{site.client_id}/sites/{site.id}/allocations/{code}"


@pytest.fixture
def finance(demo, login_as):
    return login_as("finance@northwind.example")


def test_a_finance_admin_runs_prices_margins_undo_and_pdf_and_the_accountant_sees_no_cost(
        demo, finance, login_as, html, on):
    acme = demo.acme
    next_period = acme.period_end

    # Prices: the price book and a client price, each shown with the day it reaches Acme.
    assert finance.post("/price-book/essentials", data={"monthly": "18.00", "annual": "180.00"}).status_code == 303
    assert finance.post(f"/clients/{acme.id}/prices/unlimited", data={"monthly": "25", "annual": "250"}) \
        .status_code == 303
    page = html(finance.get(f"/clients/{acme.id}"))
    assert page.by_id("price-essentials").cells()[1:4] == [
        "€15.00 per month", f"€18.00 from {next_period:%b} {next_period.day}, {next_period.year}", "Your price book"]
    assert page.by_id("price-unlimited").cells()[3] == "The client's own price"

    # A mistaken "+" this period is at this period's price, and undone within the window for a full credit.
    finance.post(allocation_url(demo.lyon, "essentials"), data={"allocated": "6"})
    finance.post(allocation_url(demo.lyon, "essentials"), data={"allocated": "5"})
    db.session.rollback()
    proration, credit = db.session.scalars(select(Invoice).where(Invoice.client_id == acme.id,
                                                                 Invoice.kind != "period")
                                           .order_by(Invoice.sequence)).all()
    assert proration.lines[0].unit_price == 1500 and credit.total == -proration.total
    assert credit.tax == -proration.tax and credit.total_with_tax == -proration.total_with_tax

    # The next period is billed at the new prices.
    on(next_period)
    run_billing()
    db.session.rollback()
    invoice = db.session.scalars(select(Invoice).where(Invoice.client_id == acme.id, Invoice.kind == "period",
                                                       Invoice.period_start == next_period)).one()
    assert {(line.site_name, line.subscription_type_code): line.unit_price for line in invoice.lines} == {
        ("Lyon", "essentials"): 1800, ("Lyon", "unlimited"): 2500, ("Paris", "essentials"): 1800,
        ("Paris", "support"): 0}
    assert invoice.total == 8 * 1800 + 2 * 2500 and invoice.tax == invoice.total // 5  # 20 % VAT
    assert invoice.total_with_tax == invoice.total + invoice.tax

    # Margins per client: the +/− pair nets to nothing; the new period's Essentials earn 6.00 a seat.
    margins = html(finance.get(f"/reports/margins?from={next_period}&to={next_period}"))
    assert margins.by_id(f"margin-{acme.id}-essentials-eur").cells()[2:5] == ["€144.00", "€96.00", "€48.00"]
    earlier = next_period - timedelta(days=1)
    margins = html(finance.get(f"/reports/margins?from={earlier}&to={earlier}"))
    assert margins.by_id(f"margin-{acme.id}-essentials-eur") is None or \
        margins.by_id(f"margin-{acme.id}-essentials-eur").cells()[2] == "€0.00"

    # The PDF: number, both parties, tax and totals.
    northwind, acme_row = db.session.get(Organisation, acme.parent_id), db.session.get(Organisation, acme.id)
    text = pdf_text(finance.get(f"/invoices/{invoice.id}.pdf"))
    for expected in (invoice.number, northwind.legal_name, acme_row.legal_name, "€194.00", "€38.80", "€232.80"):
        assert expected in text, (expected, text)

    # The accountant reads the invoice and its PDF, and nowhere any cost.
    accountant = login_as("accountant@acme.example")
    for url in (f"/invoices/{invoice.id}", f"/clients/{acme.id}", "/invoices"):
        body = accountant.get(url).get_data(as_text=True)
        assert "€12.00" not in body and "cost" not in body.lower(), url
    accountant_pdf = pdf_text(accountant.get(f"/invoices/{invoice.id}.pdf"))
    assert "€12.00" not in accountant_pdf and "cost" not in accountant_pdf.lower()
