"""Read models for the dashboards: they read the allocation counters only.

Each function is one or two statements whatever the number of clients or
users, so a page costs the same handful of queries at any size.
"""
import functools
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select

from portal.domain.search import contains_pattern
from portal.domain.seats.counters import SeatCounts, SeatRow
from portal.extensions import db
from portal.models import Allocation, Organisation, PartnerSeatTotal, Site, SubscriptionType
from portal.rbac.scoping import client_scope

SORTS = ("name", "allocated", "consumed", "free")


def _totals(where) -> list[SeatRow]:
    """Per catalogue type, the sums of the allocations matching ``where``."""
    sums = (
        select(
            Allocation.subscription_type_id.label("type_id"),
            func.sum(Allocation.allocated).label("allocated"),
            func.sum(Allocation.consumed).label("consumed"),
        )
        .join(Site, Allocation.site_id == Site.id)
        .where(where)
        .group_by(Allocation.subscription_type_id)
        .subquery()
    )
    query = (
        select(SubscriptionType, sums.c.allocated, sums.c.consumed)
        .outerjoin(sums, sums.c.type_id == SubscriptionType.id)
        .order_by(SubscriptionType.id)
    )
    return [SeatRow(t, a or 0, c or 0) for t, a, c in db.session.execute(query)]


def partner_totals(actor) -> list[SeatRow]:
    """Seats over every client the actor reaches, one row per catalogue type.

    Reads the per-partner counters (a row per partner and type), never the
    allocations of every client: one statement, the same cost at any size.
    A client's staff reach only their own client: its own totals.
    """
    if actor.organisation.kind == "client":
        return client_totals(actor.organisation)
    sums = select(
        PartnerSeatTotal.subscription_type_id.label("type_id"),
        func.sum(PartnerSeatTotal.allocated).label("allocated"),
        func.sum(PartnerSeatTotal.consumed).label("consumed"),
    )
    if actor.organisation.kind != "operator":
        sums = sums.where(PartnerSeatTotal.partner_id == actor.organisation.partner_id)
    sums = sums.group_by(PartnerSeatTotal.subscription_type_id).subquery()
    query = (
        select(SubscriptionType, sums.c.allocated, sums.c.consumed)
        .outerjoin(sums, sums.c.type_id == SubscriptionType.id)
        .order_by(SubscriptionType.id)
    )
    return [SeatRow(t, a or 0, c or 0) for t, a, c in db.session.execute(query)]


def client_totals(client: Organisation, site_ids=None) -> list[SeatRow]:
    where = Site.client_id == client.id
    if site_ids is not None:
        where = where & Site.id.in_(site_ids)
    return _totals(where)


@dataclass
class ClientRow(SeatCounts):
    id: int
    name: str
    billing_cycle: str
    allocated: int
    consumed: int


@dataclass
class ClientPage:
    rows: list[ClientRow]
    total: int
    page: int
    per_page: int
    q: str
    sort: str
    direction: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _client_sum(column):
    """Per client row, the sum of one allocation counter over its sites (a correlated subquery)."""
    return (select(func.coalesce(func.sum(column), 0)).join(Site, Allocation.site_id == Site.id)
            .where(Site.client_id == Organisation.id).correlate(Organisation).scalar_subquery())


@functools.cache
def _client_page_statements(scope_kind: str, sort: str, direction: str, searching: bool):
    """The count and page statements of one shape of the listing, built once.

    Values are bound on each execution (``scope_id``, ``pattern``, ``limit``,
    ``offset``): building these statements took more Python time than SQLite
    took to run them, on the page every partner opens first.
    """
    where = client_scope(scope_kind, bindparam("scope_id"))
    if searching:
        where &= func.lower(Organisation.name).like(bindparam("pattern"), escape="/")
    count = select(func.count(Organisation.id)).where(where)
    allocated, consumed = _client_sum(Allocation.allocated), _client_sum(Allocation.consumed)
    order = {"name": Organisation.name, "allocated": allocated, "consumed": consumed,
             "free": allocated - consumed}[sort]
    rows = (
        select(Organisation.id, Organisation.name, Organisation.billing_cycle, allocated, consumed)
        .where(where)
        .order_by(order.desc() if direction == "desc" else order.asc(), Organisation.name, Organisation.id)
        .limit(bindparam("limit")).offset(bindparam("offset"))
    )
    return count, rows


def client_page(actor, *, q="", sort="name", direction="asc", page=1, per_page=25) -> ClientPage:
    """One page of the per-client list: search by name, sort, paginate.

    Sorted by name, the page comes straight off the (partner, name) index and
    only its 25 clients are summed; sorting by a seat column has to sum them all.
    """
    sort = sort if sort in SORTS else "name"
    direction = "desc" if direction == "desc" else "asc"
    organisation = actor.organisation
    count, rows = _client_page_statements(organisation.kind, sort, direction, bool(q))
    params = {"scope_id": organisation.id}
    if q:
        params["pattern"] = contains_pattern(q.lower())
    total = db.session.scalar(count, params)
    page = max(1, min(page, max(1, -(-total // per_page))))
    params.update(limit=per_page, offset=(page - 1) * per_page)
    listing = [ClientRow(*row) for row in db.session.execute(rows, params)]
    return ClientPage(listing, total, page, per_page, q, sort, direction)


@dataclass
class SiteRow(SeatCounts):
    site: Site
    seats: list[SeatRow]

    @property
    def allocated(self) -> int:
        return sum(s.allocated for s in self.seats)

    @property
    def consumed(self) -> int:
        return sum(s.consumed for s in self.seats)


def site_rows(client: Organisation, site_ids=None) -> list[SiteRow]:
    """The client's sites (those in ``site_ids`` if given) with their allocations."""
    query = select(Site).where(Site.client_id == client.id).order_by(Site.name)
    if site_ids is not None:
        query = query.where(Site.id.in_(site_ids))
    sites = list(db.session.scalars(query))
    types = list(db.session.scalars(select(SubscriptionType).order_by(SubscriptionType.id)))
    counters = {
        (a.site_id, a.subscription_type_id): a
        for a in db.session.scalars(select(Allocation).where(Allocation.site_id.in_([s.id for s in sites])))
    }
    rows = []
    for site in sites:
        seats_ = []
        for t in types:
            a = counters.get((site.id, t.id))
            if a is not None and a.allocated:
                seats_.append(SeatRow(t, a.allocated, a.consumed))
        rows.append(SiteRow(site, seats_))
    return rows
