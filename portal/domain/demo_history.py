"""The seat history of the demo and of ``demo scale`` (docs/rules.md rule 34), so charts and insight have a past.

The demo writes today's counters directly, so without this every chart
would be flat. The history is made up backwards from those counters, which
keeps it exact by construction: users come (and sometimes go) on a few days,
and seats are bought in steps a few days before the users need them (never
after), so on no day is anything negative or more seats used than bought.
In the demo, Acme Dental's Lyon is the site running out (``DEMO_PLANS``
tells each site's story). Only the days before today get changes: today's
row stays free for what a test or a demonstration does next. Each story
comes from a ``random.Random`` seeded by names (a constant for ``demo
scale``), so tests and screenshots see the same curves on every load and on
both databases.

The partner rows are the sums of the site rows, rebuilt in one statement,
as ``recount_partner_totals`` rebuilds the partner counters.
"""
import random
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import pairwise

from sqlalchemy import Column, Date, Integer, MetaData, Table, delete, func, insert, literal, select
from sqlalchemy.schema import AddConstraint, DropConstraint

from portal import clock
from portal.domain.seats.counters import partner_history_upsert
from portal.extensions import db
from portal.models import Allocation, Organisation, PartnerSeatChange, SeatChange, Site, SubscriptionType

DEMO_DAYS = 90
SCALE_DAYS = 365
STORIES = 128  # the different years ``demo scale`` deals out to its sites
# ``demo scale``: a user comes on three days in five that change, one goes on the others.
JOINS = 0.6


# Not in the app's metadata: created and dropped inside ``scale_history``'s transaction.
_stories = Table("demo_scale_stories", MetaData(), Column("story", Integer), Column("day", Date),
                 Column("allocated_change", Integer), Column("consumed_change", Integer), prefixes=["TEMPORARY"])


@dataclass(frozen=True)
class Plan:
    """How one demo site's seats of one type got to today's counters over the last 90 days.

    ``start``: the users 89 days ago; ``milestones``: (days ago, users then),
    oldest first; users come evenly between them (and up to today's count).
    Seats are bought ``step`` at a time, ``lead`` days before the users
    would fill them (0: only once the site was full, on the day one more
    came); seats bought beyond any user's need were bought ``topped_up`` days
    ago.
    """

    start: int
    milestones: tuple[tuple[int, int], ...] = ()
    step: int = 2
    lead: int = 3
    topped_up: int = 45


# Keyed by (client, site, type code) of portal.domain.demo.DEMO; every demo allocation needs one.
# Lyon is the site running out: its Essentials gained a user about every ten days over the last 30
# (1 → 4), each extra seat bought only once the site was full; with one seat free, at that pace
# none is left within 10 days (and its Unlimited seats are full). Paris's Essentials have been full
# (3 of 3) for nearly two months: running out too, by today's counts alone, with no growth.
# Idle seats (free through the whole last 30 days): Main (3 Unlimited), Berlin (3 Essentials)
# and Paris (2 Support, a free type: nothing to save).
DEMO_PLANS = {
    ("Acme Dental", "Lyon", "essentials"): Plan(start=0, milestones=((30, 1),), step=2, lead=0),
    ("Acme Dental", "Lyon", "unlimited"): Plan(start=0, step=1, lead=3),
    ("Acme Dental", "Paris", "essentials"): Plan(start=1, milestones=((40, 3),), step=1, lead=4),
    ("Acme Dental", "Paris", "support"): Plan(start=0, lead=0, topped_up=70),
    ("Globex Clinic", "Main", "unlimited"): Plan(start=3, milestones=((25, 7),), step=2, lead=5, topped_up=45),
    ("Initech Vet", "Berlin", "essentials"): Plan(start=0, milestones=((50, 1),), step=2, lead=3, topped_up=40),
}


def write_demo_history(partner_ids: list[int]) -> None:
    """The demo partners' last 90 days, ending today, from each allocation's ``DEMO_PLANS`` story.

    In the caller's transaction; raises KeyError for a demo allocation without a plan.
    """
    days = _days(DEMO_DAYS)
    query = (select(Organisation.name, Site.name, SubscriptionType.code, Site.id, Site.client_id,
                    Organisation.parent_id, Allocation.subscription_type_id, Allocation.allocated,
                    Allocation.consumed)
             .join(Site, Site.client_id == Organisation.id).join(Allocation, Allocation.site_id == Site.id)
             .join(SubscriptionType, SubscriptionType.id == Allocation.subscription_type_id)
             .where(Organisation.parent_id.in_(partner_ids)))
    rows = []
    for client, site, code, *keys, allocated, consumed in db.session.execute(query):
        plan = DEMO_PLANS[(client, site, code)]
        changes = _planned(plan, allocated, consumed, random.Random(f"{client}/{site}/{code}"))
        rows.extend(_rows(keys, changes, days))
    if rows:
        db.session.execute(insert(SeatChange), rows)
    write_partner_history(partner_ids)


@contextmanager
def scale_history(partner_id: int, subscription_type_id: int, allocated: int, consumed: int):
    """Yields ``write(site_ids)``: a year of history, ending today, for a batch of ``demo scale``'s new sites.

    Every site has the same counters; a change on roughly one day in seven
    per site, a net growth of about one user in five changes. ``STORIES``
    made-up years are written once to a temporary table and dealt to each
    batch's sites in turn by one INSERT … SELECT: binding half a million rows
    from Python took five times as long on SQLite. The partner's rows get the
    new sites' sums once, at the end. The same scale run gives the same history.
    """
    days, rng = _days(SCALE_DAYS), random.Random("demo scale")
    stories = [_grown(allocated, consumed, SCALE_DAYS, rng) for _story in range(STORIES)]
    connection = db.session.connection()
    _stories.create(connection)
    db.session.execute(insert(_stories), [
        dict(story=story, day=days[ago], allocated_change=allocated_change, consumed_change=consumed_change)
        for story, changes in enumerate(stories)
        for ago, (allocated_change, consumed_change) in changes.items()])
    dealt = Counter()  # story -> sites given it
    # The range indexes are built once after the load: kept during it, each row's entries landed at scattered
    # places of two big indexes (SQLite: 40 % of the history's time at 20,000 clients). On PostgreSQL the
    # foreign keys too are checked once, by one join when they are added back, rather than row by row.
    for index in _RANGE_INDEXES:
        index.drop(connection)
    keys = _foreign_keys(connection)
    for key in keys:
        connection.execute(DropConstraint(key))

    def write(site_ids: list[int]) -> None:
        if not site_ids:
            return
        first, last = min(site_ids), max(site_ids)  # one INSERT … RETURNING wrote them: no other writer
        dealt.update((site_id - first) % STORIES for site_id in site_ids)
        rows = (select(Site.id, literal(subscription_type_id), _stories.c.day, Site.client_id,
                       literal(partner_id), _stories.c.allocated_change, _stories.c.consumed_change)
                .join(_stories, _stories.c.story == (Site.id - first) % STORIES)
                .where(Site.id.between(first, last)).order_by(Site.id, _stories.c.day))
        db.session.execute(insert(SeatChange).from_select(
            ["site_id", "subscription_type_id", "day", "client_id", "partner_id", "allocated_change",
             "consumed_change"], rows))

    yield write
    _stories.drop(connection)
    for index in _RANGE_INDEXES:
        index.create(connection)
    for key in keys:
        connection.execute(AddConstraint(key))
    _add_partner_history(partner_id, subscription_type_id, days, stories, dealt)


def _foreign_keys(connection) -> list:
    """The history's foreign keys, on PostgreSQL (SQLite does not enforce them here, nor alter them)."""
    if connection.dialect.name != "postgresql":
        return []
    return sorted(SeatChange.__table__.foreign_key_constraints, key=lambda key: key.name)


_RANGE_INDEXES = sorted(SeatChange.__table__.indexes, key=lambda index: index.name)  # (client, day), (partner, day)


def _add_partner_history(partner_id, subscription_type_id, days, stories, dealt) -> None:
    """Add the new sites' history to the partner's rows: each story's changes times the sites dealt it.

    Worked out from the stories in Python (a few thousand sums) rather than by summing the partner's
    whole history again: at 20,000 clients that GROUP BY read five million rows.
    """
    sums = defaultdict(lambda: [0, 0])
    for story, sites in dealt.items():
        for ago, (allocated_change, consumed_change) in stories[story].items():
            sums[ago][0] += sites * allocated_change
            sums[ago][1] += sites * consumed_change
    if not sums:
        return
    db.session.execute(partner_history_upsert([
        dict(partner_id=partner_id, subscription_type_id=subscription_type_id, day=days[ago],
             allocated_change=allocated_change, consumed_change=consumed_change)
        for ago, (allocated_change, consumed_change) in sorted(sums.items())]))


def write_partner_history(partner_ids: list[int]) -> None:
    """Rebuild the partners' history rows as the sums of their sites' rows, in one INSERT … SELECT."""
    db.session.execute(delete(PartnerSeatChange).where(PartnerSeatChange.partner_id.in_(partner_ids)))
    sums = (select(SeatChange.partner_id, SeatChange.subscription_type_id, SeatChange.day,
                   func.sum(SeatChange.allocated_change), func.sum(SeatChange.consumed_change))
            .where(SeatChange.partner_id.in_(partner_ids))
            .group_by(SeatChange.partner_id, SeatChange.subscription_type_id, SeatChange.day))
    db.session.execute(insert(PartnerSeatChange).from_select(
        ["partner_id", "subscription_type_id", "day", "allocated_change", "consumed_change"], sums))


def _days(count: int) -> list[date]:
    """``days[n]`` is the day ``n`` days before today."""
    today = clock.today()
    return [today - timedelta(days=n) for n in range(count)]


def _rows(keys, changes: dict[int, tuple[int, int]], days: list[date]):
    site_id, client_id, partner_id, subscription_type_id = keys
    for ago, (allocated_change, consumed_change) in changes.items():
        yield dict(site_id=site_id, subscription_type_id=subscription_type_id, day=days[ago],
                   client_id=client_id, partner_id=partner_id,
                   allocated_change=allocated_change, consumed_change=consumed_change)


def _planned(plan: Plan, allocated: int, consumed: int, rng: random.Random) -> dict[int, tuple[int, int]]:
    """A demo plan's changes, by days ago: users evenly between the milestones, seats bought ahead."""
    first = DEMO_DAYS - 1
    points = [(first, plan.start), *plan.milestones, (0, consumed)]
    users: dict[int, int] = defaultdict(int)
    for (older, before), (newer, after) in pairwise(points):
        for ago in _spread(abs(after - before), max(newer, 1), older - 1, rng):
            users[ago] += 1 if after > before else -1
    return _with_seats(allocated, plan.start, users, plan.step, plan.lead, plan.topped_up, first - 1)


def _spread(count: int, newest: int, oldest: int, rng: random.Random) -> list[int]:
    """``count`` days (days ago) about evenly spaced over ``[newest, oldest]``, each moved a little."""
    width = (oldest - newest + 1) / max(count, 1)
    days = []
    for n in range(count):
        day = round(oldest + 0.5 - (n + 0.5) * width + rng.uniform(-0.3, 0.3) * width)
        days.append(min(max(day, newest), oldest))
    return days


def _grown(allocated: int, consumed: int, count: int, rng: random.Random) -> dict[int, tuple[int, int]]:
    """``demo scale``: users over ``count`` days back from today's counters, on about one day in seven.

    Walked backwards from today, so the last day is exact; a change that
    would leave fewer than 0 users or more than the seats bought today turns
    the other way.
    """
    users = {}
    now = consumed
    for ago in sorted(rng.sample(range(1, count - 1), rng.randint(count // 9, count // 7))):
        change = 1 if rng.random() < JOINS else -1
        if not 0 <= now - change <= allocated:
            change = -change
            if not 0 <= now - change <= allocated:
                continue
        users[ago] = change
        now -= change
    step = rng.randint(1, 3) + allocated // 20
    return _with_seats(allocated, now, users, step, rng.randint(1, 6), rng.randint(1, count - 2), count - 2)


def _with_seats(allocated: int, start: int, users: dict[int, int], step: int, lead: int, topped_up: int,
                oldest: int) -> dict[int, tuple[int, int]]:
    """Add the seats bought to the users' changes; (seats, users) changed by days ago, no empty day.

    Seats are bought up a ladder (today's count, ``step`` less, …): a site
    that buys ahead (``lead`` > 0) keeps a seat free, buying the next rung
    ``lead`` days before the users would fill the one it has (never before
    ``oldest``); one that buys late (``lead`` 0) runs full first and buys on
    the day one more user comes. Whatever today's count is above the last rung
    reached was bought ``topped_up`` days ago. Seats are only ever added, each
    before the users that need them, so no day has more users than seats.
    """
    ladder = sorted(range(allocated, -1, -step))
    keep = 1 if lead else 0

    def rung_for(users: int) -> int:
        return next(rung for rung in ladder if rung >= min(users + keep, allocated))

    level = rung_for(start)
    bought: dict[int, int] = defaultdict(int)
    now = start
    for ago in sorted(users, reverse=True):  # oldest first
        now += users[ago]
        if (rung := rung_for(now)) > level:
            bought[min(ago + lead, oldest)] += rung - level
            level = rung
    if level < allocated:
        bought[topped_up] += allocated - level
    return {ago: (bought.get(ago, 0), users.get(ago, 0)) for ago in sorted(set(users) | set(bought))
            if bought.get(ago, 0) or users.get(ago, 0)}
