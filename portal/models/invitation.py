from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.mixins import UTCDateTime, utcnow
from portal.models.user import User


class Invitation(db.Model):
    """The invitation of one invited user: pending until accepted or revoked.

    ``delivery`` says whether the latest e-mail went out: "unsent" (send
    later), "queued" (handed to the task queue, not tried yet), "sent", or
    "failed" (its last attempt failed: shown as "not sent — retry"; the queue
    retries it on its own, and a later success makes it "sent").
    """

    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'accepted', 'revoked', 'expired')", name="status"),
        CheckConstraint("delivery IN ('unsent', 'queued', 'sent', 'failed')", name="delivery"),
        Index("ix_invitations_organisation_id_status", "organisation_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    delivery: Mapped[str] = mapped_column(String(16), default="unsent")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class InvitationToken(db.Model):
    """One link sent for an invitation. Only the SHA-256 of the token is stored.

    Resending supersedes the previous token, so an old e-mail's link tells
    the visitor a newer one exists instead of looking forged.
    """

    __tablename__ = "invitation_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    invitation: Mapped[Invitation] = relationship()
