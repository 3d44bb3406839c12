"""The billing run (docs/rules.md rules 11-13): close ended periods, apply cycles, issue invoices.

Idempotent and catching up: each client is rolled forward in one
transaction (fully, or not at all; a batch of clients shares it), and the unique index on period invoices
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

    def add(self, other: "RunReport") -> None:
        """Count in what another part of the same run did."""
        self.clients += other.clients
        self.invoices += other.invoices
        self.cycles_applied += other.cycles_applied
        self.seats_released += other.seats_released


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


# Clients rolled forward in one transaction: the work of a batch is a few statements whatever its size
# (one read of its clients, of their invoiced periods, of their allocations and prices; one INSERT of the
# invoices, one of their lines…), so a client costs its share of those, not a transaction of its own.
BATCH = 200


def run_billing(today: date | None = None, progress=None) -> RunReport:
    """Close every period ended on or before ``today`` and invoice the periods opened.

    Catches up one invoice per missed period. The clients are rolled forward
    in batches, each batch in one transaction: every client of a batch fully,
    or none. A batch that fails is rolled forward again client by client, each
    in its own transaction, so that a client another run invoiced first (the
    unique index refuses the second invoice) holds nobody else back, and an
    error stops the run at the client it belongs to. Running again issues
    nothing. ``progress(done, total)``, if given, is told after each batch
    (``portal.cli.progress``).
    """
    today = today or clock.today()
    report = RunReport(today)
    currency = invoices.catalogue_currency()
    due = _due_clients(today)
    for first in range(0, len(due), BATCH):
        batch = due[first:first + BATCH]
        report.add(_roll_batch(batch, today, currency))
        if progress is not None:
            progress(first + len(batch), len(due))
    return report


def _roll_batch(client_ids: list[int], today: date, currency: str) -> RunReport:
    """The batch in one transaction; should that fail, each client in its own (see ``run_billing``)."""
    if len(client_ids) > 1:
        try:
            return _roll_in_one_transaction(client_ids, today, currency)
        except Exception:  # noqa: BLE001 - rolled back; each client again, alone, raises its own error
            pass
    done = RunReport(today)
    for client_id in client_ids:
        done.add(_roll_alone(client_id, today, currency))
    return done


def _roll_alone(client_id: int, today: date, currency: str) -> RunReport:
    try:
        return _roll_in_one_transaction([client_id], today, currency)
    except IntegrityError:
        return RunReport(today)  # a concurrent run issued this client's invoice first: nothing left to do


def _roll_in_one_transaction(client_ids: list[int], today: date, currency: str) -> RunReport:
    """Roll the clients forward in one write transaction; what was done, once committed."""
    done = RunReport(today)
    with write_transaction():
        _roll_forward(client_ids, today, currency, done)
    return done


def _roll_forward(client_ids: list[int], today: date, currency: str, report: RunReport) -> None:
    # The partners come in the same statement: every invoice copies its partner as the seller (rule 25),
    # and its lines carry the partner's discount (rule 23). Only the clients' rows are locked.
    clients = db.session.scalars(select(Organisation).options(joinedload(Organisation.parent))
                                 .where(Organisation.id.in_(client_ids)).order_by(Organisation.id)
                                 .with_for_update(of=Organisation)
                                 .execution_options(populate_existing=True)).all()
    if not clients:
        return
    trial_ended = [client.id for client in clients if client.trial_ends_on is not None
                   and client.trial_ends_on <= today]
    if trial_ended:
        report.seats_released += _release_trial_seats(trial_ended, today)
    invoiced = invoices.invoiced_periods(client_ids, min(client.period_start for client in clients))
    to_invoice = []
    for client in clients:
        while True:
            if client.period_start <= today and (client.id, client.period_start) not in invoiced:
                to_invoice.append(invoices.Period(client, client.billing_cycle, client.period_start,
                                                  client.period_end, client.period_start))
            if client.period_end > today:
                break
            _advance(client, report)
    # One invoice per currency of each period's types (rule 25), all in this transaction.
    issued = invoices.issue_periods(None, to_invoice, currency)
    report.clients += len(clients)
    report.invoices.extend(invoice.number for invoice in issued)


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


def _release_trial_seats(client_ids: list[int], today: date) -> int:
    """Seats kept by users deactivated during the trial are released once it ends."""
    leaving = db.session.scalars(select(User).where(
        User.organisation_id.in_(client_ids), User.status == "deactivated",
        User.access_until.is_not(None), User.access_until <= today).order_by(User.id)).all()
    for user in leaving:
        if user.site_id is not None:
            release_seat(user.site_id, user.subscription_type_id)
        user.access_until = None
        audit.record(None, "user.seat_released", "user", user.id, user.organisation_id,
                     after={"reason": "trial ended"})
    return len(leaving)
