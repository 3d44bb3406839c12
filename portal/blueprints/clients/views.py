import functools

from flask import abort, current_app, flash, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import MultiDict

from portal import clock
from portal.blueprints.clients import bp
from portal.blueprints.clients.forms import BulkInviteForm, NewSiteForm, NewUserForm
from portal.domain.accounts import invitations, users
from portal.domain.accounts import queries as people
from portal.domain.billing import cycles, invoices, price_book
from portal.domain.errors import DomainError
from portal.domain.orgs import clients
from portal.domain.seats import queries, sync
from portal.domain.usage import Scope
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import ngettext
from portal.models import RoleAssignment, User
from portal.rbac import permissions
from portal.rbac.decorators import require
from portal.rbac.scoping import get_user_or_404, site_ids_in_reach
from portal.web.forms import Submission, submit
from portal.web.pagination import requested
from portal.web.rendering import is_htmx, render, render_page_or_partial
from portal.web.seat_trend import seat_trend

# The client page is made of parts; each builds only the context of its own fragment, so a
# fragment answering htmx costs its own queries, and the whole page is every part together.
# ``page.reach(capability)`` is the sites the caller reaches with that permission: each part shows
# the sites of the permission it exercises (docs/rules.md rule 41b). What several parts show (the
# site rows, the prices) ``page`` reads once.


class _Page:
    """One request's client page: the client, the caller's reach, and what several parts read, read once."""

    def __init__(self, client):
        self.client = client
        self._site_rows = {}

    def reach(self, capability):
        return site_ids_in_reach(current_user, self.client, capability)

    def whole_client(self, capability) -> bool:
        """The caller holds ``capability`` over the whole client (not only over some of its sites)."""
        return capability(self.client).can() and self.reach(capability) is None

    def site_rows(self, sites):
        """The client's site rows over ``sites`` (None: every site): the sites panel, the seat totals and the
        next invoice read the same rows when the caller reaches every site."""
        key = None if sites is None else frozenset(sites)
        if key not in self._site_rows:
            self._site_rows[key] = queries.site_rows(self.client, sites)
        return self._site_rows[key]

    @functools.cached_property
    def manages_everyone(self) -> bool:
        """The caller may manage every user of the client (``manage_every_user_of``): the user and invitation
        lists then need not read each user's roles to show their buttons."""
        return permissions.manage_every_user_of(self.client).can()

    @functools.cached_property
    def prices(self):
        """The client's prices, for those who read its invoices in full; None otherwise."""
        return price_book.client_prices(self.client) if self.whole_client(permissions.view_invoices) else None


def _billing_part(page, billing_error=None) -> dict:
    """The billing panel (``clients/_billing.html``): cycle, and the next invoice for those who see invoices.

    An accountant restricted to some sites sees no whole-client amount: no preview.
    """
    client, preview = page.client, None
    if page.prices is not None:
        preview = invoices.next_period_preview(client, page.site_rows(None), page.prices)
    return dict(preview=preview, billing_error=billing_error, in_trial=invoices.in_trial(client, clock.today()))


def _prices_part(page) -> dict:
    """The prices panel (``clients/_prices.html``): what each type is billed at now and from the next period
    (docs/rules.md rule 22), for those who read the client's invoices in full; None hides it."""
    return dict(client_prices=page.prices)


def _sync_part(page, report=None) -> dict:
    """The synchronisation panel (``clients/_sync.html``), with the report of a run just made."""
    return dict(report=report)


def _seats_part(page) -> dict:
    """The seat totals per type and the seats over time (``_macros/charts.html``), for those who see the seat
    totals (None hides them); the chart ends at those totals."""
    client = page.client
    if not permissions.view_subscriptions(client).can():
        return dict(totals=None, trend=None)
    sites = page.reach(permissions.view_subscriptions)
    if page.prices is not None:  # the catalogue is known: the totals are the site rows' sums
        totals = queries.seat_totals(page.site_rows(sites), [item.subscription_type for item in page.prices])
    else:
        totals = queries.client_totals(client, sites)
    seats = queries.seats_summed(totals)
    return dict(totals=totals, trend=seat_trend(Scope.client(client.id, sites), name=client.name,
                                               chart_id="client-usage", current=(seats.allocated, seats.consumed)))


def _sites_part(page) -> dict:
    return dict(sites=page.site_rows(page.reach(permissions.view_client)))


def _invitations_part(page) -> dict:
    """The pending invitations (``clients/_invitations.html``); None hides the section.

    Answering htmx, the fragment also carries the flash messages to ``#flash`` (out of band);
    in a full page ``base.html`` shows them, once (docs/rules.md screen 15f).
    """
    client, pending = page.client, None
    if permissions.manage_users_within(client).can():
        pending = people.pending_invitations(client, page.reach(permissions.manage_users),
                                             with_roles=not page.manages_everyone)
    return dict(pending=pending, flash_oob=is_htmx(), manages_everyone=page.manages_everyone)


def _users_part(page) -> dict:
    """One page of the client's users (``clients/_users.html``; restricted roles: their sites' users)."""
    q = request.args.get("q", "").strip()[:100]
    # One statement: the page's users, with the count beside them and, unless the caller manages everyone,
    # their roles and those roles' sites for manage_user (the page's rows are limited in a subquery; the
    # roles join outside it).
    options = (joinedload(User.site), joinedload(User.subscription_type))
    if not page.manages_everyone:
        options += (joinedload(User.role_assignments).joinedload(RoleAssignment.sites),)
    listing = requested(people.users_query(page.client, page.reach(permissions.view_client), q),
                        current_app.config["USERS_PER_PAGE"], query={"q": q}, counted_beside=True, options=options)
    return dict(users=listing, manages_everyone=page.manages_everyone)


_PAGE_PARTS = (_billing_part, _prices_part, _sync_part, _seats_part, _sites_part, _invitations_part, _users_part)


def _client_page(partial: str, part, status: int = 200, **given):
    """For htmx, ``partial`` with the context of its ``part`` only; otherwise the whole client page.

    ``given`` goes to ``part`` (a report, an error to show in that part).
    """
    page = _Page(g.client)
    if is_htmx():
        return render(partial, status, client=page.client, **part(page, **given))
    context = dict(client=page.client)
    for each in _PAGE_PARTS:
        context.update(each(page, **given) if each is part else each(page))
    return render("clients/detail.html", status, **context)


@bp.route("")
def detail():
    return _client_page("clients/_users.html", _users_part)


@bp.route("/sync-seats", methods=["POST"])
def sync_seats():
    """Recount the consumed seats from the users and show what changed."""
    require(permissions.view_subscriptions(g.client))
    report = sync.synchronise_consumed(current_user, g.client)
    db.session.refresh(g.client)
    return _client_page("clients/_sync.html", _sync_part, report=report)


@bp.route("/billing-cycle", methods=["POST"])
def change_billing_cycle():
    """Finance sets the cycle for the next period, or withdraws a pending change (empty value)."""
    require(permissions.manage_seats(g.client))
    cycle = request.form.get("billing_cycle", "")
    error = None
    try:
        cycles.change_billing_cycle(current_user, g.client, cycle or None)
    except DomainError as refused:
        error = refused
    db.session.refresh(g.client)
    if is_htmx() or error:
        return _client_page("clients/_billing.html", _billing_part, error.status if error else 200,
                            billing_error=error and error.message)
    flash(_("Billing cycle change saved.") if cycle else _("Pending billing cycle change withdrawn."), "success")
    return redirect(url_for("clients.detail", client_id=g.client.id), 303)


@bp.route("/billing-cycle/withdraw")
def confirm_withdraw_billing_cycle():
    """Ask before withdrawing the pending cycle change (works without JavaScript); its form posts to
    ``change_billing_cycle`` with an empty cycle, as the htmx button does after ``hx-confirm``."""
    require(permissions.manage_seats(g.client))
    if not g.client.pending_billing_cycle:  # withdrawn meanwhile, or a stale link
        flash(_("No billing cycle change is pending."), "error")
        return redirect(url_for("clients.detail", client_id=g.client.id), 303)
    return render("clients/confirm_withdraw_cycle.html", client=g.client)


def _manageable_sites(client):
    """The sites in the caller's reach where they may create users (the forms' choices)."""
    sites = people.sites_in_reach(client, site_ids_in_reach(current_user, client, permissions.manage_users))
    return [site for site in sites if permissions.manage_users(site).can()]


# What a URL may choose on the user forms: the site and the type, never what was typed.
_CHOICES_IN_URL = ("site_id", "subscription_type")


def _seat_choice_form(form_class, sites, types):
    """The new-user or bulk-invite form of this request; ``(form, refreshing)``.

    Changing the site or the type re-renders the form (htmx on change, the "Show its seats" button
    without JavaScript) with a POST flagged ``refresh=y``: the typed name and e-mail addresses and
    the CSRF token travel in the body, never in a URL that server logs keep (issue 11, defect 13).
    Nothing is created then, and nothing was validated, so no error shows. A GET takes only the
    site and the type from its query string (a link may preselect them).
    """
    if request.method == "POST":
        return form_class(sites, types), request.form.get("refresh") == "y"
    chosen = MultiDict([(key, value) for key in _CHOICES_IN_URL for value in request.args.getlist(key)])
    if chosen:
        return form_class(sites, types, formdata=chosen, meta={"csrf": False}), False
    return form_class(sites, types), False


def _no_site_context(client, sites) -> dict:
    """When the caller may create users at no site: whether the client has no site at all, and who adds one.

    Someone holding clients.manage gets the "New site" link; anyone else is told whom to ask
    (issue 11, defect 13: "You cannot create users at any site" said nothing of a client without sites).
    """
    if sites or people.sites_in_reach(client, None):
        return dict(no_site_yet=False, site_creators=[])
    may_create = permissions.manage_client(client).can()
    return dict(no_site_yet=True, may_create_site=may_create,
                site_creators=[] if may_create else people.partner_contacts(client.partner_id, "clients.manage"))


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    """Create a user holding a seat; the form shows the free seats of each type."""
    client = g.client
    require(permissions.manage_users_within(client))
    sites = _manageable_sites(client)
    types = queries.catalogue()
    form, refreshing = _seat_choice_form(NewUserForm, sites, types)
    submission = Submission() if refreshing else submit(form, lambda: users.create_user(
        current_user, form.chosen_site(), form.chosen_type(), form.email.data, form.name.data,
        add_seat=form.add_seat.data, send=form.send_invitation.data), "email")
    site, chosen = form.chosen_site(), form.chosen_type()
    if submission.done:
        names = dict(name=submission.result.name, type=chosen.name, site=site.name)
        if form.send_invitation.data == "now":
            flash(_("%(name)s was created and invited (%(type)s at %(site)s).", **names), "success")
        else:
            flash(_("%(name)s was created; send the invitation when ready (%(type)s at %(site)s).", **names), "success")
        return redirect(url_for("clients.detail", client_id=client.id))
    error = submission.error
    can_add_seat = site is not None and permissions.manage_seats(site).can()
    rows = _offered_seat_rows(site, can_add_seat)
    chosen_row = next((row for row in rows if chosen is not None and row.subscription_type.id == chosen.id), None)
    # The offer (or whom to ask) shows as soon as the chosen type has no free seat, not only after a
    # refused submit (issue 11, defect 9); it says the refusal itself, so the field does not repeat it.
    no_seat = (error is not None and error.code == "no_free_seat") or (chosen_row is not None and chosen_row.free <= 0)
    free = None
    if error is not None and error.code == "no_free_seat":
        form.subscription_type.errors = []
        free = error.extra.get("free")
    elif chosen_row is not None:
        free = chosen_row.free
    context = dict(client=client, form=form, site=site, chosen=chosen, no_seat=no_seat, free=free,
                   seat_rows=rows, can_add_seat=can_add_seat,
                   finance=people.finance_contacts(client.partner_id) if no_seat and not can_add_seat else [],
                   seat_cost=invoices.quote_increase(client, chosen, 1) if can_add_seat and chosen else None,
                   **_no_site_context(client, sites))
    return render_page_or_partial("clients/new_user.html", "clients/_new_user_form.html", submission.status,
                                  **context)


def _offered_seat_rows(site, can_add_seat: bool) -> list:
    """The seat rows a user form offers at ``site``: a type with nothing allocated there only to
    those who may add seats (issue 11, defect 9)."""
    if site is None:
        return []
    return [row for row in queries.seat_rows(site) if row.allocated > 0 or can_add_seat]


@bp.route("/users/<id:user_id>/deactivate", methods=["GET", "POST"])
def deactivate_user(user_id):
    """GET asks for confirmation (works without JavaScript); POST deactivates."""
    user = get_user_or_404(g.client, user_id)
    require(permissions.manage_users(user))
    try:
        # Nobody manages up (docs/rules.md rule 41b): the confirmation is refused as the POST is.
        if request.method == "GET":
            users.ensure_may_manage(current_user, user, "deactivate")
            return render("clients/confirm_deactivate.html", client=g.client, user=user)
        user = users.deactivate_user(current_user, user)
    except DomainError as error:
        if is_htmx():
            return render("clients/_user_row.html", error.status, client=g.client, user=user, error=error.message)
        # docs/rules.md rule 20: a refusal (own account, already deactivated) answers 409, not a redirect.
        flash(error.message, "error")
        return _client_page("clients/_users.html", _users_part, error.status)
    if is_htmx():
        return render("clients/_user_row.html", client=g.client, user=user, error=None)
    flash(_("%(name)s was deactivated; their seat is free again.", name=user.name), "success")
    return redirect(url_for("clients.detail", client_id=g.client.id), 303)


@bp.errorhandler(DomainError)
def _domain_error(error):  # a service refusal not handled by its view
    abort(error.status)


@bp.route("/sites/new", methods=["GET", "POST"])
def new_site():
    require(permissions.manage_client(g.client))
    form = NewSiteForm()
    submission = submit(form, lambda: clients.create_site(current_user, g.client, form.name.data), "name")
    if submission.done:
        flash(_("Site %(name)s was created.", name=submission.result.name), "success")
        return redirect(url_for("clients.detail", client_id=g.client.id), 303)
    return render("clients/new_site.html", submission.status, client=g.client, form=form)


@bp.route("/invitations/<id:user_id>/<any(send, revoke):action>", methods=["POST"])
def invitation_action(user_id, action):
    """Send (or resend) a pending invitation, or revoke it and free the seat."""
    user = get_user_or_404(g.client, user_id)
    # Revoking deactivates the invited user: nobody manages up (docs/rules.md rule 41b).
    require(permissions.manage_user(user) if action == "revoke" else permissions.manage_users(user))
    try:
        if action == "send":
            invitations.send_invitation(current_user, user)
        else:
            invitations.revoke_invitation(current_user, user)
    except DomainError as error:
        flash(error.message, "error")
    else:
        if action == "send":
            flash(_("The invitation of %(email)s was sent again.", email=user.email), "success")
        else:
            flash(_("The invitation of %(email)s was revoked; the seat is free again.", email=user.email), "success")
    if is_htmx():
        return _client_page("clients/_invitations.html", _invitations_part)
    return redirect(url_for("clients.detail", client_id=g.client.id), 303)


@bp.route("/invitations/<id:user_id>/revoke", methods=["GET"])
def confirm_revoke_invitation(user_id):
    """Ask before revoking an invitation (works without JavaScript); its form posts to ``invitation_action``."""
    user = get_user_or_404(g.client, user_id)
    require(permissions.manage_user(user))  # as the revocation itself: nobody manages up (rule 41b)
    if user.status != "invited":  # accepted or revoked meanwhile
        flash(_("This invitation is no longer pending."), "error")
        return redirect(url_for("clients.detail", client_id=g.client.id), 303)
    return render("clients/confirm_revoke_invitation.html", client=g.client, user=user)


@bp.route("/users/bulk", methods=["GET", "POST"])
def bulk_invite():
    """Invite several people to one type at one site, all or nobody."""
    client = g.client
    require(permissions.manage_users_within(client))
    sites, types = _manageable_sites(client), queries.catalogue()
    form, refreshing = _seat_choice_form(BulkInviteForm, sites, types)
    submission = Submission() if refreshing else submit(form, lambda: users.bulk_invite(
        current_user, form.chosen_site(), form.chosen_type(), form.emails.data,
        add_seats=form.add_seats.data, send=form.send_invitation.data), "emails")
    site, chosen = form.chosen_site(), form.chosen_type()
    if submission.done:
        flash(ngettext("%(num)d person was invited (%(type)s at %(site)s).",
                       "%(num)d people were invited (%(type)s at %(site)s).",
                       len(submission.result), type=chosen.name, site=site.name), "success")
        return redirect(url_for("clients.detail", client_id=client.id), 303)
    error = submission.error
    no_seat = error is not None and error.code == "no_free_seat"
    can_add_seat = site is not None and permissions.manage_seats(site).can()
    missing = error.extra.get("missing", 0) if no_seat else 0
    return render_page_or_partial(
        "clients/bulk_invite.html", "clients/_bulk_invite_form.html", submission.status, client=client, form=form,
        no_seat=no_seat, missing=missing, seat_rows=_offered_seat_rows(site, can_add_seat), site=site,
        chosen=chosen, can_add_seat=can_add_seat,
        # "Add the missing seats" says what they cost now (issue 11, defect 8).
        seats_cost=invoices.quote_increase(client, chosen, missing) if can_add_seat and missing > 0 else None,
        **_no_site_context(client, sites))
