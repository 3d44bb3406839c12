from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from portal.blueprints.partners import bp
from portal.blueprints.partners.forms import NewClientForm
from portal.domain.errors import DomainError
from portal.domain.orgs import clients
from portal.domain.seats import queries as dashboards
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.web.forms import add_error
from portal.web.pagination import requested_page
from portal.web.rendering import render_page_or_partial


@bp.route("/overview")
@login_required
def overview():
    """The Wazo dashboard: totals per type over all clients, and the per-client list."""
    organisation = current_user.organisation
    if organisation.kind == "client":
        abort(404)
    require(permissions.permission("clients.view", organisation))
    show_seats = permissions.view_subscriptions(organisation).can()
    tab = request.args.get("tab", "totals" if show_seats else "clients")
    if tab not in ("totals", "clients") or (tab == "totals" and not show_seats):
        tab = "clients"
    context = dict(organisation=organisation, show_seats=show_seats, tab=tab)
    if tab == "totals":
        context["totals"] = dashboards.partner_totals(current_user)
        return render_page_or_partial("partners/overview.html", "partners/_totals.html", **context)
    context["listing"] = dashboards.client_page(
        current_user,
        q=request.args.get("q", "").strip()[:100],
        # Without subscriptions.view the seat columns are hidden: sorting by them would reveal them.
        sort=request.args.get("sort", "name") if show_seats else "name",
        direction=request.args.get("direction", "asc"),
        page=requested_page(),
        per_page=current_app.config["CLIENTS_PER_PAGE"],
    )
    return render_page_or_partial("partners/overview.html", "partners/_client_table.html", **context)


@bp.route("/clients/new", methods=["GET", "POST"])
@login_required
def new_client():
    """A partner creates a client: name, billing cycle, optional trial."""
    partner = current_user.organisation
    if partner.kind != "partner":
        abort(404)
    require(permissions.manage_clients(partner))
    form = NewClientForm()
    status = 200
    if form.validate_on_submit():
        try:
            client = clients.create_client(current_user, partner, form.name.data, form.billing_cycle.data,
                                           trial_days=form.trial_days.data)
        except DomainError as error:
            add_error(form, error, "name")
            status = error.status
        else:
            flash(f"{client.name} was created. Add its first site.", "success")
            return redirect(url_for("clients.new_site", client_id=client.id), 303)
    elif form.is_submitted():
        status = 422
    return render_template("partners/new_client.html", form=form), status
