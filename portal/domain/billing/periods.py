"""Billing period arithmetic (docs/rules.md rules 8-13).

A period runs from ``period_start`` (inclusive) to ``period_end`` (exclusive):
``period_end`` is the first day of the next period.  Periods are anchored on
the client's billing day: each period starts on that day of the month, or on
the last day of the month when the month is shorter, and returns to the
billing day as soon as a month has it (anchored on the 31st:
2027-01-31 → 2027-02-28 → 2027-03-31).

Pure functions, standard library only.  Money is integer minor units and is
never converted to float.  Every invalid argument (wrong type, unknown cycle,
out-of-range value, inconsistent dates) raises ``ValueError``.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime

__all__ = [
    "CYCLES",
    "MONTHLY",
    "ANNUAL",
    "add_period",
    "days_in_period",
    "remaining_days",
    "prorate",
]

MONTHLY = "monthly"
ANNUAL = "annual"
#: Months per period for each billing cycle.
CYCLES: dict[str, int] = {MONTHLY: 1, ANNUAL: 12}


# -- validation helpers ---------------------------------------------------


def _check_date(value: object, name: str) -> date:
    # datetime is a subclass of date; its time part would silently skew day counts.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{name} must be a date, got {value!r}")
    return value


def _check_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def _months_per_period(cycle: object) -> int:
    try:
        return CYCLES[cycle]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(f"unknown billing cycle {cycle!r}") from None


def _check_anchor_day(anchor_day: object) -> int:
    day = _check_int(anchor_day, "anchor_day")
    if not 1 <= day <= 31:
        raise ValueError(f"anchor_day must be between 1 and 31, got {day}")
    return day


def _anchored(year: int, month: int, anchor_day: int) -> date:
    """The anchor day in that month, clamped to the month's last day."""
    return date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def _shift(start: date, months: int, anchor_day: int) -> date:
    """The anchored date ``months`` months after ``start``'s month."""
    index = start.year * 12 + (start.month - 1) + months
    year, month0 = divmod(index, 12)
    if not date.min.year <= year <= date.max.year:
        raise ValueError("billing period falls outside the supported date range")
    return _anchored(year, month0 + 1, anchor_day)


# -- public API -----------------------------------------------------------


def add_period(start: date, cycle: str, anchor_day: int | None = None) -> date:
    """Return the exclusive end of the period starting at ``start``.

    That is also the next period's start.  ``cycle`` is ``"monthly"`` or
    ``"annual"``.  ``anchor_day`` (1-31, default ``start.day``) is the
    client's billing day; the result is always that day of the month, or the
    month's last day when the month is shorter.  Guarantees: the result is
    strictly after ``start``; ``start`` itself must lie on the anchor
    (``start.day == min(anchor_day, days in start's month)``), otherwise
    ``ValueError`` — this catches callers that pass a mismatched billing day.
    """
    _check_date(start, "start")
    months = _months_per_period(cycle)
    day = start.day if anchor_day is None else _check_anchor_day(anchor_day)
    if start != _anchored(start.year, start.month, day):
        raise ValueError(
            f"period start {start.isoformat()} is not on billing day {day}"
        )
    return _shift(start, months, day)


def days_in_period(start: date, end: date) -> int:
    """Number of days from ``start`` (inclusive) to ``end`` (exclusive), >= 1."""
    _check_date(start, "start")
    _check_date(end, "end")
    if end <= start:
        raise ValueError(
            f"period end {end.isoformat()} must be after its start {start.isoformat()}"
        )
    return (end - start).days


def remaining_days(change_date: date, period_start: date, period_end: date) -> int:
    """Days from ``change_date`` (inclusive) to ``period_end`` (exclusive).

    Guarantees ``1 <= result <= days_in_period(period_start, period_end)``:
    a change on the first day gives the full period, on the last day gives 1.
    A change date outside ``[period_start, period_end)`` raises ``ValueError``.
    """
    _check_date(change_date, "change_date")
    days_in_period(period_start, period_end)  # validates the period
    if not period_start <= change_date < period_end:
        raise ValueError(
            f"change date {change_date.isoformat()} is outside the period "
            f"{period_start.isoformat()} to {period_end.isoformat()}"
        )
    return (period_end - change_date).days


def prorate(quantity: int, unit_price: int, remaining: int, days: int) -> int:
    """Prorated charge in minor units.

    ``quantity × unit_price × remaining / days``, rounded half-up to the minor
    unit once, on the exact product (integer arithmetic, never float).
    Guarantees: ``remaining == days`` gives exactly ``quantity × unit_price``;
    ``quantity``, ``unit_price`` or ``remaining`` of 0 gives 0.  All arguments
    must be ``int`` (not ``bool``), non-negative, ``days > 0`` and
    ``remaining <= days``; otherwise ``ValueError``.
    """
    for name, value in (
        ("quantity", quantity),
        ("unit_price", unit_price),
        ("remaining", remaining),
        ("days", days),
    ):
        if _check_int(value, name) < 0:
            raise ValueError(f"{name} must not be negative, got {value}")
    if days == 0:
        raise ValueError("days must be positive")
    if remaining > days:
        raise ValueError(f"remaining ({remaining}) exceeds days in period ({days})")
    numerator = quantity * unit_price * remaining
    # floor(n / d + 1/2) == (2n + d) // 2d for n >= 0, d > 0: half-up.
    return (2 * numerator + days) // (2 * days)
