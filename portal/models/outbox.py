"""What is handed on after a change commits: its events (rule 30) and its e-mails (rule 31)."""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.audit import AuditEvent
from portal.models.mixins import UTCDateTime, utcnow


class OutboxEvent(db.Model):
    """One event of an audited change, written in the change's transaction (docs/rules.md rule 30).

    ``type`` is the event type a listener subscribes to (``client.created``…,
    see ``portal.domain.events``); ``data`` the ids and changed fields, never a
    secret, a cost or a margin. ``organisation_id`` is the audit event's tenant and
    ``partner_id`` the partner it belongs to (the client's partner for a client's
    change; null for the operator's own events): webhooks are routed by it.
    ``relayed_at`` is set once the relay has handed the event on.
    """

    __tablename__ = "outbox_events"
    __table_args__ = (
        # The relay reads the events not handed on yet, oldest first: a small partial index.
        Index("ix_outbox_events_unrelayed", "id", postgresql_where=text("relayed_at IS NULL"),
              sqlite_where=text("relayed_at IS NULL")),
        Index("ix_outbox_events_partner_id_id", "partner_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    audit_event_id: Mapped[int | None] = mapped_column(ForeignKey("audit_events.id"), index=True)
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    audit_event: Mapped[AuditEvent | None] = relationship()


MAIL_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


class MailMessage(db.Model):
    """One e-mail to send, written with the change that calls for it (docs/rules.md rule 31).

    The table, not the task queue, is the truth: a task only carries the id.
    ``status``: pending (waiting for its attempt at ``next_attempt_at``),
    sending (claimed by a worker at ``claimed_at``), sent, failed (given up
    after the retries of PORTAL_MAIL_RETRY_SECONDS, or past ``expires_at``) or
    cancelled (replaced, e.g. by a resent invitation). The message is built in
    the reader's language when it is queued (``language`` goes into its
    Content-Language header). ``body`` may hold a live link (an invitation,
    a password reset): it is erased once the message is sent, failed or
    cancelled. ``kind`` and ``reference_id`` say what it is about (an
    invitation's id, a user's, a seat request's), so its outcome can be
    recorded there. ``attachment`` names a file built when the message is sent
    (``"invoice:<invoice id>:<reader's user id>"``: the invoice's PDF as that
    reader may read it, rule 33), so no large file waits in the table.
    ``queued_at`` is when a task for it was last put on the
    queue: a due message not queued for a while is queued again (a lost task).
    """

    __tablename__ = "mail_messages"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')", name="status"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_mail_messages_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_mail_messages_kind_reference_id", "kind", "reference_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    reference_id: Mapped[int | None] = mapped_column(Integer)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(998))
    body: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(8))
    attachment: Mapped[str | None] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
