"""credit notes: the cancellation window (docs/rules.md rule 24, issue 13 item 3)

A lowering within 7 days of the increase that bought the seats issues a credit
note: an invoice of kind ``credit_note`` whose total and lines' amounts and
costs are negative.

``invoices``: the ``kind`` CHECK gains ``credit_note``; ``credits_invoice_id``
(nullable, a foreign key to ``invoices``) names the invoice a credit note
credits. The ``total >= 0`` CHECK (``total_non_negative``) becomes
``total_sign``: a credit note has a total <= 0 and names the invoice it
credits; every other kind has a total >= 0 and names none.

``invoice_lines``: ``credits_line_id`` (nullable, a foreign key to
``invoice_lines``) names the line a credit note's line credits;
``credited_quantity`` (NOT NULL, default 0, between 0 and ``quantity`` by a
CHECK) counts the seats of a prorated line already credited, so a seat is
never credited twice. The sign is on ``amount`` and ``cost`` only: the CHECKs
``non_negative`` and ``cost_non_negative`` become ``prices_non_negative``
(quantity, unit price and unit cost never negative, on every line) and
``amount_sign`` (amount and cost >= 0 on lines that credit nothing, <= 0 on
lines that credit one).

Back-fill: none needed. Every existing invoice is a period or prorated
invoice with a total >= 0 and no credited invoice; every existing line
credits nothing and had none of its seats credited (the server default 0).
Batch mode, for SQLite (migrations/env.py turns foreign keys off while
migrating, so the tables can be copied).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credits_invoice_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(op.f('fk_invoices_credits_invoice_id_invoices'), 'invoices',
                                    ['credits_invoice_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_invoices_kind'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoices_total_non_negative'), type_='check')
        batch_op.create_check_constraint('kind', "kind IN ('period', 'proration', 'credit_note')")
        batch_op.create_check_constraint(
            'total_sign',
            "(kind = 'credit_note' AND total <= 0 AND credits_invoice_id IS NOT NULL) OR "
            "(kind <> 'credit_note' AND total >= 0 AND credits_invoice_id IS NULL)")

    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credits_line_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('credited_quantity', sa.Integer(), server_default=sa.text('0'),
                                      nullable=False))
        batch_op.create_foreign_key(op.f('fk_invoice_lines_credits_line_id_invoice_lines'), 'invoice_lines',
                                    ['credits_line_id'], ['id'])
        batch_op.drop_constraint(op.f('ck_invoice_lines_non_negative'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoice_lines_cost_non_negative'), type_='check')
        batch_op.create_check_constraint('prices_non_negative',
                                         'quantity >= 0 AND unit_price >= 0 AND unit_cost >= 0')
        batch_op.create_check_constraint(
            'amount_sign',
            '(credits_line_id IS NULL AND amount >= 0 AND cost >= 0) OR '
            '(credits_line_id IS NOT NULL AND amount <= 0 AND cost <= 0)')
        batch_op.create_check_constraint('credited_within_quantity',
                                         'credited_quantity >= 0 AND credited_quantity <= quantity')


def downgrade():
    # Credit notes cannot be expressed before this revision: remove them first.
    op.execute('DELETE FROM invoice_lines WHERE credits_line_id IS NOT NULL')
    op.execute("DELETE FROM invoices WHERE kind = 'credit_note'")

    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoice_lines_credited_within_quantity'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoice_lines_amount_sign'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoice_lines_prices_non_negative'), type_='check')
        batch_op.drop_constraint(op.f('fk_invoice_lines_credits_line_id_invoice_lines'), type_='foreignkey')
        batch_op.drop_column('credited_quantity')
        batch_op.drop_column('credits_line_id')
        batch_op.create_check_constraint('non_negative', 'quantity >= 0 AND unit_price >= 0 AND amount >= 0')
        batch_op.create_check_constraint('cost_non_negative', 'unit_cost >= 0 AND cost >= 0')

    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invoices_total_sign'), type_='check')
        batch_op.drop_constraint(op.f('ck_invoices_kind'), type_='check')
        batch_op.drop_constraint(op.f('fk_invoices_credits_invoice_id_invoices'), type_='foreignkey')
        batch_op.drop_column('credits_invoice_id')
        batch_op.create_check_constraint('kind', "kind IN ('period', 'proration')")
        batch_op.create_check_constraint('total_non_negative', 'total >= 0')
