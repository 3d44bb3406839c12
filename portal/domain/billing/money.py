"""Money: integer minor units (cents) and an ISO 4217 currency, never floats.

Parsing what people type, and writing amounts back as text, in one place.
"""
import re
from decimal import Decimal

from portal.domain.errors import Invalid
from portal.i18n import gettext as _

# 1,000,000.00 in minor units: far above any seat price, far below integer overflow.
MAX_PRICE = 100_000_000
_PRICE = re.compile(r"([0-9]{1,9})(?:\.([0-9]{1,2}))?")


def parse_price(value, field: str, *, label: str) -> int:
    """A price in major units (text, int or Decimal) → integer minor units.

    Refuses negatives, more than two decimals, exponents, floats, non-ASCII
    digits and anything above 1,000,000.00. ``label`` names the price in the
    refusal ("monthly price"): pass it translatable (``_l("…")``). The field
    takes a dot for decimals in every language, so the examples keep theirs.
    """
    if isinstance(value, Decimal):
        value = format(value, "f") if value.is_finite() else "x"
    elif isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(_("Enter the %(label)s, e.g. 15.00.", label=label), field=field)
    text = value.strip()
    if text.startswith("-"):
        raise Invalid(_("The %(label)s cannot be negative.", label=label), field=field)
    match = _PRICE.fullmatch(text)
    if match is None:
        if "," in text:
            raise Invalid(_("Write the %(label)s with a dot for decimals and no thousands separator, "
                            "e.g. 1500.00.", label=label), field=field)
        raise Invalid(_("Enter the %(label)s as an amount with at most two decimals, e.g. 15.00.", label=label),
                      field=field)
    whole, cents = match.groups()
    minor = int(whole) * 100 + int((cents or "0").ljust(2, "0"))
    if minor > MAX_PRICE:
        raise Invalid(_("The %(label)s is at most 1,000,000.00.", label=label), field=field)
    return minor


def decimal_text(minor: int) -> str:
    """Minor units as a plain decimal, the text the price fields and CSV exports use: 1500 → "15.00"."""
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    return f"{sign}{minor // 100}.{minor % 100:02d}"


def half_up(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half-up to a whole minor unit, in integers (never float).

    Halves round away from zero, so a negative amount (a credit) rounds as its
    positive twin, with the sign. ``denominator`` must be positive.
    (``periods.prorate`` keeps its own copy of the formula: that module uses the
    standard library only.)
    """
    if denominator <= 0:
        raise ValueError(f"denominator must be positive, got {denominator}")
    if numerator < 0:
        return -half_up(-numerator, denominator)
    # floor(n / d + 1/2) == (2n + d) // 2d for n >= 0, d > 0.
    return (2 * numerator + denominator) // (2 * denominator)
