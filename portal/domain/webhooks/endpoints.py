"""A partner's webhook endpoints: register, change, pause, delete (docs/rules.md rule 32).

Each function is one transaction: it checks the actor holds
``integrations.manage`` over the endpoint's organisation (rbac), validates,
writes, records ``webhook.created`` / ``webhook.updated`` / ``webhook.deleted``
in the audit log (never the secret), and commits. An organisation (a partner,
or the operator, whose endpoints receive every partner's events) has at most
``MAX_ENDPOINTS``; the URL passes the SSRF check of ``addresses``.
"""
from dataclasses import dataclass

from sqlalchemy import func, select

from portal.domain import audit, validation
from portal.domain.errors import Forbidden, Invalid
from portal.domain.events import EVENT_TYPES
from portal.domain.transactions import write_transaction
from portal.domain.webhooks import addresses, signing
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import ngettext
from portal.models import Organisation, WebhookEndpoint
from portal.models.webhooks import MAX_DESCRIPTION_LENGTH, MAX_ENDPOINTS
from portal.rbac.permissions import manage_integrations, may

UNSET = object()


@dataclass(frozen=True)
class Created:
    """A new endpoint and its secret: the only time the secret is shown."""

    endpoint: WebhookEndpoint
    secret: str


def _require(actor, organisation: Organisation) -> None:
    if actor is not None and not may(actor, manage_integrations(organisation)):
        raise Forbidden(_("You do not have the permission this needs."))


def event_types(value) -> list[str]:
    """A non-empty list of known event types, each once, in the order given; raises ``Invalid`` on ``events``."""
    if not isinstance(value, (list, tuple)) or not value:
        raise Invalid(_("Choose at least one event type."), field="events")
    unknown = [str(item) for item in value if item not in EVENT_TYPES]
    if unknown:
        raise Invalid(_("Unknown event type: %(types)s. Known types: %(known)s.", types=", ".join(unknown[:5]),
                        known=", ".join(EVENT_TYPES)), field="events")
    return list(dict.fromkeys(value))


def _description(value) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return validation.text(value, "description", label=_("description"), max_length=MAX_DESCRIPTION_LENGTH)


def _url(value) -> str:
    addresses.check(value)
    return value.strip()


def _shown(endpoint: WebhookEndpoint) -> dict:
    """What the audit log keeps of an endpoint (never its secret)."""
    return {"url": endpoint.url, "events": list(endpoint.events), "description": endpoint.description,
            "active": endpoint.active}


def endpoints_of(organisation: Organisation) -> list[WebhookEndpoint]:
    """The organisation's endpoints, oldest first."""
    return list(db.session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.organisation_id == organisation.id)
                                   .order_by(WebhookEndpoint.id)))


def create(actor, organisation: Organisation, url, events, description=None) -> Created:
    """Register an endpoint of ``organisation`` (a partner or the operator); commits.

    Raises ``Forbidden`` without integrations.manage over it, ``Invalid``
    (422) for an unknown event type, a URL that is not http(s) or a refused
    address (``RefusedAddress``), a bad description, or a 21st endpoint.
    """
    _require(actor, organisation)
    if organisation.kind not in ("partner", "operator"):
        raise Forbidden(_("Webhooks belong to a partner."))
    url = _url(url)
    events = event_types(events)
    description = _description(description)
    secret = signing.new_secret()
    with write_transaction():
        # Lock the organisation (PostgreSQL; SQLite's write lock already serialises): two requests
        # at once cannot both add the 20th endpoint.
        db.session.execute(select(Organisation.id).where(Organisation.id == organisation.id).with_for_update())
        count = db.session.scalar(select(func.count(WebhookEndpoint.id))
                                  .where(WebhookEndpoint.organisation_id == organisation.id))
        if count >= MAX_ENDPOINTS:
            raise Invalid(ngettext("An organisation has at most %(num)d webhook endpoint.",
                                   "An organisation has at most %(num)d webhook endpoints.", MAX_ENDPOINTS),
                          field="url")
        endpoint = WebhookEndpoint(organisation_id=organisation.id, url=url, events=events, description=description,
                                   secret=signing.seal(secret), active=True)
        db.session.add(endpoint)
        db.session.flush()
        audit.record(actor, "webhook.created", "webhook", endpoint.id, organisation.id, after=_shown(endpoint))
    return Created(endpoint, secret)


def update(actor, endpoint: WebhookEndpoint, *, url=UNSET, events=UNSET, active=UNSET,
           description=UNSET) -> WebhookEndpoint:
    """Change what is given; commits. ``active``: pause (false) or resume (true, which also clears an automatic
    disabling and its failure streak). Raises as ``create`` does."""
    organisation = endpoint.organisation
    _require(actor, organisation)
    changes = {}
    if url is not UNSET:
        changes["url"] = _url(url)
    if events is not UNSET:
        changes["events"] = event_types(events)
    if description is not UNSET:
        changes["description"] = _description(description)
    if active is not UNSET:
        if not isinstance(active, bool):
            raise Invalid(_("Choose whether the endpoint is active."), field="active")
        changes["active"] = active
    with write_transaction():
        endpoint = db.session.get(WebhookEndpoint, endpoint.id, populate_existing=True)
        before = _shown(endpoint)
        for name, value in changes.items():
            setattr(endpoint, name, value)
        if changes.get("active") is True and before["active"] is False:
            endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None
        after = _shown(endpoint)
        if after != before:
            changed = [name for name in after if after[name] != before[name]]
            audit.record(actor, "webhook.updated", "webhook", endpoint.id, organisation.id,
                         before={name: before[name] for name in changed}, after={name: after[name] for name in changed})
    return endpoint


def delete(actor, endpoint: WebhookEndpoint) -> None:
    """Delete the endpoint and its delivery log; commits."""
    organisation = endpoint.organisation
    _require(actor, organisation)
    with write_transaction():
        endpoint = db.session.get(WebhookEndpoint, endpoint.id, populate_existing=True)
        if endpoint is None:
            return
        before = _shown(endpoint)
        db.session.delete(endpoint)
        audit.record(actor, "webhook.deleted", "webhook", endpoint.id, organisation.id, before=before)
