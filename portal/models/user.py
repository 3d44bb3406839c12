from datetime import date, datetime

from sqlalchemy import (BigInteger, CheckConstraint, Column, Date, ForeignKey, Index, String, Table, UniqueConstraint,
                        false)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.catalogue import SubscriptionType
from portal.models.mixins import TimestampMixin, UTCDateTime, utcnow
from portal.models.organisation import Organisation
from portal.models.site import Site

USER_STATUSES = ("invited", "active", "deactivated")


class User(TimestampMixin, db.Model):
    """A person with one organisation and, for a client's users, one seat."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("status IN ('invited', 'active', 'deactivated')", name="status"),
        CheckConstraint("language IS NULL OR language IN ('en', 'fr', 'pl')", name="language"),
        # A seat is a site and a type together, or nothing.
        CheckConstraint(
            "(site_id IS NULL) = (subscription_type_id IS NULL)", name="seat_complete"
        ),
        Index("ix_users_site_id_status", "site_id", "status"),
        Index("ix_users_organisation_id_email", "organisation_id", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="invited")
    site_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id"))
    subscription_type_id: Mapped[int | None] = mapped_column(ForeignKey("subscription_types.id"))
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Deactivated during the client's trial: access and seat last until this
    # day (exclusive); the billing run releases the seat then and clears it.
    access_until: Mapped[date | None] = mapped_column(Date)
    # Two-step verification (docs/rules.md rule 38, portal.domain.accounts.two_step):
    # the TOTP secret, encrypted; set while enrolling, on once ``two_step_enabled_at``
    # is set, and never shown after that. ``two_step_last_used_step`` is the
    # 30-second step of the last accepted code: an older or the same one is a replay.
    two_step_secret: Mapped[str | None] = mapped_column(String(255))
    two_step_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    two_step_last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    # The language the user reads the portal in (docs/rules.md rule 37): one of
    # portal.i18n.LANGUAGES, or None to follow the browser's Accept-Language.
    language: Mapped[str | None] = mapped_column(String(8))

    organisation: Mapped[Organisation] = relationship()
    site: Mapped[Site | None] = relationship()
    subscription_type: Mapped[SubscriptionType | None] = relationship()
    role_assignments: Mapped[list["RoleAssignment"]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    # Flask-Login protocol. ``session_token`` is set when the user is loaded
    # through a login session (see portal.rbac.sessions).
    session_token = None  # type: str | None

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        """May log in: active, or deactivated during a trial that has not ended."""
        from portal.clock import today

        return self.status == "active" or (
            self.status == "deactivated" and self.access_until is not None and self.access_until > today()
        )

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def holds_seat(self) -> bool:
        return self.site_id is not None and (self.status != "deactivated" or self.access_until is not None)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


role_assignment_sites = Table(
    "role_assignment_sites",
    db.metadata,
    Column("role_assignment_id", ForeignKey("role_assignments.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True),
)


class RoleAssignment(TimestampMixin, db.Model):
    """A role given to a user inside their own organisation, maybe limited to sites."""

    __tablename__ = "role_assignments"
    __table_args__ = (
        Index("ix_role_assignments_user_id_role", "user_id", "role", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(40))

    user: Mapped[User] = relationship(back_populates="role_assignments")
    sites: Mapped[list[Site]] = relationship(secondary=role_assignment_sites, lazy="selectin")


class LoginSession(db.Model):
    """A server-side record of one browser login.

    The cookie carries only a random token; logging out deletes the row, so a
    copied cookie stops working the moment its owner logs out. A session also
    ends 12 hours after ``last_seen_at`` and 7 days after ``created_at``
    (docs/rules.md rule 41b); ``ip`` and ``user_agent`` (as sent at login) let
    the account page tell the user's sessions apart (rule 40).
    """

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Refreshed at most once a minute (portal.rbac.sessions), so reads stay reads.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))

    user: Mapped[User] = relationship()


class LoginFailure(db.Model):
    """A failed login, kept for the lockout window (rule 20).

    Stored in the database rather than in process memory so that every app
    server behind the load balancer counts the same failures.
    """

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_email_at", "email", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str | None] = mapped_column(String(45))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # From an address the account has signed in from before: counted apart from
    # unknown addresses, so a stranger cannot lock the owner out (docs/rules.md rule 41b).
    known: Mapped[bool] = mapped_column(default=False, server_default=false())


class KnownAddress(db.Model):
    """An address a user has signed in from successfully (docs/rules.md rule 41b, smart lockout).

    In the database, not in process memory, so every app server agrees on
    which failed logins come from the owner's usual places.
    """

    __tablename__ = "known_addresses"
    __table_args__ = (UniqueConstraint("user_id", "ip", name="uq_known_addresses_user_id_ip"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    ip: Mapped[str] = mapped_column(String(45))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
