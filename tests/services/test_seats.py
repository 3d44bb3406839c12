"""The seat service, tested without HTTP."""
import threading

import pytest
from sqlalchemy import func, select, text, update

from portal.domain.accounts import users
from portal.domain.errors import BelowConsumed, Invalid, NoFreeSeat
from portal.domain.seats import counters as seats
from portal.extensions import db
from portal.models import Allocation, AuditEvent, User


def counters(site, code):
    allocation = db.session.scalar(
        select(Allocation).join(Allocation.subscription_type)
        .where(Allocation.site_id == site.id, Allocation.subscription_type.has(code=code))
        .execution_options(populate_existing=True))
    return (allocation.allocated, allocation.consumed) if allocation else None


def test_raising_an_allocation_adds_free_seats_and_is_audited(demo):
    finance = demo.user("finance@northwind.example")
    seats.set_allocation(finance, demo.lyon, demo.type("essentials"), 7)
    assert counters(demo.lyon, "essentials") == (7, 4)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "allocation.changed"))
    assert event.actor_email == "finance@northwind.example"
    assert event.before == {"subscription_type": "essentials", "allocated": 5}
    assert event.after == {"subscription_type": "essentials", "allocated": 7}


def test_lowering_below_consumed_is_refused_and_names_the_seats_in_use(demo):
    finance = demo.user("finance@northwind.example")
    events = db.session.scalar(select(func.count(AuditEvent.id)))
    with pytest.raises(BelowConsumed) as refused:
        seats.set_allocation(finance, demo.lyon, demo.type("essentials"), 3)
    assert refused.value.extra["consumed"] == 4
    assert "4 Essentials seats are in use" in refused.value.message
    assert counters(demo.lyon, "essentials") == (5, 4)
    assert db.session.scalar(select(func.count(AuditEvent.id))) == events


def test_lowering_to_consumed_takes_effect_at_once_for_seat_checks(demo):
    finance = demo.user("finance@northwind.example")
    seats.set_allocation(finance, demo.lyon, demo.type("essentials"), 4)
    with pytest.raises(NoFreeSeat) as refused:
        users.create_user(finance, demo.lyon, demo.type("essentials"), "late@acme.example", "Late")
    assert refused.value.extra["free"] == 0


def test_allocating_a_type_never_allocated_at_the_site_creates_its_counter(demo):
    finance = demo.user("finance@northwind.example")
    assert counters(demo.lyon, "support") is None
    seats.set_allocation(finance, demo.lyon, demo.type("support"), 3)
    assert counters(demo.lyon, "support") == (3, 0)


@pytest.mark.parametrize("bad", [-1, "-1", "abc", "1e3", "", " ", 10**12, "9" * 30, True, 2.5, None, "٣"])
def test_bad_seat_counts_are_refused_without_change(demo, bad):
    finance = demo.user("finance@northwind.example")
    with pytest.raises(Invalid) as refused:
        seats.set_allocation(finance, demo.lyon, demo.type("essentials"), bad)
    assert refused.value.field == "allocated"
    assert counters(demo.lyon, "essentials") == (5, 4)


def test_synchronise_reports_and_fixes_drift_then_finds_nothing(demo):
    admin = demo.user("finance@northwind.example")
    db.session.execute(update(Allocation).where(Allocation.site_id == demo.lyon.id,
                                                Allocation.subscription_type_id == demo.type("essentials").id)
                       .values(consumed=1))
    db.session.commit()
    report = seats.synchronise_consumed(admin, demo.acme)
    assert report.changes == [{"site_id": demo.lyon.id, "site_name": "Lyon", "subscription_type": "essentials",
                               "before": 1, "after": 4}]
    assert counters(demo.lyon, "essentials") == (5, 4)
    assert demo.acme.seats_synced_at is not None
    assert seats.synchronise_consumed(admin, demo.acme).changes == []


def test_synchronise_raises_allocation_when_more_users_hold_seats_than_were_bought(demo):
    admin = demo.user("finance@northwind.example")
    # Simulate data imported behind the service's back: a Paris support user with no counter behind it.
    paris, support = demo.paris, demo.type("support")
    db.session.add(User(organisation_id=demo.acme.id, email="ghost@acme.example", name="Ghost",
                        status="active", site_id=paris.id, subscription_type_id=support.id))
    db.session.execute(update(Allocation).where(Allocation.site_id == paris.id,
                                                Allocation.subscription_type_id == support.id)
                       .values(allocated=0, consumed=0))
    db.session.commit()
    report = seats.synchronise_consumed(admin, demo.acme)
    assert [(c["site_name"], c["subscription_type"], c["before"], c["after"]) for c in report.changes] == [
        ("Paris", "support", 0, 1)]
    assert counters(paris, "support") == (1, 1)


def test_the_database_refuses_consumed_above_allocated(demo):
    with pytest.raises(Exception):
        db.session.execute(text("UPDATE allocations SET consumed = allocated + 1"))
        db.session.commit()
    db.session.rollback()


def test_concurrent_creations_never_oversell(app, demo):
    """Twelve threads race for two free seats: exactly two users are created."""
    finance = demo.user("finance@northwind.example")
    seats.set_allocation(finance, demo.lyon, demo.type("essentials"), 6)  # 4 consumed → 2 free
    site_id, type_id, admin_id = demo.lyon.id, demo.type("essentials").id, demo.user("admin@acme.example").id
    barrier = threading.Barrier(12)
    outcomes = []

    def create(n):
        with app.app_context():
            from portal.models import Site, SubscriptionType

            admin = db.session.get(User, admin_id)
            site, subscription_type = db.session.get(Site, site_id), db.session.get(SubscriptionType, type_id)
            barrier.wait()
            try:
                users.create_user(admin, site, subscription_type, f"racer{n}@acme.example", f"Racer {n}")
                outcomes.append("created")
            except NoFreeSeat:
                outcomes.append("no seat")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=create, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["created"] * 2 + ["no seat"] * 10
    db.session.rollback()  # end this thread's read snapshot so it sees the racers' commits
    assert counters(demo.lyon, "essentials") == (6, 6)
    assert db.session.scalar(select(func.count(User.id)).where(User.email.like("racer%"))) == 2


def test_partner_totals_follow_every_counter_change(demo):
    """The overview reads per-partner totals: they must equal the sum of the allocations."""
    from portal.domain.seats import queries as dashboards
    from portal.models import Organisation, PartnerSeatTotal, Site

    finance, admin = demo.user("finance@northwind.example"), demo.user("admin@acme.example")
    essentials = demo.type("essentials")
    seats.set_allocation(finance, demo.lyon, essentials, 9)
    seats.set_allocation(finance, demo.paris, demo.type("support"), 1)
    seats.set_allocation(finance, demo.lyon, demo.type("support"), 2)  # a counter that did not exist
    user = users.create_user(admin, demo.lyon, essentials, "t@acme.example", "T")
    users.create_user(finance, demo.paris, essentials, "u@acme.example", "U", add_seat=True)
    users.deactivate_user(admin, user)
    users.deactivate_user(admin, demo.user("user1@acme.example"))
    db.session.execute(update(Allocation).where(Allocation.site_id == demo.lyon.id,
                                                Allocation.subscription_type_id == essentials.id)
                       .values(consumed=0))  # drift, then repaired by the sync
    db.session.commit()
    seats.synchronise_consumed(finance, demo.acme)
    expected = dict(db.session.execute(
        select(Allocation.subscription_type_id, func.sum(Allocation.allocated) * 1000 + func.sum(Allocation.consumed))
        .join(Site, Allocation.site_id == Site.id).join(Organisation, Site.client_id == Organisation.id)
        .where(Organisation.parent_id == demo.org("Northwind Telecom").id)
        .group_by(Allocation.subscription_type_id)).all())
    stored = dict(db.session.execute(
        select(PartnerSeatTotal.subscription_type_id, PartnerSeatTotal.allocated * 1000 + PartnerSeatTotal.consumed)
        .where(PartnerSeatTotal.partner_id == demo.org("Northwind Telecom").id)).all())
    assert stored == expected
    shown = {row.subscription_type.code: (row.allocated, row.consumed) for row in dashboards.partner_totals(finance)}
    assert shown["essentials"] == (9 + 4, 3 + 4)  # Lyon: 9 bought, 3 held; Paris: 3+1 bought, 4 held
