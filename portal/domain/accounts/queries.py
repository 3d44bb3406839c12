"""Read models of people for the screens and the API: users, invitations, members, seat holders.

Each function returns a statement (or a short list) and never reads the
request: the caller hands in the client, the sites it reaches (``reach``,
``None`` for all of them) and the search text. A page and its API twin call
the same function here, so they cannot disagree on who is listed.
"""
import functools

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.orm import joinedload

from portal.domain.search import user_matches
from portal.domain.seats.queries import holds_seat
from portal.extensions import db
from portal.models import Invitation, Organisation, RoleAssignment, Site, User
from portal.rbac.roles import ROLES

PENDING_INVITATIONS_SHOWN = 200


def users_query(client: Organisation, reach: set[int] | None, q: str = "") -> Select:
    """The users of ``client`` (of the sites in ``reach`` only, unless None), matching ``q``; by name, id."""
    query = select(User).where(User.organisation_id == client.id)
    if reach is not None:
        query = query.where(User.site_id.in_(reach))
    if q:
        query = query.where(user_matches(q))
    return query.order_by(User.name, User.id)


def pending_invitations(client: Organisation, reach: set[int] | None, with_roles: bool = True) -> list[Invitation]:
    """The pending invitations of ``client`` (users of the sites in ``reach``), newest first, at most 200;
    ``with_roles``: the invited users' roles loaded too (whoever may not manage everyone asks for each row)."""
    params = {"client_id": client.id} if reach is None else {"client_id": client.id, "sites": sorted(reach)}
    return list(db.session.scalars(_pending_invitations_statement(reach is not None, with_roles), params))


@functools.cache
def _pending_invitations_statement(within_sites: bool, with_roles: bool):
    """Built once per shape: the client page lists them on every visit, and building cost as much as running."""
    # The roles: each row asks whether the caller may revoke (docs/rules.md rule 41b).
    user = joinedload(Invitation.user)
    query = (
        select(Invitation).join(User, Invitation.user_id == User.id)
        .where(Invitation.organisation_id == bindparam("client_id", type_=Integer), Invitation.status == "pending")
        .options(user.selectinload(User.role_assignments) if with_roles else user)
        .order_by(Invitation.created_at.desc())
        .limit(PENDING_INVITATIONS_SHOWN)
    )
    return query.where(User.site_id.in_(bindparam("sites", expanding=True))) if within_sites else query


def seat_holders_query(site_id) -> Select:
    """The users holding a seat at the site ``site_id`` (or a ``bindparam``, for a statement built once)
    (``holds_seat``: a user deactivated in a trial holds it until the trial ends), by name, id."""
    return select(User).where(User.site_id == site_id, holds_seat()).order_by(User.name, User.id)


def members_query(organisation: Organisation, q: str = "") -> Select:
    """The people of ``organisation`` (every status), matching ``q``; by name, id."""
    query = select(User).where(User.organisation_id == organisation.id)
    if q:
        query = query.where(user_matches(q))
    return query.order_by(User.name, User.id)


def sites_in_reach(client: Organisation, reach: set[int] | None) -> list[Site]:
    """The sites of ``client`` (those in ``reach`` only, unless None), by name, id."""
    query = select(Site).where(Site.client_id == client.id)
    if reach is not None:
        query = query.where(Site.id.in_(reach))
    return list(db.session.scalars(query.order_by(Site.name, Site.id)))


def finance_contacts(partner_id: int | None) -> list[User]:
    """The active members of the partner who may add seats (a role with subscriptions.manage), by name.

    Who a client admin short of seats should ask (issue 11, defect 9).
    """
    return partner_contacts(partner_id, "subscriptions.manage")


def partner_contacts(partner_id: int | None, capability: str) -> list[User]:
    """The active members of the partner holding a role with ``capability``, by name: whom to ask.

    ``clients.manage``: who adds a site to a client that has none (issue 11, defect 13).
    """
    if partner_id is None:
        return []
    roles = [role.code for role in ROLES.values()
             if role.organisation_kind == "partner" and capability in role.permissions]
    query = (select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
             .where(User.organisation_id == partner_id, User.status == "active", RoleAssignment.role.in_(roles))
             .distinct().order_by(User.name, User.id))
    return list(db.session.scalars(query))
