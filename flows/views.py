"""The JSON shapes of CONTRACT.md for cases and timelines, built from stored values."""

from __future__ import annotations

from datetime import date
from typing import Any

from models.chain import jsonable
from models.repository import StoredCase
from models.tables import EventRow
from states.calendar import WorkCalendar
from states.casetype import CaseType
from states.roles import Identity, masked


def case_json(
    stored: StoredCase, case_type: CaseType, judged_on: date, calendar: WorkCalendar,
    viewer: Identity | None = None,
) -> dict[str, Any]:
    """A case as CONTRACT.md shows it, clock statuses judged on legal date ``judged_on``,
    personal data masked for a ``viewer`` whose role does not need them (`states.roles`)."""
    case = stored.case
    specs = case_type.clock_map
    states = case_type.state_map
    return {
        "ref": case.ref,
        "type": case.type,
        "type_label": case_type.label,
        "state": case.state,
        "state_label": states[case.state].label if case.state in states else case.state,
        "version": case.version,
        "opened_on": case.opened_on.isoformat(),
        "admitted_on": case.admitted_on.isoformat() if case.admitted_on else None,
        "closed_on": case.closed_on.isoformat() if case.closed_on else None,
        "attrs": masked(jsonable(case.attrs), viewer),
        "clocks": [
            {
                "name": cycle.clock,
                "label": specs[cycle.clock].label if cycle.clock in specs else cycle.clock,
                "cycle": cycle.cycle,
                # a notice is never late: running past its day means its ground has arisen
                "status": (cycle.status if cycle.clock in specs and specs[cycle.clock].notice
                           else cycle.status_on(judged_on)).value,
                "started_on": cycle.started_on.isoformat(),
                "due_on": cycle.due_on.isoformat(),
                "days": cycle.days,
                "unit": cycle.unit.value,
                "paused_days": cycle.paused_days,
                "extended_days": cycle.extended_days,
                "stopped_on": cycle.stopped_on.isoformat() if cycle.stopped_on else None,
                "basis": specs[cycle.clock].basis if cycle.clock in specs else "",
                "provisional": calendar.touches_provisional(cycle.started_on, cycle.due_on),
            }
            for cycle in case.cycles
        ],
    }


def event_json(row: EventRow, viewer: Identity | None = None) -> dict[str, Any]:
    """One timeline entry as CONTRACT.md shows it (personal data masked as in `case_json`)."""
    return {
        "seq": row.seq,
        "trigger": row.trigger,
        "from": row.from_state,
        "to": row.to_state,
        "on": row.on.isoformat(),
        "recorded_at": row.recorded_at.isoformat(),
        "by": row.by,
        "actor": row.actor,
        "reason": row.reason,
        "attrs": masked(row.attrs, viewer),
        "clocks": row.clocks,
        "hash": row.hash,
    }
