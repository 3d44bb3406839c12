"""Pydantic models: they validate every request and describe every response.

The OpenAPI document is generated from these same classes (see openapi.py),
so what is documented is what is enforced. Request models check shape only
(types, ranges, lengths, no control characters); the services still check
the rules. Unknown body fields are ignored: a model only ever hands the view
the fields it declares, so nothing else can be assigned.
"""
import re
from datetime import date, datetime, timezone
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

from portal.domain.billing.invoices import MAX_TRIAL_DAYS
from portal.domain.billing.money import MAX_PRICE
from portal.domain.billing.prices import MAX_DISCOUNT_BP
from portal.domain.events import EVENT_TYPES
from portal.domain.idempotency import MAX_KEY_LENGTH
from portal.domain.validation import CONTROL_CHARACTERS, EMAIL_PATTERN, MAX_SEATS, TEXT_CONTROL_CHARACTERS
from portal.models import BILLING_CYCLES, SEAT_REQUEST_STATUSES
from portal.models.seat_request import MAX_NOTE_LENGTH, MAX_REQUESTED_SEATS
from portal.models.webhooks import DELIVERY_STATUSES, MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH

# Text fields: no control or line-separator characters (NUL, TAB, line breaks, U+0085,
# U+2028, U+2029…): the very class validation.text refuses (docs/rules.md rule 41b).
NO_CONTROL = f"^[^{CONTROL_CHARACTERS}]*$"
NO_CONTROL_BUT_LINES = f"^[^{TEXT_CONTROL_CHARACTERS}]*$"  # notes and reasons: several lines
# The shape validation.email accepts (the service lower-cases and re-checks it).
EMAIL = EMAIL_PATTERN
MAX_ID = 2_147_483_647
MAX_PAGE = 1_000_000
MAX_PER_PAGE = 200

Text = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_CONTROL)]
Cycle = Literal[BILLING_CYCLES]


def _absent_is_not_null(schema: dict) -> None:
    schema.pop("default", None)  # optional, but null is not a value


# ------------------------------------------------------------------ query strings

def _query_int(value):
    """Query values arrive as text: only plain decimal digits are a number."""
    if isinstance(value, str):
        if not re.fullmatch(r"0|[1-9][0-9]{0,9}", value):
            raise ValueError("Enter a whole number.")
        return int(value)
    return value


def query_int(*, ge: int, le: int, description: str, **extra):
    """A whole number in a query string; constraints first, so the JSON Schema shows them."""
    return Annotated[int, Field(ge=ge, le=le, strict=True, description=description, **extra),
                     BeforeValidator(_query_int)]


RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})")


def _timestamp(value):
    if isinstance(value, str):
        if not RFC3339.fullmatch(value):
            raise ValueError("Enter a UTC timestamp such as 2026-12-01T00:00:00Z.")
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("Enter a real date and time, such as 2026-12-01T00:00:00Z.") from None
    return value


PageNumber = query_int(ge=1, le=MAX_PAGE, description="Page number, from 1.")
PerPage = query_int(ge=1, le=MAX_PER_PAGE, description="Items per page, at most 200.")
ClientFilter = query_int(ge=1, le=MAX_ID, description="Only this client's invoices.",
                         json_schema_extra=_absent_is_not_null)


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PageQuery(Query):
    page: PageNumber = 1
    per_page: PerPage = 50


class ClientsQuery(PageQuery):
    q: Annotated[str, Field(max_length=100, pattern=NO_CONTROL, description="Part of the client's name.")] = ""


class InvoicesQuery(PageQuery):
    client_id: ClientFilter = None


class AuditQuery(PageQuery):
    action: Annotated[str, Field(max_length=60, pattern=NO_CONTROL,
                                 description="Only events with exactly this action, e.g. user.created.")] = ""
    since: Annotated[datetime, Field(description="Only events at or after this timestamp (RFC 3339).",
                                     json_schema_extra=_absent_is_not_null), BeforeValidator(_timestamp)] = None


DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day(value):
    """A calendar day in a query string: ISO 8601 ``2026-12-01`` only (no time, no week dates)."""
    if isinstance(value, str):
        if not DAY.fullmatch(value):
            raise ValueError("Enter a date such as 2026-12-01.")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError("Enter a real date, such as 2026-12-01.") from None
    return value


class MarginsQuery(Query):
    since: Annotated[date, Field(alias="from", description="The first day of issue counted (ISO 8601)."),
                     BeforeValidator(_day)]
    until: Annotated[date, Field(alias="to", description="The first day of issue left out: documents issued "
                                                         "before it count. At most 400 days after `from`."),
                     BeforeValidator(_day)]


class UsageQuery(Query):
    since: Annotated[date, Field(alias="from", description="The first day (ISO 8601); absent: 29 days before `to`.",
                                 json_schema_extra=_absent_is_not_null), BeforeValidator(_day)] = None
    until: Annotated[date, Field(alias="to", description="The last day, included (ISO 8601); absent or in the "
                                                         "future: today. At most 400 days from `from`.",
                                 json_schema_extra=_absent_is_not_null), BeforeValidator(_day)] = None


class SeatRequestsQuery(PageQuery):
    status: Annotated[Literal[SEAT_REQUEST_STATUSES], Field(description="Only requests with this status.",
                                                            json_schema_extra=_absent_is_not_null)] = None


# ------------------------------------------------------------------ request bodies

class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ClientCreate(Body):
    name: Text
    billing_cycle: Cycle
    trial_days: Annotated[StrictInt, Field(ge=0, le=MAX_TRIAL_DAYS)] | None = None


class ClientUpdate(Body):
    name: Annotated[Text, Field(json_schema_extra=_absent_is_not_null)] = None
    billing_cycle: Annotated[Cycle | None, Field(
        description="A new cycle becomes pending from the next period start; null withdraws a pending change.",
        json_schema_extra=_absent_is_not_null)] = None


class UserUpdate(Body):
    name: Annotated[Text, Field(json_schema_extra=_absent_is_not_null)] = None
    site_id: Annotated[StrictInt, Field(ge=1, le=MAX_ID, description="Move the seat to this site of the user's client.",
                                        json_schema_extra=_absent_is_not_null)] = None
    subscription_type: Annotated[str, Field(min_length=1, max_length=40, pattern=NO_CONTROL,
                                            description="Move the seat to this subscription type (a code).",
                                            json_schema_extra=_absent_is_not_null)] = None
    add_seat: StrictBool = False


class AdministratorCreate(Body):
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=EMAIL)]
    name: Text
    send_invitation: Literal["now", "later"] = "now"


class UserReactivate(Body):
    site_id: Annotated[StrictInt, Field(ge=1, le=MAX_ID, description="The seat's site (default: the last one).",
                                        json_schema_extra=_absent_is_not_null)] = None
    subscription_type: Annotated[str, Field(min_length=1, max_length=40, pattern=NO_CONTROL,
                                            description="The seat's type code (default: the last one).",
                                            json_schema_extra=_absent_is_not_null)] = None


class SiteCreate(Body):
    name: Text


class AllocationUpdate(Body):
    allocated: Annotated[StrictInt, Field(ge=0, le=MAX_SEATS)]


class UserCreate(Body):
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=EMAIL)]
    name: Text
    subscription_type: Annotated[str, Field(min_length=1, max_length=40, pattern=NO_CONTROL,
                                            description="A subscription type code, e.g. essentials.")]
    add_seat: StrictBool = False
    send_invitation: Literal["now", "later"] = "now"


class SeatRequestUser(Body):
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=EMAIL)]
    name: Text
    send_invitation: Literal["now", "later"] = Field(
        "now", description="Invite the user once created (\"now\", the default) or leave the invitation unsent.")


class SeatRequestCreate(Body):
    subscription_type: Annotated[str, Field(min_length=1, max_length=40, pattern=NO_CONTROL,
                                            description="A subscription type code, e.g. essentials.")]
    quantity: Annotated[StrictInt, Field(ge=1, le=MAX_REQUESTED_SEATS)]
    note: Annotated[str, Field(max_length=MAX_NOTE_LENGTH, pattern=NO_CONTROL_BUT_LINES)] | None = None
    user: Annotated[SeatRequestUser | None, Field(
        description="The user being created: created (and invited) on one of the seats when approved.")] = None


class DiscountUpdate(Body):
    discount_bp: Annotated[StrictInt, Field(ge=0, le=MAX_DISCOUNT_BP, description=(
        "The discount off the list price in basis points: 2000 is 20 %. It applies to documents issued "
        "from now on; issued lines keep their cost."))]


class SeatRequestDecline(Body):
    reason: Annotated[str, Field(min_length=1, max_length=MAX_NOTE_LENGTH, pattern=NO_CONTROL_BUT_LINES)]


IDEMPOTENCY_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]+$"}
IDEMPOTENCY_KEY = re.compile(r"[!-~]{1,%d}" % MAX_KEY_LENGTH)


# ------------------------------------------------------------------ responses

def _utc(moment: datetime) -> datetime:
    """Stored timestamps (always timezone-aware, see UTCDateTime) serialised in UTC, with Z."""
    return moment.astimezone(timezone.utc)


Timestamp = Annotated[datetime, AfterValidator(_utc)]
T = TypeVar("T")


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Money(Out):
    amount: int = Field(description="Minor units (cents).")
    currency: str = Field(description="ISO 4217 code.")


class SubscriptionTypeOut(Out):
    code: str
    name: str
    monthly_price: Money
    annual_price: Money


class SeatCounts(Out):
    allocated: int
    consumed: int
    free: int


class TypeSeats(Out):
    subscription_type: str
    allocated: int
    consumed: int
    free: int


class Summary(Out):
    items: list[TypeSeats]


CalendarDay = date  # a field below is named ``date``, as the API contract names it


class DayUsageOut(Out):
    date: CalendarDay = Field(description="A UTC day; the counts are those at its end (today's: as they are now).")
    subscription_type: str
    allocated: int
    consumed: int


class UsageOut(Out):
    items: list[DayUsageOut]


class ClientOut(Out):
    id: int
    name: str
    billing_cycle: Cycle
    pending_billing_cycle: Cycle | None
    pending_effective_on: date | None
    period_start: date | None
    period_end: date | None
    trial_ends_on: date | None
    seats: SeatCounts


class SiteOut(Out):
    id: int
    client_id: int
    name: str
    allocations: list[TypeSeats]


class ClientDetail(ClientOut):
    sites: list[SiteOut]
    totals: list[TypeSeats]


class AllocationOut(Out):
    site_id: int
    subscription_type: str
    allocated: int
    consumed: int
    free: int
    invoice_id: int | None = Field(description="The prorated invoice an increase issued, if any.")
    credit_note_id: int | None = Field(description="The credit note a lowering within 7 days of the increase "
                                                   "that bought the seats issued (rule 24), if any.")


class UserOut(Out):
    id: int
    email: str
    name: str
    status: Literal["invited", "active", "deactivated"]
    site_id: int | None
    subscription_type: str | None
    access_until: date | None = Field(description="Deactivated during a trial: access and seat until this day.")


class SyncChange(Out):
    site_id: int
    subscription_type: str
    before: int
    after: int


class SyncReport(Out):
    synced_at: Timestamp
    changes: list[SyncChange]


class InvoiceLineOut(Out):
    site_id: int
    subscription_type: str
    quantity: int
    unit_price: Money
    days: int
    amount: Money


class PartyOut(Out):
    """A party of an invoice as it was when the invoice was issued (docs/rules.md rule 25)."""

    legal_name: str = Field(description="The legal name; the organisation's name when none was set.")
    address: str = Field(description="Several lines; \"\" when none was set.")
    vat_number: str = Field(description="\"\" when none was set.")


class InvoiceOut(Out):
    id: int
    number: str
    client_id: int
    kind: Literal["period", "proration", "credit_note"]
    period_start: date
    period_end: date
    issued_on: date
    total: Money = Field(description="Net (before tax). Negative on a credit note, as are its lines' amounts.")
    tax_rate_bp: int = Field(ge=0, le=10_000, description="The tax rate in basis points (2000 = 20 %); a credit "
                                                          "note's is the credited invoice's.")
    tax: Money = Field(description="Total × rate / 10000, rounded half-up; a credit note's is minus the tax of "
                                   "its absolute total.")
    total_with_tax: Money = Field(description="Total plus tax.")
    seller: PartyOut = Field(description="The partner, as it was when the invoice was issued.")
    buyer: PartyOut = Field(description="The client, as it was when the invoice was issued.")
    credits_invoice_id: int | None = Field(description="The invoice a credit note credits; null on other kinds.")
    lines: list[InvoiceLineOut]


class AuditEventOut(Out):
    id: int
    at: Timestamp
    actor_email: str | None
    action: str
    target_type: str
    target_id: int | None
    before: dict | None
    after: dict | None
    ip: str | None


class MoneyIn(Body):
    amount: Annotated[StrictInt, Field(ge=0, le=MAX_PRICE, description="Minor units (cents), 0 to 100,000,000.")]
    currency: Annotated[str, Field(pattern="^[A-Z]{3}$", description="ISO 4217 code: the subscription type's.")]


class PricesUpdate(Body):
    monthly: MoneyIn
    annual: MoneyIn


class PricePair(Out):
    monthly: Money
    annual: Money


class PriceBookItem(Out):
    subscription_type: str
    list_price: PricePair = Field(description="The catalogue's prices.")
    cost: PricePair | None = Field(description="The partner's unit cost now (the list price less its discount); "
                                               "null without margins.view.")
    price: PricePair = Field(description="The partner's price as now set: its entry, else the list price.")


class PriceBookOut(Out):
    items: list[PriceBookItem]


class ClientPriceOut(Out):
    subscription_type: str
    price: Money = Field(description="What the current period is billed at, in the client's cycle.")
    next_price: Money | None = Field(description="The next period's price when it differs; else null.")
    next_price_from: date | None = Field(description="The day the next price applies (the next period's start).")
    source: Literal["client", "price_book", "list"] = Field(
        description="Where the price comes from as now set.")


class ClientPricesOut(Out):
    items: list[ClientPriceOut]


class PartnerOut(Out):
    id: int
    name: str
    discount_bp: int = Field(description="The operator's discount off the list price, in basis points "
                                         "(2000 = 20 %): the partner's unit cost is the list price less it.")


class MarginItem(Out):
    client_id: int
    client_name: str
    subscription_type: str
    revenue: Money = Field(description="The lines' amounts added up (credit notes count negative).")
    cost: Money = Field(description="The costs the lines were issued with, added up.")
    margin: Money = Field(description="Revenue less cost.")


class MarginTotals(Out):
    revenue: Money
    cost: Money
    margin: Money


class MarginReportOut(Out):
    items: list[MarginItem]
    totals: MarginTotals


class PersonOut(Out):
    id: int
    email: str
    name: str


class CarriedUserOut(Out):
    email: str
    name: str


class SeatRequestOut(Out):
    id: int
    client_id: int
    site_id: int
    subscription_type: str
    quantity: int
    note: str | None
    user: CarriedUserOut | None = Field(description="The user to create on approval, if any.")
    status: Literal[SEAT_REQUEST_STATUSES]
    requested_by: PersonOut
    requested_at: Timestamp
    decided_by: PersonOut | None
    decided_at: Timestamp | None
    reason: str | None = Field(description="Why it was declined.")
    invoice_id: int | None = Field(description="The prorated invoice the approval issued (none in a trial or "
                                               "for a free type).")
    user_id: int | None = Field(description="The user the approval created.")


class SeatRequestDetail(SeatRequestOut):
    cost_now: Money | None = Field(description="While pending, what approving invoices now (0 when it issues no "
                                               "invoice: a trial, a free type); null once decided.")


class SeatRequestApproval(SeatRequestOut):
    user_not_created: str | None = Field(description="Why the user the request carried was not created (its "
                                                     "e-mail has an account by now); null otherwise.")


class Page(Out, Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    fields: dict[str, str] = Field(description="Each bad field and what is wrong with it.")
    free: int | None = Field(None, description="no_free_seat: the free seats of that type at that site.")
    consumed: int | None = Field(None, description="below_consumed: the seats in use.")


class ErrorBody(BaseModel):
    error: ErrorDetail


# ------------------------------------------------------------------ webhooks (docs/rules.md rule 32)

EventType = Literal[EVENT_TYPES]
WebhookUrl = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH, pattern=NO_CONTROL, description=(
    "The receiver: https (plain http only when the portal allows private receivers). Its host must resolve "
    "to public addresses only."))]
WebhookEvents = Annotated[list[EventType], Field(min_length=1, max_length=len(EVENT_TYPES),
                                                 description="The event types sent to it.")]
WebhookDescription = Annotated[str, Field(max_length=MAX_DESCRIPTION_LENGTH, pattern=NO_CONTROL)]


class WebhookCreate(Body):
    url: WebhookUrl
    events: WebhookEvents
    description: WebhookDescription | None = None


class WebhookUpdate(Body):
    url: Annotated[WebhookUrl, Field(json_schema_extra=_absent_is_not_null)] = None
    events: Annotated[WebhookEvents, Field(json_schema_extra=_absent_is_not_null)] = None
    active: Annotated[StrictBool, Field(description="false pauses the endpoint; true resumes it (also after the "
                                                    "portal disabled it).",
                                        json_schema_extra=_absent_is_not_null)] = None
    description: Annotated[WebhookDescription | None, Field(description="Empty or null clears it.")] = None


class WebhookOut(Out):
    id: int
    url: str
    events: list[str]
    description: str | None
    active: bool
    created_at: Timestamp
    disabled_at: Timestamp | None = Field(description="When the portal disabled it after three days of failures.")
    disabled_reason: str | None
    failing_since: Timestamp | None = Field(description="The first failed attempt since the last success.")


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret: shown in this answer only. Each delivery carries "
                                    "Portal-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "
                                    "\"<t>.<raw body>\")>.")


class WebhookDeliveryOut(Out):
    id: int
    event_id: int = Field(description="The body's id and the Portal-Event-Id header.")
    event_type: str
    attempt: int
    status: Literal[DELIVERY_STATUSES]
    response_status: int | None
    response_excerpt: str | None = Field(description="The first 500 characters of the receiver's answer.")
    error: str | None
    attempted_at: Timestamp | None
    next_attempt_at: Timestamp | None = Field(description="Pending: when it is tried. Failed: when the next "
                                                          "attempt is due (null: none follows).")
