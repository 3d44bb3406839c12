"""Which sections the main navigation offers (base.html): asked on every page, worked out once per kind of
identity.

The links follow the same capabilities as the pages they lead to, so a link and the page cannot disagree.
Asking ten capabilities on every page cost about as much as drawing the rest of the navigation (1.5 ms);
the answer depends only on the identity's needs and where the user works, so it is kept per those.
"""
import functools

from flask import g
from flask_login import current_user

from portal.models import Organisation
from portal.rbac import permissions

# Section → the capability of the page it links to ("client" and "operator" are decided below).
_SECTIONS = {
    "invoices": permissions.view_invoices,
    "insight": permissions.view_insights,
    "margins": permissions.view_margins,
    "price_book": permissions.read_price_book,
    "seat_requests": permissions.view_seat_requests,
    "members": permissions.manage_roles,
    "webhooks": permissions.manage_integrations,
    "audit": permissions.view_audit,
}
# Sections only some kinds of organisation have: a partner's price book, a partner's or the operator's webhooks.
_KINDS = {"price_book": {"partner"}, "webhooks": {"partner", "operator"}}


def sections() -> frozenset[str]:
    """The sections the logged-in user's navigation shows ("invoices", "client", "operator"…); none before the
    request's identity is loaded (a request refused before it, as a CSRF error)."""
    identity = g.get("identity")
    if identity is None or not current_user.is_authenticated:
        return frozenset()
    organisation = current_user.organisation
    return _sections(frozenset(identity.provides), organisation.id, organisation.kind, organisation.parent_id)


@functools.lru_cache(maxsize=4096)
def _sections(provides: frozenset, organisation_id: int, kind: str, parent_id: int | None) -> frozenset[str]:
    identity = _Needs(provides)
    # A stand-in with what the capabilities read (never added to the database session).
    organisation = Organisation(id=organisation_id, kind=kind, parent_id=parent_id)
    shown = {name for name, capability in _SECTIONS.items()
             if kind in _KINDS.get(name, {kind}) and capability(organisation).allows(identity)}
    if kind == "client" and permissions.view_client(organisation).allows(identity):
        shown.add("client")
    if permissions.manage_partners().allows(identity):
        shown.add("operator")
    return frozenset(shown)


class _Needs:
    """What Flask-Principal's ``Permission.allows`` reads of an identity: its needs."""

    def __init__(self, provides):
        self.provides = provides
