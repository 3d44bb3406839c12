"""Staff accounts: people who run an organisation and hold no seat (partner and client staff)."""
from portal.domain import audit, validation
from portal.domain.accounts import grants
from portal.domain.accounts.emails import ensure_email_free
from portal.domain.accounts.invitations import send_invitation, start_invitation
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.domain.errors import Invalid
from portal.i18n import _l
from portal.i18n import gettext as _
from portal.models import RoleAssignment, User


def invite_member(actor, email, name, role_code, site_ids=None, *, send: str = "now") -> User:
    """Invite someone into the actor's own organisation with a role and no seat (members page).

    A client admin names its accountant this way (rule 27b), a partner admin a
    colleague. The role is checked as giving it to a member is
    (``grants.check_grant``: nobody gives a permission they do not hold);
    ``send`` is "now" or "later". Commits with a ``user.invited`` event.
    """
    organisation = actor.organisation
    role, sites = grants.check_grant(actor, organisation, role_code, site_ids)
    if send not in ("now", "later"):
        raise Invalid(_("Choose when to send the invitation: now or later."), field="send_invitation")
    return invite_staff(actor, organisation, email, name, role.code, send=send, sites=sites)


def invite_staff(actor, organisation, email, name, role_code: str, *, send: str = "now", sites=()) -> User:
    """Invite a staff member (no seat) holding ``role_code`` in ``organisation`` (at ``sites``, if given)."""
    email = validation.email(email)
    name = validation.text(name, "name", label=_l("name"))
    with write_transaction():
        ensure_email_free(email)
        user = User(organisation_id=organisation.id, email=email, name=name, status="invited")
        db.session.add(user)
        db.session.flush()
        db.session.add(RoleAssignment(user_id=user.id, role=role_code, sites=list(sites)))
        start_invitation(actor, user)
        audit.record(actor, "user.invited", "user", user.id, organisation.id,
                     after={"email": email, "role": role_code, **({"sites": [s.id for s in sites]} if sites else {})})
    if send == "now":
        send_invitation(actor, user)
    return user
