"""The day's insight baselines of each partner (``portal.models.insight``): insight read in a few rows.

Worked out live, insight ranks every allocation of a partner by its last 30
days on each request (about 80 ms at 2,000 clients on SQLite). But most of
what it reads is fixed for the whole UTC day: the end-of-day counts of past
days do not change. Per allocation, three numbers carry all of it:

- ``least_free``: the least free count at the end of the days ``today − 30 …
  today − 1``: idle seats now = min(free now, least_free) (rule 36's "least
  free over the window, never more than free now");
- ``consumed_then`` and ``allocated_then``: the counts at the end of
  ``today − 30``: growth = consumed now − consumed_then, and the MRR's change
  reads allocated_then.

``build`` stores them with each allocation's list rows as they are when it
runs, and the clients' MRR rows. A request then reads:

- the rows of allocations whose counters have not moved since the build (their
  history row of today still says what it said then), straight from the
  baseline through an index in the list's order, LIMIT included;
- the rows of the few that have moved (and of their clients, for the MRR),
  worked out live from their counters and the three numbers, by the same row
  functions as the live statements (``statements.idle_rows``…): the rules
  are not restated here.

Anything else that changes insight (a price, a price book, a cycle, a period
opened by the billing run, a name, a site…) is an audited change, so it leaves
an outbox event of the partner (or of the operator, for the catalogue):
``usable`` refuses a baseline older than such an event, and insight reads live
until the next ``refresh`` (the worker runs it every minute; ``flask insights
refresh`` too). Only the partner's own staff read baselines; client staff and
the operator, whose reach is narrower or wider, read live.
"""
import functools
from datetime import date, timedelta
from types import SimpleNamespace

from sqlalchemy import (
    Date,
    Integer,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
    update,
)

from portal import clock
from portal.domain.insights import statements
from portal.domain.insights.statements import WINDOW_DAYS
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import (
    Allocation,
    InsightBaseline,
    Organisation,
    OutboxEvent,
    RevenueBaseline,
    RevenueTotalBaseline,
    SeatBaseline,
    SeatChange,
    Site,
    SubscriptionType,
)
from portal.models.mixins import utcnow

# Event types whose only effect on insight goes through the seat counters (and so through today's history
# rows, which a request reads): they leave a baseline usable. Any other type (prices, cycles, invoices,
# names, sites, the catalogue, and any type added later) makes it wait for its next build.
SEAT_EVENT_TYPES = ("allocation.changed", "user.created", "user.updated", "user.deactivated",
                    "seat_request.created", "seat_request.decided", "site.running_out", "invitation.sent")
# An event is "settled" once no transaction that wrote an older one can still be open. SQLite serialises
# writers (and a build runs in a write transaction), so there every event the build can see is settled. On
# PostgreSQL ids are given at insert, not at commit: an event inserted before the build and committed after
# it could carry a smaller id than the newest one the build saw; events of the last minute are not counted
# as settled (a write transaction of the portal lasts milliseconds).
SETTLE = timedelta(minutes=1)
# ``refresh`` builds a baseline again when its partner's seats moved and it is older than this, so the rows a
# request works out live stay few on a busy day.
REBUILD_AFTER = timedelta(minutes=10)


def _scope():
    return bindparam("scope_id", type_=Integer)


def _today():
    return bindparam("today", type_=Date)


def _params(partner_id: int, today: date) -> dict:
    return {"scope_id": partner_id, "today": today, "start": today - timedelta(days=WINDOW_DAYS - 1),
            "then": today - timedelta(days=WINDOW_DAYS)}


# The partial indexes' conditions, word for word (portal.models.insight).
_IDLE = SeatBaseline.idle_seats > literal_column("0")
_RUNNING_OUT = SeatBaseline.days_left.is_not(None)


# ---------------------------------------------------------------- building


def _fixed():
    """Per allocation of the partner: its figures fixed for the day (a CTE).

    From the allocation's history rows of ``[today − 29, today]`` (a running sum
    of net changes, latest day first, as the live statement): ``least_free`` =
    free now − the largest of today's net change and every earlier day's sum
    from that day to today; the counts of ``today − 30`` are today's minus the
    window's sums.
    """
    today = _today()
    in_window = ((SeatChange.site_id == Allocation.site_id)
                 & (SeatChange.subscription_type_id == Allocation.subscription_type_id)
                 & (SeatChange.day >= bindparam("start", type_=Date)) & (SeatChange.day <= today))
    net = SeatChange.allocated_change - SeatChange.consumed_change
    changes = (select(Allocation.id.label("allocation_id"), Allocation.site_id, Allocation.subscription_type_id,
                      Site.client_id, SeatChange.day, SeatChange.allocated_change, SeatChange.consumed_change,
                      func.sum(net).over(partition_by=Allocation.id, order_by=SeatChange.day.desc(),
                                         rows=(None, 0)).label("net_after"))
               .select_from(Allocation).join(Site, Site.id == Allocation.site_id)
               .join(Organisation, Organisation.id == Site.client_id)
               .outerjoin(SeatChange, in_window)
               .where(Organisation.parent_id == _scope())
               .subquery("changes"))
    c = changes.c

    def on_today(column):
        return func.coalesce(func.sum(case((c.day == today, column), else_=0)), 0)

    today_net = on_today(c.allocated_change) - on_today(c.consumed_change)
    past_peak = func.max(case((c.day < today, c.net_after), else_=None))
    sums = (select(c.allocation_id, c.site_id, c.subscription_type_id, c.client_id,
                   on_today(c.allocated_change).label("today_allocated_change"),
                   on_today(c.consumed_change).label("today_consumed_change"),
                   func.coalesce(func.sum(c.allocated_change), 0).label("allocated_growth"),
                   func.coalesce(func.sum(c.consumed_change), 0).label("consumed_growth"),
                   func.coalesce(past_peak, today_net).label("past_peak"), today_net.label("today_net"))
            .group_by(c.allocation_id, c.site_id, c.subscription_type_id, c.client_id)
            .subquery("sums"))
    s = sums.c
    peak = case((s.past_peak > s.today_net, s.past_peak), else_=s.today_net)
    return (select(s.allocation_id, s.site_id, s.subscription_type_id, s.client_id, s.today_allocated_change,
                   s.today_consumed_change,
                   (Allocation.allocated - Allocation.consumed - peak).label("least_free"),
                   (Allocation.consumed - s.consumed_growth).label("consumed_then"),
                   (Allocation.allocated - s.allocated_growth).label("allocated_then"))
            .join_from(sums, Allocation, Allocation.id == s.allocation_id)
            .cte("fixed"))


def _seat_rows(fixed):
    """The baseline's allocation rows: ``fixed`` with the names, as not idle and not running out (yet)."""
    f = fixed.c
    return (select(f.site_id, f.subscription_type_id, _scope(), f.client_id, f.today_allocated_change,
                   f.today_consumed_change, f.least_free, f.consumed_then, f.allocated_then,
                   Organisation.name, Site.name, SubscriptionType.code, SubscriptionType.name,
                   literal_column("0"), Allocation.allocated, Allocation.allocated - Allocation.consumed,
                   Allocation.consumed - f.consumed_then)
            .select_from(fixed)
            .join(Allocation, Allocation.id == f.allocation_id)
            .join(Site, Site.id == f.site_id)
            .join(Organisation, Organisation.id == f.client_id)
            .join(SubscriptionType, SubscriptionType.id == f.subscription_type_id))


_SEAT_COLUMNS = ["site_id", "subscription_type_id", "partner_id", "client_id", "today_allocated_change",
                 "today_consumed_change", "least_free", "consumed_then", "allocated_then", "client_name",
                 "site_name", "subscription_type", "subscription_type_name", "idle_seats", "allocated", "free",
                 "growth"]


def _set_from(rows, **columns):
    """UPDATE the baseline's allocation rows found in ``rows`` (a list's rows: ``site_id``, ``type_id``)."""
    rows = rows.subquery()
    b = SeatBaseline.__table__.c
    return (update(SeatBaseline.__table__)
            .values({name: rows.c[column] for name, column in columns.items()})
            .where(b.site_id == rows.c.site_id, b.subscription_type_id == rows.c.type_id))


def build(partner_id: int, today: date | None = None) -> None:
    """Replace the partner's baseline with one for ``today`` (the service clock's day), in the caller's transaction.

    Set-based: a handful of INSERT … SELECT statements whatever the number of
    clients. The settled event id is read first, so an event written while
    this runs is newer than it and makes the baseline wait (never the reverse).
    """
    today = today or clock.today()
    params = _params(partner_id, today)
    _lock(partner_id)
    settled = _settled_event_id()
    forget(partner_id)
    db.session.execute(insert(SeatBaseline.__table__).from_select(_SEAT_COLUMNS, _seat_rows(_fixed())), params)
    # The lists' rows now, by the live statements' row functions over the fixed figures just stored.
    every = _live_history(_of_partner())
    db.session.execute(_set_from(statements.idle_rows(every, "partner"), idle_seats="idle_seats",
                                 saving_per_period="saving_per_period", currency="currency", cycle="cycle"), params)
    db.session.execute(_set_from(statements.running_out_rows(every), days_left="days_left"), params)
    revenue = statements.revenue_rows(every, "partner").subquery("revenue")
    db.session.execute(insert(RevenueBaseline.__table__).from_select(
        ["client_id", "currency", "partner_id", "client_name", "cycle", "mrr", "change_30d"],
        select(revenue.c.client_id, revenue.c.currency, _scope(), revenue.c.client_name, revenue.c.cycle,
               revenue.c.mrr, revenue.c.change_30d)), params)
    db.session.execute(insert(RevenueTotalBaseline.__table__).from_select(
        ["partner_id", "currency", "mrr", "change_30d"],
        select(RevenueBaseline.partner_id, RevenueBaseline.currency, func.sum(RevenueBaseline.mrr),
               func.sum(RevenueBaseline.change_30d))
        .where(RevenueBaseline.partner_id == partner_id)
        .group_by(RevenueBaseline.partner_id, RevenueBaseline.currency)))

    def count(model, *where):
        return db.session.scalar(select(func.count()).select_from(model).where(model.partner_id == partner_id,
                                                                              *where))

    db.session.add(InsightBaseline(
        partner_id=partner_id, day=today, settled_event_id=settled, built_at=utcnow(),
        idle_listed=count(SeatBaseline, _IDLE),
        running_out_listed=count(SeatBaseline, _RUNNING_OUT),
        revenue_listed=count(RevenueBaseline)))
    db.session.flush()


def _lock(partner_id: int) -> None:
    """Hold the partner's baseline until the transaction ends: every worker refreshes every minute, and two
    builds of one partner at once would both insert its rows. SQLite's write transaction already is one."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(_ADVISORY_CLASS, partner_id)))


_ADVISORY_CLASS = 36  # the first key of the two-key advisory lock: rule 36's baselines


def _settled_event_id() -> int:
    newest = select(func.coalesce(func.max(OutboxEvent.id), 0))
    if db.session.get_bind().dialect.name != "sqlite":
        newest = newest.where(OutboxEvent.created_at <= utcnow() - SETTLE)
    return db.session.scalar(newest)


def forget(partner_id: int) -> None:
    """Drop the partner's baseline (insight reads live until the next build)."""
    for model in (InsightBaseline, SeatBaseline, RevenueBaseline, RevenueTotalBaseline):
        db.session.execute(delete(model).where(model.partner_id == partner_id))


# ---------------------------------------------------------------- when a baseline may be read


def _newer_event(settled_event_id, partner_id, *, any_type: bool):
    """Whether the partner (or the operator) has an event after ``settled_event_id`` (of a non-seat type)."""
    newer = (OutboxEvent.id > settled_event_id) & (
        (OutboxEvent.partner_id == partner_id) | OutboxEvent.partner_id.is_(None))
    if not any_type:
        newer &= OutboxEvent.type.not_in(SEAT_EVENT_TYPES)
    return exists().where(newer)


def reading(partner_id: int, today: date) -> str | None:
    """How insight may read the partner's baseline for ``today`` (one statement): None when there is none that
    no change other than a seat's has outdated; else "still" when no seat moved since it was built, "moved"
    when some did (their rows are worked out live)."""
    found = db.session.connection().execute(_reading_statement(), {"scope_id": partner_id, "today": today}).first()
    return None if found is None else ("moved" if found[0] else "still")


@functools.cache
def _reading_statement():
    """``reading``'s statement, built once (the partner and the day are its parameters): every insight page
    asks it, and building it cost more than running it."""
    return select(exists(_changed_select())).where(
        InsightBaseline.partner_id == _scope(), InsightBaseline.day == _today(),
        ~_newer_event(InsightBaseline.settled_event_id, _scope(), any_type=False))


def usable(partner_id: int, today: date) -> bool:
    """Whether the partner has a baseline for ``today`` that no change other than a seat's has outdated."""
    return reading(partner_id, today) is not None


def due(today: date, partner_id: int | None = None) -> list[int]:
    """The partners (or the one given) whose baseline ``refresh`` should build: none for today, outdated, or
    old and moved since."""
    baseline = InsightBaseline
    partners = (select(Organisation.id)
                .outerjoin(baseline, baseline.partner_id == Organisation.id)
                .where(Organisation.kind == "partner",
                       or_(baseline.partner_id.is_(None), baseline.day != today,
                           _newer_event(baseline.settled_event_id, Organisation.id, any_type=False),
                           and_(baseline.built_at < utcnow() - REBUILD_AFTER,
                                _newer_event(baseline.settled_event_id, Organisation.id, any_type=True))))
                .order_by(Organisation.id))
    if partner_id is not None:
        partners = partners.where(Organisation.id == partner_id)
    return list(db.session.scalars(partners))


def refresh(today: date | None = None) -> list[int]:
    """Build the baseline of every partner ``due`` for ``today``, each in its own transaction; their ids.

    The worker runs it every minute (``portal.jobs.tasks``), ``flask --app wsgi
    insights refresh`` on demand. A partner's build takes about as long as one
    live insight page of that partner.
    """
    today = today or clock.today()
    built = []
    for partner_id in due(today):
        with write_transaction():
            _lock(partner_id)
            if due(today, partner_id):  # not built meanwhile by another worker's refresh
                build(partner_id, today)
                built.append(partner_id)
    return built


# ---------------------------------------------------------------- reading


def _changed():
    return _changed_select().cte("changed")


def _changed_select():
    """The partner's allocations whose counters moved since the build: today's history row differs (or is new)."""
    moved = or_(SeatBaseline.site_id.is_(None),
                SeatChange.allocated_change != SeatBaseline.today_allocated_change,
                SeatChange.consumed_change != SeatBaseline.today_consumed_change)
    return (select(SeatChange.site_id, SeatChange.subscription_type_id, SeatChange.client_id)
            .outerjoin(SeatBaseline, (SeatBaseline.site_id == SeatChange.site_id)
                       & (SeatBaseline.subscription_type_id == SeatChange.subscription_type_id))
            .where(SeatChange.partner_id == _scope(), SeatChange.day == _today(), moved))


def _not_moved(changed, site_id, type_id):
    """The allocation has not moved: a row-value NOT IN, which both databases check against a hashed set while
    reading the list's index in order (an anti-join made PostgreSQL read and sort the whole list)."""
    return tuple_(site_id, type_id).not_in(select(changed.c.site_id, changed.c.subscription_type_id))


def _live_history(allocations):
    """``statements.window_history``'s columns for ``allocations`` (a select of their ids), from their counters
    now and their baseline's fixed figures (none for an allocation created since: nothing free, used or
    bought 30 days ago)."""
    chosen = allocations.subquery("chosen")
    least_free = func.coalesce(SeatBaseline.least_free, 0)
    return (select(Allocation.id.label("allocation_id"),
                   (Allocation.allocated - func.coalesce(SeatBaseline.allocated_then, 0)).label("allocated_growth"),
                   (Allocation.consumed - func.coalesce(SeatBaseline.consumed_then, 0)).label("consumed_growth"),
                   (Allocation.allocated - Allocation.consumed - least_free).label("peak"))
            .select_from(chosen)
            .join(Allocation, Allocation.id == chosen.c.id)
            .outerjoin(SeatBaseline, (SeatBaseline.site_id == Allocation.site_id)
                       & (SeatBaseline.subscription_type_id == Allocation.subscription_type_id))
            .subquery("moved"))


def _moved(changed):
    """The ids of the allocations that moved since the build."""
    return select(Allocation.id).join(changed, (changed.c.site_id == Allocation.site_id)
                                      & (changed.c.subscription_type_id == Allocation.subscription_type_id))


def _of_moved_clients(changed):
    """The ids of every allocation of the clients with an allocation that moved since the build."""
    return (select(Allocation.id).join(Site, Site.id == Allocation.site_id)
            .where(Site.client_id.in_(select(changed.c.client_id))))


def _of_partner():
    """The ids of the partner's allocations that have a baseline row (every one, once the rows are stored)."""
    return (select(Allocation.id)
            .join(SeatBaseline, (SeatBaseline.site_id == Allocation.site_id)
                  & (SeatBaseline.subscription_type_id == Allocation.subscription_type_id))
            .where(SeatBaseline.partner_id == _scope()))


def _baseline_rows_of(changed, listed):
    """The baseline's ``listed`` rows of the allocations that moved (read from the few that moved)."""
    return (select(SeatBaseline.site_id)
            .join(changed, (changed.c.site_id == SeatBaseline.site_id)
                  & (changed.c.subscription_type_id == SeatBaseline.subscription_type_id))
            .where(listed).subquery())


def _limit():
    return bindparam("limit", type_=Integer)


def _listed(counted: str, kept_out=None, live_rows=None):
    """A list's count: the baseline's (its ``counted`` column), less its rows worked out live, plus those rows."""
    baseline_count = select(getattr(InsightBaseline, counted)).where(InsightBaseline.partner_id == _scope())
    if live_rows is None:
        return baseline_count.scalar_subquery()
    return (baseline_count.scalar_subquery()
            - select(func.count()).select_from(kept_out).scalar_subquery()
            + select(func.count()).select_from(live_rows).scalar_subquery())


def _kept(kept, changed, site_id, type_id):
    """``kept`` (the baseline's rows of a list) without the allocations that moved, if any did."""
    return kept if changed is None else kept.where(_not_moved(changed, site_id, type_id))


# Per seat list: its columns of the baseline (after the client, site and type), the condition of its partial
# index, the row function that works a moved allocation's row out live, and the baseline's count of it.
_SEAT_LISTS = {
    "idle": (("currency", "cycle", "idle_seats", "saving_per_period"), _IDLE,
             lambda history: statements.idle_rows(history, "partner"), "idle_listed"),
    "running_out": (("allocated", "free", "growth", "days_left"), _RUNNING_OUT,
                    statements.running_out_rows, "running_out_listed"),
}


def _seat_branch(name: str, changed):
    """A seat list (idle or running out): the baseline's first rows in the list's order (``statements.ORDERS``,
    which the partial index holds), less the allocations that moved if ``changed``, and those worked out live."""
    columns, listed, live_rows, counted = _SEAT_LISTS[name]
    b = SeatBaseline
    kept = _kept(select(b.client_id, b.client_name, b.site_id, b.site_name, b.subscription_type_id.label("type_id"),
                        b.subscription_type, b.subscription_type_name, *(getattr(b, each) for each in columns))
                 .where(b.partner_id == _scope(), listed), changed, b.site_id, b.subscription_type_id)
    in_order = SimpleNamespace(type_id=b.subscription_type_id,
                               **{each: getattr(b, each) for each in ("client_name", "client_id", "site_name",
                                                                      "site_id", *columns)})
    kept = kept.order_by(*statements.ORDERS[name](in_order)).limit(_limit())
    if changed is None:
        return statements.branch(name, kept.subquery(name), _listed(counted))
    moved = live_rows(_live_history(_moved(changed))).cte(f"moved_{name}")
    rows = union_all(select(kept.subquery()), select(moved)).subquery(name)
    return statements.branch(name, rows, _listed(counted, _baseline_rows_of(changed, listed), moved))


def _revenue_branches(changed):
    """The MRR list and its totals (and the catalogue's currency): the clients none of whose allocations moved
    from the baseline, the others worked out live over all their allocations."""
    r, t = RevenueBaseline, RevenueTotalBaseline
    kept = select(r.client_id, r.client_name, r.cycle, r.currency, r.mrr, r.change_30d).where(r.partner_id == _scope())
    order = statements.ORDERS["mrr"](r)  # the list's order, which the index holds
    totals = select(t.currency, t.mrr, t.change_30d).where(t.partner_id == _scope())
    if changed is None:
        return (statements.branch("mrr", kept.order_by(*order).limit(_limit()).subquery("mrr"),
                                  _listed("revenue_listed")),
                statements.totals_branch(totals.subquery("sums")), statements.catalogue_branch())
    moved_clients = select(changed.c.client_id)
    kept = kept.where(r.client_id.not_in(moved_clients)).order_by(*order).limit(_limit())
    moved = statements.revenue_rows(_live_history(_of_moved_clients(changed)), "partner").cte("moved_revenue")
    rows = union_all(select(kept.subquery()), select(moved)).subquery("mrr")
    kept_out = select(r.client_id).where(r.partner_id == _scope(), r.client_id.in_(moved_clients)).subquery()
    listed = _listed("revenue_listed", kept_out, moved)
    # Totals: the baseline's, less the moved clients' rows there, plus their rows now.
    sums = union_all(
        totals,
        select(r.currency, -r.mrr, -r.change_30d).where(r.partner_id == _scope(), r.client_id.in_(moved_clients)),
        select(moved.c.currency, moved.c.mrr, moved.c.change_30d)).subquery("sums")
    return statements.branch("mrr", rows, listed), statements.totals_branch(sums), statements.catalogue_branch()


@functools.cache
def list_statement(name: str, moved: bool):
    """One list from the partner's baseline (the MRR: with its totals), in ``statements.union``'s columns;
    ``moved``: some allocations moved since the build (``reading``), whose rows are worked out live."""
    changed = _changed() if moved else None
    if name in _SEAT_LISTS:
        return statements.union(_seat_branch(name, changed))
    return statements.union(*_revenue_branches(changed))


@functools.cache
def page_statement(moved: bool):
    """The three lists and the MRR's totals from the partner's baseline, in one statement (``moved`` as
    ``list_statement``)."""
    changed = _changed() if moved else None
    return statements.union(*(_seat_branch(name, changed) for name in _SEAT_LISTS), *_revenue_branches(changed))
