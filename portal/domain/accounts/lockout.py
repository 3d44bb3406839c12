"""Failed-login lockout (docs/rules.md rule 20), made smart (rule 41b): 10 failures in 15 minutes lock an e-mail.

Failures from an address the account has signed in from before ("known")
are counted apart from those of every other address: a stranger's ten bad
passwords lock out strangers only, and the owner still signs in from the
office or home. The addresses and the failures live in the database, so
every app server counts the same ones; only failures count, so a user who
logs in successfully is never slowed down. The address is the request's
client address: the socket's peer unless PORTAL_PROXY_FIX trusts proxies.
"""
from datetime import timedelta

from sqlalchemy import delete, exists, func, select

from portal.domain.transactions import dialect_insert
from portal.extensions import db
from portal.models import KnownAddress, LoginFailure, User
from portal.models.mixins import utcnow

WINDOW = timedelta(minutes=15)
MAX_FAILURES = 10


def account_and_address(email: str, ip: str | None) -> tuple[User | None, bool]:
    """The user with ``email`` (or None) and whether they have signed in from ``ip`` before: one query."""
    known = exists().where(KnownAddress.user_id == User.id, KnownAddress.ip == (ip or ""))
    row = db.session.execute(select(User, known).where(User.email == email)).first()
    return (row[0], bool(row[1]) and ip is not None) if row else (None, False)


def retry_after(email: str, known: bool = False) -> int | None:
    """Seconds until ``email`` may try again from a known (or an unknown) address, or None when it may now."""
    since = utcnow() - WINDOW
    count, oldest = db.session.execute(
        select(func.count(LoginFailure.id), func.min(LoginFailure.at))
        .where(LoginFailure.email == email, LoginFailure.at > since, LoginFailure.known == known)).one()
    if count < MAX_FAILURES:
        return None
    return max(1, int((oldest + WINDOW - utcnow()).total_seconds()) + 1)


def record_failure(email: str, ip: str | None, known: bool = False) -> None:
    """Add a failure in the caller's transaction, forgetting those out of the window."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.at < utcnow() - WINDOW))
    db.session.add(LoginFailure(email=email, ip=ip, known=known))


def remember_address(user_id: int, ip: str | None) -> None:
    """Note, in the caller's transaction, that ``user_id`` signed in from ``ip``; a known address stays known."""
    if not ip:
        return
    now = utcnow()
    insert = dialect_insert()
    db.session.execute(insert(KnownAddress).values(user_id=user_id, ip=ip, first_seen_at=now, last_seen_at=now)
                       .on_conflict_do_update(index_elements=["user_id", "ip"], set_={"last_seen_at": now}))
