from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.mixins import TimestampMixin


class SubscriptionType(TimestampMixin, db.Model):
    """A product sold per seat. Prices are integer minor units of ``currency``."""

    __tablename__ = "subscription_types"
    __table_args__ = (
        CheckConstraint("monthly_price >= 0", name="monthly_price_non_negative"),
        CheckConstraint("annual_price >= 0", name="annual_price_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    monthly_price: Mapped[int]
    annual_price: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))

    def __repr__(self) -> str:
        return f"<SubscriptionType {self.code}>"
