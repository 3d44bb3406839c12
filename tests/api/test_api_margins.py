"""Partners and their discounts, and the margin report (docs/rules.md section 8 and rule 23), through the API.

The demo's invoices are issued today: Northwind (20 % off) billed Acme Dental
178.00 (cost 142.40) and Globex Clinic 2,900.00 (cost 2,320.00); Southwind
(15 % off) billed Initech Vet 60.00 (cost 51.00).
"""
from datetime import timedelta

import pytest
from api_helpers import assert_error
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.models import AuditEvent, Organisation


def this_month():
    today = clock.today()
    return f"from={today.replace(day=1).isoformat()}&to={(today + timedelta(days=1)).isoformat()}"


def euros(amount):
    return {"amount": amount, "currency": "EUR"}


# ---------------------------------------------------------------- the margin report


def test_the_report_has_an_item_per_client_and_type_and_totals(api_as, demo):
    response = api_as("nw_finance").get("/api/v1/reports/margins?" + this_month())

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    acme, globex = demo.acme.id, demo.org("Globex Clinic").id
    assert body == {
        "items": [
            {"client_id": acme, "client_name": "Acme Dental", "subscription_type": "essentials",
             "revenue": euros(12000), "cost": euros(9600), "margin": euros(2400)},
            {"client_id": acme, "client_name": "Acme Dental", "subscription_type": "support",
             "revenue": euros(0), "cost": euros(0), "margin": euros(0)},
            {"client_id": acme, "client_name": "Acme Dental", "subscription_type": "unlimited",
             "revenue": euros(5800), "cost": euros(4640), "margin": euros(1160)},
            {"client_id": globex, "client_name": "Globex Clinic", "subscription_type": "unlimited",
             "revenue": euros(290000), "cost": euros(232000), "margin": euros(58000)},
        ],
        "totals": {"revenue": euros(307800), "cost": euros(246240), "margin": euros(61560)},
    }


def test_the_operator_reads_every_partner_and_southwind_its_own(api_as, demo):
    operator = api_as("operator").get("/api/v1/reports/margins?" + this_month()).get_json()
    assert operator["totals"] == {"revenue": euros(313800), "cost": euros(251340), "margin": euros(62460)}
    southwind = api_as("sw_admin").get("/api/v1/reports/margins?" + this_month()).get_json()
    assert [(i["client_name"], i["cost"]["amount"]) for i in southwind["items"]] == [("Initech Vet", 5100)]


def test_to_is_the_first_day_left_out(api_as, demo):
    today = clock.today().isoformat()
    body = api_as("nw_finance").get(f"/api/v1/reports/margins?from={today}&to={today}").get_json()
    assert body == {"items": [], "totals": {"revenue": euros(0), "cost": euros(0), "margin": euros(0)}}


@pytest.mark.parametrize(("query", "field"), [
    ("", "from"),
    ("from=2026-01-01", "to"),
    ("from=2026-13-01&to=2026-12-01", "from"),
    ("from=2026-02-30&to=2026-12-01", "from"),
    ("from=2026-01-01&to=20261201", "to"),
    ("from=2026-01-01T00:00:00Z&to=2026-02-01", "from"),
    ("from=1700000000&to=2026-02-01", "from"),
    ("from=0000-01-01&to=2026-02-01", "from"),
    ("from=2026-02-01&to=2026-01-31", "to"),  # ends before it starts
    ("from=2026-01-01&to=2027-02-06", "to"),  # 401 days
    ("from=%00&to=2026-02-01", "from"),
])
def test_malformed_dates_a_reversed_or_too_long_range_are_422(api_as, demo, query, field):
    response = api_as("nw_finance").get("/api/v1/reports/margins?" + query)
    assert_error(response, 422, "validation_error", field)


def test_a_range_of_400_days_is_the_longest(api_as, demo):
    response = api_as("nw_finance").get("/api/v1/reports/margins?from=2026-01-01&to=2027-02-05")  # 400 days
    assert response.status_code == 200


@pytest.mark.parametrize("who", ["nw_admin", "nw_support", "acme_admin", "acme_accountant", "initech_admin"])
def test_without_margins_view_the_report_is_forbidden(api_as, demo, who):
    assert_error(api_as(who).get("/api/v1/reports/margins?" + this_month()), 403, "forbidden")


# ---------------------------------------------------------------- partners and their discounts


def test_the_operator_lists_its_partners_with_their_discounts_page_by_page(api_as, demo):
    operator = api_as("operator")
    body = operator.get("/api/v1/partners").get_json()
    assert body == {"items": [
        {"id": demo.org("Northwind Telecom").id, "name": "Northwind Telecom", "discount_bp": 2000},
        {"id": demo.org("Southwind Networks").id, "name": "Southwind Networks", "discount_bp": 1500},
    ], "page": 1, "per_page": 50, "total": 2}
    second = operator.get("/api/v1/partners?page=2&per_page=1").get_json()
    assert [p["name"] for p in second["items"]] == ["Southwind Networks"] and second["total"] == 2
    assert_error(operator.get("/api/v1/partners?per_page=201"), 422, "validation_error", "per_page")


def _discount_events():
    db.session.rollback()
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "partner.discount_changed"))


def test_the_operator_sets_a_discount_for_documents_issued_afterwards(api_as, demo, fresh):
    southwind = demo.org("Southwind Networks")

    response = api_as("operator").put(f"/api/v1/partners/{southwind.id}/discount", json={"discount_bp": 2500})

    assert response.status_code == 200
    assert response.get_json() == {"id": southwind.id, "name": "Southwind Networks", "discount_bp": 2500}
    fresh()
    assert db.session.get(Organisation, southwind.id).discount_bp == 2500
    assert _discount_events() == 1
    # Initech's invoice was issued at 15 %: it keeps its cost.
    body = api_as("sw_admin").get("/api/v1/reports/margins?" + this_month()).get_json()
    assert body["totals"]["cost"] == euros(5100)


@pytest.mark.parametrize("body", [
    {"discount_bp": -1}, {"discount_bp": 10001}, {"discount_bp": 12.5}, {"discount_bp": "2000"},
    {"discount_bp": True}, {"discount_bp": None}, {}, {"discount_bp": 2**80},
])
def test_a_bad_discount_is_422_and_writes_nothing(api_as, demo, body):
    southwind = demo.org("Southwind Networks")

    response = api_as("operator").put(f"/api/v1/partners/{southwind.id}/discount", json=body)

    assert_error(response, 422, "validation_error", "discount_bp")
    db.session.rollback()
    assert db.session.get(Organisation, southwind.id).discount_bp == 1500
    assert _discount_events() == 0


def test_a_discount_for_an_unknown_partner_or_a_client_is_404(api_as, demo):
    operator = api_as("operator")
    for partner_id in (demo.acme.id, 999_999):
        assert_error(operator.put(f"/api/v1/partners/{partner_id}/discount", json={"discount_bp": 0}), 404,
                     "not_found")


def test_partner_staff_cannot_set_their_own_discount(api_as, demo):
    northwind = demo.org("Northwind Telecom")
    assert_error(api_as("nw_finance").put(f"/api/v1/partners/{northwind.id}/discount", json={"discount_bp": 9000}),
                 403, "forbidden")
    assert _discount_events() == 0


# ---------------------------------------------------------------- no invoice answer carries cost


@pytest.mark.parametrize("who", ["operator", "nw_finance", "acme_admin", "acme_accountant"])
def test_no_invoice_answer_carries_cost_or_margin_even_for_margins_view(api_as, demo, who):
    client = api_as(who)
    listing = client.get("/api/v1/invoices").get_json()
    invoice = client.get(f"/api/v1/invoices/{listing['items'][0]['id']}").get_json()
    for answer in (listing["items"][0], invoice):
        assert set(answer) == {"id", "number", "client_id", "kind", "period_start", "period_end", "issued_on",
                               "credits_invoice_id", "tax_rate_bp", "tax", "total_with_tax", "seller", "buyer",
                               "total", "lines"}
        assert all(set(line) == {"site_id", "subscription_type", "quantity", "unit_price", "days", "amount"}
                   for line in answer["lines"])
