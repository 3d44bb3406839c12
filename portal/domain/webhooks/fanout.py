"""The fan-out of an outbox event to the webhook endpoints that receive it (docs/rules.md rule 32).

The relay (``portal.domain.events.relay``) calls ``fan_out`` for each event
it hands on, in the transaction that marks the event relayed. This module
imports neither the audit log nor the events module, so the relay can import
it without a cycle.

Who receives an event: the active endpoints of the event's partner, and the
operator's active endpoints, which receive every partner's events (and the
operator's own), each only for the types it subscribed to. An endpoint's
types are checked against ``EVENT_TYPES`` when it is registered, so any other
event (``site.created``, ``webhook.created``…) reaches nobody.
"""
from sqlalchemy import or_, select

from portal.domain import handoff
from portal.extensions import db
from portal.models import Organisation, OutboxEvent, WebhookDelivery, WebhookEndpoint
from portal.models.mixins import utcnow

TASK = "deliver_webhook"  # the task queue's name for ``portal.domain.webhooks.delivery.deliver``


def subscribers(event: OutboxEvent) -> list[WebhookEndpoint]:
    """The active endpoints that receive ``event``: its partner's and the operator's, subscribed to its type."""
    owners = [Organisation.kind == "operator"]
    if event.partner_id is not None:
        owners.append(WebhookEndpoint.organisation_id == event.partner_id)
    endpoints = db.session.scalars(
        select(WebhookEndpoint).join(Organisation, WebhookEndpoint.organisation_id == Organisation.id)
        .where(WebhookEndpoint.active.is_(True), or_(*owners)).order_by(WebhookEndpoint.id))
    return [endpoint for endpoint in endpoints if event.type in (endpoint.events or ())]


def fan_out(event: OutboxEvent | int) -> list[int]:
    """Add a pending delivery of ``event`` (an OutboxEvent or its id) for each endpoint that receives it.

    Runs inside the caller's transaction (the relay's, which marks the event
    relayed): the deliveries exist if and only if the event was handed on.
    Each is handed to the task queue (``deliver_webhook``) once that commits.
    Returns the new deliveries' ids. Does not commit.
    """
    if not isinstance(event, OutboxEvent):
        event = db.session.get(OutboxEvent, event)
        if event is None:
            return []
    now = utcnow()
    # Due since the change happened: a run of every job due when it started (``jobs run --until-empty``)
    # sends the events of the changes made before it, even though the relay fans them out during the run.
    due = min(event.created_at or now, now)
    deliveries = [WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, event_type=event.type, attempt=1,
                                  status="pending", next_attempt_at=due, created_at=now)
                  for endpoint in subscribers(event)]
    if not deliveries:
        return []
    db.session.add_all(deliveries)
    db.session.flush()
    for delivery in deliveries:
        handoff.after_commit(TASK, delivery.id)
    return [delivery.id for delivery in deliveries]
