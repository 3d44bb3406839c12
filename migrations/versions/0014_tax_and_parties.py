"""tax and parties: legal details, invoice snapshots, one period invoice per currency (docs/rules.md rule 25)

``organisations`` gains the legal and tax details, all nullable:
``legal_name`` (String 200), ``address`` (Text; a client's billing address,
a partner's registered one, several lines), ``vat_number`` (String 40),
``billing_email`` (String 254, clients only), ``tax_rate_bp`` (basis points)
and ``tax_note`` (String 200, e.g. a reverse-charge mention). A partner's
``tax_rate_bp`` is the default of its clients and is never null (CHECK
``partner_tax_rate``; the model gives a new partner 0); a client's is null to
follow its partner's. CHECK ``tax_rate_bp_range``: null or 0-10000.

``invoices`` gains the tax and the parties: ``tax_rate_bp`` and ``tax`` (NOT
NULL, server default 0), ``total_with_tax`` (NOT NULL; CHECK
``total_with_tax_sum``: total + tax), ``tax_note`` (nullable), and ``seller``
and ``buyer`` (JSON, NOT NULL): snapshots ``{legal_name, address,
vat_number}`` of the partner and the client taken at issue, so a later change
of legal details never rewrites an issued invoice. CHECK
``tax_rate_bp_range``: 0-10000.

The unique index ``uq_invoices_client_period`` (client, period start, where
kind = 'period') gains the currency: one period invoice per client, period and
currency, for a period whose types are in several currencies is invoiced once
per currency. Every existing invoice was issued in the one catalogue
currency, so no existing row can break the wider index.

Back-fill: nothing was taxed before this revision. Every existing partner
gets ``tax_rate_bp`` 0 (clients keep null: they follow their partner's), and
every existing invoice ``tax_rate_bp`` 0, ``tax`` 0, ``total_with_tax`` =
``total``, and snapshots made of the organisations' names as they are now
(there were no legal details: the legal name falls back to the name, address
and VAT number are ""), one UPDATE per organisation. The columns are added
nullable, filled, then made NOT NULL and checked (batch mode, for SQLite).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

PERIOD = sa.text("kind = 'period'")


def upgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('address', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('vat_number', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('billing_email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('tax_rate_bp', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tax_note', sa.String(length=200), nullable=True))
    op.execute("UPDATE organisations SET tax_rate_bp = 0 WHERE kind = 'partner'")
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.create_check_constraint('tax_rate_bp_range',
                                         'tax_rate_bp IS NULL OR (tax_rate_bp >= 0 AND tax_rate_bp <= 10000)')
        batch_op.create_check_constraint('partner_tax_rate', "kind <> 'partner' OR tax_rate_bp IS NOT NULL")

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tax_rate_bp', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('tax', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('total_with_tax', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('tax_note', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('seller', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('buyer', sa.JSON(), nullable=True))

    _back_fill_invoices()

    op.drop_index('uq_invoices_client_period', table_name='invoices', sqlite_where=PERIOD, postgresql_where=PERIOD)
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.alter_column('total_with_tax', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('seller', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('buyer', existing_type=sa.JSON(), nullable=False)
        batch_op.create_check_constraint('tax_rate_bp_range', 'tax_rate_bp >= 0 AND tax_rate_bp <= 10000')
        batch_op.create_check_constraint('total_with_tax_sum', 'total_with_tax = total + tax')
    op.create_index('uq_invoices_client_period', 'invoices', ['client_id', 'period_start', 'currency'], unique=True,
                    sqlite_where=PERIOD, postgresql_where=PERIOD)


def _back_fill_invoices():
    """Nothing was taxed: total with tax = total. The parties as named now (no legal details existed)."""
    op.execute('UPDATE invoices SET total_with_tax = total')
    connection = op.get_bind()
    organisations = sa.table('organisations', sa.column('id', sa.Integer()), sa.column('name', sa.String()))
    invoices = sa.table('invoices', sa.column('partner_id', sa.Integer()), sa.column('client_id', sa.Integer()),
                        sa.column('seller', sa.JSON()), sa.column('buyer', sa.JSON()))
    named = connection.execute(sa.select(organisations.c.id, organisations.c.name).where(
        organisations.c.id.in_(sa.select(invoices.c.partner_id).union(sa.select(invoices.c.client_id))))).all()
    for organisation_id, name in named:
        snapshot = {"legal_name": name, "address": "", "vat_number": ""}
        connection.execute(invoices.update().where(invoices.c.partner_id == organisation_id).values(seller=snapshot))
        connection.execute(invoices.update().where(invoices.c.client_id == organisation_id).values(buyer=snapshot))


def downgrade():
    # Two period invoices of one client and period (two currencies) cannot both stay under the narrower
    # index: refuse rather than delete invoices.
    connection = op.get_bind()
    clash = connection.execute(sa.text(
        "SELECT client_id, period_start FROM invoices WHERE kind = 'period' "
        "GROUP BY client_id, period_start HAVING COUNT(*) > 1")).first()
    if clash is not None:
        raise RuntimeError(f"client {clash[0]} has several period invoices from {clash[1]} (one per currency): "
                           "revision 0013 allows one; remove or merge them first")
    op.drop_index('uq_invoices_client_period', table_name='invoices', sqlite_where=PERIOD, postgresql_where=PERIOD)
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_total_with_tax_sum'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoices_tax_rate_bp_range'), type_='check')
        batch_op.drop_column('buyer')
        batch_op.drop_column('seller')
        batch_op.drop_column('tax_note')
        batch_op.drop_column('total_with_tax')
        batch_op.drop_column('tax')
        batch_op.drop_column('tax_rate_bp')
    op.create_index('uq_invoices_client_period', 'invoices', ['client_id', 'period_start'], unique=True,
                    sqlite_where=PERIOD, postgresql_where=PERIOD)

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_organisations_partner_tax_rate'), type_='check')
        batch_op.drop_constraint(op.f('ck_organisations_tax_rate_bp_range'), type_='check')
        batch_op.drop_column('tax_note')
        batch_op.drop_column('tax_rate_bp')
        batch_op.drop_column('billing_email')
        batch_op.drop_column('vat_number')
        batch_op.drop_column('address')
        batch_op.drop_column('legal_name')
