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
from dataclasses import dataclass, field
from datetime import date, timedelta

from portal import clock
from portal.domain.billing import invoices
from portal.domain.errors import Forbidden
from portal.domain.insights import baselines, statements
from portal.domain.insights.statements import ORDERS, WINDOW_DAYS
from portal.extensions import db
from portal.i18n import gettext as _
from portal.rbac.permissions import (
    may,
    permission_name,
    view_insights,
    view_subscriptions,
)
from portal.rbac.scoping import site_ids_in_reach

# What the page shows of each list: the first screenful, so the three lists read at a glance (the page
# drew 150 rows with 50, most of its time); the CSV and the API have every row.
PAGE_ROWS = 20


@dataclass(frozen=True)
class _SiteType:
    """Where a seat list's row is: one type at one site of a client."""

    client_id: int
    client_name: str
    site_id: int
    site_name: str
    subscription_type: str  # the code
    subscription_type_name: str


@dataclass(frozen=True)
class IdleSeat(_SiteType):
    """Seats of one type at one site that nobody used over the last 30 days."""

    idle_seats: int
    saving_per_period: int  # minor units of ``currency``: lowering the idle seats at the next period
    currency: str
    cycle: str  # the next period's cycle: what "per period" means


@dataclass(frozen=True)
class RunningOut(_SiteType):
    """One type at one site that has no free seat, or will have none within 14 days at its growth."""

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


capability = view_insights  # what insight asks of its reader (the page, the navigation link, the API)


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




def _read(statement, params: dict) -> dict:
    """The rows of ``statement`` per list: ``{list: Listing}``, ``"mrr_totals"``: ``{currency: (mrr, change)}``
    and, with the MRR, ``"catalogue"``: the catalogue's currency (``statements.catalogue_branch``)."""
    lists = {name: Listing([], 0) for name in ORDERS}
    totals = {}
    # Plain rows through the session's connection: nothing here is an object to load.
    for row in db.session.connection().execute(statement, params).mappings():
        name = row["list"]
        if name == "mrr_totals":
            totals[row["currency"]] = (int(row["n1"]), int(row["n2"]))
        elif name == "catalogue":
            lists["catalogue"] = row["currency"] or invoices.NO_CATALOGUE_CURRENCY
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


def _lists(reach: _Reach, name: str | None, today: date | None, limit: int | None) -> dict:
    """One list (``name``) or all three (None), read as ``_read`` returns them.

    A partner's staff read the partner's baseline of the day when it is usable
    (``baselines``: the same rows in a few reads); anyone else, or without one,
    reads live from the counters and the history.
    """
    today = today or clock.today()
    reading = baselines.reading(reach.organisation_id, today) if reach.kind == "partner" else None
    if reading is not None:
        moved = reading == "moved"
        statement = baselines.page_statement(moved) if name is None else baselines.list_statement(name, moved)
    elif name is None:
        statement = statements.page_statement(*reach.shape)
    else:
        statement = statements.list_statement(name, *reach.shape)
    return _read(statement, _params(reach, today, limit))


def _revenue(lists: dict, with_clients: bool) -> Revenue:
    sums = lists["mrr_totals"]
    currency = lists["catalogue"]  # read with the lists (statements.catalogue_branch)
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
    return _lists(_reach(actor), "idle", today, limit)["idle"]


def running_out(actor, *, limit: int | None = None, today: date | None = None) -> Listing:
    """The sites running out in the actor's reach (``RunningOut`` rows), fewest days left first; one statement.

    ``limit``, ``today`` and ``Forbidden`` as ``idle_seats``.
    """
    return _lists(_reach(actor), "running_out", today, limit)["running_out"]


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
    return _revenue(_lists(_reach(actor), "mrr", today, limit if with_clients else 0), with_clients)


def insights(actor, *, limit: int | None = None, today: date | None = None) -> Insights:
    """The three lists at once (the page: ``limit=PAGE_ROWS``), in one statement and one for the catalogue
    currency: the window's history is read once for the three. ``Forbidden`` without subscriptions.view."""
    lists = _lists(_reach(actor), None, today, limit)
    return Insights(lists["idle"], lists["running_out"], _revenue(lists, True))
