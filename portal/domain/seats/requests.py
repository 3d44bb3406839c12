"""Seat requests (docs/rules.md rule 29): "ask a finance administrator", made a workflow.

Whoever may create users at a site (users.manage there) asks for N seats of
a type, with a note and maybe the user they were creating; finance
(subscriptions.manage there) approves or declines, once. Approving buys the
seats through the one purchase path (``allocations.buy_seats``: counters,
audit, prorated invoice as rule 10) and creates the carried user on one of
them (``users.create_user_on_free_seat``) in the same transaction; an e-mail
taken since the request leaves the seats bought and the user not created, and
says why. "Decided once" is a conditional UPDATE (``… WHERE status =
'pending'``, as the seat counters claim seats): of two approvals at once, one
changes the row and buys the seats, the other changes nothing and is refused
(``Conflict``). The requester is told by e-mail, in their language: the
message is queued in the decision's transaction and sent by a worker
(docs/rules.md rule 31); a mail failure never undoes the decision.
"""
import functools
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from portal.domain import audit, mail, notifications, validation
from portal.domain.accounts import invitations, users
from portal.domain.accounts.emails import EMAIL_IN_USE
from portal.domain.billing import invoices
from portal.domain.billing.invoices import ProrationQuote
from portal.domain.errors import Conflict, Forbidden, Invalid, NotFound
from portal.domain.pages import Page, paginate
from portal.domain.seats import counters, queries
from portal.domain.seats.allocations import buy_seats
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import _l, force_locale, ngettext
from portal.i18n import gettext as _
from portal.models import SEAT_REQUEST_STATUSES, Organisation, SeatRequest, Site, User
from portal.models.mixins import utcnow
from portal.models.seat_request import MAX_NOTE_LENGTH, MAX_REQUESTED_SEATS
from portal.rbac.permissions import manage_seats, manage_users, may, permission_name
from portal.rbac.scoping import (reach_parameters, seat_request_filter, seat_request_reach,
                                  seat_request_reach_clause)

ALREADY_DECIDED = _l("This seat request was already decided.")


@dataclass(frozen=True)
class Approval:
    """An approved request; ``user_not_created`` says why its carried user was not created (else None)."""

    request: SeatRequest
    user_not_created: str | None = None


@dataclass(frozen=True)
class Cost:
    """What approving a pending request costs now: ``amount`` minor units of ``currency``.

    ``quote`` is the proration behind it; None (amount 0) when approving now
    issues no invoice: a client in trial, a free type, or outside the open period.
    """

    amount: int
    currency: str
    quote: ProrationQuote | None


# ---------------------------------------------------------------- asking


def request_seats(actor, site: Site, type_code, quantity, note=None, user=None) -> SeatRequest:
    """Ask for ``quantity`` (1-1000) seats of the type coded ``type_code`` at ``site``.

    ``note`` is optional text (at most 2,000 characters, no control
    characters); ``user`` the user being created, ``{"email", "name",
    "send_invitation"?}`` (invited on approval unless ``send_invitation`` is
    false). Refusals before anything is written: ``Forbidden`` without
    users.manage at the site, ``Invalid`` naming the field otherwise. The
    request may be made whether or not seats are free. The e-mail is not
    checked here: whether it has an account is said only on approval, as a
    creation says it only once a seat is there (rule 41b). Commits with a
    ``seat_request.created`` audit event.
    """
    if not may(actor, manage_users(site)):
        raise Forbidden(_("Requesting seats at %(site)s needs the %(permission)s permission there.",
                          site=site.name, permission=permission_name(manage_users)))
    subscription_type = queries.subscription_type_by_code(type_code) if isinstance(type_code, str) else None
    if subscription_type is None:
        raise Invalid(_("Choose a subscription type of the catalogue."), field="subscription_type")
    quantity = _quantity(quantity)
    note = _optional_text(note, "note", _l("note"))
    email, name, send = _carried_user(user)
    partner_id = site.client.parent_id
    with write_transaction():
        seat_request = SeatRequest(client_id=site.client_id, site_id=site.id,
                                   subscription_type_id=subscription_type.id, quantity=quantity, note=note,
                                   user_email=email, user_name=name, send_invitation=send,
                                   status="pending", requested_by_id=actor.id)
        db.session.add(seat_request)
        db.session.flush()
        audit.record(actor, "seat_request.created", "seat_request", seat_request.id, site.client_id,
                     after={"site_id": site.id, "subscription_type": subscription_type.code, "quantity": quantity,
                            "user_email": email})
        _count_pending(partner_id, 1)
    return seat_request


def _count_pending(partner_id: int, change: int) -> None:
    """Add ``change`` to the partner's count of pending requests, inside the caller's transaction.

    The one writer of ``Organisation.pending_seat_requests`` (finance's navigation count): a request
    made adds one, its decision takes it off, in the transaction that makes or decides it.
    """
    db.session.execute(update(Organisation).where(Organisation.id == partner_id)
                       .values(pending_seat_requests=Organisation.pending_seat_requests + change)
                       .execution_options(synchronize_session=False))


def _quantity(value) -> int:
    quantity = validation.whole_number(value, "quantity", label=_l("number of seats"), maximum=MAX_REQUESTED_SEATS)
    if quantity < 1:
        raise Invalid(_("Request at least one seat."), field="quantity")
    return quantity


def _optional_text(value, field: str, label) -> str | None:
    """Optional free text (a note): None when empty, else one line of at most 2,000 characters."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return validation.text(value, field, label=label, max_length=MAX_NOTE_LENGTH, lines=True)


def _carried_user(user) -> tuple[str | None, str | None, bool | None]:
    """The user the requester was creating, as (email, name, send_invitation), or three Nones."""
    if user is None:
        return None, None, None
    if not isinstance(user, dict):
        raise Invalid(_("Give the user as an e-mail address and a name."), field="user")
    send = user.get("send_invitation") or "now"  # as creating a user: "now" (default) or "later"
    if send not in ("now", "later"):
        raise Invalid(_("Choose when to send the invitation: now or later."), field="user.send_invitation")
    return (validation.email(user.get("email"), field="user.email"),
            validation.text(user.get("name"), "user.name", label=_l("name")), send == "now")


# ---------------------------------------------------------------- deciding


def approve(actor, request_id: int) -> Approval:
    """Approve a pending request: buy its seats and create the user it carries, in one transaction.

    The seats are bought like finance raising the allocation (``allocation.changed``,
    the prorated invoice of rule 10: none in a trial or for a free type). The
    carried user is created on one of them and, unless the request said not to,
    invited after the commit; an e-mail that has an account by now leaves the
    user out (``user_not_created`` says why) and the seats bought. Refusals:
    ``NotFound``, ``Forbidden`` without subscriptions.manage at the site,
    ``Conflict`` when the request is already decided (also when another
    approval or refusal won a race). The requester's e-mail is queued with the decision.
    """
    seat_request = _decidable(actor, request_id)
    site, subscription_type = seat_request.site, seat_request.subscription_type
    quantity = seat_request.quantity
    carried = seat_request.user_email is not None
    email, name, send = seat_request.user_email, seat_request.user_name, seat_request.send_invitation
    user, user_not_created = None, None
    partner_id = seat_request.client.parent_id
    with write_transaction():
        _decide(actor, request_id, partner_id, "approved")
        counters.ensure_allocation(site.id, subscription_type.id)
        before = counters.allocation_row(site.id, subscription_type.id, lock=True).allocated
        invoice = buy_seats(actor, site, subscription_type, quantity, allocated_before=before)
        if carried:
            user, user_not_created = _create_carried_user(actor, site, subscription_type, email, name)
        invoice_id, user_id = (invoice.id if invoice else None), (user.id if user else None)
        db.session.execute(update(SeatRequest).where(SeatRequest.id == request_id)
                           .values(invoice_id=invoice_id, user_id=user_id)
                           .execution_options(synchronize_session=False))
        audit.record(actor, "seat_request.approved", "seat_request", request_id, site.client_id,
                     before={"status": "pending"},
                     after={"status": "approved", "quantity": quantity, "invoice_id": invoice_id,
                            "user_id": user_id, "user_not_created": user_not_created})
        _tell_requester(request_id, user_not_created)
    if user is not None and send:
        invitations.send_invitation(actor, user)
    return Approval(_reloaded(request_id), user_not_created)


def decline(actor, request_id: int, reason) -> SeatRequest:
    """Decline a pending request, giving a ``reason`` (required, at most 2,000 characters).

    Refusals as ``approve``, plus ``Invalid`` for a missing or bad reason.
    Commits with a ``seat_request.declined`` audit event and the requester's
    e-mail giving the reason.
    """
    reason = validation.text(reason, "reason", label=_l("reason"), max_length=MAX_NOTE_LENGTH, lines=True)
    seat_request = _decidable(actor, request_id)
    client_id, partner_id = seat_request.client_id, seat_request.client.parent_id
    with write_transaction():
        _decide(actor, request_id, partner_id, "declined", reason=reason)
        audit.record(actor, "seat_request.declined", "seat_request", request_id, client_id,
                     before={"status": "pending"}, after={"status": "declined", "reason": reason})
        _tell_requester(request_id)
    return _reloaded(request_id)


def _decidable(actor, request_id: int) -> SeatRequest:
    """The request, if ``actor`` may decide it and it is still pending (checked again when deciding)."""
    seat_request = _reloaded(request_id)
    if seat_request is None:
        raise NotFound(_("There is no such seat request."))
    site = seat_request.site
    if actor is not None and not may(actor, manage_seats(site)):
        raise Forbidden(_("Deciding a seat request at %(site)s needs the %(permission)s permission there.",
                          site=site.name, permission=permission_name(manage_seats)))
    if not seat_request.pending:
        raise Conflict(ALREADY_DECIDED)
    return seat_request


def _decide(actor, request_id: int, partner_id: int, status: str, *, reason: str | None = None) -> None:
    """Inside the transaction, first: mark the request decided, if nobody has yet, and take it off the
    partner's pending count.

    One conditional UPDATE: on PostgreSQL a concurrent decision waits for the
    row lock, then finds the status changed; on SQLite ``BEGIN IMMEDIATE``
    runs deciders one after the other. Either way one of them changes the row
    and the others are refused, before they buy anything. The count is taken
    next, before the purchase: creating a client locks the partner's row, then
    its invoice numbers; an approval locks them in that order too.
    """
    changed = db.session.execute(
        update(SeatRequest).where(SeatRequest.id == request_id, SeatRequest.status == "pending")
        .values(status=status, decided_by_id=getattr(actor, "id", None), decided_at=utcnow(), reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise Conflict(ALREADY_DECIDED)
    _count_pending(partner_id, -1)


def _create_carried_user(actor, site, subscription_type, email: str, name: str) -> tuple[User | None, str | None]:
    """On one of the seats just bought: the carried user, or None and why not (an e-mail taken since).

    In a savepoint, so a refusal undoes the user alone: the seats stay bought.
    """
    try:
        with db.session.begin_nested():
            return users.create_user_on_free_seat(actor, site, subscription_type, email, name), None
    except Conflict:
        return None, str(EMAIL_IN_USE)


def _reloaded(request_id: int) -> SeatRequest | None:
    return db.session.scalar(select(SeatRequest).where(SeatRequest.id == request_id)
                             .execution_options(populate_existing=True))


# ---------------------------------------------------------------- telling the requester


def _tell_requester(request_id: int, user_not_created: str | None = None) -> bool:
    """Inside the decision's transaction: queue the requester's e-mail, in their language; False if not built.

    A message that cannot be built is logged, never an error: the decision
    stands whatever happens to its e-mail (docs/rules.md rule 41b).
    """
    seat_request = _reloaded(request_id)
    requester = seat_request.requested_by
    if not notifications.wants(requester, "seat_request_decided"):
        return True  # turned off on their account page (rule 33): the requests page still shows it
    language = notifications.language_of(requester)
    try:
        with force_locale(language):
            subject, body = _decision_message(seat_request, user_not_created)
    except Exception:  # noqa: BLE001 - whatever it was, the decision stands
        current_app.logger.exception("Seat request e-mail to %s could not be built", requester.email)
        return False
    mail.queue(requester.email, subject, body, kind="seat_request_decision", reference_id=request_id,
               language=language)
    return True


def _decision_message(seat_request: SeatRequest, user_not_created: str | None) -> tuple[str, str]:
    """The subject and body telling the requester the decision, in the current language."""
    decider = seat_request.decided_by
    names = {"type": seat_request.subscription_type.name, "site": seat_request.site.name,
             "client": seat_request.client.name, "decider": decider.name if decider else _("The portal")}
    quantity = seat_request.quantity
    lines = [_("Hello %(name)s,", name=seat_request.requested_by.name), ""]
    if seat_request.status == "approved":
        subject = ngettext("Your request for %(num)d %(type)s seat at %(site)s was approved",
                           "Your request for %(num)d %(type)s seats at %(site)s was approved", quantity, **names)
        lines.append(ngettext("%(decider)s approved your request for %(num)d %(type)s seat at %(site)s "
                              "(%(client)s): it is yours to use now.",
                              "%(decider)s approved your request for %(num)d %(type)s seats at %(site)s "
                              "(%(client)s): they are yours to use now.", quantity, **names))
        person = {"name": seat_request.user_name, "email": seat_request.user_email}
        if seat_request.user_id is not None and seat_request.send_invitation:
            lines.append(_("%(name)s (%(email)s) holds one of them and was sent an invitation.", **person))
        elif seat_request.user_id is not None:
            lines.append(_("%(name)s (%(email)s) holds one of them; their invitation is not sent yet.", **person))
        elif seat_request.user_email is not None:
            lines.append(_("%(name)s (%(email)s) was not created: %(why)s", why=user_not_created
                           or str(EMAIL_IN_USE), **person))
    else:
        subject = ngettext("Your request for %(num)d %(type)s seat at %(site)s was declined",
                           "Your request for %(num)d %(type)s seats at %(site)s was declined", quantity, **names)
        lines.append(ngettext("%(decider)s declined your request for %(num)d %(type)s seat at %(site)s "
                              "(%(client)s).",
                              "%(decider)s declined your request for %(num)d %(type)s seats at %(site)s "
                              "(%(client)s).", quantity, **names))
        lines.append(_("Reason: %(reason)s", reason=seat_request.reason))
        if seat_request.user_email is not None:
            lines.append(_("%(name)s (%(email)s) was not created.", name=seat_request.user_name,
                           email=seat_request.user_email))
    return subject, "\n".join(lines) + "\n"


# ---------------------------------------------------------------- reading


def requests_query(actor, status: str | None = None, *, permission=None):
    """The requests ``actor`` reaches (see ``scoping.seat_request_filter``), newest first."""
    if status is not None and status not in SEAT_REQUEST_STATUSES:
        raise Invalid(_("Choose a status: pending, approved or declined."), field="status")
    query = seat_request_filter(actor, select(SeatRequest), permission)
    if status is not None:
        query = query.where(SeatRequest.status == status)
    return query.order_by(SeatRequest.requested_at.desc(), SeatRequest.id.desc())


# What a list of requests shows of each: its type, and the people who asked and decided.
LIST_OPTIONS = (joinedload(SeatRequest.subscription_type), joinedload(SeatRequest.requested_by),
                joinedload(SeatRequest.decided_by))


def requests_in_reach(actor, status: str | None = None, *, page: int = 1, per_page: int = 50,
                      clamp_to_last: bool = True) -> Page:
    """One page of the requests the actor may see (users.manage or subscriptions.manage), newest first."""
    return paginate(requests_query(actor, status), page, per_page, clamp_to_last=clamp_to_last,
                    options=LIST_OPTIONS)


def pending_count(actor) -> int:
    """The pending requests the actor may decide (the navigation's count).

    A partner's staff who decide for the whole partner read its kept count, loaded with their
    organisation; anyone else (the operator, roles over some clients or sites): one COUNT query.
    """
    reach = seat_request_reach(actor, manage_seats)
    organisation = actor.organisation
    if reach is not None and organisation.kind == "partner" and organisation.id in reach[0]:
        return organisation.pending_seat_requests
    if reach is None:
        return db.session.scalar(_pending_count_statement(None))
    return db.session.scalar(_pending_count_statement(tuple(bool(ids) for ids in reach)), reach_parameters(reach))


@functools.cache
def _pending_count_statement(shape: tuple[bool, bool, bool] | None):
    """Built once per shape of reach (None: every request), as the navigation asks on every page."""
    query = select(func.count(SeatRequest.id)).where(SeatRequest.status == "pending")
    return query if shape is None else query.where(seat_request_reach_clause(*shape))


def cost_now(seat_request: SeatRequest) -> Cost | None:
    """What approving ``seat_request`` would invoice today (rule 10's proration, as the site page's
    "one more seat costs now"), or None once it is decided."""
    if not seat_request.pending:
        return None
    subscription_type = seat_request.subscription_type
    quote = invoices.quote_increase(seat_request.client, subscription_type, seat_request.quantity)
    return Cost(quote.amount if quote else 0, subscription_type.currency, quote)
