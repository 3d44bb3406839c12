"""What a seat costs the partner (docs/rules.md section 8, "Partner cost").

The operator gives each partner a discount off the list price in basis points
(``discount_bp``, 0-10000: 2000 is 20 %). The partner's unit cost is the one
function below; invoice lines copy it when they are issued (rule 23).
"""
import re

from sqlalchemy import select

from portal.domain.billing.money import half_up
from portal.domain.errors import Invalid
from portal.extensions import db
from portal.i18n import format_basis_points
from portal.i18n import gettext as _
from portal.models import Organisation

MAX_DISCOUNT_BP = 10_000


def unit_cost(list_price: int, discount_bp: int) -> int:
    """The partner's unit cost: list − round-half-up(list × discount_bp / 10000), in minor units."""
    return list_price - half_up(list_price * discount_bp, MAX_DISCOUNT_BP)


def partner_discount_bp(partner_id: int) -> int:
    """The discount of a partner as now set (one statement), for a document issued now."""
    return db.session.scalar(select(Organisation.discount_bp).where(Organisation.id == partner_id)) or 0


_PERCENT = re.compile(r"([0-9]{1,3})(?:[.,]([0-9]{1,2}))?")


def basis_points_from_percent(value, field: str, *, empty: str, negative: str, malformed: str,
                              too_high: str) -> int:
    """A percentage as typed ("20", "12.5", "12,25", "20 %") → basis points (2000, 1250, 1225), from 0 to 10000.

    At most two decimals (a basis point is 0.01 %); anything else is
    ``Invalid`` on ``field`` with the caller's own words for each refusal (a
    discount and a tax rate say them differently). The screens take
    percentages; the services and the API take basis points.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid(empty, field=field)
    if text.startswith("-"):
        raise Invalid(negative, field=field)
    match = _PERCENT.fullmatch(text.rstrip("%").strip())
    if match is None:
        raise Invalid(malformed, field=field)
    whole, hundredths = match.groups()
    basis_points = int(whole) * 100 + int((hundredths or "0").ljust(2, "0"))
    if basis_points > MAX_DISCOUNT_BP:
        raise Invalid(too_high, field=field)
    return basis_points


def discount_from_percent(value, field: str = "discount_percent") -> int:
    """A discount typed as a percentage ("20", "12.5", "12,25") → basis points (2000, 1250, 1225).

    At most two decimals, from 0 to 100 (``basis_points_from_percent``).
    """
    return basis_points_from_percent(
        value, field, empty=_("Enter the discount as a percentage, e.g. 20 or 12.5."),
        negative=_("The discount cannot be negative."),
        malformed=_("Enter the discount as a percentage with at most two decimals, e.g. 12.5."),
        too_high=_("The discount is at most %(maximum)s.", maximum=format_basis_points(MAX_DISCOUNT_BP)))


def percent_text(basis_points: int) -> str:
    """Basis points as the percentage a field holds (a discount, a tax rate): 2000 → "20", 1250 → "12.5",
    1225 → "12.25"."""
    whole, hundredths = divmod(int(basis_points), 100)
    return f"{whole}.{hundredths:02d}".rstrip("0").rstrip(".") if hundredths else str(whole)
