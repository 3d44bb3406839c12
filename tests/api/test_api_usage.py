"""Seats over time through the API (docs/rules.md rule 34: the usage operations).

The clock moves ten days past the demo's today, so the days tested come after
the demo's own history: until a change, every day reads today's demo counts.
"""
from datetime import timedelta

import pytest
from api_helpers import assert_error

from portal import clock

START = clock.today() + timedelta(days=10)


def day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


@pytest.fixture
def later(on):
    """Ten days on; finance raises Paris' Essentials from 3 to 5 two days before that."""
    on(START - timedelta(days=2))

    def move(api_as, demo):
        paris = demo.site("Acme Dental", "Paris")
        response = api_as("nw_finance").put(f"/api/v1/sites/{paris.id}/allocations/essentials",
                                            json={"allocated": 5})
        assert response.status_code == 200, response.get_data(as_text=True)
        on(START)
        return paris

    return move


def by_day(body, code):
    return {item["date"]: (item["allocated"], item["consumed"]) for item in body["items"]
            if item["subscription_type"] == code}


def test_a_site_reads_each_day_of_the_range_per_type(api_as, demo, later):
    paris = later(api_as, demo)

    response = api_as("nw_finance").get(f"/api/v1/sites/{paris.id}/usage?from={day(-4)}&to={day(0)}")

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"items"}
    assert set(body["items"][0]) == {"date", "subscription_type", "allocated", "consumed"}
    assert by_day(body, "essentials") == {day(-4): (3, 3), day(-3): (3, 3), day(-2): (5, 3), day(-1): (5, 3),
                                          day(0): (5, 3)}
    assert by_day(body, "support") == {day(n): (2, 0) for n in range(-4, 1)}
    assert {item["subscription_type"] for item in body["items"]} == {"essentials", "support"}
    assert [item["date"] for item in body["items"]] == sorted(item["date"] for item in body["items"])


def test_client_and_partner_usage_sum_their_sites(api_as, demo, later):
    later(api_as, demo)
    acme = demo.acme

    client = api_as("acme_admin").get(f"/api/v1/clients/{acme.id}/usage?from={day(-3)}&to={day(-2)}").get_json()
    partner = api_as("nw_finance").get(f"/api/v1/usage?from={day(-3)}&to={day(-2)}").get_json()
    own = api_as("acme_admin").get(f"/api/v1/usage?from={day(-3)}&to={day(-2)}").get_json()

    assert by_day(client, "essentials") == {day(-3): (8, 7), day(-2): (10, 7)}  # Lyon 5/4 + Paris 3/3, then 5
    assert own == client  # a client's staff: their own client
    assert by_day(partner, "essentials") == {day(-3): (8, 7), day(-2): (10, 7)}  # Globex has none
    assert by_day(partner, "unlimited") == {day(-3): (12, 9), day(-2): (12, 9)}  # Lyon 2/2 + Main 10/7
    operator = api_as("operator").get(f"/api/v1/usage?from={day(-3)}&to={day(-2)}").get_json()
    initech = api_as("initech_admin").get(f"/api/v1/usage?from={day(-3)}&to={day(-2)}").get_json()
    for code in ("essentials", "unlimited", "support"):
        assert {d: tuple(a + b for a, b in zip(counts, by_day(initech, code).get(d, (0, 0))))
                for d, counts in by_day(partner, code).items()} == by_day(operator, code)


def test_without_dates_the_last_30_days_and_the_future_is_clipped(api_as, demo, later):
    paris = later(api_as, demo)

    default = api_as("nw_finance").get(f"/api/v1/sites/{paris.id}/usage").get_json()
    future = api_as("nw_finance").get(f"/api/v1/sites/{paris.id}/usage?from={day(-1)}&to={day(30)}").get_json()

    assert sorted(by_day(default, "essentials")) == [day(n) for n in range(-29, 1)]
    assert sorted(by_day(future, "essentials")) == [day(-1), day(0)]


@pytest.mark.parametrize("query, field", [
    (f"from={day(0)}&to={day(-1)}", "to"),
    (f"from={day(-400)}&to={day(0)}", "to"),
    ("from=2026-13-01", "from"),
    ("from=yesterday", "from"),
    ("to=2026-02-30", "to"),
])
def test_a_bad_range_is_422_naming_the_field(api_as, demo, later, query, field):
    paris = later(api_as, demo)

    assert_error(api_as("nw_finance").get(f"/api/v1/sites/{paris.id}/usage?{query}"), 422, "validation_error", field)


def test_400_days_are_allowed(api_as, demo, later):
    paris = later(api_as, demo)
    body = api_as("nw_finance").get(f"/api/v1/sites/{paris.id}/usage?from={day(-399)}&to={day(0)}").get_json()
    assert len(by_day(body, "support")) == 400


def test_another_tenants_site_or_client_is_404(api_as, demo):
    initech = demo.org("Initech Vet")
    site = demo.site("Acme Dental", "Paris")

    assert_error(api_as("sw_admin").get(f"/api/v1/sites/{site.id}/usage"), 404, "not_found")
    assert_error(api_as("sw_admin").get(f"/api/v1/clients/{demo.acme.id}/usage"), 404, "not_found")
    assert_error(api_as("acme_admin").get(f"/api/v1/clients/{initech.id}/usage"), 404, "not_found")
    assert_error(api_as("nw_finance").get("/api/v1/sites/999999/usage"), 404, "not_found")


def test_only_holders_of_subscriptions_view_read_usage(api_as, demo):
    site = demo.site("Acme Dental", "Lyon")
    for who in ("acme_accountant", "acme_frontdesk"):
        assert_error(api_as(who).get(f"/api/v1/sites/{site.id}/usage"), 403, "forbidden")
        assert_error(api_as(who).get(f"/api/v1/clients/{demo.acme.id}/usage"), 403, "forbidden")
        assert_error(api_as(who).get("/api/v1/usage"), 403, "forbidden")
