"""A user's seat life from the client page: move a seat, reactivate, invite a client administrator.

docs/rules.md rules 27 (move), 28 (reactivate) and 27b (onboarding). Each page
works without JavaScript (a form, then a redirect to the client page); the
rules, and every refusal, are the services' (portal.domain.accounts.moves,
.reactivation, portal.domain.orgs.clients). When no seat is free the page says
so once, and offers the way through the caller has: finance adds the seat
(its price shown), anyone else asks for seats (rule 29).
"""
from flask import flash, g, redirect, request, url_for
from flask_login import current_user

from portal.blueprints.clients import bp
from portal.blueprints.clients.people_forms import InviteAdministratorForm, SeatForm
from portal.blueprints.clients.views import _manageable_sites
from portal.domain.accounts import moves, reactivation
from portal.domain.accounts import queries as people
from portal.domain.billing import invoices
from portal.domain.orgs import clients
from portal.domain.seats import queries
from portal.i18n import gettext as _
from portal.rbac import permissions
from portal.rbac.decorators import require
from portal.rbac.scoping import get_user_or_404
from portal.web.forms import submit
from portal.web.rendering import render


def _seat_request_url(site, subscription_type) -> str:
    """Asking finance for one seat of that type there (rule 29): only the type and the number in the link."""
    return url_for("clients.request_seats", client_id=g.client.id, site_id=site.id,
                   subscription_type=subscription_type.code, quantity=1)


def _seat_form(user) -> SeatForm:
    """The seat form; a GET with ``?site_id=`` (the site picker) shows that site's free seats, nothing sent."""
    sites, types = _manageable_sites(g.client), queries.catalogue()
    if request.method == "GET" and request.args:
        return SeatForm(user, sites, types, formdata=request.args, meta={"csrf": False})
    return SeatForm(user, sites, types)


def _seat_page(template, user, form, submission, **context):
    """The move or reactivation page: the form, and when the chosen seat is not free, the way through."""
    site, chosen = form.chosen_site(), form.chosen_type()
    error = submission.error
    no_seat = error is not None and error.code == "no_free_seat"
    if no_seat:
        form.subscription_type.errors = []  # the notice says it, once
    can_add_seat = site is not None and permissions.manage_seats(site).can()
    return render(template, submission.status, client=g.client, user=user, form=form, site=site, chosen=chosen,
                  no_seat=no_seat, error=error, can_add_seat=can_add_seat,
                  seat_rows=queries.seat_rows(site) if site is not None else [],
                  finance=people.finance_contacts(g.client.partner_id) if no_seat and not can_add_seat else [],
                  seat_cost=invoices.quote_increase(g.client, chosen, 1) if no_seat and can_add_seat and chosen
                  else None, seat_request_url=_seat_request_url, **context)


@bp.route("/users/<id:user_id>/move", methods=["GET", "POST"])
def move_user(user_id):
    """Move a user's seat to another site and/or subscription type (rule 27)."""
    user = get_user_or_404(g.client, user_id)
    require(permissions.manage_user(user))
    form = _seat_form(user)
    add_seat = request.form.get("add_seat") == "y"
    submission = submit(form, lambda: moves.move_seat(current_user, user, form.chosen_site(), form.chosen_type(),
                                                      add_seat=add_seat), "subscription_type")
    if submission.done:
        flash(_("%(name)s now holds a %(type)s seat at %(site)s.", name=user.name, type=form.chosen_type().name,
                site=form.chosen_site().name), "success")
        return redirect(url_for("clients.detail", client_id=g.client.id), 303)
    return _seat_page("clients/move_user.html", user, form, submission)


@bp.route("/users/<id:user_id>/reactivate", methods=["GET", "POST"])
def reactivate_user(user_id):
    """Confirm, then reactivate a deactivated user on a free seat of their last site and type, or the one chosen."""
    user = get_user_or_404(g.client, user_id)
    require(permissions.manage_user(user))
    holds_seat = user.site_id is not None
    form = _seat_form(user)
    add_seat = request.form.get("add_seat") == "y"

    def reactivate():
        if holds_seat:
            return reactivation.reactivate_user(current_user, user, form.chosen_site(), form.chosen_type(),
                                                add_seat=add_seat)
        return reactivation.reactivate_user(current_user, user)

    if not holds_seat:  # staff without a seat: nothing to choose, only to confirm
        form.site_id.validators = form.subscription_type.validators = []
        form.site_id.validate_choice = form.subscription_type.validate_choice = False
    submission = submit(form, reactivate, "subscription_type")
    if submission.done:
        flash(_("%(name)s was reactivated.", name=user.name), "success")
        return redirect(url_for("clients.detail", client_id=g.client.id), 303)
    return _seat_page("clients/reactivate_user.html", user, form, submission, holds_seat=holds_seat)


@bp.route("/administrators/new", methods=["GET", "POST"])
def invite_administrator():
    """Invite an administrator of this client: the first one, or another (rule 27b)."""
    require(permissions.manage_client(g.client))
    form = InviteAdministratorForm()
    submission = submit(form, lambda: clients.invite_client_administrator(
        current_user, g.client, form.email.data, form.name.data, send=form.send_invitation.data), "email")
    if submission.done:
        if form.send_invitation.data == "now":
            flash(_("%(name)s was invited as an administrator of %(client)s.", name=submission.result.name,
                    client=g.client.name), "success")
        else:
            flash(_("%(name)s was added as an administrator of %(client)s; send the invitation when ready.",
                    name=submission.result.name, client=g.client.name), "success")
        return redirect(url_for("clients.detail", client_id=g.client.id), 303)
    return render("clients/invite_administrator.html", submission.status, client=g.client, form=form)
