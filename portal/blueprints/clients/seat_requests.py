"""Asking finance for seats from a site (docs/rules.md rule 29), maybe carrying the user being created.

Offered where a user meets "no free seat" without the right to buy one: the
new-user form posts its name, e-mail, type and invitation choice here (a POST,
so no one's name or address lands in a URL or a server log), and the form
comes back filled in to add a quantity and a note.
"""
from flask import flash, g, redirect, request, url_for
from flask_login import current_user

from portal.blueprints.clients import bp
from portal.blueprints.seat_requests.forms import SeatRequestForm
from portal.domain.seats import queries, requests
from portal.i18n import ngettext
from portal.rbac import permissions
from portal.rbac.decorators import require
from portal.rbac.scoping import get_site_or_404
from portal.web.forms import submit
from portal.web.rendering import render

# The service names the carried user's fields "user.email"; the form calls them as the new-user form does.
_FIELDS = {"user.email": "email", "user.name": "name", "user.send_invitation": "send_invitation", "user": "email"}


@bp.route("/sites/<id:site_id>/seat-requests/new", methods=["GET", "POST"])
def request_seats(site_id):
    site = get_site_or_404(g.client, site_id)
    require(permissions.manage_users(site))
    types = queries.catalogue()
    if request.method == "GET":
        # Only the type and the quantity come in a link; never a person's name or address.
        form = SeatRequestForm(types, formdata=None, data={
            "subscription_type": request.args.get("subscription_type"),
            "quantity": _quantity_asked(request.args.get("quantity"))})
    else:
        form = SeatRequestForm(types)
    if request.form.get("carry") == "y":  # arriving from the new-user form: fill in, ask nothing yet
        form.quantity.data = form.quantity.data or 1
        return render("clients/request_seats.html", client=g.client, site=site, form=form)
    submission = submit(form, lambda: requests.request_seats(
        current_user, site, form.subscription_type.data, form.quantity.data, note=form.note.data,
        user=form.carried_user()), None)
    if submission.error is not None:
        error = submission.error
        field = getattr(form, _FIELDS.get(error.field, error.field or ""), None) or form.quantity
        field.errors = [*field.errors, error.message]
    if submission.done:
        asked = submission.result
        flash(ngettext("Your request for %(num)d %(type)s seat at %(site)s was sent to finance; you will get an "
                       "e-mail once it is decided.",
                       "Your request for %(num)d %(type)s seats at %(site)s was sent to finance; you will get an "
                       "e-mail once it is decided.", asked.quantity, type=asked.subscription_type.name,
                       site=site.name), "success")
        return redirect(url_for("clients.detail", client_id=g.client.id), 303)
    return render("clients/request_seats.html", submission.status, client=g.client, site=site, form=form)


def _quantity_asked(value) -> int:
    return int(value) if value and value.isascii() and value.isdigit() and 1 <= int(value) <= 1000 else 1
