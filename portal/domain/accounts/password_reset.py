"""Password reset by e-mail (docs/rules.md rule 39).

Asking answers the same whatever the address (the caller shows one message):
an unknown, invited or deactivated address gets no e-mail and nothing else
tells it apart. A link is ``secrets.token_urlsafe(32)``, stored only as its
SHA-256, valid ``PASSWORD_RESET_MAX_AGE`` seconds (one hour) and single-use;
setting the password uses it up together with every other link of the user,
and ends every login session of the user. Two-step verification stays on: the
next login still asks for a code. The e-mail is queued with the link and sent
by a worker (docs/rules.md rule 31), retried until the link expires; one not
sent by then is logged and audited (``auth.password_reset_not_sent``), never
shown (it would tell the address exists). The e-mail is written in the user's
language, else their organisation's, else English (docs/rules.md rule 37):
whoever asks, in whatever browser.
"""
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from portal.domain import audit, links, mail, notifications, validation
from portal.domain.accounts.passwords import hash_password
from portal.domain.errors import DomainError
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import force_locale, ngettext
from portal.i18n import gettext as _
from portal.models import PasswordResetToken, User
from portal.models.mixins import utcnow
from portal.models.tokens import hash_token
from portal.rbac.sessions import end_all_sessions

MAX_EMAIL = 254
MAX_TOKEN = 200


class ResetRefused(DomainError):
    """A reset link that cannot be used; ``status`` is the HTTP answer of its page (as for invitations:
    forged 404, used 409, expired 410)."""

    code = "reset_refused"

    def __init__(self, message: str, *, status: int = 410):
        super().__init__(message)
        self.status = status


def _max_age() -> timedelta:
    return timedelta(seconds=int(current_app.config["PASSWORD_RESET_MAX_AGE"]))


def _open_within(age: timedelta) -> str:
    """The e-mail's sentence saying how long a link lives: "… within one hour …", "… 2 hours …", "… 15 minutes …"."""
    seconds = int(age.total_seconds())
    if seconds % 3600 == 0:
        hours = seconds // 3600
        if hours == 1:
            return _("Open this link within one hour to choose a new password:")
        return ngettext("Open this link within %(num)d hour to choose a new password:",
                        "Open this link within %(num)d hours to choose a new password:", hours)
    minutes = max(1, -(-seconds // 60))
    if minutes == 1:
        return _("Open this link within one minute to choose a new password:")
    return ngettext("Open this link within %(num)d minute to choose a new password:",
                    "Open this link within %(num)d minutes to choose a new password:", minutes)


def _may_reset(user: User | None) -> bool:
    return user is not None and user.status == "active" and user.is_active and user.password_hash is not None


def request_reset(email) -> str | None:
    """E-mail a reset link to the account of ``email`` if there is one that may log in; the token, else None."""
    address = email.strip().lower() if isinstance(email, str) else ""
    if not address or len(address) > MAX_EMAIL:
        return None
    user = db.session.scalar(select(User).where(User.email == address))
    if not _may_reset(user):
        return None
    token, user_id = secrets.token_urlsafe(32), user.id
    with write_transaction():
        now = utcnow()
        expires_at = now + _max_age()
        db.session.add(PasswordResetToken(user_id=user_id, token_hash=hash_token(token), created_at=now,
                                          expires_at=expires_at))
        audit.record(None, "auth.password_reset_requested", "user", user_id, user.organisation_id)
        language = notifications.language_of(user)
        link = links.password_reset_link(token)
        with force_locale(language):
            body = (_("Hello %(name)s,", name=user.name) + "\n\n"
                    + _("Someone (we hope you) asked to reset the password of your Partner Portal account.") + "\n"
                    + _open_within(_max_age()) + f"\n\n{link}\n\n"
                    + _("The link works once. Choosing a new password logs you out everywhere.") + "\n"
                    + _("If you did not ask for this, ignore this e-mail: your password stays as it is.") + "\n")
            subject = _("Reset your Partner Portal password")
        # Not worth sending once the link is dead.
        mail.queue(address, subject, body, kind="password_reset", reference_id=user_id, language=language,
                   expires_at=expires_at)
    return token


@mail.on_outcome("password_reset")
def _not_sent(message, status: str) -> None:
    """A reset e-mail given up (SMTP down until the link expired) is audited, never shown."""
    if status == "failed":
        user = db.session.get(User, message.reference_id)
        audit.record(None, "auth.password_reset_not_sent", "user", message.reference_id,
                     user.organisation_id if user is not None else None)


def check_token(token) -> PasswordResetToken:
    """The live reset link behind ``token``, or ``ResetRefused`` saying why not."""
    text = token if isinstance(token, str) else ""
    row = None
    if 0 < len(text) <= MAX_TOKEN:
        row = db.session.scalar(select(PasswordResetToken).where(PasswordResetToken.token_hash == hash_token(text)))
    if row is None:
        raise ResetRefused(_("This password reset link is not valid. Check that you copied the whole link, "
                             "or ask for a new one."), status=404)
    if row.used_at is not None:
        raise ResetRefused(_("This password reset link was already used, or a newer one replaced it. "
                             "Ask for a new one if you still need it."), status=409)
    if row.expires_at <= utcnow():
        raise ResetRefused(_("This password reset link has expired. Ask for a new one."))
    if not _may_reset(row.user):
        raise ResetRefused(_("This account cannot log in any more. Ask your administrator."), status=403)
    return row


def reset_password(token, password) -> User:
    """Set a new password through a live link: exactly once, every session of the user ends."""
    row = check_token(token)
    password_hash = hash_password(validation.password(password, field="password", email=row.user.email,
                                                      name=row.user.name))
    token_id, user_id, now = row.id, row.user_id, utcnow()
    with write_transaction():
        claimed = db.session.execute(
            update(PasswordResetToken)
            .where(PasswordResetToken.id == token_id, PasswordResetToken.used_at.is_(None),
                   PasswordResetToken.expires_at > now)
            .values(used_at=now)).rowcount
        if claimed:
            user = db.session.get(User, user_id)
            user.password_hash = password_hash
            # Every other link of the user dies with this one.
            db.session.execute(update(PasswordResetToken)
                               .where(PasswordResetToken.user_id == user_id, PasswordResetToken.used_at.is_(None))
                               .values(used_at=now))
            end_all_sessions(user)
            audit.record(user, "auth.password_reset", "user", user_id, user.organisation_id)
    if not claimed:  # used or expired meanwhile (two tabs): say which
        db.session.rollback()
        check_token(token)
        raise ResetRefused(_("This password reset link was already used. Ask for a new one if you still need it."),
                           status=409)
    return user
