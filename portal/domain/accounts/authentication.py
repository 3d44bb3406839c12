"""Logging in and out: the lockout rule, sessions and their audit events.

Password checks run before any write lock is taken (Argon2 is slow on
purpose); each outcome is then written in its own write transaction, so
concurrent logins queue on SQLite instead of failing with "database is locked".
"""
from sqlalchemy import update

from portal.domain import audit, validation
from portal.domain.accounts import lockout, two_step
from portal.domain.accounts.passwords import check_password, hash_password
from portal.domain.errors import DomainError, Invalid
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import ngettext
from portal.models import User
from portal.rbac.sessions import end_other_sessions, end_session, start_session


class LockedOut(DomainError):
    code, status = "locked_out", 429

    def __init__(self, retry_after: int):
        minutes = -(-retry_after // 60)
        super().__init__(ngettext("Too many failed attempts for this e-mail. Try again in %(num)d minute.",
                                  "Too many failed attempts for this e-mail. Try again in %(num)d minutes.",
                                  minutes), retry_after=retry_after)


class BadCredentials(DomainError):
    code, status = "bad_credentials", 422


def log_in(email: str, password: str, ip: str | None, user_agent: str | None = None) -> User:
    """The user behind valid credentials, with a new login session token set.

    With two-step verification on, no session starts and ``session_token``
    is None: the caller asks for a code and calls ``log_in_second_step``.

    Raises ``LockedOut`` after 10 failures in 15 minutes for the e-mail, and
    ``BadCredentials`` with one message for an unknown e-mail or a wrong
    password (the same hashing cost too). Failures from an address the user
    has signed in from before are counted apart (docs/rules.md rule 41b):
    strangers cannot lock the owner out. ``user_agent`` describes the device
    on the account page's list of sessions.
    """
    email = email.strip().lower()
    user, known = lockout.account_and_address(email, ip)
    wait = lockout.retry_after(email, known)
    if wait is not None:
        with write_transaction():
            audit.record(None, "auth.locked_out", "user", None, None, after={"email": email, "known": known})
        raise LockedOut(wait)
    valid = check_password(user.password_hash if user else None, password) and user.is_active
    user_id = user.id if user else None
    with write_transaction():
        if not valid:
            audit.record(None, "auth.login_failed", "user", user_id, user and user.organisation_id,
                         after={"email": email})
            lockout.record_failure(email, ip, known)
        else:
            user = db.session.get(User, user_id)
            if two_step.enabled(user):  # the code comes next (docs/rules.md rule 38): no session yet
                token = None
                audit.record(user, "auth.password_accepted", "user", user_id, user.organisation_id)
            else:
                token = _open_session(user, ip, user_agent)
    if not valid:
        raise BadCredentials(_("Wrong e-mail or password."))
    user.session_token = token
    return user


def _open_session(user: User, ip: str | None, user_agent: str | None, **details) -> str:
    """Start the login session of ``user`` (in the caller's transaction): the cookie's token."""
    token = start_session(user, ip, user_agent)
    lockout.remember_address(user.id, ip)
    audit.record(user, "auth.login", "user", user.id, user.organisation_id, after=details or None)
    return token


def log_in_invited(user: User, ip: str | None, user_agent: str | None = None) -> User:
    """Log in ``user``, who has just accepted their invitation and chosen their password.

    As ``log_in`` after a correct password: a login session starts, unless two-step verification
    is on (``session_token`` None: the caller asks for a code and calls ``log_in_second_step``).
    """
    user_id = user.id
    with write_transaction():
        user = db.session.get(User, user_id)
        token = None if two_step.enabled(user) else _open_session(user, ip, user_agent, via="invitation")
    user.session_token = token
    return user


def log_in_second_step(user_id: int, code, ip: str | None, user_agent: str | None = None) -> User:
    """The second step of a login with two-step verification (docs/rules.md rule 38).

    A current code or a recovery code (``two_step.check_login_code``: wrong
    ones are counted, audited and throttled); the code is used up and the
    login session starts in one transaction.
    """
    token = two_step.check_login_code(
        user_id, code, lambda user, how: _open_session(user, ip, user_agent, second_step=how))
    user = db.session.get(User, user_id)
    user.session_token = token
    return user


def log_out(token: str | None) -> None:
    with write_transaction():
        end_session(token)


def check_current_password(user: User, current_password) -> None:
    """``Invalid`` on ``current_password`` unless it is ``user``'s password.

    Also asked by the account page when the form is refused for the new password, so that
    both mistakes show at once (issue 11, defect 2).
    """
    if not check_password(user.password_hash, current_password or ""):
        raise Invalid(_("Your current password is not correct."), field="current_password")


def change_password(user: User, current_password, new_password, *, keep_session: str | None) -> None:
    """Change ``user``'s password; every other login session ends."""
    check_current_password(user, current_password)
    password_hash = hash_password(validation.password(new_password, field="new_password", email=user.email,
                                                      name=user.name))
    user_id = user.id
    with write_transaction():
        db.session.execute(update(User).where(User.id == user_id).values(password_hash=password_hash))
        end_other_sessions(user_id, keep_session)
        audit.record(user, "auth.password_changed", "user", user_id, user.organisation_id)
