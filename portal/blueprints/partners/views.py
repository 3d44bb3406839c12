from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user

from portal.blueprints.partners import bp
from portal.blueprints.partners.forms import NewClientForm
from portal.domain.orgs import clients, partners
from portal.domain.seats import queries
from portal.domain.usage import Scope
from portal.i18n import gettext as _
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.rbac.scoping import reaches_several_partners
from portal.web.forms import submit
from portal.web.pagination import requested_page
from portal.web.rendering import render, render_page_or_partial
from portal.web.seat_trend import seat_trend


@bp.route("/overview")
@login_required
def overview():
    """The Wazo dashboard: totals per type over all clients, and the per-client list."""
    organisation = current_user.organisation
    if organisation.kind == "client":
        abort(404)
    require(permissions.view_clients(organisation))
    show_seats = permissions.view_subscriptions(organisation).can()
    tab = request.args.get("tab", "totals" if show_seats else "clients")
    if tab not in ("totals", "clients") or (tab == "totals" and not show_seats):
        tab = "clients"
    context = dict(organisation=organisation, show_seats=show_seats, tab=tab)
    if tab == "totals":
        context["totals"] = totals = queries.partner_totals(current_user)
        seats = queries.seats_summed(totals)  # the chart ends at the totals shown beside it: not read twice
        context["trend"] = seat_trend(Scope.partner(None if organisation.kind == "operator" else organisation.id),
                                      name=organisation.name, chart_id="partner-usage",
                                      current=(seats.allocated, seats.consumed))
        return render_page_or_partial("partners/overview.html", "partners/_totals.html", **context)
    context["listing"] = queries.client_page(
        current_user,
        q=request.args.get("q", "").strip()[:100],
        # Without view_subscriptions the seat columns are hidden: sorting by them would reveal them.
        sort=request.args.get("sort", "name") if show_seats else "name",
        direction=request.args.get("direction", "asc"),
        page=requested_page(),
        per_page=current_app.config["CLIENTS_PER_PAGE"],
    )
    # The operator reaches every partner's clients: each row names its partner (docs/rules.md screen 15).
    context["partner_of"] = (partners.partners_of_clients([row.id for row in context["listing"].rows])
                             if reaches_several_partners(current_user) else None)
    context["partner_links"] = context["partner_of"] is not None and permissions.manage_partners().can()
    return render_page_or_partial("partners/overview.html", "partners/_client_table.html", **context)


@bp.route("/clients/new", methods=["GET", "POST"])
@login_required
def new_client():
    """A partner creates a client: name, billing cycle, optional trial, the language of its invitations."""
    partner = current_user.organisation
    if partner.kind != "partner":
        abort(404)
    require(permissions.manage_clients(partner))
    form = NewClientForm()
    submission = submit(form, lambda: clients.create_client(
        current_user, partner, form.name.data, form.billing_cycle.data, trial_days=form.trial_days.data,
        language=form.language.data), "name")
    if submission.done:
        flash(_("%(client)s was created. Add its first site.", client=submission.result.name), "success")
        return redirect(url_for("clients.new_site", client_id=submission.result.id), 303)
    return render("partners/new_client.html", submission.status, form=form)
