"""Invitations: e-mailed single-use links that let an invited user set a password.

A token is ``secrets.token_urlsafe(32)``; only its SHA-256 is stored. A link
is valid 30 days from sending; resending supersedes it, revoking kills it and
frees the seat. The e-mail is queued in the transaction that issues the
link and sent by a worker (docs/rules.md rule 31): the request never waits
for SMTP. ``delivery`` follows it: "queued", then "sent", or "failed" after
an attempt that failed (shown as "not sent — retry"; the queue retries on its
own, and a resend replaces the queued message). The e-mail is written in the
language of the inviting organisation, the invited user's own (a client's for
its users, the partner's for its staff), whatever the inviter's (docs/rules.md
rule 37).
"""
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from portal.domain import audit, links, mail, validation
from portal.domain.accounts import passwords
from portal.domain.errors import Conflict, DomainError
from portal.domain.seats import counters
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import _l, force_locale, ngettext
from portal.i18n import gettext as _
from portal.models import Invitation, InvitationToken, MailMessage, Organisation, User
from portal.models.mixins import utcnow
from portal.models.tokens import hash_token

VALID_FOR = timedelta(days=30)


class InvitationRefused(DomainError):
    """A link that cannot be used; ``status`` is the HTTP answer for its page."""

    def __init__(self, message: str, *, status: int = 409):
        super().__init__(message)
        self.status = status


def start_invitation(actor, user: User) -> Invitation:
    """Record a pending invitation for ``user`` inside the caller's transaction."""
    invitation = Invitation(user_id=user.id, organisation_id=user.organisation_id,
                            invited_by_id=getattr(actor, "id", None))
    db.session.add(invitation)
    db.session.flush()
    return invitation


def _pending(user_id: int) -> Invitation:
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == user_id)
                                   .with_for_update().execution_options(populate_existing=True))
    if invitation is None or invitation.status != "pending":
        raise Conflict(_("This invitation is no longer pending."))
    return invitation


def send_invitation(actor, user: User) -> str:
    """Issue a new 30-day link for ``user``'s pending invitation and queue its e-mail, in one transaction.

    Any earlier link stops working, and an earlier e-mail still waiting in the
    queue is cancelled. Returns the token (for the caller's tests and the
    CLI); the e-mail's delivery is recorded on the invitation as the worker
    tries it.
    """
    user_id = user.id
    with write_transaction():
        invitation = _pending(user_id)
        _supersede_tokens(invitation.id, utcnow())
        mail.cancel("invitation", invitation.id)
        invited = invitation.user
        return issue_link(actor, invitation, invited, invited.organisation)


def issue_link(actor, invitation: Invitation, user: User, organisation: Organisation) -> str:
    """A 30-day link for the pending ``invitation`` of ``user`` (of ``organisation``), its audit event and its
    e-mail queued, inside the caller's transaction; the token. ``send_invitation`` first retires the earlier
    link and e-mail; an invitation started in the same transaction has none (creating a user who is
    invited at once: one transaction, not two)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(InvitationToken(invitation_id=invitation.id, token_hash=hash_token(token),
                                   expires_at=now + VALID_FOR))
    invitation.sent_at, invitation.expires_at = now, now + VALID_FOR
    audit.record(actor, "invitation.sent", "user", user.id, invitation.organisation_id,
                 after={"expires_at": invitation.expires_at.isoformat()})
    invitation.delivery = _queue(invitation.id, user.email, user.name, organisation.name, token,
                                 organisation.language)
    return token


def _queue(invitation_id: int, email: str, name: str, organisation: str, token: str,
           language: str | None = None) -> str:
    """Build the e-mail in ``language`` (the organisation's; None: English) and queue it; the delivery state.

    A message that cannot be built is a failed delivery ("not sent — retry"),
    never an error: the invitation stands (docs/rules.md rule 41b).
    """
    language = language or "en"
    try:
        link = links.invitation_link(token)
        with force_locale(language):
            subject = _("Your invitation to %(organisation)s", organisation=organisation)
            body = (_("Hello %(name)s,", name=name) + "\n\n"
                    + _("You are invited to join %(organisation)s on Partner Portal.", organisation=organisation)
                    + "\n"
                    + ngettext("Open this link within %(num)d day to choose your password:",
                               "Open this link within %(num)d days to choose your password:", VALID_FOR.days)
                    + f"\n\n{link}\n\n"
                    + _("If you did not expect this e-mail, you can ignore it.") + "\n")
    except Exception:  # noqa: BLE001 - whatever it was, the invitation stands: "not sent — retry"
        current_app.logger.exception("Invitation e-mail to %s could not be built", email)
        return "failed"
    mail.queue(email, subject, body, kind="invitation", reference_id=invitation_id, language=language)
    return "queued"


@mail.on_outcome("invitation")
def _delivered(message, status: str) -> None:
    """A worker tried an invitation's e-mail: "sent", or "failed" (shown "not sent — retry") otherwise.

    Only the invitation's latest message speaks for it (an older one may still
    be in flight when the invitation is resent).
    """
    newer = db.session.scalar(select(MailMessage.id).where(
        MailMessage.kind == "invitation", MailMessage.reference_id == message.reference_id,
        MailMessage.id > message.id, MailMessage.status != "cancelled").limit(1))
    if newer is None:
        db.session.execute(update(Invitation).where(Invitation.id == message.reference_id)
                           .values(delivery="sent" if status == "sent" else "failed")
                           .execution_options(synchronize_session=False))


def _supersede_tokens(invitation_id: int, now) -> None:
    db.session.execute(update(InvitationToken)
                       .where(InvitationToken.invitation_id == invitation_id, InvitationToken.superseded_at.is_(None))
                       .values(superseded_at=now))


def revoke_invitation(actor, user: User, *, status: str = "revoked") -> None:
    """Kill the link and free the invited user's seat (also used for expiry)."""
    user_id = user.id
    with write_transaction():
        invitation = _pending(user_id)
        _close(actor, invitation, status)


def _close(actor, invitation: Invitation, status: str) -> None:
    now = utcnow()
    invitation.status, invitation.closed_at = status, now
    _supersede_tokens(invitation.id, now)
    user = invitation.user
    user.status, user.deactivated_at = "deactivated", now
    if user.site_id is not None:
        counters.release_seat(user.site_id, user.subscription_type_id)
    audit.record(actor, f"invitation.{status}", "user", user.id, invitation.organisation_id,
                 before={"status": "pending"}, after={"status": status})


def expire_invitations() -> int:
    """Close pending invitations whose link expired, freeing their seats."""
    expired = db.session.scalars(select(Invitation.user_id).where(
        Invitation.status == "pending", Invitation.expires_at < utcnow())).all()
    for user_id in expired:
        try:
            with write_transaction():
                _close(None, _pending(user_id), "expired")
        except Conflict:
            continue  # accepted or revoked meanwhile
    return len(expired)


def check_token(token: str) -> InvitationToken:
    """The live token behind a link, or ``InvitationRefused`` saying why not."""
    row = db.session.scalar(select(InvitationToken).where(InvitationToken.token_hash == hash_token(token)))
    if row is None:
        raise InvitationRefused(_("This invitation link is not valid. Check that you copied the whole link."),
                                status=404)
    invitation = row.invitation
    if invitation.status == "accepted":
        raise InvitationRefused(_("This invitation was already used. Log in with your e-mail and password."))
    if invitation.status == "revoked":
        raise InvitationRefused(_("This invitation was revoked. Ask your administrator for a new one."), status=410)
    if invitation.status == "expired":
        raise InvitationRefused(_("This invitation was expired. Ask your administrator for a new one."), status=410)
    if row.superseded_at is not None:
        raise InvitationRefused(_("A newer invitation was sent to you: use the link in the latest e-mail."),
                                status=410)
    if row.expires_at <= utcnow():
        raise InvitationRefused(_("This invitation has expired. Ask your administrator to send it again."),
                                status=410)
    return row


def accept_invitation(token: str, name, password, *, current_user=None) -> User:
    """Accept with a name and password; exactly once, even from two tabs at once.

    A visitor logged in as another account must log out first.
    """
    row = check_token(token)
    user = row.invitation.user
    if current_user is not None and current_user.id != user.id:
        raise InvitationRefused(
            _("You are logged in as %(current)s. Log out, then open the link again to accept the invitation "
              "for %(invited)s: an account belongs to one organisation only.",
              current=current_user.email, invited=user.email))
    name = validation.text(name, "name", label=_l("name"))
    password = validation.password(password, email=user.email, name=name)
    password_hash = passwords.hash_password(password)
    invitation_id, user_id = row.invitation_id, user.id
    with write_transaction():
        # Check again under the write lock: a resend or a revoke may have landed meanwhile.
        db.session.expire_all()
        check_token(token)
        accepted = db.session.execute(
            update(Invitation).where(Invitation.id == invitation_id, Invitation.status == "pending")
            .values(status="accepted", closed_at=utcnow())).rowcount
        if not accepted:  # the other tab won
            raise InvitationRefused(_("This invitation was already used. Log in with your e-mail and password."))
        _supersede_tokens(invitation_id, utcnow())
        user = db.session.get(User, user_id, populate_existing=True)
        user.name, user.password_hash, user.status = name, password_hash, "active"
        audit.record(user, "invitation.accepted", "user", user_id, user.organisation_id)
    return user
