"""client list index: organisations (kind, parent_id, name), so the per-client count reads the index alone

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 23:10:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_organisations_kind_parent_id_name', 'organisations', ['kind', 'parent_id', 'name'],
                    unique=False)


def downgrade():
    op.drop_index('ix_organisations_kind_parent_id_name', table_name='organisations')
