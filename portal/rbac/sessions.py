"""Server-side login sessions: logout ends the session for real."""
import functools
import secrets

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import joinedload

from portal.extensions import db
from portal.models import LoginSession, RoleAssignment, User
from portal.models.tokens import hash_token


def start_session(user: User) -> str:
    """Record a new login for ``user``; the returned token goes in the cookie."""
    token = secrets.token_urlsafe(32)
    db.session.add(LoginSession(token_hash=hash_token(token), user_id=user.id))
    user.session_token = token
    return token


@functools.cache
def _session_user_statement():
    """Built once: it runs on every request, and building it cost more than running it."""
    return (
        select(User)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(LoginSession.token_hash == bindparam("token_hash"), User.status != "invited")
        .options(
            joinedload(User.organisation),
            joinedload(User.role_assignments).joinedload(RoleAssignment.sites),
        )
    )


def load_session_user(token: str) -> User | None:
    """The active user behind a session token, with organisation and roles: one query."""
    user = db.session.execute(
        _session_user_statement(), {"token_hash": hash_token(token)}
    ).unique().scalar_one_or_none()
    if user is None or not user.is_active:
        return None
    user.session_token = token
    return user


def end_session(token: str | None) -> None:
    if token:
        db.session.execute(
            delete(LoginSession).where(LoginSession.token_hash == hash_token(token))
        )


def end_all_sessions(user: User) -> None:
    db.session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))


def end_other_sessions(user_id: int, keep_token: str | None) -> None:
    """End every login of the user but the one holding ``keep_token``."""
    query = delete(LoginSession).where(LoginSession.user_id == user_id)
    if keep_token:
        query = query.where(LoginSession.token_hash != hash_token(keep_token))
    db.session.execute(query)
