"""languages: the account's chosen language and the organisation's invitation language

docs/rules.md rule 37. Both nullable: an account without one follows the
browser's Accept-Language; an organisation without one invites in English.
Existing rows keep NULL, so nothing changes for anyone until they choose.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 04:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

LANGUAGE_CHECK = "language IS NULL OR language IN ('en', 'fr', 'pl')"


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch_op.create_check_constraint('language', LANGUAGE_CHECK)

    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=True))
        batch_op.create_check_constraint('language', LANGUAGE_CHECK)


def downgrade():
    with op.batch_alter_table('organisations', schema=None) as batch_op:
        batch_op.drop_constraint('ck_organisations_language', type_='check')
        batch_op.drop_column('language')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('ck_users_language', type_='check')
        batch_op.drop_column('language')
