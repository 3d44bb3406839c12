"""Users of clients: read one, deactivate one."""
from sqlalchemy import select

from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.registry import operation
from portal.blueprints.api.schemas import UserOut
from portal.domain.accounts import users
from portal.extensions import db
from portal.models import User
from portal.rbac import permissions
from portal.rbac.scoping import get_client_or_404, get_user_or_404


def user_out(user: User) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "status": user.status,
            "site_id": user.site_id,
            "subscription_type": user.subscription_type.code if user.subscription_type is not None else None,
            "access_until": user.access_until}


def load_user(user_id: int) -> User:
    """A user of a client in the caller's reach (site-restricted roles: of their sites), else 404."""
    organisation_id = db.session.scalar(select(User.organisation_id).where(User.id == user_id))
    if organisation_id is None:
        raise ApiError(404)
    caller = actor()
    return get_user_or_404(get_client_or_404(organisation_id, caller), user_id, caller)


@operation("GET", "/users/{user_id}", summary="A user of a client", permission="clients.view", response=UserOut,
           errors=(403,))
def get_user(user_id):
    """The user's status, seat (site and type) and, if deactivated during a trial, ``access_until``."""
    user = load_user(user_id)
    require(permissions.view_client(user.organisation))
    return user_out(user)


@operation("DELETE", "/users/{user_id}", summary="Deactivate a user", permission="users.manage",
           response=UserOut, errors=(403, 409))
def deactivate_user(user_id):
    """Deactivate the user: the seat is free now, or at the end of the client's trial (``access_until``).

    An invited user's invitation is revoked. One's own account, or a user already
    deactivated: 409.
    """
    user = load_user(user_id)
    require(permissions.manage_users(user))
    return user_out(users.deactivate_user(actor(), user))
