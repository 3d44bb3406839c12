"""Moving a user's seat to another site or subscription type, and renaming a user (docs/rules.md rule 27).

A move claims the new seat and releases the old one in one transaction: the
claim is the same conditional UPDATE as a creation's, so N concurrent moves
into k free seats move exactly k users, and no free seat refuses the move
like a creation (``NoFreeSeat`` with ``free``), unless finance adds the seat
in the same step. Billing follows allocations, not users: a move alone issues
no invoice; a seat added for it is bought (and prorated) like any other.

Lock order, so that concurrent moves cannot deadlock on PostgreSQL: the
user's row first, then the two counter changes in (type, site) order, which
is also the order of the partner totals they move.
"""
from sqlalchemy import select

from portal.domain import audit, validation
from portal.domain.accounts.users import ensure_may_manage
from portal.domain.errors import Conflict, Forbidden, Invalid, NoFreeSeat
from portal.domain.seats import counters
from portal.domain.seats.allocations import buy_seats
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import _l
from portal.i18n import gettext as _
from portal.models import Site, SubscriptionType, User
from portal.rbac.permissions import manage_seats, manage_users, may, permission_name


def change_user(actor, user: User, *, name=None, site: Site | None = None,
                subscription_type: SubscriptionType | None = None, add_seat: bool = False) -> User:
    """Rename ``user`` and/or move their seat, in one transaction (the API's PATCH /users/{id}).

    ``site`` and ``subscription_type`` default to the user's current ones; giving
    either moves the seat. Checks before anything is written: nobody manages up
    (``Forbidden``), users.manage at the new site, subscriptions.manage there for
    ``add_seat``, the site belongs to the user's client (``Invalid``). Commits,
    with a ``user.renamed`` and/or ``user.seat_moved`` audit event.
    """
    moving = site is not None or subscription_type is not None
    if name is not None:
        name = validation.text(name, "name", label=_l("name"))
    ensure_may_manage(actor, user, "change")
    if moving:
        site = site or user.site
        subscription_type = subscription_type or user.subscription_type
        _check_move(actor, user, site, add_seat)
    user_id = user.id
    with write_transaction():
        user = db.session.scalar(select(User).where(User.id == user_id).with_for_update()
                                 .execution_options(populate_existing=True))
        if name is not None and name != user.name:
            audit.record(actor, "user.renamed", "user", user_id, user.organisation_id,
                         before={"name": user.name}, after={"name": name})
            user.name = name
        if moving:
            _move(actor, user, site, subscription_type, add_seat)
    return user


def move_seat(actor, user: User, site: Site, subscription_type: SubscriptionType, *, add_seat=False) -> User:
    """Move ``user``'s seat to ``subscription_type`` at ``site``; see ``change_user``."""
    return change_user(actor, user, site=site, subscription_type=subscription_type, add_seat=add_seat)


def _check_move(actor, user: User, site: Site | None, add_seat: bool) -> None:
    if site is None or user.site_id is None:
        raise Conflict(_("%(name)s holds no seat to move.", name=user.name), field="site_id")
    check_seat_site(actor, user, site, add_seat, doing="move")


def check_seat_site(actor, user: User, site: Site, add_seat: bool, *, doing: str) -> None:
    """Before a user takes a seat at ``site`` (a move, a reactivation): the site is their client's
    (``Invalid``), the actor holds users.manage there and, to add the seat, subscriptions.manage (``Forbidden``).
    ``doing`` ("move" or "reactivate") chooses the refusal: "Moving a user to Lyon needs …"."""
    if site.client_id != user.organisation_id:
        raise Invalid(_("Choose a site of the user's own client."), field="site_id")
    if actor is None:
        return
    if not may(actor, manage_users(site)):
        permission = permission_name(manage_users)
        if doing == "reactivate":
            message = _("Reactivating a user at %(site)s needs the %(permission)s permission there.",
                        site=site.name, permission=permission)
        else:
            message = _("Moving a user to %(site)s needs the %(permission)s permission there.",
                        site=site.name, permission=permission)
        raise Forbidden(message, field="site_id")
    if add_seat and not may(actor, manage_seats(site)):
        raise Forbidden(_("Adding a seat needs the subscription management role."), field="add_seat")


def _move(actor, user: User, site: Site, subscription_type: SubscriptionType, add_seat: bool) -> None:
    """Inside the transaction, the user's row locked: claim the new seat, release the old one."""
    if user.status == "deactivated":
        raise Conflict(_("%(name)s is deactivated: reactivate them to give them a seat.", name=user.name),
                       field="site_id")
    old = (user.subscription_type_id, user.site_id)
    new = (subscription_type.id, site.id)
    if old == new:
        raise Conflict(_("%(name)s already holds a %(type)s seat at %(site)s.", name=user.name,
                         type=subscription_type.name, site=site.name), field="subscription_type")
    for type_id, site_id in sorted({old, new}):
        if (type_id, site_id) == old:
            counters.release_seat(site_id, type_id)
        elif not counters.claim_seat(site_id, type_id):
            if not add_seat:
                raise _no_free_seat(actor, user, site, subscription_type)
            buy_seats(actor, site, subscription_type, 1, take=1)
    audit.record(actor, "user.seat_moved", "user", user.id, user.organisation_id,
                 before={"site_id": old[1], "subscription_type": user.subscription_type.code},
                 after={"site_id": site.id, "subscription_type": subscription_type.code})
    user.site_id, user.subscription_type_id = site.id, subscription_type.id


def _no_free_seat(actor, user: User, site: Site, subscription_type: SubscriptionType) -> NoFreeSeat:
    free = counters.free_seats(site.id, subscription_type.id)
    if actor is not None and may(actor, manage_seats(site)):
        hint = _("Add a seat and move them, or raise the allocation on the site page.")
    else:
        hint = _("Ask a finance administrator to add seats for this site.")
    refusal = _("No free %(type)s seat at %(site)s (%(free)d free) to move %(name)s to.",
                type=subscription_type.name, site=site.name, free=free, name=user.name)
    return NoFreeSeat(f"{refusal} {hint}", field="subscription_type", free=free)
