"""Rule 25: legal details, tax on every invoice (half-up; a credit note at the credited invoice's rate),
snapshots of both parties, one period invoice per currency. (Migration 0014's back-fill: tests/test_migrations.py.)"""
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.domain.billing import invoices, run
from portal.domain.errors import Forbidden, Invalid
from portal.domain.orgs import clients, legal
from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import AuditEvent, Invoice, Organisation
from tests.factories import (
    AllocationFactory,
    ClientFactory,
    PartnerFactory,
    SiteFactory,
    SubscriptionTypeFactory,
    UserFactory,
    start_billing,
)
from tests.helpers import audit_events

REVERSE_CHARGE = "VAT reverse charge — Article 196, Directive 2006/112/EC"


def reloaded(organisation):
    db.session.rollback()
    return db.session.get(Organisation, organisation.id)


def documents(client, kind=None):
    query = select(Invoice).where(Invoice.client_id == client.id).order_by(Invoice.sequence)
    if kind:
        query = query.where(Invoice.kind == kind)
    return db.session.scalars(query).all()


@pytest.fixture
def new_client(nw_admin, northwind, on):
    """A monthly client (its period from 2027-01-01, its first invoice issued) and its site "Main"."""

    def create(name="Vet Co"):
        on(date(2027, 1, 1))
        client = clients.create_client(nw_admin, northwind, name, "monthly")
        return client, clients.create_site(nw_admin, client, "Main")

    return create


# --- legal details ----------------------------------------------------------------------------


def test_a_partner_admin_sets_a_clients_details_and_one_audit_event_says_what_changed(nw_admin, acme):
    legal.update_client_legal(nw_admin, acme, "  Acme Dental SARL ", "3 rue Nationale\r\n\r\n 59000 Lille \nFrance",
                              "fr 12 345678901", "Compta@Acme.example", "5,5", REVERSE_CHARGE)
    client = reloaded(acme)
    assert (client.legal_name, client.address, client.vat_number, client.billing_email) == (
        "Acme Dental SARL", "3 rue Nationale\n59000 Lille\nFrance", "FR 12 345678901", "compta@acme.example")
    assert (client.tax_rate_bp, client.tax_note) == (550, REVERSE_CHARGE)
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "client.legal_updated")).one()
    assert (event.target_type, event.target_id, event.organisation_id) == ("client", acme.id, acme.id)
    assert event.before == {"legal_name": None, "address": None, "vat_number": None, "billing_email": None,
                            "tax_rate_bp": None, "tax_note": None}
    assert event.after["tax_rate_bp"] == 550 and event.after["vat_number"] == "FR 12 345678901"
    # The same details again change nothing and record nothing; blanks clear them.
    legal.update_client_legal(nw_admin, client, "Acme Dental SARL", client.address, "FR 12 345678901",
                              "compta@acme.example", "5.50", REVERSE_CHARGE)
    assert audit_events("client.legal_updated") == 1
    legal.update_client_legal(nw_admin, reloaded(acme), "", " ", "", "", "", "")
    client = reloaded(acme)
    assert (client.legal_name, client.address, client.vat_number, client.billing_email, client.tax_rate_bp,
            client.tax_note) == (None, None, None, None, None, None)
    assert audit_events("client.legal_updated") == 2


@pytest.mark.parametrize("field, values", [
    ("legal_name", dict(legal_name="Acme\x00Dental")),
    ("legal_name", dict(legal_name="x" * 201)),
    ("address", dict(address="3 rue\tNationale")),
    ("address", dict(address="x" * 1001)),
    ("vat_number", dict(vat_number="FR<12>")),
    ("vat_number", dict(vat_number="FR" + "1" * 40)),
    ("billing_email", dict(billing_email="not an address")),
    ("tax_rate", dict(tax_rate="-5")),
    ("tax_rate", dict(tax_rate="100.01")),
    ("tax_rate", dict(tax_rate="12.345")),
    ("tax_rate", dict(tax_rate="twenty")),
    ("tax_note", dict(tax_note="line\nbreak")),
    ("tax_note", dict(tax_note="x" * 201)),
])
def test_bad_client_details_are_refused_on_their_field_and_nothing_is_written(nw_admin, acme, field, values):
    good = dict(legal_name="Acme Dental SARL", address="3 rue Nationale", vat_number="FR12345678901",
                billing_email="compta@acme.example", tax_rate="20", tax_note="")
    with pytest.raises(Invalid) as refused:
        legal.update_client_legal(nw_admin, acme, **{**good, **values})
    assert refused.value.field == field
    client = reloaded(acme)
    assert (client.legal_name, client.address, client.tax_rate_bp) == (None, None, None)
    assert audit_events("client.legal_updated") == 0


@pytest.mark.parametrize("typed, basis_points", [("20", 2000), ("5.5", 550), ("8,1", 810), ("0", 0), ("100", 10000),
                                                 ("19.6 %", 1960), (" 7.25 ", 725)])
def test_the_tax_rate_is_typed_as_a_percentage_with_two_decimals_at_most(typed, basis_points):
    assert legal.tax_rate_from_percent(typed) == basis_points


def test_client_staff_and_partner_support_may_not_change_legal_details(acme, acme_admin, northwind):
    support = UserFactory(organisation=northwind, partner_support=True)
    for actor in (acme_admin, support):
        with pytest.raises(Forbidden):
            legal.update_client_legal(actor, acme, "X", "", "", "", "", "")
        with pytest.raises(Forbidden):
            legal.update_partner_legal(actor, northwind, "X", "", "", "0", "")
    other = UserFactory(organisation=PartnerFactory(), partner_admin=True)
    with pytest.raises(Forbidden):
        legal.update_client_legal(other, acme, "X", "", "", "", "", "")
    with pytest.raises(Forbidden):
        legal.update_partner_legal(other, northwind, "X", "", "", "0", "")
    assert reloaded(acme).legal_name is None and reloaded(northwind).legal_name is None


def test_a_partner_admin_and_the_operator_set_the_partners_details_whose_rate_is_required(nw_admin, operator,
                                                                                          northwind):
    assert northwind.tax_rate_bp == 0  # every partner has a rate: 0 unless set
    with pytest.raises(Invalid) as refused:
        legal.update_partner_legal(nw_admin, northwind, "Northwind Telecom SAS", "", "", " ", "")
    assert refused.value.field == "tax_rate"
    legal.update_partner_legal(nw_admin, northwind, "Northwind Telecom SAS", "12 rue de la République\nMarseille",
                               "FR12345678901", "20", "")
    legal.update_partner_legal(operator, reloaded(northwind), "Northwind Telecom SAS", "12 rue de la République",
                               "FR12345678901", "0", REVERSE_CHARGE)
    partner = reloaded(northwind)
    assert (partner.legal_name, partner.vat_number, partner.tax_rate_bp, partner.tax_note) == (
        "Northwind Telecom SAS", "FR12345678901", 0, REVERSE_CHARGE)
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "partner.legal_updated")
                                .order_by(AuditEvent.id)).all()
    assert [e.organisation_id for e in events] == [northwind.id, northwind.id]
    assert events[1].before == {"address": "12 rue de la République\nMarseille", "tax_rate_bp": 2000,
                                "tax_note": None}


def test_a_client_follows_its_partners_rate_and_note_unless_it_has_its_own(nw_admin, northwind, acme):
    legal.update_partner_legal(nw_admin, northwind, "", "", "", "0", REVERSE_CHARGE)
    assert legal.tax_terms(reloaded(acme)) == (0, REVERSE_CHARGE)
    legal.update_client_legal(nw_admin, reloaded(acme), "", "", "", "", "20", "")
    assert legal.tax_terms(reloaded(acme)) == (2000, None)  # its own rate: not the partner's reverse charge
    legal.update_client_legal(nw_admin, reloaded(acme), "", "", "", "", "", "Exempt, Article 261 CGI")
    assert legal.tax_terms(reloaded(acme)) == (0, "Exempt, Article 261 CGI")


# --- tax on invoices ------------------------------------------------------------------------------


def test_a_period_invoice_is_taxed_half_up_at_the_clients_rate(nw_admin, northwind, on):
    on(date(2027, 1, 1))
    odd = SubscriptionTypeFactory(code="odd", name="Odd", monthly_price=1010, annual_price=10100)
    client = ClientFactory(parent=northwind, billed=False)
    AllocationFactory(site=SiteFactory(client=client), subscription_type=odd, allocated=1)
    legal.update_client_legal(nw_admin, client, "", "", "", "", "25", "")
    start_billing(reloaded(client))
    [invoice] = documents(client)
    # 10.10 × 25 % = 2.525 → 2.53 (a half rounds up).
    assert (invoice.total, invoice.tax_rate_bp, invoice.tax, invoice.total_with_tax) == (1010, 2500, 253, 1263)
    assert invoice.tax_note is None


def test_a_credit_note_is_taxed_at_the_credited_invoices_rate_with_a_negative_half_up_tax(finance, nw_admin,
                                                                                        new_client, tenner, on):
    client, site = new_client()
    legal.update_client_legal(nw_admin, reloaded(client), "", "", "", "", "50", "Half, for the test")
    on(date(2027, 1, 15))
    bought = allocations.set_allocation(finance, site, tenner, 3).invoice  # 3 × 10.00 × 17/31 = 16.45
    assert (bought.total, bought.tax, bought.total_with_tax) == (1645, 823, 2468)  # 8.225 → 8.23
    # The client's rate changes before the seats are removed: the credit note keeps the invoice's.
    legal.update_client_legal(nw_admin, reloaded(client), "", "", "", "", "0", REVERSE_CHARGE)
    note = allocations.set_allocation(finance, site, tenner, 0).credit_note
    assert (note.total, note.tax_rate_bp, note.tax, note.total_with_tax) == (-1645, 5000, -823, -2468)
    assert note.tax_note == "Half, for the test"
    assert bought.total_with_tax + note.total_with_tax == 0


def test_invoices_keep_the_parties_as_they_were_when_issued(nw_admin, northwind, acme):
    [first] = documents(acme)
    assert first.seller == {"legal_name": "Northwind Telecom", "address": "", "vat_number": ""}
    assert first.buyer == {"legal_name": "Acme Dental", "address": "", "vat_number": ""}
    legal.update_partner_legal(nw_admin, northwind, "Northwind Telecom SAS", "12 rue de la République\nMarseille",
                               "FR12345678901", "20", "")
    legal.update_client_legal(nw_admin, acme, "Acme Dental SARL", "3 rue Nationale\nLille", "FR98765432109",
                              "compta@acme.example", "", "")
    db.session.rollback()
    assert db.session.get(Invoice, first.id).seller["legal_name"] == "Northwind Telecom"
    assert db.session.get(Invoice, first.id).buyer["vat_number"] == ""
    later = run.run_billing(reloaded(acme).period_end)
    assert len(later.invoices) == 1
    latest = documents(acme)[-1]
    assert latest.seller == {"legal_name": "Northwind Telecom SAS", "address": "12 rue de la République\nMarseille",
                             "vat_number": "FR12345678901"}
    assert latest.buyer == {"legal_name": "Acme Dental SARL", "address": "3 rue Nationale\nLille",
                            "vat_number": "FR98765432109"}  # the billing e-mail is no part of the snapshot
    assert latest.tax_rate_bp == 2000  # the partner's rate: the client has none of its own


# --- one invoice per currency ---------------------------------------------------------------------


def test_a_period_with_types_in_two_currencies_is_invoiced_once_per_currency(finance, northwind, essentials, on):
    on(date(2027, 1, 1))
    dollars = SubscriptionTypeFactory(code="us-seat", name="US seat", monthly_price=2000, annual_price=20000,
                                      currency="USD")
    client = ClientFactory(parent=northwind, billed=False)
    site = SiteFactory(client=client)
    AllocationFactory(site=site, subscription_type=essentials, allocated=2)
    AllocationFactory(site=site, subscription_type=dollars, allocated=3)
    start_billing(reloaded(client))
    issued = documents(client)
    assert sorted((i.currency, i.total, len(i.lines)) for i in issued) == [("EUR", 3000, 1), ("USD", 6000, 1)]
    assert {line.subscription_type_code for i in issued if i.currency == "USD" for line in i.lines} == {"us-seat"}
    # The next period: again one per currency, and a second run issues nothing.
    end = reloaded(client).period_end
    first_run = run.run_billing(end)
    assert len(first_run.invoices) == 2
    assert run.run_billing(end).invoices == []
    assert len(documents(client, "period")) == 4
    # A prorated invoice is in its type's currency.
    on(date(2027, 2, 10))
    prorated = allocations.set_allocation(finance, site, dollars, 4).invoice
    assert prorated.currency == "USD" and prorated.kind == "proration"


def test_one_invoice_never_mixes_currencies(northwind, essentials):
    dollars = SubscriptionTypeFactory(code="us-seat", currency="USD")
    client = ClientFactory(parent=northwind, billed=False)
    site = SiteFactory(client=client)
    lines = [invoices.invoice_line(site.id, site.name, kind, 1, 100, 80, 30, 30) for kind in (essentials, dollars)]
    with pytest.raises(ValueError):
        invoices.issue(None, client, "proration", "monthly", date(2027, 1, 1), date(2027, 2, 1), date(2027, 1, 1),
                       lines)
    assert db.session.scalar(select(func.count(Invoice.id)).where(Invoice.client_id == client.id)) == 0
