"""Signed webhooks (docs/rules.md rule 32): a partner's endpoints, and the log of every delivery attempt."""
from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.mixins import UTCDateTime, utcnow
from portal.models.organisation import Organisation

DELIVERY_STATUSES = ("pending", "succeeded", "failed")
MAX_ENDPOINTS = 20  # per organisation (docs/rules.md rule 32)
MAX_URL_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 200
MAX_EXCERPT = 500  # characters of a receiver's answer kept in the log
MAX_ERROR = 500


class WebhookEndpoint(db.Model):
    """A receiver of an organisation's events: a partner (its own and its clients' events) or the operator.

    ``events`` is the list of event types it subscribes to (``portal.domain.events.EVENT_TYPES``).
    ``secret`` holds the signing secret encrypted (Fernet, ``portal.domain.webhooks.signing``):
    it must be read back to sign, and a copy of the database alone does not give it. It is shown
    once, in the answer that creates the endpoint. ``active`` false: paused by a person, or
    disabled automatically after three days of failures (``disabled_at``, ``disabled_reason``);
    ``failing_since`` is the first failed attempt since the last success.
    """

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    url: Mapped[str] = mapped_column(String(MAX_URL_LENGTH))
    events: Mapped[list] = mapped_column(JSON)
    description: Mapped[str | None] = mapped_column(String(MAX_DESCRIPTION_LENGTH))
    secret: Mapped[str] = mapped_column(String(400))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(200))
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organisation: Mapped[Organisation] = relationship()
    deliveries: Mapped[list["WebhookDelivery"]] = relationship(
        back_populates="endpoint", cascade="all, delete-orphan", passive_deletes=True)


class WebhookDelivery(db.Model):
    """One attempt at handing one event to one endpoint: the delivery log.

    ``event_id`` is the outbox event's id, which is the body's ``id`` and the
    ``Portal-Event-Id`` header (receivers deduplicate with it). Each attempt is
    its own row, numbered by ``attempt``: ``pending`` until tried at
    ``next_attempt_at``; then ``succeeded`` (a 2xx) or ``failed``, with the
    answer's status, its first characters and the error. A failed attempt's
    ``next_attempt_at`` is when the next attempt (a new row) is due, null when
    none follows. ``claimed_at``: a worker is sending it (the conditional
    UPDATE that makes two workers send an attempt once).
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name="status"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
        Index("ix_webhook_deliveries_endpoint_id_id", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(60))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(MAX_ERROR))
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    endpoint: Mapped[WebhookEndpoint] = relationship(back_populates="deliveries")
