"""Rule 22: price books and client prices, locked for the client's committed period.

A client pays its own price, else its partner's price book, else the list
price; a change to any of the three reaches the client at the start of its
next period, and until then the period's prices also price its prorated invoices.
"""
import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.domain.billing import catalogue, cycles, invoices, price_book
from portal.domain.billing.run import run_billing
from portal.domain.errors import Forbidden, Invalid
from portal.domain.orgs import clients
from portal.domain.seats import allocations
from portal.extensions import db
from portal.models import (
    AuditEvent,
    ClientPrice,
    Invoice,
    Organisation,
    PeriodPrice,
    PriceBookEntry,
    User,
)
from tests.factories import SubscriptionTypeFactory


@pytest.fixture
def vet(nw_admin, northwind, on):
    """A monthly client whose first period runs 2027-01-01 to 2027-02-01, with 2 Tenner seats at "Main"."""

    def create(name="Vet Co", cycle="monthly", **keywords):
        on(date(2027, 1, 1))
        client = clients.create_client(nw_admin, northwind, name, cycle, **keywords)
        return client, clients.create_site(nw_admin, client, "Main")

    return create


def invoices_of(client, kind):
    return db.session.scalars(select(Invoice).where(Invoice.client_id == client.id, Invoice.kind == kind)
                              .order_by(Invoice.sequence)).all()


def item(items, code):
    return next(each for each in items if each.subscription_type.code == code)


def test_without_any_entry_a_client_pays_the_list_price(finance, vet, tenner, on):
    client, site = vet()
    allocations.set_allocation(finance, site, tenner, 2)
    on(date(2027, 2, 1))
    run_billing()
    [february] = [each for each in invoices_of(client, "period") if each.period_start == date(2027, 2, 1)]
    assert [line.unit_price for line in february.lines] == [1000]
    assert item(price_book.client_prices(client), "tenner").source == "list"


def test_a_price_book_change_reaches_the_client_at_its_next_period_only(finance, northwind, vet, tenner, on):
    client, site = vet()
    on(date(2027, 1, 10))
    price_book.set_book_price(finance, northwind, "tenner", 1200, 12000)

    # The period keeps its price: the prices panel shows the coming one and its date.
    now = item(price_book.client_prices(client), "tenner")
    assert (now.price, now.next_price, now.next_price_from, now.source) == (1000, 1200, date(2027, 2, 1),
                                                                           "price_book")
    # A proration this period is at the period's price.
    on(date(2027, 1, 12))
    increase = allocations.set_allocation(finance, site, tenner, 2).invoice
    assert increase.lines[0].unit_price == 1000
    assert increase.total == 1290  # 2 × 10.00 × 20/31 days = 12.9032… → 12.90 half-up
    # The next period is at the new price, and so are its prorations.
    on(date(2027, 2, 1))
    run_billing()
    [february] = [each for each in invoices_of(client, "period") if each.period_start == date(2027, 2, 1)]
    assert [(line.quantity, line.unit_price, line.amount) for line in february.lines] == [(2, 1200, 2400)]
    on(date(2027, 2, 15))
    assert allocations.set_allocation(finance, site, tenner, 3).invoice.lines[0].unit_price == 1200
    now = item(price_book.client_prices(client), "tenner")
    assert (now.price, now.next_price, now.next_price_from) == (1200, None, None)


def test_a_client_price_wins_over_the_price_book_and_going_back_waits_for_the_next_period(
        finance, northwind, vet, tenner, on):
    price_book.set_book_price(finance, northwind, "tenner", 1200, 12000)
    client, site = vet()  # opened after the price book was set: its first period is at 12.00
    assert item(price_book.client_prices(client), "tenner").price == 1200
    price_book.set_client_price(finance, client, "tenner", 900, 9000)
    now = item(price_book.client_prices(client), "tenner")
    assert (now.price, now.next_price, now.source, now.own.monthly) == (1200, 900, "client", 900)

    on(date(2027, 2, 1))
    run_billing()
    assert item(price_book.client_prices(client), "tenner").price == 900
    price_book.clear_client_price(finance, client, "tenner")
    now = item(price_book.client_prices(client), "tenner")
    assert (now.price, now.next_price, now.next_price_from, now.source) == (900, 1200, date(2027, 3, 1),
                                                                           "price_book")
    on(date(2027, 2, 10))
    assert allocations.set_allocation(finance, site, tenner, 1).invoice.lines[0].unit_price == 900


def test_a_list_price_change_also_waits_for_the_next_period(finance, operator, vet, tenner, on):
    client, site = vet()
    on(date(2027, 1, 20))
    catalogue.change_prices(operator, tenner, "11.00", "110.00")
    assert allocations.set_allocation(finance, site, tenner, 1).invoice.lines[0].unit_price == 1000
    on(date(2027, 2, 1))
    run_billing()
    [february] = [each for each in invoices_of(client, "period") if each.period_start == date(2027, 2, 1)]
    assert february.lines[0].unit_price == 1100


def test_the_next_period_in_a_new_cycle_is_priced_in_that_cycle(finance, northwind, vet, tenner, on):
    client, site = vet()
    price_book.set_book_price(finance, northwind, "tenner", 1200, 11000)
    cycles.change_billing_cycle(finance, client, "annual")
    now = item(price_book.client_prices(client), "tenner")
    assert (now.cycle, now.price, now.next_cycle, now.next_price, now.next_price_from) == (
        "monthly", 1000, "annual", 11000, date(2027, 2, 1))


def test_one_read_quotes_every_type_as_each_alone(finance, northwind, vet, tenner, on):
    client, site = vet()  # Tenner's 10.00 locked when the period opened
    late = SubscriptionTypeFactory(code="late", name="Late", monthly_price=3100, annual_price=31000)
    free = SubscriptionTypeFactory(code="free", name="Free", monthly_price=0, annual_price=0)
    on(date(2027, 1, 12))
    price_book.set_book_price(finance, northwind, "tenner", 1200, 12000)  # waits for the next period
    price_book.set_book_price(finance, northwind, "late", 6200, 62000)  # Late has no lock: as now set
    types = [tenner, late, free]

    quotes = invoices.quote_increases(client, types, 2)

    assert quotes == {each.id: invoices.quote_increase(client, each, 2) for each in types}
    assert [(quotes[each.id].unit_price, quotes[each.id].amount) for each in (tenner, late)] == [
        (1000, 1290), (6200, 8000)]  # 2 × price × 20/31 days, half-up
    assert quotes[free.id] is None
    assert invoices.quote_increases(client, types, 0) == {each.id: None for each in types}
    assert db.session.scalar(select(func.count()).select_from(PeriodPrice).where(
        PeriodPrice.client_id == client.id, PeriodPrice.subscription_type_id == late.id)) == 0  # nothing locked


def test_a_type_added_to_the_catalogue_mid_period_is_locked_when_first_invoiced(finance, northwind, vet, on):
    client, site = vet()
    late = SubscriptionTypeFactory(code="late", name="Late", monthly_price=3100, annual_price=31000)
    on(date(2027, 1, 2))
    first = allocations.set_allocation(finance, site, late, 1).invoice
    assert first.lines[0].unit_price == 3100
    price_book.set_book_price(finance, northwind, "late", 6200, 62000)
    assert allocations.set_allocation(finance, site, late, 2).invoice.lines[0].unit_price == 3100


def test_a_client_in_trial_is_locked_when_its_first_period_opens(finance, northwind, vet, tenner, on):
    client, site = vet(trial_days=14)
    allocations.set_allocation(finance, site, tenner, 1)
    now = item(price_book.client_prices(client), "tenner")
    assert (now.price, now.next_price) == (1000, None)
    price_book.set_book_price(finance, northwind, "tenner", 1300, 13000)
    assert item(price_book.client_prices(client), "tenner").price == 1300  # nothing locked before it begins
    on(date(2027, 1, 15))
    run_billing()
    [first] = invoices_of(client, "period")
    assert first.lines[0].unit_price == 1300


def test_the_price_book_shows_list_price_price_and_cost_to_margins_view_only(finance, nw_admin, northwind, tenner):
    northwind.discount_bp = 2000
    db.session.commit()
    price_book.set_book_price(finance, northwind, "tenner", 1250, 12500)
    entry = item(price_book.price_book(finance, northwind), "tenner")
    assert (entry.list_price.monthly, entry.price.monthly, entry.price.annual) == (1000, 1250, 12500)
    assert (entry.cost.monthly, entry.cost.annual, entry.has_entry) == (800, 8000, True)
    with pytest.raises(Forbidden):
        price_book.price_book(nw_admin, northwind)  # a partner admin holds neither prices.manage nor margins.view


@pytest.mark.parametrize("monthly, annual, field", [
    (-1, 100, "monthly"),
    (100, 100_000_001, "annual"),
    (12.5, 100, "monthly"),
    ("twelve", 100, "monthly"),
    (True, 100, "monthly"),
    ({"amount": 100, "currency": "USD"}, {"amount": 100, "currency": "EUR"}, "monthly.currency"),
    ({"amount": 100, "currency": "EUR"}, {"amount": -5, "currency": "EUR"}, "annual.amount"),
])
def test_a_bad_price_is_refused_and_nothing_is_written(finance, northwind, tenner, monthly, annual, field):
    with pytest.raises(Invalid) as refused:
        price_book.set_book_price(finance, northwind, "tenner", monthly, annual)
    assert refused.value.field == field
    assert db.session.scalar(select(func.count()).select_from(PriceBookEntry)) == 0


def test_an_unknown_type_is_refused(finance, northwind, acme):
    with pytest.raises(Invalid) as refused:
        price_book.set_client_price(finance, acme, "platinum", 100, 1000)
    assert refused.value.field == "subscription_type"
    assert db.session.scalar(select(func.count()).select_from(ClientPrice)) == 0


def test_only_prices_manage_sets_prices(nw_admin, acme_admin, northwind, acme, tenner):
    for actor, target, setter in ((nw_admin, northwind, price_book.set_book_price),
                                  (acme_admin, acme, price_book.set_client_price)):
        with pytest.raises(Forbidden):
            setter(actor, target, "tenner", 100, 1000)
    assert db.session.scalar(select(func.count()).select_from(ClientPrice)) == 0


def test_each_change_is_audited_with_before_and_after(finance, northwind, acme, tenner):
    price_book.set_book_price(finance, northwind, "tenner", 1200, 12000)
    price_book.set_book_price(finance, northwind, "tenner", 1200, 12000)  # the same again: nothing to record
    price_book.set_book_price(finance, northwind, "tenner", 1300, 13000)
    price_book.clear_book_price(finance, northwind, "tenner")
    price_book.clear_book_price(finance, northwind, "tenner")  # nothing left to clear
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("price_book.%"))
                                .order_by(AuditEvent.id)).all()
    assert [(e.action, (e.before or {}).get("monthly_price"), e.after.get("monthly_price")) for e in events] == [
        ("price_book.set", None, 1200), ("price_book.set", 1200, 1300), ("price_book.cleared", 1300, None)]
    assert {e.organisation_id for e in events} == {northwind.id}


def test_opening_a_period_locks_every_type_once(finance, northwind, vet, tenner, essentials, on):
    client, _site = vet()
    locked = db.session.execute(select(PeriodPrice.subscription_type_id, PeriodPrice.unit_price)
                                .where(PeriodPrice.client_id == client.id)).all()
    assert sorted(locked) == sorted([(tenner.id, 1000), (essentials.id, 1500)])
    run_billing()  # running again locks nothing twice
    assert db.session.scalar(select(func.count()).select_from(PeriodPrice)
                             .where(PeriodPrice.client_id == client.id)) == 2


def test_concurrent_first_settings_of_one_entry_leave_one_row(app, finance, northwind, tenner):
    """Two finance admins set the same type's price at once: one row, the last writer's prices, no error."""
    finance_id, northwind_id = finance.id, northwind.id
    barrier = threading.Barrier(6)
    errors = []

    def set_price(amount):
        with app.app_context():
            try:
                actor, partner = db.session.get(User, finance_id), db.session.get(Organisation, northwind_id)
                barrier.wait()
                price_book.set_book_price(actor, partner, "tenner", amount, amount * 10)
            except Exception as error:  # noqa: BLE001 - the test reports any failure
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=set_price, args=(1100 + n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.rollback()  # read what the threads committed
    rows = db.session.execute(select(PriceBookEntry.monthly_price, PriceBookEntry.annual_price)).all()
    assert len(rows) == 1 and rows[0][1] == rows[0][0] * 10


def test_the_next_invoice_preview_has_one_total_per_currency(finance, vet, tenner):
    """docs/rules.md rule 25: a period with seats of a USD type is invoiced, and previewed, once per currency."""
    from portal.domain.billing import invoices

    client, site = vet()
    dollars = SubscriptionTypeFactory(code="dollars", name="Dollars", monthly_price=700, annual_price=7000,
                                      currency="USD")
    allocations.set_allocation(finance, site, tenner, 2)
    allocations.set_allocation(finance, site, dollars, 1)
    preview = invoices.next_period_preview(client)
    assert preview["totals"] == [("EUR", 2000), ("USD", 700)]
