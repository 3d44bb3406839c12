"""Signed webhooks (docs/rules.md rule 32), tested without HTTP on the portal's side and with a real receiver.

The receiver (tests/webhook_receiver.py) listens on loopback, so these tests
set PORTAL_WEBHOOK_ALLOW_PRIVATE=true, except the SSRF ones, which check that
without it loopback, private and link-local receivers are refused at
registration and again at delivery.
"""
import json
import socket
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal import jobs
from portal.domain import audit
from portal.domain.errors import Forbidden, Invalid
from portal.domain.transactions import write_transaction
from portal.domain.webhooks import addresses, delivery, endpoints, signing
from portal.extensions import db
from portal.models import MailMessage, OutboxEvent, WebhookDelivery, WebhookEndpoint
from portal.models.mixins import utcnow
from tests.factories import PartnerFactory, UserFactory
from tests.webhook_receiver import Receiver, Reply


@pytest.fixture
def private_allowed(app, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", True)
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SECONDS", "0,0,0")
    monkeypatch.setitem(app.config, "WEBHOOK_TIMEOUT", 1)


@pytest.fixture
def receiver(private_allowed):
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture
def hook(nw_admin, northwind, receiver):
    """Northwind's endpoint on the receiver, subscribed to client events; (endpoint, secret)."""
    created = endpoints.create(nw_admin, northwind, receiver.url, ["client.created", "client.updated"], "ERP")
    return created.endpoint, created.secret


def change(actor, organisation, action="client.created", after=None):
    """An audited change (and so its outbox event), committed; the event."""
    with write_transaction():
        audit.record(actor, action, "organisation", organisation.id, organisation.id,
                     after=after or {"name": organisation.name})
    db.session.rollback()
    return db.session.scalars(select(OutboxEvent).order_by(OutboxEvent.id.desc()).limit(1)).one()


def fanned(event) -> list[int]:
    with write_transaction():
        ids = delivery.fan_out(event.id)
    return ids


def log(endpoint) -> list[WebhookDelivery]:
    db.session.rollback()
    return list(db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
                                   .order_by(WebhookDelivery.id)))


def test_a_delivery_is_signed_and_carries_the_event_id(hook, receiver, acme, nw_admin):
    endpoint, secret = hook
    event = change(nw_admin, acme, after={"name": "Acme Dental", "unit_cost": 700, "password": "hunter2",
                                          "nested": {"margin": 3, "api_token": "t", "seats": 4}})
    (delivery_id,) = fanned(event)
    outcome = delivery.deliver(delivery_id)
    assert outcome.status == "succeeded"

    (request,) = receiver.received
    assert request.path == "/hooks/portal"
    assert signing.verify(secret, request.headers["Portal-Signature"], request.body)
    assert not signing.verify("whsec_other", request.headers["Portal-Signature"], request.body)
    assert not signing.verify(secret, request.headers["Portal-Signature"], request.body + b" ")
    body = json.loads(request.body)
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["id"] == event.id == int(request.headers["Portal-Event-Id"])
    assert body["type"] == "client.created"
    assert body["created_at"].endswith("Z")
    assert body["data"]["after"]["name"] == "Acme Dental"
    assert body["data"]["after"]["nested"] == {"seats": 4}
    raw = request.body.decode()
    for word in ("cost", "margin", "password", "hunter2", "token", secret):
        assert word not in raw

    (row,) = log(endpoint)
    assert (row.status, row.attempt, row.response_status, row.event_id) == ("succeeded", 1, 200, event.id)
    assert row.response_excerpt == "ok" and row.attempted_at is not None and row.next_attempt_at is None


def test_the_signature_header_follows_the_documented_scheme():
    header = signing.signature_header("whsec_abc", b'{"id":1}', timestamp=1700000000)
    import hashlib
    import hmac

    expected = hmac.new(b"whsec_abc", b'1700000000.{"id":1}', hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    assert signing.verify("whsec_abc", header, b'{"id":1}', now=1700000100)
    assert not signing.verify("whsec_abc", header, b'{"id":1}', now=1700001000)  # too old: a replay


def test_the_secret_is_stored_encrypted_and_shown_once(hook):
    endpoint, secret = hook
    db.session.rollback()
    stored = db.session.get(WebhookEndpoint, endpoint.id).secret
    assert secret.startswith("whsec_") and secret not in stored
    assert signing.unseal(stored) == secret
    audit_rows = db.session.execute(select(OutboxEvent.data).where(OutboxEvent.type == "webhook.created")).all()
    assert audit_rows and secret not in json.dumps([row.data for row in audit_rows])


def test_a_receiver_answering_500_then_200_recovers_through_a_retry(hook, receiver, acme, nw_admin):
    endpoint, _secret = hook
    receiver.replies = [Reply(500, b"boom"), Reply(200, b"thanks")]
    (first,) = fanned(change(nw_admin, acme))
    outcome = delivery.deliver(first)
    assert outcome.status == "retry" and outcome.next_delivery_id is not None
    assert delivery.deliver(outcome.next_delivery_id).status == "succeeded"

    rows = log(endpoint)
    assert [(row.attempt, row.status, row.response_status) for row in rows] == [(1, "failed", 500), (2, "succeeded", 200)]
    assert rows[0].response_excerpt == "boom" and "500" in rows[0].error
    assert rows[0].next_attempt_at is not None
    assert len(receiver.received) == 2
    assert receiver.received[0].headers["Portal-Event-Id"] == receiver.received[1].headers["Portal-Event-Id"]
    assert db.session.get(WebhookEndpoint, endpoint.id).failing_since is None


def test_after_the_last_retry_the_delivery_is_failed(hook, receiver, acme, nw_admin):
    endpoint, _secret = hook
    receiver.replies = [Reply(503)]
    (delivery_id,) = fanned(change(nw_admin, acme))
    outcomes = []
    while delivery_id is not None:
        outcome = delivery.deliver(delivery_id)
        outcomes.append(outcome.status)
        delivery_id = outcome.next_delivery_id
    assert outcomes == ["retry", "retry", "retry", "failed"]  # 0,0,0: three retries
    rows = log(endpoint)
    assert [row.attempt for row in rows] == [1, 2, 3, 4]
    assert all(row.status == "failed" for row in rows)
    assert rows[-1].next_attempt_at is None
    assert db.session.get(WebhookEndpoint, endpoint.id).failing_since is not None


def test_a_retry_waits_for_its_time(app, hook, receiver, acme, nw_admin, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SECONDS", "60,300")
    receiver.replies = [Reply(500)]
    (delivery_id,) = fanned(change(nw_admin, acme))
    outcome = delivery.deliver(delivery_id)
    assert outcome.status == "retry"
    assert timedelta(seconds=55) < outcome.retry_at - utcnow() <= timedelta(seconds=60)
    assert delivery.deliver(outcome.next_delivery_id) is None  # not due yet
    assert outcome.next_delivery_id not in delivery.due(utcnow())
    assert outcome.next_delivery_id in delivery.due(utcnow() + timedelta(seconds=61))


@pytest.mark.parametrize("reply, error", [
    (Reply(200, delay=5), "Timed out"),
    (Reply(200, body=b"x" * 100, trickle=0.1), "Timed out"),
])
def test_a_slow_or_trickling_receiver_is_cut_off_at_the_timeout(hook, receiver, acme, nw_admin, reply, error):
    endpoint, _secret = hook
    receiver.replies = [reply]
    (delivery_id,) = fanned(change(nw_admin, acme))
    started = time.monotonic()
    outcome = delivery.deliver(delivery_id)
    elapsed = time.monotonic() - started
    assert elapsed < 3, elapsed  # WEBHOOK_TIMEOUT is 1 s here
    assert outcome.status == "retry"
    (row, _next) = log(endpoint)
    assert row.status == "failed" and error in row.error


def test_a_huge_answer_is_read_only_in_part(hook, receiver, acme, nw_admin):
    endpoint, _secret = hook
    receiver.replies = [Reply(200, body=b"y" * 10, huge=200 * 1024 * 1024)]
    (delivery_id,) = fanned(change(nw_admin, acme))
    started = time.monotonic()
    assert delivery.deliver(delivery_id).status == "succeeded"
    assert time.monotonic() - started < 3
    (row,) = log(endpoint)
    assert len(row.response_excerpt) == 500 and row.response_excerpt.startswith("y" * 10)


def test_a_redirect_is_not_followed(hook, receiver, acme, nw_admin):
    endpoint, _secret = hook
    receiver.replies = [Reply(302, b"", location=receiver.url + "/elsewhere")]
    (delivery_id,) = fanned(change(nw_admin, acme))
    assert delivery.deliver(delivery_id).status == "retry"
    assert len(receiver.received) == 1
    (row, _next) = log(endpoint)
    assert row.response_status == 302 and "not followed" in row.error and "/elsewhere" in row.error


def test_a_receiver_that_is_down_is_a_failed_attempt(hook, receiver, acme, nw_admin):
    endpoint, _secret = hook
    receiver.stop()
    (delivery_id,) = fanned(change(nw_admin, acme))
    assert delivery.deliver(delivery_id).status == "retry"
    (row, _next) = log(endpoint)
    assert row.status == "failed" and row.response_status is None and row.error


def test_two_workers_deliver_one_attempt_once(app, hook, receiver, acme, nw_admin):
    receiver.replies = [Reply(200, delay=0.3)]
    (delivery_id,) = fanned(change(nw_admin, acme))
    results = []
    barrier = threading.Barrier(2)

    def work():
        with app.app_context():
            barrier.wait()
            results.append(delivery.deliver(delivery_id))
            db.session.remove()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(receiver.received) == 1
    assert sorted(str(result and result.status) for result in results) == ["None", "succeeded"]


def test_fan_out_reaches_only_the_subscribed_active_endpoints_of_the_partner(
        app, private_allowed, northwind, nw_admin, acme, operator):
    url = "http://127.0.0.1:9/hook"
    subscribed = endpoints.create(nw_admin, northwind, url, ["client.created"]).endpoint
    endpoints.create(nw_admin, northwind, url, ["invoice.issued"])  # another type
    paused = endpoints.create(nw_admin, northwind, url, ["client.created"]).endpoint
    endpoints.update(nw_admin, paused, active=False)
    other = PartnerFactory(name="Southwind")
    other_admin = UserFactory(organisation=other, partner_admin=True)
    endpoints.create(other_admin, other, url, ["client.created"])
    watching = endpoints.create(operator, operator.organisation, url, ["client.created"]).endpoint

    ids = fanned(change(nw_admin, acme))
    db.session.rollback()
    reached = {db.session.get(WebhookDelivery, delivery_id).endpoint_id for delivery_id in ids}
    assert reached == {subscribed.id, watching.id}  # the operator's endpoints see every partner's events
    assert fanned(change(nw_admin, acme, action="site.created")) == []  # not a webhook event type


def test_an_unknown_event_type_a_bad_url_and_a_21st_endpoint_are_refused(private_allowed, northwind, nw_admin):
    url = "http://127.0.0.1:9/hook"
    with pytest.raises(Invalid) as refused:
        endpoints.create(nw_admin, northwind, url, ["client.exploded"])
    assert refused.value.field == "events"
    with pytest.raises(Invalid):
        endpoints.create(nw_admin, northwind, url, [])
    for bad in ("ftp://example.com/hook", "javascript:alert(1)", "https://", "not a url", "https://a b.example/"):
        with pytest.raises(addresses.RefusedAddress):
            endpoints.create(nw_admin, northwind, bad, ["client.created"])
    for _ in range(20):
        endpoints.create(nw_admin, northwind, url, ["client.created"])
    with pytest.raises(Invalid) as refused:
        endpoints.create(nw_admin, northwind, url, ["client.created"])
    assert "20" in refused.value.message
    db.session.rollback()
    assert len(endpoints.endpoints_of(northwind)) == 20


def test_only_integrations_managers_register_endpoints(private_allowed, northwind, finance, acme, acme_admin):
    support = UserFactory(organisation=northwind, partner_support=True)
    for who, where in ((support, northwind), (acme_admin, acme)):
        with pytest.raises(Forbidden):
            endpoints.create(who, where, "http://127.0.0.1:9/hook", ["client.created"])


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://192.168.0.10/hook", "https://172.16.0.1/hook",
    "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://[fe80::1]/hook",
    "https://[::ffff:127.0.0.1]/hook", "https://0.0.0.0/hook", "https://224.0.0.1/hook", "https://localhost/hook",
    "https://100.64.0.1/hook", "http://93.184.216.34/hook",
])
def test_private_loopback_and_link_local_receivers_are_refused(northwind, nw_admin, url):
    with pytest.raises(addresses.RefusedAddress):
        endpoints.create(nw_admin, northwind, url, ["client.created"])
    db.session.rollback()
    assert endpoints.endpoints_of(northwind) == []


def fake_dns(monkeypatch, *answers):
    def getaddrinfo(host, port, *args, **kwargs):
        return [(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
                for address in answers]

    monkeypatch.setattr(addresses.socket, "getaddrinfo", getaddrinfo)


def test_a_name_is_refused_when_any_of_its_addresses_is_private(northwind, nw_admin, monkeypatch):
    fake_dns(monkeypatch, "93.184.216.34", "10.0.0.7")
    with pytest.raises(addresses.RefusedAddress):
        endpoints.create(nw_admin, northwind, "https://mixed.example/hook", ["client.created"])
    fake_dns(monkeypatch, "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")
    created = endpoints.create(nw_admin, northwind, "https://public.example/hook", ["client.created"])
    assert created.endpoint.url == "https://public.example/hook"


def test_the_address_is_checked_again_at_delivery(app, hook, receiver, acme, nw_admin, monkeypatch):
    endpoint, _secret = hook
    (delivery_id,) = fanned(change(nw_admin, acme))
    monkeypatch.setitem(app.config, "WEBHOOK_ALLOW_PRIVATE", False)
    assert delivery.deliver(delivery_id).status == "retry"
    assert receiver.received == []
    (row, _next) = log(endpoint)
    assert row.status == "failed" and "https" in row.error  # plain http is refused too


def test_dns_turning_private_after_registration_is_refused_at_delivery(app, northwind, nw_admin, acme, monkeypatch):
    fake_dns(monkeypatch, "93.184.216.34")
    endpoint = endpoints.create(nw_admin, northwind, "https://rebind.example/hook", ["client.created"]).endpoint
    (delivery_id,) = fanned(change(nw_admin, acme))
    fake_dns(monkeypatch, "127.0.0.1")
    assert delivery.deliver(delivery_id).status == "retry"
    (row, _next) = log(endpoint)
    assert "private" in row.error


def test_send_again_queues_a_new_attempt_now(app, hook, receiver, acme, nw_admin, monkeypatch):
    endpoint, _secret = hook
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SECONDS", "")
    receiver.replies = [Reply(500), Reply(200)]
    (delivery_id,) = fanned(change(nw_admin, acme))
    assert delivery.deliver(delivery_id).status == "failed"  # no retries configured
    first = db.session.get(WebhookDelivery, delivery_id)
    again = delivery.retry(nw_admin, first)
    assert (again.attempt, again.status) == (2, "pending")
    assert delivery.deliver(again.id).status == "succeeded"
    assert [row.status for row in log(endpoint)] == ["failed", "succeeded"]


def test_send_again_makes_a_waiting_retry_due_now(app, hook, receiver, acme, nw_admin, monkeypatch):
    monkeypatch.setitem(app.config, "WEBHOOK_RETRY_SECONDS", "3600")
    receiver.replies = [Reply(500), Reply(200)]
    (delivery_id,) = fanned(change(nw_admin, acme))
    outcome = delivery.deliver(delivery_id)
    again = delivery.retry(nw_admin, db.session.get(WebhookDelivery, delivery_id))
    assert again.id == outcome.next_delivery_id
    assert delivery.deliver(again.id).status == "succeeded"


def test_a_ping_reaches_one_endpoint(hook, receiver, nw_admin):
    endpoint, secret = hook
    ping = delivery.ping(nw_admin, endpoint)
    assert delivery.deliver(ping.id).status == "succeeded"
    (request,) = receiver.received
    assert json.loads(request.body)["type"] == "ping"
    assert signing.verify(secret, request.headers["Portal-Signature"], request.body)


def test_a_paused_endpoint_gets_nothing(hook, receiver, acme, nw_admin):
    endpoint, _secret = hook
    (delivery_id,) = fanned(change(nw_admin, acme))
    endpoints.update(nw_admin, endpoint, active=False)
    assert delivery.deliver(delivery_id).status == "failed"
    assert receiver.received == []
    assert fanned(change(nw_admin, acme)) == []


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_admins_told(hook, receiver, acme, nw_admin,
                                                                           northwind):
    endpoint, _secret = hook
    receiver.replies = [Reply(500)]
    with write_transaction():
        db.session.get(WebhookEndpoint, endpoint.id).failing_since = utcnow() - timedelta(days=3, minutes=1)
    (delivery_id,) = fanned(change(nw_admin, acme))
    assert delivery.deliver(delivery_id).status == "failed"
    db.session.rollback()
    disabled = db.session.get(WebhookEndpoint, endpoint.id)
    assert disabled.active is False and disabled.disabled_at is not None and disabled.disabled_reason
    messages = db.session.scalars(select(MailMessage).where(MailMessage.kind == "webhook_disabled")).all()
    assert [message.recipient for message in messages] == [nw_admin.email]
    assert receiver.url in messages[0].body
    # Resuming clears the disabling.
    endpoints.update(nw_admin, disabled, active=True)
    db.session.rollback()
    resumed = db.session.get(WebhookEndpoint, endpoint.id)
    assert resumed.active and resumed.disabled_at is None and resumed.failing_since is None


def test_deleting_an_endpoint_deletes_its_log(hook, receiver, acme, nw_admin):
    endpoint, _secret = hook
    (delivery_id,) = fanned(change(nw_admin, acme))
    delivery.deliver(delivery_id)
    endpoints.delete(nw_admin, endpoint)
    db.session.rollback()
    assert db.session.get(WebhookEndpoint, endpoint.id) is None
    assert db.session.get(WebhookDelivery, delivery_id) is None


def test_a_claim_left_by_a_dead_worker_is_taken_again_after_the_lease(hook, receiver, acme, nw_admin):
    (delivery_id,) = fanned(change(nw_admin, acme))
    with write_transaction():  # a worker claimed it and died
        db.session.get(WebhookDelivery, delivery_id).claimed_at = utcnow() - timedelta(minutes=1)
    assert delivery.deliver(delivery_id) is None and delivery_id not in delivery.due(utcnow())
    with write_transaction():
        db.session.get(WebhookDelivery, delivery_id).claimed_at = utcnow() - delivery.CLAIM_LEASE
    assert delivery_id in delivery.due(utcnow())
    assert delivery.deliver(delivery_id).status == "succeeded"  # at least once: the receiver deduplicates
    assert len(receiver.received) == 1


def test_a_fanned_out_delivery_is_due_since_its_change(hook, acme, nw_admin):
    """So ``jobs run --until-empty`` sends the events of the changes made before it started."""
    event = change(nw_admin, acme)
    (delivery_id,) = fanned(event)
    db.session.rollback()
    assert db.session.get(WebhookDelivery, delivery_id).next_attempt_at == event.created_at
    assert delivery_id in delivery.due(event.created_at)


def test_a_delivery_whose_task_was_lost_is_queued_again_by_the_relay(app, hook, receiver, acme, nw_admin):
    """Redis restarted empty: the minute relay finds the deliveries due for over LOST_AFTER and queues them."""
    (delivery_id,) = fanned(change(nw_admin, acme))
    huey = jobs.jobs_of(app).huey
    huey.flush()  # the queue lost its tasks
    assert delivery.lost() == []  # due a moment ago: its task may still be on its way
    with write_transaction():
        lost_one = db.session.get(WebhookDelivery, delivery_id)
        lost_one.next_attempt_at = utcnow() - delivery.LOST_AFTER
        db.session.get(OutboxEvent, lost_one.event_id).relayed_at = utcnow()  # fanned out above, as the relay does

    jobs.relay_now(app)

    assert huey.pending_count() >= 1
    while huey.pending_count():
        huey.execute(huey.dequeue())
    lost_one = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    assert lost_one.status == "succeeded"
    assert [r.headers["Portal-Event-Id"] for r in receiver.received].count(str(lost_one.event_id)) == 1
