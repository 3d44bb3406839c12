"""Roles and the permissions they give (docs/rules.md section 4)."""
from dataclasses import dataclass

from portal.i18n import _l

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
    # Part two (docs/rules.md section 8): a partner's own prices, and its cost and margins (rule 23).
    "prices.manage",
    "margins.view",
    # Part three (docs/rules.md rule 32): a partner's webhook endpoints.
    "integrations.manage",
)


@dataclass(frozen=True)
class Role:
    code: str
    # The role in words, translated (docs/rules.md rule 37): read ``label``, in the request's language.
    lazy_label: object
    organisation_kind: str
    permissions: frozenset[str]
    # Whether the role may be limited to some sites of the client.
    site_restrictable: bool = False

    @property
    def label(self) -> str:
        """The role in words in the current language (English outside a request and in the API)."""
        return str(self.lazy_label)


ROLES = {
    role.code: role
    for role in (
        Role("operator_admin", _l("Operator admin"), "operator", frozenset(PERMISSIONS)),
        Role(
            "partner_admin",
            _l("Partner admin"),
            "partner",
            frozenset({"clients.view", "clients.manage", "users.manage", "roles.manage", "audit.view",
                       "integrations.manage"}),
        ),
        Role(
            "finance",
            _l("Finance — subscription management"),
            "partner",
            frozenset(
                {"clients.view", "subscriptions.view", "subscriptions.manage", "billing.view",
                 "prices.manage", "margins.view"}
            ),
        ),
        Role(
            "partner_support",
            _l("Partner support (read-only)"),
            "partner",
            frozenset({"clients.view", "subscriptions.view"}),
        ),
        Role(
            "client_admin",
            _l("Client admin"),
            "client",
            frozenset(
                # billing.view (DESIGN section 4, rule 27b): a clinic manager reads its own invoices, and
                # may name an accountant (nobody gives a permission they do not hold).
                {"clients.view", "users.manage", "roles.manage", "subscriptions.view", "billing.view", "audit.view"}
            ),
        ),
        Role(
            "site_manager",
            _l("Site manager"),
            "client",
            frozenset({"clients.view", "users.manage"}),
            site_restrictable=True,
        ),
        Role(
            "accountant",
            _l("Accountant (read-only)"),
            "client",
            frozenset({"billing.view"}),
            site_restrictable=True,
        ),
        Role("member", _l("Member"), "client", frozenset()),
    )
}


def roles_for(organisation_kind: str) -> list[Role]:
    return [role for role in ROLES.values() if role.organisation_kind == organisation_kind]


def role_codes_with(permission: str, organisation_kind: str) -> list[str]:
    """The codes of the roles of ``organisation_kind`` that hold ``permission`` (whom to tell of what)."""
    return [role.code for role in ROLES.values()
            if role.organisation_kind == organisation_kind and permission in role.permissions]
