"""Buying and lowering seats: the one purchase path (counters + audit + prorated invoice).

Finance's "set the allocation", "add a seat and create", bulk invites with
missing seats, and every later way of buying seats go through ``buy_seats``,
so a change to pricing or to the audit trail is made once.
"""
from dataclasses import dataclass

from portal.domain import audit, validation
from portal.domain.billing import invoices
from portal.domain.errors import BelowConsumed
from portal.domain.seats import counters
from portal.domain.transactions import write_transaction
from portal.i18n import ngettext
from portal.models import Allocation, Invoice, Site, SubscriptionType


def buy_seats(actor, site: Site, subscription_type: SubscriptionType, count: int, *, take: int = 0,
              allocated_before: int | None = None) -> Invoice | None:
    """Inside the caller's transaction: buy ``count`` seats, taking ``take`` of them at once.

    Records the audit event and issues the prorated invoice of the increase
    (none in a trial, for a free type, or outside the open period); returns
    that invoice. ``allocated_before`` is given when finance set a new total
    ("allocation.changed", before → after); otherwise the seats were added
    while creating users ("allocation.seat_added").
    """
    counters.add_seats(site.id, subscription_type.id, count, take=take)
    if allocated_before is None:
        audit.record(actor, "allocation.seat_added", "site", site.id, site.client_id,
                     after={"subscription_type": subscription_type.code, "added": count})
    else:
        _record_change(actor, site, subscription_type, allocated_before, allocated_before + count)
    return invoices.invoice_increase(actor, site, subscription_type, count)


@dataclass(frozen=True)
class AllocationChange:
    allocation: Allocation
    invoice: Invoice | None  # the prorated invoice an increase issued
    credit_notes: tuple[Invoice, ...] = ()  # what a lowering within the window issued (rule 24)

    @property
    def credit_note(self) -> Invoice | None:
        """The credit note of a lowering; the newest increase's when it credited more than one."""
        return self.credit_notes[0] if self.credit_notes else None


def set_allocation(actor, site: Site, subscription_type: SubscriptionType, allocated) -> AllocationChange:
    """Set the seats bought for ``site`` and ``subscription_type``.

    Refuses (``BelowConsumed``, naming the seats in use) to go below what is
    consumed; a lower count limits seat checks at once and, within 7 days of
    the increase that bought the seats removed, issues a credit note for them
    (rule 24; after the window, no credit: rule 10). An increase mid-period
    issues its prorated invoice; both in the same transaction as the change.
    Commits, with an audit event. The caller has checked ``manage_seats`` on the site.
    """
    allocated = validation.seat_count(allocated)
    site_id, type_id = site.id, subscription_type.id
    with write_transaction():
        counters.ensure_allocation(site_id, type_id)
        allocation = counters.allocation_row(site_id, type_id, lock=True)
        before = allocation.allocated
        if allocated < allocation.consumed:
            raise BelowConsumed(
                ngettext("%(num)d %(type)s seat is in use at %(site)s; deactivate users before going below "
                         "%(num)d.",
                         "%(num)d %(type)s seats are in use at %(site)s; deactivate users before going below "
                         "%(num)d.", allocation.consumed, type=subscription_type.name, site=site.name),
                field="allocated",
                consumed=allocation.consumed,
            )
        invoice, notes = None, []
        if allocated > before:
            invoice = buy_seats(actor, site, subscription_type, allocated - before, allocated_before=before)
        elif allocated < before:
            counters.remove_seats(site_id, type_id, before - allocated)
            _record_change(actor, site, subscription_type, before, allocated)
            notes = invoices.credit_removed_seats(actor, site, subscription_type, before - allocated)
    return AllocationChange(counters.allocation_row(site_id, type_id), invoice, tuple(notes))


def _record_change(actor, site, subscription_type, before: int, after: int) -> None:
    audit.record(actor, "allocation.changed", "site", site.id, site.client_id,
                 before={"subscription_type": subscription_type.code, "allocated": before},
                 after={"subscription_type": subscription_type.code, "allocated": after})
