"""seat history: each day's change of the seat counters, per site and per partner (docs/rules.md rule 34)

``seat_history`` (new): one row per (site, subscription type, UTC day) on
which the site's counters moved, with the day's net ``allocated_change`` and
``consumed_change``; ``client_id`` and ``partner_id`` copy the site's owners
for range reads by client (index ``client_id, day``) and by partner (index
``partner_id, day``: the insight page); they have no foreign keys of their
own (the site's key ties the row to them; two more keys checked per row made
bulk loads three times slower on PostgreSQL). The primary key (site, type, day)
serves a site's range; on SQLite the table is WITHOUT ROWID, so that key is
the table itself. ``partner_seat_history`` (new): the same per (partner, type,
day), for the partner's and the operator's charts. Both are written by
``portal.domain.seats.counters`` in the transaction of the change.

A past day's value is today's counter minus the changes after that day, so
the history needs no starting point: back-fill none. Before this revision
nothing was recorded: the charts show today's counts as flat before it.

Downgrade drops both tables (the history is lost).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-12 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('seat_history',
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('subscription_type_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('allocated_change', sa.Integer(), nullable=False),
    sa.Column('consumed_change', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_seat_history_site_id_sites'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_type_id'], ['subscription_types.id'],
                            name=op.f('fk_seat_history_subscription_type_id_subscription_types')),
    sa.PrimaryKeyConstraint('site_id', 'subscription_type_id', 'day', name=op.f('pk_seat_history')),
    sqlite_with_rowid=False,
    )
    op.create_index('ix_seat_history_client_id_day', 'seat_history', ['client_id', 'day'])
    op.create_index('ix_seat_history_partner_id_day', 'seat_history', ['partner_id', 'day'])
    op.create_table('partner_seat_history',
    sa.Column('partner_id', sa.Integer(), nullable=False),
    sa.Column('subscription_type_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('allocated_change', sa.Integer(), nullable=False),
    sa.Column('consumed_change', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['partner_id'], ['organisations.id'],
                            name=op.f('fk_partner_seat_history_partner_id_organisations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_type_id'], ['subscription_types.id'],
                            name=op.f('fk_partner_seat_history_subscription_type_id_subscription_types')),
    sa.PrimaryKeyConstraint('partner_id', 'subscription_type_id', 'day', name=op.f('pk_partner_seat_history')),
    sqlite_with_rowid=False,
    )


def downgrade():
    op.drop_table('partner_seat_history')
    op.drop_index('ix_seat_history_partner_id_day', table_name='seat_history')
    op.drop_index('ix_seat_history_client_id_day', table_name='seat_history')
    op.drop_table('seat_history')
