"""The closure report's counting (DESIGN §7), as SQL aggregates: no case is loaded into Python.

Everything is judged **as of** a day from the events and the clock cycles, so a report over a
past period says what was true then, whatever happened to the cases since.

- A case's state at the end of day D is the ``to_state`` of its latest event dated on or before D
  (legal dates never go backwards along a case's chain). Its columns answer that without
  reading its events: when its last event is dated on or before D, it is the current state;
  when the case is closed now and reached that closed state on or before D (``closed_on``, reset
  when a case is reopened), it is the current state too; and a case never reopened (no
  reinstate or order_correction: a partial index holds those few events) was open until
  ``closed_on``. Only reopened cases look their events up (one probe on ``(case_id, seq)``).
- Only two sets of cases can have been handled in a period: those open now and those closed
  since it began (the ``(type, closed_on)`` index finds both).
- Admission is ``cases.admitted_on``: the first event that admitted the case (set once).
- A cycle of a clock the bureau owes was *missed by* D when it is ``missed`` and stopped by D; it
  was *overdue at the end of* D when it had started by D, was not stopped by then, is not paused
  (a pause is only ever taken before a cycle lapses, so a paused cycle was never overdue), and
  its due date was before D (a limit is due at the end of its due date).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from models.tables import cases, clock_cycles, events
from states.casetype import CaseType
from states.clocks import CycleStatus, Owner
from states.report import (
    AGE_BUCKETS,
    DEEMED,
    EXTENDING,
    INDEXED_ACTS,
    ClosureCounts,
    age_bounds,
    reopening_triggers,
)

GROUP_COLUMNS = ("department", "handler")
Key = tuple[str, str | None]  # (case type, group value or None)


def _acts(*triggers: str) -> sa.ColumnElement[bool]:
    """Events among the rare ones the partial index ``ix_events_report_acts`` holds, of these
    triggers. The index's own condition is repeated word for word (as literals): SQLite uses a
    partial index only for a query that states its condition."""
    def listed(name: str, values: Sequence[str]) -> sa.BindParameter[list[str]]:
        return sa.bindparam(name, list(values), expanding=True, literal_execute=True,
                            unique=True)

    wanted: sa.ColumnElement[bool] = events.c.trigger.in_(listed("wanted_acts", triggers))
    if not set(triggers) <= set(INDEXED_ACTS):
        return wanted  # a trigger the index does not hold (a new case type): read them all
    return sa.and_(events.c.trigger.in_(listed("indexed_acts", INDEXED_ACTS)), wanted)


def _state_at(day: date, case_type: CaseType) -> sa.ColumnElement[Any]:
    """The case's state at the end of ``day``: "" for some open state of a case never reopened
    (it was open until ``closed_on``), NULL if it had no event by then."""
    looked_up = (
        sa.select(events.c.to_state)
        .where(events.c.case_id == cases.c.id, events.c.on <= day)
        .order_by(events.c.seq.desc())
        .limit(1)
        .scalar_subquery()
    )
    current = sa.or_(cases.c.last_on <= day, cases.c.closed_on <= day)
    reopening = reopening_triggers(case_type)
    if not reopening:
        return sa.case((current, cases.c.state), else_=sa.literal(""))
    reopened = sa.select(events.c.case_id).where(_acts(*reopening))
    return sa.case((current, cases.c.state), (cases.c.id.not_in(reopened), sa.literal("")),
                   else_=looked_up)


def bureau_clocks(case_type: CaseType) -> list[str]:
    """The clocks of this type the bureau owes: the only ones on-time figures judge."""
    return [c.name for c in case_type.clocks if c.owed_by is Owner.BUREAU]


def missed_by(case_id: sa.ColumnElement[Any], day: date,
              clocks: list[str]) -> sa.ColumnElement[bool]:
    """A cycle of one of ``clocks`` on the case was missed by the end of ``day``."""
    return sa.exists().where(
        clock_cycles.c.case_id == case_id,
        clock_cycles.c.clock.in_(clocks),
        # a literal, as in the condition of the partial index ix_cycles_missed (SQLite uses a
        # partial index only for a query that states its condition)
        clock_cycles.c.status == sa.literal(CycleStatus.MISSED.value, literal_execute=True),
        clock_cycles.c.stopped_on <= day,
    )


def overdue_at(case_id: sa.ColumnElement[Any], day: date,
               clocks: list[str]) -> sa.ColumnElement[bool]:
    """A cycle of one of ``clocks`` on the case was overdue at the end of ``day``."""
    return sa.exists().where(
        clock_cycles.c.case_id == case_id,
        clock_cycles.c.clock.in_(clocks),
        clock_cycles.c.started_on <= day,
        clock_cycles.c.status != CycleStatus.PAUSED.value,
        sa.or_(clock_cycles.c.stopped_on.is_(None), clock_cycles.c.stopped_on > day),
        clock_cycles.c.due_on < day,
    )


def _count(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _group_column(group: str | None) -> sa.ColumnElement[Any]:
    if group is None:
        return sa.null()
    if group not in GROUP_COLUMNS:
        raise ValueError(f"cannot group by {group!r}")
    column: sa.ColumnElement[Any] = cases.c[group]
    return column


def population_counts(
    connection: sa.Connection, case_type: CaseType, start: date, end: date,
    group: str | None = None,
) -> dict[Key, ClosureCounts]:
    """Carried over, accepted, closed, withdrawn, on time, overdue and ageing, for the cases of
    ``case_type`` in [start, end], per value of the ``group`` column (department, handler).

    A case closed (for good) before the period was never handled in it, so only two sets of
    cases are read, each by the ``(type, closed_on)`` index: those open now, and those closed
    since the period began; their counts add up."""
    found: dict[Key, ClosureCounts] = {}
    for candidates in (cases.c.closed_on.is_(None),
                       # both bounds: the planner then prefers this index to the admission one
                       cases.c.closed_on.between(start, date.max)):
        query = _population_query(case_type, start, end, group, candidates)
        for row in connection.execute(query):
            carried_n, accepted_n, closed_n, withdrawn_n, on_time_n, overdue_n, *age_n = row[1:]
            counts = ClosureCounts(
                carried_over=int(carried_n), accepted=int(accepted_n), closed=int(closed_n),
                withdrawn=int(withdrawn_n), closed_on_time=int(on_time_n),
                overdue_open=int(overdue_n),
                ages={name: int(n) for (name, _, _), n in zip(AGE_BUCKETS, age_n, strict=True)},
            )
            key = (case_type.name, row[0])
            found[key] = found[key] + counts if key in found else counts
    return found


def _population_query(case_type: CaseType, start: date, end: date, group: str | None,
                      candidates: sa.ColumnElement[bool]) -> sa.Select[Any]:
    closed_states = sorted(case_type.closed_states)
    clocks = bureau_clocks(case_type)
    before = start - timedelta(days=1)
    # the handled cases with their state at the end of the period, each state worked out once
    # (OFFSET 0 keeps the database from inlining it into every expression that uses it)
    handled = (
        sa.select(cases.c.id, cases.c.admitted_on, _group_column(group).label("grp"),
                  _state_at(end, case_type).label("state"))
        .where(
            cases.c.type == case_type.name,
            candidates,
            cases.c.admitted_on <= end,
            sa.or_(cases.c.admitted_on >= start,  # accepted, else carried over:
                   sa.func.coalesce(_state_at(before, case_type), "").not_in(closed_states)),
        )
        .offset(0)
        .subquery("handled")
    )
    closed = handled.c.state.in_(closed_states)
    open_ = sa.not_(closed)
    # CASE, not AND: the cycles are looked up only for the cases the condition is about
    on_time = sa.case((closed, sa.not_(missed_by(handled.c.id, end, clocks))), else_=sa.false())
    overdue = sa.case((open_, overdue_at(handled.c.id, end, clocks)), else_=sa.false())
    ages = [
        sa.and_(open_, handled.c.admitted_on <= latest,
                sa.true() if earliest is None else handled.c.admitted_on >= earliest)
        for _, earliest, latest in age_bounds(end)
    ]
    query = sa.select(
        handled.c.grp if group is not None else sa.null(),
        _count(handled.c.admitted_on < start), _count(handled.c.admitted_on >= start),
        _count(closed), _count(handled.c.state == "withdrawn"),
        _count(on_time), _count(overdue), *(_count(a) for a in ages),
    )
    # no GROUP BY without a breakdown: one row, and nothing to sort
    return query.group_by(handled.c.grp) if group is not None else query


def event_counts(
    connection: sa.Connection, case_type: CaseType, start: date, end: date,
    group: str | None = None,
) -> dict[Key, dict[str, int]]:
    """Deemed outcomes (视为受理 / 放弃 / 撤回) and extensions recorded with legal dates in
    [start, end], per trigger. They are few, and a partial index holds them alone
    (``ix_events_report_acts``): its condition is repeated here word for word (as literals, so
    that SQLite sees the query implies it)."""
    group_column = _group_column(group).label("grp")
    query = (
        sa.select(group_column, events.c.trigger, sa.func.count())
        .select_from(events.join(cases, cases.c.id == events.c.case_id))
        .where(
            _acts(*DEEMED, *EXTENDING),
            events.c.on >= start,
            events.c.on <= end,
            cases.c.type == case_type.name,
        )
        .group_by(*([group_column] if group is not None else []), events.c.trigger)
    )
    found: dict[Key, dict[str, int]] = {}
    for value, trigger, count in connection.execute(query):
        found.setdefault((case_type.name, value), {})[trigger] = int(count)
    return found


def closure_counts(
    connection: sa.Connection, types: Mapping[str, CaseType], start: date, end: date,
    group: str | None = None,
) -> dict[Key, ClosureCounts]:
    """Every count of the closure report, per case type (and group value when grouped)."""
    found: dict[Key, ClosureCounts] = {}
    for case_type in types.values():
        population = population_counts(connection, case_type, start, end, group)
        happened = event_counts(connection, case_type, start, end, group)
        for key in dict.fromkeys([*population, *happened]):
            counts = population.get(key, ClosureCounts())
            triggers = happened.get(key, {})
            found[key] = ClosureCounts(
                carried_over=counts.carried_over, accepted=counts.accepted,
                closed=counts.closed, withdrawn=counts.withdrawn,
                closed_on_time=counts.closed_on_time, overdue_open=counts.overdue_open,
                ages=counts.ages,
                deemed={t: triggers.get(t, 0) for t in DEEMED},
                extensions=sum(triggers.get(t, 0) for t in EXTENDING),
            )
    return found
