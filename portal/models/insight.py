"""The day's insight baselines (docs/rules.md rule 36): a partner's three lists, worked out once a day.

Insight ranks every allocation of a partner by figures over the last 30
days; worked out on each request, the page cost about 80 ms at 2,000 clients.
Most of those figures are fixed for the whole UTC day (the end-of-day values
of past days do not change), and the rest move only with the counters, which
record each day's changes in ``seat_history``. So a baseline holds, per
allocation, the day's fixed figures and its list rows as they were when it was
built; a request takes the rows of the allocations that have not moved since
(through the indexes below, in the list's order) and works out the few that
have (``portal.domain.insights.baselines``). Prices, cycles, names and the
rest come with an outbox event: a baseline older than the partner's last such
event is not used (the live statement answers) until it is built again.
"""
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.mixins import UTCDateTime

# The rows a list shows first come first in its index: rule 36's whole order, down to the ids, so a page
# of 50 reads 50 index entries however many rows tie on the amount. Queries repeat these conditions word
# for word (a literal 0, not a parameter), or SQLite cannot tell that the partial index applies. (Alembic's
# comparison skips indexes with an expression such as DESC: tests/test_migrations.py says so.)
_IDLE_WHERE = text("idle_seats > 0")
_RUNNING_OUT_WHERE = text("days_left IS NOT NULL")


class InsightBaseline(db.Model):
    """One partner's baseline: the day it is for, how it was built, and how many rows each list had then."""

    __tablename__ = "insight_baselines"

    partner_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date]  # the UTC day the fixed figures are for: a baseline of another day is never read
    # The partner's outbox events up to this id were settled (committed) when it was built; a later
    # event other than a seat's own change means prices, cycles or names may have moved.
    settled_event_id: Mapped[int] = mapped_column(BigInteger)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime)
    idle_listed: Mapped[int]
    running_out_listed: Mapped[int]
    revenue_listed: Mapped[int]


class SeatBaseline(db.Model):
    """One allocation of the baseline: its fixed figures for the day, and its idle and running-out rows.

    Fixed for the day (``day`` of the partner's ``InsightBaseline``): ``least_free``, the least free
    count at the end of the 30 days before today; ``consumed_then`` and ``allocated_then``, the counts at
    the end of today − 30. ``today_allocated_change`` / ``today_consumed_change``: today's history row
    when the baseline was built; while the row still says so, the counters have not moved since and the
    list columns below are still right.
    """

    __tablename__ = "insight_seat_baselines"
    __table_args__ = (
        Index("ix_insight_seat_baselines_idle", "partner_id", text("saving_per_period DESC"), text("idle_seats DESC"),
              "client_name", "client_id", "site_name", "site_id", "subscription_type_id",
              sqlite_where=_IDLE_WHERE, postgresql_where=_IDLE_WHERE),
        Index("ix_insight_seat_baselines_running_out", "partner_id", "days_left", "free", "client_name",
              "client_id", "site_name", "site_id", "subscription_type_id",
              sqlite_where=_RUNNING_OUT_WHERE, postgresql_where=_RUNNING_OUT_WHERE),
        {"sqlite_with_rowid": False},
    )

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    subscription_type_id: Mapped[int] = mapped_column(ForeignKey("subscription_types.id"), primary_key=True)
    partner_id: Mapped[int]  # copies of the site's owners, as in seat_history
    client_id: Mapped[int]
    today_allocated_change: Mapped[int]
    today_consumed_change: Mapped[int]
    least_free: Mapped[int]
    consumed_then: Mapped[int]
    allocated_then: Mapped[int]
    # The list rows' own columns (names copied for the order; a rename is an event, so the baseline goes).
    client_name: Mapped[str] = mapped_column(String(200))
    site_name: Mapped[str] = mapped_column(String(200))
    subscription_type: Mapped[str] = mapped_column(String(40))
    subscription_type_name: Mapped[str] = mapped_column(String(100))
    idle_seats: Mapped[int]  # 0: not idle
    saving_per_period: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    cycle: Mapped[str | None] = mapped_column(String(16))
    allocated: Mapped[int]
    free: Mapped[int]
    growth: Mapped[int]
    days_left: Mapped[int | None]  # set on the running-out rows only (0: no seat free)


class RevenueBaseline(db.Model):
    """One client's MRR row of the baseline (one per currency it pays in)."""

    __tablename__ = "insight_revenue_baselines"
    __table_args__ = (
        Index("ix_insight_revenue_baselines_mrr", "partner_id", text("mrr DESC"), "client_name", "client_id",
              "currency"),
    )

    client_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    partner_id: Mapped[int]
    client_name: Mapped[str] = mapped_column(String(200))
    cycle: Mapped[str] = mapped_column(String(16))
    mrr: Mapped[int] = mapped_column(BigInteger)
    change_30d: Mapped[int] = mapped_column(BigInteger)


class RevenueTotalBaseline(db.Model):
    """The partner's MRR and its change in one currency, over every client of the baseline."""

    __tablename__ = "insight_revenue_totals"

    partner_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    mrr: Mapped[int] = mapped_column(BigInteger)
    change_30d: Mapped[int] = mapped_column(BigInteger)
