"""Append-only audit events, written in the caller's transaction."""
from flask import has_request_context, request

from portal.extensions import db
from portal.models import AuditEvent


def record(actor, action: str, target_type: str, target_id, organisation_id, *, before=None, after=None):
    """Add an audit event to the current transaction (the caller commits)."""
    db.session.add(
        AuditEvent(
            actor_id=getattr(actor, "id", None),
            actor_email=getattr(actor, "email", None),
            organisation_id=organisation_id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            ip=request.remote_addr if has_request_context() else None,
        )
    )
