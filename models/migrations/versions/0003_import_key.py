"""the import key of a case: which import record it came from

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a nullable column and a unique index: both are plain ALTER/CREATE on SQLite, so batch
    # mode needs no copy of the table
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('import_key', sa.String(length=64), nullable=True))
        batch_op.create_index('uq_cases_import_key', ['import_key'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index('uq_cases_import_key')
        batch_op.drop_column('import_key')
