"""Webhooks (docs/rules.md rule 32): the caller's organisation's endpoints and their delivery log.

The endpoints are the caller's organisation's own (a partner's, or the
operator's, which receive every partner's events); another organisation's
endpoint is a 404. The secret is in the creation's answer only.
"""
from sqlalchemy import select

from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.pagination import page_body, page_of
from portal.blueprints.api.registry import operation, read_body, read_query
from portal.blueprints.api.schemas import (
    Page,
    PageQuery,
    WebhookCreate,
    WebhookCreated,
    WebhookDeliveryOut,
    WebhookOut,
    WebhookUpdate,
)
from portal.domain.webhooks import delivery, endpoints
from portal.models import WebhookEndpoint
from portal.rbac import permissions
from portal.rbac.scoping import get_webhook_delivery_or_404, get_webhook_or_404


def webhook_out(endpoint: WebhookEndpoint) -> dict:
    """An endpoint as the API shows it: never its secret."""
    return {"id": endpoint.id, "url": endpoint.url, "events": list(endpoint.events),
            "description": endpoint.description, "active": endpoint.active, "created_at": endpoint.created_at,
            "disabled_at": endpoint.disabled_at, "disabled_reason": endpoint.disabled_reason,
            "failing_since": endpoint.failing_since}


def _own() -> WebhookEndpoint:
    organisation = actor().organisation
    require(permissions.manage_integrations(organisation))
    return organisation


def _load(webhook_id: int) -> WebhookEndpoint:
    """The caller's organisation's endpoint (404 otherwise), if they hold integrations.manage (403 otherwise)."""
    endpoint = get_webhook_or_404(webhook_id, actor())
    require(permissions.manage_integrations(endpoint.organisation))
    return endpoint


@operation("POST", "/webhooks", summary="Register a webhook endpoint", permission=permissions.manage_integrations,
           response=WebhookCreated, status=201, body=WebhookCreate, errors=(403,))
def create_webhook():
    """``{url, events, description?}``: the endpoint and its signing ``secret``, shown in this answer only.
    An unknown event type, a URL that is not http(s), a receiver on a private, loopback or link-local address,
    or a 21st endpoint: 422 naming the field."""
    organisation = _own()
    body = read_body()
    created = endpoints.create(actor(), organisation, body.url, list(body.events), body.description)
    return {**webhook_out(created.endpoint), "secret": created.secret}


@operation("GET", "/webhooks", summary="The organisation's webhook endpoints", permission=permissions.manage_integrations,
           response=Page[WebhookOut], query=PageQuery, errors=(403,))
def list_webhooks():
    """Oldest first, without their secrets."""
    organisation = _own()
    params = read_query()
    page = page_of(select(WebhookEndpoint).where(WebhookEndpoint.organisation_id == organisation.id)
                   .order_by(WebhookEndpoint.id), params)
    return page_body([webhook_out(endpoint) for endpoint in page.rows], page)


@operation("GET", "/webhooks/{webhook_id}", summary="A webhook endpoint", permission=permissions.manage_integrations,
           response=WebhookOut, errors=(403,))
def get_webhook(webhook_id):
    """The endpoint, without its secret."""
    return webhook_out(_load(webhook_id))


@operation("PATCH", "/webhooks/{webhook_id}", summary="Change, pause or resume a webhook endpoint",
           permission=permissions.manage_integrations, response=WebhookOut, body=WebhookUpdate, errors=(403,))
def update_webhook(webhook_id):
    """``{url?, events?, active?, description?}``: only what is given changes. ``active: false`` pauses it,
    ``true`` resumes it (also after the portal disabled it). Refused as when registering (422)."""
    endpoint = _load(webhook_id)
    body = read_body()
    given = {name: getattr(body, name) for name in body.model_fields_set}  # null is refused but for description
    if "events" in given:
        given["events"] = list(given["events"])
    return webhook_out(endpoints.update(actor(), endpoint, **given))


@operation("DELETE", "/webhooks/{webhook_id}", summary="Delete a webhook endpoint and its delivery log",
           permission=permissions.manage_integrations, status=204, errors=(403,))
def delete_webhook(webhook_id):
    """Nothing more is sent to it; its delivery log goes with it."""
    endpoints.delete(actor(), _load(webhook_id))


@operation("GET", "/webhooks/{webhook_id}/deliveries", summary="A webhook endpoint's delivery log, newest first",
           permission=permissions.manage_integrations, response=Page[WebhookDeliveryOut], query=PageQuery,
           errors=(403,))
def list_webhook_deliveries(webhook_id):
    """Every attempt, one item each: ``event_id`` is the body's ``id`` and the ``Portal-Event-Id`` header."""
    endpoint = _load(webhook_id)
    params = read_query()
    page = page_of(delivery.deliveries_of(endpoint), params)
    return page_body(list(page.rows), page)


@operation("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", summary="Send a delivery again",
           permission=permissions.manage_integrations, response=WebhookDeliveryOut, status=202, errors=(403,))
def retry_webhook_delivery(webhook_id, delivery_id):
    """Queue the event of that delivery to the endpoint again, now: the attempt it answers is pending, and
    its outcome appears in the delivery log."""
    endpoint = _load(webhook_id)
    return delivery.retry(actor(), get_webhook_delivery_or_404(endpoint, delivery_id))
