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

Everything here runs inside the caller's transaction and never commits.
"""
from sqlalchemy import Date, delete, func, insert, literal, select, update

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
        _move_partner_totals(site_id, subscription_type_id, allocated, consumed)
        _record_history(site_id, subscription_type_id, allocated, consumed)
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


def _partner_of(site_id):
    """The site's partner id, as a subquery inside the statement that needs it (no round trip of its own)."""
    return (select(Organisation.parent_id).join(Site, Site.client_id == Organisation.id)
            .where(Site.id == site_id).scalar_subquery())


def _move_partner_totals(site_id, subscription_type_id, allocated: int, consumed: int) -> None:
    partner_id = _partner_of(site_id)
    upsert = dialect_insert()(PartnerSeatTotal).values(
        partner_id=partner_id, subscription_type_id=subscription_type_id, allocated=allocated, consumed=consumed)
    db.session.execute(upsert.on_conflict_do_update(
        index_elements=["partner_id", "subscription_type_id"],
        set_={"allocated": PartnerSeatTotal.allocated + upsert.excluded.allocated,
              "consumed": PartnerSeatTotal.consumed + upsert.excluded.consumed},
    ))


def _record_history(site_id, subscription_type_id, allocated: int, consumed: int) -> None:
    """Add the change to today's history rows of the site and of its partner (rule 34).

    Upserts, so many changes in one day make one row each; the row of the
    allocation this change has locked is written after the lock, so on both
    databases the day's sums are exact under concurrent changes.
    """
    day = clock.today()
    upsert = dialect_insert()(SeatChange).from_select(
        ["site_id", "subscription_type_id", "day", "client_id", "partner_id", "allocated_change", "consumed_change"],
        select(Site.id, literal(subscription_type_id), literal(day, Date), Site.client_id, Organisation.parent_id,
               literal(allocated), literal(consumed))
        .join(Organisation, Organisation.id == Site.client_id).where(Site.id == site_id))
    db.session.execute(upsert.on_conflict_do_update(
        index_elements=["site_id", "subscription_type_id", "day"],
        set_={"allocated_change": SeatChange.allocated_change + upsert.excluded.allocated_change,
              "consumed_change": SeatChange.consumed_change + upsert.excluded.consumed_change}))
    partner_id = _partner_of(site_id)
    rollup = dialect_insert()(PartnerSeatChange).values(
        partner_id=partner_id, subscription_type_id=subscription_type_id, day=day,
        allocated_change=allocated, consumed_change=consumed)
    db.session.execute(rollup.on_conflict_do_update(
        index_elements=["partner_id", "subscription_type_id", "day"],
        set_={"allocated_change": PartnerSeatChange.allocated_change + rollup.excluded.allocated_change,
              "consumed_change": PartnerSeatChange.consumed_change + rollup.excluded.consumed_change}))


def recount_partner_totals(partner_id: int) -> None:
    """Rebuild one partner's totals from the allocations (after bulk loads)."""
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
