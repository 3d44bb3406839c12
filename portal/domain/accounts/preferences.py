"""A user's own preferences: the language the portal speaks to them (docs/rules.md rule 37).

Fixed names: the account page's ``<select name="language">`` offers "" (follow
the browser), ``en``, ``fr`` and ``pl``; the choice is stored on the account
(``User.language``, None for "follow the browser").
"""
from sqlalchemy import select

from portal.domain import audit
from portal.domain.errors import Invalid
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import LANGUAGES, _l
from portal.models import User

UNKNOWN_LANGUAGE = _l("Choose a language from the list.")


def set_language(actor: User, language) -> str | None:
    """Store the language ``actor`` reads the portal in: one of LANGUAGES, or ""/None to follow the browser.

    Raises ``Invalid`` on ``language`` for any other value, before anything is written.
    Commits with a ``user.language_changed`` audit event when the choice changed; returns
    the stored value (None: the browser's).
    """
    if language is None or language == "":
        chosen = None
    elif isinstance(language, str) and language in LANGUAGES:
        chosen = language
    else:
        raise Invalid(UNKNOWN_LANGUAGE, field="language")
    user_id = actor.id
    with write_transaction():
        user = db.session.scalar(select(User).where(User.id == user_id).with_for_update()
                                 .execution_options(populate_existing=True))
        before = user.language
        if chosen != before:
            user.language = chosen
            audit.record(actor, "user.language_changed", "user", user_id, user.organisation_id,
                         before={"language": before}, after={"language": chosen})
    return chosen
