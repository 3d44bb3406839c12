"""Free-text search of the lists: "contains", case-insensitive, with the
user's ``%`` and ``_`` taken as characters, never as wildcards."""
from sqlalchemy import func, or_

from portal.models import User


def contains_pattern(text: str) -> str:
    """``%text%`` for ``LIKE … ESCAPE '/'`` (the escape SQLAlchemy's ``autoescape`` uses).

    For statements built once with a bound pattern, where ``autoescape``
    cannot be used: it needs the text when the statement is built.
    """
    return "%" + text.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


def user_matches(q: str):
    """Users whose name or e-mail contains ``q``: a WHERE clause."""
    q = q.lower()
    return or_(func.lower(User.name).contains(q, autoescape=True), User.email.contains(q, autoescape=True))
