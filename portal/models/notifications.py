"""Who asked not to be told: the e-mail notifications a user turned off (docs/rules.md rule 33)."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.extensions import db
from portal.models.mixins import UTCDateTime, utcnow

# The notifications of rule 33, each of which a user may turn off on the account page.
NOTIFICATION_TOPICS = ("invoice_issued", "site_running_out", "seat_request_created", "seat_request_decided")


class NotificationOptOut(db.Model):
    """One notification ``topic`` that user ``user_id`` turned off.

    Every notification is on until its user turns it off, so only the
    exceptions are rows: a new user is told everything their roles concern.
    """

    __tablename__ = "notification_opt_outs"
    __table_args__ = (
        CheckConstraint("topic IN ('invoice_issued', 'site_running_out', 'seat_request_created', "
                        "'seat_request_decided')", name="topic"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    topic: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
