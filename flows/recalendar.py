"""Calendar updates (DESIGN.md §3): re-project running clocks when a year's data is added or
corrected, each case's change journaled as a system event. Gather -> decide (pure) -> apply.

`reproject_clocks` is given the new calendar and the years its data added or corrected:

- gather: the cases with a live (running or paused) cycle whose span, from its start to its due
  date, touches one of those years — one indexed query on the live cycles by due date. A cycle
  whose span misses every changed year counts the very same days on the old and the new data, so
  its dates cannot move;
- decide: `states.recalendar.recalendar` recomputes the case's live cycles on the new calendar
  and returns the ``recalendar`` event, or None when no date moved;
- apply: each case in its own transaction — loaded again with its row locked, decided on that
  fresh state and appended (case row, hash-chained event, changed cycles) or left alone.

Idempotent: a second run with the same data finds every date already where the data puts it
and records nothing. Escalations already recorded stay as they are, since their unique key is
(case, clock, cycle, rung): a rung already sent is never sent again, and where a due date moved
later the rungs not reached yet simply come later. A case that fails (e.g. it changed meanwhile)
is reported and the others go on.

The stored dates are compared with the new data, not with the calendar the bureau runs on, so
the flow is right whether or not ``CASEFLOW_CALENDAR_DATA`` already names the new data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flows import services
from flows.context import Bureau
from models import repository
from states.calendar import WorkCalendar, legal_date
from states.case import CaseSnapshot, Fired
from states.errors import CaseflowError, InvalidLegalDate
from states.recalendar import SYSTEM, recalendar


@dataclass
class RecalendarReport:
    """What a re-projection did: cases and live cycles examined, every date that moved."""

    on: date
    years: list[int]
    source: str
    cases: int = 0  # cases examined (with a live cycle touching the years)
    cycles: int = 0  # live cycles examined on them
    events: int = 0  # ``recalendar`` events recorded: cases whose dates moved
    changed: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "on": self.on.isoformat(),
            "years": self.years,
            "source": self.source,
            "cases": self.cases,
            "cycles": self.cycles,
            "events": self.events,
            "changed": self.changed,
            "failures": self.failures,
        }


def reproject_clocks(
    bureau: Bureau,
    calendar: WorkCalendar,
    *,
    years: Iterable[int],
    now: datetime,
    on: date | None = None,
    source: str = "",
    by: str = SYSTEM,
) -> RecalendarReport:
    """Re-project on ``calendar`` the live clocks that ``years`` can move, recorded at ``now``
    with legal effect on ``on`` (default: today; never in the future)."""
    today = legal_date(now)
    on = today if on is None else on
    if on > today:
        raise InvalidLegalDate(
            f"{on.isoformat()} is in the future; a calendar update takes effect today or earlier",
            [f"on<={today.isoformat()}"],
        )
    listed = sorted(set(years))
    report = RecalendarReport(on, listed, source)
    if not listed:
        return report
    with bureau.unit_of_work(write=False) as uow:
        refs = repository.refs_with_live_cycles_in(uow.connection, listed)
    for ref in refs:
        try:
            _apply(bureau, ref, calendar, report, now=now, by=by)
        except CaseflowError as error:  # e.g. the case changed meanwhile: report it, go on
            report.failures.append({"ref": ref, "error": error.to_json()})
    return report


def _apply(
    bureau: Bureau,
    ref: str,
    calendar: WorkCalendar,
    report: RecalendarReport,
    *,
    now: datetime,
    by: str,
) -> None:
    """One case, one transaction: read, decide on that state, append or leave (read again
    and decide anew if someone else changed the case meanwhile)."""

    def once() -> tuple[CaseSnapshot, Fired | None]:
        with bureau.unit_of_work() as uow:
            stored = repository.load(uow.connection, ref)
            fired = recalendar(bureau.case_type(stored.case.type), stored.case, calendar,
                               report.on, years=report.years, source=report.source, by=by)
            if fired is not None:
                repository.append(uow.connection, stored, fired, recorded_at=now)
                uow.commit()
        return stored.case, fired

    case, fired = services.with_fresh_reads(once)
    report.cases += 1
    report.cycles += sum(1 for cycle in case.cycles if cycle.live)
    if fired is None:
        return
    report.events += 1
    before = {(c.clock, c.cycle): c for c in case.cycles}
    for change in fired.event.clocks:
        old = before[(change.clock, change.cycle)]
        report.changed.append({
            "ref": ref, "clock": change.clock, "cycle": change.cycle,
            "from": old.due_on.isoformat(), "to": change.due_on.isoformat(),
        })
