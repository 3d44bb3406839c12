"""Moving a seat (docs/rules.md rule 27): one transaction, race-free, refused like a creation."""
import threading

import pytest
from sqlalchemy import func, select

from portal.domain.accounts import moves
from portal.domain.errors import Conflict, Forbidden, Invalid, NoFreeSeat
from portal.extensions import db
from portal.models import AuditEvent, Invoice, RoleAssignment, User
from tests.factories import AllocationFactory, SeatHolderFactory, SiteFactory, SubscriptionTypeFactory, UserFactory


@pytest.fixture
def unlimited():
    return SubscriptionTypeFactory(unlimited=True)


@pytest.fixture
def lyon(acme, essentials, unlimited):
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=3, consumed=2)
    AllocationFactory(site=site, subscription_type=unlimited, allocated=1, consumed=0)
    return site


@pytest.fixture
def paris(acme, essentials):
    site = SiteFactory(client=acme, name="Paris")
    AllocationFactory(site=site, subscription_type=essentials, allocated=2, consumed=2)
    return site


def holder(site, subscription_type) -> User:
    return db.session.scalar(select(User).where(User.site_id == site.id,
                                                User.subscription_type_id == subscription_type.id).order_by(User.id))


def counts(site, subscription_type) -> tuple[int, int]:
    from portal.domain.seats import counters

    db.session.rollback()
    row = counters.allocation_row(site.id, subscription_type.id)
    return (row.allocated, row.consumed) if row else (0, 0)


def invoices() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Invoice.id)))


def test_an_upgrade_claims_the_new_seat_and_frees_the_old_one_without_an_invoice(acme_admin, lyon, essentials,
                                                                                  unlimited):
    user = holder(lyon, essentials)
    before = invoices()
    moved = moves.move_seat(acme_admin, user, lyon, unlimited)
    assert (moved.site_id, moved.subscription_type_id) == (lyon.id, unlimited.id)
    assert counts(lyon, essentials) == (3, 1) and counts(lyon, unlimited) == (1, 1)
    assert invoices() == before  # billing follows allocations: a move alone bills nothing
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "user.seat_moved"))
    assert event.before == {"site_id": lyon.id, "subscription_type": "essentials"}
    assert event.after == {"site_id": lyon.id, "subscription_type": "unlimited"}


def test_no_free_seat_refuses_the_move_and_changes_nothing(acme_admin, lyon, paris, essentials):
    user = holder(lyon, essentials)
    with pytest.raises(NoFreeSeat) as refused:
        moves.move_seat(acme_admin, user, paris, essentials)
    assert refused.value.extra["free"] == 0 and "Ask a finance administrator" in refused.value.message
    assert counts(lyon, essentials) == (3, 2) and counts(paris, essentials) == (2, 2)
    assert db.session.get(User, user.id).site_id == lyon.id


def test_finance_adds_the_seat_and_moves_in_one_step(finance, lyon, paris, essentials):
    user = holder(lyon, essentials)
    before = invoices()
    moves.move_seat(finance, user, paris, essentials, add_seat=True)
    assert counts(paris, essentials) == (3, 3) and counts(lyon, essentials) == (3, 1)
    assert invoices() == before + 1  # the added seat is bought, prorated


def test_adding_a_seat_needs_subscription_management(acme_admin, lyon, paris, essentials):
    with pytest.raises(Forbidden):
        moves.move_seat(acme_admin, holder(lyon, essentials), paris, essentials, add_seat=True)
    assert counts(paris, essentials) == (2, 2)


def test_a_site_manager_moves_only_to_sites_they_manage(acme, lyon, paris, essentials, unlimited):
    frontdesk = UserFactory(site_manager=True, sites=[lyon])
    user = holder(lyon, essentials)
    with pytest.raises(Forbidden):
        moves.move_seat(frontdesk, user, paris, essentials)
    moves.move_seat(frontdesk, user, lyon, unlimited)  # within Lyon: allowed
    assert counts(lyon, unlimited) == (1, 1)


def test_nobody_moves_a_user_holding_more_than_they_do(acme, lyon, essentials, unlimited):
    """A site manager of Lyon cannot move a client admin who holds a seat at Lyon (rule 41b)."""
    frontdesk = UserFactory(site_manager=True, sites=[lyon])
    boss = SeatHolderFactory(site=lyon, subscription_type=unlimited)
    db.session.add(RoleAssignment(user_id=boss.id, role="client_admin"))
    db.session.commit()
    with pytest.raises(Forbidden):
        moves.move_seat(frontdesk, db.session.get(User, boss.id), lyon, essentials)
    assert counts(lyon, unlimited) == (1, 1)


def test_other_clients_sites_same_seat_and_staff_are_refused(acme_admin, acme, lyon, essentials, northwind):
    from tests.factories import ClientFactory

    other_site = SiteFactory(client=ClientFactory(parent=northwind, name="Globex"), name="Main")
    user = holder(lyon, essentials)
    with pytest.raises(Invalid):
        moves.move_seat(acme_admin, user, other_site, essentials)
    with pytest.raises(Conflict):
        moves.move_seat(acme_admin, user, lyon, essentials)
    with pytest.raises(Conflict):
        moves.change_user(acme_admin, acme_admin, site=lyon)  # staff hold no seat


def test_concurrent_moves_into_k_free_seats_move_exactly_k(app, acme_admin, acme, essentials, unlimited):
    """Eight users race for the 3 free Unlimited seats at Nantes: exactly 3 move (docs/rules.md rules 3 and 27)."""
    nantes = SiteFactory(client=acme, name="Nantes")
    AllocationFactory(site=nantes, subscription_type=essentials, allocated=8, consumed=8)
    AllocationFactory(site=nantes, subscription_type=unlimited, allocated=3, consumed=0)
    user_ids = list(db.session.scalars(select(User.id).where(User.site_id == nantes.id)))
    actor_id, site_id, type_id = acme_admin.id, nantes.id, unlimited.id
    db.session.commit()
    barrier, moved, refused = threading.Barrier(len(user_ids)), [], []

    def move(user_id):
        with app.app_context():
            try:
                actor, user = db.session.get(User, actor_id), db.session.get(User, user_id)
                site, target = db.session.get(type(nantes), site_id), db.session.get(type(unlimited), type_id)
                barrier.wait()
                moves.move_seat(actor, user, site, target)
                moved.append(user_id)
            except NoFreeSeat:
                refused.append(user_id)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=move, args=(user_id,)) for user_id in user_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (len(moved), len(refused)) == (3, 5)
    assert counts(nantes, unlimited) == (3, 3) and counts(nantes, essentials) == (8, 5)
