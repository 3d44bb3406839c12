"""Synchronise consumed seats (docs/rules.md rule 7): recount ``consumed`` from the users."""
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update

from portal.domain import audit
from portal.domain.seats import counters
from portal.domain.seats.queries import holds_seat
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import Allocation, Organisation, Site, SubscriptionType, User
from portal.models.mixins import utcnow


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
            counters.ensure_allocation(site_id, type_id)
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
        counters.recount_partner_totals(client.parent_id)
        synced_at = utcnow()
        db.session.execute(
            update(Organisation).where(Organisation.id == client_id).values(seats_synced_at=synced_at)
        )
        audit.record(actor, "seats.synchronised", "client", client_id, client_id,
                     after={"changes": changes})
    return SyncReport(synced_at=synced_at, changes=changes)
