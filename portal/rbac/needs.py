"""Turn a user's role assignments into tenant-qualified Flask-Principal needs.

A need is ``(permission, scope, id)``: ``("users.manage", "client", 9)`` means
"may manage users anywhere in client 9", ``("users.manage", "site", 42)`` only
at site 42. Operator admins get ``(permission, "all", None)``. Because every
need names its tenant, a permission stays correct even if a scoped lookup were
ever missed.
"""
from flask_principal import Identity, Need

from portal.rbac.roles import ROLES

ALL = "all"


def needs_for(user) -> set[tuple]:
    organisation = user.organisation
    needs: set[tuple] = {Need("organisation", organisation.id)}
    if not user.is_active:
        return needs
    for assignment in user.role_assignments:
        role = ROLES.get(assignment.role)
        if role is None or role.organisation_kind != organisation.kind:
            continue  # a stale or misplaced assignment grants nothing
        needs.add(Need("role", role.code))
        for permission in role.permissions:
            if organisation.kind == "operator":
                needs.add((permission, ALL, None))
            elif assignment.sites:
                # "Somewhere in this client": lets the client page open, showing only those sites.
                needs.add((permission, "within", organisation.id))
                needs.update((permission, "site", site.id) for site in assignment.sites)
            else:
                needs.add((permission, organisation.kind, organisation.id))
                needs.add((permission, "within", organisation.id))
    return needs


def identity_for(user) -> Identity:
    """The identity of ``user``, built once per user object.

    Used for the logged-in user on each request and for actors passed to
    services from the CLI or tests.
    """
    identity = getattr(user, "_rbac_identity", None)
    if identity is None:
        identity = Identity(user.id, "portal")
        identity.user = user
        identity.provides.update(needs_for(user))
        user._rbac_identity = identity
    return identity


def has_any_role(user) -> bool:
    return any(need[0] == "role" for need in identity_for(user).provides)
