"""Server-side login sessions: logout ends the session for real, and sessions expire.

A session ends after ``SESSION_IDLE_SECONDS`` without a request (12 hours) and
``SESSION_MAX_SECONDS`` after its login (7 days) whatever happens
(docs/rules.md rule 41b), checked in the one statement that loads the user
on every request.
"""
import functools
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import LoginSession, Organisation, User
from portal.models.mixins import utcnow
from portal.models.tokens import hash_token
from portal.rbac.needs import assignments_in, needs_for, remember_identity, with_role_columns

# ``last_seen_at`` is written at most this often per session, so reads stay reads.
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
# Enough of the User-Agent header to tell devices apart on the account page.
USER_AGENT_LENGTH = 200


def lifetime_limits(now: datetime | None = None) -> tuple[datetime, datetime]:
    """(seen_after, started_after): a live session was used after the first and began after the second."""
    now = now or utcnow()
    config = current_app.config
    return (now - timedelta(seconds=config["SESSION_IDLE_SECONDS"]),
            now - timedelta(seconds=config["SESSION_MAX_SECONDS"]))


def is_live():
    """The SQL condition "this login session has not expired" (bound parameters seen_after, started_after)."""
    return (LoginSession.last_seen_at > bindparam("seen_after"),
            LoginSession.created_at > bindparam("started_after"))


def start_session(user: User, ip: str | None = None, user_agent: str | None = None) -> str:
    """Record a new login for ``user`` (in the caller's transaction); the returned token goes in the cookie.

    The user's expired sessions are deleted on the way, so their rows do not pile up.
    """
    seen_after, started_after = lifetime_limits()
    db.session.execute(delete(LoginSession).where(
        LoginSession.user_id == user.id,
        or_(LoginSession.last_seen_at <= seen_after, LoginSession.created_at <= started_after)))
    token = secrets.token_urlsafe(32)
    db.session.add(LoginSession(token_hash=hash_token(token), user_id=user.id, ip=ip,
                                user_agent=(user_agent or "")[:USER_AGENT_LENGTH] or None))
    user.session_token = token
    return token


@functools.cache
def _session_user_statement():
    """Built once: it runs on every request, and building it cost more than running it.

    One row per role and site of the user (``with_role_columns``).
    """
    return (
        with_role_columns(select(User, LoginSession.id, LoginSession.last_seen_at)
                          .join(LoginSession, LoginSession.user_id == User.id))
        .where(LoginSession.token_hash == bindparam("token_hash"), User.status != "invited", *is_live())
        # The organisation's parent too: a partner's staff must enrol in two-step verification when the
        # operator requires it, asked on every request (accounts.two_step.required_for).
        .options(joinedload(User.organisation).joinedload(Organisation.parent))
    )


def load_session_user(token: str) -> User | None:
    """The active user behind a live session token, with organisation and roles: one query.

    An expired session (idle or too old, docs/rules.md rule 41b) loads nobody.
    """
    now = utcnow()
    seen_after, started_after = lifetime_limits(now)
    rows = db.session.execute(
        _session_user_statement(),
        {"token_hash": hash_token(token), "seen_after": seen_after, "started_after": started_after},
    ).all()
    if not rows:
        return None
    user, session_id, last_seen_at = rows[0][:3]
    if not user.is_active:
        return None
    remember_identity(user, needs_for(user, assignments_in(rows)))
    if last_seen_at < now - LAST_SEEN_RESOLUTION:
        _touch(session_id, now)
    user.session_token = token
    return user


def _touch(session_id: int, now: datetime) -> None:
    """Move the session's ``last_seen_at`` to now, in a short transaction of its own.

    The read transaction is ended first (on SQLite a read transaction that
    starts writing fails when another writer went first); objects already
    loaded (the user and its roles) are kept, not expired, so the request
    does not load them again.
    """
    session = db.session()
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
        session.execute(update(LoginSession).where(LoginSession.id == session_id)
                        .values(last_seen_at=now).execution_options(synchronize_session=False))
        session.commit()
    finally:
        session.expire_on_commit = expire_on_commit


def end_session(token: str | None) -> None:
    if token:
        db.session.execute(
            delete(LoginSession).where(LoginSession.token_hash == hash_token(token))
        )


def end_all_sessions(user: User) -> None:
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def end_other_sessions(user_id: int, keep_token: str | None) -> int:
    """End every login of the user but the one holding ``keep_token``; the number ended."""
    query = delete(LoginSession).where(LoginSession.user_id == user_id)
    if keep_token:
        query = query.where(LoginSession.token_hash != hash_token(keep_token))
    return db.session.execute(query).rowcount
