"""Invoices: numbering, period invoices, prorated invoices for seats added mid-period.

docs/rules.md rules 9-13. Money is integer minor units; the period
arithmetic and the proration formula live in ``periods``. Every line is built
by ``invoice_line`` and carries the partner's cost as issued (rule 23). The unique index
on (client, period start, currency) for period invoices makes issuing idempotent
whatever runs concurrently. Each invoice carries its tax and both parties as issued (rule 25).
"""
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select, update

from portal import clock
from portal.domain import audit
from portal.domain.billing import periods, price_book, prices
from portal.domain.billing.money import half_up
from portal.domain.orgs import legal
from portal.domain.seats import queries
from portal.domain.transactions import dialect_insert, insert_rows
from portal.extensions import db
from portal.models import Allocation, Invoice, InvoiceLine, InvoiceSequence, Organisation, Site, SubscriptionType

MAX_TRIAL_DAYS = 365
# What a line knows of the partner's cost: only margins.view reads it (docs/rules.md rule 23).
COST_KEYS = ("unit_cost", "cost")


def unit_price(subscription_type: SubscriptionType, cycle: str) -> int:
    return subscription_type.monthly_price if cycle == "monthly" else subscription_type.annual_price


def in_trial(client: Organisation, on: date) -> bool:
    return client.trial_ends_on is not None and on < client.trial_ends_on


def default_prefix(partner_name: str) -> str:
    """Initials of the partner's name, e.g. "Northwind Telecom" → "NT"."""
    letters = "".join(word[0] for word in partner_name.split() if word[:1].isalnum())
    return (letters or "INV")[:4].upper()


def _take_numbers(partner_id: int, count: int = 1) -> list[tuple[int, str]]:
    """The partner's next ``count`` invoice numbers (sequence, number), taken inside the caller's transaction."""
    # The UPDATE locks the row until commit: concurrent issuers queue here, and
    # a rolled-back invoice gives its number back, so numbers have no gaps.
    take = (update(InvoiceSequence).where(InvoiceSequence.partner_id == partner_id)
            .values(last_number=InvoiceSequence.last_number + count)
            .returning(InvoiceSequence.last_number, InvoiceSequence.prefix))
    row = db.session.execute(take).one_or_none()
    if row is None:  # the partner's first invoice: create its sequence, then take
        partner_name = db.session.scalar(select(Organisation.name).where(Organisation.id == partner_id))
        db.session.execute(dialect_insert()(InvoiceSequence)
                           .values(partner_id=partner_id, prefix=default_prefix(partner_name), last_number=0)
                           .on_conflict_do_nothing(index_elements=["partner_id"]))
        row = db.session.execute(take).one()
    last, prefix = row
    return [(number, f"{prefix}-{number:06d}") for number in range(last - count + 1, last + 1)]


@dataclass
class Draft:
    """An invoice about to be issued (``issue_all``): what ``issue`` takes, but its number."""

    client: Organisation
    kind: str
    cycle: str
    start: date
    end: date
    issued_on: date
    lines: list[dict]
    currency: str | None = None
    credits: Invoice | None = None


def issue(actor, client: Organisation, kind: str, cycle: str, start: date, end: date, issued_on: date,
          lines: list[dict], currency: str | None = None, *, credits: Invoice | None = None) -> Invoice:
    """Number and add an invoice, with its audit event, inside the caller's transaction.

    A credit note (rule 24) gives the invoice it ``credits``; its lines come negative.

    One currency per invoice (rule 25): the lines say it (each line carries its
    type's ``currency``), and must agree (``ValueError`` otherwise:
    ``issue_period`` splits a period by currency first); ``currency`` is only
    for an invoice without lines (default: the catalogue's). Tax (rule 25): the client's rate and note
    (``legal.tax_terms``), or for a credit note the credited invoice's; the
    tax is half-up(total × rate / 10000), negative on a credit note. The
    seller (the partner) and the buyer (the client) are copied as they are now.
    """
    return issue_all(actor, [Draft(client, kind, cycle, start, end, issued_on, lines, currency, credits)])[0]


def issue_all(actor, drafts: list[Draft]) -> list[Invoice]:
    """``issue`` every draft, in their order, inside the caller's transaction: what one costs, a few statements
    for them all (the billing run issues thousands). Numbers are taken per partner in one UPDATE each,
    partners in id order (concurrent issuers lock sequences in one order)."""
    wanted: dict[int, int] = {}
    for draft in drafts:
        wanted[draft.client.parent_id] = wanted.get(draft.client.parent_id, 0) + 1
    # Each currency first (a ValueError takes no number), then the numbers.
    currencies = [_currency_of(draft.lines) or draft.currency for draft in drafts]
    if None in currencies:
        default = catalogue_currency()
        currencies = [currency or default for currency in currencies]
    numbers = {partner_id: iter(_take_numbers(partner_id, count)) for partner_id, count in sorted(wanted.items())}
    issued = [_invoice(draft, currency, *next(numbers[draft.client.parent_id]))
              for draft, currency in zip(drafts, currencies)]
    db.session.add_all(issued)
    db.session.flush()
    rows = [{key: value for key, value in line.items() if key != "currency"} | {"invoice_id": invoice.id}
            for invoice, draft in zip(issued, drafts) for line in draft.lines]
    # The lines at once (COPY on PostgreSQL when there are many), not one INSERT each.
    insert_rows(InvoiceLine.__table__, rows)
    for invoice, draft in zip(issued, drafts):
        if draft.lines:
            db.session.expire(invoice, ["lines"])  # read back when asked for
        after = {"number": invoice.number, "kind": invoice.kind, "period_start": invoice.period_start.isoformat(),
                 "total": invoice.total, "currency": invoice.currency}
        if draft.credits is not None:
            after["credits"] = draft.credits.number
        audit.record(actor, "invoice.issued", "invoice", invoice.id, invoice.client_id, after=after)
    return issued


def _invoice(draft: Draft, currency: str, sequence: int, number: str) -> Invoice:
    """The invoice of ``draft`` in ``currency`` numbered ``number``: its total, tax and parties (see ``issue``)."""
    client, credits = draft.client, draft.credits
    total = sum(line["amount"] for line in draft.lines)
    if credits is not None:
        rate, note = credits.tax_rate_bp, credits.tax_note
    else:
        rate, note = legal.tax_terms(client)
    # Half-up away from zero: a credit note's tax is minus the tax of its absolute total.
    tax = half_up(total * rate, 10_000)
    return Invoice(
        partner_id=client.parent_id, client_id=client.id, number=number, sequence=sequence, kind=draft.kind,
        billing_cycle=draft.cycle, period_start=draft.start, period_end=draft.end, issued_on=draft.issued_on,
        currency=currency, total=total, tax_rate_bp=rate, tax=tax, total_with_tax=total + tax, tax_note=note,
        seller=legal.party(client.parent), buyer=legal.party(client),
        credits_invoice_id=credits.id if credits is not None else None,
    )


def _currency_of(lines: list[dict]) -> str | None:
    """The one currency of the lines (None without lines); ``ValueError`` if several."""
    currencies = {line["currency"] for line in lines}
    if len(currencies) > 1:
        raise ValueError(f"one invoice, one currency: the lines are in {sorted(currencies)}")
    return currencies.pop() if currencies else None


def by_currency(lines: list[dict]) -> dict[str, list[dict]]:
    """The lines grouped by their currency, in the order the currencies first appear."""
    groups: dict[str, list[dict]] = {}
    for line in lines:
        groups.setdefault(line["currency"], []).append(line)
    return groups


@dataclass(frozen=True)
class Period:
    """A client's period to invoice: its cycle, first day, end (exclusive) and the day it is issued."""

    client: Organisation
    cycle: str
    start: date
    end: date
    issued_on: date


def issue_period(actor, client: Organisation, issued_on: date, default_currency: str | None = None) -> list[Invoice]:
    """Issue the invoices of the client's current period, inside the caller's transaction: one per currency."""
    period = Period(client, client.billing_cycle, client.period_start, client.period_end, issued_on)
    return issue_periods(actor, [period], default_currency)


def issue_periods(actor, to_invoice: list[Period], default_currency: str | None = None) -> list[Invoice]:
    """Issue the invoices of every period, in their order, inside the caller's transaction: one per currency.

    docs/rules.md rule 25: an invoice has one currency, so a client whose seats
    are of types in several currencies gets one period invoice per currency (the
    unique index is per client, period and currency). A period without seats
    still gets its one (empty) invoice, in ``default_currency`` (the catalogue's).
    """
    drafts = []
    for period, lines in zip(to_invoice, periods_lines(to_invoice)):
        groups = by_currency(lines) or {default_currency: []}
        drafts += [Draft(period.client, "period", period.cycle, period.start, period.end, period.issued_on, group,
                         currency) for currency, group in groups.items()]
    return issue_all(actor, drafts)


def catalogue_currency() -> str:
    """The catalogue's currency (its first type's; EUR in the demo): that of an invoice without lines.

    Each invoice is in its lines' currency (rule 25); a billing run asks this
    once, for the empty ones, and passes it on.
    """
    return db.session.scalar(catalogue_currency_query()) or NO_CATALOGUE_CURRENCY


# A catalogue without any type yet has no currency of its own: amounts of nothing are in euros.
NO_CATALOGUE_CURRENCY = "EUR"


def catalogue_currency_query():
    """``catalogue_currency``'s SELECT (None for an empty catalogue), for a statement that reads it with more."""
    return select(SubscriptionType.currency).order_by(SubscriptionType.id).limit(1)


def invoice_line(site_id: int, site_name: str, subscription_type: SubscriptionType, quantity: int, price: int,
         cost: int, days: int, period_days: int) -> dict:
    """One invoice line, as ``issue`` takes it: every line of every kind is built here.

    Its amount is quantity × unit price × days / days in the period, and the
    partner's cost (docs/rules.md rule 23) quantity × unit cost × days / days in
    the period, both rounded half-up once (``periods.prorate``): a whole period
    (days == period_days) is exactly quantity × unit price, and its cost
    quantity × unit cost. It carries its type's ``currency``, which ``issue``
    reads for the invoice (an invoice line has no currency of its own).
    """
    return dict(site_id=site_id, site_name=site_name, subscription_type_id=subscription_type.id,
                subscription_type_code=subscription_type.code, subscription_type_name=subscription_type.name,
                quantity=quantity, unit_price=price, days=days, period_days=period_days,
                amount=periods.prorate(quantity, price, days, period_days),
                unit_cost=cost, cost=periods.prorate(quantity, cost, days, period_days),
                currency=subscription_type.currency)


def period_lines(client: Organisation, cycle: str, start: date, end: date) -> list[dict]:
    """One line per site and type with allocated seats: seats are committed for the period.

    Inside the caller's transaction: locks the period's prices first (rule 22;
    ``price_book.lock_periods``), so every line, and every prorated invoice of
    the period, is priced as the period opened.
    """
    return periods_lines([Period(client, cycle, start, end, start)])[0]


def periods_lines(to_invoice: list[Period]) -> list[list[dict]]:
    """``period_lines`` of each period, at once: the locks, then one read of every client's allocations and
    one of the prices locked (the billing run invoices thousands of periods)."""
    if not to_invoice:
        return []
    price_book.lock_periods([(period.client, period.start, period.cycle) for period in to_invoice])
    client_ids = sorted({period.client.id for period in to_invoice})
    locked = price_book.locked_price_table(client_ids, sorted({period.start for period in to_invoice}))
    allocated: dict[int, list] = {}
    for row in db.session.execute(
            select(Site.client_id, Allocation.allocated, Site.id, Site.name, Allocation.subscription_type_id)
            .join(Site, Allocation.site_id == Site.id)
            .where(Site.client_id.in_(client_ids), Allocation.allocated > 0)
            .order_by(Site.client_id, Site.name, Allocation.subscription_type_id)):
        allocated.setdefault(row.client_id, []).append(row)
    types = {subscription_type.id: subscription_type for subscription_type in db.session.scalars(
        select(SubscriptionType))}
    every = []
    for period in to_invoice:
        prices_locked = locked.get((period.client.id, period.start), {})
        days = periods.days_in_period(period.start, period.end)
        discount_bp = period.client.parent.discount_bp
        # A type without a locked price has no line (none: the lock above covers the whole catalogue).
        every.append([_period_line(site_id, site_name, types[type_id], seats, prices_locked[type_id], period.cycle,
                                   days, discount_bp)
                      for _, seats, site_id, site_name, type_id in allocated.get(period.client.id, ())
                      if type_id in prices_locked])
    return every


def _period_line(site_id: int, site_name: str, subscription_type: SubscriptionType, allocated: int, price: int,
                 cycle: str, days: int, discount_bp: int | None) -> dict:
    """A whole period's line of a site and type, with the partner's unit cost at ``discount_bp`` (rule 23)."""
    cost = prices.unit_cost(unit_price(subscription_type, cycle), discount_bp or 0)
    return invoice_line(site_id, site_name, subscription_type, allocated, price, cost, days, days)


def invoiced_periods(client_ids: list[int], since: date) -> set[tuple[int, date]]:
    """(client id, first day) of the periods of these clients starting on or after ``since`` already invoiced."""
    rows = db.session.execute(select(Invoice.client_id, Invoice.period_start).where(
        Invoice.client_id.in_(client_ids), Invoice.kind == "period", Invoice.period_start >= since))
    return {(client_id, start) for client_id, start in rows}


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
        issue_period(actor, client, first)


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
                   on: date | None = None, *, lock: bool = False) -> ProrationQuote | None:
    """What adding ``added`` seats costs now, or None when it is not invoiced.

    ``lock`` (when the invoice is about to be issued, in a write transaction)
    locks the period's price of a type that had none locked yet.

    Not invoiced: no increase, a client in trial, a free type, or a day
    outside the open period (the next period invoice bills the new count).
    """
    on = on or clock.today()
    if not _invoiced_now(client, added, on):
        return None
    # The period's price (rule 22): a change made since reaches the client at its next period.
    return _quote(client, added, price_book.period_price(client, subscription_type, lock=lock), on)


def quote_increases(client: Organisation, subscription_types, added: int,
                    on: date | None = None) -> dict[int, ProrationQuote | None]:
    """``quote_increase`` of each type (per type id) at once, writing nothing: the prices in one read (a
    site's seat panel says what one more seat of every type costs now)."""
    on = on or clock.today()
    if not _invoiced_now(client, added, on):
        return {subscription_type.id: None for subscription_type in subscription_types}
    prices = price_book.period_prices(client, subscription_types)
    return {subscription_type.id: _quote(client, added, prices[subscription_type.id], on)
            for subscription_type in subscription_types}


def _invoiced_now(client: Organisation, added: int, on: date) -> bool:
    """An increase made ``on`` is invoiced now: seats added, the client out of trial, inside its open period."""
    if added <= 0 or client.period_start is None or in_trial(client, on):
        return False
    return client.period_start <= on < client.period_end


def _quote(client: Organisation, added: int, price: int, on: date) -> ProrationQuote | None:
    """Rule 10's proration of ``added`` seats at ``price`` from ``on`` to the period's end (None: free)."""
    if price == 0:
        return None
    days = periods.days_in_period(client.period_start, client.period_end)
    remaining = periods.remaining_days(on, client.period_start, client.period_end)
    return ProrationQuote(added, price, remaining, days, periods.prorate(added, price, remaining, days),
                          client.period_start, client.period_end)


def invoice_increase(actor, site: Site, subscription_type: SubscriptionType, added: int) -> Invoice | None:
    """Issue the prorated invoice for seats added now, inside the caller's transaction."""
    client = site.client
    quote = quote_increase(client, subscription_type, added, lock=True)
    if quote is None:
        return None
    # The partner's cost at its discount as now set, off the list price (rule 23); the quote stays
    # without it, for the quote is shown to whoever adds the seat.
    cost = prices.unit_cost(unit_price(subscription_type, client.billing_cycle),
                            prices.partner_discount_bp(client.parent_id))
    prorated = invoice_line(site.id, site.name, subscription_type, added, quote.unit_price, cost,
                            quote.remaining_days, quote.period_days)
    return issue(actor, client, "proration", client.billing_cycle, quote.period_start, quote.period_end,
                 clock.today(), [prorated], catalogue_currency())


# Rule 24's 168 hours, counted in days of issue: invoices carry a day, not a time. A prorated
# invoice issued on day D may be credited on days D to D + 6 (elapsed days < 7), never on D + 7:
# the window is never longer than 168 hours, whatever the time of the increase.
CANCELLATION_DAYS = 7


def credit_removed_seats(actor, site: Site, subscription_type: SubscriptionType, removed: int) -> list[Invoice]:
    """Credit seats removed now that an increase bought within the window, inside the caller's transaction.

    docs/rules.md rule 24. The seats removed are the last bought: the newest
    prorated lines of this site and type issued within the window and in the
    client's open period are credited first, each for the seats it has not
    yet had credited, at its unit price and unit cost, for the period's days
    left (never more than the line charged). One credit note per credited
    invoice, numbered in the partner's sequence like any invoice. Never more
    than ``removed`` seats, never more than a line bought, never a seat twice:
    ``credited_quantity`` is raised by a conditional UPDATE (as the seat
    counters are), so a concurrent lowering that read the same line credits
    only what is still left. Nothing is credited after the window (rule 10),
    in a trial or for a free type (nothing was invoiced), or outside the open period.
    """
    client = site.client
    today = clock.today()
    if removed <= 0 or client.period_start is None or not client.period_start <= today < client.period_end:
        return []
    remaining = periods.remaining_days(today, client.period_start, client.period_end)
    candidates = db.session.execute(
        select(InvoiceLine.id, Invoice.id)
        .join(Invoice, InvoiceLine.invoice_id == Invoice.id)
        .where(Invoice.client_id == client.id, Invoice.kind == "proration",
               Invoice.period_start == client.period_start,
               Invoice.issued_on > today - timedelta(days=CANCELLATION_DAYS), Invoice.issued_on <= today,
               InvoiceLine.site_id == site.id, InvoiceLine.subscription_type_id == subscription_type.id,
               InvoiceLine.credited_quantity < InvoiceLine.quantity)
        .order_by(Invoice.issued_on.desc(), Invoice.sequence.desc(), InvoiceLine.id.desc())
    ).all()
    credited: dict[int, list[tuple[InvoiceLine, int]]] = {}
    for line_id, invoice_id in candidates:
        if removed <= 0:
            break
        take = _claim_seats(line_id, removed)
        if take:
            removed -= take
            credited.setdefault(invoice_id, []).append((db.session.get(InvoiceLine, line_id), take))
    notes = []
    for invoice_id, taken in credited.items():
        original = db.session.get(Invoice, invoice_id)
        lines = []
        for line, take in taken:
            days = min(remaining, line.days)
            # Each credit rounds half-up once, like the line; a line credited in parts never gives back
            # more than it charged (nor more cost than it carried).
            amount_back, cost_back = db.session.execute(
                select(func.coalesce(func.sum(InvoiceLine.amount), 0), func.coalesce(func.sum(InvoiceLine.cost), 0))
                .where(InvoiceLine.credits_line_id == line.id)).one()
            amount = min(periods.prorate(take, line.unit_price, days, line.period_days), line.amount + amount_back)
            cost = min(periods.prorate(take, line.unit_cost, days, line.period_days), line.cost + cost_back)
            lines.append(dict(
                site_id=line.site_id, site_name=line.site_name, subscription_type_id=line.subscription_type_id,
                subscription_type_code=line.subscription_type_code,
                subscription_type_name=line.subscription_type_name,
                quantity=take, unit_price=line.unit_price, days=days, period_days=line.period_days,
                amount=-amount, unit_cost=line.unit_cost, cost=-cost, credits_line_id=line.id,
                currency=original.currency))
        notes.append(issue(actor, client, "credit_note", original.billing_cycle, original.period_start,
                           original.period_end, today, lines, original.currency, credits=original))
    return notes


def _claim_seats(line_id: int, wanted: int) -> int:
    """Mark up to ``wanted`` seats of a prorated line credited; how many were (0 if none is left)."""
    while True:
        row = db.session.execute(select(InvoiceLine.quantity, InvoiceLine.credited_quantity)
                                 .where(InvoiceLine.id == line_id)
                                 .execution_options(populate_existing=True)).one()
        take = min(wanted, row.quantity - row.credited_quantity)
        if take <= 0:
            return 0
        # Conditional: only if no one credited these seats since the read (rowcount 0 → read again).
        done = db.session.execute(
            update(InvoiceLine)
            .where(InvoiceLine.id == line_id, InvoiceLine.credited_quantity == row.credited_quantity)
            .values(credited_quantity=InvoiceLine.credited_quantity + take)
            .execution_options(synchronize_session=False))
        if done.rowcount == 1:
            return take


def next_period_preview(client: Organisation, site_rows=None, client_prices=None) -> dict | None:
    """The invoice the next period start will issue, from today's allocations at the prices as now set.

    ``site_rows`` are the client's sites with their seats (``queries.site_rows``, every site) and
    ``client_prices`` its prices (``price_book.client_prices``): the client page has read both for its
    own panels, so the preview costs no statement there; each is read when not given.

    A client in trial is invoiced first when the trial ends (rule 11): the next
    invoice is its first period's, in the cycle chosen at creation (a change
    asked during the trial takes effect after that period).
    """
    if client.period_end is None:
        return None
    if in_trial(client, clock.today()):
        cycle, start, end = client.billing_cycle, client.period_start, client.period_end
    else:
        cycle, start = price_book.next_cycle(client), client.period_end
        end = periods.add_period(start, cycle, client.billing_anchor_day)
    site_rows = queries.site_rows(client) if site_rows is None else site_rows
    client_prices = price_book.client_prices(client) if client_prices is None else client_prices
    # What the next period will lock (price_book.lock_period): each type's price as now set, in its cycle.
    coming = {item.subscription_type.id: item.now_set.of(cycle) for item in client_prices}
    days = periods.days_in_period(start, end)
    # Shown to the client's own staff: without the partner's cost (docs/rules.md rule 23).
    lines = [{key: value for key, value in invoice_line(row.site.id, row.site.name, seats.subscription_type,
                                                       seats.allocated, coming[seats.subscription_type.id], 0,
                                                       days, days).items() if key not in COST_KEYS}
             for row in site_rows for seats in row.seats]
    # One total per currency, as the period will be invoiced (rule 25); the catalogue's when nothing is allocated.
    totals = [(currency, sum(line["amount"] for line in group)) for currency, group in by_currency(lines).items()]
    totals = totals or [(client_prices[0].currency if client_prices else catalogue_currency(), 0)]
    return {"cycle": cycle, "period_start": start, "period_end": end, "lines": lines, "totals": totals,
            "total": totals[0][1], "currency": totals[0][0]}
