"""``GET /api/v1/insights`` (docs/rules.md rule 36, API conventions): its exact shape and its reach.

Northwind's Acme Dental (monthly since DAY0): Lyon with 3 Essentials seats
nobody used for a month, Paris with none free; Globex (annual) with one idle
Unlimited seat. Southwind's Initech has seats Northwind never sees.
"""
from datetime import date, timedelta

import pytest
from api_helpers import assert_error

from portal.blueprints.api.openapi import document
from tests.factories import (
    AllocationFactory,
    ClientFactory,
    PartnerFactory,
    SiteFactory,
    SubscriptionTypeFactory,
    UserFactory,
)

TODAY = date(2027, 6, 30)
DAY0 = TODAY - timedelta(days=60)


def euros(amount):
    return {"amount": amount, "currency": "EUR"}


@pytest.fixture
def world(on, northwind):
    on(DAY0)
    essentials = SubscriptionTypeFactory(essentials=True)
    unlimited = SubscriptionTypeFactory(unlimited=True)
    UserFactory(organisation=northwind, email="finance@northwind.example", finance=True)
    acme = ClientFactory(parent=northwind, name="Acme Dental")
    lyon, paris = SiteFactory(client=acme, name="Lyon"), SiteFactory(client=acme, name="Paris")
    AllocationFactory(site=lyon, subscription_type=essentials, allocated=5, consumed=2)
    AllocationFactory(site=paris, subscription_type=essentials, allocated=2, consumed=2)
    globex = ClientFactory(parent=northwind, name="Globex", billing_cycle="annual")
    berlin = SiteFactory(client=globex, name="Berlin")
    AllocationFactory(site=berlin, subscription_type=unlimited, allocated=2, consumed=1)
    southwind = PartnerFactory(name="Southwind")
    UserFactory(organisation=southwind, email="finance@southwind.example", finance=True)
    initech = ClientFactory(parent=southwind, name="Initech")
    austin = SiteFactory(client=initech, name="Austin")
    AllocationFactory(site=austin, subscription_type=essentials, allocated=4, consumed=4)
    on(TODAY)
    return dict(acme=acme, lyon=lyon, paris=paris, globex=globex, berlin=berlin, initech=initech, austin=austin)


@pytest.fixture
def api(client_with, token_for):
    return lambda email: client_with(token_for(email))


def test_the_answer_has_exactly_the_documented_shape(world, api):
    response = api("finance@northwind.example").get("/api/v1/insights")

    assert response.status_code == 200, response.get_data(as_text=True)
    acme, globex = world["acme"].id, world["globex"].id
    assert response.get_json() == {
        "idle": [
            # Globex pays annually: its next period's saving is a year of one Unlimited seat.
            {"client_id": globex, "site_id": world["berlin"].id, "subscription_type": "unlimited",
             "idle_seats": 1, "saving_per_period": euros(29000)},
            {"client_id": acme, "site_id": world["lyon"].id, "subscription_type": "essentials",
             "idle_seats": 3, "saving_per_period": euros(4500)},
        ],
        "running_out": [
            {"client_id": acme, "site_id": world["paris"].id, "subscription_type": "essentials", "free": 0,
             "days_left": 0},
        ],
        # Acme 7 × 15.00 a month; Globex 2 × 290.00 a year = 48.33 a month.
        "mrr": {"total": euros(10500 + 4833), "change_30d": euros(0)},
    }


def test_another_partners_data_is_never_in_the_answer(world, api):
    northwind = api("finance@northwind.example").get("/api/v1/insights").get_json()
    southwind = api("finance@southwind.example").get("/api/v1/insights").get_json()

    initech = world["initech"].id
    assert initech not in {item["client_id"] for item in northwind["idle"] + northwind["running_out"]}
    assert southwind == {
        "idle": [],
        "running_out": [{"client_id": initech, "site_id": world["austin"].id, "subscription_type": "essentials",
                         "free": 0, "days_left": 0}],
        "mrr": {"total": euros(4 * 1500), "change_30d": euros(0)},
    }


def test_the_operator_reads_every_partners_insight(world, api):
    UserFactory(operator_admin=True, email="operator@portal.example")
    body = api("operator@portal.example").get("/api/v1/insights").get_json()
    assert {item["client_id"] for item in body["running_out"]} == {world["acme"].id, world["initech"].id}
    assert body["mrr"]["total"] == euros(10500 + 4833 + 6000)


def test_a_client_admin_reads_their_own_client(world, api):
    UserFactory(organisation=world["acme"], email="admin@acme.example", client_admin=True)
    body = api("admin@acme.example").get("/api/v1/insights").get_json()
    assert {item["client_id"] for item in body["idle"] + body["running_out"]} == {world["acme"].id}
    assert body["mrr"]["total"] == euros(10500)


@pytest.mark.parametrize("who", ["partner_admin", "accountant"])
def test_without_subscriptions_view_the_answer_is_403(world, api, northwind, who):
    organisation = northwind if who == "partner_admin" else world["acme"]
    user = UserFactory(organisation=organisation, **{who: True})
    assert_error(api(user.email).get("/api/v1/insights"), 403, "forbidden")


def test_without_a_token_the_answer_is_401(world, anonymous):
    assert_error(anonymous.get("/api/v1/insights"), 401, "unauthorized")


def test_the_operation_is_in_the_openapi_document():
    operation = document()["paths"]["/insights"]["get"]
    assert {"200", "401", "403", "429"} <= set(operation["responses"])
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    schemas = document()["components"]["schemas"]
    body = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    assert set(body["properties"]) == {"idle", "running_out", "mrr"}
    assert set(schemas["IdleSeatOut"]["properties"]) == {"client_id", "site_id", "subscription_type", "idle_seats",
                                                         "saving_per_period"}
    assert set(schemas["RunningOutOut"]["properties"]) == {"client_id", "site_id", "subscription_type", "free",
                                                           "days_left"}
    assert set(schemas["RecurringRevenueOut"]["properties"]) == {"total", "change_30d"}
