"""The margin report screen and its CSV (docs/rules.md rule 23), and the partner discount on the operator's page.

The demo's invoices are issued today: Northwind (20 % off) billed Acme Dental
178.00 (cost 142.40) and Globex Clinic 2,900.00 a year (cost 2,320.00);
Southwind (15 % off) billed Initech Vet 60.00 (cost 51.00).
"""
import csv
import io
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Organisation


@pytest.fixture
def finance(demo, login_as):
    return login_as("finance@northwind.example")


@pytest.fixture
def operator(demo, login_as):
    return login_as("operator@portal.example")


def _row(page, client, code):
    return page.by_id(f"margin-{client.id}-{code}-eur").cells()


def test_finance_reads_revenue_cost_and_margin_per_client_and_type_with_totals(demo, finance, html):
    response = finance.get("/reports/margins")

    assert response.status_code == 200
    page = html(response)
    globex = demo.org("Globex Clinic")
    assert _row(page, demo.acme, "essentials") == ["Acme Dental", "Essentials", "€120.00", "€96.00", "€24.00", "20%"]
    assert _row(page, demo.acme, "unlimited") == ["Acme Dental", "Unlimited", "€58.00", "€46.40", "€11.60", "20%"]
    assert _row(page, demo.acme, "support") == ["Acme Dental", "Support", "€0.00", "€0.00", "€0.00", "—"]
    assert _row(page, globex, "unlimited") == ["Globex Clinic", "Unlimited", "€2,900.00", "€2,320.00", "€580.00",
                                                "20%"]
    assert page.by_id("margin-total-eur").cells() == ["Total", "€3,078.00", "€2,462.40", "€615.60", "20%"]
    assert page.by_id(f"margin-{demo.org('Initech Vet').id}-essentials-eur") is None  # Southwind's client
    assert "your discount of 20%" in page.text
    # The range shown is the current calendar month, both days included.
    first = clock.today().replace(day=1)
    assert page.by_id("margins-from").attrs["value"] == first.isoformat()
    last = page.by_id("margins-to").attrs["value"]
    assert date.fromisoformat(last).month == first.month
    assert (date.fromisoformat(last) + timedelta(days=1)).day == 1


def test_the_operator_reads_every_partners_margins(demo, operator, html):
    page = html(operator.get("/reports/margins"))
    assert _row(page, demo.org("Initech Vet"), "essentials")[2:] == ["€60.00", "€51.00", "€9.00", "15%"]
    assert page.by_id("margin-total-eur").cells()[1:] == ["€3,138.00", "€2,513.40", "€624.60", "19.9%"]


def test_a_range_without_documents_says_so(demo, finance, html):
    page = html(finance.get("/reports/margins?from=2020-01-01&to=2020-01-31"))
    assert "No invoices were issued in this range." in page.text
    assert page.by_id("margin-total-eur") is None


def test_the_last_day_of_the_range_is_included(demo, finance, html):
    today = clock.today().isoformat()
    page = html(finance.get(f"/reports/margins?from={today}&to={today}"))
    assert page.by_id("margin-total-eur").cells()[1] == "€3,078.00"


@pytest.mark.parametrize(("query", "field", "message"), [
    ("from=2027-13-01", "from", "Enter the start date as YYYY-MM-DD"),
    ("from=yesterday", "from", "Enter the start date as YYYY-MM-DD"),
    ("to=2027-02-30", "to", "Enter the end date as YYYY-MM-DD"),
    ("to=20270201", "to", "Enter the end date as YYYY-MM-DD"),
    ("from=2027-02-01&to=2027-01-31", "to", "The end date is before the start date."),
    ("from=2026-01-01&to=2027-02-05", "to", "at most 400 days"),
    ("from=2026-01-01&to=9999-12-31", "to", "before the year 9999"),
    ("from=%00&to=\u0663", "from", "Enter the start date as YYYY-MM-DD"),
])
def test_a_bad_range_is_a_field_error_never_a_500(demo, finance, html, query, field, message):
    response = finance.get("/reports/margins?" + query)

    assert response.status_code == 422
    page = html(response)
    assert message in page.by_id(f"margins-{field}-error").text
    assert page.by_id(f"margins-{field}").attrs["aria-invalid"] == "true"
    assert page.by_id("margin-total-eur") is None
    assert finance.get("/reports/margins.csv?" + query).status_code == 422


def test_a_range_of_400_days_is_shown(demo, finance):
    assert finance.get("/reports/margins?from=2026-01-01&to=2027-02-04").status_code == 200  # 400 days


def test_htmx_gets_the_table_alone(demo, finance, assert_fragment):
    table = assert_fragment(finance.get("/reports/margins", headers={"HX-Request": "true"}), "margin-table")
    assert "€3,078.00" in table.text
    assert_fragment(finance.get("/reports/margins?to=nope", headers={"HX-Request": "true"}), "margin-table", 422)


def test_the_csv_export_streams_the_rows_in_decimal_text(demo, finance):
    today = clock.today()
    response = finance.get(f"/reports/margins.csv?from={today.replace(day=1)}&to={today}")

    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.is_streamed
    assert response.headers["Content-Disposition"].startswith('attachment; filename="margins-')
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["client_id", "client", "subscription_type", "currency", "revenue", "cost", "margin",
                       "margin_percent"]
    acme = str(demo.acme.id)
    assert [acme, "Acme Dental", "essentials", "EUR", "120.00", "96.00", "24.00", "20.00"] in rows
    assert [acme, "Acme Dental", "support", "EUR", "0.00", "0.00", "0.00", ""] in rows
    assert [str(demo.org("Globex Clinic").id), "Globex Clinic", "unlimited", "EUR", "2900.00", "2320.00",
            "580.00", "20.00"] in rows
    assert len(rows) == 1 + 4  # no Southwind client


def test_the_report_reads_in_french(demo, finance, html):
    page = html(finance.get("/reports/margins", headers={"Accept-Language": "fr"}))
    cells = page.by_id("margin-total-eur").cells()  # the cells' text with its spaces made plain
    assert cells[1:] == ["3 078,00 €", "2 462,40 €", "615,60 €", "20 %"]


def test_the_navigation_links_the_report_for_margins_view_only(demo, login_as, html):
    for email, shown in (("finance@northwind.example", True), ("operator@portal.example", True),
                         ("admin@southwind.example", True), ("admin@northwind.example", False),
                         ("support@northwind.example", False), ("admin@acme.example", False),
                         ("accountant@acme.example", False)):
        nav = html(login_as(email).get("/account")).find("nav")
        assert bool(nav.find("a", href="/reports/margins")) is shown, email


# ---------------------------------------------------------------- the partner's discount (operator)


def _discount(partner_id):
    db.session.rollback()
    return db.session.get(Organisation, partner_id).discount_bp


def _discount_events():
    db.session.rollback()
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "partner.discount_changed"))


def test_the_operators_partner_page_shows_the_discount_as_a_percentage(demo, operator, html):
    northwind = demo.org("Northwind Telecom")
    page = html(operator.get(f"/operator/partners/{northwind.id}"))
    assert "list price less 20%" in page.by_id("partner-discount-now").text
    assert page.by_id("discount_percent").attrs["value"] == "20"


def test_the_operator_sets_a_discount_in_percent(demo, operator, html):
    northwind = demo.org("Northwind Telecom")

    response = operator.post(f"/operator/partners/{northwind.id}/discount", data={"discount_percent": "12.5"})

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/operator/partners/{northwind.id}")
    assert _discount(northwind.id) == 1250
    page = html(operator.get(f"/operator/partners/{northwind.id}"))
    assert "The discount of Northwind Telecom is now 12.5%" in page.text
    assert page.by_id("discount_percent").attrs["value"] == "12.5"
    audit = html(operator.get("/audit?action=partner.discount_changed"))
    assert "Olga Operator changed the discount of Northwind Telecom from 20% to 12.5%" in audit.text


@pytest.mark.parametrize(("typed", "message"), [
    ("", "This field is required."),
    ("-5", "cannot be negative"),
    ("100.5", "at most 100%"),
    ("12.345", "at most two decimals"),
    ("twenty", "at most two decimals"),
])
def test_a_bad_discount_is_a_field_error_and_writes_nothing(demo, operator, html, typed, message):
    northwind = demo.org("Northwind Telecom")

    response = operator.post(f"/operator/partners/{northwind.id}/discount", data={"discount_percent": typed})

    assert response.status_code == 422
    assert message in html(response).by_id("discount_percent-error").text
    assert _discount(northwind.id) == 2000 and _discount_events() == 0


def test_only_the_operator_sets_a_discount(demo, login_as):
    southwind = demo.org("Southwind Networks")
    for email in ("finance@northwind.example", "admin@southwind.example", "admin@acme.example"):
        response = login_as(email).post(f"/operator/partners/{southwind.id}/discount",
                                        data={"discount_percent": "0"})
        assert response.status_code == 403
    assert _discount(southwind.id) == 1500 and _discount_events() == 0
