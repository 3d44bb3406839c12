"""The audit log: every change, who made it, before and after."""
from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.pagination import page_body, page_of
from portal.blueprints.api.registry import operation, read_query
from portal.blueprints.api.schemas import AuditEventOut, AuditQuery, Page
from portal.domain.audit_log import events_query
from portal.models import AuditEvent
from portal.rbac import permissions


def event_out(event: AuditEvent) -> dict:
    return {name: getattr(event, name) for name in
            ("id", "at", "actor_email", "action", "target_type", "target_id", "before", "after", "ip")}


@operation("GET", "/audit-events", summary="Audit events, newest first", permission=permissions.view_audit,
           response=Page[AuditEventOut], query=AuditQuery, errors=(403,))
def list_audit_events():
    """Events of the caller's organisation (a partner: and of its clients), filtered by action and time."""
    user = actor()
    require(permissions.view_audit(user.organisation))
    params = read_query()
    page = page_of(events_query(user, action=params.action, since=params.since), params)
    return page_body([event_out(event) for event in page.rows], page)
