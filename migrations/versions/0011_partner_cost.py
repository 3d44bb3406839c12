"""partner cost: the operator's discount per partner, the cost copied on every invoice line

docs/rules.md section 8 and rule 23 (issue 13, first part). ``discount_bp`` on
organisations (basis points, 0-10000 by a CHECK; 0 for every existing row and
by default: only partners use it). ``unit_cost`` and ``cost`` on invoice
lines, NOT NULL and never negative (a CHECK, as for the amount): the partner's
unit cost on the day of issue and the line's cost, worked out like its amount.

Back-fill: discounts did not exist before this revision, so every line issued
until now was issued at a discount of 0: its unit cost is its unit price and
its cost its amount (``unit_cost = unit_price, cost = amount``). The columns
are added nullable, filled, then made NOT NULL (batch mode, for SQLite).

An index on invoices (partner_id, issued_on): the margin report and the
operator's revenue figures read a partner's documents by day of issue.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discount_bp', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.create_check_constraint('discount_bp_range', 'discount_bp >= 0 AND discount_bp <= 10000')

    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_cost', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cost', sa.Integer(), nullable=True))

    # Issued at a discount of 0 (there were no discounts): the cost is what the line charged.
    op.execute('UPDATE invoice_lines SET unit_cost = unit_price, cost = amount')

    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.alter_column('unit_cost', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('cost', existing_type=sa.Integer(), nullable=False)
        batch_op.create_check_constraint('cost_non_negative', 'unit_cost >= 0 AND cost >= 0')

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index('ix_invoices_partner_id_issued_on', ['partner_id', 'issued_on'], unique=False)


def downgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_partner_id_issued_on')

    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoice_lines_cost_non_negative'), type_='check')
        batch_op.drop_column('cost')
        batch_op.drop_column('unit_cost')

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_organisations_discount_bp_range'), type_='check')
        batch_op.drop_column('discount_bp')
