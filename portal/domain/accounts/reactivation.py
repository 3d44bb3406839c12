"""Reactivating a deactivated user (docs/rules.md rule 28).

A seat holder claims a seat of their last site and type, or of the one
chosen, and is refused like a creation when none is free. Someone who had
joined (a password) is active again at once; someone whose invitation was
revoked or expired before they joined gets their invitation back, with a new
link. A user deactivated during a trial who still holds their seat keeps it.
"""
from sqlalchemy import select, update

from portal.domain import audit
from portal.domain.accounts import invitations
from portal.domain.accounts.moves import check_seat_site
from portal.domain.accounts.users import ensure_may_manage
from portal.domain.errors import Conflict, NoFreeSeat
from portal.domain.seats import counters
from portal.domain.seats.allocations import buy_seats
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import gettext as _
from portal.models import Invitation, Site, SubscriptionType, User


def reactivate_user(actor, user: User, site: Site | None = None, subscription_type: SubscriptionType | None = None,
                    *, add_seat: bool = False, send: bool = True) -> User:
    """Make a deactivated ``user`` active again (or invited again, if they never joined).

    Refusals before anything is written: ``Conflict`` when the user is not
    deactivated, ``Forbidden`` when the actor may not manage them (nobody
    manages up) or lacks users.manage at the site, ``Invalid`` for another
    client's site; inside: ``NoFreeSeat`` (with ``free``) unless ``add_seat``
    (finance) buys one. Commits with a ``user.reactivated`` audit event; a
    re-opened invitation is e-mailed after the commit when ``send``.
    """
    if user.status != "deactivated":
        raise Conflict(_("%(name)s is not deactivated.", name=user.name))
    ensure_may_manage(actor, user, "reactivate")
    seat_holder = user.site_id is not None
    if seat_holder:
        site = site or user.site
        subscription_type = subscription_type or user.subscription_type
        check_seat_site(actor, user, site, add_seat, doing="reactivate")
    user_id, keeps_seat = user.id, user.access_until is not None
    with write_transaction():
        user = db.session.scalar(select(User).where(User.id == user_id).with_for_update()
                                 .execution_options(populate_existing=True))
        if user.status != "deactivated":  # reactivated meanwhile
            raise Conflict(_("%(name)s is not deactivated.", name=user.name))
        before = {"status": "deactivated", "site_id": user.site_id}
        if seat_holder:
            _take_seat(actor, user, site, subscription_type, add_seat, keeps_seat)
        joined = user.password_hash is not None
        user.status, user.deactivated_at, user.access_until = ("active" if joined else "invited"), None, None
        if not joined:
            db.session.execute(update(Invitation).where(Invitation.user_id == user_id)
                               .values(status="pending", closed_at=None))
        audit.record(actor, "user.reactivated", "user", user_id, user.organisation_id, before=before,
                     after={"status": user.status, "site_id": user.site_id,
                            "subscription_type": subscription_type.code if seat_holder else None})
    if not joined and send:
        invitations.send_invitation(actor, user)
    return db.session.get(User, user_id, populate_existing=True)


def _take_seat(actor, user, site, subscription_type, add_seat: bool, keeps_seat: bool) -> None:
    """The seat of the reactivated user; one still held since a trial deactivation moves or stays."""
    old = (user.site_id, user.subscription_type_id)
    new = (site.id, subscription_type.id)
    if keeps_seat and old == new:
        return  # deactivated during the trial: the seat was never released
    if not counters.claim_seat(*new):
        if not add_seat:
            free = counters.free_seats(*new)
            raise NoFreeSeat(_("No free %(type)s seat at %(site)s (%(free)d free) to reactivate %(name)s. Free a "
                               "seat, choose another site or type, or ask a finance administrator to add one.",
                               type=subscription_type.name, site=site.name, free=free, name=user.name),
                             field="subscription_type", free=free)
        buy_seats(actor, site, subscription_type, 1, take=1)
    if keeps_seat:
        counters.release_seat(*old)
    user.site_id, user.subscription_type_id = new
