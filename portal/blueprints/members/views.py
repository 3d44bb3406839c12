"""Members of the caller's own organisation and their roles (``permissions.manage_roles``).

Each member is one table row (``members/_member_row.html``, id
``member-<id>``): giving or taking a role swaps that row in place with htmx,
or, without JavaScript, posts the row's form and comes back to the list.
"""
from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from portal.blueprints.members import bp
from portal.blueprints.members.forms import GrantRoleForm, InviteMemberForm, RequireTwoStepForm
from portal.domain.accounts import grants, staff, two_step
from portal.domain.accounts import sessions as account_sessions
from portal.domain.accounts import queries as people
from portal.domain.errors import DomainError, Invalid
from portal.i18n import gettext as _
from portal.i18n import ngettext
from portal.models import User
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.rbac.roles import ROLES
from portal.rbac.scoping import get_member_or_404
from portal.web.forms import submit
from portal.web.pagination import requested
from portal.web.rendering import is_htmx, render, render_page_or_partial


@bp.before_request
@login_required
def _require_roles_manage():
    require(permissions.manage_roles(current_user.organisation))


class _Screen:
    """What every row needs, computed once per request: grantable roles and offered sites."""

    def __init__(self):
        self.grantable = grants.grantable_roles(current_user)
        offered = set().union(*(g.site_ids or () for g in self.grantable))
        self.sites = [site for site in current_user.organisation.sites if site.id in offered]
        self.live_sessions: dict[int, int] = {}  # member id -> live login sessions (docs/rules.md rule 40)

    def count_sessions(self, members) -> None:
        """Count the live sessions of these members in one query (a page of rows, or one row)."""
        missing = [member.id for member in members if member.id not in self.live_sessions]
        if missing:
            self.live_sessions.update(dict.fromkeys(missing, 0))
            self.live_sessions.update(account_sessions.count_live_sessions(missing))

    def form(self, member, **kwargs) -> GrantRoleForm:
        return GrantRoleForm(member, self.grantable, self.sites, **kwargs)

    def row(self, member, form=None, error=None, notice=None, back=None) -> dict:
        """The context of one member's row; ``back`` is the list's search and page, kept by its forms."""
        if member.status == "deactivated" or not self.grantable:
            form = None
        elif form is None:
            form = self.form(member, formdata=None)
        self.count_sessions([member])
        return dict(member=member, form=form, error=error, notice=notice, back=back or _back(),
                    sessions=self.live_sessions[member.id],
                    revocable={a.role for a in member.role_assignments if grants.may_revoke(current_user, a)})


def _back(q=None, page=None) -> dict:
    """The list's search and page (from the request unless given), for the links and forms of a row."""
    q = q if q is not None else request.args.get("q", "").strip()[:100]
    page = str(page if page is not None else request.args.get("page", ""))
    page = page if page.isdigit() and len(page) < 7 and page != "1" else ""
    return {key: value for key, value in (("q", q), ("page", page)) if value}


def _listing(screen: _Screen, errors=None) -> dict:
    """One page of members (search on name and e-mail), each with its row context."""
    q = request.args.get("q", "").strip()[:100]
    listing = requested(people.members_query(current_user.organisation, q), current_app.config["USERS_PER_PAGE"],
                        options=(selectinload(User.role_assignments),))
    errors, back = errors or {}, _back(q, listing.page)
    screen.count_sessions(listing.rows)
    rows = [screen.row(member, back=back, **errors.get(member.id, {})) for member in listing.rows]
    return dict(rows=rows, total=listing.total, page=listing.page, pages=listing.pages, q=q, roles=ROLES)


@bp.context_processor
def _two_step_requirement():
    """The form of the checkbox ``require_two_step`` (docs/rules.md rule 38) on the members page."""
    organisation = current_user.organisation
    return dict(require_two_step_form=lambda: RequireTwoStepForm(
                    formdata=None, require_two_step=organisation.require_two_step),
                required_by_operator=lambda: two_step.operator_requires_it_for_partners(organisation))


@bp.route("/two-step", methods=["POST"])
def require_two_step():
    """Require two-step verification of every member (the operator's choice covers every partner's staff too)."""
    organisation = current_user.organisation
    form = RequireTwoStepForm()
    form.validate_on_submit()  # a checkbox: only its CSRF token can be wrong, refused with 400 before this
    try:
        two_step.set_requirement(current_user, organisation, form.require_two_step.data)
    except DomainError as error:
        abort(error.status)
    if form.require_two_step.data and organisation.is_operator:
        flash(_("Two-step verification is now required of the operator's members and every partner's staff: "
                "those not set up yet are asked to set it up before anything else."), "success")
    elif form.require_two_step.data:
        flash(_("Two-step verification is now required of every member: those not set up yet are asked to set it "
                "up before anything else."), "success")
    elif organisation.is_operator:
        flash(_("Two-step verification is no longer required of the operator's members and every partner's staff."),
              "success")
    else:
        flash(_("Two-step verification is no longer required of every member."), "success")
    return redirect(url_for("members.index"), 303)


@bp.route("/invite", methods=["GET", "POST"])
def invite():
    """Invite someone with a role and no seat: a client's accountant, a partner's colleague (rule 27b)."""
    screen = _Screen()
    form = InviteMemberForm(screen.grantable, screen.sites)
    sites = form.site_ids.data if "site_ids" in form else None
    submission = submit(form, lambda: staff.invite_member(current_user, form.email.data, form.name.data,
                                                          form.role.data, sites, send=form.send_invitation.data),
                        "email")
    if submission.done:
        invited = submission.result
        role = ROLES[form.role.data].label
        if form.send_invitation.data == "now":
            flash(_("%(name)s was invited as %(role)s.", name=invited.name, role=role), "success")
        else:
            flash(_("%(name)s was added as %(role)s; send the invitation when ready.", name=invited.name, role=role),
                  "success")
        return redirect(url_for("members.index"), 303)
    return render("members/invite.html", submission.status, form=form)


@bp.route("")
def index():
    return render_page_or_partial("members/index.html", "members/_list.html", **_listing(_Screen()))


def _answer(screen, member, *, form=None, error: DomainError | None = None, notice=None):
    """The row (htmx), or back to the list: redirect on success, the page with the error otherwise."""
    if is_htmx():
        return render("members/_member_row.html", error.status if error else 200, roles=ROLES,
                      **screen.row(member, form, error and error.message, notice))
    if error is None:
        flash(notice, "success")
        return redirect(url_for("members.index", **_back()), 303)
    errors = {member.id: dict(form=form, error=error.message)}
    return render_page_or_partial("members/index.html", "members/_list.html", error.status,
                                  **_listing(screen, errors))


@bp.route("/<id:user_id>/roles", methods=["POST"])
def grant(user_id):
    """Give a role (maybe limited to sites), or change the sites of one the member holds."""
    member = get_member_or_404(user_id)
    screen = _Screen()
    form = screen.form(member)
    # The row shows the refusal itself (error=…): it goes on no field.
    submission = submit(form, lambda: grants.grant_role(
        current_user, member, form.role.data,
        (form.site_ids.data or None) if form.site_ids is not None else None), None)
    if submission.done:
        label = ROLES[submission.result.role].label
        return _answer(screen, member, notice=_("%(name)s now holds the %(role)s role.", name=member.name, role=label))
    error = submission.error
    if error is None:  # an invalid form: its first message
        error = Invalid(next((m for messages in form.errors.values() for m in messages), _("Choose a role.")))
    elif error.status == 404:
        abort(404)
    return _answer(screen, member, form=form, error=error)


@bp.route("/<id:user_id>/roles/<role_code>/revoke", methods=["GET", "POST"])
def revoke(user_id, role_code):
    """GET asks for confirmation (works without JavaScript); POST takes the role away."""
    member = get_member_or_404(user_id)
    assignment = next((a for a in member.role_assignments if a.role == role_code), None)
    if assignment is None or role_code not in ROLES:
        abort(404)
    role = ROLES[role_code]
    if request.method == "GET":
        return render("members/confirm_revoke.html", member=member, role=role, assignment=assignment)
    screen = _Screen()
    try:
        grants.revoke_role(current_user, member, role_code)
    except DomainError as error:
        if error.status == 404:
            abort(404)
        return _answer(screen, member, error=error)
    return _answer(screen, member, notice=_("%(name)s no longer holds the %(role)s role.", name=member.name,
                                            role=role.label))


@bp.route("/<id:user_id>/sessions/end", methods=["GET", "POST"])
def end_sessions(user_id):
    """End every login session of a member (docs/rules.md rule 40); GET asks for confirmation (works without JavaScript).

    Needs ``permissions.end_sessions_of(member)``: users.manage over them and every permission they
    hold (nobody manages up, docs/rules.md rule 41b).
    """
    member = get_member_or_404(user_id)
    require(permissions.end_sessions_of(member))
    if request.method == "GET":
        return render("members/confirm_end_sessions.html", member=member,
                      sessions=account_sessions.count_live_sessions([member.id]).get(member.id, 0))
    screen = _Screen()
    try:
        ended = account_sessions.end_member_sessions(current_user, member)
    except DomainError as error:
        return _answer(screen, member, error=error)
    if not ended:
        return _answer(screen, member, notice=_("%(name)s had no open session.", name=member.name))
    return _answer(screen, member, notice=ngettext(
        "%(num)d session of %(name)s ended: they are logged out everywhere.",
        "%(num)d sessions of %(name)s ended: they are logged out everywhere.", ended, name=member.name))
