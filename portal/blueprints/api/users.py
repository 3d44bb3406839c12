"""Users of clients: read one, rename one or move their seat, deactivate one."""
from sqlalchemy import select

from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.catalogue import subscription_type_named
from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.registry import operation, read_body
from portal.blueprints.api.schemas import UserOut, UserReactivate, UserUpdate
from portal.domain.accounts import moves, reactivation, users
from portal.extensions import db
from portal.models import Site, SubscriptionType, User
from portal.rbac import permissions
from portal.rbac.permissions import permission_name
from portal.rbac.scoping import get_client_user_or_404


def user_out(user: User) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "status": user.status,
            "site_id": user.site_id,
            "subscription_type": user.subscription_type.code if user.subscription_type is not None else None,
            "access_until": user.access_until}


@operation("GET", "/users/{user_id}", summary="A user of a client", permission=permissions.view_user,
           response=UserOut, errors=(403,))
def get_user(user_id):
    """The user's status, seat (site and type) and, if deactivated during a trial, ``access_until``."""
    user = get_client_user_or_404(user_id, actor())
    # clients.view where the user is: a site restriction holds whatever other roles the caller has
    # (docs/rules.md rule 41b).
    require(permissions.view_user(user))
    return user_out(user)


@operation("DELETE", "/users/{user_id}", summary="Deactivate a user", permission=permissions.manage_users,
           response=UserOut, errors=(403, 409))
def deactivate_user(user_id):
    """Deactivate the user: the seat is free now, or at the end of the client's trial (``access_until``).

    Only a seat holder keeps access until the trial ends; staff lose it at once. An invited
    user's invitation is revoked. A user holding a permission the caller lacks (nobody manages
    up): 403. One's own account, or a user already deactivated: 409.
    """
    user = get_client_user_or_404(user_id, actor())
    require(permissions.manage_users(user))
    return user_out(users.deactivate_user(actor(), user))


@operation("PATCH", "/users/{user_id}", summary="Rename a user or move their seat",
           permission=f"{permission_name(permissions.manage_users)} (on both sites)", response=UserOut,
           body=UserUpdate, errors=(403, 409))
def update_user(user_id):
    """``name`` renames; ``site_id`` and/or ``subscription_type`` move the seat in one transaction.

    No free seat there: 409 ``no_free_seat`` with ``free``; ``add_seat: true`` (needs
    subscriptions.manage on the new site, else 403) buys one and moves into it. A move alone
    issues no invoice. A user holding a permission the caller lacks (nobody manages up): 403.
    """
    caller = actor()
    user = get_client_user_or_404(user_id, caller)
    require(permissions.manage_users(user))
    body = read_body()
    site, subscription_type = _seat_named(user, body)
    return user_out(moves.change_user(caller, user, name=body.name if "name" in body.model_fields_set else None,
                                      site=site, subscription_type=subscription_type, add_seat=body.add_seat))


@operation("POST", "/users/{user_id}/reactivate", summary="Reactivate a deactivated user",
           permission=permissions.manage_users, response=UserOut, status=200, body=UserReactivate,
           errors=(403, 409))
def reactivate_user(user_id):
    """The user claims a seat of their last site and type, or of the one given: 409 ``no_free_seat`` (with
    ``free``) when none is free, 409 ``conflict`` when the user is not deactivated. Someone who had joined is
    ``active`` again; someone who never accepted their invitation is ``invited`` again, with a new link.
    """
    caller = actor()
    user = get_client_user_or_404(user_id, caller)
    require(permissions.manage_users(user))
    site, subscription_type = _seat_named(user, read_body())
    return user_out(reactivation.reactivate_user(caller, user, site, subscription_type))


def _seat_named(user: User, body) -> tuple[Site | None, SubscriptionType | None]:
    """The site and type a body names (None for those it leaves out); another client's site is a 422."""
    sent, site, subscription_type = body.model_fields_set, None, None
    if "site_id" in sent:
        site = db.session.scalar(select(Site).where(Site.id == body.site_id, Site.client_id == user.organisation_id))
        if site is None:
            raise ApiError(422, "There is no such site at this user's client.",
                           fields={"site_id": "A site of the user's own client."})
    if "subscription_type" in sent:
        subscription_type = subscription_type_named(body.subscription_type, "subscription_type")
    return site, subscription_type
