"""Bad input is a 422 naming the field, never a 500, and writes nothing (docs/rules.md, API "Errors")."""
import json

import pytest
from api_helpers import assert_error


def test_unknown_api_path_is_a_json_404(api_as, demo):
    for path in ("/api/v1/nope", "/api/v1", "/api/v1/clients/abc", "/api/v1/clients/1/nope", "/api/v1/clients/"):
        assert_error(api_as("nw_finance").get(path), 404, "not_found")


def test_unknown_path_needs_no_token_to_be_a_json_404(anonymous):
    assert_error(anonymous.get("/api/v1/does-not-exist"), 404, "not_found")


def test_unknown_method_is_a_json_405_with_allow(api_as, demo):
    response = api_as("nw_finance").delete("/api/v1/clients")
    error = assert_error(response, 405, "method_not_allowed")
    assert error["fields"] == {}
    assert {"GET", "POST"} <= set(response.headers["Allow"].replace(" ", "").split(","))
    assert_error(api_as("nw_finance").put("/api/v1/summary", json={}), 405, "method_not_allowed")


def test_ids_beyond_any_integer_column_are_404(api_as, demo):
    assert_error(api_as("nw_finance").get("/api/v1/clients/99999999999999999999"), 404, "not_found")
    assert_error(api_as("nw_finance").get("/api/v1/sites/2147483648"), 404, "not_found")


def test_screens_keep_their_html_404(client, demo):
    response = client.get("/no-such-page")
    assert response.status_code == 404 and response.mimetype == "text/html"


BAD_ALLOCATIONS = [
    ({"allocated": True}, "allocated"),
    ({"allocated": False}, "allocated"),
    ({"allocated": -1}, "allocated"),
    ({"allocated": 100_001}, "allocated"),
    ({"allocated": 10 ** 30}, "allocated"),
    ({"allocated": 2.5}, "allocated"),
    ({"allocated": 3.0}, "allocated"),
    ({"allocated": "3"}, "allocated"),
    ({"allocated": None}, "allocated"),
    ({"allocated": [3]}, "allocated"),
    ({}, "allocated"),
]


@pytest.mark.parametrize("body, field", BAD_ALLOCATIONS, ids=[json.dumps(b) for b, _ in BAD_ALLOCATIONS])
def test_allocation_rejects_wrong_types_and_ranges(api_as, demo, snapshot, body, field):
    client = api_as("nw_finance")
    before = snapshot()
    response = client.put(f"/api/v1/sites/{demo.lyon.id}/allocations/essentials", json=body)
    assert_error(response, 422, "validation_error", field)
    assert snapshot() == before


RAW_BODIES = [b"", b"{", b"not json", b"[1, 2]", b'"text"', b"null", b"\xff\xfe", b'{"allocated": NaN}',
              b'{"allocated": Infinity}', b"[" * 10000, b'{"allocated": 1e400}']


@pytest.mark.parametrize("raw", RAW_BODIES, ids=[repr(r[:20]) for r in RAW_BODIES])
def test_malformed_json_is_422_naming_the_body(api_as, demo, snapshot, raw):
    client = api_as("nw_finance")
    before = snapshot()
    response = client.put(f"/api/v1/sites/{demo.lyon.id}/allocations/essentials", data=raw,
                                        content_type="application/json")
    error = assert_error(response, 422, "validation_error")
    assert error["fields"]
    assert snapshot() == before


def test_an_oversized_body_is_refused(api_as, demo, snapshot):
    client = api_as("nw_finance")
    before = snapshot()
    body = json.dumps({"name": "x", "padding": "y" * 100_000})
    response = client.post(f"/api/v1/clients/{demo.acme.id}/sites", data=body,
                                         content_type="application/json")
    assert_error(response, 422, "validation_error", "body")
    assert snapshot() == before


BAD_USERS = [
    ({"email": "a\x00b@example.org"}, "email"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@example.org\r\nBcc: x@evil.example"}, "email"),
    ({"email": 42}, "email"),
    ({"name": "Nul\x00Byte"}, "name"),
    ({"name": "Line\nbreak"}, "name"),
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"subscription_type": "platinum"}, "subscription_type"),
    ({"subscription_type": 1}, "subscription_type"),
    ({"add_seat": "yes"}, "add_seat"),
    ({"add_seat": 1}, "add_seat"),
    ({"send_invitation": "tomorrow"}, "send_invitation"),
    ({"name": None}, "name"),
]


@pytest.mark.parametrize("change, field", BAD_USERS, ids=[repr(c) for c, _ in BAD_USERS])
def test_new_user_fields_are_validated(api_as, demo, snapshot, change, field):
    body = {"email": "valid@example.org", "name": "Valid Name", "subscription_type": "essentials", **change}
    client = api_as("nw_finance")
    before = snapshot()
    response = client.post(f"/api/v1/sites/{demo.lyon.id}/users", json=body)
    assert_error(response, 422, "validation_error", field)
    assert snapshot() == before


def test_a_blank_name_is_refused_by_the_service_rule(api_as, demo, snapshot):
    client = api_as("nw_finance")
    before = snapshot()
    response = client.post(f"/api/v1/clients/{demo.acme.id}/sites", json={"name": "   "})
    assert_error(response, 422, "validation_error", "name")
    assert snapshot() == before


@pytest.mark.parametrize("body, field", [
    ({"name": "X", "billing_cycle": "weekly"}, "billing_cycle"),
    ({"name": "X"}, "billing_cycle"),
    ({"name": "X", "billing_cycle": "monthly", "trial_days": -1}, "trial_days"),
    ({"name": "X", "billing_cycle": "monthly", "trial_days": 366}, "trial_days"),
    ({"name": "X", "billing_cycle": "monthly", "trial_days": True}, "trial_days"),
    ({"name": "X\x7f", "billing_cycle": "monthly"}, "name"),
])
def test_new_client_fields_are_validated(api_as, demo, snapshot, body, field):
    client = api_as("nw_finance")
    before = snapshot()
    assert_error(client.post("/api/v1/clients", json=body), 422, "validation_error", field)
    assert snapshot() == before


def test_unknown_type_code_in_the_path_is_422(api_as, demo):
    response = api_as("nw_finance").put(f"/api/v1/sites/{demo.lyon.id}/allocations/platinum",
                                        json={"allocated": 1})
    assert_error(response, 422, "validation_error", "type_code")


@pytest.mark.parametrize("query, field", [
    ("per_page=201", "per_page"), ("per_page=0", "per_page"), ("page=0", "page"), ("page=-1", "page"),
    ("page=abc", "page"), ("per_page=1.5", "per_page"), ("per_page=", "per_page"), ("page=99999999999", "page"),
    ("q=a%00b", "q"), ("q=" + "x" * 101, "q"),
])
def test_query_parameters_are_validated(api_as, demo, query, field):
    assert_error(api_as("nw_finance").get(f"/api/v1/clients?{query}"), 422, "validation_error", field)


@pytest.mark.parametrize("query, field", [
    ("client_id=abc", "client_id"), ("client_id=-4", "client_id"), ("client_id=", "client_id"),
])
def test_invoice_filters_are_validated(api_as, demo, query, field):
    assert_error(api_as("nw_finance").get(f"/api/v1/invoices?{query}"), 422, "validation_error", field)


@pytest.mark.parametrize("since", ["yesterday", "2026-01-01", "2026-02-30T00:00:00Z", "2026-01-01T00:00:00"])
def test_audit_since_must_be_a_timestamp(api_as, demo, since):
    response = api_as("nw_admin").get("/api/v1/audit-events", query_string={"since": since})
    assert_error(response, 422, "validation_error", "since")


def test_fields_outside_the_contract_are_ignored(api_as, demo, fresh):
    """No mass assignment: ids, tenants, counters and statuses in a body are never acted on."""
    other_partner = demo.org("Southwind Networks")
    response = api_as("nw_finance").post("/api/v1/clients", json={
        "name": "Sneaky", "billing_cycle": "monthly", "id": 9999, "parent_id": other_partner.id,
        "kind": "partner", "period_start": "2000-01-01"})
    assert response.status_code == 201
    created = response.get_json()
    assert created["id"] != 9999 and created["period_start"] != "2000-01-01"
    fresh()
    client = demo.org("Sneaky")
    assert client.parent_id == demo.org("Northwind Telecom").id and client.kind == "client"

    response = api_as("nw_finance").post(f"/api/v1/sites/{demo.lyon.id}/users", json={
        "email": "mass@example.org", "name": "Mass", "subscription_type": "essentials",
        "status": "active", "site_id": demo.paris.id, "organisation_id": other_partner.id, "password_hash": "x"})
    assert response.status_code == 201
    user = response.get_json()
    assert user["status"] == "invited" and user["site_id"] == demo.lyon.id
    fresh()
    stored = demo.user("mass@example.org")
    assert stored.organisation_id == demo.acme.id and stored.password_hash is None

    response = api_as("nw_finance").put(f"/api/v1/sites/{demo.lyon.id}/allocations/essentials",
                                        json={"allocated": 5, "consumed": 0})
    assert response.status_code == 200 and response.get_json()["consumed"] == 5


def test_a_page_past_the_end_is_empty(api_as, demo):
    body = api_as("nw_finance").get("/api/v1/clients?page=5&per_page=1").get_json()
    assert body == {"items": [], "page": 5, "per_page": 1, "total": 2}


def test_pagination_shape_and_limits(api_as, demo):
    client = api_as("nw_finance")
    body = client.get("/api/v1/clients?per_page=1").get_json()
    assert set(body) == {"items", "page", "per_page", "total"}
    assert (body["page"], body["per_page"], body["total"], len(body["items"])) == (1, 1, 2, 1)
    second = client.get("/api/v1/clients?per_page=1&page=2").get_json()
    assert second["items"][0]["id"] != body["items"][0]["id"]
    assert client.get("/api/v1/clients").get_json()["per_page"] == 50
    assert client.get("/api/v1/clients?per_page=200").status_code == 200
