"""Giving and taking roles inside the actor's own organisation (docs/rules.md section 4).

What "holding a permission" means for the granter: a role can be granted,
changed or revoked only by an actor who holds every permission of that role
over the whole scope of the assignment.

- An organisation-wide assignment needs each permission organisation-wide
  (or operator-wide). A granter whose own permission is restricted to some
  sites therefore cannot grant anything organisation-wide.
- An assignment restricted to sites needs each permission on every one of
  those sites, either organisation-wide or through the granter's own
  restriction to that site.
- Revoking follows the same rule as granting (one cannot take away what one
  could not give), so a partner admin without billing rights cannot strip the
  finance role either.

Every change also needs ``roles.manage`` in the organisation, is one
transaction with a ``role.granted`` / ``role.revoked`` audit event, and
cannot leave the organisation without an active administrator.
"""
from dataclasses import dataclass

from sqlalchemy import func, select

from portal.domain import audit
from portal.domain.errors import Conflict, Forbidden, Invalid, NotFound
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import ngettext
from portal.models import Organisation, RoleAssignment, Site, User
from portal.rbac.permissions import holds_all, manage_roles, may
from portal.rbac.roles import ROLES, Role, roles_for

# The role that runs each kind of organisation: it can never lose its last holder.
ADMIN_ROLES = {"operator": "operator_admin", "partner": "partner_admin", "client": "client_admin"}

# A client has a handful of sites; this only bounds a forged request.
MAX_SITES = 500


@dataclass(frozen=True)
class Grantable:
    """A role the actor may give, and the sites it may be limited to (None: not restrictable)."""

    role: Role
    org_wide: bool
    site_ids: frozenset[int] | None


def grantable_roles(actor, organisation: Organisation | None = None) -> list[Grantable]:
    """The roles of the organisation's kind that ``actor`` may give there.

    A site-restrictable role whose permissions the actor holds only on some
    sites is listed with those sites and ``org_wide=False``.
    """
    organisation = organisation or actor.organisation
    if not may(actor, manage_roles(organisation)):
        return []
    sites = _client_sites(organisation)
    grantable = []
    for role in roles_for(organisation.kind):
        org_wide = _holds(actor, role, organisation, None)
        site_ids = None
        if role.site_restrictable and organisation.kind == "client":
            site_ids = frozenset(site.id for site in sites if _holds(actor, role, organisation, [site]))
        if org_wide or site_ids:
            grantable.append(Grantable(role, org_wide, site_ids))
    return grantable


def check_grant(actor, organisation: Organisation, role_code, site_ids=None) -> tuple[Role, list[Site]]:
    """The role and sites ``actor`` may give in ``organisation``, else the refusal (nothing written).

    ``Forbidden`` without roles.manage there or without every permission of the
    role over the scope; ``Invalid`` for an unknown role, a role of another kind
    of organisation, or sites that are not the client's or on a role that
    cannot be restricted. Giving a role to a member and inviting someone with it
    check the same.
    """
    _require_manage(actor, organisation)
    role = _role(role_code, organisation)
    site_ids = _site_ids(site_ids)
    if site_ids and not role.site_restrictable:
        raise Invalid(_("The %(role)s role cannot be limited to sites; leave the sites empty.", role=role.label),
                      field="site_ids")
    sites = _sites_of(organisation, site_ids)
    if not _holds(actor, role, organisation, sites or None):
        raise Forbidden(_lacking(role, sites), field="role")
    return role, sites


def grant_role(actor, user: User, role_code, site_ids=None) -> RoleAssignment:
    """Give ``role_code`` to ``user`` of the actor's organisation, maybe limited to sites.

    If the user already holds the role, its site restriction is replaced
    (the actor must hold the role's permissions over the old scope too).
    Raises ``NotFound`` for a user of another organisation, ``Invalid`` for
    an unknown role, a role of another kind of organisation, or sites that
    are not the client's or on a role that cannot be restricted,
    ``Forbidden`` when the actor lacks ``roles.manage`` or one of the role's
    permissions over the requested scope, ``Conflict`` when the user is
    deactivated or already holds the role with these sites. Commits.
    """
    organisation = _own_organisation(actor, user)
    role, sites = check_grant(actor, organisation, role_code, site_ids)
    site_ids = [site.id for site in sites]
    if user.status == "deactivated":
        raise Conflict(_("%(name)s is deactivated; roles cannot be given to a deactivated account.", name=user.name))
    user_id, organisation_id = user.id, organisation.id
    with write_transaction():
        _lock(organisation_id)
        assignment = _assignment(user_id, role.code)
        if assignment is None:
            before = None
            assignment = RoleAssignment(user_id=user_id, role=role.code)
            db.session.add(assignment)
        else:
            before = _describe(assignment)
            old_sites = list(assignment.sites)
            if {s.id for s in old_sites} == set(site_ids):
                raise Conflict(_already_holds(user, role, old_sites), field="role")
            # Changing the sites takes the old scope away: the actor must cover it too.
            if not _holds(actor, role, organisation, old_sites or None):
                raise Forbidden(_lacking(role, old_sites), field="role")
        assignment.sites = sites
        db.session.flush()
        audit.record(actor, "role.granted", "user", user_id, organisation_id,
                     before=before, after=_describe(assignment))
    return assignment


def revoke_role(actor, user: User, role_code) -> None:
    """Take ``role_code`` away from ``user`` of the actor's organisation.

    Same checks as ``grant_role`` over the assignment's scope; refuses
    (``Conflict``) to remove the last active holder of the organisation's
    administrator role. Commits, with an audit event.
    """
    organisation = _own_organisation(actor, user)
    _require_manage(actor, organisation)
    role = _role(role_code, organisation)
    user_id, organisation_id = user.id, organisation.id
    with write_transaction():
        # Serialise role changes per organisation: two admins revoking each
        # other at once must not both see "one other admin is left".
        _lock(organisation_id)
        assignment = _assignment(user_id, role.code)
        if assignment is None:
            raise Conflict(_("%(name)s does not hold the %(role)s role.", name=user.name, role=role.label),
                           field="role")
        sites = list(assignment.sites)
        if not _holds(actor, role, organisation, sites or None):
            raise Forbidden(_lacking(role, sites, taking=True), field="role")
        if role.code == ADMIN_ROLES[organisation.kind]:
            ensure_not_last_admin(user, organisation, locked=True)
        before = _describe(assignment)
        db.session.delete(assignment)
        audit.record(actor, "role.revoked", "user", user_id, organisation_id, before=before, after=None)


def may_revoke(actor, assignment: RoleAssignment) -> bool:
    """Whether the actor may take this assignment away (the last-admin rule aside): for the screens."""
    role = ROLES.get(assignment.role)
    organisation = actor.organisation
    if role is None or role.organisation_kind != organisation.kind or not may(actor, manage_roles(organisation)):
        return False
    return _holds(actor, role, organisation, list(assignment.sites) or None)


# --- checks ------------------------------------------------------------------

def _own_organisation(actor, user: User) -> Organisation:
    """The actor's organisation, if ``user`` belongs to it; another tenant's user is a 404."""
    if user is None or user.organisation_id != actor.organisation_id:
        raise NotFound(_("There is no such member in your organisation."))
    return actor.organisation


def _require_manage(actor, organisation) -> None:
    if not may(actor, manage_roles(organisation)):
        raise Forbidden(_("Managing roles needs the roles.manage permission in your organisation."))


def _role(role_code, organisation) -> Role:
    role = ROLES.get(role_code) if isinstance(role_code, str) else None
    if role is None or role.organisation_kind != organisation.kind:
        raise Invalid(_("Choose one of the roles of your organisation."), field="role")
    return role


def _site_ids(site_ids) -> list[int]:
    """Site ids as distinct ints (from ints or digit strings); anything else is Invalid."""
    if site_ids is None:
        return []
    if isinstance(site_ids, (str, bytes)) or not hasattr(site_ids, "__iter__"):
        raise Invalid(_("Choose sites from the list."), field="site_ids")
    cleaned = []
    for value in site_ids:
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 12:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2 ** 31:
            raise Invalid(_("Choose sites from the list."), field="site_ids")
        if value not in cleaned:
            cleaned.append(value)
    if len(cleaned) > MAX_SITES:
        raise Invalid(ngettext("Choose at most %(num)d site.", "Choose at most %(num)d sites.", MAX_SITES),
                      field="site_ids")
    return cleaned


def _sites_of(organisation, site_ids: list[int]) -> list[Site]:
    """The sites of this client with these ids; any other id (another client's site) is Invalid."""
    if not site_ids:
        return []
    if organisation.kind != "client":
        raise Invalid(_("Only roles of a client can be limited to sites."), field="site_ids")
    sites = db.session.scalars(
        select(Site).where(Site.id.in_(site_ids), Site.client_id == organisation.id).order_by(Site.name)
    ).all()
    if len(sites) != len(site_ids):
        raise Invalid(_("Choose sites of %(organisation)s only.", organisation=organisation.name), field="site_ids")
    return list(sites)


def _client_sites(organisation) -> list[Site]:
    if organisation.kind != "client":
        return []
    return list(db.session.scalars(select(Site).where(Site.client_id == organisation.id).order_by(Site.name)))


def _holds(actor, role: Role, organisation, sites) -> bool:
    """Whether the actor holds every permission of ``role`` over the scope.

    ``sites=None`` is the whole organisation; a list of sites is each of them.
    """
    if sites is None:
        return holds_all(actor, role.permissions, organisation)
    return all(holds_all(actor, role.permissions, site) for site in sites)


def _lacking(role: Role, sites, *, taking: bool = False) -> str:
    """Why the actor may not give (or take away) ``role`` over ``sites`` (none: organisation-wide)."""
    if taking and sites:
        return _("You cannot take away the %(role)s role for %(sites)s: it carries permissions you do not "
                 "hold there yourself.", role=role.label, sites=_site_names(sites))
    if taking:
        return _("You cannot take away the %(role)s role: it carries permissions you do not hold there "
                 "yourself.", role=role.label)
    if sites:
        return _("You cannot give the %(role)s role for %(sites)s: it carries permissions you do not hold "
                 "there yourself.", role=role.label, sites=_site_names(sites))
    return _("You cannot give the %(role)s role: it carries permissions you do not hold there yourself.",
             role=role.label)


def _already_holds(user: User, role: Role, sites) -> str:
    if sites:
        return _("%(name)s already holds the %(role)s role for %(sites)s.", name=user.name, role=role.label,
                 sites=_site_names(sites))
    return _("%(name)s already holds the %(role)s role.", name=user.name, role=role.label)


def _site_names(sites) -> str:
    """Site names are data: listed as they are, "Lyon, Paris"."""
    return ", ".join(site.name for site in sites)


# --- data ----------------------------------------------------------------------

def ensure_not_last_admin(user: User, organisation: Organisation, *, locked: bool = False) -> None:
    """Inside a write transaction: refuse (``Conflict``) to lose the last active administrator.

    Called before revoking the administrator role and before deactivating a
    user, so neither path can leave an organisation without one.
    """
    role = ROLES[ADMIN_ROLES[organisation.kind]]
    if not locked:
        _lock(organisation.id)
    holds = _assignment(user.id, role.code) is not None
    if holds and _other_active_admins(organisation.id, role.code, user.id) == 0:
        raise Conflict(
            _("%(name)s is the last active %(role)s of %(organisation)s. Give the %(role)s role to someone "
              "else first, so the organisation is never left without an administrator.",
              name=user.name, role=role.label, organisation=organisation.name), field="role")


def _lock(organisation_id: int) -> None:
    db.session.execute(select(Organisation.id).where(Organisation.id == organisation_id).with_for_update())


def _assignment(user_id: int, role_code: str) -> RoleAssignment | None:
    return db.session.scalar(
        select(RoleAssignment).where(RoleAssignment.user_id == user_id, RoleAssignment.role == role_code)
        .execution_options(populate_existing=True))


def _other_active_admins(organisation_id: int, role_code: str, user_id: int) -> int:
    return db.session.scalar(
        select(func.count(RoleAssignment.id)).join(User, RoleAssignment.user_id == User.id)
        .where(User.organisation_id == organisation_id, User.status == "active", User.id != user_id,
               RoleAssignment.role == role_code))


def _describe(assignment: RoleAssignment) -> dict:
    return {"role": assignment.role, "sites": sorted(site.id for site in assignment.sites)}
