"""Clients: list, create, read, rename and change cycle; their sites; seat synchronisation."""
from sqlalchemy import select

from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.catalogue import seat_out
from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.pagination import page_body, page_of
from portal.blueprints.api.registry import operation, read_body, read_query
from portal.blueprints.api.schemas import (
    ClientCreate,
    ClientDetail,
    ClientOut,
    ClientsQuery,
    ClientUpdate,
    Page,
    PageQuery,
    SiteCreate,
    SiteOut,
    SyncReport,
)
from portal.domain.billing import invoices as billing
from portal.domain.orgs import api_support, clients
from portal.domain.seats import counters as seats
from portal.domain.seats import queries as dashboards
from portal.extensions import db
from portal.models import Organisation, Site
from portal.rbac import permissions
from portal.rbac.needs import identity_for
from portal.rbac.scoping import get_client_or_404, site_ids_in_reach

BILLING_FIELDS = ("billing_cycle", "pending_billing_cycle", "pending_effective_on", "period_start", "period_end",
                  "trial_ends_on")


def client_out(client: Organisation, allocated: int, consumed: int) -> dict:
    out = {"id": client.id, "name": client.name, **{name: getattr(client, name) for name in BILLING_FIELDS}}
    out["seats"] = {"allocated": allocated, "consumed": consumed, "free": allocated - consumed}
    return out


def site_out(site: Site, rows) -> dict:
    return {"id": site.id, "client_id": site.client_id, "name": site.name,
            "allocations": [seat_out(row) for row in rows]}


def load_client(client_id: int) -> Organisation:
    """A client in the caller's reach (404 otherwise) that they may view (403 otherwise)."""
    client = get_client_or_404(client_id, actor())
    require(permissions.view_client(client))
    return client


def _seat_sums(client: Organisation) -> tuple[int, int]:
    rows = dashboards.client_totals(client, site_ids_in_reach(actor(), client))
    return sum(r.allocated for r in rows), sum(r.consumed for r in rows)


@operation("GET", "/clients", summary="Clients in reach, with their billing state and seats",
           permission="clients.view", response=Page[ClientOut], query=ClientsQuery, errors=(403,))
def list_clients():
    """Clients the token's user reaches, by name; ``q`` searches the name."""
    user = actor()
    organisation = user.organisation
    if organisation.kind == "client":
        require(permissions.view_client(organisation))
    else:
        require(permissions.permission("clients.view", organisation))
    params = read_query()
    listing = dashboards.client_page(user, q=params.q.strip(), page=params.page, per_page=params.per_page)
    # client_page shows the last page for a page past the end; the API answers an empty one.
    rows = listing.rows if listing.page == params.page else []
    found = {c.id: c for c in db.session.scalars(select(Organisation).where(
        Organisation.id.in_([row.id for row in rows])))} if rows else {}
    items = []
    for row in rows:
        client = found[row.id]
        allocated, consumed = row.allocated, row.consumed
        if organisation.kind == "client" and site_ids_in_reach(user, client) is not None:
            allocated, consumed = _seat_sums(client)  # a site-restricted role: only its sites
        items.append(client_out(client, allocated, consumed))
    return page_body(items, params, listing.total)


@operation("POST", "/clients", summary="Create a client of the caller's partner", permission="clients.manage",
           response=ClientOut, status=201, body=ClientCreate, errors=(403, 409))
def create_client():
    """A partner's staff create a client with its billing cycle and an optional trial (days).

    Its first period starts today and is invoiced at once, or starts when the trial ends.
    """
    user = actor()
    partner = user.organisation
    if partner.kind != "partner":
        raise ApiError(403, "Clients are created by their partner's staff.")
    require(permissions.manage_clients(partner))
    body = read_body()
    client = clients.create_client(user, partner, body.name, body.billing_cycle, trial_days=body.trial_days)
    return client_out(client, 0, 0)


@operation("GET", "/clients/{client_id}", summary="A client with its sites and per-type seat totals",
           permission="clients.view", response=ClientDetail, errors=(403,))
def get_client(client_id):
    """The client, the sites in the caller's reach with their allocations, and per-type totals."""
    client = load_client(client_id)
    reach = site_ids_in_reach(actor(), client)
    totals = dashboards.client_totals(client, reach)
    query = select(Site).where(Site.client_id == client.id).order_by(Site.name, Site.id)
    if reach is not None:
        query = query.where(Site.id.in_(reach))
    sites = list(db.session.scalars(query))
    allocations = api_support.allocation_rows([site.id for site in sites])
    out = client_out(client, sum(r.allocated for r in totals), sum(r.consumed for r in totals))
    out["sites"] = [site_out(site, allocations[site.id]) for site in sites]
    out["totals"] = [seat_out(row) for row in totals]
    return out


@operation("PATCH", "/clients/{client_id}", summary="Rename a client or change its billing cycle",
           permission="clients.manage; subscriptions.manage for billing_cycle", response=ClientOut,
           body=ClientUpdate, errors=(403, 409))
def update_client(client_id):
    """``name`` needs clients.manage; ``billing_cycle`` needs subscriptions.manage.

    A new cycle becomes pending from the next period start (``pending_effective_on``);
    ``billing_cycle: null``, or the current cycle, withdraws a pending change. Both
    permissions are checked before anything changes, so a refused request changes nothing.
    """
    user = actor()
    client = get_client_or_404(client_id, user)
    can_rename = permissions.permission("clients.manage", client)
    can_change_cycle = permissions.manage_seats(client)
    identity = identity_for(user)
    if not (can_rename.allows(identity) or can_change_cycle.allows(identity)):
        raise ApiError(403)
    body = read_body()
    sent = body.model_fields_set
    if "name" in sent:
        require(can_rename, "Renaming a client needs the clients.manage permission.")
    if "billing_cycle" in sent:
        require(can_change_cycle, "Changing the billing cycle needs the subscription management role.")
    if "name" in sent:
        client = api_support.rename_client(user, client, body.name)
    if "billing_cycle" in sent:
        client = billing.change_billing_cycle(user, client, body.billing_cycle)
    return client_out(client, *_seat_sums(client))


@operation("GET", "/clients/{client_id}/sites", summary="The client's sites", permission="clients.view",
           response=Page[SiteOut], query=PageQuery, errors=(403,))
def list_sites(client_id):
    """Sites of the client in the caller's reach, by name, with their allocations."""
    client = load_client(client_id)
    params = read_query()
    reach = site_ids_in_reach(actor(), client)
    query = select(Site).where(Site.client_id == client.id).order_by(Site.name, Site.id)
    if reach is not None:
        query = query.where(Site.id.in_(reach))
    sites, total = page_of(query, params)
    allocations = api_support.allocation_rows([site.id for site in sites])
    return page_body([site_out(site, allocations[site.id]) for site in sites], params, total)


@operation("POST", "/clients/{client_id}/sites", summary="Create a site", permission="clients.manage",
           response=SiteOut, status=201, body=SiteCreate, errors=(403, 409))
def create_site(client_id):
    """A new site of the client; its name is unique within the client."""
    user = actor()
    client = get_client_or_404(client_id, user)
    require(permissions.permission("clients.manage", client))
    body = read_body()
    site = clients.create_site(user, client, body.name)
    return site_out(site, api_support.allocation_rows([site.id])[site.id])


@operation("POST", "/clients/{client_id}/sync-seats", summary="Recount consumed seats from the users",
           permission="subscriptions.view", response=SyncReport, errors=(403,))
def sync_seats(client_id):
    """Recount ``consumed`` from the users holding seats, fix any drift and say what changed."""
    user = actor()
    client = get_client_or_404(client_id, user)
    require(permissions.view_subscriptions(client))
    report = seats.synchronise_consumed(user, client)
    return {"synced_at": report.synced_at,
            "changes": [{key: change[key] for key in ("site_id", "subscription_type", "before", "after")}
                        for change in report.changes]}
