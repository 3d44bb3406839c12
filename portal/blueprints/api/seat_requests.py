"""Seat requests (docs/rules.md rule 29): ask for seats at a site; finance approves or declines, once."""
from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.catalogue import subscription_type_named
from portal.blueprints.api.pagination import page_body
from portal.blueprints.api.registry import operation, read_body, read_query
from portal.blueprints.api.schemas import (
    Page,
    SeatRequestApproval,
    SeatRequestCreate,
    SeatRequestDecline,
    SeatRequestDetail,
    SeatRequestOut,
    SeatRequestsQuery,
)
from portal.domain.seats import requests
from portal.models import SeatRequest, User
from portal.rbac import permissions
from portal.rbac.permissions import SEAT_REQUEST_VIEWERS, permission_name
from portal.rbac.scoping import get_seat_request_or_404, get_site_by_id_or_404

# Who may list and read requests: whoever asks (users.manage) or decides (subscriptions.manage).
VIEWERS = " or ".join(SEAT_REQUEST_VIEWERS)


def person_out(person: User | None) -> dict | None:
    """A person an answer names (who asked, who decided)."""
    if person is None:
        return None
    return {"id": person.id, "email": person.email, "name": person.name}


def seat_request_out(seat_request: SeatRequest) -> dict:
    carried = seat_request.user_email
    return {"id": seat_request.id, "client_id": seat_request.client_id, "site_id": seat_request.site_id,
            "subscription_type": seat_request.subscription_type.code, "quantity": seat_request.quantity,
            "note": seat_request.note,
            "user": {"email": carried, "name": seat_request.user_name} if carried is not None else None,
            "status": seat_request.status, "requested_by": person_out(seat_request.requested_by),
            "requested_at": seat_request.requested_at, "decided_by": person_out(seat_request.decided_by),
            "decided_at": seat_request.decided_at, "reason": seat_request.reason,
            "invoice_id": seat_request.invoice_id, "user_id": seat_request.user_id}


@operation("POST", "/sites/{site_id}/seat-requests", summary="Request seats at the site",
           permission=f"{permission_name(permissions.manage_users)} on that site", response=SeatRequestOut,
           status=201, body=SeatRequestCreate, errors=(403,))
def create_seat_request(site_id):
    """Ask finance for ``quantity`` (1-1000) seats of a type here, with an optional ``note``, and optionally
    the ``user`` being created: on approval that user is created on one of the seats and, unless
    ``send_invitation`` is false, invited. It may be asked whether or not seats are free.
    """
    caller = actor()
    site = get_site_by_id_or_404(site_id, caller)
    require(permissions.manage_users(site))
    body = read_body()
    subscription_type = subscription_type_named(body.subscription_type, "subscription_type")
    carried = body.user.model_dump() if body.user is not None else None
    seat_request = requests.request_seats(caller, site, subscription_type.code, body.quantity, note=body.note,
                                          user=carried)
    return seat_request_out(seat_request)


@operation("GET", "/seat-requests", summary="Seat requests in reach, newest first", permission=VIEWERS,
           response=Page[SeatRequestOut], query=SeatRequestsQuery, errors=(403,))
def list_seat_requests():
    """The requests of every site where the caller holds users.manage or subscriptions.manage, by ``status``."""
    caller = actor()
    require(permissions.view_seat_requests(caller.organisation))
    params = read_query()
    page = requests.requests_in_reach(caller, params.status, page=params.page, per_page=params.per_page,
                                      clamp_to_last=False)
    return page_body([seat_request_out(seat_request) for seat_request in page.rows], page)


@operation("GET", "/seat-requests/{request_id}", summary="A seat request, with what approving costs now",
           permission=VIEWERS, response=SeatRequestDetail, errors=(403,))
def get_seat_request(request_id):
    """The request; while pending, ``cost_now``: the prorated invoice approving it would issue today
    (0 in a trial or for a free type)."""
    seat_request = _load(request_id, permissions.view_seat_requests)
    cost = requests.cost_now(seat_request)
    return {**seat_request_out(seat_request),
            "cost_now": {"amount": cost.amount, "currency": cost.currency} if cost is not None else None}


@operation("POST", "/seat-requests/{request_id}/approve", summary="Approve a seat request: buy its seats",
           permission=permissions.manage_seats, response=SeatRequestApproval, status=200, errors=(403, 409))
def approve_seat_request(request_id):
    """Buys the seats (a prorated invoice, ``invoice_id``, except in a trial or for a free type) and creates the
    user the request carries on one of them (``user_id``), in one transaction. If that user's e-mail has an
    account by now, the seats are still bought and ``user_not_created`` says why. Already decided: 409
    ``conflict``. The requester is told by e-mail.
    """
    seat_request = _load(request_id, permissions.manage_seats)
    approval = requests.approve(actor(), seat_request.id)
    return {**seat_request_out(approval.request), "user_not_created": approval.user_not_created}


@operation("POST", "/seat-requests/{request_id}/decline", summary="Decline a seat request, with a reason",
           permission=permissions.manage_seats, response=SeatRequestOut, status=200, body=SeatRequestDecline,
           errors=(403, 409))
def decline_seat_request(request_id):
    """Declines with ``reason`` (required, at most 2,000 characters), e-mailed to the requester. Already
    decided: 409 ``conflict``."""
    seat_request = _load(request_id, permissions.manage_seats)
    body = read_body()
    return seat_request_out(requests.decline(actor(), seat_request.id, body.reason))


def _load(request_id: int, capability) -> SeatRequest:
    """The request in the caller's reach (404 otherwise) if they hold ``capability`` at its site (403 otherwise)."""
    seat_request = get_seat_request_or_404(request_id, actor())
    require(capability(seat_request.site))
    return seat_request
