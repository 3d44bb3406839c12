"""API tokens and idempotency keys of the partner API (docs/rules.md, API conventions)."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.mixins import TimestampMixin, UTCDateTime, utcnow
from portal.models.user import User


class ApiToken(TimestampMixin, db.Model):
    """A bearer token that acts with its user's permissions.

    Only the SHA-256 of the token is stored; the token itself is shown once,
    when it is created. A revoked or expired token, or one whose user may no
    longer log in, authenticates nothing; a read-only one may only read
    (docs/rules.md rule 41).
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_only: Mapped[bool] = mapped_column(default=False, server_default=false())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: never

    user: Mapped[User] = relationship()

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} of user {self.user_id}>"


class IdempotencyKey(db.Model):
    """The first answer to a POST sent with an ``Idempotency-Key`` header, replayed for 24 hours.

    Inserted with its answer in the transaction of the change it guards, so
    the two commit together (portal/domain/idempotency.py); the unique
    constraint on (user, key) keeps the first of concurrent requests with one
    key. ``status`` NULL only in rows reserved by an older version.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_id_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("api_tokens.id", ondelete="SET NULL"))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path and the canonical JSON body.
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
