from flask import abort, current_app, request
from flask_login import current_user

from ...rbac import permissions
from ...rbac.decorators import login_required, require
from ...rendering import render_page_or_partial
from ...services import dashboards
from . import bp


def _int_arg(name: str, default: int) -> int:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 7 else default


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
        sort=request.args.get("sort", "name"),
        direction=request.args.get("direction", "asc"),
        page=_int_arg("page", 1),
        per_page=current_app.config["CLIENTS_PER_PAGE"],
    )
    return render_page_or_partial("partners/overview.html", "partners/_client_table.html", **context)
