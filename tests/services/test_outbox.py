"""The outbox (docs/rules.md rule 30): every audited change writes its event in its own transaction.

An event exists if and only if its change committed; its data carries ids and the changed
fields, never a secret, a cost or a margin (rules 23 and 32); the relay hands each event on once.
"""
import threading

import pytest
from sqlalchemy import func, select

from portal import jobs
from portal.domain import audit, events
from portal.domain.accounts import api_tokens, authentication, invitations, password_reset, users
from portal.domain.billing import catalogue
from portal.domain.demo import DEMO_PASSWORD
from portal.domain.orgs import clients, partners
from portal.domain.seats import allocations
from portal.domain.seats import requests as seat_requests
from portal.domain.transactions import held_transaction, write_transaction
from portal.extensions import db
from portal.models import Allocation, AuditEvent, OutboxEvent
from tests.factories import AllocationFactory, SiteFactory


def outbox_events(kind: str | None = None) -> list[OutboxEvent]:
    db.session.rollback()  # what is committed now
    query = select(OutboxEvent).order_by(OutboxEvent.id)
    return list(db.session.scalars(query.where(OutboxEvent.type == kind) if kind else query))


def queued(app) -> int:
    return jobs.jobs_of(app).huey.pending_count()


@pytest.fixture
def lyon(acme, essentials):
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=2, consumed=0)
    return site


def test_an_audited_change_writes_its_event_in_the_same_transaction(nw_admin, northwind, app):
    client = clients.create_client(nw_admin, northwind, "Globex Clinic", "monthly")

    [event] = outbox_events("client.created")
    [audited] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "client.created"))
    assert event.audit_event_id == audited.id
    assert (event.organisation_id, event.partner_id, event.relayed_at) == (client.id, northwind.id, None)
    assert event.data == {"action": "client.created", "target_type": "client", "target_id": client.id,
                          "organisation_id": client.id, "actor_id": nw_admin.id, "before": None,
                          "after": audited.after}
    assert queued(app) == 1  # the relay, asked for once the transaction committed


def test_a_change_that_rolls_back_writes_no_event_and_queues_nothing(nw_admin, acme, app):
    before = (len(outbox_events()), db.session.scalar(select(func.count(AuditEvent.id))), queued(app))
    with pytest.raises(RuntimeError), write_transaction():
        audit.record(nw_admin, "client.renamed", "client", acme.id, acme.id,
                     before={"name": "Acme Dental"}, after={"name": "Acme Dentistry"})
        db.session.flush()  # written, then undone
        raise RuntimeError("refused after the audit")
    with held_transaction() as session:  # the API's idempotent unit of work, told to commit nothing
        audit.record(nw_admin, "client.renamed", "client", acme.id, acme.id, after={"name": "Acme"})
        session.rollback()

    after = (len(outbox_events()), db.session.scalar(select(func.count(AuditEvent.id))), queued(app))
    assert after == before


def test_a_refused_service_call_writes_no_event(acme_admin, lyon, essentials):
    users.create_user(acme_admin, lyon, essentials, "one@acme.example", "One", send="later")
    before = len(outbox_events())
    with pytest.raises(Exception):  # noqa: B017 - the e-mail is taken: refused inside its transaction
        users.create_user(acme_admin, lyon, essentials, "one@acme.example", "One again", send="later")
    assert len(outbox_events()) == before


def test_audit_actions_map_to_the_event_types_of_rule_32(nw_admin, finance, acme, acme_admin, lyon, essentials,
                                                         operator):
    user = users.create_user(acme_admin, lyon, essentials, "new@acme.example", "New Person", send="later")
    invitations.revoke_invitation(acme_admin, user)
    allocations.set_allocation(finance, lyon, essentials, 3)
    asked = seat_requests.request_seats(acme_admin, lyon, "essentials", 1)
    seat_requests.decline(finance, asked.id, "Not this month")
    partners.set_discount(operator, acme.parent, 1500)
    catalogue.create_subscription_type(operator, "extra", "Extra", "5.00", "50.00", "EUR")

    types = [event.type for event in outbox_events()]
    for expected in ("user.created", "user.deactivated", "allocation.changed", "invoice.issued",
                     "seat_request.created", "seat_request.decided"):
        assert expected in types
    [decided] = outbox_events("seat_request.decided")
    assert decided.data["after"]["status"] == "declined" and decided.data["target_id"] == asked.id
    [deactivated] = outbox_events("user.deactivated")
    assert deactivated.data["action"] == "invitation.revoked"
    assert outbox_events("partner.discount_changed") == []  # the partner's cost (rule 23): never an event
    [created] = outbox_events("subscription_type.created")  # another action: its own type
    assert created.partner_id is None  # the operator's own event


def test_the_event_type_of_each_action():
    assert events.event_type("client.renamed") == "client.updated"
    assert events.event_type("billing.cycle_changed") == "client.updated"
    assert events.event_type("allocation.seat_added") == "allocation.changed"
    assert events.event_type("role.granted") == "user.updated"
    assert events.event_type("invitation.expired") == "user.deactivated"
    assert events.event_type("seat_request.approved") == "seat_request.decided"
    assert events.event_type("invoice.issued", {"kind": "period"}) == "invoice.issued"
    assert events.event_type("invoice.issued", {"kind": "credit_note"}) == "credit_note.issued"
    assert events.event_type("site.created") == "site.created"
    for secret in ("auth.login", "auth.password_reset", "two_step.enabled", "api_token.created",
                   "partner.discount_changed"):
        assert events.event_type(secret) is None


def test_data_never_carries_a_secret_a_cost_or_a_margin():
    dirty = {"name": "Acme", "password_hash": "x", "token": "t", "totp_secret": "s", "unit_cost": 1, "cost": 2,
             "discount_bp": 1500, "margin": 3, "lines": [{"unit_price": 1500, "unit_cost": 1200,
                                                          "recovery_codes": ["a"]}],
             "nested": {"api_token_hash": "h", "seats": 3}}
    assert events.sanitised(dirty) == {"name": "Acme", "lines": [{"unit_price": 1500}], "nested": {"seats": 3}}


FORBIDDEN = ("password", "secret", "token", "totp", "recovery", "hash", "cost", "margin", "discount")


def _keys(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key).lower()
            yield from _keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from _keys(item)


def test_no_event_carries_a_secret_a_cost_or_a_margin(demo, outbox):
    operator, finance = demo.user("operator@portal.example"), demo.user("finance@northwind.example")
    admin, lyon, essentials = demo.user("admin@acme.example"), demo.lyon, demo.type("essentials")
    allocated = db.session.scalar(select(Allocation.allocated).where(
        Allocation.site_id == lyon.id, Allocation.subscription_type_id == essentials.id))
    allocations.set_allocation(finance, lyon, essentials, allocated + 2)  # an invoice: its lines have a cost
    allocations.set_allocation(finance, lyon, essentials, allocated + 1)  # a credit note (rule 24)
    partners.set_discount(operator, demo.org("Northwind Telecom"), 2500)  # the partner's cost
    api_tokens.create_token(None, admin)
    users.create_user(admin, lyon, essentials, "new@acme.example", "New Person")
    authentication.log_in(admin.email, DEMO_PASSWORD, "127.0.0.1")
    password_reset.request_reset(admin.email)

    raised = outbox_events()
    assert {"allocation.changed", "invoice.issued", "credit_note.issued", "user.created"} <= {e.type for e in raised}
    for event in raised:
        leaked = [key for key in _keys(event.data) if any(word in key for word in FORBIDDEN)]
        assert leaked == [], (event.type, event.data)
        assert not event.type.startswith(("auth.", "two_step.", "api_token.")) and event.type != "partner.discount_changed"


def test_the_relay_hands_each_event_on_once_even_when_two_run_at_once(nw_admin, northwind, app):
    for number in range(12):
        clients.create_client(nw_admin, northwind, f"Client {number}", "monthly")
    unrelayed = len(outbox_events())
    counts, barrier = [], threading.Barrier(2)

    def relay():
        with app.app_context():
            barrier.wait()
            counts.append(events.relay(limit=5))

    threads = [threading.Thread(target=relay) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(counts) == unrelayed >= 12
    assert all(event.relayed_at is not None for event in outbox_events())
    assert events.relay() == 0


def test_relaying_is_a_job(nw_admin, northwind, run_jobs):
    clients.create_client(nw_admin, northwind, "Globex Clinic", "monthly")
    assert run_jobs().tasks >= 1
    assert all(event.relayed_at is not None for event in outbox_events())
