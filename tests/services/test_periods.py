"""Billing period arithmetic: docs/rules.md rules 8-13."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from portal.domain.billing.periods import (
    add_period,
    days_in_period,
    prorate,
    remaining_days,
)

D = date.fromisoformat


# -- add_period -----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "anchor_day", "expected"),
    [
        # ordinary mid-month dates
        ("2027-03-15", None, "2027-04-15"),
        ("2027-01-01", None, "2027-02-01"),
        ("2027-06-10", 10, "2027-07-10"),
        # December -> January changes the year
        ("2027-12-15", None, "2028-01-15"),
        ("2027-12-31", None, "2028-01-31"),
        ("2027-12-01", 1, "2028-01-01"),
        # anchored on the 31st: clamp to the month end, return to the 31st
        ("2027-01-31", None, "2027-02-28"),
        ("2027-01-31", 31, "2027-02-28"),
        ("2027-02-28", 31, "2027-03-31"),
        ("2027-03-31", 31, "2027-04-30"),
        ("2027-04-30", 31, "2027-05-31"),
        ("2027-08-31", 31, "2027-09-30"),
        ("2027-11-30", 31, "2027-12-31"),
        ("2028-01-31", 31, "2028-02-29"),  # leap year
        ("2028-02-29", 31, "2028-03-31"),
        # anchored on the 30th: February ends on 28/29, then back to the 30th
        ("2027-01-30", 30, "2027-02-28"),
        ("2027-02-28", 30, "2027-03-30"),
        ("2028-01-30", 30, "2028-02-29"),
        ("2028-02-29", 30, "2028-03-30"),
        ("2027-03-30", 30, "2027-04-30"),
        # anchored on the 29th
        ("2027-01-29", 29, "2027-02-28"),
        ("2027-02-28", 29, "2027-03-29"),
        ("2028-01-29", 29, "2028-02-29"),
        ("2028-02-29", 29, "2028-03-29"),
        # anchor defaults to start.day: a 28 Feb start stays on the 28th
        ("2027-02-28", None, "2027-03-28"),
    ],
)
def test_add_period_monthly(start, anchor_day, expected):
    assert add_period(D(start), "monthly", anchor_day) == D(expected)


@pytest.mark.parametrize(
    ("start", "anchor_day", "expected"),
    [
        ("2027-03-15", None, "2028-03-15"),
        ("2027-12-31", None, "2028-12-31"),
        ("2027-01-01", 1, "2028-01-01"),
        ("2028-02-29", None, "2029-02-28"),
        ("2028-02-29", 29, "2029-02-28"),
        ("2029-02-28", 29, "2030-02-28"),
        ("2031-02-28", 29, "2032-02-29"),
        ("2029-02-28", None, "2030-02-28"),
        ("2027-02-28", 31, "2028-02-29"),
    ],
)
def test_add_period_annual(start, anchor_day, expected):
    assert add_period(D(start), "annual", anchor_day) == D(expected)


def test_add_period_chain_monthly_31st_through_a_leap_year():
    starts = [D("2027-12-31")]
    for _ in range(14):
        starts.append(add_period(starts[-1], "monthly", 31))
    assert [d.isoformat() for d in starts] == [
        "2027-12-31",
        "2028-01-31",
        "2028-02-29",
        "2028-03-31",
        "2028-04-30",
        "2028-05-31",
        "2028-06-30",
        "2028-07-31",
        "2028-08-31",
        "2028-09-30",
        "2028-10-31",
        "2028-11-30",
        "2028-12-31",
        "2029-01-31",
        "2029-02-28",
    ]


def test_add_period_chain_annual_from_feb_29():
    starts = [D("2028-02-29")]
    for _ in range(4):
        starts.append(add_period(starts[-1], "annual", 29))
    assert starts == [
        D("2028-02-29"),
        D("2029-02-28"),
        D("2030-02-28"),
        D("2031-02-28"),
        D("2032-02-29"),
    ]


@pytest.mark.parametrize("cycle", ["weekly", "Monthly", "ANNUAL", "", None, 1])
def test_add_period_unknown_cycle(cycle):
    with pytest.raises(ValueError, match="unknown billing cycle"):
        add_period(D("2027-01-15"), cycle)


def test_add_period_unknown_cycle_message_names_it():
    with pytest.raises(ValueError) as excinfo:
        add_period(D("2027-01-15"), "x")
    assert str(excinfo.value) == "unknown billing cycle 'x'"


@pytest.mark.parametrize("anchor_day", [0, 32, -1, True, 15.0, "15"])
def test_add_period_invalid_anchor_day(anchor_day):
    with pytest.raises(ValueError):
        add_period(D("2027-01-15"), "monthly", anchor_day)


@pytest.mark.parametrize(
    ("start", "anchor_day"),
    [
        ("2027-01-15", 31),  # not on the billing day
        ("2027-01-30", 31),  # January has a 31st
        ("2027-02-27", 31),  # February's clamp is the 28th
        ("2028-02-28", 29),  # leap February has a 29th
    ],
)
def test_add_period_start_not_on_anchor(start, anchor_day):
    with pytest.raises(ValueError, match="not on billing day"):
        add_period(D(start), "monthly", anchor_day)


@pytest.mark.parametrize("start", [datetime(2027, 1, 15), "2027-01-15", None])
def test_add_period_rejects_non_dates(start):
    with pytest.raises(ValueError):
        add_period(start, "monthly")


def test_add_period_out_of_date_range():
    with pytest.raises(ValueError):
        add_period(date(9999, 12, 15), "monthly")


# -- days_in_period / remaining_days -------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2027-01-31", "2027-02-28", 28),
        ("2027-02-28", "2027-03-31", 31),
        ("2028-01-31", "2028-02-29", 29),
        ("2027-02-01", "2027-03-01", 28),
        ("2028-02-01", "2028-03-01", 29),
        ("2027-12-15", "2028-01-15", 31),
        ("2027-01-01", "2028-01-01", 365),
        ("2028-01-01", "2029-01-01", 366),
        ("2028-02-29", "2029-02-28", 365),
        ("2027-01-01", "2027-01-02", 1),
    ],
)
def test_days_in_period(start, end, expected):
    assert days_in_period(D(start), D(end)) == expected


@pytest.mark.parametrize(("start", "end"), [("2027-01-01", "2027-01-01"), ("2027-02-01", "2027-01-01")])
def test_days_in_period_empty_or_reversed(start, end):
    with pytest.raises(ValueError):
        days_in_period(D(start), D(end))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("2027-01-01", 31),  # first day: the full period
        ("2027-01-02", 30),
        ("2027-01-15", 17),
        ("2027-01-31", 1),  # last day
    ],
)
def test_remaining_days(change, expected):
    assert remaining_days(D(change), D("2027-01-01"), D("2027-02-01")) == expected


def test_remaining_days_first_day_is_full_period():
    start, end = D("2028-02-29"), D("2028-03-31")
    assert remaining_days(start, start, end) == days_in_period(start, end) == 31


@pytest.mark.parametrize("change", ["2026-12-31", "2027-02-01", "2027-03-01"])
def test_remaining_days_outside_period(change):
    with pytest.raises(ValueError, match="outside the period"):
        remaining_days(D(change), D("2027-01-01"), D("2027-02-01"))


def test_remaining_days_invalid_period():
    with pytest.raises(ValueError):
        remaining_days(D("2027-01-01"), D("2027-01-01"), D("2027-01-01"))


# -- prorate --------------------------------------------------------------


@pytest.mark.parametrize(
    ("quantity", "unit_price", "remaining", "days", "expected"),
    [
        (3, 1000, 17, 31, 1645),  # 3 × 10.00 × 17/31 = 16.4516… → 16.45
        (1, 1, 1, 2, 1),  # 0.5 → 1 (half-up, not banker's 0)
        (1, 3, 1, 2, 2),  # 1.5 → 2
        (1, 5, 1, 2, 3),  # 2.5 → 3 (banker's would give 2)
        (1, 1, 1, 3, 0),  # 0.333… → 0
        (1, 2, 1, 3, 1),  # 0.666… → 1
        (1, 1, 149, 300, 0),  # 0.4966… → 0
        (1, 1, 151, 300, 1),  # 0.5033… → 1
        (0, 1000, 17, 31, 0),  # no seats
        (3, 0, 17, 31, 0),  # free type
        (3, 1000, 0, 31, 0),  # nothing left
        (3, 1000, 31, 31, 3000),  # full period → quantity × price
        (7, 1999, 365, 365, 13993),
        (1, 1000, 1, 31, 32),  # 32.258… → 32
        (2, 2999, 10, 28, 2142),  # 2142.142… → 2142
        (1, 1550, 15, 31, 750),  # 1550 × 15/31 = 750 exactly
        (5, 1234, 200, 366, 3372),  # 3371.58… → 3372
    ],
)
def test_prorate_vectors(quantity, unit_price, remaining, days, expected):
    assert prorate(quantity, unit_price, remaining, days) == expected


def test_prorate_rounds_once_on_the_total_not_per_seat():
    # per seat: 1000 × 17/31 = 548.387 → 548, × 3 = 1644; rounding once gives 1645
    assert prorate(3, 1000, 17, 31) == 1645
    assert 3 * prorate(1, 1000, 17, 31) == 1644


def test_prorate_exact_on_values_where_float_fails():
    # 10**17 + 1 seats-cents is not representable in a float
    assert prorate(10**17 + 1, 1, 1, 1) == 10**17 + 1
    assert prorate(10**16 + 1, 3, 1, 2) == (3 * (10**16 + 1) + 1) // 2


def test_prorate_returns_int():
    assert type(prorate(3, 1000, 17, 31)) is int


@pytest.mark.parametrize(
    "args",
    [
        (-1, 1000, 17, 31),
        (3, -1000, 17, 31),
        (3, 1000, -1, 31),
        (3, 1000, 17, -31),
        (3, 1000, 0, 0),  # days must be > 0
        (3, 1000, 32, 31),  # remaining > days
        (True, 1000, 17, 31),  # bool rejected
        (3, False, 17, 31),
        (3, 1000, True, 31),
        (3, 1000, 1, True),
        (3.0, 1000, 17, 31),  # floats rejected
        (3, 10.0, 17, 31),
        (3, 1000, 17.0, 31),
        (3, 1000, 17, 31.0),
        ("3", 1000, 17, 31),
        (None, 1000, 17, 31),
    ],
)
def test_prorate_invalid(args):
    with pytest.raises(ValueError):
        prorate(*args)
