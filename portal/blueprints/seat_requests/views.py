"""The seat request queue: finance approves in one click or declines with a reason; requesters follow theirs.

Every decision is the service's (portal.domain.seats.requests): decided once,
the seats bought through the one purchase path, the carried user created in
the same transaction. Without JavaScript, approving asks for confirmation on
its own page (it costs money); with htmx, the list's button confirms in place.
"""
from flask import current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload

from portal.blueprints.seat_requests import bp
from portal.blueprints.seat_requests.forms import DeclineForm
from portal.domain.errors import DomainError
from portal.domain.seats import requests
from portal.i18n import gettext as _
from portal.i18n import ngettext
from portal.models import SeatRequest
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.rbac.scoping import get_seat_request_or_404
from portal.web.forms import submit
from portal.web.pagination import requested
from portal.web.rendering import render, render_page_or_partial

STATUSES = ("pending", "approved", "declined", "all")
_ROW_OPTIONS = (*requests.LIST_OPTIONS, joinedload(SeatRequest.site), joinedload(SeatRequest.client))


@bp.before_request
@login_required
def _require_a_role_that_asks_or_decides():
    require(permissions.view_seat_requests(current_user.organisation))


@bp.route("")
def index():
    status = request.args.get("status", "pending")
    if status not in STATUSES:
        status = "pending"
    query = requests.requests_query(current_user, None if status == "all" else status)
    listing = requested(query, current_app.config["USERS_PER_PAGE"], query={"status": status}, options=_ROW_OPTIONS)
    costs = {row.id: requests.cost_now(row) for row in listing.rows if row.pending}
    return render_page_or_partial("seat_requests/index.html", "seat_requests/_table.html", 200,
                                  listing=listing, shown=status, costs=costs, statuses=STATUSES)


def _decidable(request_id: int) -> SeatRequest:
    seat_request = get_seat_request_or_404(request_id)
    require(permissions.manage_seats(seat_request.site))
    return seat_request


@bp.route("/<id:request_id>/approve", methods=["GET", "POST"])
def approve(request_id):
    """GET: what approving does and costs, to confirm (works without JavaScript); POST: approve."""
    seat_request = _decidable(request_id)
    if request.method == "GET":
        return render("seat_requests/confirm_approve.html", seat_request=seat_request,
                      cost=requests.cost_now(seat_request))
    try:
        approval = requests.approve(current_user, request_id)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("seat_requests.index"), 303)
    _say_approved(approval)
    return redirect(url_for("seat_requests.index"), 303)


def _say_approved(approval) -> None:
    done = approval.request
    names = dict(type=done.subscription_type.name, site=done.site.name, client=done.client.name)
    flash(ngettext("Approved: %(num)d %(type)s seat at %(site)s (%(client)s).",
                   "Approved: %(num)d %(type)s seats at %(site)s (%(client)s).", done.quantity, **names), "success")
    if done.user_id is not None:
        flash(_("%(name)s was created on one of them.", name=done.user_name), "success")
    elif approval.user_not_created:
        flash(_("%(name)s (%(email)s) was not created: %(why)s", name=done.user_name, email=done.user_email,
                why=approval.user_not_created), "error")


@bp.route("/<id:request_id>/decline", methods=["GET", "POST"])
def decline(request_id):
    seat_request = _decidable(request_id)
    if not seat_request.pending:
        flash(str(requests.ALREADY_DECIDED), "error")
        return redirect(url_for("seat_requests.index"), 303)
    form = DeclineForm()
    submission = submit(form, lambda: requests.decline(current_user, request_id, form.reason.data), "reason")
    if submission.done:
        flash(_("The request was declined; %(name)s is told why by e-mail.", name=seat_request.requested_by.name),
              "success")
        return redirect(url_for("seat_requests.index"), 303)
    return render("seat_requests/decline.html", submission.status, seat_request=seat_request, form=form)
