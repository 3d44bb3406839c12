"""partner client count: organisations.client_count, the client list's total kept as clients are created

The partner overview's client tab and ``GET /api/v1/clients`` counted the
partner's clients on every page: at 20,000 clients a read of 20,000 index
entries (5 ms on PostgreSQL, a third of the page). Clients are never deleted
nor moved between partners, so a count kept by the one code path that creates
them (``portal.domain.orgs.clients.add_clients``) stays exact. The upgrade
counts the clients already there; 0 for the operator and the clients.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 12:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('organisations', sa.Column('client_count', sa.Integer(), server_default=sa.text('0'),
                                             nullable=False))
    op.execute("UPDATE organisations SET client_count = (SELECT count(*) FROM organisations AS client "
               "WHERE client.kind = 'client' AND client.parent_id = organisations.id) "
               "WHERE kind = 'partner'")


def downgrade():
    with op.batch_alter_table('organisations') as batch:
        batch.drop_column('client_count')
