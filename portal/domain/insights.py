"""Insight for finance (docs/rules.md rule 36): idle seats, sites running out, monthly recurring revenue.

Each rule lives here once; the page, its CSV and ``GET /api/v1/insights``
call these functions. Everything is read from today's counters
(``Allocation``) and the history of their changes (``SeatChange``, rule 34)
over one window: the change rows of the 30 days ``today − 29 … today``, the
ones that undo today's counts back to the end of ``today − 30``, read per
allocation through the history's primary key. Every list is one set-based
statement whatever the number of clients, sites or days (ordering, the count
and the LIMIT in SQL); the page reads its three lists in one statement that
reads the window once, so it costs the same handful of statements at any size.

Reach (docs/rules.md section 4): the clients of the actor's organisation
(``portal.rbac.scoping.client_scope``: the operator every client, partner staff
their partner's, client staff their own client), narrowed to the sites of a
site-limited role (``site_ids_in_reach`` for subscriptions.view). Whoever lacks
subscriptions.view there gets ``Forbidden``. Another tenant's rows never appear.

Definitions, with the choices made where the rule is silent:

- **Idle seats** of a (site, type) allocated today: the least free count
  (allocated − consumed) at the end of the days ``today − 30 … today − 1``,
  and never more than free now (a seat taken today is not idle, and lowering
  can never go below the seats in use). With ``net`` = allocated change −
  consumed change, the free count at the end of day D is free now minus the
  net changes of the days after D, so the least over the window is free now
  minus the largest net change from some day of the window to today (or 0).
  Listed when above 0. ``saving_per_period`` = idle seats × the client's unit
  price of the type for its next period: the price as now set (client price,
  else price book, else list: ``price_book.price_as_now_set``) in the next period's
  cycle (a pending cycle change taking effect at the period's end, else the
  billing cycle; a client in trial: its first period, in its billing cycle,
  as ``invoices.next_period_preview``), in the type's currency.
- **Running out**: a (site, type) allocated today with no free seat, or whose
  consumed seats grew over the last 30 days (``growth`` = consumed now −
  consumed at the end of ``today − 30``) fast enough that the free seats last
  at most 14 more days: ``days_left`` = floor(free × 30 / growth) ≤ 14. A site
  with no free seat has run out: ``days_left`` 0 whatever its growth.
- **MRR** of a client = Σ allocated seats × its unit price in its billing
  cycle, before tax: the price its current period is billed at (locked when
  the period opened, rule 22; the price as now set for a type not locked
  yet), an annual price counted as a twelfth (the client's annual sum divided
  by 12, rounded half-up once per client and currency). Clients in trial today
  are left out, and a client that was in trial 30 days ago counted 0 then.
  ``change_30d`` = MRR today − MRR from the seats allocated at the end of
  ``today − 30``, at today's prices and cycle.
"""
import functools
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import aliased

from portal import clock
from portal.domain.billing import invoices
from portal.domain.billing.price_book import price_as_now_set, with_prices_as_now_set
from portal.domain.errors import Forbidden
from portal.extensions import db
from portal.i18n import gettext as _
from portal.models import (
    Allocation,
    ClientPrice,
    Organisation,
    PeriodPrice,
    PriceBookEntry,
    SeatChange,
    Site,
    SubscriptionType,
)
from portal.rbac.permissions import (
    may,
    permission_name,
    view_subscriptions,
    view_subscriptions_within,
)
from portal.rbac.scoping import client_scope, site_ids_in_reach

WINDOW_DAYS = 30  # idle seats, growth and the MRR's change all look back 30 days
RUNNING_OUT_DAYS = 14  # "none left within 14 days"
PAGE_ROWS = 50  # what the page shows of each list; the CSV and the API have every row


# ---------------------------------------------------------------- what the functions return


@dataclass(frozen=True)
class IdleSeat:
    """Seats of one type at one site that nobody used over the last 30 days."""

    client_id: int
    client_name: str
    site_id: int
    site_name: str
    subscription_type: str  # the code
    subscription_type_name: str
    idle_seats: int
    saving_per_period: int  # minor units of ``currency``: lowering the idle seats at the next period
    currency: str
    cycle: str  # the next period's cycle: what "per period" means


@dataclass(frozen=True)
class RunningOut:
    """One type at one site that has no free seat, or will have none within 14 days at its growth."""

    client_id: int
    client_name: str
    site_id: int
    site_name: str
    subscription_type: str  # the code
    subscription_type_name: str
    allocated: int
    free: int
    growth: int  # consumed seats gained over the last 30 days (net)
    days_left: int | None  # 0 with no free seat; None only when nothing grows (never listed with free seats)


@dataclass(frozen=True)
class ClientRevenue:
    """One client's monthly recurring revenue in one currency, and how it moved in 30 days."""

    client_id: int
    client_name: str
    billing_cycle: str
    mrr: int  # minor units of ``currency``
    change_30d: int
    currency: str


@dataclass
class Listing:
    """The first rows of a list (all of them without a limit) and how many there are in all."""

    rows: list
    count: int

    @property
    def more(self) -> int:
        """Rows left out by the limit."""
        return self.count - len(self.rows)


@dataclass(frozen=True)
class Revenue:
    """The MRR in total (in ``currency``, the catalogue's) with its 30-day change, and per client.

    ``totals`` has one ``(currency, mrr, change_30d)`` per currency any client
    pays in; ``total``/``change_30d`` are the catalogue currency's (0 when no
    client pays in it).
    """

    currency: str
    total: int
    change_30d: int
    totals: list[tuple[str, int, int]] = field(default_factory=list)
    clients: Listing | None = None


@dataclass(frozen=True)
class Insights:
    idle: Listing
    running_out: Listing
    revenue: Revenue


# ---------------------------------------------------------------- reach


@dataclass(frozen=True)
class _Reach:
    """Whose seats: ``kind`` is the actor's organisation's; ``site_ids`` narrows a client's (None: all)."""

    kind: str
    organisation_id: int
    site_ids: frozenset | None = None

    @property
    def shape(self) -> tuple[str, bool, str]:
        """What the statements are built for (each shape once): the reach's kind, whether it is narrowed to
        some sites, and the database's dialect."""
        return self.kind, self.site_ids is not None, db.session.get_bind().dialect.name

    def params(self) -> dict:
        params = {"scope_id": self.organisation_id}
        if self.site_ids is not None:
            params["site_ids"] = sorted(self.site_ids)
        return params


def capability(organisation):
    """What insight asks of its reader, as a named rbac capability (the page, the navigation link, the API).

    subscriptions.view over the organisation: a partner's or the operator's
    staff over all of it; a client's staff on the whole client or on some of
    its sites (then they read those sites only).
    """
    if organisation.kind == "client":
        return view_subscriptions_within(organisation)
    return view_subscriptions(organisation)


def may_see(actor) -> bool:
    """Whether ``actor`` may read insight (``capability`` of their organisation)."""
    return may(actor, capability(actor.organisation))


def _reach(actor) -> _Reach:
    """The actor's reach for subscriptions.view, or ``Forbidden``."""
    if not may_see(actor):
        raise Forbidden(_("Insight needs the %(permission)s permission.",
                          permission=permission_name(view_subscriptions)))
    organisation = actor.organisation
    if organisation.kind == "client":
        sites = site_ids_in_reach(actor, organisation, view_subscriptions)
        return _Reach("client", organisation.id, None if sites is None else frozenset(sites))
    return _Reach(organisation.kind, organisation.id)


# ---------------------------------------------------------------- the statements' parts


def _history(kind: str, limited: bool, dialect: str, *, with_peak: bool, allocated_only: bool):
    """Per allocation in reach (``allocation_id``): the sums of its changes in the window, and its peak (a select).

    Read from the allocations in reach, each joined to its own change rows of
    ``[start, today]`` through the history's primary key (site, type, day): a
    few rows per allocation, whatever the years of history. An allocation
    without changes in the window has NULL sums. ``peak`` is the largest sum
    of net changes (allocated − consumed) from one change day of the window to
    today: how much the free count at the end of the day before that change
    was below today's (a window SUM, latest day first).
    """
    where = client_scope(kind, bindparam("scope_id", type_=Integer))
    if limited:
        where &= Site.id.in_(bindparam("site_ids", expanding=True))
    if allocated_only:
        where &= Allocation.allocated > 0
    in_window = ((SeatChange.site_id == Allocation.site_id)
                 & (SeatChange.subscription_type_id == Allocation.subscription_type_id)
                 & (SeatChange.day >= bindparam("start", type_=Date))
                 & (SeatChange.day <= bindparam("today", type_=Date)))
    # PostgreSQL hash-joins the window's rows: the copies of the site's owners on each row let it read only the
    # partner's (or client's) through their (partner, day) / (client, day) index rather than every year of
    # history. Not on SQLite, which joins each allocation to its own rows through the primary key: offered
    # those indexes without statistics, it would read the partner's whole window once per allocation.
    if dialect == "postgresql" and kind == "partner":
        in_window &= SeatChange.partner_id == bindparam("scope_id", type_=Integer)
    elif dialect == "postgresql" and kind == "client":
        in_window &= SeatChange.client_id == bindparam("scope_id", type_=Integer)

    def over_reach(*columns):
        return (select(*columns).select_from(Allocation)
                .join(Site, Site.id == Allocation.site_id)
                .join(Organisation, Organisation.id == Site.client_id)
                .outerjoin(SeatChange, in_window)
                .where(where))

    if not with_peak:
        return (over_reach(Allocation.id.label("allocation_id"),
                           func.sum(SeatChange.allocated_change).label("allocated_growth"),
                           func.sum(SeatChange.consumed_change).label("consumed_growth"))
                .group_by(Allocation.id))
    net = SeatChange.allocated_change - SeatChange.consumed_change
    changes = over_reach(Allocation.id.label("allocation_id"), SeatChange.allocated_change,
                         SeatChange.consumed_change,
                         func.sum(net).over(partition_by=Allocation.id, order_by=SeatChange.day.desc(),
                                            rows=(None, 0)).label("net_after")).subquery("changes")
    return (select(changes.c.allocation_id,
                   func.sum(changes.c.allocated_change).label("allocated_growth"),
                   func.sum(changes.c.consumed_change).label("consumed_growth"),
                   func.max(changes.c.net_after).label("peak"))
            .group_by(changes.c.allocation_id))


def _allocations(history, *columns):
    """A select of ``columns`` over the allocations of ``history``, with their site, client and type.

    The client is ``Organisation`` itself (``client_scope`` and ``_Prices`` name it
    so); the type is an alias (``_type_alias``), whose list prices ``_Prices`` reads.
    """
    kind_ = _type_alias()
    return (select(*columns)
            .select_from(history)
            .join(Allocation, Allocation.id == history.c.allocation_id)
            .join(Site, Site.id == Allocation.site_id)
            .join(Organisation, Organisation.id == Site.client_id)
            .join(kind_, kind_.id == Allocation.subscription_type_id))


@functools.cache
def _type_alias():
    return aliased(SubscriptionType, name="seat_type")


class _Prices:
    """The prices as now set (``price_book.price_as_now_set``) of each allocation's client and type.

    Joined to the allocation rows themselves (the client's price and the
    partner's price book entry, one row each at most, through their keys):
    the rule stays in ``price_book``, read set-based rather than once per
    allocation, and without a derived table of every client and type.
    """

    def __init__(self):
        self.client_price = aliased(ClientPrice, name="client_price")
        self.book_entry = aliased(PriceBookEntry, name="book_entry")

    def joined(self, query):
        return with_prices_as_now_set(query, Organisation.id, Organisation.parent_id,
                                      Allocation.subscription_type_id, self.client_price, self.book_entry)

    def in_cycle(self, cycle_column):
        """The allocation's price as now set in the cycle ``cycle_column`` names."""
        def price(cycle):
            return price_as_now_set(self.client_price, self.book_entry, _type_alias(), cycle)

        return case((cycle_column == "monthly", price("monthly")), else_=price("annual"))


def _next_cycle():
    """The cycle of the client's next period, as ``invoices.next_period_preview`` chooses it, in SQL."""
    today = bindparam("today", type_=Date)
    pending = (Organisation.pending_billing_cycle.is_not(None)
               & (Organisation.pending_effective_on == Organisation.period_end))
    return case((Organisation.trial_ends_on > today, Organisation.billing_cycle),
                (pending, Organisation.pending_billing_cycle),
                else_=Organisation.billing_cycle)


def _with_locks(query):
    """``query`` with each allocation's price locked for its client's current period, if any (``PeriodPrice``)."""
    return query.outerjoin(PeriodPrice, (PeriodPrice.client_id == Organisation.id)
                           & (PeriodPrice.period_start == Organisation.period_start)
                           & (PeriodPrice.subscription_type_id == Allocation.subscription_type_id))


def _twelfth_if_annual(cycle_column, amount):
    """A monthly amount from a sum in ``cycle_column``'s cycle: an annual sum / 12, rounded half-up.

    ``money.half_up(amount, 12)`` in SQL (amounts here are never negative:
    floor((2a + 12) / 24)), so the page can sort and limit by it.
    """
    return case((cycle_column == "annual", (amount * 2 + 12) // 24), else_=amount)


# ---------------------------------------------------------------- the three lists, as SQL


def _idle_rows(history, kind: str):
    """The idle seats (unordered): allocations with seats free on every day of the window and now."""
    kind_ = _type_alias()
    peak = func.coalesce(history.c.peak, 0)
    idle = (Allocation.allocated - Allocation.consumed) - case((peak > 0, peak), else_=0)
    next_cycle = _next_cycle()
    prices = _Prices()
    saving = cast(idle, BigInteger) * prices.in_cycle(next_cycle)
    return (prices.joined(_allocations(
        history, Organisation.id.label("client_id"), Organisation.name.label("client_name"),
        Site.id.label("site_id"), Site.name.label("site_name"), kind_.id.label("type_id"),
        kind_.code.label("subscription_type"), kind_.name.label("subscription_type_name"),
        kind_.currency.label("currency"), next_cycle.label("cycle"),
        idle.label("idle_seats"), saving.label("saving_per_period")))
        .where(Allocation.allocated > 0, idle > 0))


def _running_out_rows(history):
    """The sites running out (unordered): no free seat, or none left within 14 days at the window's growth."""
    kind_ = _type_alias()
    free = Allocation.allocated - Allocation.consumed
    growth = func.coalesce(history.c.consumed_growth, 0)
    days_left = case((free == 0, 0), (growth > 0, free * WINDOW_DAYS // growth), else_=None)
    return (_allocations(
        history, Organisation.id.label("client_id"), Organisation.name.label("client_name"),
        Site.id.label("site_id"), Site.name.label("site_name"), kind_.id.label("type_id"),
        kind_.code.label("subscription_type"), kind_.name.label("subscription_type_name"),
        Allocation.allocated.label("allocated"), free.label("free"), growth.label("growth"),
        days_left.label("days_left"))
        .where(Allocation.allocated > 0,
               or_(free == 0, and_(growth > 0, free * WINDOW_DAYS // growth <= RUNNING_OUT_DAYS))))


def _revenue_rows(history, kind: str):
    """Per client in reach (not in trial today) and currency: its MRR now and its change over the window."""
    kind_ = _type_alias()
    today, then = bindparam("today", type_=Date), bindparam("then", type_=Date)
    prices = _Prices()
    # What the current period bills: its lock, else the price as now set in the billing cycle.
    price = func.coalesce(PeriodPrice.unit_price, prices.in_cycle(Organisation.billing_cycle))
    allocated_then = Allocation.allocated - func.coalesce(history.c.allocated_growth, 0)
    now_sum = cast(func.coalesce(func.sum(cast(Allocation.allocated, BigInteger) * price), 0), BigInteger)
    then_sum = cast(func.coalesce(func.sum(cast(allocated_then, BigInteger) * price), 0), BigInteger)
    sums = (_with_locks(prices.joined(_allocations(
        history, Organisation.id.label("client_id"), Organisation.name.label("client_name"),
        Organisation.billing_cycle.label("billing_cycle"),
        # In trial 30 days ago: no revenue then (in_trial(client, today − 30)).
        func.coalesce(Organisation.trial_ends_on > then, False).label("trial_then"),
        kind_.currency.label("currency"), now_sum.label("now_sum"), then_sum.label("then_sum"))))
        .where(or_(Organisation.trial_ends_on.is_(None), Organisation.trial_ends_on <= today),
               or_(Allocation.allocated > 0, history.c.allocated_growth != 0))
        .group_by(Organisation.id, Organisation.name, Organisation.billing_cycle, Organisation.trial_ends_on,
                  kind_.currency)
        .subquery("sums"))
    mrr = _twelfth_if_annual(sums.c.billing_cycle, sums.c.now_sum)
    mrr_then = case((sums.c.trial_then, literal(0, BigInteger)),
                    else_=_twelfth_if_annual(sums.c.billing_cycle, sums.c.then_sum))
    return (select(sums.c.client_id, sums.c.client_name, sums.c.billing_cycle.label("cycle"), sums.c.currency,
                   mrr.label("mrr"), (mrr - mrr_then).label("change_30d"))
            .where(or_(sums.c.now_sum != 0, sums.c.then_sum != 0)))


# Each list's order (ties broken down to the row's ids, so pages and exports agree).
ORDERS = {
    "idle": lambda c: (c.saving_per_period.desc(), c.idle_seats.desc(), c.client_name, c.client_id, c.site_name,
                       c.site_id, c.type_id),
    "running_out": lambda c: (c.days_left, c.free, c.client_name, c.client_id, c.site_name, c.site_id, c.type_id),
    "mrr": lambda c: (c.mrr.desc(), c.client_name, c.client_id, c.currency),
}


def _nothing(type_):
    return cast(null(), type_)


def _branch(name: str, rows):
    """One list (``rows``: a subquery of ``_idle_rows``, ``_running_out_rows`` or ``_revenue_rows``) in the
    columns every list shares: its first ``limit`` rows in the list's order, each with the count of them all.

    Columns: ``list``, ``rank``, ``listed``, the client, site and type (NULL where the
    list has none), ``currency``, ``cycle`` and four numbers: idle (idle seats,
    saving), running_out (allocated, free, growth, days left), mrr (MRR, its
    change). The count is a window function, evaluated before the LIMIT.
    """
    c = rows.c
    order = ORDERS[name](c)
    columns = [literal(name).label("list"), func.row_number().over(order_by=order).label("rank"),
               func.count().over().label("listed"), c.client_id, c.client_name]
    if name == "mrr":
        columns += [_nothing(Integer).label("site_id"), _nothing(String).label("site_name"),
                    _nothing(String).label("subscription_type"), _nothing(String).label("subscription_type_name"),
                    c.currency, c.cycle, c.mrr.label("n1"), c.change_30d.label("n2"),
                    _nothing(BigInteger).label("n3"), _nothing(BigInteger).label("n4")]
    else:
        columns += [c.site_id, c.site_name, c.subscription_type, c.subscription_type_name]
        if name == "idle":
            columns += [c.currency, c.cycle, c.idle_seats.label("n1"), c.saving_per_period.label("n2"),
                        _nothing(BigInteger).label("n3"), _nothing(BigInteger).label("n4")]
        else:
            columns += [_nothing(String).label("currency"), _nothing(String).label("cycle"),
                        c.allocated.label("n1"), c.free.label("n2"), c.growth.label("n3"), c.days_left.label("n4")]
    return select(*columns).order_by(*order).limit(bindparam("limit", type_=Integer))


def _totals_branch(revenue):
    """Each currency's MRR and change over every client (``revenue``: the clients' rows), as a list row."""
    c = revenue.c
    return select(literal("mrr_totals").label("list"), _nothing(BigInteger).label("rank"),
                  _nothing(BigInteger).label("listed"),
                  _nothing(Integer).label("client_id"), _nothing(String).label("client_name"),
                  _nothing(Integer).label("site_id"), _nothing(String).label("site_name"),
                  _nothing(String).label("subscription_type"), _nothing(String).label("subscription_type_name"),
                  c.currency, _nothing(String).label("cycle"), func.sum(c.mrr).label("n1"),
                  func.sum(c.change_30d).label("n2"), _nothing(BigInteger).label("n3"),
                  _nothing(BigInteger).label("n4")).group_by(c.currency)


def _rows(name: str, history, kind: str):
    return {"idle": lambda: _idle_rows(history, kind), "running_out": lambda: _running_out_rows(history),
            "mrr": lambda: _revenue_rows(history, kind)}[name]()


def _union(*branches):
    """``branches`` as one statement: each wrapped (its ORDER BY and LIMIT stay its own), then UNION ALL,
    in list and rank order (a union keeps no order of its own)."""
    every = union_all(*[select(branch.subquery()) for branch in branches]).subquery("lists")
    return select(every).order_by(every.c.list, every.c.rank)


@functools.cache
def _list_statement(name: str, kind: str, limited: bool, dialect: str):
    """One list (the MRR: with its totals), its own history read (with the peak for idle seats only)."""
    history = _history(kind, limited, dialect, with_peak=name == "idle",
                       allocated_only=name != "mrr").subquery("history")
    if name != "mrr":
        return _union(_branch(name, _rows(name, history, kind).subquery(name)))
    revenue = _rows(name, history, kind).cte("revenue")
    return _union(_branch(name, revenue), _totals_branch(revenue))


@functools.cache
def _page_statement(kind: str, limited: bool, dialect: str):
    """The three lists and the MRR's totals in one statement, the window's history read once (a CTE)."""
    history = _history(kind, limited, dialect, with_peak=True, allocated_only=False).cte("history")
    revenue = _rows("mrr", history, kind).cte("revenue")
    return _union(_branch("idle", _rows("idle", history, kind).subquery("idle")),
                  _branch("running_out", _rows("running_out", history, kind).subquery("running_out")),
                  _branch("mrr", revenue), _totals_branch(revenue))


def _read(statement, params: dict) -> dict:
    """The rows of ``statement`` per list: ``{list: Listing}``, and ``"mrr_totals"``: ``{currency: (mrr, change)}``."""
    lists = {name: Listing([], 0) for name in ORDERS}
    totals = {}
    for row in db.session.execute(statement, params).mappings():
        name = row["list"]
        if name == "mrr_totals":
            totals[row["currency"]] = (int(row["n1"]), int(row["n2"]))
        else:
            lists[name].rows.append(_MAKE[name](row))
            lists[name].count = row["listed"]
    lists["mrr_totals"] = totals
    return lists


_MAKE = {
    "idle": lambda row: IdleSeat(row["client_id"], row["client_name"], row["site_id"], row["site_name"],
                                 row["subscription_type"], row["subscription_type_name"], int(row["n1"]),
                                 int(row["n2"] or 0), row["currency"], row["cycle"]),
    "running_out": lambda row: RunningOut(row["client_id"], row["client_name"], row["site_id"], row["site_name"],
                                          row["subscription_type"], row["subscription_type_name"], int(row["n1"]),
                                          int(row["n2"]), int(row["n3"]),
                                          None if row["n4"] is None else int(row["n4"])),
    "mrr": lambda row: ClientRevenue(row["client_id"], row["client_name"], row["cycle"], int(row["n1"]),
                                     int(row["n2"]), row["currency"]),
}
EVERY_ROW = 2**31 - 1


def _params(reach: _Reach, today: date, limit: int | None) -> dict:
    params = reach.params()
    params.update(today=today, start=today - timedelta(days=WINDOW_DAYS - 1),
                  then=today - timedelta(days=WINDOW_DAYS), limit=EVERY_ROW if limit is None else limit)
    return params


def _revenue(lists: dict, with_clients: bool) -> Revenue:
    sums = lists["mrr_totals"]
    currency = invoices.catalogue_currency()
    total, change = sums.get(currency, (0, 0))
    totals = [(each, mrr, change_30d) for each, (mrr, change_30d) in sorted(sums.items())]
    return Revenue(currency, total, change, totals, lists["mrr"] if with_clients else None)


# ---------------------------------------------------------------- what the screens, the CSV and the API call


def idle_seats(actor, *, limit: int | None = None, today: date | None = None) -> Listing:
    """The idle seats in the actor's reach (``IdleSeat`` rows), biggest saving first; one statement.

    ``limit``: only the first rows (the count is still of them all). ``today``:
    the service clock's day (the counters read are today's). ``Forbidden``
    without subscriptions.view.
    """
    reach = _reach(actor)
    return _read(_list_statement("idle", *reach.shape), _params(reach, today or clock.today(), limit))["idle"]


def running_out(actor, *, limit: int | None = None, today: date | None = None) -> Listing:
    """The sites running out in the actor's reach (``RunningOut`` rows), fewest days left first; one statement.

    ``limit``, ``today`` and ``Forbidden`` as ``idle_seats``.
    """
    reach = _reach(actor)
    return _read(_list_statement("running_out", *reach.shape),
                 _params(reach, today or clock.today(), limit))["running_out"]


def recurring_revenue(actor, *, limit: int | None = None, with_clients: bool = True,
                      today: date | None = None) -> Revenue:
    """The monthly recurring revenue in the actor's reach: in total with its 30-day change, and per client.

    One statement (the clients by MRR, biggest first: the first ``limit`` if
    given, with each currency's totals), and one for the catalogue currency;
    ``with_clients=False`` reads the totals only (the API). Amounts never add
    up across currencies: each currency has its own total, and ``total`` /
    ``change_30d`` are the catalogue currency's (``invoices.catalogue_currency``:
    in practice the only one), the others are in ``totals``. ``Forbidden``
    without subscriptions.view.
    """
    reach = _reach(actor)
    params = _params(reach, today or clock.today(), limit if with_clients else 0)
    return _revenue(_read(_list_statement("mrr", *reach.shape), params), with_clients)


def insights(actor, *, limit: int | None = None, today: date | None = None) -> Insights:
    """The three lists at once (the page: ``limit=PAGE_ROWS``), in one statement and one for the catalogue
    currency: the window's history is read once for the three. ``Forbidden`` without subscriptions.view."""
    reach = _reach(actor)
    lists = _read(_page_statement(*reach.shape), _params(reach, today or clock.today(), limit))
    return Insights(lists["idle"], lists["running_out"], _revenue(lists, True))
