"""Rules 25 and 26 through the API: invoices carry tax and both parties; each is a PDF at /invoices/{id}/pdf."""
import io

from api_helpers import assert_error
from pypdf import PdfReader
from sqlalchemy import select

from portal.blueprints.api.openapi import document
from portal.extensions import db
from portal.models import Invoice


def acme_invoice(demo) -> Invoice:
    return db.session.scalar(select(Invoice).where(Invoice.client_id == demo.acme.id).order_by(Invoice.id))


def test_an_invoice_carries_its_tax_and_both_parties(api_as, demo):
    body = api_as("acme_admin").get(f"/api/v1/invoices/{acme_invoice(demo).id}").get_json()
    assert body["total"] == {"amount": 17800, "currency": "EUR"}
    assert body["tax_rate_bp"] == 2000
    assert body["tax"] == {"amount": 3560, "currency": "EUR"}
    assert body["total_with_tax"] == {"amount": 21360, "currency": "EUR"}
    assert body["seller"] == {"legal_name": "Northwind Telecom SAS", "vat_number": "FR12345678901",
                              "address": "12 rue de la République\n13001 Marseille\nFrance"}
    assert body["buyer"] == {"legal_name": "Acme Dental SARL", "vat_number": "FR98765432109",
                             "address": "3 rue Nationale\n59000 Lille\nFrance"}
    assert not [key for key in body if "cost" in key or "margin" in key]


def test_a_credit_notes_tax_is_negative(api_as, demo):
    finance = api_as("nw_finance")
    url = f"/api/v1/sites/{demo.lyon.id}/allocations/essentials"
    finance.put(url, json={"allocated": 6})
    note_id = finance.put(url, json={"allocated": 5}).get_json()["credit_note_id"]
    note = finance.get(f"/api/v1/invoices/{note_id}").get_json()
    assert (note["kind"], note["total"]["amount"], note["tax_rate_bp"], note["tax"]["amount"],
            note["total_with_tax"]["amount"]) == ("credit_note", -1500, 2000, -300, -1800)


def test_the_pdf_is_an_english_attachment_named_after_the_number(api_as, demo):
    invoice = acme_invoice(demo)
    response = api_as("acme_accountant").get(f"/api/v1/invoices/{invoice.id}/pdf",
                                             headers={"Accept-Language": "fr"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/pdf"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert response.data.startswith(b"%PDF")
    text = " ".join(PdfReader(io.BytesIO(response.data)).pages[0].extract_text().split())
    assert f"Invoice {invoice.number}" in text and "Total with tax €213.60" in text  # English, whatever was asked
    assert "Acme Dental SARL" in text and "Northwind Telecom SAS" in text


def test_the_pdf_is_refused_outside_reach_without_billing_view_and_without_a_token(api_as, anonymous, demo):
    url = f"/api/v1/invoices/{acme_invoice(demo).id}/pdf"
    assert_error(api_as("sw_admin").get(url), 404, "not_found")
    assert_error(api_as("globex_admin").get(url), 404, "not_found")
    assert_error(api_as("nw_finance").get("/api/v1/invoices/99999999/pdf"), 404, "not_found")
    assert_error(api_as("nw_admin").get(url), 403, "forbidden")  # in reach, without billing.view
    assert_error(anonymous.get(url), 401, "unauthorized")


def test_the_openapi_document_describes_tax_parties_and_the_pdf():
    spec = document()
    invoice = spec["components"]["schemas"]["InvoiceOut"]
    assert {"tax_rate_bp", "tax", "total_with_tax", "seller", "buyer"} <= set(invoice["required"])
    assert invoice["properties"]["seller"]["$ref"] == "#/components/schemas/PartyOut"
    assert set(spec["components"]["schemas"]["PartyOut"]["properties"]) == {"legal_name", "address", "vat_number"}
    operation = spec["paths"]["/invoices/{invoice_id}/pdf"]["get"]
    assert operation["responses"]["200"]["content"] == {
        "application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    assert {"401", "403", "404", "429"} <= set(operation["responses"])
    assert operation["description"].endswith("Permission: billing.view.")
