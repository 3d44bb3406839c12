"""The seat history the demo data brings (docs/rules.md rule 34, issue 15): possible on every day, exact
today, growing, with idle seats and one site running out, the same on every load; ``demo scale`` too."""
from collections import Counter, defaultdict
from datetime import date, timedelta

import pytest
from sqlalchemy import func, inspect, select

from portal import clock
from portal.domain import demo as demo_data
from portal.domain.demo_history import DEMO_DAYS, DEMO_PLANS, SCALE_DAYS
from portal.domain.usage import Scope, daily_totals, usage
from portal.extensions import db
from portal.models import Allocation, Organisation, PartnerSeatChange, SeatChange, Site, SubscriptionType

# A day whose last 90 days and last year both cross a new year: the history follows the service
# clock, not the wall clock.
TODAY = date(2027, 1, 15)
WINDOW = 30  # idle seats and growth look back 30 days (rule 36)


@pytest.fixture(autouse=True)
def today(on):
    """Before the ``demo`` fixture loads anything (autouse fixtures come first)."""
    on(TODAY)


def series(scope: Scope, days: int) -> dict[str, list[tuple[int, int]]]:
    """{type code: [(allocated, consumed) at the end of each day]}, oldest first, today last."""
    points = defaultdict(list)
    for row in usage(scope, clock.today() - timedelta(days=days - 1), clock.today()):
        points[row.subscription_type.code].append((row.allocated, row.consumed))
    return dict(points)


def by_day_and_type(scope: Scope, days: int) -> Counter:
    """{(day, type id, "allocated" or "consumed"): count}: sums of several scopes compare key by key."""
    counts = Counter()
    for row in usage(scope, clock.today() - timedelta(days=days - 1), clock.today()):
        counts[(row.day, row.subscription_type.id, "allocated")] += row.allocated
        counts[(row.day, row.subscription_type.id, "consumed")] += row.consumed
    return +counts  # zeros dropped: a type a scope never had reads as nothing


def counters() -> dict[tuple[int, str], tuple[int, int]]:
    """{(site id, type code): (allocated, consumed)} as they are now."""
    rows = db.session.execute(select(Allocation.site_id, SubscriptionType.code, Allocation.allocated,
                                     Allocation.consumed).join(SubscriptionType))
    return {(site_id, code): (allocated, consumed) for site_id, code, allocated, consumed in rows}


def site_names() -> dict[int, str]:
    return dict(db.session.execute(select(Site.id, Site.name)).all())


def check_every_day_possible(site_ids, days: int) -> None:
    """Every site's every type: a value for each day, never negative, never more used than bought, today exact."""
    now = counters()
    for site_id in site_ids:
        points = series(Scope.site(site_id), days)
        assert points, f"site {site_id} has no seats in the range"
        for code, values in points.items():
            assert len(values) == days
            for ago, (allocated, consumed) in enumerate(reversed(values)):
                assert 0 <= consumed <= allocated, (site_id, code, f"{ago} days ago", allocated, consumed)
            assert values[-1] == now[(site_id, code)]


def free(values, ago: int) -> int:
    allocated, consumed = values[-1 - ago]
    return allocated - consumed


def growth(values) -> int:
    """Consumed seats gained over the last 30 days (net)."""
    return values[-1][1] - values[-1 - WINDOW][1]


def idle(values) -> int:
    """The least free count at the end of the 30 days ending yesterday, never more than free now."""
    return min(free(values, ago) for ago in range(WINDOW + 1))


def runs_out_by_growth(values) -> bool:
    """Free seats left, and at the last 30 days' growth none within 14 days."""
    return free(values, 0) > 0 and growth(values) > 0 and free(values, 0) * WINDOW / growth(values) <= 14


def each_demo_series() -> dict[tuple[str, str], list[tuple[int, int]]]:
    """{(site name, type code): its 90 days}."""
    names = site_names()
    return {(names[site_id], code): values for site_id in names
            for code, values in series(Scope.site(site_id), DEMO_DAYS).items()}


def history_rows() -> set[tuple]:
    """The history by names and days ago, so two loads (other ids) compare."""
    rows = db.session.execute(
        select(Organisation.name, Site.name, SubscriptionType.code, SeatChange.day, SeatChange.allocated_change,
               SeatChange.consumed_change).select_from(SeatChange)
        .join(Site, Site.id == SeatChange.site_id).join(Organisation, Organisation.id == SeatChange.client_id)
        .join(SubscriptionType))
    return {(client, site, code, (clock.today() - day).days, allocated, consumed)
            for client, site, code, day, allocated, consumed in rows}


# --- demo load -------------------------------------------------------------------------------


def test_every_demo_allocation_has_a_story():
    demo_allocations = {(client, site, code) for _staff, clients in demo_data.DEMO.values()
                        for client, (*_, sites) in clients.items()
                        for site, allocations in sites.items() for code in allocations}

    assert set(DEMO_PLANS) == demo_allocations


def test_every_demo_day_is_possible_and_the_last_is_todays_counters(demo):
    check_every_day_possible(site_names(), DEMO_DAYS)


def test_the_history_has_changes_on_past_days_only(demo):
    first, last = db.session.execute(select(func.min(SeatChange.day), func.max(SeatChange.day))).one()

    # Changes undo into the 90 days from their second day; today is left to what happens next.
    assert TODAY - timedelta(days=DEMO_DAYS - 2) <= first and last < TODAY


def test_every_demo_client_and_partner_grew_over_the_quarter(demo):
    scopes = [Scope.client(org.id) if org.kind == "client" else Scope.partner(org.id)
              for org in db.session.scalars(select(Organisation).where(Organisation.kind.in_(["client", "partner"])))]

    for scope in scopes:
        totals = daily_totals(scope, TODAY - timedelta(days=DEMO_DAYS - 1), TODAY)
        (_, first_allocated, first_consumed), (_, last_allocated, last_consumed) = totals[0], totals[-1]
        assert first_allocated < last_allocated and first_consumed < last_consumed, scope


def test_a_partners_series_is_the_sum_of_its_clients(demo):
    for partner in db.session.scalars(select(Organisation).where(Organisation.kind == "partner")):
        clients = db.session.scalars(select(Organisation.id).where(Organisation.parent_id == partner.id))
        summed = sum((by_day_and_type(Scope.client(client_id), DEMO_DAYS) for client_id in clients), Counter())

        assert by_day_and_type(Scope.partner(partner.id), DEMO_DAYS) == summed


def test_the_partner_rows_are_the_sums_of_the_site_rows(demo):
    sums = (select(SeatChange.partner_id, SeatChange.subscription_type_id, SeatChange.day,
                   func.sum(SeatChange.allocated_change), func.sum(SeatChange.consumed_change))
            .group_by(SeatChange.partner_id, SeatChange.subscription_type_id, SeatChange.day))
    partner_rows = select(PartnerSeatChange.partner_id, PartnerSeatChange.subscription_type_id,
                          PartnerSeatChange.day, PartnerSeatChange.allocated_change,
                          PartnerSeatChange.consumed_change)

    assert sorted(db.session.execute(partner_rows).all()) == sorted(db.session.execute(sums).all())


def test_lyon_runs_out_within_ten_days_at_its_last_thirty_days_growth(demo):
    lyon = each_demo_series()[("Lyon", "essentials")]

    assert (free(lyon, 0), growth(lyon)) == (1, 3)  # one seat left, three taken in 30 days: 10 days
    assert runs_out_by_growth(lyon)
    assert idle(lyon) == 0  # it was full in between: not a site with seats to spare


def test_no_other_site_with_free_seats_runs_out_and_only_lyon_and_paris_are_full(demo):
    everything = each_demo_series()

    assert {key for key, values in everything.items() if runs_out_by_growth(values)} == {("Lyon", "essentials")}
    # Full by today's counts (the demo's, unchanged): running out too, whatever their history.
    assert {key for key, values in everything.items() if free(values, 0) == 0} == {
        ("Lyon", "unlimited"), ("Paris", "essentials")}
    assert growth(everything[("Paris", "essentials")]) == 0


def test_some_sites_kept_seats_free_through_the_last_thirty_days(demo):
    everything = each_demo_series()

    assert {key: idle(values) for key, values in everything.items() if idle(values)} == {
        ("Main", "unlimited"): 3, ("Berlin", "essentials"): 3, ("Paris", "support"): 2}


def test_seats_were_bought_before_the_users_came_except_at_the_site_running_out(demo):
    """Sites that buy ahead keep a free seat after each purchase until their last one; Lyon ran full first."""
    everything = each_demo_series()
    full_days = {key: sum(1 for allocated, consumed in values if allocated == consumed)
                 for key, values in everything.items()}

    assert full_days[("Main", "unlimited")] == 0 and full_days[("Berlin", "essentials")] == 0
    assert full_days[("Lyon", "essentials")] > 0


def test_the_demo_history_is_the_same_on_every_load(demo):
    first = history_rows()
    demo_data.reset_demo()

    assert history_rows() == first
    assert len(first) > 10


# --- demo scale ------------------------------------------------------------------------------


@pytest.fixture
def scaled(demo):
    """Three synthetic clients of two sites, three users each; their site ids."""
    before = set(site_names())
    demo_data.scale_demo(clients=3, sites_per_client=2, users_per_site=3)
    return sorted(set(site_names()) - before)


def test_every_scaled_day_of_the_year_is_possible_and_ends_at_todays_counters(scaled):
    check_every_day_possible(scaled, SCALE_DAYS)

    assert {counters()[(site_id, "essentials")] for site_id in scaled} == {(5, 3)}


def test_scaled_sites_change_on_about_one_day_in_seven_and_grow(scaled):
    changes = dict(db.session.execute(select(SeatChange.site_id, func.count()).where(SeatChange.site_id.in_(scaled))
                                      .group_by(SeatChange.site_id)).all())
    first_days = [series(Scope.site(site_id), SCALE_DAYS)["essentials"][0] for site_id in scaled]

    assert all(SCALE_DAYS / 10 <= changes[site_id] <= SCALE_DAYS / 5 for site_id in scaled), changes
    assert sum(allocated for allocated, _ in first_days) < 5 * len(scaled)
    assert sum(consumed for _, consumed in first_days) < 3 * len(scaled)
    assert len(set(first_days)) > 1 or len({changes[site_id] for site_id in scaled}) > 1  # not one story


def test_the_partner_series_still_sums_its_clients_after_scaling(scaled):
    northwind = db.session.scalar(select(Organisation).where(Organisation.name == "Northwind Telecom"))
    clients = db.session.scalars(select(Organisation.id).where(Organisation.parent_id == northwind.id)).all()
    summed = sum((by_day_and_type(Scope.client(client_id), SCALE_DAYS) for client_id in clients), Counter())

    assert len(clients) == 5
    assert by_day_and_type(Scope.partner(northwind.id), SCALE_DAYS) == summed


def test_scaling_leaves_the_history_indexes_and_keys_in_place(scaled):
    # demo scale drops the range indexes (and on PostgreSQL the foreign keys) for its load, and puts them back.
    inspector = inspect(db.session.connection())
    names = {index["name"] for index in inspector.get_indexes("seat_history")}
    keys = {(key["referred_table"], tuple(key["constrained_columns"])) for key in inspector.get_foreign_keys("seat_history")}

    assert {"ix_seat_history_client_id_day", "ix_seat_history_partner_id_day"} <= names
    assert keys == {("sites", ("site_id",)), ("subscription_types", ("subscription_type_id",))}
