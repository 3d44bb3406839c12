"""A user's login sessions: the account page's list, ending one, the others, or a member's (docs/rules.md rule 40).

Sessions themselves (starting, loading, expiring) are portal.rbac.sessions;
this module is what people do with them, each action one transaction with
its audit event.
"""
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from portal.domain import audit
from portal.domain.errors import Forbidden, NotFound
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import gettext as _
from portal.models import LoginSession, User
from portal.models.tokens import hash_token
from portal.rbac import sessions as login_sessions
from portal.rbac.permissions import end_sessions_of, may


@dataclass(frozen=True)
class SessionRow:
    """One live session as the account page lists it."""

    id: int
    device: str
    ip: str | None
    created_at: datetime
    last_seen_at: datetime
    current: bool


# (pattern, name), first match wins: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = ((r"Edg(e|A|iOS)?/", "Edge"), (r"OPR/|Opera", "Opera"), (r"Firefox/|FxiOS/", "Firefox"),
             (r"Chrome/|CriOS/|Chromium/", "Chrome"), (r"Safari/", "Safari"), (r"curl/", "curl"),
             (r"python-requests|python-urllib", "Python"))
_SYSTEMS = ((r"iPhone|iPad|iPod", "iOS"), (r"Android", "Android"), (r"Windows", "Windows"),
            (r"Mac OS X|Macintosh", "macOS"), (r"CrOS", "ChromeOS"), (r"Linux", "Linux"))


def device_label(user_agent: str | None) -> str:
    """A short description of the device behind a User-Agent header: "Firefox on Windows".

    Browser and system names are names (not translated); the sentence around them is.
    """
    if not user_agent:
        return _("Unknown device")
    browser = next((name for pattern, name in _BROWSERS if re.search(pattern, user_agent)), None)
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, user_agent)), None)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown device")


def _live(query, user_id: int):
    seen_after, started_after = login_sessions.lifetime_limits()
    return query.where(LoginSession.user_id == user_id, *login_sessions.is_live()).params(
        seen_after=seen_after, started_after=started_after)


def list_sessions(user: User, current_token: str | None) -> list[SessionRow]:
    """``user``'s live sessions, the most recently used first; ``current`` marks the one holding ``current_token``."""
    current_hash = hash_token(current_token) if current_token else None
    rows = db.session.scalars(_live(select(LoginSession), user.id)
                              .order_by(LoginSession.last_seen_at.desc(), LoginSession.id.desc()))
    return [SessionRow(row.id, device_label(row.user_agent), row.ip, row.created_at, row.last_seen_at,
                       row.token_hash == current_hash) for row in rows]


def count_live_sessions(user_ids) -> dict[int, int]:
    """{user id: number of live sessions} for these users (the members page): one query."""
    user_ids = list(user_ids)
    if not user_ids:
        return {}
    seen_after, started_after = login_sessions.lifetime_limits()
    rows = db.session.execute(
        select(LoginSession.user_id, func.count(LoginSession.id))
        .where(LoginSession.user_id.in_(user_ids), *login_sessions.is_live())
        .group_by(LoginSession.user_id).params(seen_after=seen_after, started_after=started_after))
    return dict(rows.all())


def end_session_of(user: User, session_id: int, current_token: str | None = None) -> bool:
    """End one of ``user``'s own sessions; True when it was the one holding ``current_token`` (a log-out).

    Another user's session, or one that has ended, is a ``NotFound``: its id tells nothing.
    """
    user_id = user.id
    with write_transaction():
        token_hash = db.session.scalar(select(LoginSession.token_hash).where(
            LoginSession.id == session_id, LoginSession.user_id == user_id))
        if token_hash is None:
            raise NotFound(_("This session has already ended."))
        db.session.execute(delete(LoginSession).where(LoginSession.id == session_id))
        audit.record(user, "auth.session_ended", "user", user_id, user.organisation_id,
                     after={"session_id": session_id})
    return current_token is not None and token_hash == hash_token(current_token)


def end_other_sessions(user: User, current_token: str | None) -> int:
    """End every session of ``user`` but the one holding ``current_token``; the number ended."""
    user_id = user.id
    with write_transaction():
        ended = login_sessions.end_other_sessions(user_id, current_token)
        audit.record(user, "auth.other_sessions_ended", "user", user_id, user.organisation_id,
                     after={"ended": ended})
    return ended


def end_member_sessions(actor: User, member: User) -> int:
    """End every session of ``member`` (an admin acting on a lost laptop or a leaving employee).

    Raises ``Forbidden`` unless the actor holds ``end_sessions_of(member)``:
    users.manage over them and every permission they hold (nobody manages
    up, docs/rules.md rule 41b). Commits, with an audit event; the number ended.
    """
    if not may(actor, end_sessions_of(member)):
        raise Forbidden(_("You cannot end the sessions of %(name)s: they hold permissions you do not have.",
                          name=member.name))
    member_id, organisation_id = member.id, member.organisation_id
    with write_transaction():
        ended = db.session.execute(delete(LoginSession).where(LoginSession.user_id == member_id)).rowcount
        audit.record(actor, "auth.member_sessions_ended", "user", member_id, organisation_id,
                     after={"ended": ended})
    return ended
