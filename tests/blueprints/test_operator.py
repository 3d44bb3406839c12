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
    assert 'value="15.00"' in form and "reach each client at the start of its next period" in form

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
    # partner, prefix, clients, seats allocated, consumed, revenue (last 30 days, this month), administrators
    assert row.cells()[:8] == ["Eastwind Telecom", "EW", "0", "0", "0", "€0.00", "€0.00",
                               "eve@eastwind.example Invited"]
    northwind = html(operator.get("/operator/partners")).by_id(f"partner-{demo.org('Northwind Telecom').id}")
    assert northwind.cells()[2] == "2" and "admin@northwind.example" in northwind.cells()[7]


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
         ("POST", "/operator/partners/new"), ("GET", "/operator/partners/1/administrators/new"),
         ("GET", "/operator/partners/1")]


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


# --- issue 11, defect 10: partners with their clients, seats and revenue ------------------------------------


def partner_rows(page):
    return {row.cells()[0]: row for row in page.by_id("partner-table").find_all("tr")
            if row.attrs.get("id", "").startswith("partner-")}


def test_partner_rows_show_seats_and_revenue_and_link_to_the_partners_page(demo, operator, html):
    rows = partner_rows(html(operator.get("/operator/partners")))

    northwind, southwind = demo.org("Northwind Telecom"), demo.org("Southwind Networks")
    # Seats: Acme 12 / 9 (with Paris's free support seats) and Globex 10 / 7; Initech 4 / 1. Revenue: the
    # demo issues each client's period invoice today (Acme €178.00, Globex €2,900.00; Initech €60.00).
    assert rows["Northwind Telecom"].cells()[2:7] == ["2", "22", "16", "€3,078.00", "€3,078.00"]
    assert rows["Southwind Networks"].cells()[2:7] == ["1", "4", "1", "€60.00", "€60.00"]
    assert rows["Northwind Telecom"].find("a", href=f"/operator/partners/{northwind.id}") is not None
    assert rows["Southwind Networks"].find("a", href=f"/operator/partners/{southwind.id}") is not None
    headers = [cell.text for cell in html(operator.get("/operator/partners")).by_id("partner-table").find_all("th")
               if cell.attrs.get("scope") == "col"]
    assert headers[3:7] == ["Seats allocated", "Seats consumed", "Revenue, last 30 days", "Revenue, this month"]


def test_partner_seats_are_read_from_the_partner_totals_counters(demo, operator, html):
    """The list and the page read the partner's totals (portal.domain.seats.counters), never the users."""
    from portal.models import PartnerSeatTotal

    northwind = demo.org("Northwind Telecom")
    total = db.session.get(PartnerSeatTotal, (northwind.id, demo.type("essentials").id))
    total.allocated, total.consumed = 1000, 900  # a drift only the counters know of
    db.session.commit()

    assert partner_rows(html(operator.get("/operator/partners")))["Northwind Telecom"].cells()[3:5] == [
        str(1000 + 12 + 2), str(900 + 9)]
    page = html(operator.get(f"/operator/partners/{northwind.id}"))
    assert page.by_id("total-essentials").cells()[1:4] == ["1000", "900", "100"]


def test_the_partner_page_shows_its_clients_seats_and_revenue(demo, operator, html):
    northwind = demo.org("Northwind Telecom")

    response = operator.get(f"/operator/partners/{northwind.id}")

    assert response.status_code == 200
    page = html(response)
    assert page.find("h1").text == "Northwind Telecom"
    clients = page.by_id("partner-clients")
    assert "2 clients" in clients.text
    assert clients.find("a", href=f"/clients/{demo.acme.id}").text == "Acme Dental"
    assert clients.find("a", href=f"/clients/{demo.org('Globex Clinic').id}").text == "Globex Clinic"
    assert clients.find("a", href="/overview?tab=clients") is not None
    assert "Initech Vet" not in page.text  # Southwind's
    assert page.by_id("partner-seat-sum").text == "22 seats allocated, 16 consumed, 6 free"
    totals = {code: page.by_id(f"total-{code}").cells()[1:4] for code in ("essentials", "unlimited", "support")}
    assert totals == {"essentials": ["8", "7", "1"], "unlimited": ["12", "9", "3"], "support": ["2", "0", "2"]}
    assert page.by_id("revenue-last-days").text == "€3,078.00"
    assert page.by_id("revenue-this-month").text == "€3,078.00"
    assert page.find("a", href=f"/operator/partners/{northwind.id}/administrators/new") is not None


def test_the_partner_page_names_its_first_clients_and_counts_the_others(demo, operator, html):
    from portal.domain.orgs import clients as client_service

    northwind = demo.org("Northwind Telecom")
    for n in range(1, 12):
        client_service.create_client(demo.user("operator@portal.example"), northwind, f"Clinic {n:02d}", "monthly")

    clients = html(operator.get(f"/operator/partners/{northwind.id}")).by_id("partner-clients")

    assert "13 clients" in clients.text and "and 3 more clients" in clients.text
    assert len(clients.find_all("li")) == 10


def test_the_partner_page_reads_in_french(demo, operator, html):
    page = html(operator.get(f"/operator/partners/{demo.org('Southwind Networks').id}",
                             headers={"Accept-Language": "fr"}))
    assert page.by_id("revenue-last-days").text == "60,00 €"


def test_a_partner_page_of_another_kind_of_organisation_or_unknown_is_not_found(demo, operator):
    assert operator.get(f"/operator/partners/{demo.acme.id}").status_code == 404  # a client
    assert operator.get("/operator/partners/999999").status_code == 404


def _issue_on(client, site, subscription_type, issued_on, amount):
    from datetime import timedelta

    from portal.domain.billing import invoices as issuing
    from portal.domain.transactions import write_transaction

    line = issuing.invoice_line(site.id, site.name, subscription_type, 1, amount, amount, 1, 1)
    with write_transaction():
        issuing.issue(None, client, "proration", "monthly", issued_on, issued_on + timedelta(days=1), issued_on,
                      [line], "EUR")


@pytest.mark.parametrize(("today", "last_days", "this_month"), [
    # 30 days from Feb 9 to Mar 10; the month from Mar 1: Mar 10, Mar 1, Feb 28, Feb 9 and Mar 1, Mar 10.
    ("2027-03-10", 1000 + 200 + 30 + 4, 1000 + 200),
    # 30 days from Mar 2 to Mar 31: Mar 10 and Mar 11 only; the month also has Mar 1.
    ("2027-03-31", 1000 + 600000, 1000 + 600000 + 200),
])
def test_revenue_sums_the_invoices_issued_in_the_last_30_days_and_this_month(today, last_days, this_month):
    from datetime import date

    from portal.domain.orgs import partners
    from tests.factories import ClientFactory, PartnerFactory, SiteFactory, SubscriptionTypeFactory

    priced = SubscriptionTypeFactory(currency="EUR")
    partner, other, idle = PartnerFactory(), PartnerFactory(), PartnerFactory()
    client = ClientFactory(parent=partner, billed=False)
    site = SiteFactory(client=client)
    for day, amount in [("2027-03-10", 1000), ("2027-03-01", 200), ("2027-02-28", 30), ("2027-02-09", 4),
                        ("2027-02-08", 50000), ("2027-03-11", 600000)]:
        _issue_on(client, site, priced, date.fromisoformat(day), amount)
    other_client = ClientFactory(parent=other, billed=False)
    _issue_on(other_client, SiteFactory(client=other_client), priced, date(2027, 3, 10), 7)

    revenue = partners.revenue([partner.id, other.id, idle.id], today=date.fromisoformat(today))

    assert revenue[partner.id] == [partners.Revenue("EUR", last_days, this_month)]
    assert revenue[other.id] == [partners.Revenue("EUR", 7, 7)]
    assert revenue[idle.id] == [partners.Revenue("EUR", 0, 0)]


def _statements(app, browser, path):
    from sqlalchemy import event

    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731 - (conn, cursor, statement, …)
    engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = browser.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200
    return len(seen)


def test_the_partner_list_and_page_cost_the_same_statements_whatever_the_data(demo, operator, app):
    """A page issues the same handful of statements at any size: no statement per partner, client or invoice."""
    from portal.domain.orgs import clients as client_service
    from portal.domain.orgs import partners
    from portal.domain.seats import allocations

    northwind = demo.org("Northwind Telecom")
    page = f"/operator/partners/{northwind.id}"
    few = (_statements(app, operator, "/operator/partners"), _statements(app, operator, page))
    actor = demo.user("operator@portal.example")
    for n in range(6):
        partner = partners.create_partner(actor, f"Partner {n}", f"PA{'ABCDEF'[n]}", f"Admin {n}",
                                          f"admin{n}@partner{n}.example")
        for parent in (partner, northwind):
            client = client_service.create_client(actor, parent, f"Clinic {n} of {parent.name}", "monthly")
            site = client_service.create_site(actor, client, "Main")
            allocations.set_allocation(actor, site, demo.type("essentials"), n + 1)
    many = (_statements(app, operator, "/operator/partners"), _statements(app, operator, page))

    assert many == few
