"""Billing rules 8-13 and the trial rule, tested without HTTP."""
import os
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.domain.accounts import invitations, users
from portal.domain.billing import invoices as billing
from portal.domain.errors import Forbidden, Invalid
from portal.domain.orgs import clients
from portal.domain.seats import counters as seats
from portal.extensions import db
from portal.models import Invoice, InvoiceLine, Organisation, SubscriptionType


@pytest.fixture
def on(monkeypatch):
    """Move the service clock: ``on(date(2027, 1, 15))``."""

    def move(day: date):
        monkeypatch.setattr(clock, "today", lambda: day)

    return move


@pytest.fixture
def tenner(demo):
    """A 10.00-a-month type, to check the proration vectors of the issue."""
    subscription_type = SubscriptionType(code="tenner", name="Tenner", monthly_price=1000, annual_price=10000,
                                         currency="EUR")
    db.session.add(subscription_type)
    db.session.commit()
    return subscription_type


def new_client(demo, name="Vet Co", cycle="monthly", trial_days=None):
    admin = demo.user("admin@northwind.example")
    client = clients.create_client(admin, demo.org("Northwind Telecom"), name, cycle, trial_days=trial_days)
    site = clients.create_site(admin, client, "Main")
    return client, site


def invoices(client, kind=None):
    query = select(Invoice).where(Invoice.client_id == client.id).order_by(Invoice.sequence)
    if kind:
        query = query.where(Invoice.kind == kind)
    return db.session.scalars(query).all()


def test_demo_clients_have_their_current_period_invoiced(demo):
    acme = demo.acme
    [invoice] = invoices(acme)
    assert (invoice.kind, invoice.period_start, invoice.issued_on) == ("period", clock.today(), clock.today())
    assert invoice.number.startswith("NW-")
    lines = {(l.site_name, l.subscription_type_code): (l.quantity, l.amount) for l in invoice.lines}
    assert lines == {("Lyon", "essentials"): (5, 7500), ("Lyon", "unlimited"): (2, 5800),
                     ("Paris", "essentials"): (3, 4500), ("Paris", "support"): (2, 0)}
    assert invoice.total == 17800
    [globex] = invoices(demo.org("Globex Clinic"))
    assert globex.total == 10 * 29000  # annual price
    assert invoices(demo.org("Initech Vet"))[0].number == "SW-000001"


def test_a_seat_added_mid_period_is_prorated_half_up_once(demo, tenner, on):
    finance = demo.user("finance@northwind.example")
    on(date(2027, 1, 1))
    client, site = new_client(demo)
    on(date(2027, 1, 15))  # 17 of 31 days left, counting the change day
    change = seats.set_allocation(finance, site, tenner, 3)
    invoice = change.invoice
    assert invoice.kind == "proration" and invoice.issued_on == date(2027, 1, 15)
    [line] = invoice.lines
    assert (line.quantity, line.unit_price, line.days, line.period_days, line.amount) == (3, 1000, 17, 31, 1645)
    assert invoice.total == 1645  # 16.45


def test_lowering_seats_gives_no_credit_and_the_next_period_bills_the_new_count(demo, tenner, on):
    finance = demo.user("finance@northwind.example")
    on(date(2027, 1, 1))
    client, site = new_client(demo)
    seats.set_allocation(finance, site, tenner, 4)
    count = len(invoices(client))
    on(date(2027, 1, 20))
    assert seats.set_allocation(finance, site, tenner, 1).invoice is None
    assert len(invoices(client)) == count
    billing.run_billing(date(2027, 2, 1))
    latest = invoices(client, "period")[-1]
    assert latest.period_start == date(2027, 2, 1)
    assert [(l.quantity, l.amount) for l in latest.lines] == [(1, 1000)]


def test_increases_of_a_free_type_issue_nothing(demo, on):
    finance = demo.user("finance@northwind.example")
    before = len(invoices(demo.acme))
    assert seats.set_allocation(finance, demo.paris, demo.type("support"), 5).invoice is None
    assert len(invoices(demo.acme)) == before


def test_a_cycle_change_waits_for_the_next_period_and_not_a_day_earlier(demo, on):
    finance = demo.user("finance@northwind.example")
    on(date(2026, 12, 1))
    client, site = new_client(demo)
    seats.set_allocation(finance, site, demo.type("essentials"), 2)
    billing.change_billing_cycle(finance, client, "annual")
    assert (client.billing_cycle, client.pending_billing_cycle, client.pending_effective_on) == (
        "monthly", "annual", date(2027, 1, 1))
    billing.run_billing(date(2026, 12, 31))
    db.session.refresh(client)
    assert client.billing_cycle == "monthly"
    billing.run_billing(date(2027, 1, 1))
    db.session.refresh(client)
    assert (client.billing_cycle, client.pending_billing_cycle) == ("annual", None)
    assert (client.period_start, client.period_end) == (date(2027, 1, 1), date(2028, 1, 1))
    latest = invoices(client, "period")[-1]
    assert (latest.billing_cycle, latest.total) == ("annual", 2 * 15000)


def test_a_pending_change_can_be_withdrawn(demo):
    finance = demo.user("finance@northwind.example")
    acme = demo.acme
    billing.change_billing_cycle(finance, acme, "annual")
    billing.change_billing_cycle(finance, acme, None)
    db.session.refresh(acme)
    assert (acme.billing_cycle, acme.pending_billing_cycle, acme.pending_effective_on) == ("monthly", None, None)


def test_changing_the_cycle_needs_subscription_management_and_a_known_cycle(demo):
    with pytest.raises(Forbidden):
        billing.change_billing_cycle(demo.user("admin@northwind.example"), demo.acme, "annual")
    with pytest.raises(Invalid):
        billing.change_billing_cycle(demo.user("finance@northwind.example"), demo.acme, "weekly")
    assert demo.acme.pending_billing_cycle is None


def test_the_run_catches_up_one_invoice_per_missed_period_with_gapless_numbers(demo, on):
    on(date(2027, 1, 31))
    client, _ = new_client(demo)
    report = billing.run_billing(date(2027, 5, 1))
    starts = [i.period_start for i in invoices(client, "period")]
    # Anchored on the 31st: February ends on the 28th, March returns to the 31st.
    assert starts == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]
    numbers = sorted(db.session.scalars(select(Invoice.sequence).where(Invoice.partner_id == client.parent_id)))
    assert numbers == list(range(1, len(numbers) + 1))
    assert client.id in [c for c in [client.id]] and len(report.invoices) >= 3


def test_running_twice_issues_nothing_new(demo, on):
    billing.run_billing(date(2027, 3, 15))
    count = db.session.scalar(select(func.count(Invoice.id)))
    second = billing.run_billing(date(2027, 3, 15))
    assert second.invoices == []
    assert db.session.scalar(select(func.count(Invoice.id))) == count


def test_the_database_refuses_a_second_invoice_for_one_period(demo):
    invoice = invoices(demo.acme)[0]
    db.session.add(Invoice(partner_id=invoice.partner_id, client_id=invoice.client_id, number="NW-999999",
                           sequence=999999, kind="period", billing_cycle="monthly",
                           period_start=invoice.period_start, period_end=invoice.period_end,
                           issued_on=invoice.issued_on, currency="EUR", total=0))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_run_failing_half_way_leaves_each_client_whole_or_untouched(demo, monkeypatch):
    globex = demo.org("Globex Clinic")
    real_lines = billing._period_lines

    def failing(client, *args):
        if client.id == globex.id:
            raise RuntimeError("disk full")
        return real_lines(client, *args)

    monkeypatch.setattr(billing, "_period_lines", failing)
    before = globex.period_start
    with pytest.raises(RuntimeError):
        billing.run_billing(date(2028, 6, 1))
    db.session.rollback()
    acme, globex = demo.acme, demo.org("Globex Clinic")
    assert acme.period_end > date(2028, 6, 1)  # Acme (rolled first) is fully caught up
    assert globex.period_start == before and len(invoices(globex)) == 1  # Globex untouched


def test_concurrent_increases_get_gapless_distinct_numbers(app, demo, on):
    finance_id = demo.user("finance@northwind.example").id
    essentials_id = demo.type("essentials").id
    site_ids = [demo.lyon.id, demo.paris.id, demo.site("Globex Clinic", "Main").id]
    barrier = threading.Barrier(6)
    errors = []

    def raise_seats(n):
        from portal.models import Site, User

        with app.app_context():
            try:
                finance = db.session.get(User, finance_id)
                site = db.session.get(Site, site_ids[n % 3])
                essentials = db.session.get(SubscriptionType, essentials_id)
                barrier.wait()
                for _ in range(3):
                    db.session.rollback()
                    allocated = seats._allocation(site.id, essentials.id)
                    seats.set_allocation(finance, site, essentials, (allocated.allocated if allocated else 0) + 1)
            except Exception as error:  # pragma: no cover - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=raise_seats, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db.session.rollback()
    northwind = demo.org("Northwind Telecom")
    numbers = db.session.scalars(select(Invoice.sequence).where(Invoice.partner_id == northwind.id)
                                 .order_by(Invoice.sequence)).all()
    prorations = db.session.scalar(select(func.count(Invoice.id)).where(
        Invoice.partner_id == northwind.id, Invoice.kind == "proration"))
    assert prorations >= 9  # each site ends at least 3 seats up, one invoice per new count
    assert numbers == list(range(1, 2 + prorations + 1))  # 2 demo period invoices, then no gap


def test_two_billing_processes_at_once_issue_each_invoice_once(app, demo):
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], FLASK_DEBUG="1")
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "billing", "run", "--today", "2027-06-15"]
    processes = [subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    db.session.rollback()
    for client in (demo.acme, demo.org("Globex Clinic"), demo.org("Initech Vet")):
        starts = [i.period_start for i in invoices(client, "period")]
        assert len(starts) == len(set(starts))
    for partner in ("Northwind Telecom", "Southwind Networks"):
        partner_id = demo.org(partner).id
        numbers = db.session.scalars(select(Invoice.sequence).where(Invoice.partner_id == partner_id)
                                     .order_by(Invoice.sequence)).all()
        assert numbers == list(range(1, len(numbers) + 1))
    acme = invoices(demo.acme, "period")
    assert all(a.period_end == b.period_start for a, b in zip(acme, acme[1:]))  # no period skipped
    assert acme[-1].period_start <= date(2027, 6, 15) < acme[-1].period_end


def test_a_trial_client_is_invoiced_from_the_day_the_trial_ends(demo, on):
    finance = demo.user("finance@northwind.example")
    on(date(2027, 3, 1))
    client, site = new_client(demo, trial_days=14)
    assert client.trial_ends_on == date(2027, 3, 15) and invoices(client) == []
    assert seats.set_allocation(finance, site, demo.type("essentials"), 3).invoice is None
    billing.run_billing(date(2027, 3, 14))
    assert invoices(client) == []
    billing.run_billing(date(2027, 3, 15))
    [first] = invoices(client)
    assert (first.period_start, first.period_end, first.total) == (date(2027, 3, 15), date(2027, 4, 15), 4500)


def test_a_user_deactivated_in_trial_keeps_access_and_seat_until_it_ends(demo, on, login_as):
    finance = demo.user("finance@northwind.example")
    on(date(2027, 3, 1))
    client, site = new_client(demo, trial_days=14)
    essentials = demo.type("essentials")
    seats.set_allocation(finance, site, essentials, 2)
    user = users.create_user(finance, site, essentials, "trial@vet.example", "Trial User", send="later")
    user = invitations.accept_invitation(invitations.send_invitation(finance, user), "Trial User", "a long password")
    users.deactivate_user(finance, user)
    db.session.refresh(user)
    assert (user.status, user.access_until) == ("deactivated", date(2027, 3, 15))
    assert user.is_active
    assert seats.free_seats(site.id, essentials.id) == 1
    assert seats.synchronise_consumed(finance, client).changes == []  # the seat is still held
    billing.run_billing(date(2027, 3, 15))
    on(date(2027, 3, 15))
    db.session.refresh(user)
    assert user.access_until is None and not user.is_active
    assert seats.free_seats(site.id, essentials.id) == 2


def test_after_the_trial_deactivation_is_immediate(demo, on):
    finance = demo.user("finance@northwind.example")
    on(date(2027, 3, 1))
    client, site = new_client(demo, trial_days=14)
    essentials = demo.type("essentials")
    seats.set_allocation(finance, site, essentials, 1)
    user = users.create_user(finance, site, essentials, "late@vet.example", "Late", send="later")
    user = invitations.accept_invitation(invitations.send_invitation(finance, user), "Late", "a long password")
    on(date(2027, 3, 20))
    users.deactivate_user(finance, user)
    db.session.refresh(user)
    assert user.access_until is None and seats.free_seats(site.id, essentials.id) == 1


@pytest.mark.parametrize("days", [-1, 366, "ten", True, 1.5])
def test_a_bad_trial_length_creates_nothing(demo, days):
    count = db.session.scalar(select(func.count(Organisation.id)))
    with pytest.raises(Invalid):
        clients.create_client(demo.user("admin@northwind.example"), demo.org("Northwind Telecom"), "Bad", "monthly",
                              trial_days=days)
    assert db.session.scalar(select(func.count(Organisation.id))) == count


def test_invoice_lines_copy_names_and_prices(demo):
    line = db.session.scalar(select(InvoiceLine).where(InvoiceLine.site_name == "Lyon",
                                                       InvoiceLine.subscription_type_code == "essentials"))
    essentials = demo.type("essentials")
    essentials.monthly_price = 9999
    db.session.commit()
    db.session.refresh(line)
    assert line.unit_price == 1500
