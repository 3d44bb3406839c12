"""The subscription-type catalogue and the seat summary over every client in reach."""
from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.pagination import page_body, slice_of
from portal.blueprints.api.registry import ANY_TOKEN, operation, read_query
from portal.blueprints.api.schemas import Page, PageQuery, SubscriptionTypeOut, Summary
from portal.domain.seats import queries
from portal.models import SubscriptionType
from portal.rbac import permissions
from portal.rbac.scoping import site_ids_in_reach


def type_out(subscription_type) -> dict:
    money = lambda amount: {"amount": amount, "currency": subscription_type.currency}  # noqa: E731
    return {"code": subscription_type.code, "name": subscription_type.name,
            "monthly_price": money(subscription_type.monthly_price),
            "annual_price": money(subscription_type.annual_price)}


def seat_out(row) -> dict:
    """A ``SeatRow`` of the seat service as ``{subscription_type, allocated, consumed, free}``."""
    return {"subscription_type": row.subscription_type.code, "allocated": row.allocated,
            "consumed": row.consumed, "free": row.free}



def subscription_type_named(code: str, field: str) -> SubscriptionType:
    """A catalogue type by code; an unknown code is a validation error naming ``field``."""
    subscription_type = queries.subscription_type_by_code(code)
    if subscription_type is None:
        raise ApiError(422, f"There is no subscription type {code!r}.",
                       fields={field: "Unknown subscription type; see GET /api/v1/subscription-types."})
    return subscription_type


@operation("GET", "/subscription-types", summary="The catalogue of subscription types", permission=ANY_TOKEN,
           response=Page[SubscriptionTypeOut], query=PageQuery)
def list_subscription_types():
    """Every subscription type with its monthly and annual price (any token may read it)."""
    page = slice_of(queries.catalogue(), read_query())
    return page_body([type_out(t) for t in page.rows], page)


@operation("GET", "/summary", summary="Seats per subscription type over all clients in reach",
           permission=permissions.view_subscriptions, response=Summary, errors=(403,))
def summary():
    """One item per catalogue type: allocated, consumed and free seats summed over every client in reach."""
    user = actor()
    organisation = user.organisation
    require(permissions.view_subscriptions(organisation))
    if organisation.kind == "client":  # the partner dashboard's counters are per partner
        rows = queries.client_totals(organisation, site_ids_in_reach(user, organisation,
                                                                     permissions.view_subscriptions))
    else:
        rows = queries.partner_totals(user)
    return {"items": [seat_out(row) for row in rows]}
