"""Logging in and out: the lockout rule, sessions and their audit events.

Password checks run before any write lock is taken (Argon2 is slow on
purpose); each outcome is then written in its own write transaction, so
concurrent logins queue on SQLite instead of failing with "database is locked".
"""
from sqlalchemy import select

from portal.domain import audit
from portal.domain.accounts import lockout
from portal.domain.accounts.passwords import check_password
from portal.domain.errors import DomainError
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import User
from portal.rbac.sessions import end_session, start_session


class LockedOut(DomainError):
    code, status = "locked_out", 429

    def __init__(self, retry_after: int):
        minutes = -(-retry_after // 60)
        super().__init__(f"Too many failed attempts for this e-mail. Try again in {minutes} "
                         f"minute{'s' if minutes > 1 else ''}.", retry_after=retry_after)


class BadCredentials(DomainError):
    code, status = "bad_credentials", 422


def log_in(email: str, password: str, ip: str | None) -> User:
    """The user behind valid credentials, with a new login session token set.

    Raises ``LockedOut`` after 10 failures in 15 minutes for the e-mail, and
    ``BadCredentials`` with one message for an unknown e-mail or a wrong
    password (the same hashing cost too).
    """
    email = email.strip().lower()
    wait = lockout.retry_after(email)
    if wait is not None:
        with write_transaction():
            audit.record(None, "auth.locked_out", "user", None, None, after={"email": email})
        raise LockedOut(wait)
    user = db.session.scalar(select(User).where(User.email == email))
    valid = check_password(user.password_hash if user else None, password) and user.is_active
    user_id = user.id if user else None
    with write_transaction():
        if not valid:
            audit.record(None, "auth.login_failed", "user", user_id, user and user.organisation_id,
                         after={"email": email})
            lockout.record_failure(email, ip)
        else:
            user = db.session.get(User, user_id)
            token = start_session(user)
            audit.record(user, "auth.login", "user", user_id, user.organisation_id)
    if not valid:
        raise BadCredentials("Wrong e-mail or password.")
    user.session_token = token
    return user


def log_out(token: str | None) -> None:
    with write_transaction():
        end_session(token)
