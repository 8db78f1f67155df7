"""the legal-aid lawyer pool (律师库): lawyers, their leave, their conflicts of interest, and
every assignment offered to them with its outcome (issue 15)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from models.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "lawyers",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("firm", sa.String(length=120), nullable=False),
        sa.Column("areas", JSON, nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("open_cases", sa.Integer(), nullable=False),
        sa.Column("last_assigned_on", sa.Date(), nullable=True),
        sa.Column("last_offer_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "lawyer_leaves",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("lawyer_id", BIG_ID, nullable=False),
        sa.Column("start_on", sa.Date(), nullable=False),
        sa.Column("end_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["lawyer_id"], ["lawyers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lawyer_leaves_lawyer_id", "lawyer_leaves", ["lawyer_id"])
    op.create_table(
        "lawyer_conflicts",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("lawyer_id", BIG_ID, nullable=False),
        sa.Column("party", sa.String(length=200), nullable=False),
        sa.Column("party_key", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["lawyer_id"], ["lawyers.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("lawyer_id", "party_key", name="uq_lawyer_conflicts_party"),
    )
    op.create_table(
        "lawyer_offers",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("lawyer_id", BIG_ID, nullable=False),
        sa.Column("case_id", BIG_ID, nullable=False),
        sa.Column("offered_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("outcome_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("released_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["lawyer_id"], ["lawyers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_lawyer_offers_case", "lawyer_offers", ["case_id", "lawyer_id"])
    op.create_index("ix_lawyer_offers_on", "lawyer_offers", ["offered_on"])


def downgrade() -> None:
    op.drop_index("ix_lawyer_offers_on", table_name="lawyer_offers")
    op.drop_index("ix_lawyer_offers_case", table_name="lawyer_offers")
    op.drop_table("lawyer_offers")
    op.drop_table("lawyer_conflicts")
    op.drop_index("ix_lawyer_leaves_lawyer_id", table_name="lawyer_leaves")
    op.drop_table("lawyer_leaves")
    op.drop_table("lawyers")
