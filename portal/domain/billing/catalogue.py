"""The subscription-type catalogue, kept by the operator (``partners.manage``).

Prices are typed in major units with at most two decimals ("15", "15.5",
"15.50") and stored as integer minor units. A price change applies to
invoices issued afterwards: invoice lines copy the unit price at issue time,
so nothing already issued changes.
"""

import re

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from portal.domain import audit, validation
from portal.domain.billing.money import parse_price
from portal.domain.errors import Conflict
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.i18n import _l
from portal.i18n import gettext as _
from portal.models import SubscriptionType

_CODE = re.compile(r"[a-z0-9_-]{2,40}")
_CURRENCY = re.compile(r"[A-Z]{3}")


def _code(value) -> str:
    return validation.matching(value, _CODE, "code",
                               _l("Enter a code of 2 to 40 characters: lower-case letters, digits, '-' or '_'."))


def _currency(value) -> str:
    return validation.matching(value, _CURRENCY, "currency",
                               _l("Enter the currency as three upper-case letters (ISO 4217), e.g. EUR."))


def _code_in_use(code: str) -> str:
    return _("The code %(code)s is already in the catalogue.", code=repr(code))


def create_subscription_type(actor, code, name, monthly_price, annual_price, currency) -> SubscriptionType:
    """Add a type to the catalogue. ``Invalid`` for bad input, ``Conflict`` for a code in use. Commits."""
    code = _code(code)
    name = validation.text(name, "name", label=_l("name"), max_length=100)
    monthly = parse_price(monthly_price, "monthly_price", label=_l("monthly price"))
    annual = parse_price(annual_price, "annual_price", label=_l("annual price"))
    currency = _currency(currency)
    with write_transaction():
        if db.session.scalar(select(exists().where(SubscriptionType.code == code))):
            raise Conflict(_code_in_use(code), field="code")
        subscription_type = SubscriptionType(code=code, name=name, monthly_price=monthly, annual_price=annual,
                                             currency=currency)
        db.session.add(subscription_type)
        try:
            db.session.flush()
        except IntegrityError:  # another request took the code between the check and the insert
            raise Conflict(_code_in_use(code), field="code") from None
        audit.record(actor, "subscription_type.created", "subscription_type", subscription_type.id,
                     actor.organisation_id,
                     after={"code": code, "name": name, "monthly_price": monthly, "annual_price": annual,
                            "currency": currency})
    return subscription_type


def change_prices(actor, subscription_type: SubscriptionType, monthly_price, annual_price) -> SubscriptionType:
    """Set new list prices; they reach each client at its next period (rule 22). ``Invalid`` for bad prices. Commits."""
    monthly = parse_price(monthly_price, "monthly_price", label=_l("monthly price"))
    annual = parse_price(annual_price, "annual_price", label=_l("annual price"))
    type_id = subscription_type.id
    with write_transaction():
        row = db.session.scalar(select(SubscriptionType).where(SubscriptionType.id == type_id)
                                .with_for_update().execution_options(populate_existing=True))
        before = {"monthly_price": row.monthly_price, "annual_price": row.annual_price}
        after = {"monthly_price": monthly, "annual_price": annual}
        if before == after:
            return row  # nothing to change, nothing to record
        row.monthly_price, row.annual_price = monthly, annual
        audit.record(actor, "subscription_type.prices_changed", "subscription_type", type_id,
                     actor.organisation_id, before={"code": row.code, **before}, after={"code": row.code, **after})
    return row
