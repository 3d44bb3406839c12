"""Load objects through the caller's organisation: anything outside is a 404.

404 rather than 403 so that nobody can probe another tenant's ids. Children
are always loaded through their parent (a site through its client), so an id
pasted under another parent fails too.
"""
import functools

from flask import abort, g
from flask_login import current_user
from sqlalchemy import bindparam, exists, false, func, or_, select
from werkzeug.local import LocalProxy

from portal.extensions import db
from portal.models import AuditEvent, Invoice, Organisation, SeatRequest, Site, User, WebhookDelivery, WebhookEndpoint
from portal.rbac.needs import ALL, identity_for
from portal.rbac.permissions import SEAT_REQUEST_VIEWERS, permission_name, view_invoices


def _current_organisation():
    if "organisation" not in g:
        g.organisation = current_user.organisation if current_user.is_authenticated else None
    return g.organisation


current_organisation: Organisation = LocalProxy(_current_organisation)  # type: ignore[assignment]


def client_scope(kind: str, organisation_id):
    """The clients reachable from an organisation of ``kind``, as a WHERE clause.

    ``organisation_id`` is the organisation's id, or a ``bindparam`` for a
    statement built once and run with the id supplied on each execution.
    """
    if kind == "operator":
        return Organisation.kind == "client"
    if kind == "partner":
        return (Organisation.kind == "client") & (Organisation.parent_id == organisation_id)
    return Organisation.id == organisation_id


def reaches_several_partners(actor) -> bool:
    """Whether ``actor`` reaches the clients of more than one partner: lists then name each row's partner.

    Only the operator can (one statement, whatever the number of partners); partner
    staff reach their own partner's clients, client staff their own client.
    """
    organisation = actor.organisation
    if organisation.kind != "operator":
        return False
    partners = (select(Organisation.id).where(Organisation.kind == "partner",
                                              Organisation.parent_id == organisation.id).limit(2).subquery())
    return db.session.scalar(select(func.count()).select_from(partners)) > 1


def client_filter(actor, query):
    """Restrict a select of client Organisations to those ``actor`` may reach."""
    organisation = actor.organisation
    return query.where(client_scope(organisation.kind, organisation.id))


def reachable_client(actor, client_id) -> Organisation | None:
    organisation = actor.organisation
    return db.session.scalar(_reachable_client_statement(organisation.kind),
                             {"client_id": client_id, "scope_id": organisation.id})


# The loaders below run on every client and site page: their statements are built once per kind of
# organisation (building them cost as much as running them), the ids bound on each execution.


@functools.cache
def _reachable_client_statement(kind: str):
    return select(Organisation).where(Organisation.id == bindparam("client_id"),
                                      client_scope(kind, bindparam("scope_id")))


@functools.cache
def _client_and_site_statement(kind: str, with_client_id: bool):
    """The site ``site_id`` (of the client ``client_id``, if ``with_client_id``) and its client, if reachable."""
    query = (select(Organisation, Site).join(Site, Site.client_id == Organisation.id)
             .where(Site.id == bindparam("site_id"), client_scope(kind, bindparam("scope_id"))))
    return query.where(Organisation.id == bindparam("client_id")) if with_client_id else query


VIEW = "clients.view"


def site_ids_in_reach(actor, client: Organisation, permission=VIEW) -> set[int] | None:
    """Sites of ``client`` where the actor holds ``permission``: ``None`` means all of them.

    Reach is worked out per permission (docs/rules.md rule 41b): only the
    needs of ``permission`` count, so a client-wide accountant (billing.view)
    who is also site manager of Lyon views and manages Lyon only. Staff of the
    partner or the operator, and client-wide roles, reach every site; roles
    restricted to sites reach only those. Lists and totals pass the permission
    they show, by name or as the named capability of ``portal.rbac.permissions``
    (viewing users and sites: clients.view, the default; managing users:
    ``manage_users``; invoices: ``view_invoices``; seat totals: ``view_subscriptions``).

    ``permission=None`` is the reach of any permission: what the loaders use
    to tell "out of reach" (404) from "in reach without the permission" (403,
    docs/rules.md section 4). Never use it to choose what to show.
    """
    if callable(permission):
        permission = permission_name(permission)
    needs = [need for need in identity_for(actor).provides
             if len(need) == 3 and (permission is None or need[0] == permission)]
    wide = {(ALL, None), ("partner", client.parent_id), ("client", client.id)}
    if any((need[1], need[2]) in wide for need in needs):
        return None
    return {need[2] for need in needs if need[1] == "site"}


def site_in_reach(actor, site: Site, permission=VIEW) -> bool:
    reach = site_ids_in_reach(actor, site.client, permission)
    return reach is None or site.id in reach


def get_client_or_404(client_id: int, actor=None) -> Organisation:
    client = reachable_client(actor or current_user, client_id)
    if client is None:
        abort(404)
    return client


def get_site_or_404(client: Organisation, site_id: int, actor=None) -> Site:
    """A site of ``client`` that the caller reaches (site-restricted roles included)."""
    site = db.session.scalar(select(Site).where(Site.id == site_id, Site.client_id == client.id))
    return _site_in_reach_or_404(site, actor)


def get_client_and_site_or_404(client_id: int, site_id: int, actor=None) -> tuple[Organisation, Site]:
    """``get_client_or_404`` then ``get_site_or_404``, read in one statement (every site page loads both)."""
    return _client_and_site_or_404(actor or current_user, site_id, client_id)


def _client_and_site_or_404(actor, site_id: int, client_id: int | None = None) -> tuple[Organisation, Site]:
    """The site ``site_id`` (of the client ``client_id``, if given) and its client, read in one statement,
    both in the actor's reach."""
    organisation = actor.organisation
    row = db.session.execute(_client_and_site_statement(organisation.kind, client_id is not None),
                             {"site_id": site_id, "client_id": client_id, "scope_id": organisation.id}).first()
    if row is None:
        abort(404)
    return row[0], _site_in_reach_or_404(row[1], actor)


def _site_in_reach_or_404(site: Site | None, actor) -> Site:
    # Any permission reaching the site makes it "in reach" (then 403 without the one asked).
    if site is None or not site_in_reach(actor or current_user, site, permission=None):
        abort(404)
    return site


def get_user_or_404(client: Organisation, user_id: int, actor=None) -> User:
    """A user of ``client``; a site-restricted caller reaches only their sites' users."""
    actor = actor or current_user
    user = db.session.scalar(
        select(User).where(User.id == user_id, User.organisation_id == client.id)
    )
    if user is None:
        abort(404)
    # Any permission reaching the user's site makes them "in reach": the caller then asks for
    # the capability at the user's own scope (view_user, manage_user), so a site restriction holds.
    reach = site_ids_in_reach(actor, client, permission=None)
    if reach is not None and user.site_id not in reach:
        abort(404)
    return user


def invoice_filter(actor, query):
    """Restrict a select of Invoices to those ``actor`` may read (billing.view)."""
    organisation = actor.organisation
    if organisation.kind == "operator":
        return query
    if organisation.kind == "partner":
        return query.where(Invoice.partner_id == organisation.id)
    return query.where(Invoice.client_id == organisation.id)


def get_invoice_or_404(invoice_id: int, actor=None):
    invoice = db.session.scalar(invoice_filter(actor or current_user, select(Invoice).where(Invoice.id == invoice_id)))
    if invoice is None:
        abort(404)
    return invoice


def invoice_lines_in_reach(actor, invoice) -> list:
    """The lines an accountant restricted to some sites may read; all lines otherwise."""
    reach = site_ids_in_reach(actor, invoice.client, view_invoices)
    if reach is None:
        return list(invoice.lines)
    return [line for line in invoice.lines if line.site_id in reach]


def audit_filter(actor, query):
    """Restrict a select of AuditEvents: a partner reads its own and its clients', a client its own."""
    organisation = actor.organisation
    if organisation.kind == "operator":
        return query
    if organisation.kind == "partner":
        clients = select(Organisation.id).where(Organisation.parent_id == organisation.id)
        return query.where(
            (AuditEvent.organisation_id == organisation.id) | AuditEvent.organisation_id.in_(clients)
        )
    return query.where(AuditEvent.organisation_id == organisation.id)


def _parent_id_or_404(parent_column, id_column, object_id: int) -> int:
    """The parent id of an object named by its id alone (the API's ``/sites/{id}``), or 404."""
    parent_id = db.session.scalar(select(parent_column).where(id_column == object_id))
    if parent_id is None:
        abort(404)
    return parent_id


def get_site_by_id_or_404(site_id: int, actor=None) -> Site:
    """A site named by its id alone (the API's ``/sites/{id}``), read with its client in one statement, both
    in the caller's reach: ``site.client`` is then in the session."""
    return _client_and_site_or_404(actor or current_user, site_id)[1]


def get_client_user_or_404(user_id: int, actor=None) -> User:
    """A user of a client in the caller's reach, named by id alone (site-restricted roles: their sites')."""
    actor = actor or current_user
    client = get_client_or_404(_parent_id_or_404(User.organisation_id, User.id, user_id), actor)
    return get_user_or_404(client, user_id, actor)


def get_member_or_404(user_id: int, actor=None) -> User:
    """A member of the caller's own organisation (the members page); anyone else's id is a 404."""
    actor = actor or current_user
    member = db.session.scalar(select(User).where(User.id == user_id, User.organisation_id == actor.organisation_id))
    if member is None:
        abort(404)
    return member


def get_partner_or_404(partner_id: int, actor=None) -> Organisation:
    """A partner under the caller's operator."""
    actor = actor or current_user
    partner = db.session.scalar(select(Organisation).where(
        Organisation.id == partner_id, Organisation.kind == "partner",
        Organisation.parent_id == actor.organisation_id))
    if partner is None:
        abort(404)
    return partner


def seat_request_filter(actor, query, permission=None):
    """Restrict a select of SeatRequests to those ``actor`` reaches (docs/rules.md rule 29).

    By default, where the actor holds users.manage or subscriptions.manage (who
    asks and who decides); ``permission`` (a name or a named capability:
    ``manage_seats`` for finance's queue) narrows it to one. Reach is worked
    out per permission, as in ``site_ids_in_reach``: a partner's role reaches
    its clients' requests, a client-wide role its client's, a site-restricted
    one its sites'. No need: nothing.
    """
    reach = seat_request_reach(actor, permission)
    if reach is None:
        return query
    return query.where(seat_request_reach_clause(*(bool(ids) for ids in reach))).params(reach_parameters(reach))


def seat_request_reach(actor, permission=None) -> tuple[list, list, list] | None:
    """The (partner, client, site) ids whose seat requests ``actor`` reaches (see ``seat_request_filter``);
    None: every request (the operator)."""
    if callable(permission):
        permission = permission_name(permission)
    names = SEAT_REQUEST_VIEWERS if permission is None else (permission,)
    partners, clients, sites = set(), set(), set()
    scopes = {"partner": partners, "client": clients, "site": sites}  # "within" adds nothing: its sites are here
    for need in identity_for(actor).provides:
        if len(need) != 3 or need[0] not in names:
            continue
        scope, ident = need[1], need[2]
        if scope == ALL:
            return None
        if scope in scopes:
            scopes[scope].add(ident)
    return sorted(partners), sorted(clients), sorted(sites)


def reach_parameters(reach: tuple[list, list, list]) -> dict:
    """The values of ``seat_request_reach_clause``'s parameters for a reach."""
    return dict(zip(("reach_partners", "reach_clients", "reach_sites"), reach))


@functools.cache
def seat_request_reach_clause(partners: bool, clients: bool, sites: bool):
    """The SQL of a reach with partners / clients / sites (or not), its ids as parameters.

    Built once per shape: the navigation counts pending requests on every page, and building the
    condition cost twenty times running it.
    """
    reach = []
    if partners:
        # Each request's own client checked by its key, rather than the request index probed once per client
        # of the partner: the pending requests are few, the clients may be 20,000 (issue 17).
        reach.append(exists().where(Organisation.id == SeatRequest.client_id, Organisation.kind == "client",
                                    Organisation.parent_id.in_(bindparam("reach_partners", expanding=True))))
    if clients:
        reach.append(SeatRequest.client_id.in_(bindparam("reach_clients", expanding=True)))
    if sites:
        reach.append(SeatRequest.site_id.in_(bindparam("reach_sites", expanding=True)))
    return or_(*reach) if reach else false()


def get_seat_request_or_404(request_id: int, actor=None) -> SeatRequest:
    """A seat request at a site in the caller's reach, through any permission (then 403 without the one asked).

    Loaded through its client and site, as ``get_site_by_id_or_404`` loads a
    site: another tenant's request, or one of a site a site-restricted role
    does not cover, is a 404.
    """
    actor = actor or current_user
    seat_request = db.session.get(SeatRequest, request_id)
    if seat_request is None or reachable_client(actor, seat_request.client_id) is None:
        abort(404)
    if not site_in_reach(actor, seat_request.site, permission=None):
        abort(404)
    return seat_request


def get_webhook_or_404(webhook_id: int, actor=None):
    """A webhook endpoint of the caller's own organisation (docs/rules.md rule 32); any other is a 404."""
    actor = actor or current_user
    endpoint = db.session.scalar(select(WebhookEndpoint).where(
        WebhookEndpoint.id == webhook_id, WebhookEndpoint.organisation_id == actor.organisation_id))
    if endpoint is None:
        abort(404)
    return endpoint


def get_webhook_delivery_or_404(endpoint, delivery_id: int):
    """A delivery of ``endpoint`` (loaded through its endpoint: another endpoint's id is a 404)."""
    delivery = db.session.scalar(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                               WebhookDelivery.endpoint_id == endpoint.id))
    if delivery is None:
        abort(404)
    return delivery
