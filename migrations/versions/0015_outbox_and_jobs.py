"""outbox and jobs: events written with each change, e-mails through the task queue (docs/rules.md rules 30-31)

``outbox_events`` (new): one row per audited change that is an event, written
in the change's transaction. ``type`` (String 60, NOT NULL: ``client.created``…),
``organisation_id`` and ``partner_id`` (nullable foreign keys to
``organisations``: the audit event's tenant and the partner the event belongs
to, null for the operator's own), ``audit_event_id`` (nullable foreign key to
``audit_events``, indexed), ``data`` (JSON, NOT NULL: ids and changed fields),
``created_at`` (NOT NULL) and ``relayed_at`` (nullable: set once the relay has
handed the event on). Indexes: ``ix_outbox_events_unrelayed`` on ``id``,
partial ``WHERE relayed_at IS NULL`` (what the relay reads), and
``ix_outbox_events_partner_id_id`` (a partner's events in order).

``mail_messages`` (new): one row per e-mail to send, written with the change
that calls for it; the task queue only carries its id. ``kind`` (String 40)
and ``reference_id`` (Integer, nullable: an invitation's, a user's or a seat
request's id, no foreign key since it depends on the kind), ``recipient``
(String 254), ``subject`` (String 998), ``body`` (Text, nullable: erased once
sent, failed or cancelled, as it may hold a live link), ``language`` (String
8, nullable), ``status`` (CHECK: pending, sending, sent, failed, cancelled),
``attempts`` (CHECK >= 0), ``next_attempt_at``, ``expires_at`` (nullable),
``queued_at``, ``claimed_at`` (nullable: the claim of the worker sending it),
``last_error`` (String 500, nullable), ``created_at``, ``sent_at``
(nullable). Indexes: (status, next_attempt_at) for the due messages, (kind,
reference_id) for the messages of one invitation.

``invitations``: the ``delivery`` CHECK gains ``queued`` (handed to the queue,
not tried yet).

Back-fill: none. No event existed before this revision; invitations keep
their delivery. Downgrade drops both tables (e-mails still queued are lost:
run ``flask jobs run --until-empty`` first) and turns ``queued`` deliveries
into ``failed`` ("not sent — retry"), which is what they are without a queue.
Batch mode for the CHECK, for SQLite.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-09 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('type', sa.String(length=60), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('partner_id', sa.Integer(), nullable=True),
    sa.Column('audit_event_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('relayed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'],
                            name=op.f('fk_outbox_events_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['partner_id'], ['organisations.id'],
                            name=op.f('fk_outbox_events_partner_id_organisations')),
    sa.ForeignKeyConstraint(['audit_event_id'], ['audit_events.id'],
                            name=op.f('fk_outbox_events_audit_event_id_audit_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_events'))
    )
    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_events_unrelayed', ['id'], unique=False,
                              postgresql_where=sa.text('relayed_at IS NULL'),
                              sqlite_where=sa.text('relayed_at IS NULL'))
        batch_op.create_index('ix_outbox_events_partner_id_id', ['partner_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_outbox_events_audit_event_id'), ['audit_event_id'], unique=False)

    op.create_table('mail_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('reference_id', sa.Integer(), nullable=True),
    sa.Column('recipient', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=998), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')",
                       name=op.f('ck_mail_messages_status')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_mail_messages_attempts_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_messages'))
    )
    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.create_index('ix_mail_messages_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_mail_messages_kind_reference_id', ['kind', 'reference_id'], unique=False)

    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invitations_delivery'), type_='check')
        batch_op.create_check_constraint('delivery', "delivery IN ('unsent', 'queued', 'sent', 'failed')")


def downgrade():
    op.execute("UPDATE invitations SET delivery = 'failed' WHERE delivery = 'queued'")
    with op.batch_alter_table('invitations', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_invitations_delivery'), type_='check')
        batch_op.create_check_constraint('delivery', "delivery IN ('unsent', 'sent', 'failed')")

    with op.batch_alter_table('mail_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_mail_messages_kind_reference_id')
        batch_op.drop_index('ix_mail_messages_status_next_attempt_at')
    op.drop_table('mail_messages')

    with op.batch_alter_table('outbox_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_events_audit_event_id'))
        batch_op.drop_index('ix_outbox_events_partner_id_id')
        batch_op.drop_index('ix_outbox_events_unrelayed', postgresql_where=sa.text('relayed_at IS NULL'),
                            sqlite_where=sa.text('relayed_at IS NULL'))
    op.drop_table('outbox_events')
