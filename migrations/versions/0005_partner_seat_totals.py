"""partner seat totals: per partner and type, the sums the overview reads

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 21:08:34.015417

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('partner_seat_totals',
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('subscription_type_id', sa.Integer(), nullable=False),
    sa.Column('allocated', sa.Integer(), nullable=False),
    sa.Column('consumed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['organisations.id'], name=op.f('fk_partner_seat_totals_partner_id_organisations')),
    sa.ForeignKeyConstraint(['subscription_type_id'], ['subscription_types.id'], name=op.f('fk_partner_seat_totals_subscription_type_id_subscription_types')),
    sa.PrimaryKeyConstraint('partner_id', 'subscription_type_id', name=op.f('pk_partner_seat_totals'))
    )
    # Backfill from the counters that exist already.
    op.execute(
        "INSERT INTO partner_seat_totals (partner_id, subscription_type_id, allocated, consumed) "
        "SELECT organisations.parent_id, allocations.subscription_type_id, "
        "SUM(allocations.allocated), SUM(allocations.consumed) "
        "FROM allocations JOIN sites ON sites.id = allocations.site_id "
        "JOIN organisations ON organisations.id = sites.client_id "
        "GROUP BY organisations.parent_id, allocations.subscription_type_id"
    )


def downgrade():
    op.drop_table('partner_seat_totals')
