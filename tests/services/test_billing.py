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
from portal.domain.billing import cycles, run
from portal.domain.billing import invoices as issuing
from portal.domain.errors import Forbidden, Invalid
from portal.domain.orgs import clients, legal
from portal.domain.seats import allocations, counters, sync
from portal.extensions import db
from portal.models import Invoice, InvoiceLine, Organisation, SubscriptionType
from tests.factories import (
    AllocationFactory,
    ClientFactory,
    PartnerFactory,
    SiteFactory,
    SubscriptionTypeFactory,
    start_billing,
)


@pytest.fixture
def new_client(nw_admin, northwind):
    """``new_client(name, cycle, trial_days)`` → (client, its site "Main"), made by the client service."""

    def create(name="Vet Co", cycle="monthly", trial_days=None):
        client = clients.create_client(nw_admin, northwind, name, cycle, trial_days=trial_days)
        site = clients.create_site(nw_admin, client, "Main")
        return client, site

    return create


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


def test_a_seat_added_mid_period_is_prorated_half_up_once(finance, new_client, tenner, on):
    on(date(2027, 1, 1))
    client, site = new_client()
    on(date(2027, 1, 15))  # 17 of 31 days left, counting the change day
    change = allocations.set_allocation(finance, site, tenner, 3)
    invoice = change.invoice
    assert invoice.kind == "proration" and invoice.issued_on == date(2027, 1, 15)
    [line] = invoice.lines
    assert (line.quantity, line.unit_price, line.days, line.period_days, line.amount) == (3, 1000, 17, 31, 1645)
    assert invoice.total == 1645  # 16.45


def test_lowering_seats_gives_no_credit_and_the_next_period_bills_the_new_count(finance, new_client, tenner, on):
    on(date(2027, 1, 1))
    client, site = new_client()
    allocations.set_allocation(finance, site, tenner, 4)
    count = len(invoices(client))
    on(date(2027, 1, 20))
    assert allocations.set_allocation(finance, site, tenner, 1).invoice is None
    assert len(invoices(client)) == count
    run.run_billing(date(2027, 2, 1))
    latest = invoices(client, "period")[-1]
    assert latest.period_start == date(2027, 2, 1)
    assert [(l.quantity, l.amount) for l in latest.lines] == [(1, 1000)]


def test_increases_of_a_free_type_issue_nothing(finance, acme, on):
    paris, support = SiteFactory(client=acme, name="Paris"), SubscriptionTypeFactory(support=True)
    AllocationFactory(site=paris, subscription_type=support, allocated=2, consumed=0)
    before = len(invoices(acme))
    assert allocations.set_allocation(finance, paris, support, 5).invoice is None
    assert len(invoices(acme)) == before


def test_a_cycle_change_waits_for_the_next_period_and_not_a_day_earlier(finance, new_client, essentials, on):
    on(date(2026, 12, 1))
    client, site = new_client()
    allocations.set_allocation(finance, site, essentials, 2)
    cycles.change_billing_cycle(finance, client, "annual")
    assert (client.billing_cycle, client.pending_billing_cycle, client.pending_effective_on) == (
        "monthly", "annual", date(2027, 1, 1))
    run.run_billing(date(2026, 12, 31))
    db.session.refresh(client)
    assert client.billing_cycle == "monthly"
    run.run_billing(date(2027, 1, 1))
    db.session.refresh(client)
    assert (client.billing_cycle, client.pending_billing_cycle) == ("annual", None)
    assert (client.period_start, client.period_end) == (date(2027, 1, 1), date(2028, 1, 1))
    latest = invoices(client, "period")[-1]
    assert (latest.billing_cycle, latest.total) == ("annual", 2 * 15000)


def test_a_pending_change_can_be_withdrawn(finance, acme):
    cycles.change_billing_cycle(finance, acme, "annual")
    cycles.change_billing_cycle(finance, acme, None)
    db.session.refresh(acme)
    assert (acme.billing_cycle, acme.pending_billing_cycle, acme.pending_effective_on) == ("monthly", None, None)


def test_changing_the_cycle_needs_subscription_management_and_a_known_cycle(nw_admin, finance, acme):
    with pytest.raises(Forbidden):
        cycles.change_billing_cycle(nw_admin, acme, "annual")
    with pytest.raises(Invalid):
        cycles.change_billing_cycle(finance, acme, "weekly")
    db.session.refresh(acme)
    assert acme.pending_billing_cycle is None


def test_the_run_catches_up_one_invoice_per_missed_period_with_gapless_numbers(new_client, on):
    on(date(2027, 1, 31))
    client, _ = new_client()
    report = run.run_billing(date(2027, 5, 1))
    period_invoices = invoices(client, "period")
    starts = [i.period_start for i in period_invoices]
    # Anchored on the 31st: February ends on the 28th, March returns to the 31st.
    assert starts == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31), date(2027, 4, 30)]
    numbers = sorted(db.session.scalars(select(Invoice.sequence).where(Invoice.partner_id == client.parent_id)))
    assert numbers == list(range(1, len(numbers) + 1))
    # The run issued the three missed periods' invoices, the first having been issued at creation.
    assert report.invoices == [i.number for i in period_invoices[1:]]


def test_running_twice_issues_nothing_new(northwind, on):
    ClientFactory(parent=northwind, billing_cycle="monthly")
    ClientFactory(parent=northwind, billing_cycle="annual")
    first = run.run_billing(date(2027, 3, 15))
    assert first.invoices  # the first run had periods to catch up
    count = db.session.scalar(select(func.count(Invoice.id)))
    second = run.run_billing(date(2027, 3, 15))
    assert second.invoices == []
    assert db.session.scalar(select(func.count(Invoice.id))) == count


def test_the_database_refuses_a_second_invoice_for_one_period(acme):
    invoice = invoices(acme)[0]
    db.session.add(Invoice(partner_id=invoice.partner_id, client_id=invoice.client_id, number="NW-999999",
                           sequence=999999, kind="period", billing_cycle="monthly",
                           period_start=invoice.period_start, period_end=invoice.period_end,
                           issued_on=invoice.issued_on, currency="EUR", total=0))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_run_failing_half_way_leaves_each_client_whole_or_untouched(northwind, acme, monkeypatch):
    globex = ClientFactory(parent=northwind, name="Globex Clinic", billing_cycle="annual")  # rolled after Acme
    real_terms = legal.tax_terms

    def failing(client):
        if client.id == globex.id:
            raise RuntimeError("disk full")
        return real_terms(client)

    # Acme and Globex share a batch: its transaction fails, then each is rolled alone.
    monkeypatch.setattr(legal, "tax_terms", failing)
    before = globex.period_start
    with pytest.raises(RuntimeError):
        run.run_billing(date(2028, 6, 1))
    db.session.rollback()
    acme, globex = db.session.get(Organisation, acme.id), db.session.get(Organisation, globex.id)
    assert acme.period_end > date(2028, 6, 1)  # Acme (rolled first) is fully caught up
    assert globex.period_start == before and len(invoices(globex)) == 1  # Globex untouched


def test_concurrent_increases_get_gapless_distinct_numbers(app, northwind, finance, acme, essentials, on):
    globex = ClientFactory(parent=northwind, name="Globex Clinic", billing_cycle="annual")
    lyon, paris = SiteFactory(client=acme, name="Lyon"), SiteFactory(client=acme, name="Paris")
    AllocationFactory(site=lyon, subscription_type=essentials, allocated=5, consumed=4)
    AllocationFactory(site=paris, subscription_type=essentials, allocated=3, consumed=3)
    finance_id = finance.id
    essentials_id = essentials.id
    site_ids = [lyon.id, paris.id, SiteFactory(client=globex, name="Main").id]
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
                    allocated = counters.allocation_row(site.id, essentials.id)
                    allocations.set_allocation(finance, site, essentials, (allocated.allocated if allocated else 0) + 1)
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
    numbers = db.session.scalars(select(Invoice.sequence).where(Invoice.partner_id == northwind.id)
                                 .order_by(Invoice.sequence)).all()
    prorations = db.session.scalar(select(func.count(Invoice.id)).where(
        Invoice.partner_id == northwind.id, Invoice.kind == "proration"))
    assert prorations >= 9  # each site ends at least 3 seats up, one invoice per new count
    # A thread that read a stale count lowers it: within the window, that issues a credit note (rule 24).
    credit_notes = db.session.scalar(select(func.count(Invoice.id)).where(
        Invoice.partner_id == northwind.id, Invoice.kind == "credit_note"))
    # The 2 clients' period invoices, then no gap.
    assert numbers == list(range(1, 2 + prorations + credit_notes + 1))


def test_two_billing_processes_at_once_issue_each_invoice_once(app, northwind):
    southwind = PartnerFactory(name="Southwind Networks", invoice_prefix="SW")
    billed = [ClientFactory(parent=northwind, name="Acme Dental"),
              ClientFactory(parent=northwind, name="Globex Clinic", billing_cycle="annual"),
              ClientFactory(parent=southwind, name="Initech Vet")]
    env = dict(os.environ, DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], FLASK_DEBUG="1")
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "billing", "run", "--today", "2027-06-15"]
    processes = [subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    db.session.rollback()
    for client in billed:
        starts = [i.period_start for i in invoices(client, "period")]
        assert len(starts) == len(set(starts))
    for partner in (northwind, southwind):
        numbers = db.session.scalars(select(Invoice.sequence).where(Invoice.partner_id == partner.id)
                                     .order_by(Invoice.sequence)).all()
        assert numbers == list(range(1, len(numbers) + 1))
    acme = invoices(billed[0], "period")
    assert all(a.period_end == b.period_start for a, b in zip(acme, acme[1:]))  # no period skipped
    assert acme[-1].period_start <= date(2027, 6, 15) < acme[-1].period_end


def test_a_trial_client_is_invoiced_from_the_day_the_trial_ends(finance, new_client, essentials, on):
    on(date(2027, 3, 1))
    client, site = new_client(trial_days=14)
    assert client.trial_ends_on == date(2027, 3, 15) and invoices(client) == []
    assert allocations.set_allocation(finance, site, essentials, 3).invoice is None
    run.run_billing(date(2027, 3, 14))
    assert invoices(client) == []
    run.run_billing(date(2027, 3, 15))
    [first] = invoices(client)
    assert (first.period_start, first.period_end, first.total) == (date(2027, 3, 15), date(2027, 4, 15), 4500)


def test_a_trial_client_previews_its_first_invoice_the_one_the_trial_end_issues(finance, new_client, essentials, on):
    """Issue 11, defect 11: "Next period invoice" skipped the first invoice of a client in trial."""
    on(date(2027, 3, 1))
    client, site = new_client(trial_days=14)
    allocations.set_allocation(finance, site, essentials, 3)
    cycles.change_billing_cycle(finance, client, "annual")  # asked in the trial: from the second period

    preview = issuing.next_period_preview(client)

    assert (preview["cycle"], preview["period_start"], preview["period_end"], preview["total"]) == (
        "monthly", date(2027, 3, 15), date(2027, 4, 15), 4500)
    run.run_billing(date(2027, 3, 15))
    [first] = invoices(client)
    assert (first.billing_cycle, first.period_start, first.period_end, first.total) == (
        preview["cycle"], preview["period_start"], preview["period_end"], preview["total"])
    on(date(2027, 3, 15))  # the trial is over: the next invoice is the second period's, annual
    db.session.refresh(client)
    after = issuing.next_period_preview(client)
    assert (after["cycle"], after["period_start"], after["period_end"], after["total"]) == (
        "annual", date(2027, 4, 15), date(2028, 4, 15), 45000)


def test_a_user_deactivated_in_trial_keeps_access_and_seat_until_it_ends(finance, new_client, essentials, on):
    on(date(2027, 3, 1))
    client, site = new_client(trial_days=14)
    allocations.set_allocation(finance, site, essentials, 2)
    user = users.create_user(finance, site, essentials, "trial@vet.example", "Trial User", send="later")
    user = invitations.accept_invitation(invitations.send_invitation(finance, user), "Trial User", "a long password")
    users.deactivate_user(finance, user)
    db.session.refresh(user)
    assert (user.status, user.access_until) == ("deactivated", date(2027, 3, 15))
    assert user.is_active
    assert counters.free_seats(site.id, essentials.id) == 1
    assert sync.synchronise_consumed(finance, client).changes == []  # the seat is still held
    run.run_billing(date(2027, 3, 15))
    on(date(2027, 3, 15))
    db.session.refresh(user)
    assert user.access_until is None and not user.is_active
    assert counters.free_seats(site.id, essentials.id) == 2


def test_after_the_trial_deactivation_is_immediate(finance, new_client, essentials, on):
    on(date(2027, 3, 1))
    client, site = new_client(trial_days=14)
    allocations.set_allocation(finance, site, essentials, 1)
    user = users.create_user(finance, site, essentials, "late@vet.example", "Late", send="later")
    user = invitations.accept_invitation(invitations.send_invitation(finance, user), "Late", "a long password")
    on(date(2027, 3, 20))
    users.deactivate_user(finance, user)
    db.session.refresh(user)
    assert user.access_until is None and counters.free_seats(site.id, essentials.id) == 1


@pytest.mark.parametrize("days", [-1, 366, "ten", True, 1.5])
def test_a_bad_trial_length_creates_nothing(nw_admin, northwind, days):
    count = db.session.scalar(select(func.count(Organisation.id)))
    with pytest.raises(Invalid):
        clients.create_client(nw_admin, northwind, "Bad", "monthly", trial_days=days)
    assert db.session.scalar(select(func.count(Organisation.id))) == count


def test_invoice_lines_copy_names_and_prices(essentials):
    client = ClientFactory(billed=False)
    lyon = SiteFactory(client=client, name="Lyon")
    AllocationFactory(site=lyon, subscription_type=essentials, allocated=5, consumed=4)
    start_billing(client)  # the period invoice lists Lyon's 5 Essentials seats
    line = db.session.scalar(select(InvoiceLine).where(InvoiceLine.site_name == "Lyon",
                                                       InvoiceLine.subscription_type_code == "essentials"))
    essentials.monthly_price = 9999
    db.session.commit()
    db.session.refresh(line)
    assert line.unit_price == 1500
