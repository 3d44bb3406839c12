"""Read model of the audit log for the screens and the API: the events an actor may read, filtered.

Scoped with ``portal.rbac.scoping.audit_filter`` (a partner reads its own
events and its clients', a client only its own). Never reads the request:
the caller hands in the filters it parsed. Times are compared in UTC, the
time zone the events are stored in.
"""
from datetime import datetime, timezone

from sqlalchemy import Select, func, select
from sqlalchemy.orm import aliased

from portal.models import AuditEvent, Organisation
from portal.rbac.scoping import audit_filter

# The event's organisation, aliased so that audit_filter's own subquery on organisations stays uncorrelated.
OWNER = aliased(Organisation)


def events_query(actor, *columns, action: str | None = None, action_prefix: str | None = None,
                 actor_email: str | None = None, target_type: str | None = None, target_id: int | None = None,
                 since: datetime | None = None, until: datetime | None = None) -> Select:
    """The events ``actor`` may read that match every filter given, newest first (at, id).

    ``action`` is one action exactly, ``action_prefix`` any action beginning with it ("role." matches
    both role events); ``actor_email`` is part of the actor's e-mail, any case; ``since`` is inclusive,
    ``until`` exclusive. ``columns`` selects columns instead of the events (``OWNER.name``: the name of
    the event's organisation, outer-joined).
    """
    query = select(*(columns or (AuditEvent,)))
    if columns:
        query = query.select_from(AuditEvent).outerjoin(OWNER, OWNER.id == AuditEvent.organisation_id)
    query = audit_filter(actor, query)
    if action:
        query = query.where(AuditEvent.action == action)
    if action_prefix:
        query = query.where(AuditEvent.action.startswith(action_prefix, autoescape=True))
    if actor_email:
        query = query.where(func.lower(AuditEvent.actor_email).contains(actor_email.lower(), autoescape=True))
    if target_type:
        query = query.where(AuditEvent.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since.astimezone(timezone.utc))
    if until is not None:
        query = query.where(AuditEvent.at < until.astimezone(timezone.utc))
    return query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
