"""Delivering events to webhook endpoints (docs/rules.md rule 32).

- ``fan_out(event)`` (in ``fanout``, which the relay imports): inside the
  relay's transaction, one pending delivery per active endpoint subscribed
  to the event's type. The event's data is already sanitised
  (``portal.domain.events``: no secret, cost or margin).
- ``deliver(delivery_id)``: one attempt. It claims the row with a
  conditional UPDATE (two workers never send the same attempt twice), holds
  no transaction while the receiver talks, checks the address again (SSRF:
  DNS can change) and POSTs ``{"id", "type", "created_at", "data"}``
  signed (``signing``) to the very address checked. At most
  PORTAL_WEBHOOK_TIMEOUT seconds (10) in all, whatever the receiver does
  (a watchdog cuts the connection: a receiver trickling bytes cannot stretch
  it); redirects are not followed; at most PORTAL_WEBHOOK_MAX_RESPONSE_BYTES
  (64 KiB) of the answer are read, 500 characters kept. A 2xx: succeeded.
  Anything else: failed, and the next attempt (a new row) is due after the
  next delay of PORTAL_WEBHOOK_RETRY_SECONDS (default
  ``60,300,1800,7200,21600,86400``); after the last one, none.
- An endpoint failing without a success for PORTAL_WEBHOOK_DISABLE_AFTER_SECONDS
  (three days) is disabled, and its organisation's administrators
  (integrations.manage) are told by e-mail.
- ``retry`` ("send again") queues an attempt now; ``ping`` sends a test event
  to one endpoint.

A worker killed mid-attempt leaves its claim: after ``CLAIM_LEASE`` the
attempt can be claimed again (``recover``; at-least-once: receivers
deduplicate with ``Portal-Event-Id``).
"""
import json
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import func, or_, select, update
from urllib3.connection import HTTPConnection, HTTPSConnection

from portal import metrics
from portal.domain import audit, handoff, mail, notifications
from portal.domain.errors import Forbidden
from portal.domain.events import sanitised
from portal.domain.transactions import write_transaction
from portal.domain.webhooks import addresses, signing
from portal.domain.webhooks.fanout import TASK, fan_out, subscribers  # noqa: F401 - fan_out: the relay's side
from portal.extensions import db
from portal.i18n import force_locale
from portal.i18n import gettext as _
from portal.models import Organisation, OutboxEvent, RoleAssignment, User, WebhookDelivery, WebhookEndpoint
from portal.models.mixins import utcnow
from portal.models.webhooks import MAX_ERROR, MAX_EXCERPT
from portal.rbac.permissions import manage_integrations, may
from portal.rbac.roles import role_codes_with

PING = "ping"
DEFAULT_RETRY_SECONDS = (60, 300, 1800, 7200, 21600, 86400)
DEFAULT_TIMEOUT = 10
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
DEFAULT_DISABLE_AFTER_SECONDS = 3 * 24 * 3600
# Longer than any attempt (the timeout): a claim this old belongs to a worker that died.
CLAIM_LEASE = timedelta(minutes=10)
USER_AGENT = "PartnerPortal-Webhooks/1.0"


@dataclass(frozen=True)
class Outcome:
    """What one attempt did: "succeeded", "retry" (the next attempt ``next_delivery_id`` at ``retry_at``)
    or "failed" (no attempt follows)."""

    status: str
    retry_at: datetime | None = None
    next_delivery_id: int | None = None


@dataclass(frozen=True)
class Answer:
    """What the receiver did: its status (None: no answer), the first characters of its body, the error."""

    status: int | None
    excerpt: str | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


# ---------------------------------------------------------------- settings


def retry_seconds() -> tuple[int, ...]:
    """The delays before each retry (PORTAL_WEBHOOK_RETRY_SECONDS: "60,300,…")."""
    return mail.seconds_list(current_app.config.get("WEBHOOK_RETRY_SECONDS", DEFAULT_RETRY_SECONDS),
                         "WEBHOOK_RETRY_SECONDS")


def _number(name: str, default: float) -> float:
    value = current_app.config.get(name)
    return float(value) if value not in (None, "") else default


def timeout() -> float:
    """PORTAL_WEBHOOK_TIMEOUT: the seconds an attempt may take in all (10)."""
    return _number("WEBHOOK_TIMEOUT", DEFAULT_TIMEOUT)


def max_response_bytes() -> int:
    """PORTAL_WEBHOOK_MAX_RESPONSE_BYTES: at most this much of an answer is read (64 KiB)."""
    return int(_number("WEBHOOK_MAX_RESPONSE_BYTES", DEFAULT_MAX_RESPONSE_BYTES))


def disable_after() -> timedelta:
    """PORTAL_WEBHOOK_DISABLE_AFTER_SECONDS: an endpoint failing this long without a success is disabled (3 days)."""
    return timedelta(seconds=_number("WEBHOOK_DISABLE_AFTER_SECONDS", DEFAULT_DISABLE_AFTER_SECONDS))


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def payload(event: OutboxEvent) -> bytes:
    """The body of a delivery: ``{"id", "type", "created_at", "data"}``, the data sanitised once more."""
    body = {"id": event.id, "type": event.type, "created_at": _timestamp(event.created_at),
            "data": sanitised(event.data or {})}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()


# ---------------------------------------------------------------- one attempt (the worker's side)


def deliver(delivery_id: int, *, cutoff: datetime | None = None) -> Outcome | None:
    """One attempt at delivery ``delivery_id``, if it is pending and due by ``cutoff`` (default now).

    Claims it first: None when it was not ours to send (done, claimed by a
    live worker, or not due). Commits the outcome; a failed attempt with a
    retry left adds the next attempt's row, due at ``Outcome.retry_at`` (the
    worker schedules ``deliver_webhook(next_delivery_id)`` at that time).
    """
    now = utcnow()
    cutoff = min(cutoff or now, now)
    with write_transaction():
        claimed = db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
                   WebhookDelivery.next_attempt_at <= cutoff,
                   or_(WebhookDelivery.claimed_at.is_(None), WebhookDelivery.claimed_at < now - CLAIM_LEASE))
            .values(claimed_at=now).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        return None
    delivery = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
    endpoint = delivery.endpoint
    active, url, stored = endpoint.active, endpoint.url, endpoint.secret
    event = db.session.get(OutboxEvent, delivery.event_id)
    body, event_id = payload(event), event.id
    db.session.rollback()  # no transaction held open while the receiver talks
    if not active:
        answer = Answer(None, None, "The endpoint is paused: not sent.")
    else:
        answer = attempt(url, stored, event_id, body)
    outcome = _record(delivery_id, now, answer, retry=active)
    if outcome is not None:
        metrics.count_attempt("webhook", outcome.status)
    return outcome


def attempt(url: str, stored_secret: str, event_id: int, body: bytes) -> Answer:
    """Check the receiver's address again, sign ``body`` and POST it; what the receiver did."""
    try:
        secret = signing.unseal(stored_secret)
        target = addresses.check(url)
    except (addresses.RefusedAddress, signing.UnreadableSecret) as refusal:
        return Answer(None, None, str(refusal))
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               signing.SIGNATURE_HEADER: signing.signature_header(secret, body),
               signing.EVENT_ID_HEADER: str(event_id)}
    return post(target, body, headers, timeout=timeout(), max_bytes=max_response_bytes())


def _host_header(target: addresses.Target) -> str:
    host = f"[{target.host}]" if ":" in target.host else target.host
    default = 443 if target.scheme == "https" else 80
    return host if target.port == default else f"{host}:{target.port}"


def post(target: addresses.Target, body: bytes, headers: dict, *, timeout: float, max_bytes: int) -> Answer:
    """POST ``body`` to the checked address of ``target``: at most ``timeout`` seconds in all, at most
    ``max_bytes`` of the answer read, no redirect followed. Never raises."""
    deadline = time.monotonic() + timeout
    cut = threading.Event()
    connection = None
    # The socket itself: http.client lets go of it once the answer's headers are read.
    opened = []

    def cut_off():
        cut.set()
        for sock in opened:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(timeout, cut_off)
    watchdog.daemon = True
    watchdog.start()
    status = None
    try:
        error = None
        for address in target.addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if target.scheme == "https":
                connection = HTTPSConnection(address, target.port, timeout=remaining, server_hostname=target.host,
                                             assert_hostname=target.host, cert_reqs="CERT_REQUIRED")
            else:
                connection = HTTPConnection(address, target.port, timeout=remaining)
            try:
                connection.connect()
                opened.append(connection.sock)
                break
            except OSError as failure:
                error = failure
                if isinstance(failure, TimeoutError):
                    cut.set()
                connection.close()
                connection = None
        if connection is None:
            if cut.is_set() or time.monotonic() >= deadline:
                return Answer(None, None, f"Timed out after {timeout:g} s.")
            return Answer(None, None, _describe(error) if error else "No address to connect to.")
        if cut.is_set():
            return Answer(None, None, f"Timed out after {timeout:g} s.")
        connection.request("POST", target.target, body=body, headers={**headers, "Host": _host_header(target)},
                           preload_content=False, decode_content=False)
        response = connection.getresponse()
        status = response.status
        read = bytearray()
        while len(read) < max_bytes:
            chunk = response.read1(min(16384, max_bytes - len(read)))
            if not chunk:
                break
            read += chunk
        excerpt = bytes(read).decode("utf-8", errors="replace")[:MAX_EXCERPT] or None
        if cut.is_set():
            return Answer(status, excerpt, f"Timed out after {timeout:g} s.")
        if 300 <= status < 400:
            location = (response.headers.get("Location") or "")[:300]
            return Answer(status, excerpt, f"Redirect to {location or '(no location)'} not followed.")
        if not 200 <= status < 300:
            return Answer(status, excerpt, f"The receiver answered {status}.")
        return Answer(status, excerpt, None)
    except Exception as failure:  # noqa: BLE001 - whatever the receiver did, it is a failed attempt
        if cut.is_set() or isinstance(failure, TimeoutError):
            return Answer(status, None, f"Timed out after {timeout:g} s.")
        return Answer(status, None, _describe(failure))
    finally:
        watchdog.cancel()
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001, S110 - closing a broken connection
                pass


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:MAX_ERROR]


def _record(delivery_id: int, claimed_at: datetime, answer: Answer, *, retry: bool) -> Outcome | None:
    with write_transaction():
        done = utcnow()
        delivery = db.session.get(WebhookDelivery, delivery_id, populate_existing=True)
        if delivery is None:
            return None  # its endpoint was deleted meanwhile
        endpoint = delivery.endpoint
        succeeded = answer.succeeded
        retry_at = None
        if not succeeded:
            delays = retry_seconds()
            if retry and delivery.attempt <= len(delays) and delivery.event_type != PING:
                retry_at = done + timedelta(seconds=delays[delivery.attempt - 1])
        # Still ours? After CLAIM_LEASE another worker may have claimed the attempt.
        ours = db.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
                   WebhookDelivery.claimed_at == claimed_at)
            .values(status="succeeded" if succeeded else "failed", response_status=answer.status,
                    response_excerpt=answer.excerpt, error=(answer.error or None) and answer.error[:MAX_ERROR],
                    attempted_at=claimed_at, claimed_at=None, next_attempt_at=retry_at)
            .execution_options(synchronize_session=False)).rowcount
        if not ours:
            return None
        if succeeded:
            endpoint.failing_since = None
            return Outcome("succeeded")
        if not retry:
            return Outcome("failed")  # paused: the endpoint's health is not at stake
        if endpoint.failing_since is None:
            endpoint.failing_since = claimed_at
        if endpoint.active and endpoint.failing_since <= done - disable_after():
            _disable(endpoint, done)
            db.session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                               .values(next_attempt_at=None).execution_options(synchronize_session=False))
            return Outcome("failed")
        if retry_at is None:
            return Outcome("failed")
        following = WebhookDelivery(endpoint_id=delivery.endpoint_id, event_id=delivery.event_id,
                                    event_type=delivery.event_type, attempt=delivery.attempt + 1, status="pending",
                                    next_attempt_at=retry_at, created_at=done)
        db.session.add(following)
        db.session.flush()
        return Outcome("retry", retry_at, following.id)


def _disable(endpoint: WebhookEndpoint, now: datetime) -> None:
    """Inside the caller's transaction: disable a failing endpoint and e-mail its organisation's administrators."""
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = "failing for three days"
    audit.record(None, "webhook.disabled", "webhook", endpoint.id, endpoint.organisation_id,
                 before={"active": True}, after={"active": False, "reason": endpoint.disabled_reason})
    for admin in administrators(endpoint.organisation):
        language = notifications.language_of(admin)
        try:
            with force_locale(language):
                subject = _("A webhook endpoint was disabled")
                body = _("Deliveries to %(url)s have failed for three days, so the portal stopped sending events "
                         "to it.\n\nFix the receiver, then resume the endpoint on the Webhooks page of your "
                         "settings; its delivery log shows each attempt, and any of them can be sent again.",
                         url=endpoint.url)
        except Exception:  # noqa: BLE001 - the disabling stands whatever happens to its e-mail
            current_app.logger.exception("Webhook disabling e-mail to %s could not be built", admin.email)
            continue
        mail.queue(admin.email, subject, body, kind="webhook_disabled", reference_id=endpoint.id, language=language)


def administrators(organisation: Organisation) -> list[User]:
    """The active users of ``organisation`` holding integrations.manage through a role."""
    codes = role_codes_with("integrations.manage", organisation.kind)
    return list(db.session.scalars(
        select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(User.organisation_id == organisation.id, User.status == "active", RoleAssignment.role.in_(codes))
        .distinct().order_by(User.id)))


# ---------------------------------------------------------------- send again, ping, the log


def _require(actor, endpoint: WebhookEndpoint) -> None:
    if actor is not None and not may(actor, manage_integrations(endpoint.organisation)):
        raise Forbidden(_("You do not have the permission this needs."))


def retry(actor, delivery: WebhookDelivery) -> WebhookDelivery:
    """"Send again": the attempt of ``delivery``'s event to its endpoint, due now; commits.

    A following attempt already waiting is made due now; otherwise a new
    attempt is added. Handed to the task queue once committed.
    """
    _require(actor, delivery.endpoint)
    with write_transaction():
        waiting = db.session.scalar(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == delivery.endpoint_id,
                                          WebhookDelivery.event_id == delivery.event_id,
                                          WebhookDelivery.status == "pending")
            .order_by(WebhookDelivery.id.desc()).limit(1))
        now = utcnow()
        if waiting is not None:
            waiting.next_attempt_at = now
        else:
            last = db.session.scalar(select(func.max(WebhookDelivery.attempt))
                                     .where(WebhookDelivery.endpoint_id == delivery.endpoint_id,
                                            WebhookDelivery.event_id == delivery.event_id)) or 0
            waiting = WebhookDelivery(endpoint_id=delivery.endpoint_id, event_id=delivery.event_id,
                                      event_type=delivery.event_type, attempt=last + 1, status="pending",
                                      next_attempt_at=now, created_at=now)
            db.session.add(waiting)
        db.session.flush()
        audit.record(actor, "webhook.resent", "webhook", delivery.endpoint_id, delivery.endpoint.organisation_id,
                     after={"event_id": delivery.event_id, "delivery_id": waiting.id})
        handoff.after_commit(TASK, waiting.id)
    return waiting


def ping(actor, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a test event (type ``ping``, no data but the endpoint's id) to ``endpoint`` alone; commits.

    A ping is tried once (no retry); a paused endpoint's ping is logged as not sent.
    """
    _require(actor, endpoint)
    organisation = endpoint.organisation
    with write_transaction():
        now = utcnow()
        # Written already relayed: it goes to this endpoint only, never through the fan-out.
        event = OutboxEvent(type=PING, organisation_id=organisation.id,
                            partner_id=organisation.id if organisation.kind == "partner" else None,
                            data={"endpoint_id": endpoint.id}, created_at=now, relayed_at=now)
        db.session.add(event)
        db.session.flush()
        delivery = WebhookDelivery(endpoint_id=endpoint.id, event_id=event.id, event_type=PING, attempt=1,
                                   status="pending", next_attempt_at=now, created_at=now)
        db.session.add(delivery)
        db.session.flush()
        handoff.after_commit(TASK, delivery.id)
    return delivery


def deliveries_of(endpoint: WebhookEndpoint):
    """The endpoint's delivery log, newest first (a select, to paginate)."""
    return (select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc()))


# ---------------------------------------------------------------- for the queue's relay and run-until-empty


LOST_AFTER = timedelta(minutes=10)
MAX_RECOVERED = 500  # per relay: a long backlog is queued again a slice at a time, never all at once


def lost(now: datetime | None = None) -> list[int]:
    """Deliveries due for over LOST_AFTER and not claimed by a live worker: their task was lost (Redis
    restarted empty, a queue file deleted), so the relay queues them again. A delivery still waiting
    in a long queue may be queued twice; its claim sends it once."""
    now = now or utcnow()
    return due(now - LOST_AFTER, limit=MAX_RECOVERED, now=now)


def due(cutoff: datetime, *, limit: int | None = None, now: datetime | None = None) -> list[int]:
    """The pending deliveries due by ``cutoff`` and not claimed by a live worker, oldest first."""
    now = now or utcnow()
    ids = db.session.scalars(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= cutoff,
               or_(WebhookDelivery.claimed_at.is_(None), WebhookDelivery.claimed_at < now - CLAIM_LEASE))
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)).all()
    db.session.rollback()
    return list(ids)
