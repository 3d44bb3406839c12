"""sessions, tokens, lockout: session last use and device, read-only and expiring API tokens, known addresses

docs/rules.md rules 40, 41 and 41b: login sessions record when they were last
used, from which address and device; API tokens may be read-only and expire;
failed logins say whether they came from an address the account has signed in
from before (smart lockout), and those addresses are kept.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ip', sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column('user_agent', sa.String(length=200), nullable=True))
    # A session open before this revision was last seen, as far as we know, when it started.
    op.execute("UPDATE login_sessions SET last_seen_at = created_at")
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.alter_column('last_seen_at', existing_type=sa.DateTime(timezone=True), nullable=False)

    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('known', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_only', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('known_addresses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_known_addresses_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_known_addresses')),
    sa.UniqueConstraint('user_id', 'ip', name='uq_known_addresses_user_id_ip')
    )


def downgrade():
    op.drop_table('known_addresses')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
        batch_op.drop_column('read_only')
    with op.batch_alter_table('login_failures', schema=None) as batch_op:
        batch_op.drop_column('known')
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_column('user_agent')
        batch_op.drop_column('ip')
        batch_op.drop_column('last_seen_at')
