"""Verifying stored cases: the hash chain of their events, and their rows against those events.

A case verifies when its chain is whole (`models.chain.check_chain`) and replaying its events
through its case type (`states.machine`: the opening event, then each event fired with its
stored date, attributes and reason, a system event as the system) gives the stored case row —
state, attributes, version, dates — and the stored clock cycles. Anything else is named, field
by field: an edit made behind the services' back, e.g. a state changed by hand or a due date
moved to silence escalations.

What verification finds is recorded on the case (``cases.broken``) and cleared by a later
clean verification; services refuse to advance a case whose record says it is broken.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from models import repository
from models.chain import ChainCheck, check_chain, jsonable
from models.repository import StoredCase
from models.tables import EventRow
from states.calendar import Unit, WorkCalendar
from states.case import CaseSnapshot
from states.casetype import Actor, CaseType
from states.clocks import Cycle
from states.errors import CaseflowError
from states.machine import fire, open_case
from states.recalendar import TRIGGER as RECALENDAR

_CASE_FIELDS = ("state", "version", "opened_on", "last_on", "admitted_on", "closed_on")
_CYCLE_FIELDS = tuple(Cycle._fields)


@dataclass(frozen=True)
class Finding:
    """What verifying one case found, and what its record said before."""

    case_id: int
    check: ChainCheck
    recorded: str | None  # ``cases.broken`` when it was read

    @property
    def changed(self) -> bool:
        return (self.check.problem or None) != self.recorded


def check_cases(
    connection: sa.Connection,
    types: Mapping[str, CaseType],
    calendar: WorkCalendar,
    ref: str | None = None,
) -> list[Finding]:
    """Verify one case or every case, oldest first."""
    findings = []
    for case_id, case_ref in repository.case_ids(connection, ref):
        stored = repository.load(connection, case_ref)
        rows = repository.event_rows(connection, case_id)
        check = check_chain(case_ref, rows, stored.last_seq, stored.last_hash)
        if check.ok:
            problem = replay_problem(stored, rows, types, calendar)
            if problem is not None:
                check = ChainCheck(case_ref, len(rows), None, problem)
        findings.append(Finding(case_id, check, stored.broken))
    return findings


def record(connection: sa.Connection, findings: Sequence[Finding]) -> None:
    """Record on each case what was found: its problem, or that it verified."""
    for finding in findings:
        if finding.changed:
            repository.mark_broken(connection, finding.case_id, finding.check.problem or None)


def replay_problem(
    stored: StoredCase,
    rows: Sequence[EventRow],
    types: Mapping[str, CaseType],
    calendar: WorkCalendar,
) -> str | None:
    """The first difference between the stored case and what its events give, or None."""
    case_type = types.get(stored.case.type)
    if case_type is None:
        return f"stored type {stored.case.type!r} is no case type here"
    try:
        replayed = replay(case_type, rows, calendar)
    except CaseflowError as error:
        return f"its events do not replay: {error.message}"
    return difference(stored.case, replayed)


def replay(
    case_type: CaseType, rows: Sequence[EventRow], calendar: WorkCalendar
) -> CaseSnapshot:
    """The case its stored events give, fired one by one as they were recorded."""
    first, later = rows[0], rows[1:]
    case = open_case(case_type, first.on, attrs=first.attrs, by=first.by,
                     calendar=calendar).case
    for row in later:
        if row.trigger == RECALENDAR:
            case = _reprojected(case, row.clocks)
            continue
        case = fire(case_type, case, row.trigger, row.on, attrs=row.attrs,
                    reason=row.reason, by=row.by, by_system=row.actor == Actor.SYSTEM,
                    calendar=calendar).case
    return case


def _reprojected(case: CaseSnapshot, changes: Sequence[Mapping[str, Any]]) -> CaseSnapshot:
    """A calendar update as its event journals it: the due dates it moved. (The calendar data
    it was made on may not be the bureau's; the dates it gave are in the event.)"""
    moved = {(c["clock"], c["cycle"]): date.fromisoformat(c["due_on"]) for c in changes}
    cycles = []
    for cycle in case.cycles:
        due = moved.get((cycle.clock, cycle.cycle))
        if due is not None:
            raw_end = due if cycle.unit is Unit.WORKING else cycle.raw_end
            cycle = cycle._replace(due_on=due, raw_end=raw_end)
        cycles.append(cycle)
    return case._replace(cycles=tuple(cycles), version=case.version + 1)


def difference(stored: CaseSnapshot, replayed: CaseSnapshot) -> str | None:
    """The first field where the stored case differs from the replayed one, named."""
    for name in _CASE_FIELDS:
        mine, theirs = getattr(stored, name), getattr(replayed, name)
        if mine != theirs:
            return f"stored {name} {_shown(mine)}, its events give {_shown(theirs)}"
    if jsonable(stored.attrs) != jsonable(replayed.attrs):
        return (f"stored attributes {jsonable(stored.attrs)}, its events give "
                f"{jsonable(replayed.attrs)}")
    if len(stored.cycles) != len(replayed.cycles):
        return (f"{len(stored.cycles)} clock cycles stored, its events give "
                f"{len(replayed.cycles)}")
    for mine_cycle, their_cycle in zip(stored.cycles, replayed.cycles, strict=True):
        for name in _CYCLE_FIELDS:
            mine, theirs = getattr(mine_cycle, name), getattr(their_cycle, name)
            if mine != theirs:
                return (f"clock {their_cycle.clock} cycle {their_cycle.cycle}: stored {name} "
                        f"{_shown(mine)}, its events give {_shown(theirs)}")
    return None


def _shown(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    if value is None:
        return "none"
    return repr(str(value)) if isinstance(value, str) else str(value)
