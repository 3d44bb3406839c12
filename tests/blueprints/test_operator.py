"""Operator screens (partners.manage): the subscription-type catalogue and the partners."""
import pytest
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, Invitation, InvoiceSequence, Organisation, RoleAssignment, SubscriptionType, User

NEW_TYPE = dict(code="premium", name="Premium", monthly_price="19.99", annual_price="199.00", currency="EUR")
NEW_PARTNER = dict(name="Eastwind Telecom", invoice_prefix="EW", admin_name="Eve East",
                   admin_email="eve@eastwind.example")


def counts():
    db.session.rollback()
    return tuple(db.session.scalar(select(func.count()).select_from(model)) for model in (
        SubscriptionType, Organisation, InvoiceSequence, User, RoleAssignment, Invitation)) + (
        db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action.not_like("auth.%"))),
        tuple(db.session.execute(select(SubscriptionType.monthly_price, SubscriptionType.annual_price)
                                 .order_by(SubscriptionType.id)).all()))


@pytest.fixture
def operator(demo, login_as):
    return login_as("operator@portal.example")


def test_the_catalogue_lists_types_with_prices(demo, operator, html):
    page = html(operator.get("/operator/catalogue"))
    row = page.by_id(f"subscription-type-{demo.type('essentials').id}")
    assert row.cells()[:4] == ["essentials", "Essentials", "€15.00", "€150.00"]
    assert operator.get("/operator").headers["Location"].endswith("/operator/partners")


def test_creating_a_type(demo, operator):
    response = operator.post("/operator/catalogue/new", data=NEW_TYPE)

    assert response.status_code == 303 and response.headers["Location"].endswith("/operator/catalogue")
    db.session.rollback()
    created = db.session.scalar(select(SubscriptionType).where(SubscriptionType.code == "premium"))
    assert (created.monthly_price, created.annual_price, created.currency) == (1999, 19900, "EUR")
    assert "Premium (premium) was added" in operator.get("/operator/catalogue").get_data(as_text=True)


@pytest.mark.parametrize(("fields", "status", "message"), [
    (dict(monthly_price="-1"), 422, "cannot be negative"),
    (dict(monthly_price="12.345"), 422, "at most two decimals"),
    (dict(annual_price="1000000.01"), 422, "at most 1,000,000.00"),
    (dict(annual_price="99999999999999999999999"), 422, "at most two decimals"),
    (dict(monthly_price="1e3"), 422, "at most two decimals"),
    (dict(monthly_price="12,50"), 422, "with a dot"),
    (dict(code="essentials"), 409, "already in the catalogue"),
    (dict(code="Premium!"), 422, "lower-case letters"),
    (dict(name="Pre\x00mium"), 422, "control characters"),
    (dict(name="Pre\nmium"), 422, "control characters"),
    (dict(currency="eur"), 422, "three upper-case letters"),
    (dict(currency="EURO"), 422, "three upper-case letters"),
    (dict(code=""), 422, "This field is required."),
])
def test_a_bad_type_is_explained_and_writes_nothing(demo, operator, fields, status, message):
    before = counts()

    response = operator.post("/operator/catalogue/new", data={**NEW_TYPE, **fields})

    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert counts() == before


def test_editing_prices(demo, operator):
    essentials = demo.type("essentials")
    url = f"/operator/catalogue/{essentials.id}/prices"
    form = operator.get(url).get_data(as_text=True)
    assert 'value="15.00"' in form and "apply to invoices issued from now on" in form

    response = operator.post(url, data={"monthly_price": "16.50", "annual_price": "165"})

    assert response.status_code == 303
    db.session.rollback()
    assert (db.session.get(SubscriptionType, essentials.id).monthly_price,
            db.session.get(SubscriptionType, essentials.id).annual_price) == (1650, 16500)


@pytest.mark.parametrize("prices", [{"monthly_price": "-0.01", "annual_price": "1"},
                                    {"monthly_price": "1", "annual_price": "2000000"},
                                    {"monthly_price": "1\x00", "annual_price": "1"},
                                    {"monthly_price": "", "annual_price": "1"}])
def test_bad_new_prices_change_nothing(demo, operator, prices):
    before = counts()
    response = operator.post(f"/operator/catalogue/{demo.type('essentials').id}/prices", data=prices)
    assert response.status_code == 422
    assert counts() == before


def test_an_unknown_type_is_not_found(demo, operator):
    assert operator.get("/operator/catalogue/999999/prices").status_code == 404


def test_creating_a_partner_invites_its_first_administrator(demo, operator, html):
    response = operator.post("/operator/partners/new", data=NEW_PARTNER)

    assert response.status_code == 303 and response.headers["Location"].endswith("/operator/partners")
    db.session.rollback()
    partner = db.session.scalar(select(Organisation).where(Organisation.name == "Eastwind Telecom"))
    assert partner.kind == "partner" and db.session.get(InvoiceSequence, partner.id).prefix == "EW"
    admin = db.session.scalar(select(User).where(User.email == "eve@eastwind.example"))
    assert (admin.organisation_id, admin.status) == (partner.id, "invited")
    assert [a.role for a in admin.role_assignments] == ["partner_admin"]
    row = html(operator.get("/operator/partners")).by_id(f"partner-{partner.id}")
    assert row.cells()[:4] == ["Eastwind Telecom", "EW", "0", "eve@eastwind.example Invited"]
    northwind = html(operator.get("/operator/partners")).by_id(f"partner-{demo.org('Northwind Telecom').id}")
    assert northwind.cells()[2] == "2" and "admin@northwind.example" in northwind.cells()[3]


@pytest.mark.parametrize(("fields", "status", "message"), [
    (dict(name="Northwind Telecom"), 409, "already exists"),
    (dict(invoice_prefix="NW"), 409, "already used by another partner"),
    (dict(invoice_prefix="ew"), 422, "2 to 6 upper-case letters"),
    (dict(invoice_prefix="ABCDEFG"), 422, "2 to 6 upper-case letters"),
    (dict(admin_email="admin@acme.example"), 409, "already has an account in another organisation"),
    (dict(admin_email="eve@eastwind.example\r\nBcc: x@evil.example"), 422, "valid e-mail address"),
    (dict(admin_name="Eve\r\nBcc: x@evil.example"), 422, "control characters"),
    (dict(name="East\x00wind"), 422, "control characters"),
    (dict(language="de"), 422, "language of invitations"),
])
def test_a_bad_partner_is_explained_and_writes_nothing(demo, operator, fields, status, message):
    before = counts()

    response = operator.post("/operator/partners/new", data={**NEW_PARTNER, **fields})

    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert counts() == before


def test_a_partner_created_in_french_invites_its_staff_in_french(demo, operator, html):
    """docs/rules.md rule 37: the language of the partner's invitations is chosen on the form (English first)."""
    select_ = html(operator.get("/operator/partners/new")).find("select", name="language")
    assert [o.attrs["value"] for o in select_.find_all("option")] == ["en", "fr", "pl"]
    assert "selected" in select_.find("option", value="en").attrs

    assert operator.post("/operator/partners/new", data={**NEW_PARTNER, "language": "fr"}).status_code == 303

    db.session.rollback()
    assert db.session.scalar(select(Organisation.language).where(Organisation.name == "Eastwind Telecom")) == "fr"


def test_a_partner_created_without_a_language_invites_in_english(demo, operator):
    assert operator.post("/operator/partners/new", data=NEW_PARTNER).status_code == 303
    db.session.rollback()
    assert db.session.scalar(select(Organisation.language).where(Organisation.name == "Eastwind Telecom")) == "en"


def test_the_catalogue_reads_money_in_french(demo, operator, html):
    page = html(operator.get("/operator/catalogue", headers={"Accept-Language": "fr"}))
    row = page.by_id(f"subscription-type-{demo.type('essentials').id}")
    assert row.cells()[2:4] == ["15,00 €", "150,00 €"]  # a no-break space, made plain by .text


def test_inviting_another_administrator_of_a_partner(demo, operator):
    southwind = demo.org("Southwind Networks")
    url = f"/operator/partners/{southwind.id}/administrators/new"

    assert operator.post(url, data={"admin_name": "Sue", "admin_email": "sue@southwind.example"}).status_code == 303

    db.session.rollback()
    sue = db.session.scalar(select(User).where(User.email == "sue@southwind.example"))
    assert sue.organisation_id == southwind.id and [a.role for a in sue.role_assignments] == ["partner_admin"]
    assert operator.get(f"/operator/partners/{demo.acme.id}/administrators/new").status_code == 404  # a client
    assert operator.get("/operator/partners/999999/administrators/new").status_code == 404


PATHS = [("GET", "/operator"), ("GET", "/operator/catalogue"), ("GET", "/operator/catalogue/new"),
         ("POST", "/operator/catalogue/new"), ("GET", "/operator/catalogue/1/prices"),
         ("POST", "/operator/catalogue/1/prices"), ("GET", "/operator/partners"), ("GET", "/operator/partners/new"),
         ("POST", "/operator/partners/new"), ("GET", "/operator/partners/1/administrators/new")]


@pytest.mark.parametrize("email", ["admin@northwind.example", "finance@northwind.example", "admin@acme.example",
                                   "accountant@acme.example", "admin@southwind.example"])
def test_only_operator_admins_reach_the_operator_screens(demo, login_as, email):
    caller = login_as(email)
    before = counts()
    for method, path in PATHS:
        data = {**NEW_TYPE, **NEW_PARTNER, "monthly_price": "1", "annual_price": "1"} if method == "POST" else None
        assert caller.open(path, method=method, data=data).status_code == 403, path
    assert counts() == before


def test_anonymous_callers_are_sent_to_login(demo, client):
    for method, path in PATHS:
        response = client.open(path, method=method)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path
