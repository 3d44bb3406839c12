"""One account per e-mail address, and one organisation per account."""
from sqlalchemy import select

from portal.domain.errors import Conflict
from portal.extensions import db
from portal.i18n import _l
from portal.models import User

# docs/rules.md rule 41b: the same sentence whoever owns the address (the caller's own
# organisation or another), so the check reveals nothing the caller could not already see.
EMAIL_IN_USE = _l("This e-mail address cannot be used for a new account.")


def email_in_use(email: str) -> bool:
    return db.session.scalar(select(User.id).where(User.email == email)) is not None


def ensure_email_free(email: str, *, field: str = "email") -> None:
    """Refuse an e-mail that already has an account (one organisation per account), neutrally."""
    if email_in_use(email):
        raise Conflict(EMAIL_IN_USE, field=field)
