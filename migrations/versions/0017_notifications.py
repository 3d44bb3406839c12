"""notifications: the e-mails a user turned off, and a message's attachment (docs/rules.md rule 33)

``notification_opt_outs`` (new): one row per (user, topic) a user turned
off; every notification is on until then. ``user_id`` (foreign key to
``users``, ON DELETE CASCADE) and ``topic`` (String 40, CHECK: one of
invoice_issued, site_running_out, seat_request_created,
seat_request_decided) form the primary key, which also serves "did this user
turn this off"; ``created_at``.

``mail_messages.attachment`` (new, String 80, nullable): the file built when
the message is sent, e.g. ``invoice:42:7`` (invoice 42's PDF as user 7 may
read it). Nullable: every message before this had none.

Back-fill: none. Downgrade drops the table and the column (opt-outs are lost:
everyone is told everything again, which is the safe side).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-10 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('notification_opt_outs',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("topic IN ('invoice_issued', 'site_running_out', 'seat_request_created', "
                       "'seat_request_decided')", name=op.f('ck_notification_opt_outs_topic')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_notification_opt_outs_user_id_users'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'topic', name=op.f('pk_notification_opt_outs'))
    )
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attachment', sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.drop_column('attachment')
    op.drop_table('notification_opt_outs')
