"""What a client pays: list price, the partner's price book, the client's own price (docs/rules.md rule 22).

A client's price of a type is its own price when the partner set one, else
the partner's price book entry, else the catalogue's list price. Any change
to the three reaches a client at the start of its next period: when a period
opens, the price of every catalogue type is locked for it in
``period_prices`` (``lock_period``), and the period invoice and every
prorated invoice of the period read that lock (``period_price``,
``locked_price_table``). Until the next period, the screens and the API show the
price as now set as the coming price, from the period's end.

Prices are minor units of the type's currency. The API hands in Money
(``{"amount", "currency"}``), whose currency must be the type's; the screens
hand in amounts only (``parse_price`` read what was typed).
"""
import functools
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Date, Integer, bindparam, delete, func, literal, select
from sqlalchemy.orm import aliased

from portal import clock
from portal.domain import audit, validation
from portal.domain.billing import prices
from portal.domain.billing.money import MAX_PRICE
from portal.domain.errors import Forbidden, Invalid
from portal.domain.seats.queries import subscription_type_by_code
from portal.domain.transactions import dialect_insert, write_transaction
from portal.extensions import db
from portal.i18n import _l
from portal.i18n import gettext as _
from portal.models import (
    ClientPrice,
    Organisation,
    PeriodPrice,
    PriceBookEntry,
    SubscriptionType,
)
from portal.models.mixins import utcnow
from portal.rbac.permissions import (
    manage_prices,
    may,
    permission_name,
    read_price_book,
    view_margins,
)

CYCLES = ("monthly", "annual")


@dataclass(frozen=True)
class Pair:
    """A monthly and an annual price, in minor units of ``currency``."""

    monthly: int
    annual: int
    currency: str

    def of(self, cycle: str) -> int:
        return self.monthly if cycle == "monthly" else self.annual


def _cycle_price(model, cycle: str):
    return model.monthly_price if cycle == "monthly" else model.annual_price


# ---------------------------------------------------------------- prices as now set


def _now_set(client_id, partner_id, cycle: str):
    """Per catalogue type, the price a period opened now would lock: client, else price book, else list."""
    return with_prices_as_now_set(
        select(SubscriptionType.id.label("subscription_type_id"),
               price_as_now_set(ClientPrice, PriceBookEntry, SubscriptionType, cycle).label("unit_price")),
        client_id, partner_id, SubscriptionType.id)


def with_prices_as_now_set(query, client_id, partner_id, type_id, client_price=ClientPrice,
                           book_entry=PriceBookEntry):
    """``query`` outer-joined to the client's own price and the partner's price book entry of the type
    ``type_id`` (columns or parameters): what ``price_as_now_set`` reads, one row each at most."""
    return (query
            .outerjoin(client_price, (client_price.client_id == client_id)
                       & (client_price.subscription_type_id == type_id))
            .outerjoin(book_entry, (book_entry.partner_id == partner_id)
                       & (book_entry.subscription_type_id == type_id)))


def price_as_now_set(client_price, book_entry, subscription_type, cycle: str):
    """The rule, as a column over rows joined by ``with_prices_as_now_set``: the client's price in
    ``cycle``, else the price book's, else the list price of ``subscription_type``."""
    return func.coalesce(_cycle_price(client_price, cycle), _cycle_price(book_entry, cycle),
                         _cycle_price(subscription_type, cycle))


def lock_period(client: Organisation, start: date, cycle: str) -> None:
    """Lock the client's prices of every catalogue type for the period starting ``start``, inside the
    caller's transaction. Prices already locked for that period stay: locking twice changes nothing."""
    lock_periods([(client, start, cycle)])


def lock_periods(to_lock) -> None:
    """``lock_period`` of each (client, start, cycle), one statement per cycle (the billing run's periods)."""
    by_cycle: dict[str, list[dict]] = {}
    for client, start, cycle in to_lock:
        by_cycle.setdefault(cycle, []).append(
            {"client_id": client.id, "partner_id": client.parent_id, "period_start": start})
    for cycle, parameters in by_cycle.items():
        # Through the connection: with parameters, the session would read the INSERT … SELECT as an ORM bulk
        # insert. A list of parameters runs as one executemany.
        db.session.connection().execute(_lock_statement(dialect_insert(), cycle), parameters)


@functools.cache
def _lock_statement(insert, cycle: str):
    """The INSERT … SELECT of ``lock_period``, built once per dialect (``insert``) and cycle: the billing
    run locks a period for every client, and building the statement cost as much as running it."""
    client_id, partner_id = bindparam("client_id", type_=Integer), bindparam("partner_id", type_=Integer)
    prices_now = _now_set(client_id, partner_id, cycle).add_columns(
        client_id.label("client_id"), bindparam("period_start", type_=Date).label("period_start"),
        literal(cycle).label("billing_cycle"))
    return (insert(PeriodPrice)
            .from_select(["subscription_type_id", "unit_price", "client_id", "period_start", "billing_cycle"],
                         prices_now)
            .on_conflict_do_nothing(index_elements=["client_id", "period_start", "subscription_type_id"]))


def locked_price_table(client_ids: list[int], starts: list[date]) -> dict[tuple[int, date], dict[int, int]]:
    """The prices locked for the periods of these clients starting on these days: per (client id, first day),
    the unit price per type id (one statement; a pair without a lock is missing)."""
    table: dict[tuple[int, date], dict[int, int]] = {}
    for client_id, start, type_id, price in db.session.execute(
            select(PeriodPrice.client_id, PeriodPrice.period_start, PeriodPrice.subscription_type_id,
                   PeriodPrice.unit_price)
            .where(PeriodPrice.client_id.in_(client_ids), PeriodPrice.period_start.in_(starts))):
        table.setdefault((client_id, start), {})[type_id] = price
    return table


def period_price(client: Organisation, subscription_type: SubscriptionType, *, lock: bool) -> int:
    """The unit price of ``subscription_type`` in the client's open period.

    The lock written when the period opened. A type the catalogue gained since
    (or a period opened before locks existed) has none yet: its price as now
    set, which ``lock=True`` (inside the caller's write transaction, when an
    invoice is about to be issued) locks for the rest of the period; a quote
    shown on a screen passes ``lock=False`` and writes nothing.
    """
    if lock and not _locked_prices(client, [subscription_type.id]):
        lock_period(client, client.period_start, client.billing_cycle)
    return period_prices(client, [subscription_type])[subscription_type.id]


def period_prices(client: Organisation, subscription_types) -> dict[int, int]:
    """``period_price`` of several types at once, writing nothing (``lock=False``), per type id: one statement
    for the locked prices, a second only for types without one (a screen quoting every type of a site)."""
    ids = [subscription_type.id for subscription_type in subscription_types]
    prices = _locked_prices(client, ids)
    missing = [type_id for type_id in ids if type_id not in prices]
    if missing:
        now_set = _now_set(client.id, client.parent_id, client.billing_cycle).subquery()
        prices.update(db.session.execute(select(now_set.c.subscription_type_id, now_set.c.unit_price)
                                         .where(now_set.c.subscription_type_id.in_(missing))).all())
    return prices


def _locked_prices(client: Organisation, type_ids: list[int]) -> dict[int, int]:
    """The prices locked for the client's open period, per type id (of those asked that have one)."""
    return dict(db.session.execute(_locked_prices_statement(), {
        "client_id": client.id, "period_start": client.period_start, "type_ids": type_ids}).all())


@functools.cache
def _locked_prices_statement():
    """Built once (the site page quotes its types on every visit)."""
    return select(PeriodPrice.subscription_type_id, PeriodPrice.unit_price).where(
        PeriodPrice.client_id == bindparam("client_id", type_=Integer),
        PeriodPrice.period_start == bindparam("period_start", type_=Date),
        PeriodPrice.subscription_type_id.in_(bindparam("type_ids", expanding=True)))


# ---------------------------------------------------------------- what the screens and the API show


@dataclass(frozen=True)
class BookItem:
    """One type of a partner's price book."""

    subscription_type: SubscriptionType
    list_price: Pair
    price: Pair  # the partner's price as now set: its entry, else the list price
    cost: Pair | None  # the partner's unit cost now; None for whoever lacks margins.view (rule 23)
    has_entry: bool
    updated_at: object = None


def price_book(actor, partner: Organisation) -> list[BookItem]:
    """The partner's price book, one item per catalogue type (two statements).

    For ``prices.manage`` or ``margins.view`` over the partner (``Forbidden``
    otherwise); the cost only for ``margins.view``.
    """
    if not may(actor, read_price_book(partner)):
        raise Forbidden(_("The price book needs the %(permission)s permission.",
                          permission=permission_name(manage_prices)))
    with_cost = may(actor, view_margins(partner))
    discount = prices.partner_discount_bp(partner.id) if with_cost else 0
    rows = db.session.execute(
        select(SubscriptionType, PriceBookEntry)
        .outerjoin(PriceBookEntry, (PriceBookEntry.partner_id == partner.id)
                   & (PriceBookEntry.subscription_type_id == SubscriptionType.id))
        .order_by(SubscriptionType.id))
    items = []
    for subscription_type, entry in rows:
        list_price = Pair(subscription_type.monthly_price, subscription_type.annual_price,
                          subscription_type.currency)
        price = Pair(entry.monthly_price, entry.annual_price, subscription_type.currency) if entry else list_price
        cost = Pair(prices.unit_cost(list_price.monthly, discount), prices.unit_cost(list_price.annual, discount),
                    subscription_type.currency) if with_cost else None
        items.append(BookItem(subscription_type, list_price, price, cost, entry is not None,
                              entry.updated_at if entry else None))
    return items


SOURCES = ("client", "price_book", "list")


@dataclass(frozen=True)
class ClientPriceItem:
    """One type as a client is priced: now, next period, and where the price comes from."""

    subscription_type: SubscriptionType
    cycle: str
    price: int  # what the current period is billed at (in ``cycle``)
    next_cycle: str
    next_price: int | None  # None when the next period keeps the price
    next_price_from: date | None
    source: str  # where the price comes from as now set: client, price_book or list
    own: Pair | None  # the client's own prices, when set
    now_set: Pair  # the prices as now set (from ``source``): what a period opened now locks

    @property
    def currency(self) -> str:
        return self.subscription_type.currency


def next_cycle(client: Organisation) -> str:
    """The cycle of the client's next period: a pending change applies at the period's end (rule 8)."""
    if client.pending_billing_cycle and client.pending_effective_on == client.period_end:
        return client.pending_billing_cycle
    return client.billing_cycle


def client_prices(client: Organisation, today: date | None = None) -> list[ClientPriceItem]:
    """Per catalogue type, the client's price this period, the coming one and its date (one statement).

    A client whose first period has not begun (a trial) has nothing locked:
    its price is the one as now set, and no change is coming before it begins.
    """
    today = today or clock.today()
    begun = client.period_start is not None and client.period_start <= today
    rows = db.session.execute(_client_prices_statement(begun), {
        "client_id": client.id, "partner_id": client.parent_id, "period_start": client.period_start})
    cycle = client.billing_cycle
    following = next_cycle(client) if begun else cycle
    items = []
    for subscription_type, own_entry, book_entry, locked_price in rows:
        setting = own_entry or book_entry or subscription_type
        coming = _cycle_price(setting, following)
        price = locked_price if locked_price is not None else _cycle_price(setting, cycle)
        changes = begun and coming != price
        items.append(ClientPriceItem(
            subscription_type, cycle, price, following, coming if changes else None,
            client.period_end if changes else None,
            "client" if own_entry else "price_book" if book_entry else "list",
            Pair(own_entry.monthly_price, own_entry.annual_price, subscription_type.currency) if own_entry else None,
            Pair(setting.monthly_price, setting.annual_price, subscription_type.currency)))
    return items


@functools.cache
def _client_prices_statement(begun: bool):
    """``client_prices``'s statement (``client_id``, ``partner_id``, ``period_start``), built once per
    shape: the client page asks it on every visit, and building it took six times longer than running it."""
    book, own = aliased(PriceBookEntry), aliased(ClientPrice)
    client_id, partner_id = bindparam("client_id", type_=Integer), bindparam("partner_id", type_=Integer)
    locked = (select(PeriodPrice.unit_price)
              .where(PeriodPrice.client_id == client_id,
                     PeriodPrice.period_start == bindparam("period_start", type_=Date),
                     PeriodPrice.subscription_type_id == SubscriptionType.id)
              .correlate(SubscriptionType).scalar_subquery()) if begun else literal(None)
    return (select(SubscriptionType, own, book, locked)
            .outerjoin(own, (own.client_id == client_id) & (own.subscription_type_id == SubscriptionType.id))
            .outerjoin(book, (book.partner_id == partner_id) & (book.subscription_type_id == SubscriptionType.id))
            .order_by(SubscriptionType.id))


# ---------------------------------------------------------------- setting prices


def _type(type_code) -> SubscriptionType:
    if isinstance(type_code, SubscriptionType):
        return type_code
    subscription_type = subscription_type_by_code(type_code) if isinstance(type_code, str) else None
    if subscription_type is None:
        raise Invalid(_("Choose a subscription type of the catalogue."), field="subscription_type")
    return subscription_type


def _amount(value, field: str, label, subscription_type: SubscriptionType) -> int:
    """A price as minor units: an amount, or Money (``{"amount", "currency"}``) in the type's currency."""
    if isinstance(value, dict):
        currency = value.get("currency")
        if currency != subscription_type.currency:
            raise Invalid(_("%(type)s is priced in %(currency)s: give the %(label)s in %(currency)s.",
                            type=subscription_type.name, currency=subscription_type.currency, label=label),
                          field=f"{field}.currency")
        return validation.whole_number(value.get("amount"), f"{field}.amount", label=label, maximum=MAX_PRICE)
    return validation.whole_number(value, field, label=label, maximum=MAX_PRICE)


def _amounts(monthly, annual, subscription_type) -> tuple[int, int]:
    return (_amount(monthly, "monthly", _l("monthly price in minor units"), subscription_type),
            _amount(annual, "annual", _l("annual price in minor units"), subscription_type))


def _require_prices_manage(actor, organisation: Organisation) -> None:
    if not may(actor, manage_prices(organisation)):
        raise Forbidden(_("Setting prices needs the %(permission)s permission.",
                          permission=permission_name(manage_prices)))


def _upsert(model, owner_column: str, owner_id: int, subscription_type, monthly: int, annual: int):
    """Write the entry (insert or replace); the prices it had before, or None."""
    key = {owner_column: owner_id, "subscription_type_id": subscription_type.id}
    entry = db.session.get(model, key, with_for_update=True, populate_existing=True)
    if entry is None:
        # Two first settings at once: the second insert waits on the key and then updates.
        db.session.execute(dialect_insert()(model).values(**key, monthly_price=monthly, annual_price=annual,
                                                          created_at=utcnow(), updated_at=utcnow())
                           .on_conflict_do_update(index_elements=list(key),
                                                  set_={"monthly_price": monthly, "annual_price": annual,
                                                        "updated_at": utcnow()}))
        return None
    before = {"monthly_price": entry.monthly_price, "annual_price": entry.annual_price}
    entry.monthly_price, entry.annual_price, entry.updated_at = monthly, annual, utcnow()
    return before


def _remove(model, owner_column: str, owner_id: int, subscription_type):
    """Delete the entry; the prices it had, or None when there was none."""
    deleted = db.session.execute(
        delete(model).where(getattr(model, owner_column) == owner_id,
                            model.subscription_type_id == subscription_type.id)
        .returning(model.monthly_price, model.annual_price)).one_or_none()
    return None if deleted is None else {"monthly_price": deleted[0], "annual_price": deleted[1]}


def set_book_price(actor, partner: Organisation, type_code, monthly, annual) -> BookItem:
    """Set the partner's own price of a type; it reaches each client at its next period. Commits.

    ``Forbidden`` without prices.manage over the partner; ``Invalid`` for an
    unknown type, a negative, fractional, huge or non-numeric amount, or a
    currency other than the type's; nothing is written then.
    """
    subscription_type = _set(actor, partner, PriceBookEntry, "partner_id", "price_book.set", type_code,
                             monthly, annual)
    return _book_item(actor, partner, subscription_type)


def clear_book_price(actor, partner: Organisation, type_code) -> BookItem:
    """Back to the list price for the type (at each client's next period). Commits; nothing set, nothing done."""
    subscription_type = _clear(actor, partner, PriceBookEntry, "partner_id", "price_book.cleared", type_code)
    return _book_item(actor, partner, subscription_type)


def set_client_price(actor, client: Organisation, type_code, monthly, annual) -> ClientPriceItem:
    """Set a client's own price of a type; it reaches the client at its next period. Commits.

    Refusals as ``set_book_price``'s, with prices.manage over the client's partner.
    """
    subscription_type = _set(actor, client, ClientPrice, "client_id", "client_price.set", type_code,
                             monthly, annual)
    return _client_item(client, subscription_type)


def clear_client_price(actor, client: Organisation, type_code) -> ClientPriceItem:
    """Back to the price book for the type (at the client's next period). Commits."""
    subscription_type = _clear(actor, client, ClientPrice, "client_id", "client_price.cleared", type_code)
    return _client_item(client, subscription_type)


def _set(actor, owner: Organisation, model, owner_column: str, action: str, type_code, monthly, annual):
    """Check, then write ``owner``'s entry of the type with an audit event in ``owner``'s log (none when
    nothing changes); the subscription type."""
    _require_prices_manage(actor, owner)
    subscription_type = _type(type_code)
    monthly, annual = _amounts(monthly, annual, subscription_type)
    with write_transaction():
        before = _upsert(model, owner_column, owner.id, subscription_type, monthly, annual)
        after = {"monthly_price": monthly, "annual_price": annual}
        if before != after:
            audit.record(actor, action, "subscription_type", subscription_type.id, owner.id,
                         before=_described(subscription_type, before),
                         after=_described(subscription_type, after))
    return subscription_type


def _clear(actor, owner: Organisation, model, owner_column: str, action: str, type_code):
    """Check, then remove ``owner``'s entry of the type, audited when there was one; the subscription type."""
    _require_prices_manage(actor, owner)
    subscription_type = _type(type_code)
    with write_transaction():
        before = _remove(model, owner_column, owner.id, subscription_type)
        if before is not None:
            audit.record(actor, action, "subscription_type", subscription_type.id, owner.id,
                         before=_described(subscription_type, before), after={"code": subscription_type.code})
    return subscription_type


def _described(subscription_type: SubscriptionType, entry: dict | None) -> dict | None:
    """An audit event's before/after: the type's code and currency beside the prices."""
    if entry is None:
        return None
    return {"code": subscription_type.code, "currency": subscription_type.currency, **entry}


def _book_item(actor, partner, subscription_type) -> BookItem:
    return next(item for item in price_book(actor, partner) if item.subscription_type.id == subscription_type.id)


def _client_item(client, subscription_type) -> ClientPriceItem:
    return next(item for item in client_prices(client) if item.subscription_type.id == subscription_type.id)
