"""The subscription-type catalogue and partner creation, tested without HTTP."""
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from portal.domain.billing import catalogue, price_book
from portal.domain.errors import Conflict, Forbidden, Invalid
from portal.domain.orgs import partners
from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Invitation,
    InvoiceLine,
    InvoiceSequence,
    Organisation,
    RoleAssignment,
    SubscriptionType,
    User,
)
from tests.factories import (
    AllocationFactory,
    ClientFactory,
    SiteFactory,
    UserFactory,
    start_billing,
)


def counts():
    db.session.rollback()
    return tuple(db.session.scalar(select(func.count()).select_from(model)) for model in (
        SubscriptionType, AuditEvent, Organisation, InvoiceSequence, User, RoleAssignment, Invitation))


@pytest.mark.parametrize(("text", "minor"), [
    ("15", 1500), ("15.5", 1550), ("15.50", 1550), ("0", 0), ("0.01", 1), (" 29.00 ", 2900),
    ("1000000.00", 100_000_000), (Decimal("12.30"), 1230), (7, 700),
])
def test_prices_are_parsed_to_minor_units(text, minor):
    assert catalogue.parse_price(text, "monthly_price", label="monthly price") == minor


@pytest.mark.parametrize(("text", "message"), [
    ("-1", "cannot be negative"), ("-0.01", "cannot be negative"), ("1.234", "at most two decimals"),
    ("abc", "at most two decimals"), ("1e3", "at most two decimals"), ("15.", "at most two decimals"),
    ("1,50", "with a dot"), ("1,000.00", "with a dot"), ("1000000.01", "at most 1,000,000.00"),
    ("99999999999999999999", "at most two decimals"), ("999999999", "at most 1,000,000.00"),
    ("", "Enter the monthly price"), ("   ", "Enter the monthly price"), (None, "Enter the monthly price"),
    (15.5, "Enter the monthly price"), (True, "Enter the monthly price"), ("NaN", "at most two decimals"),
    (Decimal("NaN"), "at most two decimals"), ("١٥", "at most two decimals"), ("15\x00", "at most two decimals"),
    ("+15", "at most two decimals"),
])
def test_bad_prices_are_refused_with_a_clear_message(text, message):
    with pytest.raises(Invalid) as refused:
        catalogue.parse_price(text, "monthly_price", label="monthly price")
    assert message in refused.value.message and refused.value.field == "monthly_price"


def test_creating_a_type_stores_minor_units_and_audits(operator):
    created = catalogue.create_subscription_type(operator, "premium-plus", "Premium plus", "19.99",
                                                 "199.90", "EUR")

    db.session.rollback()
    stored = db.session.get(SubscriptionType, created.id)
    assert (stored.code, stored.name, stored.monthly_price, stored.annual_price, stored.currency) == (
        "premium-plus", "Premium plus", 1999, 19990, "EUR")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "subscription_type.created"))
    assert event.target_id == created.id and event.after["monthly_price"] == 1999
    assert event.organisation_id == operator.organisation_id


@pytest.mark.parametrize(("fields", "field"), [
    (dict(code="essentials"), "code"),                      # duplicate
    (dict(code="E"), "code"), (dict(code="Bad Code"), "code"), (dict(code="x" * 41), "code"),
    (dict(code="ok\x00"), "code"), (dict(code="café"), "code"), (dict(code=None), "code"),
    (dict(name=""), "name"), (dict(name="Pre\x00mium"), "name"), (dict(name="Line\nbreak"), "name"),
    (dict(name="x" * 101), "name"),
    (dict(monthly_price="-5"), "monthly_price"), (dict(annual_price="10000000"), "annual_price"),
    (dict(annual_price="1.001"), "annual_price"),
    (dict(currency="eur"), "currency"), (dict(currency="EURO"), "currency"), (dict(currency="E1R"), "currency"),
    (dict(currency="EU\x00"), "currency"), (dict(currency=""), "currency"),
])
def test_a_bad_type_writes_nothing(operator, essentials, fields, field):
    values = dict(code="premium", name="Premium", monthly_price="19.00", annual_price="190.00", currency="EUR")
    values.update(fields)
    before = counts()

    with pytest.raises((Invalid, Conflict)) as refused:
        catalogue.create_subscription_type(operator, **values)

    assert refused.value.field == field
    assert refused.value.status == (409 if fields == dict(code="essentials") else 422)
    assert counts() == before


def test_only_the_operator_keeps_the_catalogue_through_the_partner_services(northwind):
    partner_admin = UserFactory(organisation=northwind, partner_admin=True)
    with pytest.raises(Forbidden):
        partners.create_partner(partner_admin, "Eastwind", "EW", "Eve", "eve@eastwind.example")


def test_a_price_change_reaches_a_client_at_its_next_period(operator, northwind, essentials):
    """docs/rules.md rule 22: the period keeps its price, prorated invoices included; issued lines never change."""
    finance = UserFactory(organisation=northwind, partner_admin=True, finance=True)
    acme = ClientFactory(parent=northwind, billed=False)
    lyon = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=lyon, subscription_type=essentials, allocated=5, consumed=4)
    start_billing(acme)  # the period invoice bills Lyon's Essentials seats at the old price
    period_line = db.session.scalar(select(InvoiceLine).where(
        InvoiceLine.site_id == lyon.id, InvoiceLine.subscription_type_code == "essentials"))
    assert period_line.unit_price == 1500

    catalogue.change_prices(operator, essentials, "17.50", "175.00")
    db.session.rollback()
    change = allocations.set_allocation(finance, lyon, essentials, 6)

    db.session.rollback()
    assert db.session.get(InvoiceLine, period_line.id).unit_price == 1500  # issued before: unchanged
    new_line = db.session.scalar(select(InvoiceLine).where(InvoiceLine.invoice_id == change.invoice.id))
    assert new_line.unit_price == 1500  # the period's price
    coming = next(item for item in price_book.client_prices(acme) if item.subscription_type.id == essentials.id)
    assert (coming.next_price, coming.next_price_from) == (1750, acme.period_end)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "subscription_type.prices_changed"))
    assert event.before == {"code": "essentials", "monthly_price": 1500, "annual_price": 15000}
    assert event.after == {"code": "essentials", "monthly_price": 1750, "annual_price": 17500}


def test_bad_new_prices_change_nothing(operator, essentials):
    before = counts()
    with pytest.raises(Invalid):
        catalogue.change_prices(operator, essentials, "17.50", "-1")
    assert counts() == before
    assert db.session.get(SubscriptionType, essentials.id).annual_price == 15000


def test_creating_a_partner_adds_its_sequence_and_invites_its_administrator(operator):
    partner = partners.create_partner(operator, "Eastwind Telecom", "EW", "Eve East", "Eve@Eastwind.example")

    db.session.rollback()
    partner = db.session.get(Organisation, partner.id)
    assert (partner.kind, partner.parent_id) == ("partner", operator.organisation_id)
    assert db.session.get(InvoiceSequence, partner.id).prefix == "EW"
    admin = db.session.scalar(select(User).where(User.email == "eve@eastwind.example"))
    assert (admin.organisation_id, admin.status, admin.password_hash, admin.site_id) == (
        partner.id, "invited", None, None)
    assert [a.role for a in admin.role_assignments] == ["partner_admin"]
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == admin.id))
    assert invitation.status == "pending" and invitation.sent_at is not None
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.organisation_id == partner.id)
                                 .order_by(AuditEvent.id)).all()
    assert actions[:3] == ["partner.created", "user.invited", "invitation.sent"]


@pytest.mark.parametrize(("fields", "field", "status"), [
    (dict(name="Northwind Telecom"), "name", 409),
    (dict(invoice_prefix="NW"), "invoice_prefix", 409),
    (dict(admin_email="admin@acme.example"), "admin_email", 409),
    (dict(invoice_prefix="ew"), "invoice_prefix", 422), (dict(invoice_prefix="E"), "invoice_prefix", 422),
    (dict(invoice_prefix="EASTWND"), "invoice_prefix", 422), (dict(invoice_prefix="E-W"), "invoice_prefix", 422),
    (dict(name="East\x00wind"), "name", 422), (dict(name=""), "name", 422),
    (dict(admin_email="not-an-email"), "admin_email", 422),
    (dict(admin_email="eve@eastwind.example\r\nBcc: x@evil.example"), "admin_email", 422),
    (dict(admin_name="Eve\r\nBcc: x@evil.example"), "admin_name", 422),
])
def test_a_bad_partner_writes_nothing(operator, northwind, fields, field, status):
    UserFactory(organisation=ClientFactory(parent=northwind), email="admin@acme.example")  # a taken e-mail
    values = dict(name="Eastwind Telecom", invoice_prefix="EW", admin_name="Eve East",
                  admin_email="eve@eastwind.example")
    values.update(fields)
    before = counts()

    with pytest.raises((Invalid, Conflict)) as refused:
        partners.create_partner(operator, **values)

    assert (refused.value.field, refused.value.status) == (field, status)
    assert counts() == before
