"""Re-projecting a case's running clocks on new calendar data (DESIGN.md §3), as a system event.

When the State Council's notice for a year is added to the calendar data (or a year is
corrected), the due dates of clocks still running may move: a provisional 2027 knew only the
statutory holidays themselves, the notice adds bridge days and make-up working days. `recalendar`
recomputes every live (running or paused) cycle of one case on the new calendar and, when any due
date moved, returns the `Fired` that records it:

- trigger ``recalendar``, source = dest = the case's state, actor ``system``;
- attrs ``{"years": "2027", "source": "…"}`` (the years of the update, comma-separated text, since
  event attributes are scalars; the source names the notice or the data file);
- one `ClockChange` ``reprojected`` (with the new due date) per cycle whose dates changed (or
  whose counted units were recounted, see below);
- version + 1.

Nothing else changes: cycles that stopped (met, missed, cancelled) keep the dates they were judged
by, and no state, attribute or escalation is touched. Returns None when no date moved, so applying
the same data twice records one event, not two.

Dates:

- The event takes effect on ``on``, the legal date of the update, but never before the case's
  previous event: ``max(on, case.last_on)``. A re-projection only restates dates, so it is dated
  rather than refused.
- ``case.last_on`` is left as it was. A re-projection is not a legal act on the case: clerks may
  still record acts that happened before it, and a lapse the sweep applies on a period's last day
  (视为受理, dated ``due_on``) must not be refused because the calendar was updated later.

Counting: a cycle is recomputed from what it stores (`states.clocks.reproject`). The units it
counted before its latest resume (``used``) are kept as counted, since the cycle does not keep the
dates of earlier pauses. One case is recounted in full: a paused working-day cycle that never
resumed counted exactly the working days from its start to its pause, so those are counted again
on the new data. Pure: no I/O, no clock; ``on`` and the calendar are parameters.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from states.calendar import Unit, WorkCalendar
from states.case import CaseSnapshot, ClockChange, DomainEvent, Fired
from states.casetype import Actor, AttrValue, CaseType
from states.clocks import Cycle, CycleStatus, reproject

TRIGGER = "recalendar"
CHANGE = "reprojected"
SYSTEM = "system"


def recount(cycle: Cycle, calendar: WorkCalendar) -> Cycle:
    """A live cycle's dates on ``calendar`` (a stopped cycle is returned as it is)."""
    if (
        cycle.status is CycleStatus.PAUSED
        and cycle.unit is Unit.WORKING
        and cycle.paused_since is not None
        and cycle.resumed_on == cycle.started_on
    ):
        # never resumed: ``used`` is exactly the working days from the start to the pause
        used = calendar.working_days_between(cycle.started_on, cycle.paused_since)
        cycle = cycle._replace(used=used)
    return reproject(cycle, calendar)


def recalendar(
    case_type: CaseType,
    case: CaseSnapshot,
    calendar: WorkCalendar,
    on: date,
    *,
    years: Iterable[int] = (),
    source: str = "",
    by: str = SYSTEM,
) -> Fired | None:
    """The case with its live cycles re-projected on ``calendar`` and the event recording it,
    or None when no cycle's dates changed. The input case is never changed."""
    if case.type != case_type.name:
        raise ValueError(f"a {case.type} case re-projected through the {case_type.name} type")
    cycles = tuple(recount(cycle, calendar) for cycle in case.cycles)
    changes = tuple(
        ClockChange(new.clock, new.cycle, CHANGE, new.due_on, new.status)
        for old, new in zip(case.cycles, cycles, strict=True)
        if new != old
    )
    if not changes:
        return None
    attrs: dict[str, AttrValue] = {}
    listed = sorted(set(years))
    if listed:
        attrs["years"] = ",".join(str(y) for y in listed)
    if source:
        attrs["source"] = source
    after = case._replace(cycles=cycles, version=case.version + 1)
    event = DomainEvent(
        trigger=TRIGGER,
        source=case.state,
        dest=case.state,
        on=max(on, case.last_on),
        actor=Actor.SYSTEM,
        by=by,
        reason=None,
        attrs=attrs,
        clocks=changes,
    )
    return Fired(after, event)
