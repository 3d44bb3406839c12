from datetime import date

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.extensions import db
from portal.models.mixins import TimestampMixin

INVOICE_KINDS = ("period", "proration", "credit_note")


class InvoiceSequence(db.Model):
    """One gapless invoice-number sequence per partner; it never restarts.

    Taking a number is an UPDATE of this row inside the invoice's own
    transaction, so a rolled-back invoice gives its number back.
    """

    __tablename__ = "invoice_sequences"

    partner_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(10))
    last_number: Mapped[int] = mapped_column(default=0)


class Invoice(TimestampMixin, db.Model):
    """One charge to a client: the period invoice, or a prorated seat addition; or a credit note.

    A credit note (docs/rules.md rule 24) gives back seats removed within the
    cancellation window: its total and its lines' amounts and costs are
    negative, and ``credits_invoice_id`` names the invoice it credits (set on
    credit notes only, by a CHECK).

    Tax and parties (rule 25): ``total`` is net; ``tax`` is the total × ``tax_rate_bp`` / 10000
    rounded half-up (negative on a credit note, at the credited invoice's rate), and
    ``total_with_tax`` their sum. ``seller`` (the partner) and ``buyer`` (the client) are
    snapshots ``{legal_name, address, vat_number}`` taken at issue: a later change of legal
    details never rewrites an issued invoice. One currency per invoice: a period with types in
    several currencies is invoiced once per currency.
    """

    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("kind IN ('period', 'proration', 'credit_note')", name="kind"),
        # Credit notes are negative and name the invoice they credit; every other kind is neither.
        CheckConstraint("(kind = 'credit_note' AND total <= 0 AND credits_invoice_id IS NOT NULL) OR "
                        "(kind <> 'credit_note' AND total >= 0 AND credits_invoice_id IS NULL)", name="total_sign"),
        UniqueConstraint("partner_id", "sequence", name="uq_invoices_partner_id_sequence"),
        UniqueConstraint("partner_id", "number", name="uq_invoices_partner_id_number"),
        # Tax (docs/rules.md rule 25): a rate in basis points, and the total with tax is the net total plus the tax.
        CheckConstraint("tax_rate_bp >= 0 AND tax_rate_bp <= 10000", name="tax_rate_bp_range"),
        CheckConstraint("total_with_tax = total + tax", name="total_with_tax_sum"),
        # One period invoice per client, period and currency (each currency is invoiced apart, rule 25):
        # the billing run's idempotency rests on this index, not on a check in Python.
        Index(
            "uq_invoices_client_period",
            "client_id",
            "period_start",
            "currency",
            unique=True,
            sqlite_where=text("kind = 'period'"),
            postgresql_where=text("kind = 'period'"),
        ),
        Index("ix_invoices_client_id_issued_on", "client_id", "issued_on"),
        # A partner's documents by day of issue: the margin report and the operator's revenue figures.
        Index("ix_invoices_partner_id_issued_on", "partner_id", "issued_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    client_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    number: Mapped[str] = mapped_column(String(30))
    sequence: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    billing_cycle: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    issued_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int]
    tax_rate_bp: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    tax: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    total_with_tax: Mapped[int]
    tax_note: Mapped[str | None] = mapped_column(String(200))
    seller: Mapped[dict] = mapped_column(JSON)
    buyer: Mapped[dict] = mapped_column(JSON)
    credits_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))

    client: Mapped["Organisation"] = relationship(foreign_keys=[client_id])  # noqa: F821
    credits: Mapped["Invoice | None"] = relationship(remote_side=[id], foreign_keys=[credits_invoice_id])
    lines: Mapped[list["InvoiceLine"]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.id", cascade="all, delete-orphan"
    )


class InvoiceLine(db.Model):
    """One site and subscription type on an invoice (the per-site chargeback).

    Names and prices are copied at issue time: a later rename or price change
    never rewrites an issued invoice. So is the partner's cost (docs/rules.md
    rule 23): ``unit_cost`` is the list price less the partner's discount on the
    day of issue, ``cost`` the line's cost worked out like its ``amount``. Only
    ``margins.view`` ever reads them (the margin report).

    A credit note's line (rule 24) points at the line it credits
    (``credits_line_id``); the sign is on ``amount`` and ``cost`` only, which
    are negative there, while ``quantity``, ``unit_price`` and ``unit_cost``
    stay as invoiced (never negative). ``credited_quantity`` counts the seats
    of a prorated line already credited: never more than its quantity (a CHECK),
    raised by a conditional UPDATE so concurrent lowerings credit a seat once.
    """

    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("quantity >= 0 AND unit_price >= 0 AND unit_cost >= 0", name="prices_non_negative"),
        CheckConstraint("(credits_line_id IS NULL AND amount >= 0 AND cost >= 0) OR "
                        "(credits_line_id IS NOT NULL AND amount <= 0 AND cost <= 0)", name="amount_sign"),
        CheckConstraint("days > 0 AND days <= period_days", name="days_within_period"),
        CheckConstraint("credited_quantity >= 0 AND credited_quantity <= quantity", name="credited_within_quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    subscription_type_id: Mapped[int] = mapped_column(ForeignKey("subscription_types.id"))
    site_name: Mapped[str] = mapped_column(String(200))
    subscription_type_code: Mapped[str] = mapped_column(String(40))
    subscription_type_name: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int]
    unit_price: Mapped[int]
    days: Mapped[int]
    period_days: Mapped[int]
    amount: Mapped[int]
    unit_cost: Mapped[int]
    cost: Mapped[int]
    credits_line_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_lines.id"))
    credited_quantity: Mapped[int] = mapped_column(default=0, server_default=text("0"))

    invoice: Mapped[Invoice] = relationship(back_populates="lines")
