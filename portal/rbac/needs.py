"""Turn a user's role assignments into tenant-qualified Flask-Principal needs.

A need is ``(permission, scope, id)``: ``("users.manage", "client", 9)`` means
"may manage users anywhere in client 9", ``("users.manage", "site", 42)`` only
at site 42. Operator admins get ``(permission, "all", None)``. Because every
need names its tenant, a permission stays correct even if a scoped lookup were
ever missed.
"""
from flask_principal import Identity, Need

from portal.models import RoleAssignment, User
from portal.models.user import role_assignment_sites
from portal.rbac.roles import ROLES

ALL = "all"


def needs_for(user, assignments=None) -> set[tuple]:
    """The needs of ``user``'s roles: ``assignments`` as (role code, site ids) pairs when the caller read them
    (the session query), else from ``user.role_assignments``."""
    organisation = user.organisation
    needs: set[tuple] = {Need("organisation", organisation.id)}
    if not user.is_active:
        return needs
    if assignments is None:
        assignments = [(each.role, [site.id for site in each.sites]) for each in user.role_assignments]
    for role_code, site_ids in assignments:
        role = ROLES.get(role_code)
        if role is None or role.organisation_kind != organisation.kind:
            continue  # a stale or misplaced assignment grants nothing
        needs.add(Need("role", role.code))
        for permission in role.permissions:
            if organisation.kind == "operator":
                needs.add((permission, ALL, None))
            elif site_ids:
                # "Somewhere in this client": lets the client page open, showing only those sites.
                needs.add((permission, "within", organisation.id))
                needs.update((permission, "site", site_id) for site_id in site_ids)
            else:
                needs.add((permission, organisation.kind, organisation.id))
                needs.add((permission, "within", organisation.id))
    return needs


def with_role_columns(query):
    """``query`` (joining ``User``) with two more columns: each role of the user and each site of that role.

    One row per role and site (a role over the whole organisation: one row, site None; no role: one row, role
    None), read as plain columns: loading the assignments as objects cost several times as much, and the
    browser session and the API token load the caller this way on every request. ``assignments_in`` reads them.
    """
    return (query.add_columns(RoleAssignment.role, role_assignment_sites.c.site_id)
            .outerjoin(RoleAssignment, RoleAssignment.user_id == User.id)
            .outerjoin(role_assignment_sites, role_assignment_sites.c.role_assignment_id == RoleAssignment.id)
            .order_by(RoleAssignment.id))


def assignments_in(rows) -> list[tuple[str, list[int]]]:
    """The (role code, site ids) pairs of ``with_role_columns`` rows (their last two columns), for needs_for."""
    sites_of: dict[str, list[int]] = {}
    for *_columns, role, site_id in rows:
        if role is not None:
            sites_of.setdefault(role, []).extend([site_id] if site_id is not None else [])
    return list(sites_of.items())


def identity_for(user) -> Identity:
    """The identity of ``user``, built once per user object.

    Used for the logged-in user on each request and for actors passed to
    services from the CLI or tests.
    """
    identity = getattr(user, "_rbac_identity", None)
    if identity is None:
        identity = remember_identity(user, needs_for(user))
    return identity


def remember_identity(user, needs) -> Identity:
    """Make ``needs`` the identity of ``user`` (what ``identity_for`` returns from now on)."""
    identity = Identity(user.id, "portal")
    identity.user = user
    identity.provides.update(needs)
    user._rbac_identity = identity
    return identity


def has_any_role(user) -> bool:
    return any(need[0] == "role" for need in identity_for(user).provides)
