"""Failed-login lockout (docs/rules.md rule 20): 10 failures in 15 minutes lock an e-mail.

Failures live in the database so every app server counts the same ones;
only failures count, so a user who logs in successfully is never slowed down.
"""
from datetime import timedelta

from sqlalchemy import delete, func, select

from portal.extensions import db
from portal.models import LoginFailure
from portal.models.mixins import utcnow

WINDOW = timedelta(minutes=15)
MAX_FAILURES = 10


def retry_after(email: str) -> int | None:
    """Seconds until ``email`` may try again, or None when it is not locked."""
    since = utcnow() - WINDOW
    count, oldest = db.session.execute(
        select(func.count(LoginFailure.id), func.min(LoginFailure.at))
        .where(LoginFailure.email == email, LoginFailure.at > since)).one()
    if count < MAX_FAILURES:
        return None
    return max(1, int((oldest + WINDOW - utcnow()).total_seconds()) + 1)


def record_failure(email: str, ip: str | None) -> None:
    """Add a failure in the caller's transaction, forgetting those out of the window."""
    db.session.execute(delete(LoginFailure).where(LoginFailure.at < utcnow() - WINDOW))
    db.session.add(LoginFailure(email=email, ip=ip))
