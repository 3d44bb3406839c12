"""Tables of two-step verification and password reset (docs/rules.md rules 38 and 39).

Recovery codes and reset links are stored only as their SHA-256
(``portal.models.tokens.hash_token``); attempts live in the database so that
every app server counts the same ones.
"""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.mixins import TimestampMixin, UTCDateTime, utcnow
from portal.models.user import User


class RecoveryCode(TimestampMixin, db.Model):
    """One single-use recovery code of a user's two-step verification (rule 38)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TwoStepAttempt(db.Model):
    """A wrong code (or a wrong password when turning two-step verification off), kept for the limit of rule 38."""

    __tablename__ = "two_step_attempts"
    __table_args__ = (Index("ix_two_step_attempts_user_id_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PasswordResetToken(TimestampMixin, db.Model):
    """An e-mailed password reset link (rule 39): single-use, valid until ``expires_at``."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()
