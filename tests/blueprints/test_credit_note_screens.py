"""Rule 24 on screen: the site page offers the undo and says what it credited; credit notes read negative."""
import csv
import io

from sqlalchemy import select

from portal.extensions import db
from portal.models import Invoice


def allocation_url(site, code):
    return f"/clients/{site.client_id}/sites/{site.id}/allocations/{code}"


def test_plus_offers_the_undo_and_minus_says_what_the_credit_note_gave_back(demo, login_as, assert_fragment):
    finance = login_as("finance@northwind.example")
    raised = assert_fragment(finance.hx_post(allocation_url(demo.lyon, "essentials"),
                                             data={"allocated": "5", "step": "1"}), "seat-panel")
    note = raised.by_id("billing-note").text
    assert "Undo within 7 days for a full credit." in note and "€15.00" in note  # Essentials: 15.00 a month
    assert "Undo within 7 days" in raised.attrs["data-announce"]

    lowered = assert_fragment(finance.hx_post(allocation_url(demo.lyon, "essentials"),
                                              data={"allocated": "6", "step": "-1"}), "seat-panel")
    credit = db.session.scalars(select(Invoice).where(Invoice.kind == "credit_note")).one()
    assert credit.total == -1500  # undone the day it was bought: the full charge back
    assert lowered.by_id("billing-note").text == f"Credit note {credit.number} issued: -€15.00."

    # Without htmx: the same words come as a message after the redirect.
    finance.post(allocation_url(demo.lyon, "essentials"), data={"allocated": "5", "step": "1"})
    page = finance.get(f"/clients/{demo.lyon.client_id}/sites/{demo.lyon.id}").get_data(as_text=True)
    assert "Undo within 7 days for a full credit." in page


def test_credit_notes_are_listed_shown_and_exported_negative(demo, login_as, html):
    finance = login_as("finance@northwind.example")
    finance.post(allocation_url(demo.lyon, "essentials"), data={"allocated": "6"})
    finance.post(allocation_url(demo.lyon, "essentials"), data={"allocated": "5"})
    credit = db.session.scalars(select(Invoice).where(Invoice.kind == "credit_note")).one()

    listing = finance.get("/invoices?kind=credit_note").get_data(as_text=True)
    assert credit.number in listing and "Credit note" in listing and "-€15.00" in listing
    assert "Choose a kind of invoice" not in listing

    detail = finance.get(f"/invoices/{credit.id}").get_data(as_text=True)
    assert "Credit note for seats removed within 7 days" in detail and "-€15.00" in detail
    assert f'href="/invoices/{credit.credits_invoice_id}"' in detail

    rows = list(csv.DictReader(io.StringIO(
        finance.get("/invoices/export.csv?kind=credit_note").get_data(as_text=True))))
    assert [(row["invoice"], row["kind"], row["amount"]) for row in rows] == [(credit.number, "credit_note", "-15.00")]

    audit = login_as("admin@northwind.example").get("/audit?action=invoice.issued").get_data(as_text=True)
    assert f"issued credit note {credit.number} to Acme Dental for invoice" in audit
