"""The webhooks API (docs/rules.md rule 32): endpoints, the secret once, the delivery log."""
import json

import pytest
from api_helpers import assert_error
from sqlalchemy import select

from portal.domain.transactions import write_transaction
from portal.domain.webhooks import delivery, signing
from portal.extensions import db
from portal.models import OutboxEvent, WebhookEndpoint
from tests.webhook_receiver import Reply


def register(api, url, events=("client.updated",), **extra):
    return api.post("/api/v1/webhooks", json={"url": url, "events": list(events), **extra})


def test_the_secret_is_in_the_creation_answer_only(api_as, receiver):
    api = api_as("nw_admin")
    response = register(api, receiver.url, description="Our ERP")
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["events"], created["description"], created["active"]) == (
        receiver.url, ["client.updated"], "Our ERP", True)
    listed = api.get("/api/v1/webhooks").get_json()
    assert listed["total"] == 1 and listed["page"] == 1 and listed["per_page"] == 50
    one = api.get(f"/api/v1/webhooks/{created['id']}").get_json()
    for answer in (listed, one):
        assert created["secret"] not in json.dumps(answer) and "secret" not in json.dumps(answer)


def test_a_change_reaches_the_receiver_signed_and_the_log_shows_the_retry(api_as, demo, receiver):
    api = api_as("nw_admin")
    receiver.replies = [Reply(500, b"down"), Reply(200)]
    created = register(api, receiver.url).get_json()
    acme_id = demo.acme.id
    assert api.patch(f"/api/v1/clients/{acme_id}", json={"name": "Acme Dental Group"}).status_code == 200
    db.session.rollback()
    event = db.session.scalars(select(OutboxEvent).where(OutboxEvent.type == "client.updated")
                               .order_by(OutboxEvent.id.desc())).first()
    with write_transaction():
        (first,) = delivery.fan_out(event.id)
    outcome = delivery.deliver(first)
    delivery.deliver(outcome.next_delivery_id)

    assert len(receiver.received) == 2
    for request in receiver.received:
        assert signing.verify(created["secret"], request.headers["Portal-Signature"], request.body)
        body = json.loads(request.body)
        assert body["id"] == event.id == int(request.headers["Portal-Event-Id"])
        assert body["type"] == "client.updated" and body["data"]["target_id"] == acme_id

    log = api.get(f"/api/v1/webhooks/{created['id']}/deliveries").get_json()
    assert log["total"] == 2
    newest, oldest = log["items"]
    assert (oldest["attempt"], oldest["status"], oldest["response_status"]) == (1, "failed", 500)
    assert (newest["attempt"], newest["status"], newest["response_status"]) == (2, "succeeded", 200)
    assert oldest["event_id"] == newest["event_id"] == event.id
    assert oldest["next_attempt_at"].endswith("Z") and newest["attempted_at"].endswith("Z")

    again = api.post(f"/api/v1/webhooks/{created['id']}/deliveries/{oldest['id']}/retry")
    assert again.status_code == 202
    assert (again.get_json()["status"], again.get_json()["attempt"]) == ("pending", 3)


@pytest.mark.parametrize("body, field", [
    ({"url": "https://hooks.example/x", "events": ["client.exploded"]}, "events"),
    ({"url": "https://hooks.example/x", "events": []}, "events"),
    ({"url": "ftp://hooks.example/x", "events": ["client.created"]}, "url"),
    ({"url": "https://127.0.0.1/x", "events": ["client.created"]}, "url"),
    ({"url": "https://169.254.169.254/latest", "events": ["client.created"]}, "url"),
    ({"url": "https://[::1]/x", "events": ["client.created"]}, "url"),
    ({"url": "https://localhost/x", "events": ["client.created"]}, "url"),
    ({"url": "http://10.0.0.1/x", "events": ["client.created"]}, "url"),
    ({"events": ["client.created"]}, "url"),
    ({"url": "https://hooks.example/\x00", "events": ["client.created"]}, "url"),
])
def test_bad_endpoints_are_422_naming_the_field(api_as, demo, body, field):
    response = api_as("nw_admin").post("/api/v1/webhooks", json=body)
    assert_error(response, 422, "validation_error")
    assert any(name == field or name.startswith(field + ".") for name in response.get_json()["error"]["fields"])
    db.session.rollback()
    assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_a_21st_endpoint_is_422(api_as, demo, receiver):
    api = api_as("nw_admin")
    for _ in range(20):
        assert register(api, receiver.url).status_code == 201
    response = register(api, receiver.url)
    assert_error(response, 422, "validation_error")
    assert "url" in response.get_json()["error"]["fields"]
    assert api.get("/api/v1/webhooks?per_page=200").get_json()["total"] == 20


def test_pause_resume_change_and_delete(api_as, demo, receiver):
    api = api_as("nw_admin")
    created = register(api, receiver.url).get_json()
    path = f"/api/v1/webhooks/{created['id']}"
    paused = api.patch(path, json={"active": False, "events": ["invoice.issued", "client.created"]}).get_json()
    assert paused["active"] is False and paused["events"] == ["invoice.issued", "client.created"]
    assert_error(api.patch(path, json={"events": ["nope"]}), 422, "validation_error")
    assert_error(api.patch(path, json={"active": "yes"}), 422, "validation_error")
    assert api.patch(path, json={"active": True, "description": None}).get_json()["active"] is True
    assert api.delete(path).status_code == 204
    assert_error(api.get(path), 404, "not_found")


def test_another_partners_endpoint_is_404(api_as, demo, receiver):
    created = register(api_as("nw_admin"), receiver.url).get_json()
    other = api_as("sw_admin")
    path = f"/api/v1/webhooks/{created['id']}"
    for response in (other.get(path), other.patch(path, json={"active": False}), other.delete(path),
                     other.get(path + "/deliveries")):
        assert_error(response, 404, "not_found")
    assert other.get("/api/v1/webhooks").get_json()["total"] == 0
    assert api_as("operator").get("/api/v1/webhooks").get_json()["total"] == 0  # the operator's own only


def test_a_delivery_of_another_endpoint_is_404(api_as, demo, receiver):
    api = api_as("nw_admin")
    first = register(api, receiver.url, events=["client.created"]).get_json()
    second = register(api, receiver.url, events=["client.created"]).get_json()
    ping = delivery.ping(None, db.session.get(WebhookEndpoint, first["id"]))
    assert api.post(f"/api/v1/webhooks/{first['id']}/deliveries/{ping.id}/retry").status_code == 202
    assert_error(api.post(f"/api/v1/webhooks/{second['id']}/deliveries/{ping.id}/retry"), 404, "not_found")
