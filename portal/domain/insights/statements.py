"""Insight's statements (docs/rules.md rule 36), read live from the counters and the seat history.

The rules of the three lists live here once, as SQL: ``idle_rows``,
``running_out_rows`` and ``revenue_rows`` turn per-allocation window figures
(a ``window_history``-shaped select: ``allocation_id``, ``allocated_growth``,
``consumed_growth``, ``peak``) into list rows. ``window_history`` reads those
figures from the history of the last 30 days; ``portal.domain.insights.baselines``
reads them from the day's baselines instead, through the same row functions.
"""
import functools

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

from portal.domain.billing import invoices
from portal.domain.billing.price_book import price_as_now_set, with_prices_as_now_set
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
from portal.rbac.scoping import client_scope

WINDOW_DAYS = 30  # idle seats, growth and the MRR's change all look back 30 days
RUNNING_OUT_DAYS = 14  # "none left within 14 days"


def window_history(kind: str, limited: bool, dialect: str, *, with_peak: bool, allocated_only: bool):
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


def idle_rows(history, kind: str):
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


def running_out_rows(history):
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


def revenue_rows(history, kind: str):
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


def branch(name: str, rows, listed=None):
    """One list (``rows``: a subquery of ``idle_rows``, ``running_out_rows`` or ``revenue_rows``) in the
    columns every list shares: its first ``limit`` rows in the list's order, each with the count of them all.

    Columns: ``list``, ``rank``, ``listed``, the client, site and type (NULL where the
    list has none), ``currency``, ``cycle`` and four numbers: idle (idle seats,
    saving), running_out (allocated, free, growth, days left), mrr (MRR, its
    change). The count is a window function, evaluated before the LIMIT, unless
    ``listed`` (an expression) says how many rows the list has in all.
    """
    c = rows.c
    order = ORDERS[name](c)
    columns = [literal(name).label("list"), func.row_number().over(order_by=order).label("rank"),
               (func.count().over() if listed is None else listed).label("listed"), c.client_id, c.client_name]
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


def totals_branch(revenue):
    """Each currency's MRR and change over every client (``revenue``: the clients' rows), as a list row."""
    c = revenue.c
    return _summary_row("mrr_totals", c.currency, func.sum(c.mrr), func.sum(c.change_30d)).group_by(c.currency)


def catalogue_branch():
    """The catalogue's currency (``invoices.catalogue_currency``, the MRR headline's) as a row of the lists,
    so the page asks it in the same statement."""
    return _summary_row("catalogue", invoices.catalogue_currency_query().scalar_subquery(),
                        _nothing(BigInteger), _nothing(BigInteger))


def _summary_row(name: str, currency, n1, n2):
    """A row of the lists' shape that is no list's rows: ``name``, a ``currency`` and two numbers; the rest NULL."""
    return select(literal(name).label("list"), _nothing(BigInteger).label("rank"),
                  _nothing(BigInteger).label("listed"),
                  _nothing(Integer).label("client_id"), _nothing(String).label("client_name"),
                  _nothing(Integer).label("site_id"), _nothing(String).label("site_name"),
                  _nothing(String).label("subscription_type"), _nothing(String).label("subscription_type_name"),
                  currency.label("currency"), _nothing(String).label("cycle"), n1.label("n1"), n2.label("n2"),
                  _nothing(BigInteger).label("n3"), _nothing(BigInteger).label("n4"))


def _rows(name: str, history, kind: str):
    return {"idle": lambda: idle_rows(history, kind), "running_out": lambda: running_out_rows(history),
            "mrr": lambda: revenue_rows(history, kind)}[name]()


def union(*branches):
    """``branches`` as one statement: each wrapped (its ORDER BY and LIMIT stay its own), then UNION ALL,
    in list and rank order (a union keeps no order of its own)."""
    every = union_all(*[select(branch.subquery()) for branch in branches]).subquery("lists")
    return select(every).order_by(every.c.list, every.c.rank)


@functools.cache
def list_statement(name: str, kind: str, limited: bool, dialect: str):
    """One list (the MRR: with its totals), its own history read (with the peak for idle seats only)."""
    history = window_history(kind, limited, dialect, with_peak=name == "idle",
                       allocated_only=name != "mrr").subquery("history")
    if name != "mrr":
        return union(branch(name, _rows(name, history, kind).subquery(name)))
    revenue = _rows(name, history, kind).cte("revenue")
    return union(branch(name, revenue), totals_branch(revenue), catalogue_branch())


@functools.cache
def page_statement(kind: str, limited: bool, dialect: str):
    """The three lists and the MRR's totals in one statement, the window's history read once (a CTE)."""
    history = window_history(kind, limited, dialect, with_peak=True, allocated_only=False).cte("history")
    revenue = _rows("mrr", history, kind).cte("revenue")
    return union(branch("idle", _rows("idle", history, kind).subquery("idle")),
                  branch("running_out", _rows("running_out", history, kind).subquery("running_out")),
                  branch("mrr", revenue), totals_branch(revenue), catalogue_branch())

