"""Billing: client periods and cycles, period and prorated invoices, the billing run.

Rules 8-13 of DESIGN.md. Money is integer minor units; the period arithmetic
and the proration formula live in ``periods``. Each client's roll-forward is
one transaction, and the unique index on (client, period start) for period
invoices makes issuing idempotent whatever runs concurrently.
"""
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import g
from sqlalchemy import exists, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from portal import clock
from portal.domain import audit
from portal.domain.billing import periods
from portal.domain.errors import Forbidden, Invalid
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import (
    BILLING_CYCLES,
    Allocation,
    Invoice,
    InvoiceLine,
    InvoiceSequence,
    Organisation,
    Site,
    SubscriptionType,
    User,
)
from portal.rbac.permissions import allows

MAX_TRIAL_DAYS = 365


def unit_price(subscription_type: SubscriptionType, cycle: str) -> int:
    return subscription_type.monthly_price if cycle == "monthly" else subscription_type.annual_price


def in_trial(client: Organisation, on: date) -> bool:
    return client.trial_ends_on is not None and on < client.trial_ends_on


def default_prefix(partner_name: str) -> str:
    """Initials of the partner's name, e.g. "Northwind Telecom" → "NT"."""
    letters = "".join(word[0] for word in partner_name.split() if word[:1].isalnum())
    return (letters or "INV")[:4].upper()


# --------------------------------------------------------------------- issuing

def _take_number(partner_id: int) -> tuple[int, str]:
    """The partner's next invoice number, taken inside the caller's transaction."""
    # The UPDATE locks the row until commit: concurrent issuers queue here, and
    # a rolled-back invoice gives its number back, so numbers have no gaps.
    take = (update(InvoiceSequence).where(InvoiceSequence.partner_id == partner_id)
            .values(last_number=InvoiceSequence.last_number + 1)
            .returning(InvoiceSequence.last_number, InvoiceSequence.prefix))
    row = db.session.execute(take).one_or_none()
    if row is None:  # the partner's first invoice: create its sequence, then take
        partner_name = db.session.scalar(select(Organisation.name).where(Organisation.id == partner_id))
        insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
        db.session.execute(insert(InvoiceSequence)
                           .values(partner_id=partner_id, prefix=default_prefix(partner_name), last_number=0)
                           .on_conflict_do_nothing(index_elements=["partner_id"]))
        row = db.session.execute(take).one()
    number, prefix = row
    return number, f"{prefix}-{number:06d}"


def _issue(actor, client: Organisation, kind: str, cycle: str, start: date, end: date, issued_on: date,
           lines: list[dict]) -> Invoice:
    sequence, number = _take_number(client.parent_id)
    invoice = Invoice(
        partner_id=client.parent_id, client_id=client.id, number=number, sequence=sequence, kind=kind,
        billing_cycle=cycle, period_start=start, period_end=end, issued_on=issued_on,
        currency=_currency(), total=sum(line["amount"] for line in lines),
        lines=[InvoiceLine(**line) for line in lines],
    )
    db.session.add(invoice)
    db.session.flush()
    audit.record(actor, "invoice.issued", "invoice", invoice.id, client.id,
                 after={"number": number, "kind": kind, "period_start": start.isoformat(),
                        "total": invoice.total, "currency": invoice.currency})
    return invoice


def _currency() -> str:
    """One currency per partner; the catalogue holds it (EUR in the demo).

    Cached for the rest of the request or command: a billing run asks once,
    not once per invoice.
    """
    if "portal_currency" not in g:
        g.portal_currency = db.session.scalar(
            select(SubscriptionType.currency).order_by(SubscriptionType.id).limit(1)) or "EUR"
    return g.portal_currency


def _period_lines(client: Organisation, cycle: str, start: date, end: date) -> list[dict]:
    """One line per site and type with allocated seats: seats are committed for the period."""
    days = periods.days_in_period(start, end)
    rows = db.session.execute(
        select(Allocation.allocated, Site.id, Site.name, SubscriptionType)
        .join(Site, Allocation.site_id == Site.id)
        .join(SubscriptionType, Allocation.subscription_type_id == SubscriptionType.id)
        .where(Site.client_id == client.id, Allocation.allocated > 0)
        .order_by(Site.name, SubscriptionType.id)
    )
    lines = []
    for allocated, site_id, site_name, subscription_type in rows:
        price = unit_price(subscription_type, cycle)
        lines.append(dict(site_id=site_id, site_name=site_name, subscription_type_id=subscription_type.id,
                          subscription_type_code=subscription_type.code,
                          subscription_type_name=subscription_type.name, quantity=allocated,
                          unit_price=price, days=days, period_days=days, amount=allocated * price))
    return lines


def _period_invoiced(client_id: int, start: date) -> bool:
    return db.session.scalar(select(exists().where(
        Invoice.client_id == client_id, Invoice.kind == "period", Invoice.period_start == start)))


def start_billing(actor, client: Organisation, start: date, *, trial_days: int | None = None) -> None:
    """Open the client's first period (after the trial, if any) inside the caller's transaction.

    Without a trial the first period starts on ``start`` and its invoice is
    issued at once; with one, nothing is invoiced until the trial ends.
    """
    first = start
    if trial_days:
        client.trial_ends_on = first = start + timedelta(days=trial_days)
    client.billing_anchor_day = first.day
    client.period_start = first
    client.period_end = periods.add_period(first, client.billing_cycle, first.day)
    db.session.flush()
    if not trial_days:
        _issue(actor, client, "period", client.billing_cycle, client.period_start, client.period_end, first,
               _period_lines(client, client.billing_cycle, client.period_start, client.period_end))


# ----------------------------------------------------------------- proration

@dataclass(frozen=True)
class ProrationQuote:
    quantity: int
    unit_price: int
    remaining_days: int
    period_days: int
    amount: int
    period_start: date
    period_end: date


def quote_increase(client: Organisation, subscription_type: SubscriptionType, added: int,
                   on: date | None = None) -> ProrationQuote | None:
    """What adding ``added`` seats costs now, or None when it is not invoiced.

    Not invoiced: no increase, a client in trial, a free type, or a day
    outside the open period (the next period invoice bills the new count).
    """
    on = on or clock.today()
    if added <= 0 or client.period_start is None or in_trial(client, on):
        return None
    if not client.period_start <= on < client.period_end:
        return None
    price = unit_price(subscription_type, client.billing_cycle)
    if price == 0:
        return None
    days = periods.days_in_period(client.period_start, client.period_end)
    remaining = periods.remaining_days(on, client.period_start, client.period_end)
    return ProrationQuote(added, price, remaining, days, periods.prorate(added, price, remaining, days),
                          client.period_start, client.period_end)


def invoice_increase(actor, site: Site, subscription_type: SubscriptionType, added: int) -> Invoice | None:
    """Issue the prorated invoice for seats added now, inside the caller's transaction."""
    client = site.client
    quote = quote_increase(client, subscription_type, added)
    if quote is None:
        return None
    line = dict(site_id=site.id, site_name=site.name, subscription_type_id=subscription_type.id,
                subscription_type_code=subscription_type.code, subscription_type_name=subscription_type.name,
                quantity=added, unit_price=quote.unit_price, days=quote.remaining_days,
                period_days=quote.period_days, amount=quote.amount)
    return _issue(actor, client, "proration", client.billing_cycle, quote.period_start, quote.period_end,
                  clock.today(), [line])


# ---------------------------------------------------------------- cycles

def change_billing_cycle(actor, client: Organisation, cycle: str | None) -> Organisation:
    """Store a cycle change as pending from the next period start; ``None`` withdraws it.

    Asking for the current cycle also withdraws a pending change. Needs
    ``subscriptions.manage`` on the client (``Forbidden``); an unknown cycle
    is ``Invalid``. Commits with an audit event when something changed.
    """
    if not allows(actor, "subscriptions.manage", client):
        raise Forbidden("Changing the billing cycle needs the subscription management role.",
                        field="billing_cycle")
    if cycle is not None and cycle not in BILLING_CYCLES:
        raise Invalid("Choose a billing cycle: monthly or annual.", field="billing_cycle")
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


def next_period_preview(client: Organisation) -> dict | None:
    """The invoice the next period start will issue, from today's allocations."""
    if client.period_end is None:
        return None
    cycle = client.pending_billing_cycle if client.pending_effective_on == client.period_end else None
    cycle = cycle or client.billing_cycle
    start = client.period_end
    end = periods.add_period(start, cycle, client.billing_anchor_day)
    lines = _period_lines(client, cycle, start, end)
    return {"cycle": cycle, "period_start": start, "period_end": end, "lines": lines,
            "total": sum(line["amount"] for line in lines), "currency": _currency()}


# ------------------------------------------------------------- billing run

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


def run_billing(today: date | None = None) -> RunReport:
    """Close every period ended on or before ``today`` and invoice the periods opened.

    Catches up one invoice per missed period. Each client is rolled forward in
    its own transaction (fully, or not at all); running again issues nothing.
    """
    today = today or clock.today()
    report = RunReport(today)
    for client_id in _due_clients(today):
        try:
            with write_transaction():
                _roll_forward(client_id, today, report)
        except IntegrityError:
            # A concurrent run issued this client's invoice first: nothing left to do.
            continue
        report.clients += 1
    return report


def _roll_forward(client_id: int, today: date, report: RunReport) -> None:
    client = db.session.scalar(select(Organisation).where(Organisation.id == client_id)
                               .with_for_update().execution_options(populate_existing=True))
    if client.trial_ends_on is not None and client.trial_ends_on <= today:
        report.seats_released += _release_trial_seats(client, today)
    while True:
        if client.period_start <= today and not _period_invoiced(client.id, client.period_start):
            invoice = _issue(None, client, "period", client.billing_cycle, client.period_start,
                             client.period_end, client.period_start,
                             _period_lines(client, client.billing_cycle, client.period_start, client.period_end))
            report.invoices.append(invoice.number)
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
    from portal.domain.seats.counters import release_seat

    leaving = db.session.scalars(select(User).where(
        User.organisation_id == client.id, User.status == "deactivated",
        User.access_until.is_not(None), User.access_until <= today)).all()
    for user in leaving:
        if user.site_id is not None:
            release_seat(user.site_id, user.subscription_type_id)
        user.access_until = None
        audit.record(None, "user.seat_released", "user", user.id, client.id, after={"reason": "trial ended"})
    return len(leaving)
