"""the closure report's partial indexes: the rare events it reads alone (deemed outcomes and
extensions, counted by legal date, and the acts that reopen a closed case), and the missed
clock cycles it probes for each closed case (on time or not)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
# MERGE NOTE: the `store` branch adds 0005 after 0004; once both are merged this must read
# "0005", so that the chain stays one line (0004 -> 0005 -> 0006).
down_revision = "0005"
branch_labels = None
depends_on = None

WHERE = ("trigger IN ('deem_accepted', 'deem_abandoned', 'deem_withdrawn', 'extend', "
         "'extend_supplement', 'reinstate', 'order_correction')")


MISSED = "status = 'missed'"


def upgrade() -> None:
    op.create_index("ix_events_report_acts", "events", ["on"], unique=False,
                    sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))
    op.create_index("ix_cycles_missed", "clock_cycles", ["case_id", "clock", "stopped_on"],
                    unique=False, sqlite_where=sa.text(MISSED),
                    postgresql_where=sa.text(MISSED))


def downgrade() -> None:
    op.drop_index("ix_cycles_missed", table_name="clock_cycles",
                  sqlite_where=sa.text(MISSED), postgresql_where=sa.text(MISSED))
    op.drop_index("ix_events_report_acts", table_name="events",
                  sqlite_where=sa.text(WHERE), postgresql_where=sa.text(WHERE))
