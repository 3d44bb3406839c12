"""Seats over time (docs/rules.md rule 34): per day and type, for a site, a client, or everything in reach."""
from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.clients import load_client
from portal.blueprints.api.registry import operation, read_query
from portal.blueprints.api.schemas import UsageOut, UsageQuery
from portal.domain import usage
from portal.domain.usage import Scope
from portal.rbac import permissions
from portal.rbac.scoping import get_site_by_id_or_404, site_ids_in_reach

def _usage_body(scope: Scope) -> dict:
    params = read_query()
    start, end = usage.day_range(params.since, params.until)
    return {"items": [{"date": row.day, "subscription_type": row.subscription_type.code,
                       "allocated": row.allocated, "consumed": row.consumed}
                      for row in usage.usage(scope, start, end)]}


@operation("GET", "/sites/{site_id}/usage", summary="A site's seats per day and subscription type",
           permission=permissions.view_subscriptions, response=UsageOut, query=UsageQuery, errors=(403,))
def site_usage(site_id):
    """One item per day of the range and per type the site had seats of on any of its days: the counts at
    the end of that UTC day. Days from ``from`` to ``to``, both included (default: the last 30 days); days
    after today are clipped to today; ``to`` before ``from``, more than 400 days or a malformed date: 422."""
    site = get_site_by_id_or_404(site_id, actor())
    require(permissions.view_subscriptions(site))
    return _usage_body(Scope.site(site.id))


@operation("GET", "/clients/{client_id}/usage", summary="A client's seats per day and subscription type",
           permission=permissions.view_subscriptions, response=UsageOut, query=UsageQuery, errors=(403,))
def client_usage(client_id):
    """As a site's usage, summed over the client's sites in the caller's reach (a site manager: theirs)."""
    client = load_client(client_id)
    require(permissions.view_subscriptions_within(client))
    reach = site_ids_in_reach(actor(), client, permissions.view_subscriptions)
    return _usage_body(Scope.client(client.id, reach))


@operation("GET", "/usage", summary="Seats per day and subscription type over every client in reach",
           permission=permissions.view_subscriptions, response=UsageOut, query=UsageQuery, errors=(403,))
def all_usage():
    """As a site's usage, summed over every client in reach: the partner's clients, every partner's for
    the operator, its own client (the sites in reach) for a client's staff."""
    user = actor()
    organisation = user.organisation
    if organisation.kind == "client":
        require(permissions.view_subscriptions_within(organisation))
        reach = site_ids_in_reach(user, organisation, permissions.view_subscriptions)
        return _usage_body(Scope.client(organisation.id, reach))
    require(permissions.view_subscriptions(organisation))
    return _usage_body(Scope.partner(None if organisation.kind == "operator" else organisation.id))
