"""The seat counters: the only code that changes ``allocated`` and ``consumed``.

Every claim is one conditional UPDATE (``consumed < allocated`` in its WHERE
clause): zero rows changed means no free seat. That holds under any number of
concurrent requests on PostgreSQL (the row lock re-checks the condition) and
on SQLite (``BEGIN IMMEDIATE`` serialises writers). Each change moves the
partner's totals in the same transaction, so the overview never drifts, and
writes the day's change into the history (rule 34), so a change that rolls
back leaves no trace there either. A
claim that leaves a site running out of a type raises the event that tells
the partner's finance (rule 33), in the same transaction too.

The partner's rows (its totals per type, its history per type and day) are
shared by every site of the partner: written where the change happens, their
row lock would be held until the commit and every seat change of the partner
would wait for the one before (issue 17). So the changes of a transaction are
added up per partner row in the session and written as its last statements,
just before COMMIT, in one order (by key: no two transactions lock them in
opposite orders). A savepoint that rolls back drops its own changes, a
rollback drops them all, and a read of those rows inside the transaction
first writes what is pending, so it sees its own changes.

Everything here runs inside the caller's transaction and never commits.
"""
from sqlalchemy import Date, delete, event, func, insert, literal, select, update
from sqlalchemy.sql import visitors

from portal import clock, metrics
from portal.domain import events, notifications
from portal.domain.transactions import dialect_insert
from portal.extensions import db
from portal.models import Allocation, Organisation, PartnerSeatChange, PartnerSeatTotal, SeatChange, Site


def free_seats(site_id: int, subscription_type_id: int) -> int:
    allocation = allocation_row(site_id, subscription_type_id)
    return allocation.free if allocation else 0


def allocation_row(site_id, subscription_type_id, *, lock=False) -> Allocation | None:
    """The (site, type) counter row as committed now; ``lock`` holds it until the transaction ends."""
    query = select(Allocation).where(
        Allocation.site_id == site_id, Allocation.subscription_type_id == subscription_type_id
    )
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query.execution_options(populate_existing=True))


def ensure_allocation(site_id: int, subscription_type_id: int) -> None:
    """Create the (site, type) counter row if missing; safe under races."""
    db.session.execute(
        dialect_insert()(Allocation)
        .values(site_id=site_id, subscription_type_id=subscription_type_id, allocated=0, consumed=0)
        .on_conflict_do_nothing(index_elements=["site_id", "subscription_type_id"])
    )


def _match(site_id, subscription_type_id):
    return (Allocation.site_id == site_id) & (Allocation.subscription_type_id == subscription_type_id)


def _move(site_id: int, subscription_type_id: int, allocated: int = 0, consumed: int = 0, *, only_if=None):
    """Move one allocation's counters, and its partner's totals with them; the row's new counts.

    ``only_if`` is an extra condition on the allocation row (e.g. a free seat
    exists); when it does not hold, nothing moves and None is returned. Every
    counter change goes through here, so the partner totals never drift.
    """
    where = _match(site_id, subscription_type_id)
    if only_if is not None:
        where = where & only_if
    row = db.session.execute(
        update(Allocation).where(where)
        .values(allocated=Allocation.allocated + allocated, consumed=Allocation.consumed + consumed)
        .returning(Allocation.allocated, Allocation.consumed)
        .execution_options(synchronize_session=False)
    ).first()
    if row is not None:
        partner_id = _record_site_history(site_id, subscription_type_id, allocated, consumed)
        _add_partner_change(partner_id, subscription_type_id, allocated, consumed)
    return row


def _tell_if_running_out(site_id: int, subscription_type_id: int, now) -> None:
    """After a seat was taken: raise ``site.running_out`` if it made the free seats cross a line (rule 33).

    Only taking a seat runs a site out: buying or lowering seats is finance's
    own doing. The counts before and after come from the row this claim
    locked, so of many concurrent claims exactly one crosses each line: finance
    is told once per crossing, not once per request.
    """
    level = notifications.crossed(now.allocated, now.consumed - 1, now.allocated, now.consumed)
    if level is None:
        return
    client_id = db.session.scalar(select(Site.client_id).where(Site.id == site_id))
    events.add(notifications.RUNNING_OUT, client_id,
               {"site_id": site_id, "subscription_type_id": subscription_type_id, "level": level,
                "allocated": now.allocated, "consumed": now.consumed})


def _record_site_history(site_id, subscription_type_id, allocated: int, consumed: int) -> int:
    """Add the change to today's history row of the site (rule 34); the site's partner id, read on the way.

    An upsert, so many changes in one day make one row; written after the
    allocation row's lock, so on both databases the day's sums are exact
    under concurrent changes. The row names the site's partner (joined in the
    same statement): the partner's own rows follow at the commit.
    """
    upsert = dialect_insert()(SeatChange).from_select(
        ["site_id", "subscription_type_id", "day", "client_id", "partner_id", "allocated_change", "consumed_change"],
        select(Site.id, literal(subscription_type_id), literal(clock.today(), Date), Site.client_id,
               Organisation.parent_id, literal(allocated), literal(consumed))
        .join(Organisation, Organisation.id == Site.client_id).where(Site.id == site_id))
    return db.session.scalar(upsert.on_conflict_do_update(
        index_elements=["site_id", "subscription_type_id", "day"],
        set_={"allocated_change": SeatChange.allocated_change + upsert.excluded.allocated_change,
              "consumed_change": SeatChange.consumed_change + upsert.excluded.consumed_change},
    ).returning(SeatChange.partner_id))


# ---------------------------------------------------------------- the partner's rows, written at the commit

# session.info key: {session transaction (top level or savepoint): {row key: [allocated, consumed]}}.
# Row keys are ("history", partner, type, day) and ("totals", partner, type): each table's rows are
# written in key order, and the two tables always in the same order, so no two transactions wait on
# each other's partner rows in opposite orders.
_PENDING = "portal.seats.partner_changes"
_PARTNER_TABLES = frozenset({PartnerSeatTotal.__table__, PartnerSeatChange.__table__})


def _add_partner_change(partner_id: int, subscription_type_id: int, allocated: int, consumed: int) -> None:
    """Count the change towards the partner's totals and today's partner history row, written at the commit."""
    session = db.session()
    levels = session.info.setdefault(_PENDING, {})
    level = levels.setdefault(session.get_nested_transaction() or session.get_transaction(), {})
    for key in (("history", partner_id, subscription_type_id, clock.today()),
                ("totals", partner_id, subscription_type_id)):
        _add(level, key, allocated, consumed)


def _add(level: dict, key, allocated: int, consumed: int) -> None:
    sums = level.setdefault(key, [0, 0])
    sums[0] += allocated
    sums[1] += consumed


def _summed(levels) -> dict:
    total: dict = {}
    for level in levels:
        for key, (allocated, consumed) in level.items():
            _add(total, key, allocated, consumed)
    return total


def flush_partner_changes(session=None) -> None:
    """Write the partner rows' pending changes now, inside the open transaction (the commit writes the rest).

    For code that reads or rebuilds those rows before its commit. Inside a
    savepoint, the changes of the levels around it are written too; the
    savepoint's level then owes them back, so that if it rolls back they are
    pending again, and if it is released they cancel out.
    """
    session = session or db.session()
    levels = session.info.get(_PENDING)
    if not levels:
        return
    innermost = session.get_nested_transaction() or session.get_transaction()
    _write(session, _summed(levels.values()))
    outer = _summed(level for transaction, level in levels.items() if transaction is not innermost)
    levels[innermost] = {key: [-allocated, -consumed] for key, (allocated, consumed) in outer.items()}


def _write(session, changes: dict) -> None:
    """Upsert the partner rows of ``changes``, in key order; one statement per table, or one in all on PostgreSQL.

    The rows stay locked from this statement to the COMMIT: every round trip
    in between is time the partner's other writers wait. PostgreSQL runs the
    history upsert as a data-modifying WITH of the totals upsert (after it,
    in every transaction alike), so both cost one round trip.
    """
    ordered = sorted(changes.items())
    history = [dict(partner_id=key[1], subscription_type_id=key[2], day=key[3],
                    allocated_change=allocated, consumed_change=consumed)
               for key, (allocated, consumed) in ordered if key[0] == "history"]
    totals = [dict(partner_id=key[1], subscription_type_id=key[2], allocated=allocated, consumed=consumed)
              for key, (allocated, consumed) in ordered if key[0] == "totals"]
    statements = []
    if history:
        statements.append(partner_history_upsert(history))
    if totals:
        upsert = dialect_insert()(PartnerSeatTotal).values(totals)
        statements.append(upsert.on_conflict_do_update(
            index_elements=["partner_id", "subscription_type_id"],
            set_={"allocated": PartnerSeatTotal.allocated + upsert.excluded.allocated,
                  "consumed": PartnerSeatTotal.consumed + upsert.excluded.consumed}))
    if len(statements) == 2 and session.get_bind().dialect.name == "postgresql":
        statements = [statements[1].add_cte(statements[0].cte("partner_history"))]
    for statement in statements:
        session.execute(statement)


def partner_history_upsert(rows: list[dict]):
    """An upsert adding ``rows`` (partner, type, day and the two changes) to the partner's history rows."""
    rollup = dialect_insert()(PartnerSeatChange).values(rows)
    return rollup.on_conflict_do_update(
        index_elements=["partner_id", "subscription_type_id", "day"],
        set_={"allocated_change": PartnerSeatChange.allocated_change + rollup.excluded.allocated_change,
              "consumed_change": PartnerSeatChange.consumed_change + rollup.excluded.consumed_change})


@event.listens_for(db.session, "before_commit")
def _write_at_commit(session) -> None:
    """At the top-level commit, the transaction's last statements: everything else is flushed first.

    A released savepoint also fires this: its changes wait for the top level
    (``_end_of_transaction`` hands them on).
    """
    if session.get_nested_transaction() is not None or not session.info.get(_PENDING):
        return
    session.flush()
    changes = _summed(session.info.pop(_PENDING).values())
    if changes:
        _write(session, changes)


@event.listens_for(db.session, "after_rollback")
def _drop_rolled_back(session) -> None:
    """A savepoint rolled back drops its own changes; the top level rolled back drops them all."""
    levels = session.info.get(_PENDING)
    if levels is None:
        return
    nested = session.get_nested_transaction()
    if nested is None:
        session.info.pop(_PENDING)
    else:
        levels.pop(nested, None)


@event.listens_for(db.session, "after_transaction_end")
def _end_of_transaction(session, transaction) -> None:
    """A released savepoint hands its changes to the level around it; a top level that ended keeps none."""
    levels = session.info.get(_PENDING)
    if levels is None:
        return
    if transaction.parent is None:
        session.info.pop(_PENDING)
        return
    level = levels.pop(transaction, None)
    if level and transaction.nested:
        parent = transaction.parent
        while not parent.nested and parent.parent is not None:  # past the flush's own inner transactions
            parent = parent.parent
        outer = levels.setdefault(parent, {})
        for key, (allocated, consumed) in level.items():
            _add(outer, key, allocated, consumed)


@event.listens_for(db.session, "do_orm_execute")
def _flush_before_reading(state) -> None:
    """A SELECT of the partner rows inside a transaction that changed them first writes the pending changes."""
    if state.is_select and state.session.info.get(_PENDING) and _reads_partner_rows(state.statement):
        flush_partner_changes(state.session)


def _reads_partner_rows(statement) -> bool:
    return any(element in _PARTNER_TABLES for element in visitors.iterate(statement))


def recount_partner_totals(partner_id: int) -> None:
    """Rebuild one partner's totals from the allocations (after bulk loads).

    What this transaction's changes still owe the partner rows is written
    first: the allocations summed here already hold those changes.
    """
    flush_partner_changes()
    db.session.execute(delete(PartnerSeatTotal).where(PartnerSeatTotal.partner_id == partner_id))
    sums = (select(Organisation.parent_id, Allocation.subscription_type_id,
                   func.sum(Allocation.allocated), func.sum(Allocation.consumed))
            .join(Site, Allocation.site_id == Site.id).join(Organisation, Site.client_id == Organisation.id)
            .where(Organisation.parent_id == partner_id)
            .group_by(Organisation.parent_id, Allocation.subscription_type_id))
    db.session.execute(insert(PartnerSeatTotal).from_select(
        ["partner_id", "subscription_type_id", "allocated", "consumed"], sums))


def claim_seat(site_id: int, subscription_type_id: int) -> bool:
    """Take one free seat; False if none is free."""
    now = _move(site_id, subscription_type_id, consumed=1, only_if=Allocation.consumed < Allocation.allocated)
    if now is None:
        metrics.SEAT_CLAIMS_REFUSED.inc()
        return False
    _tell_if_running_out(site_id, subscription_type_id, now)
    return True


def add_seats(site_id: int, subscription_type_id: int, count: int, *, take: int = 0) -> None:
    """Buy ``count`` more seats, taking ``take`` of them at once (finance's "add a seat and create").

    Counters only: buying seats is ``portal.domain.seats.allocations.buy_seats``,
    which also audits and invoices.
    """
    ensure_allocation(site_id, subscription_type_id)
    _move(site_id, subscription_type_id, allocated=count, consumed=take)


def remove_seats(site_id: int, subscription_type_id: int, count: int) -> bool:
    """Lower the seats bought by ``count``; False (nothing changes) if that would go below those in use."""
    return _move(site_id, subscription_type_id, allocated=-count,
                 only_if=Allocation.allocated - count >= Allocation.consumed) is not None


def release_seat(site_id: int, subscription_type_id: int) -> None:
    """Give one seat back."""
    _move(site_id, subscription_type_id, consumed=-1, only_if=Allocation.consumed > 0)
