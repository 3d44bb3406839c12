"""Members of the caller's own organisation and their roles (``roles.manage``).

Each member is one table row (``members/_member_row.html``, id
``member-<id>``): giving or taking a role swaps that row in place with htmx,
or, without JavaScript, posts the row's form and comes back to the list.
"""
from flask import abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from portal.blueprints.members import bp
from portal.blueprints.members.forms import GrantRoleForm
from portal.domain.accounts import roles
from portal.domain.errors import DomainError, Invalid
from portal.domain.search import user_matches
from portal.extensions import db
from portal.models import User
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.rbac.roles import ROLES
from portal.web.pagination import page_window
from portal.web.rendering import render_page_or_partial


@bp.before_request
@login_required
def _require_roles_manage():
    require(permissions.manage_roles(current_user.organisation))


def _member_or_404(user_id: int) -> User:
    """A member of the caller's own organisation; anyone else's id is a 404."""
    member = db.session.scalar(
        select(User).where(User.id == user_id, User.organisation_id == current_user.organisation_id))
    if member is None:
        abort(404)
    return member


class _Screen:
    """What every row needs, computed once per request: grantable roles and offered sites."""

    def __init__(self):
        self.grantable = roles.grantable_roles(current_user)
        offered = set().union(*(g.site_ids or () for g in self.grantable))
        self.sites = [site for site in current_user.organisation.sites if site.id in offered]

    def form(self, member, **kwargs) -> GrantRoleForm:
        return GrantRoleForm(member, self.grantable, self.sites, **kwargs)

    def row(self, member, form=None, error=None, notice=None, back=None) -> dict:
        """The context of one member's row; ``back`` is the list's search and page, kept by its forms."""
        if member.status == "deactivated" or not self.grantable:
            form = None
        elif form is None:
            form = self.form(member, formdata=None)
        return dict(member=member, form=form, error=error, notice=notice, back=back or _back(),
                    revocable={a.role for a in member.role_assignments if roles.may_revoke(current_user, a)})


def _back(q=None, page=None) -> dict:
    """The list's search and page (from the request unless given), for the links and forms of a row."""
    q = q if q is not None else request.args.get("q", "").strip()[:100]
    page = str(page if page is not None else request.args.get("page", ""))
    page = page if page.isdigit() and len(page) < 7 and page != "1" else ""
    return {key: value for key, value in (("q", q), ("page", page)) if value}


def _listing(screen: _Screen, errors=None) -> dict:
    """One page of members (search on name and e-mail), each with its row context."""
    q = request.args.get("q", "").strip()[:100]
    per_page = current_app.config["USERS_PER_PAGE"]
    query = select(User).where(User.organisation_id == current_user.organisation_id)
    if q:
        query = query.where(user_matches(q))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    page, pages = page_window(total, per_page)
    members = db.session.scalars(
        query.options(selectinload(User.role_assignments)).order_by(User.name, User.id)
        .limit(per_page).offset((page - 1) * per_page)).all()
    errors, back = errors or {}, _back(q, page)
    rows = [screen.row(member, back=back, **errors.get(member.id, {})) for member in members]
    return dict(rows=rows, total=total, page=page, pages=pages, q=q, roles=ROLES)


@bp.route("")
def index():
    return render_page_or_partial("members/index.html", "members/_list.html", **_listing(_Screen()))


def _answer(screen, member, *, form=None, error: DomainError | None = None, notice=None):
    """The row (htmx), or back to the list: redirect on success, the page with the error otherwise."""
    if request.headers.get("HX-Request"):
        return render_page_or_partial("members/_member_row.html", "members/_member_row.html",
                                      error.status if error else 200, roles=ROLES,
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
    member = _member_or_404(user_id)
    screen = _Screen()
    form = screen.form(member)
    if not form.validate_on_submit():
        message = next((m for messages in form.errors.values() for m in messages), "Choose a role.")
        return _answer(screen, member, form=form, error=Invalid(message))
    site_ids = (form.site_ids.data or None) if form.site_ids is not None else None
    try:
        assignment = roles.grant_role(current_user, member, form.role.data, site_ids)
    except DomainError as error:
        if error.status == 404:
            abort(404)
        return _answer(screen, member, form=form, error=error)
    return _answer(screen, member, notice=f"{member.name} now holds the {ROLES[assignment.role].label} role.")


@bp.route("/<id:user_id>/roles/<role_code>/revoke", methods=["GET", "POST"])
def revoke(user_id, role_code):
    """GET asks for confirmation (works without JavaScript); POST takes the role away."""
    member = _member_or_404(user_id)
    assignment = next((a for a in member.role_assignments if a.role == role_code), None)
    if assignment is None or role_code not in ROLES:
        abort(404)
    role = ROLES[role_code]
    if request.method == "GET":
        return render_page_or_partial("members/confirm_revoke.html", "members/confirm_revoke.html",
                                      member=member, role=role, assignment=assignment)
    screen = _Screen()
    try:
        roles.revoke_role(current_user, member, role_code)
    except DomainError as error:
        if error.status == 404:
            abort(404)
        return _answer(screen, member, error=error)
    return _answer(screen, member, notice=f"{member.name} no longer holds the {role.label} role.")
