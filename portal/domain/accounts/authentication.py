"""Logging in and out: the lockout rule, sessions and their audit events.

Password checks run before any write lock is taken (Argon2 is slow on
purpose); each outcome is then written in its own write transaction, so
concurrent logins queue on SQLite instead of failing with "database is locked".
"""
from sqlalchemy import select, update

from portal.domain import audit, validation
from portal.domain.accounts import lockout
from portal.domain.accounts.passwords import check_password, hash_password
from portal.domain.errors import DomainError, Invalid
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import User
from portal.rbac.sessions import end_other_sessions, end_session, start_session


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


def change_password(user: User, current_password, new_password, *, keep_session: str | None) -> None:
    """Change ``user``'s password; every other login session ends."""
    if not check_password(user.password_hash, current_password or ""):
        raise Invalid("Your current password is not correct.", field="current_password")
    password_hash = hash_password(validation.password(new_password, field="new_password"))
    user_id = user.id
    with write_transaction():
        db.session.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))
        end_other_sessions(user_id, keep_session)
        audit.record(user, "auth.password_changed", "user", user_id, user.organisation_id)
