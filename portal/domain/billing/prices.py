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


def discount_from_percent(value, field: str = "discount_percent") -> int:
    """A discount typed as a percentage ("20", "12.5", "12,25") → basis points (2000, 1250, 1225).

    At most two decimals (a basis point is 0.01 %), from 0 to 100; anything else
    is ``Invalid`` on ``field``. The screens take percentages; the service and
    the API take basis points.
    """
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid(_("Enter the discount as a percentage, e.g. 20 or 12.5."), field=field)
    if text.startswith("-"):
        raise Invalid(_("The discount cannot be negative."), field=field)
    match = _PERCENT.fullmatch(text.rstrip("%").strip())
    if match is None:
        raise Invalid(_("Enter the discount as a percentage with at most two decimals, e.g. 12.5."), field=field)
    whole, hundredths = match.groups()
    discount_bp = int(whole) * 100 + int((hundredths or "0").ljust(2, "0"))
    if discount_bp > MAX_DISCOUNT_BP:
        raise Invalid(_("The discount is at most %(maximum)s.", maximum=format_basis_points(MAX_DISCOUNT_BP)),
                      field=field)
    return discount_bp


def percent_text(discount_bp: int) -> str:
    """Basis points as the percentage a discount field holds: 2000 → "20", 1250 → "12.5", 1225 → "12.25"."""
    whole, hundredths = divmod(int(discount_bp), 100)
    return f"{whole}.{hundredths:02d}".rstrip("0").rstrip(".") if hundredths else str(whole)
