"""the handling clerk of a case (承办人) in a column of its own, beside its department

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handler', sa.String(length=80), nullable=True))
    # cases opened before: their department and handler attributes, if they had any
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE cases SET department = attrs->>'department', "
                   "handler = attrs->>'handler'")
    else:
        op.execute("UPDATE cases SET department = json_extract(attrs, '$.department'), "
                   "handler = json_extract(attrs, '$.handler')")


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('handler')
