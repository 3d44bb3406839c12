"""A partner's own prices, and the prices a client's period is locked at (docs/rules.md rule 22).

Prices are integer minor units of the subscription type's currency: an entry
never names a currency of its own, so it cannot differ from the type's.
"""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.mixins import TimestampMixin, UTCDateTime, utcnow

_NON_NEGATIVE = "monthly_price >= 0 AND annual_price >= 0"


class PriceBookEntry(TimestampMixin, db.Model):
    """A partner's own monthly and annual price of one type; without one, the list price applies."""

    __tablename__ = "price_book_entries"
    __table_args__ = (
        PrimaryKeyConstraint("partner_id", "subscription_type_id"),
        CheckConstraint(_NON_NEGATIVE, name="prices_non_negative"),
    )

    partner_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    subscription_type_id: Mapped[int] = mapped_column(ForeignKey("subscription_types.id"))
    monthly_price: Mapped[int]
    annual_price: Mapped[int]
    # When the prices were last set: "set on …" on the screens.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClientPrice(TimestampMixin, db.Model):
    """A client's own monthly and annual price of one type; without one, its partner's price book applies."""

    __tablename__ = "client_prices"
    __table_args__ = (
        PrimaryKeyConstraint("client_id", "subscription_type_id"),
        CheckConstraint(_NON_NEGATIVE, name="prices_non_negative"),
    )

    client_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    subscription_type_id: Mapped[int] = mapped_column(ForeignKey("subscription_types.id"))
    monthly_price: Mapped[int]
    annual_price: Mapped[int]
    # When the prices were last set: "set on …" on the screens.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PeriodPrice(db.Model):
    """The unit price of one type for one period of a client, fixed when the period opens (rule 22).

    Written once, for every catalogue type, when the period's invoice is
    issued (or, for a type the catalogue gained later, the first time the
    period needs it): the period invoice and every prorated invoice of the
    period read it, so a price changed mid-period reaches the client at its
    next period only. ``billing_cycle`` is the period's: the price is that
    cycle's.
    """

    __tablename__ = "period_prices"
    __table_args__ = (
        PrimaryKeyConstraint("client_id", "period_start", "subscription_type_id"),
        CheckConstraint("unit_price >= 0", name="unit_price_non_negative"),
    )

    client_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    period_start: Mapped[date] = mapped_column(Date)
    subscription_type_id: Mapped[int] = mapped_column(ForeignKey("subscription_types.id"))
    billing_cycle: Mapped[str] = mapped_column(String(16))
    unit_price: Mapped[int]
