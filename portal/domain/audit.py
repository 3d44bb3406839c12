"""Append-only audit events, written in the caller's transaction.

"From where" is the client address of the request being served. The domain
does not read the request: the web layer hands the address in with
``set_origin`` when a request starts and clears it when the request ends
(``portal.web.origin``); outside a request (the CLI) it is empty.

Every change passes here, so here it also becomes an event of the outbox, in
the same transaction (docs/rules.md rule 30, ``portal.domain.events``).
"""
from contextvars import ContextVar

from portal.domain import events
from portal.extensions import db
from portal.models import AuditEvent

_origin: ContextVar[str | None] = ContextVar("audit_origin", default=None)


def set_origin(address: str | None) -> None:
    """The client address recorded with the events of the current request (None: no request)."""
    _origin.set(address)


def record(actor, action: str, target_type: str, target_id, organisation_id, *, before=None, after=None):
    """Add an audit event, and its outbox event if it is one, to the current transaction (the caller commits)."""
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_email=getattr(actor, "email", None),
        organisation_id=organisation_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        ip=_origin.get(),
    )
    db.session.add(event)
    events.add_for(event)
