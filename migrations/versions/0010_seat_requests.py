"""seat requests: N seats of a type at a site asked for by whoever met "no free seat", decided once by finance

docs/rules.md rule 29. One row per request: the site (and its client, repeated
so that a partner's queue and the navigation's count read one index), the
type, the quantity (1-1000), an optional note and the user the requester was
creating (e-mail, name, whether to invite: all three or none); who asked and
when; who decided, when, and the reason of a refusal; the prorated invoice an
approval issued and the user it created. The CHECKs keep a row coherent
whatever writes it: a known status, a pending row has no decision, a refusal
has its reason. Indexes: pending requests per client (a partner's clients, by
status then client) and one client's requests by date. A new table: nothing
existing changes.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('seat_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('site_id', sa.Integer(), nullable=False),
    sa.Column('subscription_type_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('user_email', sa.String(length=254), nullable=True),
    sa.Column('user_name', sa.String(length=200), nullable=True),
    sa.Column('send_invitation', sa.Boolean(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.String(length=2000), nullable=True),
    sa.Column('invoice_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'approved', 'declined')", name=op.f('ck_seat_requests_status')),
    sa.CheckConstraint('quantity >= 1 AND quantity <= 1000', name=op.f('ck_seat_requests_quantity_range')),
    sa.CheckConstraint('(user_email IS NULL) = (user_name IS NULL) AND '
                       '(user_email IS NULL) = (send_invitation IS NULL)', name=op.f('ck_seat_requests_user_complete')),
    sa.CheckConstraint("(status = 'pending') = (decided_at IS NULL)", name=op.f('ck_seat_requests_decided')),
    sa.CheckConstraint("status <> 'declined' OR reason IS NOT NULL", name=op.f('ck_seat_requests_declined_reason')),
    sa.ForeignKeyConstraint(['client_id'], ['organisations.id'], name=op.f('fk_seat_requests_client_id_organisations')),
    sa.ForeignKeyConstraint(['site_id'], ['sites.id'], name=op.f('fk_seat_requests_site_id_sites')),
    sa.ForeignKeyConstraint(['subscription_type_id'], ['subscription_types.id'],
                            name=op.f('fk_seat_requests_subscription_type_id_subscription_types')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_seat_requests_requested_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_seat_requests_decided_by_id_users')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_seat_requests_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_seat_requests_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seat_requests'))
    )
    with op.batch_alter_table('seat_requests', schema=None) as batch_op:
        batch_op.create_index('ix_seat_requests_status_client_id', ['status', 'client_id'], unique=False)
        batch_op.create_index('ix_seat_requests_client_id_requested_at', ['client_id', 'requested_at'], unique=False)


def downgrade():
    with op.batch_alter_table('seat_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_seat_requests_client_id_requested_at')
        batch_op.drop_index('ix_seat_requests_status_client_id')
    op.drop_table('seat_requests')
