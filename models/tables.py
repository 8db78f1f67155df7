"""The tables: cases, their append-only events, and the cycles of their legal clocks.

SQLModel classes give the schema (and Alembic its metadata); the repositories read and write
them with SQLAlchemy Core statements on the unit of work's connection (`models.repository`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime
from states.report import INDEXED_ACTS

JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# the rare events the closure report reads alone: those it counts by legal date (视为受理/放弃/
# 撤回, 延长) and those that reopen a case; migration 0006 holds the same condition
REPORT_ACTS = "trigger IN (" + ", ".join(f"'{t}'" for t in INDEXED_ACTS) + ")"


class CaseRow(SQLModel, table=True):
    """A case (案件): its current state, attributes and the head of its event chain."""

    __tablename__ = "cases"
    __table_args__ = (
        sa.Index("ix_cases_type_admitted", "type", "admitted_on"),
        sa.Index("ix_cases_type_closed", "type", "closed_on"),
        sa.Index("ix_cases_type_state", "type", "state"),
        # a record is imported once (`flows.importer`); NULL for cases opened one by one,
        # and NULLs never collide in a unique index, on SQLite or PostgreSQL
        sa.Index("uq_cases_import_key", "import_key", unique=True),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    ref: str = Field(sa_column=sa.Column(sa.String(40), nullable=False, unique=True))
    type: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    state: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    attrs: dict[str, Any] = Field(default_factory=dict,
                                  sa_column=sa.Column(JSONType, nullable=False))
    version: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    opened_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    admitted_on: date | None = Field(default=None, sa_column=sa.Column(sa.Date))
    closed_on: date | None = Field(default=None, sa_column=sa.Column(sa.Date))
    last_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    clerk: str | None = Field(default=None, sa_column=sa.Column(sa.String(80)))
    department: str | None = Field(default=None, sa_column=sa.Column(sa.String(80)))
    handler: str | None = Field(default=None, sa_column=sa.Column(sa.String(80)))
    last_seq: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    last_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    updated_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    # SHA-256 (hex) of the import record the case came from; NULL if it was not imported
    import_key: str | None = Field(default=None, sa_column=sa.Column(sa.String(64)))
    # what `caseflow case verify` last found wrong with the case (its chain, or its row against
    # its events); NULL when it verified. A broken case is not advanced until repaired.
    broken: str | None = Field(default=None, sa_column=sa.Column(sa.Text))


class EventRow(SQLModel, table=True):
    """One event of a case's history (案件流转记录); rows are only ever appended."""

    __tablename__ = "events"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
        # the closure report's deemed outcomes and extensions in a period (`models.reports`):
        # only those few events are in it
        sa.Index("ix_events_report_acts", "on", sqlite_where=sa.text(REPORT_ACTS),
                 postgresql_where=sa.text(REPORT_ACTS)),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    case_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("cases.id"), nullable=False))
    seq: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    trigger: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    from_state: str | None = Field(default=None, sa_column=sa.Column(sa.String(40)))
    to_state: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    recorded_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    actor: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    by: str = Field(sa_column=sa.Column(sa.String(80), nullable=False))
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    attrs: dict[str, Any] = Field(default_factory=dict,
                                  sa_column=sa.Column(JSONType, nullable=False))
    clocks: list[dict[str, Any]] = Field(default_factory=list,
                                         sa_column=sa.Column(JSONType, nullable=False))
    hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))


class ClockCycleRow(SQLModel, table=True):
    """One cycle of a legal clock on a case (期限); the sweep reads running ones by due date."""

    __tablename__ = "clock_cycles"
    __table_args__ = (
        # also the index for loading a case's cycles (case_id is its first column)
        sa.UniqueConstraint("case_id", "clock", "cycle", name="uq_cycles_case_clock_cycle"),
        sa.Index("ix_cycles_live_due", "due_on",
                 sqlite_where=sa.text("status IN ('running', 'paused')"),
                 postgresql_where=sa.text("status IN ('running', 'paused')")),
        # the sweep's: paused cycles (中止) past their old due date would otherwise be read
        # and thrown away by every sweep, more of them the longer the bureau runs
        sa.Index("ix_cycles_running_due", "due_on",
                 sqlite_where=sa.text("status = 'running'"),
                 postgresql_where=sa.text("status = 'running'")),
        # the closure report's on-time test, one probe per closed case (`models.reports`):
        # the missed cycles alone, with all it asks of them
        sa.Index("ix_cycles_missed", "case_id", "clock", "stopped_on",
                 sqlite_where=sa.text("status = 'missed'"),
                 postgresql_where=sa.text("status = 'missed'")),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    case_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("cases.id"), nullable=False))
    clock: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    cycle: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    unit: str = Field(sa_column=sa.Column(sa.String(10), nullable=False))
    days: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    started_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    resumed_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    used: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    raw_end: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    due_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    paused_since: date | None = Field(default=None, sa_column=sa.Column(sa.Date))
    paused_days: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    extended_days: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    extensions: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    stopped_on: date | None = Field(default=None, sa_column=sa.Column(sa.Date))


class RefCounterRow(SQLModel, table=True):
    """The last number handed out per reference prefix and year (RC-2024-0001)."""

    __tablename__ = "ref_counters"

    key: str = Field(sa_column=sa.Column(sa.String(20), primary_key=True))
    last: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))


cases = CaseRow.__table__  # type: ignore[attr-defined]
events = EventRow.__table__  # type: ignore[attr-defined]
clock_cycles = ClockCycleRow.__table__  # type: ignore[attr-defined]
ref_counters = RefCounterRow.__table__  # type: ignore[attr-defined]
metadata = SQLModel.metadata


class EscalationRow(SQLModel, table=True):
    """A rung a clock cycle reached (预警 / 逾期 / 严重逾期), recorded once per cycle and rung."""

    __tablename__ = "escalations"
    __table_args__ = (
        sa.UniqueConstraint("case_id", "clock", "cycle", "rung", name="uq_escalations_rung"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    case_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("cases.id"), nullable=False))
    clock: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    cycle: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    rung: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    reached_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    due_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    alerted: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    caught_up: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    recorded_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class AlertRow(SQLModel, table=True):
    """An alert waiting to be sent, or sent (the outbox), written with its escalation.

    Secrets are not stored: the route names the channel, and its URL and secret are resolved
    from the policy when the alert is sent."""

    __tablename__ = "alerts"
    __table_args__ = (
        sa.Index("ix_alerts_due", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    escalation_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("escalations.id"),
                                                   nullable=False))
    idempotency_key: str = Field(sa_column=sa.Column(sa.String(120), nullable=False,
                                                     unique=True))
    route: str = Field(sa_column=sa.Column(sa.String(80), nullable=False))
    recipient: str = Field(sa_column=sa.Column(sa.String(40), nullable=False))
    payload: dict[str, Any] = Field(default_factory=dict,
                                    sa_column=sa.Column(JSONType, nullable=False))
    status: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    attempts: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    next_attempt_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    claimed_by: str | None = Field(default=None, sa_column=sa.Column(sa.String(80)))
    claimed_until: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    last_error: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    sent_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


escalations = EscalationRow.__table__  # type: ignore[attr-defined]
alerts = AlertRow.__table__  # type: ignore[attr-defined]


class LawyerRow(SQLModel, table=True):
    """A lawyer of the legal-aid pool (法律援助律师库).

    ``open_cases``, ``last_assigned_on`` and ``last_offer_id`` summarise the lawyer's offers
    (`LawyerOfferRow`) for the policy (load, place in the rotation); they are written in the
    same transaction as the offers they summarise (`models.lawyers`)."""

    __tablename__ = "lawyers"

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    name: str = Field(sa_column=sa.Column(sa.String(80), nullable=False))
    firm: str = Field(sa_column=sa.Column(sa.String(120), nullable=False))
    areas: list[str] = Field(default_factory=list, sa_column=sa.Column(JSONType, nullable=False))
    capacity: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    active: bool = Field(sa_column=sa.Column(sa.Boolean, nullable=False))
    open_cases: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    last_assigned_on: date | None = Field(default=None, sa_column=sa.Column(sa.Date))
    last_offer_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class LawyerLeaveRow(SQLModel, table=True):
    """请假: a period in which the lawyer takes no assignment (both days included)."""

    __tablename__ = "lawyer_leaves"

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    lawyer_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("lawyers.id"),
                                               nullable=False, index=True))
    start_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    end_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))


class LawyerConflictRow(SQLModel, table=True):
    """利益冲突: a party the lawyer may not act for or against (``party_key``: the name as
    compared, `states.assignment.party_key`)."""

    __tablename__ = "lawyer_conflicts"
    __table_args__ = (
        sa.UniqueConstraint("lawyer_id", "party_key", name="uq_lawyer_conflicts_party"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    lawyer_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("lawyers.id"),
                                               nullable=False))
    party: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    party_key: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))


class LawyerOfferRow(SQLModel, table=True):
    """One assignment of a case to a lawyer (指派) and what became of it: ``offered`` until the
    agreement is signed (``accepted``), or ``declined`` (with the reason) or ``replaced``;
    ``released_on`` is the day the lawyer stopped holding the case (declined, replaced,
    concluded, terminated), NULL while it counts in their load."""

    __tablename__ = "lawyer_offers"
    __table_args__ = (
        sa.Index("ix_lawyer_offers_case", "case_id", "lawyer_id"),
        sa.Index("ix_lawyer_offers_on", "offered_on"),
    )

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    lawyer_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("lawyers.id"),
                                               nullable=False))
    case_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("cases.id"), nullable=False))
    offered_on: date = Field(sa_column=sa.Column(sa.Date, nullable=False))
    outcome: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    outcome_on: date | None = Field(default=None, sa_column=sa.Column(sa.Date))
    reason: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    released_on: date | None = Field(default=None, sa_column=sa.Column(sa.Date))
    recorded_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


lawyers = LawyerRow.__table__  # type: ignore[attr-defined]
lawyer_leaves = LawyerLeaveRow.__table__  # type: ignore[attr-defined]
lawyer_conflicts = LawyerConflictRow.__table__  # type: ignore[attr-defined]
lawyer_offers = LawyerOfferRow.__table__  # type: ignore[attr-defined]


class UserRow(SQLModel, table=True):
    """A person of the bureau who uses caseflow (用户): their role and department (科室).

    Only the password's hash is kept (argon2id, `flows.users`); NULL for a user who logs in
    with API tokens alone."""

    __tablename__ = "users"

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    name: str = Field(sa_column=sa.Column(sa.String(80), nullable=False, unique=True))
    role: str = Field(sa_column=sa.Column(sa.String(20), nullable=False))
    department: str | None = Field(default=None, sa_column=sa.Column(sa.String(80)))
    password_hash: str | None = Field(default=None, sa_column=sa.Column(sa.String(200)))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))


class ApiTokenRow(SQLModel, table=True):
    """An API token of a user, kept as its SHA-256 only: shown once when issued, revocable."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, sa_column=sa.Column(BigId, primary_key=True,
                                                              autoincrement=True))
    user_id: int = Field(sa_column=sa.Column(BigId, sa.ForeignKey("users.id"), nullable=False))
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    created_at: datetime = Field(sa_column=sa.Column(UTCDateTime, nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=sa.Column(UTCDateTime))


users = UserRow.__table__  # type: ignore[attr-defined]
api_tokens = ApiTokenRow.__table__  # type: ignore[attr-defined]
