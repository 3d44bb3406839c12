"""A user's own preferences: the language the portal speaks to them (docs/rules.md rule 37), and the
e-mail notifications they receive (rule 33).

Fixed names: the account page's ``<select name="language">`` offers "" (follow
the browser), ``en``, ``fr`` and ``pl``; the choice is stored on the account
(``User.language``, None for "follow the browser").
"""
from sqlalchemy import delete, insert, select

from portal.domain import audit
from portal.domain.errors import Invalid
from portal.domain.notifications import TOPICS, topics_for, turned_off
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import LANGUAGES, _l
from portal.i18n import gettext as _
from portal.models import NotificationOptOut, User

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


def set_notifications(actor: User, turned_on) -> set[str]:
    """Keep on the topics of ``turned_on`` among those that concern ``actor``, turn the others off.

    ``turned_on`` is a collection of topic codes; an unknown code raises
    ``Invalid`` before anything is written. Commits with a
    ``user.notifications_changed`` audit event when the choice changed;
    returns the topics now off.
    """
    chosen = set(turned_on or ())
    unknown = sorted(code for code in chosen if not isinstance(code, str) or code not in TOPICS)
    if unknown:
        raise Invalid(_("There is no notification called %(codes)s.", codes=", ".join(map(str, unknown))),
                      field="notifications")
    concerning = {topic.code for topic in topics_for(actor)}
    user_id = actor.id
    with write_transaction():
        # The user's row is the lock: two choices saved at once are applied one after the other.
        db.session.execute(select(User.id).where(User.id == user_id).with_for_update())
        before = turned_off(actor)
        # A topic that does not concern the user (any more) keeps its state: a role given back finds it.
        after = (before - concerning) | (concerning - chosen)
        if after != before:
            if before - after:
                db.session.execute(delete(NotificationOptOut).where(NotificationOptOut.user_id == user_id,
                                                                    NotificationOptOut.topic.in_(before - after)))
            if after - before:
                db.session.execute(insert(NotificationOptOut),
                                   [{"user_id": user_id, "topic": topic} for topic in sorted(after - before)])
            audit.record(actor, "user.notifications_changed", "user", user_id, actor.organisation_id,
                         before={"turned_off": sorted(before)}, after={"turned_off": sorted(after)})
    return after
