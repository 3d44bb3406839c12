"""Read model of the audit log for the screens and the API: the events an actor may read, filtered.

Scoped with ``portal.rbac.scoping.audit_filter`` (a partner reads its own
events and its clients', a client only its own). Never reads the request:
the caller hands in the filters it parsed. Times are compared in UTC, the
time zone the events are stored in.
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import aliased

from portal.extensions import db
from portal.i18n import gettext as _
from portal.models import AuditEvent, Invoice, Organisation, Site, SubscriptionType, User
from portal.rbac.scoping import audit_filter

# The event's organisation, aliased so that audit_filter's own subquery on organisations stays uncorrelated.
OWNER = aliased(Organisation)
# Who acted and what was acted on, by name (docs/rules.md screen 15d): outer joins, so a page of
# events costs the same statements whatever its length. An object that is gone joins nothing: the
# sentence falls back on the event's copied details (portal.web.audit_sentences).
_ACTOR = aliased(User)
_TARGET_USER = aliased(User)
_TARGET_ORGANISATION = aliased(Organisation)
_TARGET_SITE = aliased(Site)
_TARGET_TYPE = aliased(SubscriptionType)
_TARGET_INVOICE = aliased(Invoice)
_ORGANISATION_TARGETS = ("client", "partner", "organisation")

# Successful logins: one per person per day at least, they drown the changes. The log hides them
# unless asked (docs/rules.md screen 15d); failed logins and lock-outs stay, they are the warnings.
LOGIN_ACTIONS = ("auth.login", "auth.password_accepted")


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
    return _filtered(actor, query, action=action, action_prefix=action_prefix, actor_email=actor_email,
                     target_type=target_type, target_id=target_id, since=since, until=until)


def _filtered(actor, query, *, action=None, action_prefix=None, actor_email=None, target_type=None,
              target_id=None, since=None, until=None, without_actions=()) -> Select:
    query = audit_filter(actor, query)
    if without_actions:
        query = query.where(AuditEvent.action.not_in(without_actions))
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


@dataclass(frozen=True)
class EventRow:
    """One event as the screen shows it: the event, its organisation, and who did what to whom, by name."""

    event: AuditEvent
    organisation: str | None
    actor_name: str | None
    target_name: str | None


def readable_events_query(actor, *, include_logins: bool = False, **filters) -> Select:
    """``events_query``'s events with the names a person reads: (event, organisation, actor, target).

    The names come from outer joins on the event's own ids, in the one statement; the target's
    name is a user's, a client's or partner's, a site's, a subscription type's or an invoice's
    number. Without ``include_logins`` the successful logins (``LOGIN_ACTIONS``) are left out,
    unless ``filters`` ask for one of them by its action.
    """
    target_name = func.coalesce(_TARGET_USER.name, _TARGET_ORGANISATION.name, _TARGET_SITE.name,
                                _TARGET_TYPE.name, _TARGET_INVOICE.number)
    query = (
        select(AuditEvent, OWNER.name, _ACTOR.name, target_name)
        .select_from(AuditEvent)
        .outerjoin(OWNER, OWNER.id == AuditEvent.organisation_id)
        .outerjoin(_ACTOR, _ACTOR.id == AuditEvent.actor_id)
        .outerjoin(_TARGET_USER, and_(AuditEvent.target_type == "user", _TARGET_USER.id == AuditEvent.target_id))
        .outerjoin(_TARGET_ORGANISATION, and_(AuditEvent.target_type.in_(_ORGANISATION_TARGETS),
                                              _TARGET_ORGANISATION.id == AuditEvent.target_id))
        .outerjoin(_TARGET_SITE, and_(AuditEvent.target_type == "site", _TARGET_SITE.id == AuditEvent.target_id))
        .outerjoin(_TARGET_TYPE, and_(AuditEvent.target_type == "subscription_type",
                                      _TARGET_TYPE.id == AuditEvent.target_id))
        .outerjoin(_TARGET_INVOICE, and_(AuditEvent.target_type == "invoice",
                                         _TARGET_INVOICE.id == AuditEvent.target_id))
    )
    asked = filters.get("action") or filters.get("action_prefix") or ""
    hidden = () if include_logins or asked.startswith("auth.") else LOGIN_ACTIONS
    return _filtered(actor, query, without_actions=hidden, **filters)


def event_rows(rows) -> list[EventRow]:
    """The rows of ``readable_events_query`` as ``EventRow``s."""
    return [EventRow(*row) for row in rows]


@dataclass
class Names:
    """What the events of one page mention by code or id, by name: at most two statements for any page."""

    types: dict[str, SubscriptionType] = field(default_factory=dict)  # by code
    sites: dict[int, str] = field(default_factory=dict)  # by id

    def type_name(self, code) -> str:
        found = self.types.get(code)
        return found.name if found else str(code)

    def currency(self, code, default: str = "EUR") -> str:
        found = self.types.get(code)
        return found.currency if found else default

    def site_name(self, site_id) -> str:
        return self.sites.get(site_id) or _("site #%(id)s", id=site_id)


def names_for(rows: list[EventRow]) -> Names:
    """The subscription types (the catalogue is short) and the sites the events' details mention."""
    site_ids = set()
    for row in rows:
        for details in (row.event.before, row.event.after):
            if isinstance(details, dict):
                site_ids.update(site_id for site_id in details.get("sites") or () if isinstance(site_id, int))
                if isinstance(details.get("site_id"), int):
                    site_ids.add(details["site_id"])
    names = Names()
    if not rows:
        return names
    names.types = {row.code: row for row in db.session.scalars(select(SubscriptionType))}
    if site_ids:
        names.sites = dict(db.session.execute(select(Site.id, Site.name).where(Site.id.in_(site_ids))).all())
    return names
