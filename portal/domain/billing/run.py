"""The billing run (docs/rules.md rules 11-13): close ended periods, apply cycles, issue invoices.

Idempotent and catching up: each client is rolled forward in its own
transaction (fully, or not at all), and the unique index on period invoices
(client, period, currency) means a second or concurrent run issues nothing new.
A period is invoiced once per currency of its types (docs/rules.md rule 25).
"""
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from portal import clock
from portal.domain import audit
from portal.domain.billing import invoices, periods
from portal.domain.seats.counters import release_seat
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import Invoice, Organisation, User


@dataclass
class RunReport:
    today: date
    clients: int = 0
    invoices: list[str] = field(default_factory=list)
    cycles_applied: int = 0
    seats_released: int = 0


def _due_clients(today: date) -> list[int]:
    """Clients with a period to close or an opened period still to invoice."""
    uninvoiced = ~exists().where(Invoice.client_id == Organisation.id, Invoice.kind == "period",
                                 Invoice.period_start == Organisation.period_start)
    return list(db.session.scalars(
        select(Organisation.id)
        .where(Organisation.kind == "client", Organisation.period_start.is_not(None))
        .where((Organisation.period_end <= today) | ((Organisation.period_start <= today) & uninvoiced))
        .order_by(Organisation.id)
    ))


def run_billing(today: date | None = None, progress=None) -> RunReport:
    """Close every period ended on or before ``today`` and invoice the periods opened.

    Catches up one invoice per missed period. Each client is rolled forward in
    its own transaction (fully, or not at all); running again issues nothing.
    ``progress(done, total)``, if given, is told of each client done
    (``portal.cli.progress``).
    """
    today = today or clock.today()
    report = RunReport(today)
    currency = invoices.catalogue_currency()
    due = _due_clients(today)
    for done, client_id in enumerate(due, start=1):
        try:
            with write_transaction():
                _roll_forward(client_id, today, currency, report)
            report.clients += 1
        except IntegrityError:
            pass  # a concurrent run issued this client's invoice first: nothing left to do
        if progress is not None:
            progress(done, len(due))
    return report


def _roll_forward(client_id: int, today: date, currency: str, report: RunReport) -> None:
    # The partner comes in the same statement: every invoice copies it as the seller (rule 25). Only the
    # client's row is locked.
    client = db.session.scalar(select(Organisation).options(joinedload(Organisation.parent))
                               .where(Organisation.id == client_id)
                               .with_for_update(of=Organisation).execution_options(populate_existing=True))
    if client.trial_ends_on is not None and client.trial_ends_on <= today:
        report.seats_released += _release_trial_seats(client, today)
    while True:
        if client.period_start <= today and not invoices.period_invoiced(client.id, client.period_start):
            # One invoice per currency of the period's types (rule 25), all in this transaction.
            issued = invoices.issue_period(None, client, client.period_start, currency)
            report.invoices.extend(invoice.number for invoice in issued)
        if client.period_end > today:
            return
        _advance(client, report)


def _advance(client: Organisation, report: RunReport) -> None:
    """Move to the next period, applying a pending cycle exactly at the boundary."""
    start = client.period_end
    if client.pending_billing_cycle and client.pending_effective_on == start:
        audit.record(None, "billing.cycle_applied", "client", client.id, client.id,
                     before={"billing_cycle": client.billing_cycle},
                     after={"billing_cycle": client.pending_billing_cycle, "from": start.isoformat()})
        client.billing_cycle = client.pending_billing_cycle
        client.pending_billing_cycle = client.pending_effective_on = None
        report.cycles_applied += 1
    client.period_start = start
    client.period_end = periods.add_period(start, client.billing_cycle, client.billing_anchor_day)
    db.session.flush()


def _release_trial_seats(client: Organisation, today: date) -> int:
    """Seats kept by users deactivated during the trial are released once it ends."""
    leaving = db.session.scalars(select(User).where(
        User.organisation_id == client.id, User.status == "deactivated",
        User.access_until.is_not(None), User.access_until <= today)).all()
    for user in leaving:
        if user.site_id is not None:
            release_seat(user.site_id, user.subscription_type_id)
        user.access_until = None
        audit.record(None, "user.seat_released", "user", user.id, client.id, after={"reason": "trial ended"})
    return len(leaving)
