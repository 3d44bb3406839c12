"""The partner's seat rows (totals, and history per day) are written as the transaction's last statements (issue 17).

Every seat change of a partner adds to the same rows; written where the change
happens, their lock serialised the partner's whole write path. These tests hold
the rows exact through races, rollbacks, savepoints, reads and recounts inside
the transaction, and check the rows are written last, in one order.
"""
import threading
import time
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from portal.domain.accounts import users
from portal.domain.errors import Conflict
from portal.domain.seats import counters, queries
from portal.domain.transactions import held_transaction, write_transaction
from portal.domain.usage import Scope, usage
from portal.extensions import db
from portal.models import Allocation, Organisation, PartnerSeatChange, PartnerSeatTotal, SeatChange, Site
from tests.factories import AllocationFactory, ClientFactory, PartnerFactory, SiteFactory
from tests.helpers import race_user_creations

MONDAY = date(2027, 3, 8)


@pytest.fixture
def lyon(acme, essentials):
    """Lyon: 5 Essentials seats bought, 2 of them held."""
    site = SiteFactory(client=acme, name="Lyon")
    AllocationFactory(site=site, subscription_type=essentials, allocated=5, consumed=2)
    return site


@pytest.fixture
def paris(northwind, essentials):
    """Paris, a site of another client of the same partner: 4 seats, 1 held."""
    site = SiteFactory(client=ClientFactory(parent=northwind, name="Globex"), name="Paris")
    AllocationFactory(site=site, subscription_type=essentials, allocated=4, consumed=1)
    return site


def partner_rows(partner) -> dict:
    """The partner's stored totals and its history summed over the days, per type: ((allocated, consumed), (…))."""
    db.session.rollback()
    totals = dict(db.session.execute(
        select(PartnerSeatTotal.subscription_type_id, PartnerSeatTotal.allocated * 1000 + PartnerSeatTotal.consumed)
        .where(PartnerSeatTotal.partner_id == partner.id)).all())
    history = dict(db.session.execute(
        select(PartnerSeatChange.subscription_type_id,
               func.sum(PartnerSeatChange.allocated_change) * 1000 + func.sum(PartnerSeatChange.consumed_change))
        .where(PartnerSeatChange.partner_id == partner.id).group_by(PartnerSeatChange.subscription_type_id)).all())
    return {"totals": totals, "history": history}


def summed(partner) -> dict:
    """The same rows as the sums of the partner's allocations and of its sites' history."""
    totals = dict(db.session.execute(
        select(Allocation.subscription_type_id, func.sum(Allocation.allocated) * 1000 + func.sum(Allocation.consumed))
        .join(Site, Allocation.site_id == Site.id).join(Organisation, Site.client_id == Organisation.id)
        .where(Organisation.parent_id == partner.id).group_by(Allocation.subscription_type_id)).all())
    history = dict(db.session.execute(
        select(SeatChange.subscription_type_id,
               func.sum(SeatChange.allocated_change) * 1000 + func.sum(SeatChange.consumed_change))
        .where(SeatChange.partner_id == partner.id).group_by(SeatChange.subscription_type_id)).all())
    return {"totals": totals, "history": history}


class Refused(Exception):
    pass


def test_racing_creations_leave_the_partner_rows_exact(app, on, northwind, acme_admin, lyon, essentials):
    """Twelve threads race for Lyon's three free seats: the partner's totals and day row say +3, as Lyon does."""
    on(MONDAY)
    before = partner_rows(northwind)
    outcomes = race_user_creations(app, acme_admin.id, lyon.id, essentials.id)
    assert outcomes.count("created") == 3
    after = partner_rows(northwind)
    assert after == summed(northwind)
    assert after["totals"][essentials.id] - before["totals"][essentials.id] == 3
    assert db.session.scalar(select(PartnerSeatChange.consumed_change).where(
        PartnerSeatChange.partner_id == northwind.id, PartnerSeatChange.day == MONDAY)) == 3


def test_a_rolled_back_transaction_leaves_the_partner_rows_untouched(northwind, lyon, paris, essentials):
    before = partner_rows(northwind)
    with pytest.raises(Refused), write_transaction():
        assert counters.claim_seat(lyon.id, essentials.id)
        raise Refused
    assert partner_rows(northwind) == before
    # The next transaction of the same session writes only its own change, nothing left from the one undone.
    with write_transaction():
        assert counters.claim_seat(paris.id, essentials.id)
    assert partner_rows(northwind)["totals"][essentials.id] == before["totals"][essentials.id] + 1
    assert partner_rows(northwind) == summed(northwind)


def test_a_savepoint_rolled_back_drops_its_own_changes_only(northwind, lyon, paris, essentials):
    """Inside a held transaction (an Idempotency-Key request) each service's block is a savepoint."""
    before = partner_rows(northwind)["totals"][essentials.id]
    with held_transaction():
        with write_transaction():
            assert counters.claim_seat(lyon.id, essentials.id)
        with pytest.raises(Refused), write_transaction():
            assert counters.claim_seat(paris.id, essentials.id)
            counters.add_seats(paris.id, essentials.id, 3)
            raise Refused
        with write_transaction():
            counters.add_seats(paris.id, essentials.id, 2)
    assert partner_rows(northwind)["totals"][essentials.id] == before + 2000 + 1
    assert partner_rows(northwind) == summed(northwind)


def test_nested_savepoints_hand_their_changes_outwards(northwind, lyon, essentials):
    before = partner_rows(northwind)["totals"][essentials.id]
    with write_transaction() as session:
        with session.begin_nested():
            assert counters.claim_seat(lyon.id, essentials.id)
            with session.begin_nested():
                assert counters.claim_seat(lyon.id, essentials.id)
            with pytest.raises(Refused), session.begin_nested():
                assert counters.claim_seat(lyon.id, essentials.id)
                raise Refused
    assert partner_rows(northwind)["totals"][essentials.id] == before + 2
    assert partner_rows(northwind) == summed(northwind)


def test_reads_inside_the_transaction_see_its_own_changes(on, finance, northwind, lyon, essentials):
    on(MONDAY)
    with write_transaction():
        assert counters.claim_seat(lyon.id, essentials.id)
        [shown] = [row for row in queries.partner_totals(finance) if row.subscription_type.id == essentials.id]
        assert (shown.allocated, shown.consumed) == (5, 3)
        days = usage(Scope.partner(northwind.id), MONDAY - timedelta(days=1), MONDAY)
        assert {row.day: (row.allocated, row.consumed) for row in days} == {
            MONDAY - timedelta(days=1): (5, 2), MONDAY: (5, 3)}
    assert partner_rows(northwind) == summed(northwind)


def test_a_read_inside_a_savepoint_that_rolls_back_loses_nothing(finance, northwind, lyon, paris, essentials):
    """The read writes every level's changes inside the savepoint; its rollback must not lose the outer ones."""
    before = partner_rows(northwind)["totals"][essentials.id]
    with write_transaction() as session:
        assert counters.claim_seat(lyon.id, essentials.id)
        with pytest.raises(Refused), session.begin_nested():
            assert counters.claim_seat(paris.id, essentials.id)
            queries.partner_totals(finance)
            raise Refused
        with session.begin_nested():
            assert counters.claim_seat(paris.id, essentials.id)
            queries.partner_totals(finance)
            assert counters.claim_seat(paris.id, essentials.id)
    assert partner_rows(northwind)["totals"][essentials.id] == before + 3
    assert partner_rows(northwind) == summed(northwind)


def test_a_recount_inside_the_transaction_counts_its_changes_once(northwind, lyon, essentials):
    before = partner_rows(northwind)["totals"][essentials.id]
    with write_transaction():
        assert counters.claim_seat(lyon.id, essentials.id)
        counters.recount_partner_totals(northwind.id)
        assert counters.claim_seat(lyon.id, essentials.id)
    assert partner_rows(northwind)["totals"][essentials.id] == before + 2
    assert partner_rows(northwind) == summed(northwind)


def test_the_partner_rows_are_the_last_statements_in_key_order(acme_admin, northwind, lyon, essentials):
    """Two partners' rows in one transaction: written last, ordered by partner (no two transactions cross)."""
    southwind = PartnerFactory(name="Southwind")
    bern = SiteFactory(client=ClientFactory(parent=southwind), name="Bern")
    AllocationFactory(site=bern, subscription_type=essentials, allocated=2, consumed=0)
    first, second = sorted([northwind.id, southwind.id])
    statements = []
    listener = lambda *args: statements.append((args[2], args[3]))  # noqa: E731 - (statement, parameters)
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with write_transaction():
            assert counters.claim_seat(bern.id, essentials.id)
            assert counters.claim_seat(lyon.id, essentials.id)
            db.session.flush()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    writes = [(sql, parameters) for sql, parameters in statements if "INSERT INTO partner_seat_" in sql]
    assert writes and statements[-len(writes):] == writes  # nothing after them but the COMMIT
    assert "partner_seat_history" in writes[0][0] and "partner_seat_totals" in writes[-1][0]
    # The totals' rows, one per partner, in one statement: (partner_id, type, allocated, consumed) each.
    # SQLite: a tuple in the order of the VALUES; PostgreSQL: named partner_id_m0, partner_id_m1…
    parameters = writes[-1][1]
    if isinstance(parameters, dict):
        partner_ids = [value for name, value in parameters.items() if name.startswith("partner_id_m")]
    else:
        partner_ids = list(parameters)[0::4]
    assert partner_ids == [first, second]


def test_a_creation_refused_after_its_claim_writes_nothing_for_the_partner(acme_admin, northwind, lyon,
                                                                          essentials):
    before = partner_rows(northwind)
    users.create_user(acme_admin, lyon, essentials, "new@acme.example", "New")
    with pytest.raises(Conflict):  # the e-mail is in use: checked after the seat was claimed, which rolls back
        users.create_user(acme_admin, lyon, essentials, "new@acme.example", "Again")
    assert partner_rows(northwind)["totals"][essentials.id] == before["totals"][essentials.id] + 1
    assert partner_rows(northwind) == summed(northwind)


def test_a_seat_change_does_not_wait_for_another_sites_open_transaction(app, finance, lyon, paris, essentials):
    """PostgreSQL: one transaction holds Lyon's claim open; a creation at Paris (same partner) still commits."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises every writer (BEGIN IMMEDIATE)")
    claimed, release = threading.Event(), threading.Event()
    lyon_id, type_id = lyon.id, essentials.id

    def hold_lyon():
        with app.app_context():
            with write_transaction():
                counters.claim_seat(lyon_id, type_id)
                claimed.set()
                release.wait(timeout=10)
            db.session.remove()

    holder = threading.Thread(target=hold_lyon)
    holder.start()
    try:
        assert claimed.wait(timeout=10)
        started = time.monotonic()
        users.create_user(finance, paris, essentials, "paris@globex.example", "Paris")
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join()
    assert waited < 5
    assert partner_rows(lyon.client.parent) == summed(lyon.client.parent)
