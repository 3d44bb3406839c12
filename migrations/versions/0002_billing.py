"""billing: client periods and cycles, invoices, gapless numbering, trials

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 20:42:19.508048

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('invoice_sequences',
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sa.String(length=10), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['organisations.id'], name=op.f('fk_invoice_sequences_partner_id_organisations')),
    sa.PrimaryKeyConstraint('partner_id', name=op.f('pk_invoice_sequences'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('billing_cycle', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('period', 'proration')", name=op.f('ck_invoices_kind')),
    sa.CheckConstraint('total >= 0', name=op.f('ck_invoices_total_non_negative')),
    sa.ForeignKeyConstraint(['client_id'], ['organisations.id'], name=op.f('fk_invoices_client_id_organisations')),
    sa.ForeignKeyConstraint(['partner_id'], ['organisations.id'], name=op.f('fk_invoices_partner_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('partner_id', 'number', name='uq_invoices_partner_id_number'),
    sa.UniqueConstraint('partner_id', 'sequence', name='uq_invoices_partner_id_sequence')
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index('ix_invoices_client_id_issued_on', ['client_id', 'issued_on'], unique=False)
        batch_op.create_index('uq_invoices_client_period', ['client_id', 'period_start'], unique=True, sqlite_where=sa.text("kind = 'period'"), postgresql_where=sa.text("kind = 'period'"))

    op.create_table('invoice_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('subscription_type_id', sa.Integer(), nullable=False),
    sa.Column('site_name', sa.String(length=200), nullable=False),
    sa.Column('subscription_type_code', sa.String(length=40), nullable=False),
    sa.Column('subscription_type_name', sa.String(length=100), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_price', sa.Integer(), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('period_days', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Integer(), nullable=False),
    sa.CheckConstraint('days > 0 AND days <= period_days', name=op.f('ck_invoice_lines_days_within_period')),
    sa.CheckConstraint('quantity >= 0 AND unit_price >= 0 AND amount >= 0', name=op.f('ck_invoice_lines_non_negative')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_invoice_lines_site_id_sites')),
    sa.ForeignKeyConstraint(['subscription_type_id'], ['subscription_types.id'], name=op.f('fk_invoice_lines_subscription_type_id_subscription_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines'))
    )
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_lines_invoice_id'), ['invoice_id'], unique=False)

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('billing_anchor_day', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('period_start', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('period_end', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('pending_billing_cycle', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('pending_effective_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('trial_ends_on', sa.Date(), nullable=True))
        # Autogenerate does not see CHECK constraints: added by hand.
        batch_op.create_check_constraint(
            'pending_billing_cycle',
            "pending_billing_cycle IS NULL OR pending_billing_cycle IN ('monthly', 'annual')")
        batch_op.create_check_constraint('period_order', 'period_start IS NULL OR period_start < period_end')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('access_until', sa.Date(), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('access_until')

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_organisations_period_order'), type_='check')
        batch_op.drop_constraint(op.f('ck_organisations_pending_billing_cycle'), type_='check')
        batch_op.drop_column('trial_ends_on')
        batch_op.drop_column('pending_effective_on')
        batch_op.drop_column('pending_billing_cycle')
        batch_op.drop_column('period_end')
        batch_op.drop_column('period_start')
        batch_op.drop_column('billing_anchor_day')

    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_lines_invoice_id'))

    op.drop_table('invoice_lines')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('uq_invoices_client_period', sqlite_where=sa.text("kind = 'period'"), postgresql_where=sa.text("kind = 'period'"))
        batch_op.drop_index('ix_invoices_client_id_issued_on')

    op.drop_table('invoices')
    op.drop_table('invoice_sequences')
