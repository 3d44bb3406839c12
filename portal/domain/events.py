"""Events: every audited change, written with it for the systems that listen (docs/rules.md rule 30).

``portal.domain.audit.record`` is the one place every change passes, so it
calls ``add_for`` and the change's event joins the same transaction: an event
exists if and only if its change committed. The relay (``relay``) later hands
each event on, once (webhooks, rule 32, will subscribe here), and marks it
relayed.

Which audit actions become which event type (``event_type``):

- the types of rule 32: ``client.created``; ``client.updated`` (renamed,
  billing cycle changed, withdrawn or applied); ``allocation.changed`` (a new
  total, seats added while creating users, counters synchronised);
  ``user.created`` (a seat holder, or a staff member invited);
  ``user.updated`` (renamed, language, seat moved or released, roles granted
  or revoked, invitation accepted, reactivated); ``user.deactivated`` (also an
  invitation revoked or expired: the invited user is deactivated);
  ``invoice.issued`` and ``credit_note.issued`` (by the invoice's kind);
  ``seat_request.created``; ``seat_request.decided`` (approved or declined,
  ``data.after.status`` says which).
- left out: the security journal (``auth.*``, ``two_step.*``, ``api_token.*``:
  sign-ins, failures, tokens; not changes another system acts on, and they
  would tell who tried which address), and ``partner.discount_changed`` (a
  partner's discount is its cost: rule 23).
- every other audited change becomes an event whose type is its action
  (``site.created``, ``invitation.sent``, ``price_book.set``…), so no change
  recorded in the audit log is silently missing from the outbox.

The data is ``{"action", "target_type", "target_id", "organisation_id",
"actor_id", "before", "after"}``: ids and the changed fields, from the
audit event's before and after, with every key that names a secret
(password, token, secret, TOTP, recovery code) or a cost or margin (cost,
unit_cost, margin, discount) removed at any depth (``sanitised``).
"""
from sqlalchemy import select, update
from sqlalchemy.orm.util import identity_key

from portal.domain import handoff, notifications
from portal.domain.webhooks import fanout
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import AuditEvent, Organisation, OutboxEvent
from portal.models.mixins import utcnow

# The event types of docs/rules.md rule 32 (a webhook endpoint subscribes to some of them).
EVENT_TYPES = (
    "client.created", "client.updated", "allocation.changed", "user.created", "user.updated", "user.deactivated",
    "invoice.issued", "credit_note.issued", "seat_request.created", "seat_request.decided",
)

_TYPES = {
    "client.created": "client.created",
    "client.renamed": "client.updated",
    "billing.cycle_changed": "client.updated",
    "billing.cycle_change_withdrawn": "client.updated",
    "billing.cycle_applied": "client.updated",
    "allocation.changed": "allocation.changed",
    "allocation.seat_added": "allocation.changed",
    "seats.synchronised": "allocation.changed",
    "user.created": "user.created",
    "user.invited": "user.created",
    "user.renamed": "user.updated",
    "user.language_changed": "user.updated",
    "user.seat_moved": "user.updated",
    "user.seat_released": "user.updated",
    "user.reactivated": "user.updated",
    "role.granted": "user.updated",
    "role.revoked": "user.updated",
    "invitation.accepted": "user.updated",
    "user.deactivated": "user.deactivated",
    "invitation.revoked": "user.deactivated",
    "invitation.expired": "user.deactivated",
    "invoice.issued": "invoice.issued",
    "seat_request.created": "seat_request.created",
    "seat_request.approved": "seat_request.decided",
    "seat_request.declined": "seat_request.decided",
}
_LEFT_OUT_PREFIXES = ("auth.", "two_step.", "api_token.")
_LEFT_OUT = {"partner.discount_changed"}

# A key containing one of these words is never in an event (docs/rules.md rules 23 and 32).
_SECRET_WORDS = ("password", "secret", "token", "totp", "recovery", "hash")
_COST_WORDS = ("cost", "margin", "discount")


def event_type(action: str, after: dict | None = None) -> str | None:
    """The event type of an audit action, or None when the action is not an event (see the module)."""
    if action in _LEFT_OUT or action.startswith(_LEFT_OUT_PREFIXES):
        return None
    if action == "invoice.issued" and (after or {}).get("kind") == "credit_note":
        return "credit_note.issued"
    return _TYPES.get(action, action)


def sanitised(value):
    """``value`` (JSON: dicts, lists, scalars) without any key naming a secret, a cost or a margin."""
    if isinstance(value, dict):
        return {key: sanitised(item) for key, item in value.items() if not _forbidden(key)}
    if isinstance(value, (list, tuple)):
        return [sanitised(item) for item in value]
    return value


def _forbidden(key) -> bool:
    name = str(key).lower()
    return any(word in name for word in _SECRET_WORDS + _COST_WORDS)


def add_for(audit_event: AuditEvent) -> OutboxEvent | None:
    """Add the event of ``audit_event`` to the current transaction (None: the action is not an event).

    The caller commits; the relay is asked to run once the transaction commits.
    """
    kind = event_type(audit_event.action, audit_event.after)
    if kind is None:
        return None
    return add(kind, audit_event.organisation_id,
               {"action": audit_event.action, "target_type": audit_event.target_type,
                "target_id": audit_event.target_id, "organisation_id": audit_event.organisation_id,
                "actor_id": audit_event.actor_id, "before": sanitised(audit_event.before),
                "after": sanitised(audit_event.after)}, audit_event=audit_event)


def add(kind: str, organisation_id: int | None, data: dict, *, audit_event: AuditEvent | None = None) -> OutboxEvent:
    """Add an event of type ``kind`` about ``organisation_id`` to the current transaction.

    Also for the events no audit event stands behind (``site.running_out``,
    raised by the seat counters for rule 33). The caller commits; the relay
    is asked to run once the transaction commits.
    """
    event = OutboxEvent(type=kind, organisation_id=organisation_id, partner_id=partner_of(organisation_id),
                        audit_event=audit_event, data=data)
    db.session.add(event)
    handoff.after_commit("relay")
    return event


def partner_of(organisation_id: int | None) -> int | None:
    """The partner an organisation's events belong to: itself, a client's partner, None for the operator.

    An organisation never changes partner, so the answer is kept for the session's life.
    """
    if organisation_id is None:
        return None
    known = db.session.info.setdefault("portal.partner_of", {})
    if organisation_id not in known:
        # An organisation the session holds answers without a statement (the billing run's clients).
        row = db.session.identity_map.get(identity_key(Organisation, organisation_id))
        if row is None or "kind" not in row.__dict__ or "parent_id" not in row.__dict__:
            with db.session.no_autoflush:  # the caller's pending rows are flushed when it decides
                row = db.session.execute(select(Organisation.kind, Organisation.parent_id)
                                         .where(Organisation.id == organisation_id)).first()
        if row is None:
            return None
        known[organisation_id] = {"partner": organisation_id, "client": row.parent_id}.get(row.kind)
    return known[organisation_id]


def relay(limit: int = 500) -> int:
    """Hand on the events not relayed yet, oldest first, and mark them relayed; the number relayed.

    Each event is claimed by a conditional UPDATE (``… WHERE relayed_at IS
    NULL``) in the transaction that hands it on, so two relays running at once
    hand each event on once. Handing on is marking it and adding its webhook
    deliveries (``webhooks.fanout``, rule 32) and its e-mail notifications
    (``notifications``, rule 33) in the same transaction.
    """
    relayed = 0
    while True:
        ids = db.session.scalars(select(OutboxEvent.id).where(OutboxEvent.relayed_at.is_(None))
                                 .order_by(OutboxEvent.id).limit(limit)).all()
        db.session.rollback()  # end the read: each claim below starts from the latest committed state
        if not ids:
            return relayed
        done = 0
        with write_transaction():
            now = utcnow()
            for event_id in ids:
                claimed = db.session.execute(
                    update(OutboxEvent).where(OutboxEvent.id == event_id, OutboxEvent.relayed_at.is_(None))
                    .values(relayed_at=now).execution_options(synchronize_session=False)).rowcount
                if claimed:  # handed on once: its deliveries and e-mails join the claim's transaction
                    event = db.session.get(OutboxEvent, event_id)
                    fanout.fan_out(event)  # rule 32
                    notifications.on_event(event)  # rule 33
                done += claimed
        relayed += done
        if len(ids) < limit:
            return relayed
