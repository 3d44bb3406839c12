from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.catalogue import SubscriptionType
from portal.models.mixins import TimestampMixin


class Site(TimestampMixin, db.Model):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("client_id", "name", name="uq_sites_client_id_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by uq_sites_client_id_name, whose first column it is.
    client_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(200))

    client: Mapped["Organisation"] = relationship(back_populates="sites")  # noqa: F821
    allocations: Mapped[list["Allocation"]] = relationship(back_populates="site")

    def __repr__(self) -> str:
        return f"<Site {self.id} {self.name!r}>"


class Allocation(db.Model):
    """Seats of one subscription type at one site: bought and in use.

    These two counters are what every dashboard reads; only
    ``portal.domain.seats.counters`` changes them.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        UniqueConstraint("site_id", "subscription_type_id", name="uq_allocations_site_id_type"),
        CheckConstraint("consumed >= 0 AND consumed <= allocated", name="consumed_within_allocated"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    subscription_type_id: Mapped[int] = mapped_column(ForeignKey("subscription_types.id"))
    allocated: Mapped[int] = mapped_column(default=0)
    consumed: Mapped[int] = mapped_column(default=0)

    site: Mapped[Site] = relationship(back_populates="allocations")
    subscription_type: Mapped[SubscriptionType] = relationship()

    @property
    def free(self) -> int:
        return self.allocated - self.consumed


class PartnerSeatTotal(db.Model):
    """Per partner and type, the sums of its clients' allocation counters.

    Kept in step by ``portal.domain.seats.counters`` in the same statement batch as
    every counter change, so the partner overview reads a handful of rows
    whatever the number of clients, sites and users.
    """

    __tablename__ = "partner_seat_totals"
    # No CHECK here: the upsert that moves these sums proposes a row of deltas
    # (possibly negative) before it meets the existing one, and both databases
    # check constraints on that proposed row. The invariant lives on allocations.

    partner_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    subscription_type_id: Mapped[int] = mapped_column(ForeignKey("subscription_types.id"), primary_key=True)
    allocated: Mapped[int] = mapped_column(default=0)
    consumed: Mapped[int] = mapped_column(default=0)
