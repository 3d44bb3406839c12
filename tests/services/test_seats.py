"""The seat service, tested without HTTP."""

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from portal.domain.accounts import users
from portal.domain.errors import BelowConsumed, Invalid, NoFreeSeat
from portal.domain.seats import allocations, queries, sync
from portal.extensions import db
from portal.models import Allocation, AuditEvent, Organisation, PartnerSeatTotal, Site, User
from tests.factories import (
    AllocationFactory,
    ClientFactory,
    SeatHolderFactory,
    SiteFactory,
    SubscriptionTypeFactory,
)
from tests.helpers import race_user_creations


def counters(site, code):
    allocation = db.session.scalar(
        select(Allocation).join(Allocation.subscription_type)
        .where(Allocation.site_id == site.id, Allocation.subscription_type.has(code=code))
        .execution_options(populate_existing=True))
    return (allocation.allocated, allocation.consumed) if allocation else None


# The world of these tests: Northwind (a partner) and its finance administrator,
# its client Acme Dental with a client admin, and Acme's sites. Each test asks
# for the parts it needs.


@pytest.fixture
def support():
    return SubscriptionTypeFactory(support=True)


@pytest.fixture
def lyon(acme, essentials):
    """Lyon: 5 Essentials seats bought, 4 of them held."""
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=5, consumed=4)
    return site


def test_raising_an_allocation_adds_free_seats_and_is_audited(finance, lyon, essentials):
    allocations.set_allocation(finance, lyon, essentials, 7)
    assert counters(lyon, "essentials") == (7, 4)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "allocation.changed"))
    assert event.actor_email == "finance@northwind.example"
    assert event.before == {"subscription_type": "essentials", "allocated": 5}
    assert event.after == {"subscription_type": "essentials", "allocated": 7}


def test_lowering_below_consumed_is_refused_and_names_the_seats_in_use(finance, lyon, essentials):
    events = db.session.scalar(select(func.count(AuditEvent.id)))
    with pytest.raises(BelowConsumed) as refused:
        allocations.set_allocation(finance, lyon, essentials, 3)
    assert refused.value.extra["consumed"] == 4
    assert "4 Essentials seats are in use" in refused.value.message
    assert counters(lyon, "essentials") == (5, 4)
    assert db.session.scalar(select(func.count(AuditEvent.id))) == events


def test_lowering_to_consumed_takes_effect_at_once_for_seat_checks(finance, lyon, essentials):
    allocations.set_allocation(finance, lyon, essentials, 4)
    with pytest.raises(NoFreeSeat) as refused:
        users.create_user(finance, lyon, essentials, "late@acme.example", "Late")
    assert refused.value.extra["free"] == 0


def test_allocating_a_type_never_allocated_at_the_site_creates_its_counter(finance, lyon, support):
    assert counters(lyon, "support") is None
    allocations.set_allocation(finance, lyon, support, 3)
    assert counters(lyon, "support") == (3, 0)


@pytest.mark.parametrize("bad", [-1, "-1", "abc", "1e3", "", " ", 10**12, "9" * 30, True, 2.5, None, "٣"])
def test_bad_seat_counts_are_refused_without_change(finance, lyon, essentials, bad):
    with pytest.raises(Invalid) as refused:
        allocations.set_allocation(finance, lyon, essentials, bad)
    assert refused.value.field == "allocated"
    assert counters(lyon, "essentials") == (5, 4)


def test_synchronise_reports_and_fixes_drift_then_finds_nothing(finance, acme, lyon, essentials):
    db.session.execute(update(Allocation).where(Allocation.site_id == lyon.id,
                                                Allocation.subscription_type_id == essentials.id)
                       .values(consumed=1))
    db.session.commit()
    report = sync.synchronise_consumed(finance, acme)
    assert report.changes == [{"site_id": lyon.id, "site_name": "Lyon", "subscription_type": "essentials",
                               "before": 1, "after": 4}]
    assert counters(lyon, "essentials") == (5, 4)
    db.session.refresh(acme)
    assert acme.seats_synced_at == report.synced_at  # when it last ran, as the page shows it
    assert sync.synchronise_consumed(finance, acme).changes == []


def test_synchronise_raises_allocation_when_more_users_hold_seats_than_were_bought(finance, acme, support):
    # Data imported behind the service's back: a Paris support user with no counter behind it.
    paris = SiteFactory(client=acme, name="Paris")
    AllocationFactory(site=paris, subscription_type=support, allocated=0, consumed=0)
    SeatHolderFactory(site=paris, subscription_type=support, email="ghost@acme.example", name="Ghost",
                      take_seat=False)
    report = sync.synchronise_consumed(finance, acme)
    assert [(c["site_name"], c["subscription_type"], c["before"], c["after"]) for c in report.changes] == [
        ("Paris", "support", 0, 1)]
    assert counters(paris, "support") == (1, 1)


def test_the_database_refuses_consumed_above_allocated(lyon):
    # The CHECK constraint, on SQLite and PostgreSQL alike.
    with pytest.raises(IntegrityError, match="consumed_within_allocated"):
        db.session.execute(text("UPDATE allocations SET consumed = allocated + 1"))
    db.session.rollback()
    assert counters(lyon, "essentials") == (5, 4)


def test_concurrent_creations_never_oversell(app, acme_admin, acme, essentials):
    """Twelve threads race for two free seats: exactly two users are created."""
    lyon = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=lyon, subscription_type=essentials, allocated=6, consumed=4)  # 2 free
    outcomes = race_user_creations(app, acme_admin.id, lyon.id, essentials.id)
    assert sorted(outcomes) == ["created"] * 2 + ["no seat"] * 10
    assert counters(lyon, "essentials") == (6, 6)
    assert db.session.scalar(select(func.count(User.id)).where(User.email.like("racer%"))) == 2


def test_partner_totals_follow_every_counter_change(northwind, finance, acme, acme_admin, essentials, support):
    """The overview reads per-partner totals: they must equal the sum of the allocations."""
    from portal.domain.seats import queries as dashboards

    unlimited = SubscriptionTypeFactory(unlimited=True)
    lyon, paris = SiteFactory(client=acme, name="Lyon"), SiteFactory(client=acme, name="Paris")
    AllocationFactory(site=lyon, subscription_type=essentials, allocated=5, consumed=3)
    user1 = SeatHolderFactory(site=lyon, subscription_type=essentials)  # Lyon: 5 bought, 4 held
    AllocationFactory(site=lyon, subscription_type=unlimited, allocated=2, consumed=2)
    AllocationFactory(site=paris, subscription_type=essentials, allocated=3, consumed=3)
    AllocationFactory(site=paris, subscription_type=support, allocated=2, consumed=0)
    # Another client of the partner is summed in; another partner's client is not.
    AllocationFactory(site=SiteFactory(client=ClientFactory(parent=northwind)), subscription_type=unlimited,
                      allocated=10, consumed=7)
    AllocationFactory(site=SiteFactory(), subscription_type=essentials, allocated=4, consumed=1)

    allocations.set_allocation(finance, lyon, essentials, 9)
    allocations.set_allocation(finance, paris, support, 1)
    allocations.set_allocation(finance, lyon, support, 2)  # a counter that did not exist
    user = users.create_user(acme_admin, lyon, essentials, "t@acme.example", "T")
    users.create_user(finance, paris, essentials, "u@acme.example", "U", add_seat=True)
    users.deactivate_user(acme_admin, user)
    users.deactivate_user(acme_admin, user1)
    db.session.execute(update(Allocation).where(Allocation.site_id == lyon.id,
                                                Allocation.subscription_type_id == essentials.id)
                       .values(consumed=0))  # drift, then repaired by the sync
    db.session.commit()
    sync.synchronise_consumed(finance, acme)
    expected = dict(db.session.execute(
        select(Allocation.subscription_type_id, func.sum(Allocation.allocated) * 1000 + func.sum(Allocation.consumed))
        .join(Site, Allocation.site_id == Site.id).join(Organisation, Site.client_id == Organisation.id)
        .where(Organisation.parent_id == northwind.id)
        .group_by(Allocation.subscription_type_id)).all())
    stored = dict(db.session.execute(
        select(PartnerSeatTotal.subscription_type_id, PartnerSeatTotal.allocated * 1000 + PartnerSeatTotal.consumed)
        .where(PartnerSeatTotal.partner_id == northwind.id)).all())
    assert stored == expected
    shown = {row.subscription_type.code: (row.allocated, row.consumed) for row in dashboards.partner_totals(finance)}
    assert shown["essentials"] == (9 + 4, 3 + 4)  # Lyon: 9 bought, 3 held; Paris: 3+1 bought, 4 held


# ---------------------------------------------------------------- totals over rows already read


def test_the_totals_of_the_site_rows_are_the_client_totals(finance, acme, lyon, essentials, support):
    """The client page sums the site rows it shows instead of reading the totals again: the same figures,
    a type without seats at 0 / 0, a type lowered to no seat left out of the rows yet still counted."""
    paris = SiteFactory(client=acme, name="Paris")
    allocations.set_allocation(finance, paris, essentials, 3)
    allocations.set_allocation(finance, paris, support, 2)
    allocations.set_allocation(finance, paris, support, 0)
    SeatHolderFactory(site=paris, subscription_type=essentials)
    catalogue = queries.catalogue()

    summed = queries.seat_totals(queries.site_rows(acme), catalogue)

    assert [(row.subscription_type.code, row.allocated, row.consumed) for row in summed] == [
        (row.subscription_type.code, row.allocated, row.consumed) for row in queries.client_totals(acme)]
    assert [(row.subscription_type.code, row.allocated, row.consumed) for row in summed] == [
        ("essentials", 8, 5), ("support", 0, 0)]
    only_lyon = queries.seat_totals(queries.site_rows(acme, {lyon.id}), catalogue)
    assert [(row.allocated, row.consumed) for row in only_lyon] == [
        (row.allocated, row.consumed) for row in queries.client_totals(acme, {lyon.id})] == [(5, 4), (0, 0)]
