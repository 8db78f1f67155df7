"""The supervisor's audit queries: overdue clocks across the bureau, a clerk's worklist.

SQLAlchemy Core over the tables; every query is keyed by an index (running cycles by due date,
cases by handler's cases, escalations by cycle) and returns plain rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa

from models.tables import cases, clock_cycles, escalations
from states.clocks import CycleStatus

CHUNK = 500


def overdue_cycles(
    connection: sa.Connection, judged_on: date, clocks_by_type: Mapping[str, Sequence[str]],
    *, department: str | None = None,
) -> list[Any]:
    """Every cycle running past its due date on ``judged_on`` (as it stood then: a cycle
    stopped since still counts) of the clocks named per type (notices left out by the
    caller), with its case's ref, type, handler and department, most
    overdue first (then by ref and clock)."""
    if not clocks_by_type:
        return []
    of_type = sa.or_(*(sa.and_(cases.c.type == t, clock_cycles.c.clock.in_(list(names)))
                       for t, names in clocks_by_type.items()))
    query = (
        sa.select(cases.c.id.label("case_id"), cases.c.ref, cases.c.type, cases.c.handler,
                  cases.c.department, clock_cycles.c.clock, clock_cycles.c.cycle,
                  clock_cycles.c.started_on, clock_cycles.c.due_on)
        .select_from(clock_cycles.join(cases, cases.c.id == clock_cycles.c.case_id))
        .where(
            # running at the end of the day judged on: started by then, not stopped by then,
            # not paused (a pause is only taken before a lapse), and past its due date
            clock_cycles.c.started_on <= judged_on,
            clock_cycles.c.status != CycleStatus.PAUSED.value,
            sa.or_(clock_cycles.c.stopped_on.is_(None), clock_cycles.c.stopped_on > judged_on),
            clock_cycles.c.due_on < judged_on, of_type)
        .order_by(clock_cycles.c.due_on, cases.c.ref, clock_cycles.c.clock)
    )
    if department is not None:
        query = query.where(cases.c.department == department)
    return [row._mapping for row in connection.execute(query)]


def rungs_of(connection: sa.Connection, cycles: Iterable[tuple[int, str, int]],
             reached_by: date) -> dict[tuple[int, str, int], list[str]]:
    """The rungs recorded for each (case id, clock, cycle) that it had reached by
    ``reached_by``, in the order they were reached."""
    wanted = list(dict.fromkeys(cycles))
    found: dict[tuple[int, str, int], list[str]] = {}
    case_ids = sorted({c for c, _, _ in wanted})
    for i in range(0, len(case_ids), CHUNK):
        query = (
            sa.select(escalations.c.case_id, escalations.c.clock, escalations.c.cycle,
                      escalations.c.rung)
            .where(escalations.c.case_id.in_(case_ids[i:i + CHUNK]),
                   escalations.c.reached_on <= reached_by)
            .order_by(escalations.c.reached_on, escalations.c.id)
        )
        for case_id, clock, cycle, rung in connection.execute(query):
            found.setdefault((case_id, clock, cycle), []).append(rung)
    return {key: found.get(key, []) for key in wanted}


def open_cases_of(connection: sa.Connection, handler: str,
                  closed_by_type: Mapping[str, Sequence[str]]) -> list[Any]:
    """The handler's cases that are not closed now, each with its nearest running deadline of
    ``clocks`` (none: NULL), nearest first, cases without a running clock last."""
    not_closed = sa.or_(*(sa.and_(cases.c.type == t, cases.c.state.not_in(list(closed)))
                          for t, closed in closed_by_type.items()))
    query = (
        sa.select(cases.c.id.label("case_id"), cases.c.ref, cases.c.type, cases.c.state,
                  cases.c.admitted_on, cases.c.opened_on)
        .where(cases.c.handler == handler, not_closed)
        .order_by(cases.c.ref)
    )
    return [row._mapping for row in connection.execute(query)]


def running_cycles_of(connection: sa.Connection,
                      case_ids: Sequence[int]) -> list[Any]:
    """The running cycles of these cases (their deadlines)."""
    rows: list[Any] = []
    for i in range(0, len(case_ids), CHUNK):
        query = (
            sa.select(clock_cycles.c.case_id, clock_cycles.c.clock, clock_cycles.c.cycle,
                      clock_cycles.c.due_on)
            .where(clock_cycles.c.case_id.in_(case_ids[i:i + CHUNK]),
                   clock_cycles.c.status == CycleStatus.RUNNING.value)
        )
        rows += [row._mapping for row in connection.execute(query)]
    return rows


def closed_cases_of(connection: sa.Connection, handler: str, start: date, end: date,
                    bureau_clocks_by_type: Mapping[str, Sequence[str]]
                    ) -> list[Any]:
    """The handler's cases closed (and still closed) with a closing date in [start, end],
    each with whether a cycle of a clock the bureau owes was missed (not on time)."""
    missed = sa.exists().where(
        clock_cycles.c.case_id == cases.c.id,
        clock_cycles.c.status == CycleStatus.MISSED.value,
        sa.or_(*(sa.and_(cases.c.type == t, clock_cycles.c.clock.in_(list(names)))
                 for t, names in bureau_clocks_by_type.items())),
    )
    query = (
        sa.select(cases.c.ref, cases.c.type, cases.c.state, cases.c.closed_on,
                  missed.label("late"))
        .where(cases.c.handler == handler, cases.c.closed_on >= start,
               cases.c.closed_on <= end)
        .order_by(cases.c.closed_on, cases.c.ref)
    )
    return [row._mapping for row in connection.execute(query)]
