"""The seat service: the only code that changes allocations or seat counters.

Every claim is one conditional UPDATE (``consumed < allocated`` in its WHERE
clause): zero rows changed means no free seat. That holds under any number of
concurrent requests on PostgreSQL (the row lock re-checks the condition) and
on SQLite (``BEGIN IMMEDIATE`` serialises writers).
"""
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import Allocation, Organisation, Site, SubscriptionType, User
from ..models.mixins import utcnow
from . import audit, billing, validation
from .errors import BelowConsumed
from .transactions import write_transaction


@dataclass(frozen=True)
class SeatRow:
    subscription_type: SubscriptionType
    allocated: int
    consumed: int

    @property
    def free(self) -> int:
        return self.allocated - self.consumed

    @property
    def usage_percent(self) -> int:
        return round(100 * self.consumed / self.allocated) if self.allocated else 0


def catalogue() -> list[SubscriptionType]:
    return list(db.session.scalars(select(SubscriptionType).order_by(SubscriptionType.id)))


def seat_rows(site: Site) -> list[SeatRow]:
    """One row per catalogue type at ``site`` (types never allocated show 0 / 0)."""
    query = (
        select(SubscriptionType, Allocation.allocated, Allocation.consumed)
        .outerjoin(
            Allocation,
            (Allocation.subscription_type_id == SubscriptionType.id) & (Allocation.site_id == site.id),
        )
        .order_by(SubscriptionType.id)
    )
    return [SeatRow(t, allocated or 0, consumed or 0) for t, allocated, consumed in db.session.execute(query)]


def free_seats(site_id: int, subscription_type_id: int) -> int:
    allocation = _allocation(site_id, subscription_type_id)
    return allocation.free if allocation else 0


def _allocation(site_id, subscription_type_id, *, lock=False) -> Allocation | None:
    query = select(Allocation).where(
        Allocation.site_id == site_id, Allocation.subscription_type_id == subscription_type_id
    )
    if lock:
        query = query.with_for_update()
    return db.session.scalar(query.execution_options(populate_existing=True))


def _ensure_allocation(site_id: int, subscription_type_id: int) -> None:
    """Create the (site, type) counter row if missing; safe under races."""
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(
        insert(Allocation)
        .values(site_id=site_id, subscription_type_id=subscription_type_id, allocated=0, consumed=0)
        .on_conflict_do_nothing(index_elements=["site_id", "subscription_type_id"])
    )


def _match(site_id, subscription_type_id):
    return (Allocation.site_id == site_id) & (Allocation.subscription_type_id == subscription_type_id)


def claim_seat(site_id: int, subscription_type_id: int) -> bool:
    """Take one free seat inside the caller's transaction; False if none is free."""
    result = db.session.execute(
        update(Allocation)
        .where(_match(site_id, subscription_type_id), Allocation.consumed < Allocation.allocated)
        .values(consumed=Allocation.consumed + 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def add_seats(site_id: int, subscription_type_id: int, count: int) -> None:
    """Buy ``count`` more seats inside the caller's transaction."""
    _ensure_allocation(site_id, subscription_type_id)
    db.session.execute(
        update(Allocation)
        .where(_match(site_id, subscription_type_id))
        .values(allocated=Allocation.allocated + count)
        .execution_options(synchronize_session=False)
    )


def add_and_claim_seat(site_id: int, subscription_type_id: int) -> None:
    """Buy one more seat and take it at once (finance's "add a seat and create")."""
    _ensure_allocation(site_id, subscription_type_id)
    db.session.execute(
        update(Allocation)
        .where(_match(site_id, subscription_type_id))
        .values(allocated=Allocation.allocated + 1, consumed=Allocation.consumed + 1)
        .execution_options(synchronize_session=False)
    )


def release_seat(site_id: int, subscription_type_id: int) -> None:
    """Give one seat back inside the caller's transaction."""
    db.session.execute(
        update(Allocation)
        .where(_match(site_id, subscription_type_id), Allocation.consumed > 0)
        .values(consumed=Allocation.consumed - 1)
        .execution_options(synchronize_session=False)
    )


@dataclass(frozen=True)
class AllocationChange:
    allocation: Allocation
    invoice: "billing.Invoice | None"  # the prorated invoice an increase issued


def set_allocation(actor, site: Site, subscription_type: SubscriptionType, allocated) -> AllocationChange:
    """Set the seats bought for ``site`` and ``subscription_type``.

    Refuses (``BelowConsumed``, naming the seats in use) to go below what is
    consumed; a lower count limits seat checks at once and gives no credit. An
    increase mid-period issues its prorated invoice in the same transaction.
    Commits, with an audit event. The caller has checked
    ``subscriptions.manage`` on the site.
    """
    allocated = validation.seat_count(allocated)
    site_id, type_id, client_id = site.id, subscription_type.id, site.client_id
    with write_transaction():
        _ensure_allocation(site_id, type_id)
        allocation = _allocation(site_id, type_id, lock=True)
        before = allocation.allocated
        if allocated < allocation.consumed:
            raise BelowConsumed(
                f"{allocation.consumed} {subscription_type.name} seats are in use at {site.name}; "
                f"deactivate users before going below {allocation.consumed}.",
                field="allocated",
                consumed=allocation.consumed,
            )
        invoice = None
        if allocated != before:
            allocation.allocated = allocated
            audit.record(
                actor, "allocation.changed", "site", site_id, client_id,
                before={"subscription_type": subscription_type.code, "allocated": before},
                after={"subscription_type": subscription_type.code, "allocated": allocated},
            )
            invoice = billing.invoice_increase(actor, site, subscription_type, allocated - before)
    return AllocationChange(allocation, invoice)


def holds_seat():
    """SQL condition: the user holds their seat (deactivated in a trial: until it ends)."""
    return (User.status != "deactivated") | User.access_until.is_not(None)


@dataclass
class SyncReport:
    synced_at: datetime
    changes: list[dict] = field(default_factory=list)


def synchronise_consumed(actor, client: Organisation) -> SyncReport:
    """Recount seats held by the client's users and fix any drift in the counters.

    Returns what changed (site, type, before, after) and when it ran, which is
    also stored on the client and in the audit log. Should users hold more
    seats than were bought, the allocation is raised to match rather than
    breaking the ``consumed <= allocated`` invariant.
    """
    client_id = client.id
    with write_transaction():
        held = dict(
            ((site_id, type_id), count)
            for site_id, type_id, count in db.session.execute(
                select(User.site_id, User.subscription_type_id, func.count())
                .where(User.organisation_id == client_id, User.site_id.is_not(None), holds_seat())
                .group_by(User.site_id, User.subscription_type_id)
            )
        )
        for site_id, type_id in held:
            _ensure_allocation(site_id, type_id)
        rows = db.session.execute(
            select(Allocation, Site.name, SubscriptionType.code)
            .join(Site, Allocation.site_id == Site.id)
            .join(SubscriptionType, Allocation.subscription_type_id == SubscriptionType.id)
            .where(Site.client_id == client_id)
            .order_by(Site.name, SubscriptionType.id)
            .with_for_update(of=Allocation)
            .execution_options(populate_existing=True)
        ).all()
        changes = []
        for allocation, site_name, code in rows:
            actual = held.get((allocation.site_id, allocation.subscription_type_id), 0)
            if actual == allocation.consumed:
                continue
            changes.append({"site_id": allocation.site_id, "site_name": site_name,
                            "subscription_type": code, "before": allocation.consumed, "after": actual})
            allocation.allocated = max(allocation.allocated, actual)
            allocation.consumed = actual
        synced_at = utcnow()
        db.session.execute(
            update(Organisation).where(Organisation.id == client_id).values(seats_synced_at=synced_at)
        )
        audit.record(actor, "seats.synchronised", "client", client_id, client_id,
                     after={"changes": changes})
    return SyncReport(synced_at=synced_at, changes=changes)
