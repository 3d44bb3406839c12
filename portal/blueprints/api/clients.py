"""Clients: list, create, read, rename and change cycle; their sites; seat synchronisation."""
from sqlalchemy import select

from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.catalogue import seat_out
from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.pagination import page_body, slice_of
from portal.blueprints.api.registry import operation, read_body, read_query
from portal.blueprints.api.schemas import (
    AdministratorCreate,
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
    UserOut,
)
from portal.blueprints.api.users import user_out
from portal.domain.accounts.queries import sites_in_reach
from portal.domain.billing import cycles
from portal.domain.orgs import clients
from portal.domain.seats import queries, sync
from portal.extensions import db
from portal.models import Organisation, Site
from portal.rbac import permissions
from portal.rbac.permissions import may, permission_name
from portal.rbac.scoping import get_client_or_404, site_ids_in_reach

BILLING_FIELDS = ("billing_cycle", "pending_billing_cycle", "pending_effective_on", "period_start", "period_end",
                  "trial_ends_on")
RENAME_REFUSED = f"Renaming a client needs the {permission_name(permissions.manage_client)} permission."


def client_out(client, seats: queries.SeatCounts) -> dict:
    """The client (an Organisation, or a row of its id, name and ``BILLING_FIELDS``) with its billing state and
    ``seats`` (its seats in the caller's reach, over every type)."""
    out = {"id": client.id, "name": client.name, **{name: getattr(client, name) for name in BILLING_FIELDS}}
    out["seats"] = {"allocated": seats.allocated, "consumed": seats.consumed, "free": seats.free}
    return out


def site_out(site: Site, rows) -> dict:
    return {"id": site.id, "client_id": site.client_id, "name": site.name,
            "allocations": [seat_out(row) for row in rows]}


def load_client(client_id: int) -> Organisation:
    """A client in the caller's reach (404 otherwise) that they may view (403 otherwise)."""
    client = get_client_or_404(client_id, actor())
    require(permissions.view_client(client))
    return client


@operation("GET", "/clients", summary="Clients in reach, with their billing state and seats",
           permission=permissions.view_clients, response=Page[ClientOut], query=ClientsQuery, errors=(403,))
def list_clients():
    """Clients the token's user reaches, by name; ``q`` searches the name."""
    user = actor()
    organisation = user.organisation
    if organisation.kind == "client":
        require(permissions.view_client(organisation))
    else:
        require(permissions.view_clients(organisation))
    params = read_query()
    page = queries.client_page(user, q=params.q.strip(), page=params.page, per_page=params.per_page,
                               clamp_to_last=False)
    # The page's billing state as plain rows: client_out reads only these columns, and 50 whole clients as
    # objects cost a tenth of the request.
    found = {client.id: client for client in db.session.execute(
        select(Organisation.id, Organisation.name, *(getattr(Organisation, name) for name in BILLING_FIELDS))
        .where(Organisation.id.in_([row.id for row in page.rows])))} if page.rows else {}
    items = []
    for row in page.rows:
        seats = row
        # A client's staff list their own client only (loaded with them), sites in reach when restricted.
        if organisation.kind == "client" and (
                reach := site_ids_in_reach(user, organisation, permissions.view_client)) is not None:
            seats = queries.client_seats(organisation, reach)  # a site-restricted role: only its sites
        items.append(client_out(found[row.id], seats))
    return page_body(items, page)


@operation("POST", "/clients", summary="Create a client of the caller's partner", permission=permissions.manage_clients,
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
    return client_out(client, queries.SeatSum(0, 0))  # no sites yet


@operation("GET", "/clients/{client_id}", summary="A client with its sites and per-type seat totals",
           permission=permissions.view_client, response=ClientDetail, errors=(403,))
def get_client(client_id):
    """The client, the sites in the caller's reach with their allocations, and per-type totals."""
    client = load_client(client_id)
    # Reach per permission (docs/rules.md rule 41b): the sites and totals of the sites the caller views.
    reach = site_ids_in_reach(actor(), client, permissions.view_client)
    totals = queries.client_totals(client, reach)
    sites = sites_in_reach(client, reach)
    allocations = queries.allocation_rows([site.id for site in sites])
    out = client_out(client, queries.seats_summed(totals))
    out["sites"] = [site_out(site, allocations[site.id]) for site in sites]
    out["totals"] = [seat_out(row) for row in totals]
    return out


@operation("PATCH", "/clients/{client_id}", summary="Rename a client or change its billing cycle",
           permission=f"{permission_name(permissions.manage_client)}; "
                      f"{permission_name(permissions.manage_seats)} for billing_cycle", response=ClientOut,
           body=ClientUpdate, errors=(403, 409))
def update_client(client_id):
    """``name`` needs clients.manage; ``billing_cycle`` needs subscriptions.manage.

    A new cycle becomes pending from the next period start (``pending_effective_on``);
    ``billing_cycle: null``, or the current cycle, withdraws a pending change. Both
    permissions are checked before anything changes, so a refused request changes nothing.
    """
    user = actor()
    client = get_client_or_404(client_id, user)
    can_rename = permissions.manage_client(client)
    can_change_cycle = permissions.manage_seats(client)
    if not (may(user, can_rename) or may(user, can_change_cycle)):
        raise ApiError(403)
    body = read_body()
    sent = body.model_fields_set
    if "name" in sent:
        require(can_rename, RENAME_REFUSED)
    if "billing_cycle" in sent:
        require(can_change_cycle, "Changing the billing cycle needs the subscription management role.")
    if "name" in sent:
        client = clients.rename_client(user, client, body.name)
    if "billing_cycle" in sent:
        client = cycles.change_billing_cycle(user, client, body.billing_cycle)
    return client_out(client, queries.client_seats(client, site_ids_in_reach(user, client, permissions.view_client)))


@operation("GET", "/clients/{client_id}/sites", summary="The client's sites", permission=permissions.view_client,
           response=Page[SiteOut], query=PageQuery, errors=(403,))
def list_sites(client_id):
    """Sites of the client in the caller's reach, by name, with their allocations."""
    client = load_client(client_id)
    params = read_query()
    page = slice_of(sites_in_reach(client, site_ids_in_reach(actor(), client, permissions.view_client)), params)
    allocations = queries.allocation_rows([site.id for site in page.rows])
    return page_body([site_out(site, allocations[site.id]) for site in page.rows], page)


@operation("POST", "/clients/{client_id}/sites", summary="Create a site", permission=permissions.manage_client,
           response=SiteOut, status=201, body=SiteCreate, errors=(403, 409))
def create_site(client_id):
    """A new site of the client; its name is unique within the client."""
    user = actor()
    client = get_client_or_404(client_id, user)
    require(permissions.manage_client(client))
    body = read_body()
    site = clients.create_site(user, client, body.name)
    return site_out(site, queries.allocation_rows([site.id])[site.id])


@operation("POST", "/clients/{client_id}/sync-seats", summary="Recount consumed seats from the users",
           permission=permissions.view_subscriptions, response=SyncReport, errors=(403,))
def sync_seats(client_id):
    """Recount ``consumed`` from the users holding seats, fix any drift and say what changed."""
    user = actor()
    client = get_client_or_404(client_id, user)
    require(permissions.view_subscriptions(client))
    report = sync.synchronise_consumed(user, client)
    return {"synced_at": report.synced_at,
            "changes": [{key: change[key] for key in ("site_id", "subscription_type", "before", "after")}
                        for change in report.changes]}


@operation("POST", "/clients/{client_id}/administrators", summary="Invite an administrator of the client",
           permission=permissions.manage_client, response=UserOut, status=201, body=AdministratorCreate,
           errors=(403, 409))
def invite_client_administrator(client_id):
    """A new user of the client, ``invited``, holding the Client admin role and no seat (docs/rules.md rule 27b).

    The invitation is e-mailed now, or left to send later (``send_invitation: "later"``). An e-mail
    that already has an account: 409 ``conflict``.
    """
    user = actor()
    client = get_client_or_404(client_id, user)
    require(permissions.manage_client(client))
    body = read_body()
    return user_out(clients.invite_client_administrator(user, client, body.email, body.name,
                                                        send=body.send_invitation))
