"""Rule 26 on screen: each invoice and credit note as a PDF, in the reader's language, never with a cost."""
import io
import re
from datetime import timedelta

from babel.dates import format_interval
from pypdf import PdfReader
from sqlalchemy import select

from portal.domain.orgs import legal
from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import Invoice, RoleAssignment, User
from tests.helpers import LOGINS


def pdf_text(response) -> str:
    """The text of every page of a PDF answer, its whitespace folded."""
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf" and response.data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(response.data))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def acme_invoice(demo) -> Invoice:
    return db.session.scalar(select(Invoice).where(Invoice.client_id == demo.acme.id).order_by(Invoice.id))


def inclusive_period(invoice, locale) -> str:
    """The period as CLDR writes an interval ("Dec 1 – 31, 2026"), its spaces folded as ``pdf_text`` folds them."""
    return " ".join(format_interval(invoice.period_start, invoice.period_end - timedelta(days=1), "yMMMd",
                                    locale=locale).split())


def test_the_pdf_carries_parties_number_period_lines_tax_and_totals(demo, login_as):
    invoice = acme_invoice(demo)
    response = login_as(LOGINS["nw_finance"]).get(f"/invoices/{invoice.id}.pdf")
    assert response.headers["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    text = pdf_text(response)
    assert f"Invoice {invoice.number}" in text
    assert "Northwind Telecom SAS" in text and "FR12345678901" in text and "13001 Marseille" in text
    assert "Acme Dental SARL" in text and "FR98765432109" in text
    assert inclusive_period(invoice, "en") in text  # "Dec 1 – 31, 2026": the stored end is excluded
    assert "Lyon Essentials 5 €15.00 31/31 €75.00" in text and "Paris Support 2 €0.00 31/31 €0.00" in text
    assert "Total before tax €178.00" in text and "Tax (20%) €35.60" in text and "Total with tax €213.60" in text


def test_a_french_reader_gets_it_in_french(demo, login_as):
    invoice = acme_invoice(demo)
    text = pdf_text(login_as(LOGINS["nw_finance"]).get(f"/invoices/{invoice.id}.pdf",
                                                       headers={"Accept-Language": "fr"}))
    assert f"Facture {invoice.number}" in text and "Période" in text and "Facture de période" in text
    assert inclusive_period(invoice, "fr") in text  # "1–31 déc. 2026"
    assert re.search(r"213,60\s€", text) and "€213.60" not in text


def test_polish_and_french_letters_print(demo, login_as):
    """DejaVu Sans carries them: none is lost or replaced in the document."""
    admin = demo.user(LOGINS["nw_admin"])
    legal.update_client_legal(admin, demo.acme, "Zakład Stomatologiczny Żółć Spółka", "ul. Źródlana 5\nŁódź",
                              "PL5260001246", "", "", "Opłata — «réduction» œuvre")
    allocations.set_allocation(demo.user(LOGINS["nw_finance"]), demo.lyon, demo.type("essentials"), 6)
    prorated = db.session.scalar(select(Invoice).where(Invoice.kind == "proration"))
    text = pdf_text(login_as(LOGINS["acme_admin"]).get(f"/invoices/{prorated.id}.pdf"))
    assert "Zakład Stomatologiczny Żółć Spółka" in text and "ul. Źródlana 5" in text and "Łódź" in text
    assert "Opłata — «réduction» œuvre" in text


def test_a_credit_note_names_the_invoice_it_credits_and_reads_negative(demo, login_as):
    finance = login_as(LOGINS["nw_finance"])
    url = f"/clients/{demo.acme.id}/sites/{demo.lyon.id}/allocations/essentials"
    finance.post(url, data={"allocated": "6"})
    finance.post(url, data={"allocated": "5"})
    credit = db.session.scalars(select(Invoice).where(Invoice.kind == "credit_note")).one()
    text = pdf_text(finance.get(f"/invoices/{credit.id}.pdf"))
    assert f"Credit note {credit.number}" in text and f"Credits invoice {credit.credits.number}" in text
    assert "-€15.00" in text and "-€3.00" in text and "-€18.00" in text  # total, tax at 20 %, total with tax


def test_an_accountant_of_one_site_gets_an_extract_of_its_lines(demo, login_as):
    assignment = db.session.scalar(select(RoleAssignment).join(User)
                                   .where(User.email == LOGINS["acme_accountant"]))
    assignment.sites = [demo.paris]
    db.session.commit()
    text = pdf_text(login_as(LOGINS["acme_accountant"]).get(f"/invoices/{acme_invoice(demo).id}.pdf"))
    assert "Extract for your sites" in text and "Paris" in text and "Lyon" not in text
    assert "Subtotal for your sites €45.00" in text and "€178.00" not in text and "€213.60" not in text


def test_the_pdf_is_refused_as_the_invoice_is(demo, login_as, client):
    url = f"/invoices/{acme_invoice(demo).id}.pdf"
    assert login_as(LOGINS["sw_admin"]).get(url).status_code == 404  # another partner's
    assert login_as(LOGINS["globex_admin"]).get(url).status_code == 404  # another client's
    assert login_as(LOGINS["nw_admin"]).get(url).status_code == 403  # no billing.view
    assert login_as(LOGINS["acme_frontdesk"]).get(url).status_code == 403
    assert client.get(url).status_code == 302  # to the login page
    assert login_as(LOGINS["acme_admin"]).get(url).status_code == 200
    assert login_as(LOGINS["nw_finance"]).get("/invoices/999999.pdf").status_code == 404


def test_no_cost_is_ever_printed(demo, login_as):
    """docs/rules.md rule 23: the partner's cost of Acme's period (142.40; 23.20 a seat of Unlimited) is not there."""
    text = pdf_text(login_as(LOGINS["nw_finance"]).get(f"/invoices/{acme_invoice(demo).id}.pdf"))
    assert not re.search(r"\b[Cc]ost\b|[Mm]argin", text)
    assert "142.40" not in text and "23.20" not in text and "46.40" not in text
