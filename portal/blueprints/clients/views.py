from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from portal.blueprints.clients import bp
from portal.blueprints.clients.forms import BulkInviteForm, NewSiteForm, NewUserForm
from portal.domain.accounts import invitations, users
from portal.domain.billing import invoices as billing
from portal.domain.errors import DomainError
from portal.domain.orgs import clients
from portal.domain.search import user_matches
from portal.domain.seats import counters as seats
from portal.domain.seats import queries as dashboards
from portal.extensions import db
from portal.models import Invitation, Site, User
from portal.rbac import permissions
from portal.rbac.decorators import require
from portal.rbac.scoping import get_user_or_404, site_ids_in_reach
from portal.web.forms import add_error
from portal.web.pagination import page_window
from portal.web.rendering import render_page_or_partial


def _user_listing(client, reach):
    """One page of the client's users (those of reachable sites for restricted roles)."""
    q = request.args.get("q", "").strip()[:100]
    per_page = current_app.config["USERS_PER_PAGE"]
    query = select(User).where(User.organisation_id == client.id)
    if reach is not None:
        query = query.where(User.site_id.in_(reach))
    if q:
        query = query.where(user_matches(q))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page, pages = page_window(total, per_page)
    rows = db.session.scalars(
        query.options(joinedload(User.site), joinedload(User.subscription_type))
        .order_by(User.name, User.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).all()
    return dict(rows=rows, total=total, page=page, pages=pages, q=q)


def _pending_invitations(client, reach):
    if not permissions.manage_users_within(client).can():
        return None
    query = (select(Invitation).join(User, Invitation.user_id == User.id)
             .where(Invitation.organisation_id == client.id, Invitation.status == "pending")
             .options(joinedload(Invitation.user)).order_by(Invitation.created_at.desc()).limit(200))
    if reach is not None:
        query = query.where(User.site_id.in_(reach))
    return db.session.scalars(query).all()


def _detail_context(client, **extra):
    reach = site_ids_in_reach(current_user, client)
    context = dict(
        client=client,
        preview=billing.next_period_preview(client) if permissions.view_invoices(client).can() else None,
        sites=dashboards.site_rows(client, reach),
        users=_user_listing(client, reach),
        pending=_pending_invitations(client, reach),
        totals=dashboards.client_totals(client, reach) if permissions.view_subscriptions(client).can() else None,
        report=None,
    )
    context.update(extra)
    return context


@bp.route("")
def detail():
    return render_page_or_partial("clients/detail.html", "clients/_users.html", **_detail_context(g.client))


@bp.route("/sync-seats", methods=["POST"])
def sync_seats():
    """Recount the consumed seats from the users and show what changed."""
    require(permissions.view_subscriptions(g.client))
    report = seats.synchronise_consumed(current_user, g.client)
    db.session.refresh(g.client)
    return render_page_or_partial("clients/detail.html", "clients/_sync.html",
                                  **_detail_context(g.client, report=report))


@bp.route("/billing-cycle", methods=["POST"])
def change_billing_cycle():
    """Finance sets the cycle for the next period, or withdraws a pending change (empty value)."""
    require(permissions.manage_seats(g.client))
    cycle = request.form.get("billing_cycle", "")
    error = None
    try:
        billing.change_billing_cycle(current_user, g.client, cycle or None)
    except DomainError as refused:
        error = refused
    db.session.refresh(g.client)
    if request.headers.get("HX-Request") or error:
        context = _detail_context(g.client, billing_error=error and error.message)
        return render_page_or_partial("clients/detail.html", "clients/_billing.html",
                                      error.status if error else 200, **context)
    flash("Billing cycle change saved." if cycle else "Pending billing cycle change withdrawn.", "success")
    return redirect(url_for("clients.detail", client_id=g.client.id), 303)


def _manageable_sites(client):
    reach = site_ids_in_reach(current_user, client)
    query = select(Site).where(Site.client_id == client.id).order_by(Site.name)
    if reach is not None:
        query = query.where(Site.id.in_(reach))
    return [site for site in db.session.scalars(query) if permissions.manage_users(site).can()]


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    """Create a user holding a seat; the form shows the free seats of each type."""
    client = g.client
    require(permissions.manage_users_within(client))
    sites = _manageable_sites(client)
    types = seats.catalogue()
    if request.method == "GET" and request.args:
        form = NewUserForm(sites, types, formdata=request.args, meta={"csrf": False})
    else:
        form = NewUserForm(sites, types)
    status, no_seat = 200, None
    if form.validate_on_submit():
        site, subscription_type = form.chosen_site(), form.chosen_type()
        try:
            user = users.create_user(current_user, site, subscription_type, form.email.data,
                                     form.name.data, add_seat=form.add_seat.data, send=form.send_invitation.data)
        except DomainError as error:
            add_error(form, error, "email")
            status = error.status
            no_seat = error if error.code == "no_free_seat" else None
        else:
            sent = "and invited" if form.send_invitation.data == "now" else "; send the invitation when ready"
            flash(f"{user.name} was created {sent} ({subscription_type.name} at {site.name}).", "success")
            return redirect(url_for("clients.detail", client_id=client.id))
    elif request.method == "POST":
        status = 422
    site, chosen = form.chosen_site(), form.chosen_type()
    can_add_seat = site is not None and permissions.manage_seats(site).can()
    context = dict(client=client, form=form, site=site, no_seat=no_seat,
                   seat_rows=seats.seat_rows(site) if site else [], can_add_seat=can_add_seat,
                   seat_cost=billing.quote_increase(client, chosen, 1) if can_add_seat and chosen else None)
    return render_page_or_partial("clients/new_user.html", "clients/_new_user_form.html", status, **context)


@bp.route("/users/<id:user_id>/deactivate", methods=["GET", "POST"])
def deactivate_user(user_id):
    """GET asks for confirmation (works without JavaScript); POST deactivates."""
    user = get_user_or_404(g.client, user_id)
    require(permissions.manage_users(user))
    if request.method == "GET":
        return render_page_or_partial("clients/confirm_deactivate.html", "clients/confirm_deactivate.html",
                                      client=g.client, user=user)
    try:
        user = users.deactivate_user(current_user, user)
    except DomainError as error:
        if request.headers.get("HX-Request"):
            return render_page_or_partial("clients/_user_row.html", "clients/_user_row.html",
                                          error.status, client=g.client, user=user, error=error.message)
        # DESIGN.md rule 20: a refusal (own account, already deactivated) answers 409, not a redirect.
        flash(error.message, "error")
        return render_page_or_partial("clients/detail.html", "clients/_users.html", error.status,
                                      **_detail_context(g.client))
    if request.headers.get("HX-Request"):
        return render_page_or_partial("clients/_user_row.html", "clients/_user_row.html",
                                      client=g.client, user=user, error=None)
    flash(f"{user.name} was deactivated; their seat is free again.", "success")
    return redirect(url_for("clients.detail", client_id=g.client.id), 303)


@bp.errorhandler(DomainError)
def _domain_error(error):  # a service refusal not handled by its view
    abort(error.status)


@bp.route("/sites/new", methods=["GET", "POST"])
def new_site():
    require(permissions.permission("clients.manage", g.client))
    form = NewSiteForm()
    status = 200
    if form.validate_on_submit():
        try:
            site = clients.create_site(current_user, g.client, form.name.data)
        except DomainError as error:
            add_error(form, error, "name")
            status = error.status
        else:
            flash(f"Site {site.name} was created.", "success")
            return redirect(url_for("clients.detail", client_id=g.client.id), 303)
    elif form.is_submitted():
        status = 422
    return render_page_or_partial("clients/new_site.html", "clients/new_site.html", status,
                                  client=g.client, form=form)


@bp.route("/invitations/<id:user_id>/<any(send, revoke):action>", methods=["POST"])
def invitation_action(user_id, action):
    """Send (or resend) a pending invitation, or revoke it and free the seat."""
    user = get_user_or_404(g.client, user_id)
    require(permissions.manage_users(user))
    try:
        if action == "send":
            invitations.send_invitation(current_user, user)
        else:
            invitations.revoke_invitation(current_user, user)
    except DomainError as error:
        flash(error.message, "error")
    else:
        done = "sent again" if action == "send" else "revoked; the seat is free again"
        flash(f"The invitation of {user.email} was {done}.", "success")
    if request.headers.get("HX-Request"):
        return render_page_or_partial("clients/detail.html", "clients/_invitations.html",
                                      **_detail_context(g.client))
    return redirect(url_for("clients.detail", client_id=g.client.id), 303)


@bp.route("/users/bulk", methods=["GET", "POST"])
def bulk_invite():
    """Invite several people to one type at one site, all or nobody."""
    client = g.client
    require(permissions.manage_users_within(client))
    sites, types = _manageable_sites(client), seats.catalogue()
    form = BulkInviteForm(sites, types)
    status, no_seat = 200, None
    if form.validate_on_submit():
        site, subscription_type = form.chosen_site(), form.chosen_type()
        try:
            created = users.bulk_invite(current_user, site, subscription_type, form.emails.data,
                                        add_seats=form.add_seats.data, send=form.send_invitation.data)
        except DomainError as error:
            add_error(form, error, "emails")
            status, no_seat = error.status, error.code == "no_free_seat"
        else:
            flash(f"{len(created)} people were invited ({subscription_type.name} at {site.name}).", "success")
            return redirect(url_for("clients.detail", client_id=client.id), 303)
    elif form.is_submitted():
        status = 422
    site = form.chosen_site()
    return render_template("clients/bulk_invite.html", client=client, form=form, no_seat=no_seat,
                           seat_rows=seats.seat_rows(site) if site else [], site=site,
                           can_add_seat=site is not None and permissions.manage_seats(site).can()), status
