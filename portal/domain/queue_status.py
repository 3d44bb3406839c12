"""What waits and what failed in the hand-off after a change (rules 30-32): the operator's view of it.

The tables are the truth (``outbox_events``, ``mail_messages``,
``webhook_deliveries``): a few grouped counts over their status indexes,
whatever their size, and the latest failures with their errors. The queue's
own length (Huey's) is read by ``portal.jobs``; it only says how many tasks
wait, the tables say what for.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import MailMessage, Organisation, OutboxEvent, WebhookDelivery, WebhookEndpoint
from portal.models.mixins import utcnow

RECENT = timedelta(hours=24)
FAILURES_SHOWN = 20


@dataclass(frozen=True)
class Failure:
    at: datetime | None
    what: str          # "mail" or "webhook"
    kind: str          # the mail's kind, or the event type
    target: str        # the recipient, or the endpoint's URL
    organisation: str | None
    error: str | None


@dataclass(frozen=True)
class QueueStatus:
    events_waiting: int
    oldest_event_at: datetime | None
    mails_waiting: int
    mails_retrying: int
    mails_failed_recently: int
    deliveries_waiting: int
    deliveries_failed_recently: int
    endpoints_disabled: int
    failures: list[Failure]

    @property
    def healthy(self) -> bool:
        return not (self.mails_failed_recently or self.deliveries_failed_recently or self.endpoints_disabled)


def queue_status(now: datetime | None = None) -> QueueStatus:
    since = (now or utcnow()) - RECENT
    events_waiting, oldest = db.session.execute(
        select(func.count(), func.min(OutboxEvent.created_at)).where(OutboxEvent.relayed_at.is_(None))).one()
    mails = _mail_counts(since)
    deliveries = _delivery_counts(since)
    disabled = db.session.scalar(select(func.count()).select_from(WebhookEndpoint)
                                 .where(WebhookEndpoint.disabled_at.is_not(None)))
    return QueueStatus(events_waiting=events_waiting, oldest_event_at=oldest,
                       mails_waiting=mails["waiting"], mails_retrying=mails["retrying"],
                       mails_failed_recently=mails["failed"],
                       deliveries_waiting=deliveries["waiting"], deliveries_failed_recently=deliveries["failed"],
                       endpoints_disabled=disabled, failures=latest_failures())


def _mail_counts(since: datetime) -> dict:
    waiting = MailMessage.status.in_(("pending", "sending"))
    failed = (MailMessage.status == "failed") & (MailMessage.created_at >= since)
    row = db.session.execute(select(
        func.count().filter(waiting),
        func.count().filter(waiting & (MailMessage.attempts > 0)),
        func.count().filter(failed),
    ).where(waiting | failed)).one()
    return dict(waiting=row[0], retrying=row[1], failed=row[2])


def _delivery_counts(since: datetime) -> dict:
    pending = WebhookDelivery.status == "pending"
    failed = (WebhookDelivery.status == "failed") & (WebhookDelivery.attempted_at >= since)
    row = db.session.execute(select(func.count().filter(pending), func.count().filter(failed))
                             .where(pending | failed)).one()
    return dict(waiting=row[0], failed=row[1])


def latest_failures(limit: int = FAILURES_SHOWN) -> list[Failure]:
    """The latest failed e-mails and webhook attempts, newest first."""
    mails = db.session.execute(
        select(MailMessage.created_at, MailMessage.kind, MailMessage.recipient, MailMessage.last_error)
        .where(MailMessage.status == "failed").order_by(MailMessage.id.desc()).limit(limit)).all()
    deliveries = db.session.execute(
        select(WebhookDelivery.attempted_at, WebhookDelivery.event_type, WebhookEndpoint.url, Organisation.name,
               WebhookDelivery.error, WebhookDelivery.response_status)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .join(Organisation, Organisation.id == WebhookEndpoint.organisation_id)
        .where(WebhookDelivery.status == "failed").order_by(WebhookDelivery.id.desc()).limit(limit)).all()
    failures = [Failure(at, "mail", kind, recipient, None, error) for at, kind, recipient, error in mails]
    failures += [Failure(at, "webhook", kind, url, organisation, error or (f"HTTP {status}" if status else None))
                 for at, kind, url, organisation, error, status in deliveries]
    failures.sort(key=lambda failure: (failure.at is not None, failure.at), reverse=True)
    return failures[:limit]
