"""insight baselines: a partner's insight lists worked out once a day (docs/rules.md rule 36)

Four new tables, all derived (nothing here is a source of truth; dropping
them loses no data, and an empty table only makes insight read live):

- ``insight_baselines``: one row per partner: the UTC day its baseline is for,
  the last outbox event settled when it was built, when, and each list's count.
- ``insight_seat_baselines``: one row per allocation of such a partner (site,
  type): the day's fixed figures (least free count over the window, counts at
  the end of today − 30, today's history row when built) and its idle and
  running-out rows. Partial indexes hold each list's order for the partner:
  ``(partner_id, saving_per_period DESC, idle_seats DESC, names and ids) WHERE
  idle_seats > 0`` and ``(partner_id, days_left, free, names and ids) WHERE days_left IS NOT NULL`` (the
  running-out rows).
  WITHOUT ROWID on SQLite, as ``seat_history``.
- ``insight_revenue_baselines``: one row per client and currency: its MRR row;
  index ``(partner_id, mrr DESC, client_name, client_id, currency)``.
- ``insight_revenue_totals``: the partner's MRR and change per currency.

Rows cascade with their site, client or partner. Nothing to back-fill: the
worker (or ``flask insights refresh``) builds each partner's baseline.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 11:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('insight_baselines',
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('settled_event_id', sa.BigInteger(), nullable=False),
    sa.Column('built_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('idle_listed', sa.Integer(), nullable=False),
    sa.Column('running_out_listed', sa.Integer(), nullable=False),
    sa.Column('revenue_listed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['organisations.id'], name=op.f('fk_insight_baselines_partner_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('partner_id', name=op.f('pk_insight_baselines'))
    )
    op.create_table('insight_revenue_baselines',
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('client_name', sa.String(length=200), nullable=False),
    sa.Column('cycle', sa.String(length=16), nullable=False),
    sa.Column('mrr', sa.BigInteger(), nullable=False),
    sa.Column('change_30d', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['client_id'], ['organisations.id'], name=op.f('fk_insight_revenue_baselines_client_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('client_id', 'currency', name=op.f('pk_insight_revenue_baselines'))
    )
    with op.batch_alter_table('insight_revenue_baselines', schema=None) as batch_op:
        batch_op.create_index('ix_insight_revenue_baselines_mrr', ['partner_id', sa.text('mrr DESC'), 'client_name', 'client_id', 'currency'], unique=False)

    op.create_table('insight_revenue_totals',
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('mrr', sa.BigInteger(), nullable=False),
    sa.Column('change_30d', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['organisations.id'], name=op.f('fk_insight_revenue_totals_partner_id_organisations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('partner_id', 'currency', name=op.f('pk_insight_revenue_totals'))
    )
    op.create_table('insight_seat_baselines',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('subscription_type_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('today_allocated_change', sa.Integer(), nullable=False),
    sa.Column('today_consumed_change', sa.Integer(), nullable=False),
    sa.Column('least_free', sa.Integer(), nullable=False),
    sa.Column('consumed_then', sa.Integer(), nullable=False),
    sa.Column('allocated_then', sa.Integer(), nullable=False),
    sa.Column('client_name', sa.String(length=200), nullable=False),
    sa.Column('site_name', sa.String(length=200), nullable=False),
    sa.Column('subscription_type', sa.String(length=40), nullable=False),
    sa.Column('subscription_type_name', sa.String(length=100), nullable=False),
    sa.Column('idle_seats', sa.Integer(), nullable=False),
    sa.Column('saving_per_period', sa.BigInteger(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('cycle', sa.String(length=16), nullable=True),
    sa.Column('allocated', sa.Integer(), nullable=False),
    sa.Column('free', sa.Integer(), nullable=False),
    sa.Column('growth', sa.Integer(), nullable=False),
    sa.Column('days_left', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_insight_seat_baselines_site_id_sites'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_type_id'], ['subscription_types.id'], name=op.f('fk_insight_seat_baselines_subscription_type_id_subscription_types')),
    sa.PrimaryKeyConstraint('site_id', 'subscription_type_id', name=op.f('pk_insight_seat_baselines')),
    sqlite_with_rowid=False
    )
    with op.batch_alter_table('insight_seat_baselines', schema=None) as batch_op:
        batch_op.create_index('ix_insight_seat_baselines_idle', ['partner_id', sa.text('saving_per_period DESC'), sa.text('idle_seats DESC'), 'client_name', 'client_id', 'site_name', 'site_id', 'subscription_type_id'], unique=False, sqlite_where=sa.text('idle_seats > 0'), postgresql_where=sa.text('idle_seats > 0'))
        batch_op.create_index('ix_insight_seat_baselines_running_out', ['partner_id', 'days_left', 'free', 'client_name', 'client_id', 'site_name', 'site_id', 'subscription_type_id'], unique=False, sqlite_where=sa.text('days_left IS NOT NULL'), postgresql_where=sa.text('days_left IS NOT NULL'))



def downgrade():
    with op.batch_alter_table('insight_seat_baselines', schema=None) as batch_op:
        batch_op.drop_index('ix_insight_seat_baselines_running_out', sqlite_where=sa.text('days_left IS NOT NULL'), postgresql_where=sa.text('days_left IS NOT NULL'))
        batch_op.drop_index('ix_insight_seat_baselines_idle', sqlite_where=sa.text('idle_seats > 0'), postgresql_where=sa.text('idle_seats > 0'))

    op.drop_table('insight_seat_baselines')
    op.drop_table('insight_revenue_totals')
    with op.batch_alter_table('insight_revenue_baselines', schema=None) as batch_op:
        batch_op.drop_index('ix_insight_revenue_baselines_mrr')

    op.drop_table('insight_revenue_baselines')
    op.drop_table('insight_baselines')
