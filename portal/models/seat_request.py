"""Seat requests (docs/rules.md rule 29): "ask a finance administrator", made a workflow."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.billing import Invoice
from portal.models.catalogue import SubscriptionType
from portal.models.mixins import UTCDateTime, utcnow
from portal.models.organisation import Organisation
from portal.models.site import Site
from portal.models.user import User

SEAT_REQUEST_STATUSES = ("pending", "approved", "declined")
# The most seats one request may ask for (the API's and the service's bound, and the CHECK's).
MAX_REQUESTED_SEATS = 1000
# The longest note or reason, in characters.
MAX_NOTE_LENGTH = 2000


class SeatRequest(db.Model):
    """A request for ``quantity`` seats of one type at one site, decided once by finance.

    ``pending`` until approved (the seats bought through the one purchase path,
    ``invoice_id`` the prorated invoice if any, ``user_id`` the carried user if
    created) or declined (``reason``). The carried user (``user_email``,
    ``user_name``, ``send_invitation``) is all three or none. ``client_id``
    repeats the site's client, so a partner's queue and its count read one
    index without joining the sites.
    """

    __tablename__ = "seat_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'declined')", name="status"),
        CheckConstraint(f"quantity >= 1 AND quantity <= {MAX_REQUESTED_SEATS}", name="quantity_range"),
        CheckConstraint("(user_email IS NULL) = (user_name IS NULL) AND "
                        "(user_email IS NULL) = (send_invitation IS NULL)", name="user_complete"),
        CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name="decided"),
        CheckConstraint("status <> 'declined' OR reason IS NOT NULL", name="declined_reason"),
        # Finance's queue and the navigation's count: the pending requests of a partner's clients
        # (client_id IN the partner's clients), or of one client.
        Index("ix_seat_requests_status_client_id", "status", "client_id"),
        # One client's requests, newest first (the client's history, a client admin's list).
        Index("ix_seat_requests_client_id_requested_at", "client_id", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    subscription_type_id: Mapped[int] = mapped_column(ForeignKey("subscription_types.id"))
    quantity: Mapped[int]
    note: Mapped[str | None] = mapped_column(String(MAX_NOTE_LENGTH))
    # The user the requester was creating when they met "no free seat", created on approval.
    user_email: Mapped[str | None] = mapped_column(String(254))
    user_name: Mapped[str | None] = mapped_column(String(200))
    send_invitation: Mapped[bool | None]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(MAX_NOTE_LENGTH))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    client: Mapped[Organisation] = relationship()
    site: Mapped[Site] = relationship()
    subscription_type: Mapped[SubscriptionType] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    invoice: Mapped[Invoice | None] = relationship()
    created_user: Mapped[User | None] = relationship(foreign_keys=[user_id])

    @property
    def pending(self) -> bool:
        return self.status == "pending"

    def __repr__(self) -> str:
        return f"<SeatRequest {self.id} {self.status} {self.quantity}>"
