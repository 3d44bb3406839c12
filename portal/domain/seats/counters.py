"""The seat service: the only code that changes allocations or seat counters.

Every claim is one conditional UPDATE (``consumed < allocated`` in its WHERE
clause): zero rows changed means no free seat. That holds under any number of
concurrent requests on PostgreSQL (the row lock re-checks the condition) and
on SQLite (``BEGIN IMMEDIATE`` serialises writers).
"""
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from portal.domain import audit, validation
from portal.domain.billing import invoices as billing
from portal.domain.errors import BelowConsumed
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import Allocation, Organisation, PartnerSeatTotal, Site, SubscriptionType, User
from portal.models.mixins import utcnow


class SeatCounts:
    """Free seats and usage, from ``allocated`` and ``consumed`` (rows of every dashboard)."""

    allocated: int
    consumed: int

    @property
    def free(self) -> int:
        return self.allocated - self.consumed

    @property
    def usage_percent(self) -> int:
        return round(100 * self.consumed / self.allocated) if self.allocated else 0


@dataclass(frozen=True)
class SeatRow(SeatCounts):
    subscription_type: SubscriptionType
    allocated: int
    consumed: int


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


def _insert():
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _ensure_allocation(site_id: int, subscription_type_id: int) -> None:
    """Create the (site, type) counter row if missing; safe under races."""
    db.session.execute(
        _insert()(Allocation)
        .values(site_id=site_id, subscription_type_id=subscription_type_id, allocated=0, consumed=0)
        .on_conflict_do_nothing(index_elements=["site_id", "subscription_type_id"])
    )


def _match(site_id, subscription_type_id):
    return (Allocation.site_id == site_id) & (Allocation.subscription_type_id == subscription_type_id)


def _move(site_id: int, subscription_type_id: int, allocated: int = 0, consumed: int = 0, *, only_if=None) -> bool:
    """Move one allocation's counters, and its partner's totals with them.

    ``only_if`` is an extra condition on the allocation row (e.g. a free seat
    exists); when it does not hold, nothing moves and False is returned. Every
    counter change goes through here, so the partner totals never drift.
    """
    where = _match(site_id, subscription_type_id)
    if only_if is not None:
        where = where & only_if
    changed = db.session.execute(
        update(Allocation).where(where)
        .values(allocated=Allocation.allocated + allocated, consumed=Allocation.consumed + consumed)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        _move_partner_totals(site_id, subscription_type_id, allocated, consumed)
    return changed == 1


def _move_partner_totals(site_id, subscription_type_id, allocated: int, consumed: int) -> None:
    partner_id = (select(Organisation.parent_id).join(Site, Site.client_id == Organisation.id)
                  .where(Site.id == site_id).scalar_subquery())
    upsert = _insert()(PartnerSeatTotal).values(partner_id=partner_id, subscription_type_id=subscription_type_id,
                                                allocated=allocated, consumed=consumed)
    db.session.execute(upsert.on_conflict_do_update(
        index_elements=["partner_id", "subscription_type_id"],
        set_={"allocated": PartnerSeatTotal.allocated + upsert.excluded.allocated,
              "consumed": PartnerSeatTotal.consumed + upsert.excluded.consumed},
    ))


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
    """Take one free seat inside the caller's transaction; False if none is free."""
    return _move(site_id, subscription_type_id, consumed=1, only_if=Allocation.consumed < Allocation.allocated)


def add_seats(site_id: int, subscription_type_id: int, count: int) -> None:
    """Buy ``count`` more seats inside the caller's transaction."""
    _ensure_allocation(site_id, subscription_type_id)
    _move(site_id, subscription_type_id, allocated=count)


def add_and_claim_seat(site_id: int, subscription_type_id: int) -> None:
    """Buy one more seat and take it at once (finance's "add a seat and create")."""
    _ensure_allocation(site_id, subscription_type_id)
    _move(site_id, subscription_type_id, allocated=1, consumed=1)


def release_seat(site_id: int, subscription_type_id: int) -> None:
    """Give one seat back inside the caller's transaction."""
    _move(site_id, subscription_type_id, consumed=-1, only_if=Allocation.consumed > 0)


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
            _move(site_id, type_id, allocated=allocated - before)
            audit.record(
                actor, "allocation.changed", "site", site_id, client_id,
                before={"subscription_type": subscription_type.code, "allocated": before},
                after={"subscription_type": subscription_type.code, "allocated": allocated},
            )
            invoice = billing.invoice_increase(actor, site, subscription_type, allocated - before)
    return AllocationChange(_allocation(site_id, type_id), invoice)


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
        # Drift may have come from outside the service (a manual fix in SQL):
        # rebuild the partner's totals from the repaired counters.
        db.session.flush()
        recount_partner_totals(client.parent_id)
        synced_at = utcnow()
        db.session.execute(
            update(Organisation).where(Organisation.id == client_id).values(seats_synced_at=synced_at)
        )
        audit.record(actor, "seats.synchronised", "client", client_id, client_id,
                     after={"changes": changes})
    return SyncReport(synced_at=synced_at, changes=changes)
