"""Sites: allocations per subscription type, and the users holding seats there."""
from sqlalchemy.orm import joinedload

from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.catalogue import subscription_type_named
from portal.blueprints.api.clients import site_out
from portal.blueprints.api.pagination import page_body, page_of
from portal.blueprints.api.registry import operation, read_body, read_query
from portal.blueprints.api.schemas import AllocationOut, AllocationUpdate, Page, PageQuery, SiteOut, UserCreate, UserOut
from portal.blueprints.api.users import user_out
from portal.domain.accounts import users
from portal.domain.accounts.queries import seat_holders_query
from portal.domain.seats import allocations, queries
from portal.models import User
from portal.rbac import permissions
from portal.rbac.permissions import permission_name
from portal.rbac.scoping import get_site_by_id_or_404


@operation("GET", "/sites/{site_id}", summary="A site with one allocation per subscription type",
           permission=permissions.view_site, response=SiteOut, errors=(403,))
def get_site(site_id):
    """The site and, per catalogue type, the seats allocated, consumed and free."""
    site = get_site_by_id_or_404(site_id, actor())
    require(permissions.view_site(site))
    return site_out(site, queries.seat_rows(site))


@operation("PUT", "/sites/{site_id}/allocations/{type_code}", summary="Set the seats bought for one type",
           permission=permissions.manage_seats, response=AllocationOut, body=AllocationUpdate, errors=(403, 409))
def set_allocation(site_id, type_code):
    """Set ``allocated``. Below the seats in use: 409 ``below_consumed`` with ``consumed``.

    An increase during a paid period issues a prorated invoice at once (``invoice_id``);
    a decrease within 7 days of the increase that bought the seats issues a credit note
    (``credit_note_id``; rule 24), after that no credit. An unknown type code is a 422 naming ``type_code``.
    """
    site = get_site_by_id_or_404(site_id, actor())
    require(permissions.manage_seats(site))
    body = read_body()
    subscription_type = subscription_type_named(type_code, "type_code")
    change = allocations.set_allocation(actor(), site, subscription_type, body.allocated)
    allocation = change.allocation
    return {"site_id": site.id, "subscription_type": subscription_type.code, "allocated": allocation.allocated,
            "consumed": allocation.consumed, "free": allocation.free,
            "invoice_id": change.invoice.id if change.invoice is not None else None,
            "credit_note_id": change.credit_note.id if change.credit_note is not None else None}


@operation("GET", "/sites/{site_id}/users", summary="Users holding a seat at the site",
           permission=permissions.view_site, response=Page[UserOut], query=PageQuery, errors=(403,))
def list_site_users(site_id):
    """Users holding a seat here (invited, active, or deactivated but keeping it until the trial ends)."""
    site = get_site_by_id_or_404(site_id, actor())
    require(permissions.view_site(site))
    page = page_of(seat_holders_query(site.id), read_query(), options=(joinedload(User.subscription_type),))
    return page_body([user_out(user) for user in page.rows], page)


@operation("POST", "/sites/{site_id}/users", summary="Create and invite a user holding a seat at the site",
           permission=f"{permission_name(permissions.manage_users)} on that site", response=UserOut, status=201,
           body=UserCreate, errors=(403, 409))
def create_site_user(site_id):
    """The user is created ``invited``, holding one seat of the type; 409 ``no_free_seat`` (with ``free``).

    ``add_seat: true`` (needs subscriptions.manage, else 403) buys one seat when none is
    free and uses it, in the same transaction. ``send_invitation``: "now" (default) or "later".
    """
    site = get_site_by_id_or_404(site_id, actor())
    require(permissions.manage_users(site))
    body = read_body()
    subscription_type = subscription_type_named(body.subscription_type, "subscription_type")
    user = users.create_user(actor(), site, subscription_type, body.email, body.name, add_seat=body.add_seat,
                             send=body.send_invitation)
    return user_out(user)
