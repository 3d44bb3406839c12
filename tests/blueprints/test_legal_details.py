"""Rule 25 on screen: the legal and tax details of a client and of a partner; the invoice shows both parties."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import AuditEvent, Invoice, Organisation
from tests.helpers import LOGINS, audit_events

GOOD = {"legal_name": "Acme Dental SARL", "address": "3 rue Nationale\r\n59000 Lille", "vat_number": "FR98765432109",
        "billing_email": "compta@acme.example", "tax_rate": "5.5", "tax_note": ""}


def reloaded(organisation):
    db.session.rollback()
    return db.session.get(Organisation, organisation.id)


def test_the_partner_admin_saves_a_clients_details(demo, login_as, html):
    admin = login_as(LOGINS["nw_admin"])
    url = f"/clients/{demo.acme.id}/legal"
    page = html(admin.get(url))
    assert page.find("input", id="legal_name").attrs["value"] == "Acme Dental SARL"  # the demo's, as set
    assert page.find("input", id="tax_rate").attrs["value"] == "20"
    assert "Leave empty to apply the partner's rate (20% now)." in page.text
    response = admin.post(url, data=GOOD)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/clients/{demo.acme.id}")
    acme = reloaded(demo.acme)
    assert (acme.address, acme.tax_rate_bp, acme.tax_note) == ("3 rue Nationale\n59000 Lille", 550, None)
    assert "were saved" in admin.get(f"/clients/{demo.acme.id}").get_data(as_text=True)
    assert audit_events("client.legal_updated") == 1


def test_the_client_page_links_the_details_for_clients_manage_only(demo, login_as):
    link = f'href="/clients/{demo.acme.id}/legal"'
    assert link in login_as(LOGINS["nw_admin"]).get(f"/clients/{demo.acme.id}").get_data(as_text=True)
    assert link not in login_as(LOGINS["acme_admin"]).get(f"/clients/{demo.acme.id}").get_data(as_text=True)
    assert link not in login_as(LOGINS["nw_support"]).get(f"/clients/{demo.acme.id}").get_data(as_text=True)


def test_bad_input_shows_field_errors_and_writes_nothing(demo, login_as, html):
    admin = login_as(LOGINS["nw_admin"])
    for field, value, words in (("tax_rate", "120", "at most"), ("tax_rate", "1.234", "two decimals"),
                                ("billing_email", "compta at acme", "valid e-mail"),
                                ("vat_number", "FR<script>", "letters and digits"),
                                ("legal_name", "Acme\x07Dental", "control characters")):
        response = admin.post(f"/clients/{demo.acme.id}/legal", data={**GOOD, field: value})
        assert response.status_code == 422, field
        page = html(response)
        error = page.find("p", id=f"{field}-error")
        assert error is not None and words in error.text, (field, page.text[:500])
        assert page.find(id=field).attrs.get("aria-invalid") == "true"
    acme = reloaded(demo.acme)
    assert (acme.legal_name, acme.tax_rate_bp, acme.billing_email) == ("Acme Dental SARL", 2000, "compta@acme.example")
    assert audit_events("client.legal_updated") == 0


def test_client_staff_and_partner_support_are_refused_and_another_partners_client_is_not_found(demo, login_as):
    url = f"/clients/{demo.acme.id}/legal"
    for who in ("acme_admin", "nw_support"):
        browser = login_as(LOGINS[who])
        assert browser.get(url).status_code == 403, who
        assert browser.post(url, data=GOOD).status_code == 403, who
    assert login_as(LOGINS["acme_accountant"]).get(url).status_code == 403
    southwind = login_as(LOGINS["sw_admin"])
    assert southwind.get(url).status_code == 404
    assert southwind.post(url, data=GOOD).status_code == 404
    assert login_as(LOGINS["nw_admin"]).get(f"/clients/{demo.org('Initech Vet').id}/legal").status_code == 404
    assert login_as(LOGINS["operator"]).get(url).status_code == 200
    assert reloaded(demo.acme).tax_rate_bp == 2000 and audit_events("client.legal_updated") == 0


def test_the_partner_admin_sets_its_own_details_from_the_overview(demo, login_as, html):
    admin = login_as(LOGINS["nw_admin"])
    assert 'href="/partner/legal"' in admin.get("/overview?tab=clients").get_data(as_text=True)
    page = html(admin.get("/partner/legal"))
    assert page.find("input", id="vat_number").attrs["value"] == "FR12345678901"
    bad = admin.post("/partner/legal", data={"legal_name": "Northwind Telecom SAS", "tax_rate": ""})
    assert bad.status_code == 422 and html(bad).find("p", id="tax_rate-error") is not None
    saved = admin.post("/partner/legal", data={"legal_name": "Northwind Telecom SA", "address": "1 quai Est",
                                               "vat_number": "FR12345678901", "tax_rate": "0",
                                               "tax_note": "VAT reverse charge"})
    assert saved.status_code == 303
    northwind = reloaded(demo.org("Northwind Telecom"))
    assert (northwind.legal_name, northwind.tax_rate_bp, northwind.tax_note) == ("Northwind Telecom SA", 0,
                                                                                  "VAT reverse charge")
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "partner.legal_updated")).one()
    assert event.after["legal_name"] == "Northwind Telecom SA"
    # The audit log says it in words.
    assert "changed the legal and tax details of Northwind Telecom" in admin.get("/audit").get_data(as_text=True)


def test_only_partner_admins_and_the_operator_reach_a_partners_details(demo, login_as):
    assert login_as(LOGINS["nw_finance"]).get("/partner/legal").status_code == 200  # finance is also partner admin
    assert login_as(LOGINS["nw_support"]).get("/partner/legal").status_code == 403
    assert login_as(LOGINS["acme_admin"]).get("/partner/legal").status_code == 404
    operator = login_as(LOGINS["operator"])
    assert operator.get("/partner/legal").status_code == 404  # not a partner: its page is per partner
    northwind = demo.org("Northwind Telecom")
    assert operator.get(f"/operator/partners/{northwind.id}/legal").status_code == 200
    assert f'href="/operator/partners/{northwind.id}/legal"' in operator.get(
        f"/operator/partners/{northwind.id}").get_data(as_text=True)
    assert login_as(LOGINS["nw_admin"]).get(f"/operator/partners/{northwind.id}/legal").status_code == 403
    assert operator.get(f"/operator/partners/{demo.acme.id}/legal").status_code == 404


def test_the_invoice_shows_both_parties_the_tax_and_a_pdf_link(demo, login_as, html):
    invoice = db.session.scalar(select(Invoice).where(Invoice.client_id == demo.acme.id))
    page = html(login_as(LOGINS["acme_admin"]).get(f"/invoices/{invoice.id}"))
    text = page.text
    assert "Northwind Telecom SAS" in text and "Acme Dental SARL" in text and "3 rue Nationale" in text
    assert "VAT number: FR98765432109" in text and "VAT number: FR12345678901" in text
    totals = [row.cells() for row in page.find("tfoot").find_all("tr")]
    assert totals == [["Total before tax", "€178.00"], ["Tax (20%)", "€35.60"], ["Total with tax", "€213.60"]]
    assert page.find("a", href=f"/invoices/{invoice.id}.pdf") is not None
