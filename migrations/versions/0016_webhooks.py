"""webhooks: a partner's signed endpoints and the log of every delivery attempt (docs/rules.md rule 32)

``webhook_endpoints`` (new): one row per receiver. ``organisation_id``
(foreign key to ``organisations``, indexed: the partner, or the operator,
that owns it), ``url`` (String 2000), ``events`` (JSON list of event types),
``description`` (String 200, nullable), ``secret`` (String 400: the signing
secret, encrypted with Fernet, since it must be read back to sign),
``active`` (Boolean: false when paused or disabled), ``created_at``,
``disabled_at`` and ``disabled_reason`` (nullable: set when the portal
disabled it after three days of failures), ``failing_since`` (nullable: the
first failure since the last success).

``webhook_deliveries`` (new): one row per attempt at handing one outbox event
to one endpoint. ``endpoint_id`` (foreign key, ON DELETE CASCADE: deleting
an endpoint deletes its log), ``event_id`` (foreign key to
``outbox_events``, indexed: the body's ``id`` and the ``Portal-Event-Id``
header), ``event_type`` (String 60), ``attempt`` (CHECK >= 1), ``status``
(CHECK: pending, succeeded, failed), ``response_status`` (nullable),
``response_excerpt`` (Text, nullable: at most 500 characters of the answer),
``error`` (String 500, nullable), ``attempted_at``, ``next_attempt_at`` and
``claimed_at`` (nullable), ``created_at``. Indexes: (endpoint_id, id) for an
endpoint's log, (status, next_attempt_at) for the attempts due.

Back-fill: none (no endpoint existed). Downgrade drops both tables, the log
with them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-09 08:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('webhook_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=True),
    sa.Column('secret', sa.String(length=400), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.String(length=200), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'],
                            name=op.f('fk_webhook_endpoints_organisation_id_organisations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_endpoints_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.String(length=60), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_excerpt', sa.Text(), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.Column('attempted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'succeeded', 'failed')", name=op.f('ck_webhook_deliveries_status')),
    sa.CheckConstraint('attempt >= 1', name=op.f('ck_webhook_deliveries_attempt_positive')),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'],
                            name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['outbox_events.id'],
                            name=op.f('fk_webhook_deliveries_event_id_outbox_events')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_endpoint_id_id', ['endpoint_id', 'id'], unique=False)
        batch_op.create_index('ix_webhook_deliveries_status_next_attempt_at', ['status', 'next_attempt_at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_event_id'), ['event_id'], unique=False)


def downgrade():
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_event_id'))
        batch_op.drop_index('ix_webhook_deliveries_status_next_attempt_at')
        batch_op.drop_index('ix_webhook_deliveries_endpoint_id_id')
    op.drop_table('webhook_deliveries')

    with op.batch_alter_table('webhook_endpoints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_endpoints_organisation_id'))
    op.drop_table('webhook_endpoints')
