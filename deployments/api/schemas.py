"""The API's bodies and answers as SQLModel classes (no tables): what /openapi.json shows.

Answers are built by the one serializer the CLI prints too (`flows.views`); these classes
describe them, and the schemathesis test checks every answer against them.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import ConfigDict
from sqlmodel import Field, SQLModel


class CaseCreate(SQLModel):
    """立案登记: a case received on ``on``."""

    type: str = Field(description="reconsideration, legal_aid or complaint")
    on: date = Field(description="date received (收到日期)")
    attrs: dict[str, str | int] = Field(default_factory=dict)
    ref: str | None = Field(default=None, description="generated when absent")


class TriggerFire(SQLModel):
    """A trigger's input: its legal date (default today), attributes and reason."""

    on: date | None = None
    attrs: dict[str, str | int] = Field(default_factory=dict)
    reason: str | None = None


class ClockPublic(SQLModel):
    name: str
    label: str
    cycle: int
    status: str
    started_on: date
    due_on: date
    days: int
    unit: str
    paused_days: int
    extended_days: int
    stopped_on: date | None
    basis: str
    provisional: bool


class CasePublic(SQLModel):
    ref: str
    type: str
    type_label: str
    state: str
    state_label: str
    version: int
    opened_on: date
    admitted_on: date | None
    closed_on: date | None
    attrs: dict[str, Any]
    clocks: list[ClockPublic]


class EventPublic(SQLModel):
    model_config = ConfigDict(populate_by_name=True)  # type: ignore[assignment]

    seq: int
    trigger: str
    from_: str | None = Field(alias="from")
    to: str
    on: date
    recorded_at: str
    by: str
    actor: str
    reason: str | None
    attrs: dict[str, Any]
    clocks: list[dict[str, Any]]
    hash: str


class OverduePublic(SQLModel):
    ref: str
    type: str
    clock: str
    label: str
    due_on: date
    days_overdue: int
    owed_by: str
    handler: str | None
    department: str | None
    rungs: list[str]


class ClosureReportPublic(SQLModel):
    model_config = ConfigDict(populate_by_name=True)  # type: ignore[assignment]

    from_: date = Field(alias="from")
    to: date
    rows: list[dict[str, Any]]


class UserPublic(SQLModel):
    name: str
    role: str
    role_label: str
    department: str | None


class ErrorDetail(SQLModel):
    code: str
    message: str
    allowed: list[str]


class ErrorPublic(SQLModel):
    error: ErrorDetail


# -- the lawyer pool (律师库) and 指派 ----------------------------------------------------------


class LawyerCreate(SQLModel):
    """A lawyer for the pool, as `caseflow lawyer add` takes one."""

    name: str
    firm: str = Field(description="law firm (律师事务所)")
    areas: list[str] = Field(description="practice areas, the first the specialty")
    capacity: int = Field(default=10, description="most legal-aid cases held at once (在办上限)")


class LawyerAdded(SQLModel):
    id: int
    name: str
    firm: str
    areas: list[str]
    capacity: int


class LeavePublic(SQLModel):
    """请假: no assignment from ``from`` to ``to``, both included."""

    model_config = ConfigDict(populate_by_name=True)  # type: ignore[assignment]

    from_: date = Field(alias="from")
    to: date


class ConflictCreate(SQLModel):
    party: str = Field(description="a party the lawyer may not act for or against")


class LawyerPublic(SQLModel):
    id: int
    name: str
    firm: str
    areas: list[str]
    capacity: int
    active: bool
    load: int
    last_assigned_on: date | None
    leaves: list[LeavePublic]


class OfferPublic(SQLModel):
    ref: str
    offered_on: date
    outcome: str = Field(description="offered, accepted, declined or replaced")
    outcome_on: date | None
    reason: str | None
    released_on: date | None


class LawyerDetail(LawyerPublic):
    conflicts: list[str]
    offers: list[OfferPublic]


class AssignedPublic(SQLModel):
    ref: str
    lawyer: int
    name: str
    reasons: list[str]
    alternatives: list[int]


class UnassignedPublic(SQLModel):
    ref: str
    reason: str
    gates: dict[str, int] = Field(description="how many lawyers each gate kept out")


class SkippedPublic(SQLModel):
    ref: str
    reason: str


class AssignmentRunPublic(SQLModel):
    now: str
    assigned: list[AssignedPublic]
    unassigned: list[UnassignedPublic]
    skipped: list[SkippedPublic]


class AssignmentReportPublic(SQLModel):
    model_config = ConfigDict(populate_by_name=True)  # type: ignore[assignment]

    from_: date = Field(alias="from")
    to: date
    lawyers: list[dict[str, Any]]
    offers_max: int
    offers_min: int
    max_minus_min: int
