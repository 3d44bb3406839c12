"""Seats over time (docs/rules.md rules 34-35): any past day's allocated and consumed, from the history.

The history keeps each day's net change (``portal.models.usage``); the value
at the end of day D is today's counter minus the changes of the days after D.
So a range costs one read of today's counters and one grouped read of the
changes since its first day, whatever the number of days or sites: a site
reads its own rows, a client its rows through ``(client_id, day)``, a partner
and the operator the per-partner rows.
"""
import functools
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from operator import sub

from sqlalchemy import Date, Integer, String, bindparam, func, null, select, type_coerce

from portal import clock
from portal.domain.errors import Invalid
from portal.extensions import db
from portal.i18n import gettext as _
from portal.i18n import ngettext
from portal.models import (
    Allocation,
    PartnerSeatChange,
    PartnerSeatTotal,
    SeatChange,
    Site,
    SubscriptionType,
)

MAX_DAYS = 400
DEFAULT_DAYS = 30


@dataclass(frozen=True)
class Scope:
    """Whose seats: one site, one client (optionally only some of its sites), one partner, or every partner."""

    kind: str  # "site", "client", "partner" or "all"
    id: int | None = None
    site_ids: frozenset[int] | None = None  # a client's sites in reach; None: all of them

    @classmethod
    def site(cls, site_id: int) -> "Scope":
        return cls("site", site_id)

    @classmethod
    def client(cls, client_id: int, site_ids=None) -> "Scope":
        return cls("client", client_id, None if site_ids is None else frozenset(site_ids))

    @classmethod
    def partner(cls, partner_id: int | None) -> "Scope":
        """A partner's clients; ``None`` is every partner's (the operator)."""
        return cls("all") if partner_id is None else cls("partner", partner_id)


@dataclass(frozen=True)
class DayUsage:
    day: date
    subscription_type: SubscriptionType
    allocated: int
    consumed: int


def day_range(start: date | None, end: date | None, *, today: date | None = None) -> tuple[date, date]:
    """The days ``[start, end]`` a usage read covers; ``Invalid`` (naming ``from`` or ``to``) when it cannot.

    Absent, ``end`` is today and ``start`` 29 days before it; days after today are clipped to today (the
    future has no history yet). At most MAX_DAYS days, and ``end`` not before ``start``.
    """
    today = today or clock.today()
    end = min(end or today, today)
    start = min(start or end - timedelta(days=DEFAULT_DAYS - 1), today)
    if end < start:
        raise Invalid(_("The end date is before the start date."), field="to")
    if (end - start).days + 1 > MAX_DAYS:
        raise Invalid(ngettext("A range covers at most %(num)d day; choose a shorter range.",
                               "A range covers at most %(num)d days; choose a shorter range.", MAX_DAYS),
                      field="to")
    return start, end


def usage(scope: Scope, start: date, end: date, *, today: date | None = None) -> list[DayUsage]:
    """One row per day of ``[start, end]`` and per type the scope had seats of on any of those days.

    Rows by day, then type; each holds the counts at the end of that UTC day
    (today's: as they are now). Call ``day_range`` first: it checks the range.
    """
    today = today or clock.today()
    series = _series(_current(scope), _changes(scope, start), start, end, today)
    types = {t.id: t for t in db.session.scalars(select(SubscriptionType).where(SubscriptionType.id.in_(series)))}
    rows = [DayUsage(day, types[type_id], allocated, consumed)
            for type_id in sorted(series) for day, allocated, consumed in series[type_id]]
    return sorted(rows, key=lambda row: (row.day, row.subscription_type.id))


def daily_totals(scope: Scope, start: date, end: date, *, today: date | None = None,
                 current: tuple[int, int] | None = None) -> list[tuple[date, int, int]]:
    """(day, allocated, consumed) summed over the types, oldest first, for each day of ``[start, end]``: what a
    chart draws. The sums of ``usage``'s rows, read summed: a year of a partner is 365 points to walk back,
    not 365 per type made into rows and added up (none when the scope had no seat in the range).

    ``current``: the scope's (allocated, consumed) now, when the caller read them in this transaction (a page
    showing the totals beside the chart), so they are not read twice."""
    today = today or clock.today()
    now = {None: current} if current is not None else _current(scope, by_type=False)
    series = _series(now, _changes(scope, start, by_type=False), start, end, today)
    return [point for points in series.values() for point in points]


def _series(current: dict, changes: dict, start: date, end: date, today: date) -> dict[int, list]:
    """Walk back from today's counts, undoing each day's changes; keep the days of ``[start, end]``, as
    (day, allocated, consumed) oldest first.

    Types that had no seat on any day of the range are left out.
    """
    days = _days_back(today, (today - start).days + 1)  # today first
    walked, after_end = len(days), (today - end).days  # the first days walked are past the range's end
    # Per type, at index b: what to take away from the counts b - 1 days back to get those b days back (the
    # changes of the later day). The counts are then running differences (accumulate), not a step a day in Python.
    undo: dict[int, tuple[list, list]] = {}
    for (type_id, day), (allocated_change, consumed_change) in changes.items():
        back = (today - day).days + 1
        if 0 < back < walked:  # a change of the oldest day (or of none shown) changes no day shown
            if type_id not in undo:
                undo[type_id] = ([0] * walked, [0] * walked)
            allocated_undo, consumed_undo = undo[type_id]
            allocated_undo[back] += allocated_change
            consumed_undo[back] += consumed_change
    series = {}
    for type_id in set(current) | set(undo):
        allocated, consumed = current.get(type_id, (0, 0))
        allocated_undo, consumed_undo = undo.get(type_id) or ([0] * walked, [0] * walked)
        allocated_counts = list(accumulate(allocated_undo[1:], sub, initial=allocated))[after_end:]
        consumed_counts = list(accumulate(consumed_undo[1:], sub, initial=consumed))[after_end:]
        if any(allocated_counts) or any(consumed_counts):
            series[type_id] = list(zip(reversed(days[after_end:]), reversed(allocated_counts),
                                       reversed(consumed_counts)))
    return series


@functools.lru_cache(maxsize=8)
def _days_back(today: date, count: int) -> tuple[date, ...]:
    """``count`` days from ``today`` back, today first (the same few ranges are asked all day long)."""
    return tuple(today - timedelta(days=back) for back in range(count))


def _current(scope: Scope, *, by_type: bool = True) -> dict[int | None, tuple[int, int]]:
    """Today's counters of the scope, per type id (``by_type=False``: summed, under the key None)."""
    rows = _aggregate(_current_statement(scope.kind, by_type, scope.site_ids is not None), scope)
    return {type_id: (allocated or 0, consumed or 0) for type_id, allocated, consumed in rows}


def _changes(scope: Scope, start: date, *, by_type: bool = True) -> dict[tuple[int | None, date], tuple[int, int]]:
    """The net changes per (type id, day) of every day after ``start`` (those that undo into the range);
    ``by_type=False``: per (None, day), summed over the types."""
    rows = _aggregate(_changes_statement(scope.kind, by_type, scope.site_ids is not None), scope, start=start)
    return {(type_id, _as_date(day)): (allocated, consumed) for type_id, day, allocated, consumed in rows}


def _aggregate(statement, scope: Scope, **params):
    """The rows of an aggregate of the scope: plain rows (no objects to load), through the session's
    transaction, the scope's id and sites as parameters."""
    params.update(scope_id=scope.id, site_ids=sorted(scope.site_ids or ()))
    return db.session.connection().execute(statement, params).all()


@functools.cache
def _current_statement(kind: str, by_type: bool, some_sites: bool):
    """``_current``'s statement for a kind of scope, built once (a chart page asks it on every visit)."""
    if kind in ("partner", "all"):
        query = _summed(PartnerSeatTotal, by_type, PartnerSeatTotal.allocated, PartnerSeatTotal.consumed)
        return query.where(PartnerSeatTotal.partner_id == _scope_id()) if kind == "partner" else query
    return (_summed(Allocation, by_type, Allocation.allocated, Allocation.consumed)
            .join(Site, Site.id == Allocation.site_id).where(_site_filter(kind, some_sites, Site.id, Site.client_id)))


@functools.cache
def _changes_statement(kind: str, by_type: bool, some_sites: bool):
    """``_changes``'s statement for a kind of scope, built once; ``start`` is its parameter."""
    start = bindparam("start", type_=Date)
    if kind in ("partner", "all"):
        table = PartnerSeatChange
        where = PartnerSeatChange.day > start
        if kind == "partner":
            where = where & (PartnerSeatChange.partner_id == _scope_id())
    else:
        table = SeatChange
        where = (SeatChange.day > start) & _site_filter(kind, some_sites, SeatChange.site_id, SeatChange.client_id)
    # The day as the database gives it: SQLAlchemy's parsing of SQLite's date text was most of this read's
    # time for a year of days; date.fromisoformat does it in C (PostgreSQL's driver gives dates already).
    return (_summed(table, by_type, table.allocated_change, table.consumed_change, by=type_coerce(table.day, String))
            .where(where))


def _scope_id():
    return bindparam("scope_id", type_=Integer)


def _as_date(day) -> date:
    return date.fromisoformat(day) if isinstance(day, str) else day


def _summed(table, by_type: bool, *columns, by=None):
    """SELECT the type id (``by_type``; else NULL), ``by``, and the sums of ``columns``, grouped by those."""
    keys = [table.subscription_type_id if by_type else null()] + ([by] if by is not None else [])
    query = select(*keys, *(func.sum(column) for column in columns))
    grouped = keys if by_type else keys[1:]
    return query.group_by(*grouped) if grouped else query


def _site_filter(kind: str, some_sites: bool, site_column, client_column):
    """The rows of one site, or of one client (only the sites ``site_ids`` when ``some_sites``)."""
    if kind == "site":
        return site_column == _scope_id()
    where = client_column == _scope_id()
    if some_sites:
        where = where & site_column.in_(bindparam("site_ids", expanding=True))
    return where
