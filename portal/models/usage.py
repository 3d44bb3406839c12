"""The seats' history (docs/rules.md rule 34): one row per counter that changed on a day, not a daily copy.

A row holds the day's net change of ``allocated`` and ``consumed`` of one
site and type; the value at the end of any past day is today's counter minus
the changes of the days after it. Sites that do not move cost nothing, and a
site-year is at most 365 small rows per type.
"""
from datetime import date

from sqlalchemy import Date, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db


class SeatChange(db.Model):
    """The net change of one site's counters of one type on one UTC day.

    ``client_id`` and ``partner_id`` are copies of the site's owners (a site
    never changes client), so a client's or a partner's changes over a range
    are read through one index, without joining sites and clients.
    """

    __tablename__ = "seat_history"
    __table_args__ = (
        Index("ix_seat_history_client_id_day", "client_id", "day"),
        Index("ix_seat_history_partner_id_day", "partner_id", "day"),
        # SQLite: the primary key is the table (no rowid): a site's range is one contiguous read.
        {"sqlite_with_rowid": False},
    )

    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True)
    subscription_type_id: Mapped[int] = mapped_column(ForeignKey("subscription_types.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    # Copies of the site's owners, without foreign keys of their own: the site's key already ties the row
    # to them, and two more keys checked on every row made demo scale's bulk load three times slower.
    client_id: Mapped[int]
    partner_id: Mapped[int]
    allocated_change: Mapped[int] = mapped_column(default=0)
    consumed_change: Mapped[int] = mapped_column(default=0)


class PartnerSeatChange(db.Model):
    """The net change of a partner's seat totals of one type on one UTC day.

    Written next to ``PartnerSeatTotal`` by the same counter helper, so the
    partner's and the operator's charts read a few rows per day whatever the
    number of clients.
    """

    __tablename__ = "partner_seat_history"
    __table_args__ = ({"sqlite_with_rowid": False},)

    partner_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True)
    subscription_type_id: Mapped[int] = mapped_column(ForeignKey("subscription_types.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    allocated_change: Mapped[int] = mapped_column(default=0)
    consumed_change: Mapped[int] = mapped_column(default=0)
