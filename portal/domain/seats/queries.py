"""Read models of seats for the screens and the API: they read the counters only.

Each function is one or two statements whatever the number of clients or
users, so a page costs the same handful of queries at any size. A page and
its API twin call the same function here, so they cannot disagree.
"""
import functools
from dataclasses import dataclass

from sqlalchemy import bindparam, func, select

from portal.domain.pages import Page, clamp
from portal.domain.search import contains_pattern
from portal.extensions import db
from portal.models import Allocation, Organisation, PartnerSeatTotal, Site, SubscriptionType, User
from portal.rbac.scoping import client_scope


class SeatCounts:
    """Free seats and usage, from ``allocated`` and ``consumed`` (rows of every dashboard)."""

    allocated: int
    consumed: int

    @property
    def free(self) -> int:
        return self.allocated - self.consumed

    @property
    def usage_percent(self) -> int:
        return round(100 * self.consumed / self.allocated) if self.allocated else 0


@dataclass(frozen=True)
class SeatRow(SeatCounts):
    subscription_type: SubscriptionType
    allocated: int
    consumed: int


def catalogue() -> list[SubscriptionType]:
    return list(db.session.scalars(select(SubscriptionType).order_by(SubscriptionType.id)))


def subscription_type_by_code(code: str) -> SubscriptionType | None:
    """A catalogue type named by its code (how URLs and the API name types), or None."""
    return db.session.scalar(select(SubscriptionType).where(SubscriptionType.code == code))


def seat_rows(site: Site) -> list[SeatRow]:
    """One row per catalogue type at ``site`` (types never allocated show 0 / 0)."""
    query = (
        select(SubscriptionType, Allocation.allocated, Allocation.consumed)
        .outerjoin(
            Allocation,
            (Allocation.subscription_type_id == SubscriptionType.id) & (Allocation.site_id == site.id),
        )
        .order_by(SubscriptionType.id)
    )
    return [SeatRow(t, allocated or 0, consumed or 0) for t, allocated, consumed in db.session.execute(query)]


def allocation_rows(site_ids: list[int]) -> dict[int, list[SeatRow]]:
    """For each site, one row per catalogue type (never allocated: 0 / 0), in two statements."""
    types = catalogue()
    counters = {
        (a.site_id, a.subscription_type_id): a
        for a in db.session.scalars(select(Allocation).where(Allocation.site_id.in_(site_ids)))
    } if site_ids else {}
    rows = {}
    for site_id in site_ids:
        rows[site_id] = []
        for subscription_type in types:
            allocation = counters.get((site_id, subscription_type.id))
            rows[site_id].append(SeatRow(subscription_type, allocation.allocated if allocation else 0,
                                         allocation.consumed if allocation else 0))
    return rows


def holds_seat():
    """SQL condition: the user holds their seat (deactivated in a trial: until it ends)."""
    return (User.status != "deactivated") | User.access_until.is_not(None)


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
    query = _partner_totals_statement(actor.organisation.kind == "operator")
    return [SeatRow(t, a or 0, c or 0)
            for t, a, c in db.session.execute(query, {"partner_id": actor.organisation.partner_id})]


@functools.cache
def _partner_totals_statement(every_partner: bool):
    """``partner_totals``'s statement (of one partner: ``partner_id``), built once: the overview asks it on
    every visit, and building it cost more than running it."""
    sums = select(
        PartnerSeatTotal.subscription_type_id.label("type_id"),
        func.sum(PartnerSeatTotal.allocated).label("allocated"),
        func.sum(PartnerSeatTotal.consumed).label("consumed"),
    )
    if not every_partner:
        sums = sums.where(PartnerSeatTotal.partner_id == bindparam("partner_id"))
    sums = sums.group_by(PartnerSeatTotal.subscription_type_id).subquery()
    return (
        select(SubscriptionType, sums.c.allocated, sums.c.consumed)
        .outerjoin(sums, sums.c.type_id == SubscriptionType.id)
        .order_by(SubscriptionType.id)
    )


def seat_totals(site_rows, types) -> list[SeatRow]:
    """Per type of ``types`` (the catalogue, in its order), the seats of ``site_rows`` (as ``site_rows()`` reads
    them) added up: ``client_totals`` over rows already read, without a statement (a type without seats: 0 / 0;
    the rows leave out allocations of no seat, which use none: consumed never exceeds allocated)."""
    sums = {subscription_type.id: [0, 0] for subscription_type in types}
    for row in site_rows:
        for seats in row.seats:
            sums[seats.subscription_type.id][0] += seats.allocated
            sums[seats.subscription_type.id][1] += seats.consumed
    return [SeatRow(subscription_type, *sums[subscription_type.id]) for subscription_type in types]


def client_totals(client: Organisation, site_ids=None) -> list[SeatRow]:
    where = Site.client_id == client.id
    if site_ids is not None:
        where = where & Site.id.in_(site_ids)
    return _totals(where)


@dataclass(frozen=True)
class SeatSum(SeatCounts):
    allocated: int
    consumed: int


def seats_summed(rows) -> SeatSum:
    """The seats of several rows (every type of a client, say) added up."""
    return SeatSum(sum(r.allocated for r in rows), sum(r.consumed for r in rows))


def client_seats(client: Organisation, site_ids=None) -> SeatSum:
    """The client's seats over every type, over the sites in ``site_ids`` (all of them if None)."""
    return seats_summed(client_totals(client, site_ids))


@dataclass
class ClientRow(SeatCounts):
    id: int
    name: str
    billing_cycle: str
    allocated: int
    consumed: int


def _with_seats(id_, name, billing_cycle, *, grouped_by=None):
    """SELECT a client's id, name and cycle with its seats summed over its sites (``allocated``, ``consumed``):
    one join grouped by client (``grouped_by``, else the three columns), 0 / 0 for a client without sites or
    seats. The caller adds its WHERE and order."""
    return (select(id_, name, billing_cycle,
                   func.coalesce(func.sum(Allocation.allocated), 0).label("allocated"),
                   func.coalesce(func.sum(Allocation.consumed), 0).label("consumed"))
            .outerjoin(Site, Site.client_id == id_).outerjoin(Allocation, Allocation.site_id == Site.id)
            .group_by(*(grouped_by or (id_, name, billing_cycle))))


@functools.cache
def _client_page_statements(scope_kind: str, sort: str, direction: str, searching: bool, backwards: bool = False):
    """The count and page statements of one shape of the listing, built once (``backwards``, in name order
    only: the page read from the far end of the order, see ``client_page``).

    Values are bound on each execution (``scope_id``, ``pattern``, ``limit``,
    ``offset``): building these statements took more Python time than SQLite
    took to run them, on the page every partner opens first.
    """
    where = client_scope(scope_kind, bindparam("scope_id"))
    if searching:
        where &= func.lower(Organisation.name).like(bindparam("pattern"), escape="/")
    count = select(func.count(Organisation.id)).where(where)
    if sort == "name":
        return count, _name_page_statement(where, direction, backwards)
    # Sorted by seats, every client is summed: in one pass over the partner's sites and allocations (a join
    # grouped by client), not two correlated subqueries a client, four by free seats (20,000 clients:
    # PostgreSQL 228 -> 80-90 ms by allocated seats, 392 -> 77-97 ms by free seats; SQLite 43 -> 57 and 81 -> 57 ms).
    # Grouped by the primary key (the cycle follows from it, PostgreSQL allows it) and the name: SQLite then
    # groups in the order of the (kind, parent_id, name, id) index, without sorting every client first.
    sums = (_with_seats(Organisation.id, Organisation.name, Organisation.billing_cycle,
                        grouped_by=(Organisation.id, Organisation.name)).where(where).subquery("sums"))
    order = {"allocated": sums.c.allocated, "consumed": sums.c.consumed,
             "free": sums.c.allocated - sums.c.consumed}[sort]
    rows = (select(sums).order_by(_directed(order, direction), sums.c.name, sums.c.id)
            .limit(bindparam("limit")).offset(bindparam("offset")))
    return count, rows


def _name_page_statement(where, direction: str, backwards: bool = False):
    """The page in name order: the page's clients first (off the (kind, parent_id, name, id) index), then
    their sums. ``backwards``: name and id both the other way, for a page counted from the end.

    Summing in the same SELECT as LIMIT … OFFSET made PostgreSQL work out the sums of every client the
    OFFSET skips too: the API's page 400 of 50 at 20,000 clients took 296 ms, now 33 ms (issue 17).
    Both sums in one pass over the page's sites and allocations (a join grouped by client), not a correlated
    subquery each walking them again (PostgreSQL at 20,000 clients: 0.58 -> 0.38 ms).
    """
    name_direction = {"asc": "desc", "desc": "asc"}[direction] if backwards else direction
    id_direction = "desc" if backwards else "asc"
    page = (select(Organisation.id, Organisation.name, Organisation.billing_cycle).where(where)
            .order_by(_directed(Organisation.name, name_direction), _directed(Organisation.id, id_direction))
            .limit(bindparam("limit")).offset(bindparam("offset")).subquery("page"))
    return (_with_seats(page.c.id, page.c.name, page.c.billing_cycle)
            .order_by(_directed(page.c.name, name_direction), _directed(page.c.id, id_direction)))


def _directed(column, direction: str):
    return column.desc() if direction == "desc" else column.asc()


def client_page(actor, *, q="", sort="name", direction="asc", page=1, per_page=25,
                clamp_to_last=True) -> Page[ClientRow]:
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
    if q or organisation.kind != "partner":
        total = db.session.scalar(count, params)
    else:  # a partner's whole list: its counter, loaded with the actor (COUNT read every client's entry)
        total = organisation.client_count
    if clamp_to_last:  # people get the last page; programs an empty one past the end (see portal.domain.pages)
        page = clamp(page, total, per_page)
    offset = (page - 1) * per_page
    listing = []
    if offset < total:
        # Past the middle, a page in name order is read from the other end of the index (name and id both
        # the other way, then turned round): an OFFSET walks every entry it skips, so the last of 20,000
        # clients' pages skipped 19,975 (PostgreSQL: 8.5 ms against 5.7 ms for the first).
        backwards = sort == "name" and offset > total // 2
        if backwards:
            rows = _client_page_statements(organisation.kind, sort, direction, bool(q), backwards=True)[1]
            params.update(limit=min(per_page, total - offset), offset=max(0, total - offset - per_page))
        else:
            params.update(limit=per_page, offset=offset)
        listing = [ClientRow(*row) for row in db.session.execute(rows, params)]
        if backwards:
            listing.reverse()
    return Page(listing, total, page, per_page, query=dict(q=q, sort=sort, direction=direction))


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
    """The client's sites (those in ``site_ids`` if given) with their allocations: one statement, a row per
    site and type with seats (a site without any: one row without a type)."""
    params = {"client_id": client.id} if site_ids is None else {"client_id": client.id, "sites": sorted(site_ids)}
    rows: list[SiteRow] = []
    for site, subscription_type, allocated, consumed in db.session.execute(
            _site_rows_statement(site_ids is not None), params):
        if not rows or rows[-1].site is not site:
            rows.append(SiteRow(site, []))
        if subscription_type is not None:
            rows[-1].seats.append(SeatRow(subscription_type, allocated, consumed))
    return rows


@functools.cache
def _site_rows_statement(within_sites: bool):
    """Built once per shape: the client page reads it on every visit, and building cost half of running it."""
    query = (select(Site, SubscriptionType, Allocation.allocated, Allocation.consumed)
             .outerjoin(Allocation, (Allocation.site_id == Site.id) & (Allocation.allocated > 0))
             .outerjoin(SubscriptionType, SubscriptionType.id == Allocation.subscription_type_id)
             .where(Site.client_id == bindparam("client_id"))
             .order_by(Site.name, Site.id, SubscriptionType.id))
    return query.where(Site.id.in_(bindparam("sites", expanding=True))) if within_sites else query


def partner_seat_rows(partner: Organisation) -> list[SeatRow]:
    """One partner's seats, one row per catalogue type (never allocated: 0 / 0), from its totals counters.

    The operator's partner page: one statement, whatever the number of the partner's clients.
    """
    query = (
        select(SubscriptionType, PartnerSeatTotal.allocated, PartnerSeatTotal.consumed)
        .outerjoin(PartnerSeatTotal, (PartnerSeatTotal.subscription_type_id == SubscriptionType.id)
                   & (PartnerSeatTotal.partner_id == partner.id))
        .order_by(SubscriptionType.id)
    )
    return [SeatRow(t, allocated or 0, consumed or 0) for t, allocated, consumed in db.session.execute(query)]


def partner_seat_sums(partner_ids) -> dict[int, SeatSum]:
    """For each partner of ``partner_ids``, its seats over every type (0 / 0 if none), from its totals counters.

    A page of the operator's partner list: one statement for the whole page.
    """
    sums = {partner_id: SeatSum(0, 0) for partner_id in partner_ids}
    if sums:
        rows = db.session.execute(
            select(PartnerSeatTotal.partner_id, func.sum(PartnerSeatTotal.allocated),
                   func.sum(PartnerSeatTotal.consumed))
            .where(PartnerSeatTotal.partner_id.in_(list(sums)))
            .group_by(PartnerSeatTotal.partner_id))
        sums.update({partner_id: SeatSum(allocated or 0, consumed or 0) for partner_id, allocated, consumed in rows})
    return sums
