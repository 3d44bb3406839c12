"""Partners, created by the operator (``partners.manage``) with their first administrator."""
import re
from dataclasses import dataclass, field

from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from portal.domain import audit, validation
from portal.domain.accounts import staff
from portal.domain.accounts.emails import ensure_email_free
from portal.domain.errors import Conflict, DomainError, Forbidden, Invalid
from portal.domain.pages import Page, clamp
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import InvoiceSequence, Organisation, RoleAssignment, User
from portal.rbac.permissions import manage_partners, may

ADMIN_ROLE = "partner_admin"
_PREFIX = re.compile(r"[A-Z]{2,6}")


def _prefix(value) -> str:
    return validation.matching(value, _PREFIX, "invoice_prefix",
                               "Enter an invoice prefix of 2 to 6 upper-case letters, e.g. NW.")


def _operator(actor) -> Organisation:
    if not may(actor, manage_partners()):
        raise Forbidden("Only operator administrators manage partners.")
    return actor.organisation


def create_partner(actor, name, invoice_prefix, admin_name, admin_email) -> Organisation:
    """Create a partner, its invoice-number sequence, and invite its first administrator.

    The partner and its sequence are one transaction (with a
    ``partner.created`` audit event). The administrator is then invited by
    ``invitations.invite_staff`` (an invited user holding ``partner_admin``,
    e-mailed at once). Everything is validated, and the e-mail checked free,
    before anything is written; should the invitation still fail (the e-mail
    taken by a concurrent request), the partner stays and ``Conflict`` says
    to invite an administrator from the partner list.
    """
    operator = _operator(actor)
    name = validation.text(name, "name", label="partner name")
    prefix = _prefix(invoice_prefix)
    admin_name = validation.text(admin_name, "admin_name", label="administrator's name")
    admin_email = validation.email(admin_email, field="admin_email")
    operator_id = operator.id
    with write_transaction():
        # One partner creation at a time, so two with the same name or prefix cannot both pass the checks.
        db.session.execute(select(Organisation.id).where(Organisation.id == operator_id).with_for_update())
        if db.session.scalar(select(exists().where(
                Organisation.kind == "partner", Organisation.parent_id == operator_id, Organisation.name == name))):
            raise Conflict(f"A partner named {name!r} already exists.", field="name")
        if db.session.scalar(select(exists().where(InvoiceSequence.prefix == prefix))):
            raise Conflict(f"The invoice prefix {prefix} is already used by another partner.",
                           field="invoice_prefix")
        _email_free(admin_email)
        partner = Organisation(kind="partner", name=name, parent_id=operator_id)
        db.session.add(partner)
        db.session.flush()
        db.session.add(InvoiceSequence(partner_id=partner.id, prefix=prefix))
        audit.record(actor, "partner.created", "partner", partner.id, partner.id,
                     after={"name": name, "invoice_prefix": prefix, "administrator": admin_email})
    try:
        invite_administrator(actor, partner, admin_email, admin_name)
    except DomainError as error:
        raise Conflict(f"{name} was created, but its administrator could not be invited: {error.message} "
                       "Invite an administrator from the partner list.", field="admin_email") from error
    return partner


def invite_administrator(actor, partner: Organisation, email, name) -> User:
    """Invite a partner administrator (``partner_admin``) by e-mail. Commits; sends after the commit."""
    _operator(actor)
    if partner.kind != "partner":
        raise Invalid("Administrators are invited to partners only.")
    email = validation.email(email, field="admin_email")
    name = validation.text(name, "admin_name", label="administrator's name")
    _email_free(email)
    return staff.invite_staff(actor, partner, email, name, ADMIN_ROLE)


def _email_free(email: str) -> None:
    try:
        ensure_email_free(email)
    except Conflict:
        raise Conflict(f"{email} already has an account in another organisation; an account belongs to one "
                       "organisation only. Choose another e-mail address.", field="admin_email") from None


@dataclass
class PartnerRow:
    partner: Organisation
    prefix: str | None
    clients: int
    administrators: list[User] = field(default_factory=list)


def partner_page(actor, *, page: int = 1, per_page: int = 25) -> Page[PartnerRow]:
    """One page of the operator's partners with prefix, client count and administrators (3 queries)."""
    operator = _operator(actor)
    where = (Organisation.kind == "partner") & (Organisation.parent_id == operator.id)
    total = db.session.scalar(select(func.count(Organisation.id)).where(where))
    page = clamp(page, total, per_page)
    client = aliased(Organisation)
    clients = (select(func.count(client.id)).where(client.kind == "client", client.parent_id == Organisation.id)
               .correlate(Organisation).scalar_subquery())
    rows = db.session.execute(
        select(Organisation, InvoiceSequence.prefix, clients)
        .outerjoin(InvoiceSequence, InvoiceSequence.partner_id == Organisation.id)
        .where(where).order_by(Organisation.name, Organisation.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    result = [PartnerRow(partner, prefix, count) for partner, prefix, count in rows]
    by_id = {row.partner.id: row for row in result}
    if by_id:
        admins = db.session.scalars(
            select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(User.organisation_id.in_(by_id), RoleAssignment.role == ADMIN_ROLE,
                   User.status != "deactivated")
            .order_by(User.email))
        for user in admins:
            by_id[user.organisation_id].administrators.append(user)
    return Page(result, total, page, per_page)
