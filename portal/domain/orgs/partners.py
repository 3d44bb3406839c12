"""Partners, created by the operator (``partners.manage``) with their first administrator, and their discount."""
import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import aliased

from portal import clock
from portal.domain import audit, validation
from portal.domain.accounts import staff
from portal.domain.accounts.emails import ensure_email_free
from portal.domain.billing import prices
from portal.domain.billing.invoices import catalogue_currency
from portal.domain.errors import Conflict, DomainError, Forbidden, Invalid
from portal.domain.orgs.clients import invitation_language
from portal.domain.pages import Page, clamp
from portal.domain.seats.queries import SeatRow, SeatSum, partner_seat_rows, partner_seat_sums, seats_summed
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import _l
from portal.i18n import gettext as _
from portal.models import Invoice, InvoiceSequence, Organisation, RoleAssignment, User
from portal.rbac.permissions import manage_partners, may

ADMIN_ROLE = "partner_admin"
_PREFIX = re.compile(r"[A-Z]{2,6}")


def _prefix(value) -> str:
    return validation.matching(value, _PREFIX, "invoice_prefix",
                               _("Enter an invoice prefix of 2 to 6 upper-case letters, e.g. NW."))


def _operator(actor) -> Organisation:
    if not may(actor, manage_partners()):
        raise Forbidden(_("Only operator administrators manage partners."))
    return actor.organisation


def create_partner(actor, name, invoice_prefix, admin_name, admin_email, *, language="en") -> Organisation:
    """Create a partner, its invoice-number sequence, and invite its first administrator.

    ``language`` is the one its staff's invitations are written in (docs/rules.md rule 37).

    The partner and its sequence are one transaction (with a
    ``partner.created`` audit event). The administrator is then invited by
    ``invitations.invite_staff`` (an invited user holding ``partner_admin``,
    e-mailed at once). Everything is validated, and the e-mail checked free,
    before anything is written; should the invitation still fail (the e-mail
    taken by a concurrent request), the partner stays and ``Conflict`` says
    to invite an administrator from the partner list.
    """
    operator = _operator(actor)
    name = validation.text(name, "name", label=_l("partner name"))
    prefix = _prefix(invoice_prefix)
    admin_name = validation.text(admin_name, "admin_name", label=_l("administrator's name"))
    admin_email = validation.email(admin_email, field="admin_email")
    language = invitation_language(language)
    operator_id = operator.id
    with write_transaction():
        # One partner creation at a time, so two with the same name or prefix cannot both pass the checks.
        db.session.execute(select(Organisation.id).where(Organisation.id == operator_id).with_for_update())
        if db.session.scalar(select(exists().where(
                Organisation.kind == "partner", Organisation.parent_id == operator_id, Organisation.name == name))):
            raise Conflict(_("A partner named “%(name)s” already exists.", name=name), field="name")
        if db.session.scalar(select(exists().where(InvoiceSequence.prefix == prefix))):
            raise Conflict(_("The invoice prefix %(prefix)s is already used by another partner.", prefix=prefix),
                           field="invoice_prefix")
        _email_free(admin_email)
        partner = Organisation(kind="partner", name=name, parent_id=operator_id, language=language)
        db.session.add(partner)
        db.session.flush()
        db.session.add(InvoiceSequence(partner_id=partner.id, prefix=prefix))
        audit.record(actor, "partner.created", "partner", partner.id, partner.id,
                     after={"name": name, "invoice_prefix": prefix, "administrator": admin_email,
                            "language": language})
    try:
        invite_administrator(actor, partner, admin_email, admin_name)
    except DomainError as error:
        raise Conflict(_("%(partner)s was created, but its administrator could not be invited: %(reason)s "
                         "Invite an administrator from the partner list.", partner=name, reason=error.message),
                       field="admin_email") from error
    return partner


def invite_administrator(actor, partner: Organisation, email, name) -> User:
    """Invite a partner administrator (``partner_admin``) by e-mail. Commits; sends after the commit."""
    _operator(actor)
    if partner.kind != "partner":
        raise Invalid(_("Administrators are invited to partners only."))
    email = validation.email(email, field="admin_email")
    name = validation.text(name, "admin_name", label=_l("administrator's name"))
    _email_free(email)
    return staff.invite_staff(actor, partner, email, name, ADMIN_ROLE)


def _email_free(email: str) -> None:
    try:
        ensure_email_free(email)
    except Conflict:
        raise Conflict(_("%(email)s already has an account in another organisation; an account belongs to one "
                         "organisation only. Choose another e-mail address.", email=email),
                       field="admin_email") from None


# Revenue is what a partner's invoices total over its last REVENUE_DAYS days, today included.
REVENUE_DAYS = 30
# The partner page names its first clients; the overview lists them all.
CLIENTS_NAMED = 10


@dataclass(frozen=True)
class Revenue:
    """The totals of a partner's invoices issued recently, in one currency (minor units)."""

    currency: str
    last_days: int
    this_month: int


def revenue(partner_ids, today: date | None = None) -> dict[int, list[Revenue]]:
    """For each partner of ``partner_ids``, the totals of its invoices issued in the last 30 days (today
    included) and in the current calendar month, one ``Revenue`` per currency; zero in the catalogue's
    currency for a partner that issued none. Two statements whatever the number of partners and
    invoices: one aggregate over every partner asked, and the catalogue's currency.
    """
    today = today or clock.today()
    since, month = today - timedelta(days=REVENUE_DAYS - 1), today.replace(day=1)
    result = {partner_id: [] for partner_id in partner_ids}
    if not result:
        return result
    rows = db.session.execute(
        select(Invoice.partner_id, Invoice.currency,
               func.sum(case((Invoice.issued_on >= since, Invoice.total), else_=0)),
               func.sum(case((Invoice.issued_on >= month, Invoice.total), else_=0)))
        .where(Invoice.partner_id.in_(list(result)), Invoice.issued_on >= min(since, month),
               Invoice.issued_on <= today)
        .group_by(Invoice.partner_id, Invoice.currency)
        .order_by(Invoice.partner_id, Invoice.currency))
    for partner_id, currency, last_days, this_month in rows:
        result[partner_id].append(Revenue(currency, last_days or 0, this_month or 0))
    nothing = Revenue(catalogue_currency(), 0, 0)  # asked even when unused: the page's cost stays fixed
    for amounts in result.values():
        amounts[:] = amounts or [nothing]
    return result


def partners_of_clients(client_ids) -> dict[int, Organisation]:
    """The partner of each client of ``client_ids`` (one statement): the operator's lists name it."""
    if not client_ids:
        return {}
    partner = aliased(Organisation)
    rows = db.session.execute(select(Organisation.id, partner)
                              .join(partner, partner.id == Organisation.parent_id)
                              .where(Organisation.id.in_(list(client_ids))))
    return {client_id: partner for client_id, partner in rows}


@dataclass
class PartnerRow:
    partner: Organisation
    prefix: str | None
    clients: int
    administrators: list[User] = field(default_factory=list)
    seats: SeatSum = SeatSum(0, 0)
    revenue: list[Revenue] = field(default_factory=list)


def partner_page(actor, *, page: int = 1, per_page: int = 25) -> Page[PartnerRow]:
    """One page of the operator's partners with prefix, client count, administrators, seats (from the
    partners' totals counters) and revenue: five statements whatever the page's length."""
    operator = _operator(actor)
    where = (Organisation.kind == "partner") & (Organisation.parent_id == operator.id)
    total = db.session.scalar(select(func.count(Organisation.id)).where(where))
    page = clamp(page, total, per_page)
    rows = db.session.execute(
        select(Organisation, InvoiceSequence.prefix, Organisation.client_count)
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
        for partner_id, seats in partner_seat_sums(list(by_id)).items():
            by_id[partner_id].seats = seats
        for partner_id, amounts in revenue(list(by_id)).items():
            by_id[partner_id].revenue = amounts
    return Page(result, total, page, per_page)


@dataclass
class PartnerSummary:
    """The operator's page of one partner: its clients, seats and revenue."""

    partner: Organisation
    prefix: str | None
    clients: int
    first_clients: list[tuple[int, str]]
    seat_rows: list[SeatRow]
    revenue: list[Revenue]

    @property
    def seats(self) -> SeatSum:
        return seats_summed(self.seat_rows)


def partner_summary(actor, partner: Organisation) -> PartnerSummary:
    """One partner for the operator (``partners.manage``): how many clients (and the first by name), its
    seats per type from its totals counters, its revenue. A fixed handful of statements at any size."""
    _operator(actor)
    prefix, clients = db.session.execute(
        select(InvoiceSequence.prefix, Organisation.client_count)
        .select_from(Organisation)
        .outerjoin(InvoiceSequence, InvoiceSequence.partner_id == Organisation.id)
        .where(Organisation.id == partner.id)).one()
    first_clients = [tuple(row) for row in db.session.execute(
        select(Organisation.id, Organisation.name)
        .where(Organisation.kind == "client", Organisation.parent_id == partner.id)
        .order_by(Organisation.name, Organisation.id).limit(CLIENTS_NAMED))]
    return PartnerSummary(partner, prefix, clients, first_clients, partner_seat_rows(partner),
                          revenue([partner.id])[partner.id])


def partners_query(actor):
    """The operator's partners (``partners.manage``), by name: a select for a page of the API's list."""
    operator = _operator(actor)
    return (select(Organisation).where(Organisation.kind == "partner", Organisation.parent_id == operator.id)
            .order_by(Organisation.name, Organisation.id))


def set_discount(actor, partner: Organisation, discount_bp) -> Organisation:
    """Set a partner's discount off the list price, in basis points (``partners.manage``; docs/rules.md section 8).

    ``discount_bp`` is a whole number from 0 to 10000 (an int or its decimal
    text): anything else (negative, fractional, above 10000, not a number) is
    ``Invalid`` on the field ``discount_bp``, before anything is written. The
    discount applies at once to the documents issued afterwards; issued lines
    keep the cost they were issued with (rule 23). One transaction with a
    ``partner.discount_changed`` audit event (before and after), kept in the
    operator's own log: a partner's cost is for ``margins.view`` only, and the
    partner's administrators read their audit log without it. Setting the
    discount it already has writes nothing.
    """
    operator = _operator(actor)
    if partner.kind != "partner" or partner.parent_id != operator.id:
        raise Invalid(_("Discounts are set for partners only."), field="discount_bp")
    discount_bp = validation.whole_number(discount_bp, "discount_bp", label=_l("discount in basis points"),
                                          maximum=prices.MAX_DISCOUNT_BP)
    partner_id, operator_id = partner.id, operator.id
    with write_transaction():
        # The row locked, so two operators changing it at once record each change from what it really was.
        locked = db.session.scalar(select(Organisation).where(Organisation.id == partner_id)
                                   .with_for_update().execution_options(populate_existing=True))
        before = locked.discount_bp
        if before != discount_bp:
            locked.discount_bp = discount_bp
            audit.record(actor, "partner.discount_changed", "partner", partner_id, operator_id,
                         before={"discount_bp": before}, after={"discount_bp": discount_bp})
    return locked
