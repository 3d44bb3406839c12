"""Roles and the permissions they give (docs/rules.md section 4)."""
from dataclasses import dataclass

PERMISSIONS = (
    "clients.view",
    "clients.manage",
    "users.manage",
    "roles.manage",
    "subscriptions.view",
    "subscriptions.manage",
    "billing.view",
    "audit.view",
    "partners.manage",
)


@dataclass(frozen=True)
class Role:
    code: str
    label: str
    organisation_kind: str
    permissions: frozenset[str]
    # Whether the role may be limited to some sites of the client.
    site_restrictable: bool = False


ROLES = {
    role.code: role
    for role in (
        Role("operator_admin", "Operator admin", "operator", frozenset(PERMISSIONS)),
        Role(
            "partner_admin",
            "Partner admin",
            "partner",
            frozenset({"clients.view", "clients.manage", "users.manage", "roles.manage", "audit.view"}),
        ),
        Role(
            "finance",
            "Finance — subscription management",
            "partner",
            frozenset(
                {"clients.view", "subscriptions.view", "subscriptions.manage", "billing.view"}
            ),
        ),
        Role(
            "partner_support",
            "Partner support (read-only)",
            "partner",
            frozenset({"clients.view", "subscriptions.view"}),
        ),
        Role(
            "client_admin",
            "Client admin",
            "client",
            frozenset(
                {"clients.view", "users.manage", "roles.manage", "subscriptions.view", "audit.view"}
            ),
        ),
        Role(
            "site_manager",
            "Site manager",
            "client",
            frozenset({"clients.view", "users.manage"}),
            site_restrictable=True,
        ),
        Role(
            "accountant",
            "Accountant (read-only)",
            "client",
            frozenset({"billing.view"}),
            site_restrictable=True,
        ),
        Role("member", "Member", "client", frozenset()),
    )
}


def roles_for(organisation_kind: str) -> list[Role]:
    return [role for role in ROLES.values() if role.organisation_kind == organisation_kind]
