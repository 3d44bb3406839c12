"""partner pending seat requests: organisations.pending_seat_requests, finance's navigation count kept

Every page a partner's finance staff opened counted their clients' pending
seat requests for the navigation: a statement of its own on every page (the
client page had eleven against issue 17's eight). The count is now kept by
the two code paths that change it (``portal.domain.seats.requests``: a request
made adds one, a decision takes one off) in their own transactions, and read
with the user's organisation, which every request loads anyway. The upgrade
counts the requests pending now; 0 for the operator and the clients.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 14:00:00

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('organisations', sa.Column('pending_seat_requests', sa.Integer(), server_default=sa.text('0'),
                                             nullable=False))
    op.execute("UPDATE organisations SET pending_seat_requests = (SELECT count(*) FROM seat_requests "
               "JOIN organisations AS client ON client.id = seat_requests.client_id "
               "WHERE seat_requests.status = 'pending' AND client.parent_id = organisations.id) "
               "WHERE kind = 'partner'")


def downgrade():
    with op.batch_alter_table('organisations') as batch:
        batch.drop_column('pending_seat_requests')
