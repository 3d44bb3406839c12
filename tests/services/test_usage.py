"""Seat history and usage over time (docs/rules.md rule 34), tested without HTTP."""
import random
from collections import defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.domain import usage
from portal.domain.accounts import users
from portal.domain.errors import Invalid, NoFreeSeat
from portal.domain.seats import allocations
from portal.domain.usage import Scope
from portal.extensions import db
from portal.models import PartnerSeatChange, SeatChange, SubscriptionType
from tests.factories import AllocationFactory, ClientFactory, SiteFactory
from tests.helpers import race_user_creations

MONDAY = date(2027, 3, 1)


@pytest.fixture
def lyon(acme, essentials):
    """Lyon: 5 Essentials seats bought, 4 of them held, since before the history began."""
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=5, consumed=4)
    return site


def counts(rows, code=None):
    """{day: (allocated, consumed)} of the rows (of one type when ``code`` is given)."""
    return {row.day: (row.allocated, row.consumed) for row in rows
            if code is None or row.subscription_type.code == code}


def a_week_of_changes(on, finance, acme_admin, lyon, essentials):
    """Tuesday: 5 → 7 bought; Wednesday: one user more, twice, and one removed; Friday: lowered to 6."""
    on(MONDAY + timedelta(days=1))
    allocations.set_allocation(finance, lyon, essentials, 7)
    on(MONDAY + timedelta(days=2))
    first = users.create_user(acme_admin, lyon, essentials, "one@acme.example", "One")
    users.create_user(acme_admin, lyon, essentials, "two@acme.example", "Two")
    users.deactivate_user(acme_admin, first)
    on(MONDAY + timedelta(days=4))
    allocations.set_allocation(finance, lyon, essentials, 6)


def test_every_past_day_reads_its_end_of_day_counts(on, finance, acme_admin, lyon, essentials):
    a_week_of_changes(on, finance, acme_admin, lyon, essentials)
    on(MONDAY + timedelta(days=6))

    rows = usage.usage(Scope.site(lyon.id), MONDAY, MONDAY + timedelta(days=6))

    assert counts(rows) == {
        MONDAY: (5, 4),
        MONDAY + timedelta(days=1): (7, 4),
        MONDAY + timedelta(days=2): (7, 5),  # +2 created, -1 deactivated
        MONDAY + timedelta(days=3): (7, 5),
        MONDAY + timedelta(days=4): (6, 5),
        MONDAY + timedelta(days=5): (6, 5),
        MONDAY + timedelta(days=6): (6, 5),
    }
    assert {row.subscription_type.code for row in rows} == {"essentials"}


def test_a_day_of_many_changes_is_one_row_per_site_and_type(on, finance, acme_admin, lyon, essentials):
    a_week_of_changes(on, finance, acme_admin, lyon, essentials)

    wednesday = db.session.scalars(select(SeatChange).where(SeatChange.day == MONDAY + timedelta(days=2))).all()

    assert [(row.allocated_change, row.consumed_change) for row in wednesday] == [(0, 1)]
    this_week = (SeatChange.day >= MONDAY), (PartnerSeatChange.day >= MONDAY)  # the fixture's seats came before
    assert db.session.scalar(select(func.count()).where(this_week[0])) == 3  # Tuesday, Wednesday, Friday
    assert db.session.scalar(select(func.count()).where(this_week[1])) == 3


def test_client_and_partner_totals_come_from_the_same_history(on, northwind, finance, acme, acme_admin, lyon,
                                                              essentials):
    paris = SiteFactory(client=acme, name="Paris")
    AllocationFactory(site=paris, subscription_type=essentials, allocated=2, consumed=0)
    globex = ClientFactory(parent=northwind, name="Globex")
    berlin = SiteFactory(client=globex, name="Berlin")
    AllocationFactory(site=berlin, subscription_type=essentials, allocated=1, consumed=1)
    from portal.domain.seats import counters
    counters.recount_partner_totals(northwind.id)
    on(MONDAY)
    allocations.set_allocation(finance, paris, essentials, 3)
    allocations.set_allocation(finance, berlin, essentials, 4)
    on(MONDAY + timedelta(days=1))
    start, end = MONDAY - timedelta(days=1), MONDAY + timedelta(days=1)

    client = counts(usage.usage(Scope.client(acme.id), start, end))
    only_paris = counts(usage.usage(Scope.client(acme.id, {paris.id}), start, end))
    partner = counts(usage.usage(Scope.partner(northwind.id), start, end))
    everyone = counts(usage.usage(Scope.partner(None), start, end))

    assert client == {start: (7, 4), MONDAY: (8, 4), end: (8, 4)}
    assert only_paris == {start: (2, 0), MONDAY: (3, 0), end: (3, 0)}
    assert partner == {start: (8, 5), MONDAY: (12, 5), end: (12, 5)}
    assert everyone == partner  # one partner in this world


def test_a_charts_daily_totals_are_the_sums_of_the_types_rows(on, northwind, finance, acme, acme_admin, lyon,
                                                               essentials):
    support = SubscriptionType(code="support", name="Support", monthly_price=500, annual_price=5000, currency="EUR")
    db.session.add(support)
    db.session.commit()
    a_week_of_changes(on, finance, acme_admin, lyon, essentials)
    allocations.set_allocation(finance, lyon, support, 2)
    on(MONDAY + timedelta(days=9))
    allocations.set_allocation(finance, lyon, support, 5)
    start, end = MONDAY - timedelta(days=2), MONDAY + timedelta(days=8)

    for scope in (Scope.site(lyon.id), Scope.client(acme.id), Scope.client(acme.id, {lyon.id}),
                  Scope.partner(northwind.id), Scope.partner(None)):
        summed = defaultdict(lambda: [0, 0])
        for row in usage.usage(scope, start, end):
            summed[row.day][0] += row.allocated
            summed[row.day][1] += row.consumed
        totals = usage.daily_totals(scope, start, end)
        assert totals == [(day, allocated, consumed) for day, (allocated, consumed) in sorted(summed.items())]
        assert len(totals) == 11 and totals[-1][1:] == (8, 5), scope  # Support raised to 5 after the range
    assert usage.daily_totals(Scope.client(acme.id, set()), start, end) == []  # no seat: nothing to draw


def test_a_change_that_fails_or_rolls_back_leaves_no_history(on, finance, acme_admin, lyon, essentials):
    on(MONDAY)
    users.create_user(acme_admin, lyon, essentials, "last@acme.example", "Last")  # the last free seat
    with pytest.raises(NoFreeSeat):
        users.create_user(acme_admin, lyon, essentials, "more@acme.example", "More")
    allocations.set_allocation(finance, lyon, essentials, 9)
    today = select(SeatChange).where(SeatChange.day == MONDAY)  # the fixture's seats were bought before
    assert [(row.allocated_change, row.consumed_change) for row in db.session.scalars(today)] == [(4, 1)]

    from portal.domain.seats import counters
    counters.add_seats(lyon.id, essentials.id, 3)
    db.session.rollback()

    assert [(row.allocated_change, row.consumed_change) for row in db.session.scalars(today)] == [(4, 1)]
    assert counts(usage.usage(Scope.site(lyon.id), MONDAY - timedelta(days=1), MONDAY)) == {
        MONDAY - timedelta(days=1): (5, 4), MONDAY: (9, 5)}


def test_types_without_seats_in_the_range_are_left_out(on, finance, lyon, essentials):
    on(MONDAY)
    support = SubscriptionType(code="support", name="Support", monthly_price=500, annual_price=5000, currency="EUR")
    db.session.add(support)
    db.session.commit()
    allocations.set_allocation(finance, lyon, support, 2)
    on(MONDAY + timedelta(days=10))

    later = usage.usage(Scope.site(lyon.id), MONDAY + timedelta(days=5), MONDAY + timedelta(days=6))
    before = usage.usage(Scope.site(lyon.id), MONDAY - timedelta(days=3), MONDAY - timedelta(days=2))

    assert {row.subscription_type.code for row in later} == {"essentials", "support"}
    assert {row.subscription_type.code for row in before} == {"essentials"}
    assert len(before) == 2


def test_the_range_ends_today_when_asked_for_the_future():
    today = date(2027, 3, 10)
    assert usage.day_range(date(2027, 4, 1), date(2027, 5, 1), today=today) == (today, today)
    assert usage.day_range(date(2026, 2, 3), date(2027, 3, 9), today=today)[0] == date(2026, 2, 3)  # 400 days


def test_the_range_defaults_to_thirty_days_and_clips_the_future():
    today = date(2027, 3, 10)
    assert usage.day_range(None, None, today=today) == (date(2027, 2, 9), today)
    assert usage.day_range(date(2027, 3, 1), date(2027, 12, 31), today=today) == (date(2027, 3, 1), today)
    assert usage.day_range(date(2026, 2, 4), date(2027, 3, 9), today=today) == (date(2026, 2, 4), date(2027, 3, 9))


@pytest.mark.parametrize("start, end, field", [
    (date(2027, 3, 5), date(2027, 3, 4), "to"),
    (date(2026, 2, 2), date(2027, 3, 9), "to"),  # 401 days
])
def test_a_range_backwards_or_over_400_days_is_refused(start, end, field):
    with pytest.raises(Invalid) as refused:
        usage.day_range(start, end, today=date(2027, 3, 10))
    assert refused.value.field == field


def test_racing_claims_write_exactly_their_history(app, on, acme_admin, acme, essentials):
    """Twelve threads race for three free seats: the day's history says +3, as the counter does."""
    lyon = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=lyon, subscription_type=essentials, allocated=7, consumed=4)
    on(MONDAY)
    site_id = lyon.id
    outcomes = race_user_creations(app, acme_admin.id, site_id, essentials.id)

    assert outcomes.count("created") == 3
    [row] = db.session.scalars(select(SeatChange).where(SeatChange.site_id == site_id,
                                                        SeatChange.day == MONDAY)).all()
    assert (row.day, row.allocated_change, row.consumed_change) == (MONDAY, 0, 3)
    assert counts(usage.usage(Scope.site(site_id), MONDAY - timedelta(days=1), MONDAY)) == {
        MONDAY - timedelta(days=1): (7, 4), MONDAY: (7, 7)}


def _walked_day_by_day(current, changes, start, end, today):
    """The counts of each day the plain way: from today back, one day at a time (what ``_series`` computes)."""
    series = {}
    for type_id in set(current) | {type_id for type_id, _day in changes}:
        allocated, consumed = current.get(type_id, (0, 0))
        points, day = [], today
        while day >= start:
            if day <= end:
                points.append((day, allocated, consumed))
            allocated_change, consumed_change = changes.get((type_id, day), (0, 0))
            allocated, consumed = allocated - allocated_change, consumed - consumed_change
            day -= timedelta(days=1)
        if any(allocated or consumed for _day, allocated, consumed in points):
            series[type_id] = points[::-1]
    return series


@pytest.mark.parametrize("seed", range(40))
def test_the_walk_back_from_today_matches_a_day_by_day_walk(seed):
    """Ranges of 1 to 365 days, ending today or before, types with and without seats or changes, changes
    on the oldest day, before the range and after today."""
    rng = random.Random(seed)
    today = date(2026, 12, 3) - timedelta(days=rng.randint(0, 40))
    span = rng.choice([1, 2, 30, 90, 365])
    start = today - timedelta(days=span - 1)
    end = max(start, today - timedelta(days=rng.choice([0, 0, 1, 5, span - 1])))
    types = rng.sample([1, 2, 3, None], rng.randint(1, 3))
    current = {t: (rng.randint(0, 9), rng.randint(0, 9)) for t in types if rng.random() < 0.7}
    changes = {(t, start + timedelta(days=rng.randint(-2, span + 2))): (rng.randint(-3, 3), rng.randint(-3, 3))
               for t in types for _ in range(rng.randint(0, 25))}

    assert usage._series(current, changes, start, end, today) == _walked_day_by_day(current, changes, start, end,
                                                                                       today)
