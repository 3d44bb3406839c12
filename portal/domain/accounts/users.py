"""Creating and deactivating users of a client, with their seats."""
from babel.lists import format_list
from flask_babel import get_locale
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.domain import audit, validation
from portal.domain.accounts import grants, invitations
from portal.domain.accounts.emails import EMAIL_IN_USE, email_in_use, ensure_email_free
from portal.domain.billing import invoices
from portal.domain.errors import Conflict, Forbidden, Invalid, NoFreeSeat
from portal.domain.seats import counters
from portal.domain.seats.allocations import buy_seats
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import _l, ngettext
from portal.i18n import gettext as _
from portal.models import RoleAssignment, Site, SubscriptionType, User
from portal.models.mixins import utcnow
from portal.rbac.permissions import manage_seats, manage_users, may, may_manage_user, permission_name, roles_beyond
from portal.rbac.sessions import end_all_sessions

SEND_CHOICES = ("now", "later")


def create_user(actor, site: Site, subscription_type: SubscriptionType, email, name, *, add_seat=False,
                send: str = "now") -> User:
    """Create an invited user of ``site``'s client holding one seat there.

    Raises ``NoFreeSeat`` (with ``free``) when the site has no free seat of
    that type, unless ``add_seat`` is set: then, for an actor holding
    ``subscriptions.manage``, one seat is bought and taken in the same
    transaction. Commits the user, the seat, the pending invitation and their
    audit events together; with ``send="now"`` also the invitation's link and
    its queued e-mail, which leaves once they commit ("later" leaves it
    unsent, with a send action).

    The seat check answers before the e-mail check, and an e-mail already in
    use gets one neutral sentence (docs/rules.md rule 41b): a site manager
    cannot probe which addresses have accounts elsewhere.
    """
    email = validation.email(email)
    name = validation.text(name, "name", label=_l("name"))
    if send not in SEND_CHOICES:
        raise Invalid(_("Choose when to send the invitation: now or later."), field="send_invitation")
    if add_seat and not may(actor, manage_seats(site)):
        raise Forbidden(_("Adding a seat needs the subscription management role."), field="add_seat")
    site_id, type_id = site.id, subscription_type.id
    # Their ids, the type's code, the client's name and language: read, never changed by the write.
    with write_transaction(keep=(actor, site, subscription_type, site.client)):
        if not counters.claim_seat(site_id, type_id):
            if not add_seat:
                raise _no_free_seat(actor, site, subscription_type)
            buy_seats(actor, site, subscription_type, 1, take=1)
        ensure_email_free(email)  # after the seat check; a refusal rolls the claimed seat back
        return _add_invited_user(actor, site, subscription_type, email, name, send=send)


def _add_invited_user(actor, site, subscription_type, email, name, *, send: str = "later") -> User:
    """Insert an invited seat holder and their pending invitation (seat already claimed); ``send="now"``
    issues its link and queues its e-mail in the same transaction (the e-mail leaves once it commits)."""
    user = User(organisation_id=site.client_id, email=email, name=name, status="invited",
                site_id=site.id, subscription_type_id=subscription_type.id)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        # Another request took the e-mail between our check and our insert.
        raise Conflict(EMAIL_IN_USE, field="email") from None
    # A seat holder is a member: they see their own profile, not "no access yet".
    db.session.add(RoleAssignment(user_id=user.id, role="member"))
    invitation = invitations.start_invitation(actor, user)
    audit.record(actor, "user.created", "user", user.id, site.client_id,
                 after={"email": email, "site_id": site.id, "subscription_type": subscription_type.code})
    if send == "now":
        invitations.issue_link(actor, invitation, user, site.client)
    return user


def create_user_on_free_seat(actor, site: Site, subscription_type: SubscriptionType, email: str, name: str) -> User:
    """``create_user`` as one step of a larger action, inside the caller's transaction (no commit, no e-mail).

    For an action that makes a seat free and puts a user on it at once, as approving a
    seat request does (docs/rules.md rule 29). ``email`` and ``name`` are already
    validated. Claims the seat (``NoFreeSeat`` when none is free), then refuses an
    e-mail that has an account with the neutral ``Conflict`` (rule 41b). The caller
    sends the invitation after its commit (``invitations.send_invitation``).
    """
    if not counters.claim_seat(site.id, subscription_type.id):
        raise _no_free_seat(actor, site, subscription_type)
    ensure_email_free(email)
    return _add_invited_user(actor, site, subscription_type, email, name)


MAX_BULK = 100


def bulk_invite(actor, site: Site, subscription_type: SubscriptionType, emails, *, add_seats=False,
                send: str = "now") -> list[User]:
    """Invite several e-mails to one type at one site: all of them, or nobody.

    When fewer seats are free than e-mails, nobody is invited and the message
    says how many are free, unless a finance actor asks to add the missing
    seats (charged on one prorated invoice) in the same transaction.
    """
    emails = _email_list(emails)
    if send not in SEND_CHOICES:
        raise Invalid(_("Choose when to send the invitations: now or later."), field="send_invitation")
    if add_seats and not may(actor, manage_seats(site)):
        raise Forbidden(_("Adding seats needs the subscription management role."), field="add_seats")
    with write_transaction():
        missing = len(emails) - counters.free_seats(site.id, subscription_type.id)
        if missing > 0:
            if not add_seats:
                raise _no_free_seat(actor, site, subscription_type, wanted=len(emails), bulk=True)
            buy_seats(actor, site, subscription_type, missing)
        for _email in emails:
            if not counters.claim_seat(site.id, subscription_type.id):  # a concurrent request took one
                raise _no_free_seat(actor, site, subscription_type, wanted=len(emails), bulk=True)
        # After the seat check (docs/rules.md rule 41b); a refusal rolls the seats back. Naming
        # the address says nothing new: the caller typed it.
        for email in emails:
            if email_in_use(email):
                raise Conflict(_("%(email)s cannot be used for a new account.", email=email), field="emails")
        return [_add_invited_user(actor, site, subscription_type, email, email.split("@")[0], send=send)
                for email in emails]


def _email_list(emails) -> list[str]:
    """Split and validate a list of e-mails (one per line, or commas), without duplicates."""
    if isinstance(emails, str):
        emails = [(number, part) for number, line in enumerate(emails.splitlines(), 1) for part in line.split(",")]
    elif isinstance(emails, (list, tuple)):
        emails = list(enumerate(emails, 1))
    else:
        raise Invalid(_("Give a list of e-mail addresses."), field="emails")
    cleaned = []
    for line, raw in emails:
        if isinstance(raw, str) and not raw.strip():
            continue
        try:
            email = validation.email(raw, field="emails")
        except Invalid:
            # Name the line, so that one bad address among fifty is found (issue 11, defect 8).
            if isinstance(raw, str):
                message = _("Line %(line)d: %(shown)s is not a valid e-mail address.", line=line,
                            shown=raw.strip()[:100])
            else:
                message = _("Line %(line)d: this entry is not a valid e-mail address.", line=line)
            raise Invalid(message, field="emails") from None
        if email not in cleaned:
            cleaned.append(email)
    if not cleaned:
        raise Invalid(_("Enter at least one e-mail address."), field="emails")
    if len(cleaned) > MAX_BULK:
        raise Invalid(ngettext("Invite at most %(num)d person at once.", "Invite at most %(num)d people at once.",
                               MAX_BULK), field="emails")
    return cleaned


def ensure_may_manage(actor, user: User, verb: str) -> None:
    """Refuse (``Forbidden``) to deactivate, edit or move a user the actor may not manage.

    Nobody manages up (docs/rules.md rule 41b): the actor needs ``users.manage``
    where the user is and every permission the user holds, over every scope
    the user holds it. ``actor=None`` is the system itself (billing run, CLI).
    """
    if actor is None or may_manage_user(actor, user):
        return
    above = roles_beyond(actor, user)
    if not above:
        raise Forbidden(_lacking_users_manage(verb, user.name, permission_name(manage_users)))
    raise Forbidden(_holds_more(verb, user.name, above))


def _lacking_users_manage(verb: str, name: str, permission: str) -> str:
    """Refusal of ``ensure_may_manage`` ("deactivate", "reactivate", else "change") without users.manage."""
    if verb == "deactivate":
        return _("You cannot deactivate %(name)s: it needs the %(permission)s permission where they work.",
                 name=name, permission=permission)
    if verb == "reactivate":
        return _("You cannot reactivate %(name)s: it needs the %(permission)s permission where they work.",
                 name=name, permission=permission)
    return _("You cannot change %(name)s: it needs the %(permission)s permission where they work.",
             name=name, permission=permission)


def _holds_more(verb: str, name: str, above) -> str:
    """Refusal of ``ensure_may_manage`` when the user holds roles whose permissions the actor lacks."""
    roles = format_list([str(role.label) for role in above], locale=get_locale() or "en")
    if verb == "deactivate":
        return ngettext("You cannot deactivate %(name)s: they hold the %(roles)s role, with permissions you do not "
                        "hold over their scope yourself. Ask an administrator who holds them.",
                        "You cannot deactivate %(name)s: they hold the %(roles)s roles, with permissions you do not "
                        "hold over their scope yourself. Ask an administrator who holds them.",
                        len(above), name=name, roles=roles)
    if verb == "reactivate":
        return ngettext("You cannot reactivate %(name)s: they hold the %(roles)s role, with permissions you do not "
                        "hold over their scope yourself. Ask an administrator who holds them.",
                        "You cannot reactivate %(name)s: they hold the %(roles)s roles, with permissions you do not "
                        "hold over their scope yourself. Ask an administrator who holds them.",
                        len(above), name=name, roles=roles)
    return ngettext("You cannot change %(name)s: they hold the %(roles)s role, with permissions you do not "
                    "hold over their scope yourself. Ask an administrator who holds them.",
                    "You cannot change %(name)s: they hold the %(roles)s roles, with permissions you do not "
                    "hold over their scope yourself. Ask an administrator who holds them.",
                    len(above), name=name, roles=roles)


def _no_free_seat(actor, site, subscription_type, wanted: int = 1, bulk: bool = False) -> NoFreeSeat:
    free = counters.free_seats(site.id, subscription_type.id)
    may_add = may(actor, manage_seats(site))
    if not bulk:
        hint = (_("Add a seat and create the user, or raise the allocation on the site page.") if may_add else
                _("Ask a finance administrator to add seats for this site."))
        refusal = _("No free %(type)s seat at %(site)s (%(free)d free).", type=subscription_type.name,
                    site=site.name, free=free)
        return NoFreeSeat(f"{refusal} {hint}", field="subscription_type", free=free)
    # The bulk form's own sentence (issue 11, defect 8): "3 people to invite but only 1 free
    # Essentials seat at Lyon".
    hint = (_("Add the missing seats, or raise the allocation on the site page.") if may_add else
            _("Ask a finance administrator to add seats for this site."))
    people = ngettext("%(num)d person", "%(num)d people", wanted)
    refusal = ngettext("%(people)s to invite but only %(num)d free %(type)s seat at %(site)s: nobody was invited.",
                       "%(people)s to invite but only %(num)d free %(type)s seats at %(site)s: nobody was invited.",
                       free, people=people, type=subscription_type.name, site=site.name)
    return NoFreeSeat(f"{refusal} {hint}", field="subscription_type", free=free, missing=wanted - free)


def deactivate_user(actor, user: User) -> User:
    """Deactivate ``user``: their seat is released and their sessions end now.

    While the client is in its trial a seat holder keeps access and the seat
    until the trial ends (``access_until``); the billing run releases it then.
    Staff (no seat) lose access at once: the grace is for seat holders only
    (docs/rules.md rule 41b). One's own account cannot be deactivated
    (``Conflict``), nor a user twice; an actor lacking any permission the user
    holds cannot deactivate them (``Forbidden``: nobody manages up).
    """
    if actor is not None and user.id == actor.id:
        raise Conflict(_("You cannot deactivate your own account."))
    ensure_may_manage(actor, user, "deactivate")
    if user.status == "invited":  # never joined: revoking the invitation frees the seat
        invitations.revoke_invitation(actor, user)
        return db.session.get(User, user.id, populate_existing=True)
    user_id, client = user.id, user.organisation
    in_trial = client.is_client and invoices.in_trial(client, clock.today())
    access_until = client.trial_ends_on if in_trial and user.site_id is not None else None
    with write_transaction():
        grants.ensure_not_last_admin(user, client)
        changed = db.session.execute(
            update(User)
            .where(User.id == user_id, User.status != "deactivated")
            .values(status="deactivated", deactivated_at=utcnow(), access_until=access_until)
            .execution_options(synchronize_session=False)
        ).rowcount
        if not changed:
            raise Conflict(_("This user is already deactivated."))
        user = db.session.get(User, user_id, populate_existing=True)
        if access_until is None:
            if user.site_id is not None:
                counters.release_seat(user.site_id, user.subscription_type_id)
            end_all_sessions(user)
        audit.record(actor, "user.deactivated", "user", user_id, user.organisation_id,
                     before={"status": "active"},
                     after={"status": "deactivated", "access_until": access_until and access_until.isoformat()})
    return user
