"""Named permissions, shared by views, templates, services and the API.

Each factory returns a Flask-Principal ``Permission`` made of the needs that
would allow the action on that object, from the widest scope (operator) to the
narrowest (the site). A view asks ``manage_seats(site).can()`` and the
template asks the same, so a hidden button and a refused request cannot
disagree. Services check actors with ``allows(actor, ...)``.
"""
import functools

from flask import g
from flask_principal import Permission

from portal.models import Organisation, Site, User
from portal.rbac.needs import ALL, identity_for
from portal.rbac.roles import ROLES, Role, roles_for


def _scopes(target) -> list[tuple]:
    """The scopes that contain ``target``, widest first."""
    scopes = [(ALL, None)]
    if isinstance(target, Site):
        client = target.client
        return scopes + [("partner", client.parent_id), ("client", client.id), ("site", target.id)]
    if isinstance(target, User):
        organisation = target.organisation
        if organisation.kind == "client":
            scopes += [("partner", organisation.parent_id), ("client", organisation.id)]
            if target.site_id is not None:
                scopes.append(("site", target.site_id))
            return scopes
        return scopes + [(organisation.kind, organisation.id)]
    if isinstance(target, Organisation):
        if target.kind == "client":
            return scopes + [("partner", target.parent_id), ("client", target.id)]
        return scopes + [(target.kind, target.id)]
    return scopes


def permission(name: str, target=None) -> Permission:
    """Allows ``name`` on ``target`` (or anywhere, with no target)."""
    if target is None:
        return Permission((name, ALL, None))
    return Permission(*[(name, scope, ident) for scope, ident in _scopes(target)])


def permission_within(name: str, client: Organisation) -> Permission:
    """Allows ``name`` on the whole client or on at least one of its sites."""
    return Permission(
        *[(name, scope, ident) for scope, ident in _scopes(client)], (name, "within", client.id)
    )


def allows(actor, name: str, target=None) -> bool:
    """Whether ``actor`` (a User) holds permission ``name`` on ``target``."""
    return permission(name, target).allows(identity_for(actor))


def holds_all(actor, names, target=None) -> bool:
    """Whether ``actor`` holds every permission in ``names`` on ``target`` (e.g. all of a role's)."""
    identity = identity_for(actor)
    return all(permission(name, target).allows(identity) for name in names)


class AllOf:
    """A capability that needs every one of several permissions.

    A Flask-Principal ``Permission`` is allowed by any one of its needs; this
    asks for all of them, and answers ``can()`` / ``allows()`` like one, so
    ``may(actor, ...)``, views and templates use it the same way.
    """

    def __init__(self, permissions):
        self.permissions = tuple(permissions)

    def allows(self, identity) -> bool:
        return all(each.allows(identity) for each in self.permissions)

    def can(self) -> bool:
        return self.allows(g.identity)


def may(actor, capability: Permission) -> bool:
    """Whether ``actor`` holds a named capability: ``may(actor, manage_seats(site))``.

    For services and the API, which act for a user other than the request's
    identity; screens ask ``capability.can()``.
    """
    return capability.allows(identity_for(actor))


@functools.cache  # a pure function of the capability, asked on every invoice line filter
def permission_name(capability) -> str:
    """The permission a named capability checks: ``permission_name(view_clients)`` → ``"clients.view"``.

    Read off the needs the capability builds for a client (every capability
    that takes a target accepts one), so each name is written once, in its
    capability; the API's OpenAPI document states it for each operation.
    """
    probe = Organisation(id=0, kind="client", parent_id=0)
    (name,) = {need[0] for need in capability(probe).needs}
    return name


# Named capabilities: the vocabulary of the screens and the API.
def view_client(client):
    return permission_within("clients.view", client)


def view_clients(organisation):
    """clients.view over a whole partner (or the operator): its client list and overview."""
    return permission("clients.view", organisation)


def manage_clients(partner):
    return permission("clients.manage", partner)


def manage_client(client):
    """clients.manage on one client: rename it, add its sites."""
    return permission("clients.manage", client)


def view_site(site):
    return permission("clients.view", site)


def view_user(user):
    """clients.view where the user is: their site, else their whole organisation (docs/rules.md rule 41b)."""
    return permission("clients.view", user)


def view_subscriptions(target):
    return permission("subscriptions.view", target)


def view_subscriptions_within(client):
    """subscriptions.view on the whole client or on one of its sites: its seats over time, summed over those."""
    return permission_within("subscriptions.view", client)


def manage_seats(target):
    return permission("subscriptions.manage", target)


def manage_users(target):
    return permission("users.manage", target)


def manage_users_within(client):
    return permission_within("users.manage", client)


def _held_roles(user) -> list[tuple[Role, list]]:
    """The roles ``user`` holds, each with the scopes it covers (its sites, else the whole organisation).

    Read from the role assignments, not the user's identity, so an invited
    user's roles count too; a misplaced assignment grants nothing (as in needs.py).
    """
    organisation = user.organisation
    held = []
    for assignment in user.role_assignments:
        role = ROLES.get(assignment.role)
        if role is not None and role.organisation_kind == organisation.kind:
            held.append((role, list(assignment.sites) or [organisation]))
    return held


def manage_user(user):
    """Deactivate, edit or move ``user``: nobody manages up (docs/rules.md rule 41b).

    ``users.manage`` where the user is (their site, else their organisation),
    and every permission of every role the user holds, over every scope the
    user holds it: a site manager of Lyon cannot deactivate a client admin
    holding a seat at Lyon, nor a site manager of Lyon and Paris.
    """
    required = [manage_users(user)]
    for role, scopes in _held_roles(user):
        required += [permission(name, scope) for name in sorted(role.permissions) for scope in scopes]
    return AllOf(required)


def manage_every_user_of(client):
    """``manage_user`` over every user of ``client`` at once: ``users.manage`` and every permission of every
    client role, over the whole client (or wider).

    Whoever holds it outranks any role a user of the client can hold, at any of its sites (role
    assignments are limited to the client's own sites, accounts.grants), so a list of the client's users
    knows each row is manageable without reading their roles (the client page, docs/rules.md rule 41b).
    """
    return AllOf([permission(name, client) for name in _CLIENT_ROLE_PERMISSIONS])


_CLIENT_ROLE_PERMISSIONS = sorted({"users.manage"}.union(*(role.permissions for role in roles_for("client"))))


def may_manage_user(actor, user) -> bool:
    """Whether ``actor`` may deactivate, edit or move ``user`` (``manage_user``)."""
    return may(actor, manage_user(user))


def roles_beyond(actor, user) -> list[Role]:
    """The roles of ``user`` carrying a permission ``actor`` lacks over its scope (for refusal messages)."""
    identity = identity_for(actor)
    return [role for role, scopes in _held_roles(user)
            if not all(permission(name, scope).allows(identity) for name in role.permissions for scope in scopes)]


def view_billing(target):
    return permission_within("billing.view", target)


def view_audit(target):
    return permission("audit.view", target)


def manage_partners():
    return permission("partners.manage")


def view_margins(organisation):
    """margins.view over a partner (or the operator): the partner's cost and margins (docs/rules.md rule 23).

    Only partner finance and the operator hold it; no client role ever does.
    """
    return permission("margins.view", organisation)


def manage_prices(organisation):
    """prices.manage over a partner (or the operator): its price book and its clients' prices."""
    return permission("prices.manage", organisation)


def read_price_book(partner):
    """The partner's price book page and API: prices.manage or margins.view over the partner."""
    return manage_prices(partner).union(view_margins(partner))


TEMPLATE_HELPERS = {
    "view_client": view_client,
    "view_site": view_site,
    "view_subscriptions": view_subscriptions,
    "manage_seats": manage_seats,
    "manage_users": manage_users,
    "manage_users_within": manage_users_within,
    "manage_clients": manage_clients,
}


def view_invoices(organisation):
    """billing.view over an organisation's invoices (a client: also from chosen sites)."""
    if organisation.kind == "client":
        return permission_within("billing.view", organisation)
    return permission("billing.view", organisation)


TEMPLATE_HELPERS["view_invoices"] = view_invoices
TEMPLATE_HELPERS["view_subscriptions_within"] = view_subscriptions_within
TEMPLATE_HELPERS["manage_client"] = manage_client


def manage_roles(organisation):
    """roles.manage in ``organisation``: give and take roles of its members."""
    return permission("roles.manage", organisation)


TEMPLATE_HELPERS["manage_roles"] = manage_roles


def manage_partner_details(partner):
    """clients.manage over a partner (its administrators, the operator): its legal and tax details
    (docs/rules.md rule 25), which every invoice to its clients carries."""
    return permission("clients.manage", partner)


TEMPLATE_HELPERS["manage_partner_details"] = manage_partner_details


def end_sessions_of(member):
    """End all of ``member``'s login sessions (docs/rules.md rule 40): as to manage them, nobody manages up (41b)."""
    return manage_user(member)


TEMPLATE_HELPERS["end_sessions_of"] = end_sessions_of
TEMPLATE_HELPERS["manage_user"] = manage_user
TEMPLATE_HELPERS["view_audit"] = view_audit
TEMPLATE_HELPERS["manage_partners"] = manage_partners
TEMPLATE_HELPERS["view_margins"] = view_margins
TEMPLATE_HELPERS["manage_prices"] = manage_prices
TEMPLATE_HELPERS["read_price_book"] = read_price_book


# Seat requests (docs/rules.md rule 29): who asks (users.manage at the site), who decides
# (subscriptions.manage there: ``manage_seats``), and who sees them: either of the two.
SEAT_REQUEST_VIEWERS = ("users.manage", "subscriptions.manage")


def view_seat_requests(target):
    """See seat requests: users.manage or subscriptions.manage on ``target``.

    A site: that site's requests. A client: somewhere in it (a site manager sees
    the list of their sites' requests). A partner or the operator: over it.
    """
    scoped = permission_within if isinstance(target, Organisation) and target.kind == "client" else permission
    return Permission(*[need for name in SEAT_REQUEST_VIEWERS for need in scoped(name, target).needs])


TEMPLATE_HELPERS["view_seat_requests"] = view_seat_requests


def view_insights(organisation):
    """Insight (docs/rules.md rule 36): subscriptions.view over the organisation — a partner's or the
    operator's staff over all of it; a client's staff on the whole client or on some of its sites (then
    they read those sites only)."""
    if organisation.kind == "client":
        return view_subscriptions_within(organisation)
    return view_subscriptions(organisation)


TEMPLATE_HELPERS["view_insights"] = view_insights


def manage_integrations(organisation):
    """integrations.manage over a partner (its administrators) or the operator: its webhook endpoints and
    their delivery log (docs/rules.md rule 32)."""
    return permission("integrations.manage", organisation)


TEMPLATE_HELPERS["manage_integrations"] = manage_integrations
