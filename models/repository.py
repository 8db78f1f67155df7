"""Reading and writing cases, events and clock cycles with SQLAlchemy Core on a connection.

Repository functions take the unit of work's connection and never commit. Writing a fired
trigger is: the case row (guarded by its version), one event row chained to the previous
hash, and only the clock cycles the event started or changed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Container, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from models.chain import GENESIS, event_values, jsonable
from models.errors import CaseNotFound, Conflict, StaleCase
from models.rows import select_rows
from models.tables import EventRow, cases, clock_cycles, events, ref_counters
from states.calendar import Unit
from states.case import CaseSnapshot, Fired
from states.clocks import Cycle, CycleStatus

LIVE_STATUSES = (CycleStatus.RUNNING.value, CycleStatus.PAUSED.value)
_REF = re.compile(r"(?P<prefix>[A-Za-z]+)-(?P<year>[0-9]{4})-(?P<number>[0-9]{1,9})")


@dataclass(frozen=True, slots=True)
class StoredCase:
    """A case as stored: its row id, the domain snapshot and the head of its event chain."""

    id: int
    case: CaseSnapshot
    last_seq: int
    last_hash: str
    broken: str | None = None  # what verification last found wrong with it (`models.verify`)


# -- rows <-> values ------------------------------------------------------------------------


def cycle_values(case_id: int, cycle: Cycle) -> dict[str, Any]:
    return {
        "case_id": case_id,
        "clock": cycle.clock,
        "cycle": cycle.cycle,
        "status": cycle.status.value,
        "unit": cycle.unit.value,
        "days": cycle.days,
        "started_on": cycle.started_on,
        "resumed_on": cycle.resumed_on,
        "used": cycle.used,
        "raw_end": cycle.raw_end,
        "due_on": cycle.due_on,
        "paused_since": cycle.paused_since,
        "paused_days": cycle.paused_days,
        "extended_days": cycle.extended_days,
        "extensions": cycle.extensions,
        "stopped_on": cycle.stopped_on,
    }


_STATUS = {s.value: s for s in CycleStatus}
_UNIT = {u.value: u for u in Unit}


def cycle_from_row(row: Mapping[Any, Any]) -> Cycle:
    return Cycle(
        clock=row["clock"],
        cycle=row["cycle"],
        status=_STATUS[row["status"]],
        unit=_UNIT[row["unit"]],
        days=row["days"],
        started_on=row["started_on"],
        resumed_on=row["resumed_on"],
        used=row["used"],
        raw_end=row["raw_end"],
        due_on=row["due_on"],
        paused_since=row["paused_since"],
        paused_days=row["paused_days"],
        extended_days=row["extended_days"],
        extensions=row["extensions"],
        stopped_on=row["stopped_on"],
    )


def snapshot_from_row(row: Mapping[Any, Any], cycles: tuple[Cycle, ...]) -> CaseSnapshot:
    return CaseSnapshot(
        type=row["type"],
        state=row["state"],
        attrs=row["attrs"],
        cycles=cycles,
        opened_on=row["opened_on"],
        last_on=row["last_on"],
        admitted_on=row["admitted_on"],
        closed_on=row["closed_on"],
        version=row["version"],
        ref=row["ref"],
    )


def stored_from_row(row: Mapping[Any, Any], cycles: tuple[Cycle, ...]) -> StoredCase:
    return StoredCase(row["id"], snapshot_from_row(row, cycles), row["last_seq"],
                      row["last_hash"], row["broken"])


def changed_cycles(
    before: Sequence[Cycle], after: Sequence[Cycle]
) -> tuple[list[Cycle], list[Cycle]]:
    """(cycles to insert, cycles to update): the domain only appends and replaces."""
    updated = [new for old, new in zip(before, after, strict=False) if new != old]
    return list(after[len(before):]), updated


# -- reading -----------------------------------------------------------------------------------

# what loading a case reads: the snapshot's columns and the chain's head, not the bookkeeping;
# then, on the same row, one of its cycles (in the order of `Cycle`'s fields), or NULLs
_CASE_COLUMNS = [cases.c[name] for name in (
    "id", "ref", "type", "state", "attrs", "version", "opened_on", "admitted_on", "closed_on",
    "last_on", "last_seq", "last_hash", "broken")]
_CYCLE_COLUMNS = [clock_cycles.c[name] for name in Cycle._fields]
_CASE_WITH_CYCLES = (
    sa.select(*_CASE_COLUMNS, *_CYCLE_COLUMNS)
    .select_from(cases.outerjoin(clock_cycles, clock_cycles.c.case_id == cases.c.id))
    .where(cases.c.ref == sa.bindparam("ref"))
    .order_by(clock_cycles.c.id)
)


def load(connection: sa.Connection, ref: str) -> StoredCase:
    """The case ``ref`` with its cycles, read by one statement and so from one snapshot: the
    row and the cycles of one version. Nothing is locked: a writer that then changes the case
    is refused by the version guard of `append` if someone else changed it first."""
    rows = connection.execute(_CASE_WITH_CYCLES, {"ref": ref}).all()
    if not rows:
        raise CaseNotFound(ref)
    width = len(_CASE_COLUMNS)
    cycles = tuple(_cycle(*row[width:]) for row in rows if row[width] is not None)
    return stored_from_row(rows[0]._mapping, cycles)


def _cycle(clock: str, cycle: int, status: str, unit: str, *rest: Any) -> Cycle:
    """A Cycle from its columns in field order (`_CYCLE_COLUMNS`)."""
    return Cycle(clock, cycle, _STATUS[status], _UNIT[unit], *rest)


def find(
    connection: sa.Connection,
    *,
    case_type: str | None = None,
    state: str | None = None,
    overdue_on: date | None = None,
    notices: Sequence[str] = (),
    limit: int | None = None,
    department: str | None = None,
    handler: str | None = None,
    due_before: date | None = None,
) -> list[StoredCase]:
    """Cases by type, state, department and handler; with ``overdue_on``, only those with a
    clock running past due (``notices``: clocks owed by no one, which are never overdue); with
    ``due_before``, only those with a clock running and due on or before that day."""
    def running_due(on_or_before: date) -> sa.Exists:
        return sa.exists().where(
            clock_cycles.c.case_id == cases.c.id,
            clock_cycles.c.status == CycleStatus.RUNNING.value,
            clock_cycles.c.due_on <= on_or_before,
            clock_cycles.c.clock.not_in(notices),
        )

    query = sa.select(*_CASE_COLUMNS).order_by(cases.c.id)
    if case_type is not None:
        query = query.where(cases.c.type == case_type)
    if state is not None:
        query = query.where(cases.c.state == state)
    if department is not None:
        query = query.where(cases.c.department == department)
    if handler is not None:
        query = query.where(cases.c.handler == handler)
    if overdue_on is not None:  # due before that day: its last day has ended
        query = query.where(running_due(overdue_on - timedelta(days=1)))
    if due_before is not None:
        query = query.where(running_due(due_before))
    if limit is not None:
        query = query.limit(limit)
    rows = connection.execute(query).mappings().all()
    by_case: dict[int, list[Cycle]] = {row["id"]: [] for row in rows}
    for chunk in _chunks(list(by_case), 500):
        cycle_rows = connection.execute(
            sa.select(clock_cycles)
            .where(clock_cycles.c.case_id.in_(chunk))
            .order_by(clock_cycles.c.id)
        ).mappings()
        for r in cycle_rows:
            by_case[r["case_id"]].append(cycle_from_row(r))
    return [stored_from_row(row, tuple(by_case[row["id"]])) for row in rows]


def event_rows(connection: sa.Connection, case_id: int) -> list[EventRow]:
    """The case's events (案件流转记录) as stored, oldest first."""
    return select_rows(connection, select(EventRow).where(EventRow.case_id == case_id)
                       .order_by(col(EventRow.seq)))


def case_ids(connection: sa.Connection, ref: str | None = None) -> list[tuple[int, str]]:
    """(id, ref) of one case or of every case, oldest first."""
    query = sa.select(cases.c.id, cases.c.ref)
    if ref is not None:
        query = query.where(cases.c.ref == ref)
    rows = connection.execute(query.order_by(cases.c.id)).all()
    if ref is not None and not rows:
        raise CaseNotFound(ref)
    return [(r.id, r.ref) for r in rows]


def existing_refs(connection: sa.Connection, refs: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(refs), 500):
        rows = connection.execute(sa.select(cases.c.ref).where(cases.c.ref.in_(chunk)))
        found.update(r.ref for r in rows)
    return found


def refs_with_live_cycles_in(connection: sa.Connection, years: Iterable[int]) -> list[str]:
    """Refs of the cases with a live cycle whose start..due span touches one of ``years``
    (a calendar update can move only those). Served by the partial index on live cycles by
    due date (``ix_cycles_live_due``)."""
    spans = [
        sa.and_(clock_cycles.c.due_on >= date(first, 1, 1),
                clock_cycles.c.started_on <= date(last, 12, 31))
        for first, last in _runs(sorted(set(years)))
    ]
    if not spans:
        return []
    live = (
        sa.select(clock_cycles.c.case_id)
        .where(clock_cycles.c.status.in_(LIVE_STATUSES), sa.or_(*spans))
    )
    query = sa.select(cases.c.ref).where(cases.c.id.in_(live)).order_by(cases.c.id)
    return [row.ref for row in connection.execute(query)]


def _runs(years: list[int]) -> list[tuple[int, int]]:
    """Sorted years in runs: [2027, 2028, 2030] -> [(2027, 2028), (2030, 2030)]."""
    runs: list[tuple[int, int]] = []
    for year in years:
        if runs and runs[-1][1] == year - 1:
            runs[-1] = (runs[-1][0], year)
        else:
            runs.append((year, year))
    return runs


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- references ------------------------------------------------------------------------------


def upsert(dialect_name: str, table: sa.Table) -> Any:
    """An INSERT of the dialect's own (SQLite's or PostgreSQL's), which can say what to do
    ON CONFLICT."""
    return (sqlite if dialect_name == "sqlite" else postgresql).insert(table)


def allocate_refs(
    connection: sa.Connection, prefix: str, year: int, count: int = 1, *,
    reserved: Container[str] = (),
) -> list[str]:
    """``count`` fresh references ``PREFIX-YEAR-NNNN``, never one already stored (imports bring
    their own) or in ``reserved`` (references named elsewhere in the same import).

    Numbers are reserved a block at a time, by one atomic update of the counter, so concurrent
    writers never receive the same number."""
    key = f"{prefix}-{year}"
    refs: list[str] = []
    while len(refs) < count:
        wanted = count - len(refs)
        insert = upsert(connection.dialect.name, ref_counters)
        statement = (
            insert.values(key=key, last=wanted)
            .on_conflict_do_update(index_elements=[ref_counters.c.key],
                                   set_={"last": ref_counters.c.last + wanted})
            .returning(ref_counters.c.last)
        )
        last = int(connection.execute(statement).scalar_one())
        block = [f"{key}-{n:04d}" for n in range(last - wanted + 1, last + 1)]
        taken = existing_refs(connection, block)
        refs.extend(r for r in block if r not in taken and r not in reserved)
    return refs


def advance_ref_counters(
    connection: sa.Connection, refs: Iterable[str], prefixes: Container[str]
) -> None:
    """Move each ``PREFIX-YEAR`` counter to at least the highest number of that form among
    ``refs`` (imported references), so numbers handed out later continue after them."""
    highest: dict[str, int] = {}
    for ref in refs:
        match = _REF.fullmatch(ref)
        if match is None or match["prefix"] not in prefixes:
            continue
        key = f"{match['prefix']}-{match['year']}"
        highest[key] = max(highest.get(key, 0), int(match["number"]))
    if not highest:
        return
    insert = upsert(connection.dialect.name, ref_counters)
    larger = sa.func.max if connection.dialect.name == "sqlite" else sa.func.greatest
    statement = insert.on_conflict_do_update(
        index_elements=[ref_counters.c.key],
        set_={"last": larger(ref_counters.c.last, insert.excluded.last)},
    )
    connection.execute(statement, [{"key": k, "last": n} for k, n in sorted(highest.items())])


# -- writing -----------------------------------------------------------------------------------


def text_attr(attrs: Mapping[str, object], name: str) -> str | None:
    """A case attribute the store keeps in a column of its own too (承办科室, 承办人), for the
    alert routes, the worklists and the reports to select and group by."""
    value = attrs.get(name)
    return None if value is None else str(value)


def case_values(
    case: CaseSnapshot,
    *,
    ref: str,
    clerk: str | None,
    last_seq: int,
    last_hash: str,
    recorded_at: datetime,
    import_key: str | None = None,
) -> dict[str, Any]:
    """The row of a new case (opened one by one, or imported in bulk under ``import_key``)."""
    return {
        "ref": ref,
        "type": case.type,
        "state": case.state,
        "attrs": jsonable(case.attrs),
        "version": case.version,
        "opened_on": case.opened_on,
        "admitted_on": case.admitted_on,
        "closed_on": case.closed_on,
        "last_on": case.last_on,
        "clerk": clerk,
        "department": text_attr(case.attrs, "department"),
        "handler": text_attr(case.attrs, "handler"),
        "last_seq": last_seq,
        "last_hash": last_hash,
        "created_at": recorded_at,
        "updated_at": recorded_at,
        "import_key": import_key,
    }


# built once: SQLAlchemy then finds each one's compiled form in its cache by the statement's
# own key, which it computes once per statement object
_INSERT_CASE = sa.insert(cases).returning(cases.c.id)
_INSERT_EVENT = sa.insert(events)
_INSERT_CYCLES = sa.insert(clock_cycles)
_UPDATE_CASE = sa.update(cases).where(
    cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_version")
)
_CYCLE_KEY = ("case_id", "clock", "cycle")


@functools.cache
def _cycles_upsert(dialect_name: str) -> Any:
    insert = upsert(dialect_name, clock_cycles)
    return insert.on_conflict_do_update(
        index_elements=[clock_cycles.c[name] for name in _CYCLE_KEY],
        set_={name: insert.excluded[name] for name in Cycle._fields if name not in _CYCLE_KEY},
    )


def _write_cycles(connection: sa.Connection, case_id: int, cycles: Sequence[Cycle]) -> None:
    """New cycles inserted and changed ones updated, by one statement (an upsert on the
    cycle's key), built once per dialect."""
    connection.execute(_cycles_upsert(connection.dialect.name),
                       [cycle_values(case_id, c) for c in cycles])


def insert_case(
    connection: sa.Connection, opened: Fired, *, ref: str, recorded_at: datetime
) -> StoredCase:
    """Store a newly opened case with its first event and clock cycles."""
    case = opened.case
    first = event_values(0, 1, GENESIS, opened.event, recorded_at)
    values = case_values(case, ref=ref, clerk=opened.event.by or None, last_seq=1,
                         last_hash=first["hash"], recorded_at=recorded_at)
    try:
        case_id = int(connection.execute(_INSERT_CASE, values).scalar_one())
    except sa.exc.IntegrityError as exc:
        # a concurrent writer stored the same reference after we looked (PostgreSQL waits
        # for it on the unique index, then refuses): the same answer as when we saw it
        raise Conflict(f"a case {ref!r} already exists", ["a new reference"]) from exc
    first["case_id"] = case_id
    connection.execute(_INSERT_EVENT, first)
    if case.cycles:
        connection.execute(_INSERT_CYCLES, [cycle_values(case_id, c) for c in case.cycles])
    return StoredCase(case_id, case._replace(ref=ref), 1, first["hash"])


def append(
    connection: sa.Connection, stored: StoredCase, fired: Fired, *, recorded_at: datetime
) -> StoredCase:
    """Store what a fired trigger did: case row, event, changed cycles. `Conflict` if the case
    moved on since it was read; a refused write changed nothing, so callers that fire several
    triggers in one transaction (`flows.services.apply_system_acts`) can go on after it."""
    case = fired.case
    seq = stored.last_seq + 1
    event = event_values(stored.id, seq, stored.last_hash, fired.event, recorded_at)
    guarded = connection.execute(_UPDATE_CASE, {
        "b_id": stored.id,
        "b_version": stored.case.version,
        "state": case.state,
        "attrs": jsonable(case.attrs),
        "version": case.version,
        "admitted_on": case.admitted_on,
        "closed_on": case.closed_on,
        "last_on": case.last_on,
        "last_seq": seq,
        "last_hash": event["hash"],
        "updated_at": recorded_at,
        "department": text_attr(case.attrs, "department"),
        "handler": text_attr(case.attrs, "handler"),
    })
    if guarded.rowcount != 1:
        raise StaleCase(
            f"case {case.ref} changed while this change was being made; reload and try again",
            ["--expect-version <current version>"],
        )
    connection.execute(_INSERT_EVENT, event)
    inserted, updated = changed_cycles(stored.case.cycles, case.cycles)
    if inserted or updated:
        _write_cycles(connection, stored.id, [*updated, *inserted])
    return StoredCase(stored.id, case, seq, event["hash"], stored.broken)


def mark_broken(connection: sa.Connection, case_id: int, problem: str | None) -> None:
    """Record what verification found wrong with a case (None: nothing, any more)."""
    connection.execute(
        sa.update(cases).where(cases.c.id == case_id, cases.c.broken.is_distinct_from(problem))
        .values(broken=problem)
    )
