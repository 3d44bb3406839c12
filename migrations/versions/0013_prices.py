"""prices: price books, client prices, and prices locked per period (docs/rules.md rule 22, issue 13 item 1)

``price_book_entries``: a partner's own monthly and annual price of a type
(primary key partner and type; without an entry the list price applies).
``client_prices``: a client's own prices of a type (primary key client and
type; without one the partner's price book applies). Both are minor units of
the type's currency, never negative (CHECK), and go with their organisation
(ON DELETE CASCADE).

``period_prices``: the unit price of each type for one period of a client,
in the period's cycle, written when the period opens; the period invoice and
every prorated invoice of the period read it, so a change reaches a client at
its next period only.

Back-fill: every client whose current period has begun (``period_start`` on
or before today) gets its period's prices locked at the list price of its
cycle, for every type of the catalogue: before this revision every document
was priced at the list price, and without these rows a price book set
tomorrow would reach those clients mid-period. A client still in its trial
(period starting later) is locked when its first period invoice is issued.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 06:53:08

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def _prices_table(name, owner):
    op.create_table(
        name,
        sa.Column(f'{owner}_id', sa.Integer(), nullable=False),
        sa.Column('subscription_type_id', sa.Integer(), nullable=False),
        sa.Column('monthly_price', sa.Integer(), nullable=False),
        sa.Column('annual_price', sa.Integer(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('monthly_price >= 0 AND annual_price >= 0', name=op.f(f'ck_{name}_prices_non_negative')),
        sa.ForeignKeyConstraint([f'{owner}_id'], ['organisations.id'],
                                name=op.f(f'fk_{name}_{owner}_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['subscription_type_id'], ['subscription_types.id'],
                                name=op.f(f'fk_{name}_subscription_type_id_subscription_types')),
        sa.PrimaryKeyConstraint(f'{owner}_id', 'subscription_type_id', name=op.f(f'pk_{name}')),
    )


def upgrade():
    _prices_table('price_book_entries', 'partner')
    _prices_table('client_prices', 'client')
    op.create_table(
        'period_prices',
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('period_start', sa.Date(), nullable=False),
        sa.Column('subscription_type_id', sa.Integer(), nullable=False),
        sa.Column('billing_cycle', sa.String(length=16), nullable=False),
        sa.Column('unit_price', sa.Integer(), nullable=False),
        sa.CheckConstraint('unit_price >= 0', name=op.f('ck_period_prices_unit_price_non_negative')),
        sa.ForeignKeyConstraint(['client_id'], ['organisations.id'],
                                name=op.f('fk_period_prices_client_id_organisations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['subscription_type_id'], ['subscription_types.id'],
                                name=op.f('fk_period_prices_subscription_type_id_subscription_types')),
        sa.PrimaryKeyConstraint('client_id', 'period_start', 'subscription_type_id', name=op.f('pk_period_prices')),
    )
    op.execute(
        "INSERT INTO period_prices (client_id, period_start, subscription_type_id, billing_cycle, unit_price) "
        "SELECT o.id, o.period_start, t.id, o.billing_cycle, "
        "CASE WHEN o.billing_cycle = 'monthly' THEN t.monthly_price ELSE t.annual_price END "
        "FROM organisations o CROSS JOIN subscription_types t "
        "WHERE o.kind = 'client' AND o.period_start IS NOT NULL AND o.period_start <= CURRENT_DATE")


def downgrade():
    op.drop_table('period_prices')
    op.drop_table('client_prices')
    op.drop_table('price_book_entries')
