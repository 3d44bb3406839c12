"""Staff accounts: people who run an organisation and hold no seat (partner and client staff)."""
from portal.domain import audit, validation
from portal.domain.accounts.emails import ensure_email_free
from portal.domain.accounts.invitations import send_invitation, start_invitation
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import _l
from portal.models import RoleAssignment, User


def invite_staff(actor, organisation, email, name, role_code: str, *, send: str = "now") -> User:
    """Invite a staff member (no seat) holding ``role_code`` in ``organisation``."""
    email = validation.email(email)
    name = validation.text(name, "name", label=_l("name"))
    with write_transaction():
        ensure_email_free(email)
        user = User(organisation_id=organisation.id, email=email, name=name, status="invited")
        db.session.add(user)
        db.session.flush()
        db.session.add(RoleAssignment(user_id=user.id, role=role_code))
        start_invitation(actor, user)
        audit.record(actor, "user.invited", "user", user.id, organisation.id,
                     after={"email": email, "role": role_code})
    if send == "now":
        send_invitation(actor, user)
    return user
