"""Read models for the dashboards: they read the allocation counters only.

Each function is one or two statements whatever the number of clients or
users, so a page costs the same handful of queries at any size.
"""
from dataclasses import dataclass

from sqlalchemy import func, select

from ..extensions import db
from ..models import Allocation, Organisation, Site, SubscriptionType
from ..rbac.scoping import client_filter
from .seats import SeatRow

SORTS = {
    "name": Organisation.name,
    "allocated": func.coalesce(func.sum(Allocation.allocated), 0),
    "consumed": func.coalesce(func.sum(Allocation.consumed), 0),
    "free": func.coalesce(func.sum(Allocation.allocated - Allocation.consumed), 0),
}


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
    """Seats over every client the actor reaches, one row per catalogue type."""
    clients = client_filter(actor, select(Organisation.id)).scalar_subquery()
    return _totals(Site.client_id.in_(clients))


def client_totals(client: Organisation, site_ids=None) -> list[SeatRow]:
    where = Site.client_id == client.id
    if site_ids is not None:
        where = where & Site.id.in_(site_ids)
    return _totals(where)


@dataclass
class ClientRow:
    id: int
    name: str
    billing_cycle: str
    allocated: int
    consumed: int

    @property
    def free(self) -> int:
        return self.allocated - self.consumed

    @property
    def usage_percent(self) -> int:
        return round(100 * self.consumed / self.allocated) if self.allocated else 0


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


def client_page(actor, *, q="", sort="name", direction="asc", page=1, per_page=25) -> ClientPage:
    """One page of the per-client list: search by name, sort, paginate."""
    sort = sort if sort in SORTS else "name"
    direction = "desc" if direction == "desc" else "asc"
    clients = client_filter(actor, select(Organisation.id))
    if q:
        clients = clients.where(func.lower(Organisation.name).contains(q.lower(), autoescape=True))
    total = db.session.scalar(select(func.count()).select_from(clients.subquery()))
    page = max(1, min(page, max(1, -(-total // per_page))))
    order = SORTS[sort].desc() if direction == "desc" else SORTS[sort].asc()
    query = (
        select(
            Organisation.id, Organisation.name, Organisation.billing_cycle,
            SORTS["allocated"], SORTS["consumed"],
        )
        .outerjoin(Site, Site.client_id == Organisation.id)
        .outerjoin(Allocation, Allocation.site_id == Site.id)
        .where(Organisation.id.in_(clients.scalar_subquery()))
        .group_by(Organisation.id, Organisation.name, Organisation.billing_cycle)
        .order_by(order, Organisation.name, Organisation.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    if sort == "name":
        # Sorting by name needs no totals: pick the page first, then sum only its sites.
        query = _name_sorted_page(clients, direction, page, per_page)
    rows = [ClientRow(*row) for row in db.session.execute(query)]
    return ClientPage(rows, total, page, per_page, q, sort, direction)


def _name_sorted_page(clients, direction, page, per_page):
    name_order = Organisation.name.desc() if direction == "desc" else Organisation.name.asc()
    page_ids = (
        select(Organisation.id, Organisation.name, Organisation.billing_cycle)
        .where(Organisation.id.in_(clients.scalar_subquery()))
        .order_by(name_order, Organisation.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
        .subquery()
    )
    order = page_ids.c.name.desc() if direction == "desc" else page_ids.c.name.asc()
    return (
        select(page_ids.c.id, page_ids.c.name, page_ids.c.billing_cycle,
               SORTS["allocated"], SORTS["consumed"])
        .select_from(page_ids)
        .outerjoin(Site, Site.client_id == page_ids.c.id)
        .outerjoin(Allocation, Allocation.site_id == Site.id)
        .group_by(page_ids.c.id, page_ids.c.name, page_ids.c.billing_cycle)
        .order_by(order, page_ids.c.id)
    )


@dataclass
class SiteRow:
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
