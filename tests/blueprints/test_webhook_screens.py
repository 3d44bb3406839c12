"""The Webhooks page (docs/rules.md rule 32): add (the secret once), ping, pause, resume, delete, the delivery
log with "send again"; plain forms, no JavaScript needed."""
import pytest
from sqlalchemy import select

from portal.domain.webhooks import delivery, signing
from portal.extensions import db
from portal.models import WebhookDelivery, WebhookEndpoint
from tests.helpers import LOGINS


@pytest.fixture
def admin(demo, login_as):
    return login_as(LOGINS["nw_admin"])


def add(browser, url, events=("client.created",)):
    return browser.post("/integrations/webhooks", data={"url": url, "events": list(events), "description": "ERP"})


def only_endpoint() -> WebhookEndpoint:
    db.session.rollback()
    return db.session.scalars(select(WebhookEndpoint)).one()


def test_adding_an_endpoint_shows_its_secret_once(admin, receiver, html):
    page = admin.get("/integrations/webhooks")
    assert page.status_code == 200 and "client.created" in page.get_data(as_text=True)
    response = add(admin, receiver.url)
    assert response.status_code == 201
    secret = html(response).by_id("webhook-secret").text.strip()
    endpoint = only_endpoint()
    assert signing.unseal(endpoint.secret) == secret
    for path in ("/integrations/webhooks", f"/integrations/webhooks/{endpoint.id}"):
        assert secret not in admin.get(path).get_data(as_text=True)


def test_a_refused_address_is_shown_on_the_form(admin, app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    response = add(admin, "https://127.0.0.1/hook")
    assert response.status_code == 422
    assert "public addresses" in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalars(select(WebhookEndpoint)).all() == []
    assert add(admin, "https://hooks.example/x", events=()).status_code == 422


def test_ping_pause_resume_send_again_and_delete(admin, receiver, html):
    add(admin, receiver.url)
    endpoint = only_endpoint()
    page = f"/integrations/webhooks/{endpoint.id}"

    response = admin.post(page + "/ping")
    assert response.status_code == 303 and response.headers["Location"].endswith(page)
    db.session.rollback()
    (ping,) = db.session.scalars(select(WebhookDelivery)).all()
    assert delivery.deliver(ping.id).status == "succeeded"
    log = admin.get(page)
    assert html(log).by_id(f"delivery-{ping.id}") is not None
    assert "ping" in log.get_data(as_text=True) and len(receiver.received) == 1

    assert admin.post(page + f"/deliveries/{ping.id}/retry").status_code == 303
    db.session.rollback()
    again = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id.desc())).first()
    assert (again.attempt, again.status) == (2, "pending")

    assert admin.post(page + "/pause").status_code == 303
    assert only_endpoint().active is False
    assert "Resume" in admin.get(page).get_data(as_text=True)
    assert admin.post(page + "/resume").status_code == 303
    assert only_endpoint().active is True

    confirm = admin.get(page + "/delete")
    assert confirm.status_code == 200 and "Delete the endpoint" in confirm.get_data(as_text=True)
    assert admin.post(page + "/delete").status_code == 303
    db.session.rollback()
    assert db.session.scalars(select(WebhookEndpoint)).all() == []


def test_who_sees_the_webhooks_page(demo, login_as, receiver):
    add(login_as(LOGINS["nw_admin"]), receiver.url)
    endpoint = only_endpoint()
    assert login_as(LOGINS["nw_support"]).get("/integrations/webhooks").status_code == 403
    assert login_as(LOGINS["nw_support"]).get(f"/integrations/webhooks/{endpoint.id}").status_code == 403
    assert login_as(LOGINS["acme_admin"]).get("/integrations/webhooks").status_code == 404
    for who in ("sw_admin", "operator"):  # another organisation's endpoint
        browser = login_as(LOGINS[who])
        assert browser.get("/integrations/webhooks").status_code == 200
        assert browser.get(f"/integrations/webhooks/{endpoint.id}").status_code == 404
        assert browser.post(f"/integrations/webhooks/{endpoint.id}/pause").status_code == 404
    assert only_endpoint().active is True
    menu = login_as(LOGINS["nw_admin"]).get("/overview").get_data(as_text=True)
    assert "/integrations/webhooks" in menu
    assert "/integrations/webhooks" not in login_as(LOGINS["nw_support"]).get("/overview").get_data(as_text=True)


def test_the_audit_log_tells_of_webhook_changes(admin, receiver):
    add(admin, receiver.url)
    page = admin.get("/audit")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "webhook.created" in text
    assert "whsec_" not in text
