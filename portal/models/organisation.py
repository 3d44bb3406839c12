from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.mixins import TimestampMixin, UTCDateTime

ORGANISATION_KINDS = ("operator", "partner", "client")
# The one list of billing cycles: constraints, forms, the API schema and period arithmetic read it.
BILLING_CYCLES = ("monthly", "annual")


def _default_tax_rate(context):
    """A new partner's tax rate is 0 (its clients' default); other organisations have none of their own."""
    return 0 if context.get_current_parameters().get("kind") == "partner" else None


class Organisation(TimestampMixin, db.Model):
    """The operator, a partner (reseller) or a client of a partner.

    Clients hang under their partner through ``parent_id``; partners under the
    operator. Every user belongs to exactly one organisation.
    """

    __tablename__ = "organisations"
    __table_args__ = (
        CheckConstraint("kind IN ('operator', 'partner', 'client')", name="kind"),
        CheckConstraint(f"billing_cycle IS NULL OR billing_cycle IN {BILLING_CYCLES}", name="billing_cycle"),
        CheckConstraint(f"pending_billing_cycle IS NULL OR pending_billing_cycle IN {BILLING_CYCLES}",
                        name="pending_billing_cycle"),
        CheckConstraint("period_start IS NULL OR period_start < period_end", name="period_order"),
        CheckConstraint("language IS NULL OR language IN ('en', 'fr', 'pl')", name="language"),
        CheckConstraint("discount_bp >= 0 AND discount_bp <= 10000", name="discount_bp_range"),
        # docs/rules.md rule 25: a tax rate in basis points; a partner always has one (its clients' default).
        CheckConstraint("tax_rate_bp IS NULL OR (tax_rate_bp >= 0 AND tax_rate_bp <= 10000)",
                        name="tax_rate_bp_range"),
        CheckConstraint("kind <> 'partner' OR tax_rate_bp IS NOT NULL", name="partner_tax_rate"),
        UniqueConstraint("parent_id", "name", name="uq_organisations_parent_id_name"),
        # The per-client list: a search's count and the operator's read this index alone (the unique
        # one above lacks ``kind``: counting 2,000 clients read 2,000 table rows; a partner's whole
        # list reads ``client_count``),
        # and its page comes off it in name order, ids breaking ties (without ``id``
        # PostgreSQL sorted all 20,000 clients of a partner for each page).
        Index("ix_organisations_kind_parent_id_name_id", "kind", "parent_id", "name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    # Clients only: the cycle chosen at creation (billing rules build on it).
    billing_cycle: Mapped[str | None] = mapped_column(String(16))
    # Clients only: the billing state (docs/rules.md rules 8-12). A period runs from
    # period_start (inclusive) to period_end (exclusive); periods are anchored
    # on billing_anchor_day so a client that starts on the 31st returns to it.
    billing_anchor_day: Mapped[int | None]
    period_start: Mapped[date | None] = mapped_column(Date)
    period_end: Mapped[date | None] = mapped_column(Date)
    pending_billing_cycle: Mapped[str | None] = mapped_column(String(16))
    pending_effective_on: Mapped[date | None] = mapped_column(Date)
    # The first day after the trial: the first period starts then.
    trial_ends_on: Mapped[date | None] = mapped_column(Date)
    # Clients only: when "Synchronise consumed seats" last ran.
    seats_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every user of this organisation must use two-step verification (docs/rules.md
    # rule 38); the operator's flag also covers every partner's users.
    require_two_step: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The language of the invitations this organisation sends (docs/rules.md rule 37):
    # a client's for its users, a partner's for its staff; None is English.
    language: Mapped[str | None] = mapped_column(String(8))
    # Partners only: the operator's discount off the list price, in basis points (2000 = 20 %);
    # the partner's unit cost (docs/rules.md section 8, portal.domain.billing.prices). 0 elsewhere.
    discount_bp: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Partners only: how many clients it has, kept by ``clients.add_clients`` as clients are created
    # (they are never deleted nor moved): the client list's total without counting 20,000 rows (issue 17).
    client_count: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Partners only: its clients' pending seat requests, kept by ``portal.domain.seats.requests`` as they are
    # made and decided: the count in finance's navigation, on every page, without counting them (issue 17).
    pending_seat_requests: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Legal and tax details (docs/rules.md rule 25), printed on invoices (copied onto each at issue).
    # Empty until set: an invoice then names the organisation by ``name``, with no address or VAT number.
    legal_name: Mapped[str | None] = mapped_column(String(200))
    # A client's billing address; a partner's registered address. Several lines.
    address: Mapped[str | None] = mapped_column(Text)
    vat_number: Mapped[str | None] = mapped_column(String(40))
    # Clients only: where invoices are meant to go.
    billing_email: Mapped[str | None] = mapped_column(String(254))
    # Basis points (2000 = 20 %). A partner's is the default of its clients (0 unless set; never null, by a
    # CHECK); a client's is null to follow its partner's. ``portal.domain.orgs.legal.tax_terms`` reads both.
    tax_rate_bp: Mapped[int | None] = mapped_column(default=_default_tax_rate)
    # Printed under the totals, e.g. "VAT reverse charge — Article 196, Directive 2006/112/EC".
    tax_note: Mapped[str | None] = mapped_column(String(200))

    parent: Mapped["Organisation | None"] = relationship(remote_side=[id])
    sites: Mapped[list["Site"]] = relationship(  # noqa: F821
        back_populates="client", order_by="Site.name"
    )

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"

    @property
    def is_partner(self) -> bool:
        return self.kind == "partner"

    @property
    def is_client(self) -> bool:
        return self.kind == "client"

    @property
    def partner_id(self) -> int | None:
        """The partner this organisation belongs to (itself for a partner)."""
        if self.kind == "partner":
            return self.id
        if self.kind == "client":
            return self.parent_id
        return None

    def __repr__(self) -> str:
        return f"<Organisation {self.kind} {self.id} {self.name!r}>"
