"""Rule 24, the cancellation window: seats removed within 7 days of the increase that bought them are credited."""
import threading
from datetime import date

import pytest
from sqlalchemy import func, select

from portal.domain.billing import margins, periods
from portal.domain.orgs import clients
from portal.domain.seats import allocations, counters
from portal.extensions import db
from portal.models import AuditEvent, Invoice, InvoiceLine, Site, SubscriptionType, User
from tests.factories import SubscriptionTypeFactory


@pytest.fixture
def new_client(nw_admin, northwind, on):
    """A monthly client (its period from 2027-01-01) and its site "Main"."""

    def create(name="Vet Co", trial_days=None):
        on(date(2027, 1, 1))
        client = clients.create_client(nw_admin, northwind, name, "monthly", trial_days=trial_days)
        return client, clients.create_site(nw_admin, client, "Main")

    return create


def documents(client, kind=None):
    query = select(Invoice).where(Invoice.client_id == client.id).order_by(Invoice.sequence)
    if kind:
        query = query.where(Invoice.kind == kind)
    return db.session.scalars(query).all()


def test_plus_then_minus_within_the_window_issues_one_negative_credit_note(finance, new_client, tenner, on):
    client, site = new_client()
    on(date(2027, 1, 15))
    bought = allocations.set_allocation(finance, site, tenner, 3).invoice  # 3 × 10.00 × 17/31 = 16.45
    on(date(2027, 1, 16))  # 16 of 31 days left
    change = allocations.set_allocation(finance, site, tenner, 0)
    note = change.credit_note
    assert change.invoice is None and change.credit_notes == (note,)
    assert (note.kind, note.credits_invoice_id, note.issued_on) == ("credit_note", bought.id, date(2027, 1, 16))
    assert (note.period_start, note.period_end, note.currency) == (bought.period_start, bought.period_end,
                                                                  bought.currency)
    [line] = note.lines
    [original] = bought.lines
    assert (line.quantity, line.unit_price, line.days, line.period_days) == (3, 1000, 16, 31)
    assert line.amount == -1548 and note.total == -1548  # -(3 × 10.00 × 16/31) half-up, sign on the amount
    assert line.unit_cost == original.unit_cost
    assert line.cost == -periods.prorate(3, original.unit_cost, 16, 31) and line.credits_line_id == original.id
    assert documents(client, "credit_note") == [note]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "invoice.issued",
                                                        AuditEvent.target_id == note.id)).one()
    assert event.after["kind"] == "credit_note" and event.after["total"] == -1548
    assert event.after["credits"] == bought.number


def test_undone_the_same_day_the_credit_is_the_full_charge(finance, new_client, tenner, on):
    client, site = new_client()
    on(date(2027, 1, 15))
    bought = allocations.set_allocation(finance, site, tenner, 2).invoice
    note = allocations.set_allocation(finance, site, tenner, 0).credit_note
    assert note.total == -bought.total and sum(i.total for i in documents(client, "proration")
                                               + documents(client, "credit_note")) == 0


@pytest.mark.parametrize("later, credited", [(6, True), (7, False), (8, False)])
def test_the_window_is_seven_days_of_issue(finance, new_client, tenner, on, later, credited):
    client, site = new_client()
    on(date(2027, 1, 2))
    allocations.set_allocation(finance, site, tenner, 2)
    on(date(2027, 1, 2 + later))
    change = allocations.set_allocation(finance, site, tenner, 0)
    assert (change.credit_note is not None) is credited
    assert len(documents(client, "credit_note")) == (1 if credited else 0)


def test_lowering_more_than_was_bought_in_the_window_credits_only_the_bought_seats(finance, new_client, tenner, on):
    _, site = new_client()
    on(date(2027, 1, 2))
    allocations.set_allocation(finance, site, tenner, 4)  # bought on the 2nd: outside the window on the 15th
    on(date(2027, 1, 15))
    allocations.set_allocation(finance, site, tenner, 6)  # +2 within the window
    note = allocations.set_allocation(finance, site, tenner, 1).credit_note  # -5
    assert [line.quantity for line in note.lines] == [2]
    assert note.total == -periods.prorate(2, 1000, 17, 31)


def test_two_lowerings_never_credit_the_same_seat_twice(finance, new_client, tenner, on):
    client, site = new_client()
    on(date(2027, 1, 15))
    first = allocations.set_allocation(finance, site, tenner, 3).invoice
    assert [l.quantity for l in allocations.set_allocation(finance, site, tenner, 1).credit_note.lines] == [2]
    again = allocations.set_allocation(finance, site, tenner, 2).invoice  # +1: a new invoice
    change = allocations.set_allocation(finance, site, tenner, 0)  # -2: the newest seat first, then the first's last
    assert [(n.credits_invoice_id, [l.quantity for l in n.lines]) for n in change.credit_notes] == [
        (again.id, [1]), (first.id, [1])]
    assert allocations.set_allocation(finance, site, tenner, 0).credit_note is None
    db.session.expire_all()
    credited = {line.invoice_id: line.credited_quantity for line in db.session.scalars(
        select(InvoiceLine).join(Invoice).where(Invoice.client_id == client.id, Invoice.kind == "proration"))}
    assert credited == {first.id: 3, again.id: 1}
    assert sum(line.quantity for note in documents(client, "credit_note") for line in note.lines) == 4


def test_numbers_stay_gapless_with_credit_notes_interleaved(finance, northwind, new_client, tenner, on):
    _, site = new_client()
    on(date(2027, 1, 15))
    for allocated in (2, 1, 3, 0, 1):
        allocations.set_allocation(finance, site, tenner, allocated)
    kinds = [(i.sequence, i.kind) for i in db.session.scalars(
        select(Invoice).where(Invoice.partner_id == northwind.id).order_by(Invoice.sequence))]
    assert [sequence for sequence, _ in kinds] == list(range(1, len(kinds) + 1))
    # 3 → 0 credits the newest invoice's 2 seats and the first's last one: two notes, each with its number.
    assert [kind for _, kind in kinds[-6:]] == ["proration", "credit_note", "proration", "credit_note",
                                                "credit_note", "proration"]


def test_a_client_in_trial_or_a_free_type_gets_no_credit(finance, new_client, tenner, on):
    client, site = new_client(trial_days=30)
    on(date(2027, 1, 5))
    allocations.set_allocation(finance, site, tenner, 3)
    assert allocations.set_allocation(finance, site, tenner, 0).credit_note is None
    assert documents(client) == []
    free = SubscriptionTypeFactory(code="freebie", name="Freebie", monthly_price=0, annual_price=0)
    paying, main = new_client("Paying Co")
    on(date(2027, 1, 5))
    allocations.set_allocation(finance, main, free, 3)
    assert allocations.set_allocation(finance, main, free, 0).credit_note is None
    assert documents(paying, "credit_note") == []


def test_the_margin_report_counts_credit_notes_negative(finance, new_client, tenner, on):
    _, site = new_client()
    on(date(2027, 1, 15))
    bought = allocations.set_allocation(finance, site, tenner, 3).invoice
    on(date(2027, 1, 16))
    note = allocations.set_allocation(finance, site, tenner, 1).credit_note
    [row] = [r for r in margins.margin_report(finance, date(2027, 1, 2), date(2027, 2, 1)).rows
             if r.subscription_type == "tenner"]
    assert row.revenue == bought.total + note.total == 1645 - periods.prorate(2, 1000, 16, 31)
    assert row.cost == bought.lines[0].cost + note.lines[0].cost and note.lines[0].cost < 0


@pytest.mark.parametrize("targets", [(0, 0, 0, 0, 0, 0), (0, 0, 0, 1, 2, 3)])
def test_concurrent_lowerings_credit_each_seat_once(app, finance, new_client, tenner, on, targets):
    """Six finance admins set the allocation at once: the seats credited are exactly the seats removed."""
    client, site = new_client()
    on(date(2027, 1, 15))
    allocations.set_allocation(finance, site, tenner, 4)  # every seat bought within the window
    ids = finance.id, site.id, tenner.id
    barrier = threading.Barrier(len(targets))
    errors = []

    def lower(target):
        with app.app_context():
            try:
                actor, here, kind = db.session.get(User, ids[0]), db.session.get(Site, ids[1]), \
                    db.session.get(SubscriptionType, ids[2])
                barrier.wait()
                allocations.set_allocation(actor, here, kind, target)
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=lower, args=(target,)) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.rollback()
    db.session.expire_all()
    lines = db.session.scalars(select(InvoiceLine).join(Invoice).where(Invoice.client_id == client.id)).all()
    bought = [line for line in lines if line.invoice.kind == "proration"]
    credits = [line for line in lines if line.invoice.kind == "credit_note"]
    final = db.session.scalar(select(func.sum(InvoiceLine.quantity)).where(InvoiceLine.id.in_(
        [line.id for line in bought]))) - sum(line.quantity for line in credits)

    assert counters.allocation_row(site.id, tenner.id).allocated == final  # removed seats = credited seats
    for line in bought:
        assert line.credited_quantity == sum(c.quantity for c in credits if c.credits_line_id == line.id)
        assert line.credited_quantity <= line.quantity
    if set(targets) == {0}:
        [note] = documents(client, "credit_note")  # one lowering removed the 4; the others found nothing
        assert [line.quantity for line in note.lines] == [4]
    numbers = db.session.scalars(select(Invoice.sequence).where(Invoice.partner_id == client.parent_id)
                                 .order_by(Invoice.sequence)).all()
    assert numbers == list(range(1, len(numbers) + 1))


def test_a_line_credited_seat_by_seat_never_gives_back_more_than_it_charged(finance, new_client, tenner, on):
    client, site = new_client()
    on(date(2027, 1, 30))  # 2 of 31 days left: 0.64516… a seat
    bought = allocations.set_allocation(finance, site, tenner, 3).invoice
    assert bought.total == 194  # 1.93548… half-up
    for allocated in (2, 1, 0):  # 0.65 each, half-up, would give back 1.95: the last seat gives 0.64
        allocations.set_allocation(finance, site, tenner, allocated)
    assert [note.total for note in documents(client, "credit_note")] == [-65, -65, -64]
