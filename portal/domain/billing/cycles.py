"""Billing cycles (docs/rules.md rule 8): a change waits for the next period start."""
from datetime import date

from sqlalchemy import select

from portal.domain import audit
from portal.domain.errors import Forbidden, Invalid
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import gettext as _
from portal.models import BILLING_CYCLES, Organisation
from portal.rbac.permissions import manage_seats, may


def change_billing_cycle(actor, client: Organisation, cycle: str | None) -> Organisation:
    """Store a cycle change as pending from the next period start; ``None`` withdraws it.

    Asking for the current cycle also withdraws a pending change. Needs
    ``subscriptions.manage`` on the client (``Forbidden``); an unknown cycle
    is ``Invalid``. Commits with an audit event when something changed.
    """
    if not may(actor, manage_seats(client)):
        raise Forbidden(_("Changing the billing cycle needs the subscription management role."),
                        field="billing_cycle")
    if cycle is not None and cycle not in BILLING_CYCLES:
        raise Invalid(_("Choose a billing cycle: monthly or annual."), field="billing_cycle")
    client_id = client.id
    with write_transaction():
        client = db.session.scalar(select(Organisation).where(Organisation.id == client_id)
                                   .with_for_update().execution_options(populate_existing=True))
        before = {"pending_billing_cycle": client.pending_billing_cycle,
                  "pending_effective_on": _iso(client.pending_effective_on)}
        if cycle is None or cycle == client.billing_cycle:
            client.pending_billing_cycle = client.pending_effective_on = None
            action = "billing.cycle_change_withdrawn"
        else:
            client.pending_billing_cycle, client.pending_effective_on = cycle, client.period_end
            action = "billing.cycle_changed"
        after = {"pending_billing_cycle": client.pending_billing_cycle,
                 "pending_effective_on": _iso(client.pending_effective_on)}
        if after != before:
            audit.record(actor, action, "client", client_id, client_id, before=before, after=after)
    return client


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None
