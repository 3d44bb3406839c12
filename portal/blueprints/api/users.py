"""Users of clients: read one, deactivate one."""
from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.registry import operation
from portal.blueprints.api.schemas import UserOut
from portal.domain.accounts import users
from portal.models import User
from portal.rbac import permissions
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
