"""the closure report's rare events: a partial index on the deemed outcomes and extensions
(counted by legal date) and the acts that reopen a closed case, so that the report reads them
alone

Revision ID: 0006
Revises: 0004 (on the `reports` branch; chained after 0005 when merged with it)
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
# MERGE NOTE: the `store` branch adds 0005 after 0004; once both are merged this must read
# "0005", so that the chain stays one line (0004 -> 0005 -> 0006).
down_revision = "0004"
branch_labels = None
depends_on = None

WHERE = ("trigger IN ('deem_accepted', 'deem_abandoned', 'deem_withdrawn', 'extend', "
         "'extend_supplement', 'reinstate', 'order_correction')")


def upgrade() -> None:
    op.create_index("ix_events_report_acts", "events", ["on"], unique=False,
                    sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))


def downgrade() -> None:
    op.drop_index("ix_events_report_acts", table_name="events",
                  sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))
