"""The price book and client prices through the API (docs/rules.md rule 22).

The demo has no price book entries and no client prices: every client pays
the list price (Essentials 15.00 / 150.00, Unlimited 29.00 / 290.00,
Support 0). Northwind's discount is 20 %: its cost of Essentials is 12.00.
"""
import pytest
from api_helpers import assert_error
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import AuditEvent, ClientPrice, PriceBookEntry


def euros(amount):
    return {"amount": amount, "currency": "EUR"}


def pair(monthly, annual):
    return {"monthly": euros(monthly), "annual": euros(annual)}


def written():
    db.session.rollback()
    return (db.session.scalar(select(func.count()).select_from(PriceBookEntry)),
            db.session.scalar(select(func.count()).select_from(ClientPrice)),
            db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action.like("%price%"))))


def test_finance_reads_its_price_book_with_list_price_cost_and_price(api_as, demo):
    response = api_as("nw_finance").get("/api/v1/price-book")

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["items"] == [
        {"subscription_type": "essentials", "list_price": pair(1500, 15000), "cost": pair(1200, 12000),
         "price": pair(1500, 15000)},
        {"subscription_type": "unlimited", "list_price": pair(2900, 29000), "cost": pair(2320, 23200),
         "price": pair(2900, 29000)},
        {"subscription_type": "support", "list_price": pair(0, 0), "cost": pair(0, 0), "price": pair(0, 0)},
    ]


def test_setting_a_book_price_answers_the_item_and_reaches_clients_next_period(api_as, demo):
    finance = api_as("nw_finance")

    response = finance.put("/api/v1/price-book/essentials", json=pair(1800, 18000))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"subscription_type": "essentials", "list_price": pair(1500, 15000),
                                   "cost": pair(1200, 12000), "price": pair(1800, 18000)}
    prices = finance.get(f"/api/v1/clients/{demo.acme.id}/prices").get_json()["items"]
    essentials = next(item for item in prices if item["subscription_type"] == "essentials")
    demo.acme.period_end  # noqa: B018 - loaded before the assertion names it
    assert essentials == {"subscription_type": "essentials", "price": euros(1500), "next_price": euros(1800),
                          "next_price_from": demo.acme.period_end.isoformat(), "source": "price_book"}
    # Globex is annual: the next period's annual price.
    globex = finance.get(f"/api/v1/clients/{demo.org('Globex Clinic').id}/prices").get_json()["items"]
    assert next(item for item in globex if item["subscription_type"] == "essentials")["next_price"] == euros(18000)

    deleted = finance.delete("/api/v1/price-book/essentials")
    assert deleted.status_code == 200 and deleted.get_json()["price"] == pair(1500, 15000)
    assert written()[:2] == (0, 0)


def test_a_client_price_and_going_back_to_the_price_book(api_as, demo):
    finance, acme = api_as("nw_finance"), demo.acme

    response = finance.put(f"/api/v1/clients/{acme.id}/prices/unlimited", json=pair(2500, 25000))

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"subscription_type": "unlimited", "price": euros(2900), "next_price": euros(2500),
                                   "next_price_from": acme.period_end.isoformat(), "source": "client"}
    # The client admin reads its prices (no cost anywhere in them).
    items = api_as("acme_admin").get(f"/api/v1/clients/{acme.id}/prices").get_json()["items"]
    assert [item["source"] for item in items] == ["list", "client", "list"]
    back = finance.delete(f"/api/v1/clients/{acme.id}/prices/unlimited")
    assert back.status_code == 200
    assert back.get_json() == {"subscription_type": "unlimited", "price": euros(2900), "next_price": None,
                               "next_price_from": None, "source": "list"}


@pytest.mark.parametrize("body, field", [
    ({"monthly": {"amount": -1, "currency": "EUR"}, "annual": euros(100)}, "monthly"),
    ({"monthly": {"amount": 1.5, "currency": "EUR"}, "annual": euros(100)}, "monthly"),
    ({"monthly": {"amount": "15", "currency": "EUR"}, "annual": euros(100)}, "monthly"),
    ({"monthly": {"amount": 10**12, "currency": "EUR"}, "annual": euros(100)}, "monthly"),
    ({"monthly": euros(100), "annual": {"amount": 100, "currency": "USD"}}, "annual.currency"),
    ({"monthly": euros(100), "annual": {"amount": 100, "currency": "eur"}}, "annual"),
    ({"monthly": euros(100)}, "annual"),
    ({"monthly": 1500, "annual": 15000}, "monthly"),
])
def test_a_bad_price_is_422_and_writes_nothing(api_as, demo, body, field):
    for path in ("/api/v1/price-book/essentials", f"/api/v1/clients/{demo.acme.id}/prices/essentials"):
        error = assert_error(api_as("nw_finance").put(path, json=body), 422, "validation_error")
        assert any(name == field or name.startswith(field + ".") for name in error["fields"]), error
    assert written() == (0, 0, 0)


def test_malformed_json_and_an_unknown_type_are_422(api_as, demo):
    finance = api_as("nw_finance")
    response = finance.put("/api/v1/price-book/essentials", data="{not json", content_type="application/json")
    assert_error(response, 422, "validation_error")
    assert_error(finance.put("/api/v1/price-book/platinum", json=pair(100, 1000)), 422, "validation_error",
                 "type_code")
    assert_error(finance.delete(f"/api/v1/clients/{demo.acme.id}/prices/platinum"), 422, "validation_error",
                 "type_code")
    assert written() == (0, 0, 0)


def test_who_may_read_and_set_prices(api_as, demo):
    acme, initech = demo.acme.id, demo.org("Initech Vet").id
    # A partner admin without prices.manage or margins.view, a client admin: 403 for the price book.
    for who in ("nw_admin", "nw_support", "acme_admin"):
        assert_error(api_as(who).get("/api/v1/price-book"), 403, "forbidden")
        assert_error(api_as(who).put("/api/v1/price-book/essentials", json=pair(1, 10)), 403, "forbidden")
    assert_error(api_as("acme_admin").put(f"/api/v1/clients/{acme}/prices/essentials", json=pair(1, 10)), 403,
                 "forbidden")
    # Another partner's client is not found, whatever the permission.
    assert_error(api_as("sw_admin").get(f"/api/v1/clients/{acme}/prices"), 404, "not_found")
    assert_error(api_as("sw_admin").put(f"/api/v1/clients/{acme}/prices/essentials", json=pair(1, 10)), 404,
                 "not_found")
    assert_error(api_as("nw_finance").delete(f"/api/v1/clients/{initech}/prices/essentials"), 404, "not_found")
    # The operator keeps the catalogue: the price book is a partner's own.
    assert_error(api_as("operator").get("/api/v1/price-book"), 403, "forbidden")
    assert written() == (0, 0, 0)


def test_the_price_operations_are_in_the_openapi_document(api_as, demo):
    paths = api_as("nw_finance").get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/price-book"]) == {"get"}
    assert set(paths["/price-book/{type_code}"]) == {"put", "delete"}
    assert set(paths["/clients/{client_id}/prices"]) == {"get"}
    assert set(paths["/clients/{client_id}/prices/{type_code}"]) == {"put", "delete"}
    put = paths["/price-book/{type_code}"]["put"]
    assert {"200", "401", "403", "422", "429"} <= set(put["responses"])
