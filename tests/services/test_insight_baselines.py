"""The day's insight baselines (portal.domain.insights.baselines): read from a few rows, always what live says.

tests/services/test_insights.py runs every rule of insight on a baseline built
at the moment of reading. Here the baseline is built first and the world moves
after: seats taken, given back and lowered, a new allocation; then a price,
which no seat row carries, so the baseline must stand aside until it is built
again. Each time the lists must be exactly those insight works out live.
"""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.domain import insights
from portal.domain.billing import price_book
from portal.domain.insights import baselines
from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import InsightBaseline, SeatBaseline
from tests.factories import SubscriptionTypeFactory
from tests.services.test_insights import TODAY, Person, ago, site_with, world  # noqa: F401 - world: a fixture


@pytest.fixture(autouse=True)
def settled_at_once(monkeypatch):
    """The tests' events are seconds old: count them as settled (on PostgreSQL, after a minute)."""
    monkeypatch.setattr(baselines, "SETTLE", timedelta(0))


def read_both(actor, monkeypatch, moved=True, **keywords):
    """Insight read from the actor's partner's baseline (which must be usable, with allocations ``moved``
    since it was built or not), and read live."""
    assert baselines.reading(actor.organisation_id, clock.today()) == ("moved" if moved else "still")
    from_baseline = insights.insights(actor, **keywords)
    with monkeypatch.context() as live_only:
        live_only.setattr(baselines, "reading", lambda partner_id, today: None)
        live = insights.insights(actor, **keywords)
    return from_baseline, live


def assert_same(from_baseline, live):
    assert from_baseline.idle.rows == live.idle.rows and from_baseline.idle.count == live.idle.count
    assert from_baseline.running_out.rows == live.running_out.rows
    assert from_baseline.running_out.count == live.running_out.count
    assert from_baseline.revenue == live.revenue


@pytest.fixture
def moving_world(on, world):  # noqa: F811 - the fixture imported above
    """Acme's sites with 30 days behind them, then today's baseline of Northwind."""
    acme, admin, essentials = world["acme"], world["admin"], world["essentials"]
    sites = dict(steady=site_with(acme, "Steady", essentials, 5, 2), full=site_with(acme, "Full", essentials, 3, 3),
                 roomy=site_with(acme, "Roomy", essentials, 6, 1))
    on(ago(20))
    Person(admin, sites["roomy"], essentials)
    on(ago(5))
    Person(admin, sites["roomy"], essentials).leaves()
    on(TODAY)
    baselines.build(world["northwind"].id)
    return dict(world, **sites)


def test_seats_taken_given_back_and_lowered_after_the_build_read_as_live(monkeypatch, moving_world):
    w = moving_world
    finance, admin, essentials = w["finance"], w["admin"], w["essentials"]
    assert_same(*read_both(finance, monkeypatch, moved=False))
    before = insights.insights(finance)

    leaving = Person(admin, w["roomy"], essentials)  # Roomy: one seat fewer idle from today
    assert_same(*read_both(finance, monkeypatch))
    Person(admin, w["steady"], essentials)
    leaving.leaves()  # Roomy back where it was at the build: its row no longer counts as moved
    assert_same(*read_both(finance, monkeypatch))
    allocations.set_allocation(finance, w["full"], essentials, 3)  # no change at all
    allocations.set_allocation(finance, w["steady"], essentials, 4)  # lowered long after purchase: no credit
    support = SubscriptionTypeFactory(support=True)  # free: buying it issues no invoice
    allocations.set_allocation(finance, w["roomy"], support, 2)  # an allocation the baseline never saw
    from_baseline, live = read_both(finance, monkeypatch)
    assert_same(from_baseline, live)
    assert from_baseline.idle.rows != before.idle.rows  # the rows did move: the live part was needed
    # A short page merges the baseline's first rows with the moved ones in the list's order.
    assert_same(*read_both(finance, monkeypatch, limit=1))


def test_only_the_rows_of_allocations_that_moved_are_worked_out_live(monkeypatch, moving_world):
    w = moving_world
    rows_at_build = db.session.scalar(select(func.count()).select_from(SeatBaseline))
    Person(w["admin"], w["steady"], w["essentials"])

    statement = baselines._changed()
    moved = db.session.execute(select(statement.c.site_id), {"scope_id": w["northwind"].id, "today": TODAY}).all()

    assert [site_id for site_id, in moved] == [w["steady"].id]
    assert rows_at_build == 3
    assert_same(*read_both(w["finance"], monkeypatch))


def test_a_price_change_makes_insight_read_live_until_the_baseline_is_built_again(monkeypatch, moving_world):
    w = moving_world
    finance, northwind, essentials = w["finance"], w["northwind"], w["essentials"]
    saving_before = insights.idle_seats(finance).rows[0].saving_per_period

    price_book.set_book_price(finance, northwind, essentials, 4000, 40000)

    assert not baselines.usable(northwind.id, TODAY)
    assert baselines.due(TODAY) == [northwind.id]
    assert insights.idle_seats(finance).rows[0].saving_per_period != saving_before  # live: the new price
    assert baselines.refresh() == [northwind.id]
    assert baselines.due(TODAY) == []
    assert_same(*read_both(finance, monkeypatch, moved=False))
    first = insights.idle_seats(finance).rows[0]
    assert first.saving_per_period == 4000 * first.idle_seats


def test_a_baseline_is_read_on_its_own_day_only(on, moving_world):
    northwind = moving_world["northwind"]
    assert baselines.usable(northwind.id, TODAY)
    on(TODAY + timedelta(days=1))
    assert not baselines.usable(northwind.id, TODAY + timedelta(days=1))
    assert baselines.due(TODAY + timedelta(days=1)) == [northwind.id]


def test_refresh_command_builds_what_is_due_and_demo_load_builds_every_partner(runner, demo):
    partners = db.session.scalars(select(InsightBaseline.partner_id).order_by(InsightBaseline.partner_id)).all()
    assert len(partners) == 2 and all(baselines.usable(each, clock.today()) for each in partners)

    db.session.execute(InsightBaseline.__table__.delete().where(InsightBaseline.partner_id == partners[0]))
    db.session.commit()
    first = runner.invoke(args=["insights", "refresh"])
    again = runner.invoke(args=["insights", "refresh"])

    assert first.exit_code == 0 and "built for 1 partners" in first.output
    assert again.exit_code == 0 and "built for 0 partners" in again.output
    assert baselines.usable(partners[0], clock.today())


def test_a_change_committed_just_before_the_build_is_settled_on_sqlite_and_waits_a_minute_on_postgresql(
        monkeypatch, moving_world):
    w = moving_world
    monkeypatch.setattr(baselines, "SETTLE", timedelta(minutes=1))
    price_book.set_book_price(w["finance"], w["northwind"], w["essentials"], 4000, 40000)
    baselines.build(w["northwind"].id)

    # SQLite serialises writers: the build saw every event there is. PostgreSQL numbers events before they
    # commit, so the newest minute's could hide an older id still being written.
    expected = db.session.get_bind().dialect.name == "sqlite"
    assert baselines.usable(w["northwind"].id, TODAY) is expected


def test_two_workers_refreshing_at_once_build_each_partners_baseline_once(app, demo):
    # Every worker runs the refresh every minute: two builds of one partner at once must not collide.
    partners = db.session.scalars(select(InsightBaseline.partner_id).order_by(InsightBaseline.partner_id)).all()
    for partner_id in partners:
        baselines.forget(partner_id)
    db.session.commit()
    barrier, built = threading.Barrier(2), []

    def worker():
        with app.app_context():
            barrier.wait()
            try:
                built.extend(baselines.refresh())
            finally:
                db.session.remove()

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for each in workers:
        each.start()
    for each in workers:
        each.join()
    db.session.rollback()

    assert sorted(built) == partners  # each built by one worker; none failed
    assert all(baselines.usable(partner_id, clock.today()) for partner_id in partners)
