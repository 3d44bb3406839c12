"""One account per e-mail address, and one organisation per account."""
from sqlalchemy import select

from portal.domain.errors import Conflict
from portal.extensions import db
from portal.models import User


def ensure_email_free(email: str, organisation_id: int | None = None) -> None:
    """Refuse an e-mail that already has an account (one organisation per account)."""
    owner = db.session.scalar(select(User.organisation_id).where(User.email == email))
    if owner is None:
        return
    if organisation_id is not None and owner != organisation_id:
        raise Conflict("This e-mail address belongs to an account of another organisation; "
                       "an account belongs to one organisation only.", field="email")
    raise Conflict("A user with this e-mail address already exists.", field="email")
