"""Insight (docs/rules.md rule 36): idle seats, sites running out, monthly recurring revenue, tested without HTTP.

Histories are made the way they happen: seats bought, users created and
deactivated through the services, each on its own day (the ``on`` fixture
moves the service clock), so the history rows are those the counters wrote.
"""
from datetime import date, timedelta

import pytest
from sqlalchemy import event, select, update

from portal.domain import insights
from portal.domain.insights import baselines
from portal.domain.accounts import users
from portal.domain.billing import cycles, price_book
from portal.domain.billing.money import half_up
from portal.domain.errors import Forbidden
from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import RoleAssignment, SubscriptionType, User
from tests.factories import (
    AllocationFactory,
    ClientFactory,
    PartnerFactory,
    SiteFactory,
    SubscriptionTypeFactory,
    UserFactory,
)

TODAY = date(2027, 6, 30)


@pytest.fixture(params=["live", "baseline"], autouse=True)
def read_path(request, monkeypatch):
    """Every test twice: insight read live, and read from the partner's baseline (``insights.baselines``),
    built when insight is read, so from the very rows the test made."""
    if request.param == "baseline":
        reading = baselines.reading
        monkeypatch.setattr(baselines, "SETTLE", timedelta(0))  # the test's events are seconds old

        def built_then_read(partner_id, today):
            baselines.build(partner_id, today)
            assert reading(partner_id, today) == "still"
            return "still"

        monkeypatch.setattr(baselines, "reading", built_then_read)
    return request.param
DAY0 = TODAY - timedelta(days=60)  # the world is built then: its seats were bought long before the window


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


@pytest.fixture
def world(on, northwind):
    """Northwind's finance, Acme (monthly since DAY0) with its admin, the Essentials type; built on DAY0."""
    on(DAY0)
    essentials = SubscriptionTypeFactory(essentials=True)  # first in the catalogue: its currency is the catalogue's
    finance = UserFactory(organisation=northwind, email="finance@northwind.example", finance=True)
    acme = ClientFactory(parent=northwind, name="Acme Dental")
    admin = UserFactory(organisation=acme, email="admin@acme.example", client_admin=True)
    return dict(northwind=northwind, essentials=essentials, finance=finance, acme=acme, admin=admin)


def site_with(client, name, type_, allocated, consumed):
    site = SiteFactory(client=client, name=name)
    AllocationFactory(site=site, subscription_type=type_, allocated=allocated, consumed=consumed)
    return site


class Person:
    """A user created on one day and deactivated on another, through the services."""

    count = 0

    def __init__(self, admin, site, type_):
        Person.count += 1
        self.user = users.create_user(admin, site, type_, f"person{Person.count}@acme.example",
                                      f"Person {Person.count}", send="later")
        self.admin = admin

    def leaves(self):
        users.deactivate_user(self.admin, self.user)


def idle_by_site(actor, **keywords):
    return {row.site_name: row.idle_seats for row in insights.idle_seats(actor, **keywords).rows}


# ---------------------------------------------------------------- idle seats


def test_idle_seats_are_the_least_free_count_over_the_thirty_days_ending_yesterday(on, world):
    acme, admin, essentials, finance = world["acme"], world["admin"], world["essentials"], world["finance"]
    site_with(acme, "Steady", essentials, 5, 2)  # 3 free every day, no change in the window
    blip = site_with(acme, "Blip", essentials, 5, 2)
    full = site_with(acme, "Full", essentials, 4, 4)
    busy = site_with(acme, "Busy today", essentials, 5, 0)
    edge31 = site_with(acme, "Edge 31", essentials, 5, 2)
    edge30 = site_with(acme, "Edge 30", essentials, 5, 2)

    on(ago(31))  # a seat taken the day before the window and given back on its first day: no dip in the window
    early = Person(admin, edge31, essentials)
    on(ago(30))
    early.leaves()
    taken_on_first_day = Person(admin, edge30, essentials)  # held at the end of today − 30: the window's first day
    on(ago(29))
    taken_on_first_day.leaves()
    on(ago(10))  # a seat taken for 3 days, then released: those days were not idle
    visitor = Person(admin, blip, essentials)
    on(ago(7))
    visitor.leaves()
    on(TODAY)
    allocations.set_allocation(finance, full, essentials, 6)  # 2 free since this morning: not idle yet
    for _ in range(3):
        Person(admin, busy, essentials)  # 5 free all month, 2 now: only 2 can go

    assert idle_by_site(finance) == {"Steady": 3, "Blip": 2, "Busy today": 2, "Edge 31": 3, "Edge 30": 2}


def test_seats_bought_within_the_window_are_not_idle_yet_and_a_seat_used_before_it_does_not_count(on, world):
    acme, admin, essentials, finance = world["acme"], world["admin"], world["essentials"], world["finance"]
    old = site_with(acme, "Old", essentials, 3, 0)  # bought on DAY0, 60 days ago
    on(ago(45))
    person = Person(admin, old, essentials)
    on(ago(40))
    assert idle_by_site(finance) == {}  # the window began before the seats were bought: 0 free then
    on(ago(35))
    person.leaves()
    on(TODAY)

    assert idle_by_site(finance) == {"Old": 3}


def test_the_saving_is_at_the_next_period_price_as_now_set_biggest_first(on, world):
    acme, essentials, finance, northwind = world["acme"], world["essentials"], world["finance"], world["northwind"]
    site_with(acme, "Lyon", essentials, 5, 2)  # 3 idle
    globex = ClientFactory(parent=northwind, name="Globex", billing_cycle="annual")
    site_with(globex, "Berlin", essentials, 4, 2)  # 2 idle
    initial = ClientFactory(parent=northwind, name="Initial")
    site_with(initial, "Nice", essentials, 3, 2)  # 1 idle
    on(TODAY)
    price_book.set_book_price(finance, northwind, essentials, 1800, 18000)  # reaches Acme at its next period
    price_book.set_client_price(finance, globex, essentials, 1700, 17000)

    rows = insights.idle_seats(finance).rows

    assert [(row.client_name, row.site_name, row.idle_seats, row.saving_per_period, row.currency, row.cycle)
            for row in rows] == [
        ("Globex", "Berlin", 2, 2 * 17000, "EUR", "annual"),  # its own price, in its annual cycle
        ("Acme Dental", "Lyon", 3, 3 * 1800, "EUR", "monthly"),  # the price book's, not the locked 1500
        ("Initial", "Nice", 1, 1800, "EUR", "monthly")]
    assert price_book.period_price(acme, essentials, lock=False) == 1500  # the current period keeps its lock


def test_the_saving_follows_a_cycle_change_taking_effect_at_the_period_end(on, world):
    acme, essentials, finance = world["acme"], world["essentials"], world["finance"]
    site_with(acme, "Lyon", essentials, 5, 2)
    on(TODAY)
    cycles.change_billing_cycle(finance, acme, "annual")

    [row] = insights.idle_seats(finance).rows

    assert (row.cycle, row.saving_per_period) == ("annual", 3 * 15000)


def test_idle_seats_of_a_free_type_are_listed_without_saving_and_a_limit_keeps_the_count(on, world):
    acme, essentials, finance = world["acme"], world["essentials"], world["finance"]
    support = SubscriptionTypeFactory(support=True)
    site_with(acme, "Lyon", essentials, 5, 4)
    site_with(acme, "Paris", support, 2, 0)
    site_with(acme, "Nice", essentials, 3, 0)
    on(TODAY)

    listing = insights.idle_seats(finance, limit=2)

    assert [(row.site_name, row.saving_per_period) for row in listing.rows] == [("Nice", 4500), ("Lyon", 1500)]
    assert (listing.count, listing.more) == (3, 1)
    assert insights.idle_seats(finance).rows[-1].saving_per_period == 0


# ---------------------------------------------------------------- running out


def test_sites_running_out_by_no_free_seat_or_by_growth(on, world):
    acme, admin, essentials, finance = world["acme"], world["admin"], world["essentials"], world["finance"]
    site_with(acme, "Full", essentials, 4, 4)
    growing = site_with(acme, "Growing", essentials, 10, 3)
    slow = site_with(acme, "Slow", essentials, 10, 4)
    site_with(acme, "Flat", essentials, 3, 2)
    released = site_with(acme, "Released", essentials, 3, 3)
    on(ago(30))  # taken at the end of today − 30: part of the starting count, not of the growth
    Person(admin, growing, essentials)
    for days in (20, 15, 10, 5, 1):
        on(ago(days))
        Person(admin, growing, essentials)  # +5 in the window: 9 used of 10
    for days in (20, 10, 5, 1):
        on(ago(days))
        Person(admin, slow, essentials)  # +4: 8 used, 2 free: 15 days left, not within 14
    on(ago(5))
    _holder(released).leaves()  # −1: 1 free and shrinking
    on(TODAY)
    allocations.set_allocation(finance, growing, essentials, 11)  # 9 used of 11: 2 free at +5 a month

    rows = insights.running_out(finance).rows

    assert [(row.site_name, row.free, row.growth, row.days_left) for row in rows] == [
        ("Full", 0, 0, 0),
        ("Growing", 2, 5, 12)]  # floor(2 × 30 / 5)


def _holder(site):
    """One of the seat holders the allocation factory made at ``site``, as a Person."""
    person = Person.__new__(Person)
    person.user = db.session.scalar(select(User).where(User.site_id == site.id).limit(1))
    person.admin = db.session.scalar(select(User).where(User.email == "admin@acme.example"))
    return person


def test_a_full_site_has_run_out_whatever_its_growth(on, world):
    acme, admin, essentials, finance = world["acme"], world["admin"], world["essentials"], world["finance"]
    shrunk = site_with(acme, "Shrunk", essentials, 3, 3)
    grown = site_with(acme, "Grown", essentials, 4, 2)
    on(ago(10))
    _holder(shrunk).leaves()
    allocations.set_allocation(finance, shrunk, essentials, 2)  # full again, after giving a seat back
    Person(admin, grown, essentials)
    Person(admin, grown, essentials)
    on(TODAY)

    rows = {row.site_name: (row.free, row.growth, row.days_left) for row in insights.running_out(finance).rows}

    assert rows == {"Shrunk": (0, -1, 0), "Grown": (0, 2, 0)}


def test_not_running_out_without_growth(on, world):
    acme, admin, essentials, finance = world["acme"], world["admin"], world["essentials"], world["finance"]
    quiet = site_with(acme, "Quiet", essentials, 2, 0)
    site_with(acme, "Last seat", essentials, 1, 0)
    on(ago(12))
    first = Person(admin, quiet, essentials)
    on(ago(2))
    first.leaves()  # one in, one out: no growth
    on(TODAY)

    assert insights.running_out(finance).rows == []
    Person(admin, quiet, essentials)  # +1 in 30 days: 1 free lasts 30 more days, not within 14
    assert insights.running_out(finance).rows == []
    Person(admin, quiet, essentials)
    assert [(row.site_name, row.days_left) for row in insights.running_out(finance).rows] == [("Quiet", 0)]


# ---------------------------------------------------------------- monthly recurring revenue


def test_mrr_counts_an_annual_price_as_a_twelfth_rounded_once_per_client(on, world):
    acme, essentials, finance, northwind = world["acme"], world["essentials"], world["finance"], world["northwind"]
    tenner = SubscriptionTypeFactory(code="tenner", name="Tenner", monthly_price=1000, annual_price=10000)
    site_with(acme, "Lyon", essentials, 5, 1)
    globex = ClientFactory(parent=northwind, name="Globex", billing_cycle="annual")
    site_with(globex, "Berlin", tenner, 1, 0)
    site_with(globex, "Munich", tenner, 1, 0)
    on(TODAY)

    revenue = insights.recurring_revenue(finance)

    # 10000 / 12 = 833.33 per site, but the client's 20000 / 12 = 1666.67 is rounded once: 1667.
    assert half_up(20000, 12) == 1667 != 2 * half_up(10000, 12)
    assert [(row.client_name, row.mrr, row.billing_cycle) for row in revenue.clients.rows] == [
        ("Acme Dental", 5 * 1500, "monthly"), ("Globex", 1667, "annual")]
    assert (revenue.total, revenue.currency, revenue.change_30d) == (7500 + 1667, "EUR", 0)
    assert revenue.totals == [("EUR", 9167, 0)]


def test_mrr_is_at_the_price_the_period_is_billed_at(on, world):
    acme, essentials, finance = world["acme"], world["essentials"], world["finance"]
    site_with(acme, "Lyon", essentials, 2, 0)
    on(TODAY)
    price_book.set_client_price(finance, acme, essentials, 2000, 20000)  # from Acme's next period

    assert insights.recurring_revenue(finance).total == 2 * 1500
    cycles.change_billing_cycle(finance, acme, "annual")
    assert insights.recurring_revenue(finance).total == 2 * 1500  # still monthly this period


def test_clients_in_trial_bring_no_revenue_and_a_trial_ended_since_counts_as_growth(on, world):
    essentials, finance, northwind = world["essentials"], world["finance"], world["northwind"]
    trialist = ClientFactory(parent=northwind, name="Trialist", trial_days=90)  # in trial until DAY0 + 90
    site_with(trialist, "Lab", essentials, 4, 0)
    converted = ClientFactory(parent=northwind, name="Converted", trial_days=40)  # ended 20 days ago
    site_with(converted, "Shop", essentials, 2, 0)
    on(TODAY)

    revenue = insights.recurring_revenue(finance)

    assert [(row.client_name, row.mrr, row.change_30d) for row in revenue.clients.rows] == [
        ("Converted", 3000, 3000)]  # in trial 30 days ago: no revenue then
    assert (revenue.total, revenue.change_30d) == (3000, 3000)


def test_the_mrr_change_is_against_the_seats_of_thirty_days_ago_at_todays_prices(on, world):
    acme, essentials, finance, northwind = world["acme"], world["essentials"], world["finance"], world["northwind"]
    lyon = site_with(acme, "Lyon", essentials, 3, 0)
    paris = site_with(acme, "Paris", essentials, 4, 0)
    gone = ClientFactory(parent=northwind, name="Gone")
    shop = site_with(gone, "Shop", essentials, 2, 0)
    on(ago(31))
    allocations.set_allocation(finance, paris, essentials, 5)  # before the window: already there 30 days ago
    on(ago(10))
    allocations.set_allocation(finance, lyon, essentials, 6)
    allocations.set_allocation(finance, shop, essentials, 0)  # a client that left: 0 now, listed for its loss
    on(TODAY)

    revenue = insights.recurring_revenue(finance)

    assert [(row.client_name, row.mrr, row.change_30d) for row in revenue.clients.rows] == [
        ("Acme Dental", 11 * 1500, 3 * 1500), ("Gone", 0, -2 * 1500)]
    assert (revenue.total, revenue.change_30d) == (11 * 1500, 1500)


def test_several_currencies_have_their_own_totals_and_the_total_is_the_catalogues(on, world):
    acme, essentials, finance = world["acme"], world["essentials"], world["finance"]
    zloty = SubscriptionTypeFactory(code="zloty", name="Złoty", monthly_price=5000, annual_price=50000,
                                    currency="PLN")
    site_with(acme, "Lyon", essentials, 2, 0)
    site_with(acme, "Warsaw", zloty, 3, 0)
    on(TODAY)

    revenue = insights.recurring_revenue(finance)

    assert revenue.totals == [("EUR", 3000, 0), ("PLN", 15000, 0)]
    assert (revenue.currency, revenue.total) == ("EUR", 3000)
    assert {(row.currency, row.mrr) for row in revenue.clients.rows} == {("EUR", 3000), ("PLN", 15000)}


# ---------------------------------------------------------------- reach


@pytest.fixture
def two_partners(on, world):
    """Acme's Lyon and Paris (Northwind), and Southwind's Initech: each with idle seats, a full site, revenue."""
    acme, essentials = world["acme"], world["essentials"]
    lyon = site_with(acme, "Lyon", essentials, 5, 2)
    paris = site_with(acme, "Paris", essentials, 2, 2)
    southwind = PartnerFactory(name="Southwind")
    initech = ClientFactory(parent=southwind, name="Initech")
    site_with(initech, "Austin", essentials, 6, 1)
    site_with(initech, "Dallas", essentials, 1, 1)
    on(TODAY)
    return dict(world, lyon=lyon, paris=paris, southwind=southwind, initech=initech)


def clients_seen(actor):
    result = insights.insights(actor)
    return ({row.client_name for row in result.idle.rows}, {row.client_name for row in result.running_out.rows},
            {row.client_name for row in result.revenue.clients.rows})


def test_another_partners_clients_never_appear(two_partners):
    finance = two_partners["finance"]
    assert clients_seen(finance) == ({"Acme Dental"}, {"Acme Dental"}, {"Acme Dental"})
    assert insights.recurring_revenue(finance).total == 7 * 1500
    sw_finance = UserFactory(organisation=two_partners["southwind"], finance=True)
    assert clients_seen(sw_finance) == ({"Initech"}, {"Initech"}, {"Initech"})


def test_the_operator_sees_every_partners_clients(two_partners):
    operator = UserFactory(operator_admin=True)
    assert clients_seen(operator) == ({"Acme Dental", "Initech"},) * 3
    assert insights.recurring_revenue(operator).total == (7 + 7) * 1500


def test_client_staff_see_their_own_client_and_a_site_limited_role_its_sites(two_partners):
    acme, lyon = two_partners["acme"], two_partners["lyon"]
    assert clients_seen(two_partners["admin"]) == ({"Acme Dental"},) * 3
    # No built-in role with subscriptions.view is limited to sites; an assignment limited to Lyon still must hold.
    limited = UserFactory(organisation=acme, email="lyon-only@acme.example")
    db.session.add(RoleAssignment(user_id=limited.id, role="client_admin", sites=[lyon]))
    db.session.commit()

    result = insights.insights(limited)

    assert [row.site_name for row in result.idle.rows] == ["Lyon"]
    assert result.running_out.rows == []  # Paris, the full site, is not theirs
    assert result.revenue.total == 5 * 1500


@pytest.mark.parametrize("role", ["site_manager", "accountant", "member", "partner_admin"])
def test_without_subscriptions_view_insight_is_refused(two_partners, role):
    organisation = two_partners["northwind"] if role == "partner_admin" else two_partners["acme"]
    extra = {"sites": [two_partners["lyon"]]} if role == "site_manager" else {}
    actor = UserFactory(organisation=organisation, **{role: True}, **extra)
    assert insights.may_see(actor) is False
    for read in (insights.idle_seats, insights.running_out, insights.recurring_revenue):
        with pytest.raises(Forbidden):
            read(actor)


def test_the_page_costs_the_same_statements_whatever_the_number_of_clients(on, world, app):
    """Set-based: one statement for the lists (the catalogue currency read with them), never one per client or site."""
    essentials, finance, northwind = world["essentials"], world["finance"], world["northwind"]
    statements = []

    def count(*_args):
        statements.append(1)

    def page_statements():
        insights.insights(finance, limit=insights.PAGE_ROWS)  # loads what the factories' commits expired
        statements.clear()
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            insights.insights(finance, limit=insights.PAGE_ROWS)
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        return len(statements)

    site_with(world["acme"], "Lyon", essentials, 3, 1)
    on(TODAY)
    small = page_statements()
    on(DAY0)
    for n in range(6):
        client = ClientFactory(parent=northwind, name=f"More {n}")
        site_with(client, "A", essentials, 2, 2)
        site_with(client, "B", essentials, 4, 1)
    on(TODAY)
    assert page_statements() == small


def test_the_headline_is_in_the_catalogues_currency_whatever_it_is(on, world):
    """The catalogue's currency (its first type's) comes with the lists, not in a statement of its own;
    a catalogue in Swiss francs heads its MRR in francs, not in the euros of an empty catalogue."""
    acme, essentials, finance = world["acme"], world["essentials"], world["finance"]
    db.session.execute(update(SubscriptionType).where(SubscriptionType.id == essentials.id).values(currency="CHF"))
    db.session.commit()
    site_with(acme, "Lyon", essentials, 2, 0)
    on(TODAY)

    found = insights.insights(finance, limit=insights.PAGE_ROWS)

    assert (found.revenue.currency, found.revenue.total) == ("CHF", 3000)
    assert insights.recurring_revenue(finance).currency == "CHF"
