"""Reading and writing cases, events and clock cycles with SQLAlchemy Core statements.

Repository functions take the unit of work's connection and never commit. Writing a fired
trigger is: the case row (guarded by its version), one event row chained to the previous
hash, and only the clock cycles the event started or changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB

from models.chain import GENESIS, hashed_fields, jsonable, link
from models.errors import CaseNotFound, Conflict
from models.prepared import Database, PreparedSet
from models.tables import cases, clock_cycles, events, ref_counters
from states.calendar import Unit
from states.case import CaseSnapshot, DomainEvent, Fired
from states.clocks import Cycle, CycleStatus

LIVE_STATUSES = (CycleStatus.RUNNING.value, CycleStatus.PAUSED.value)


@dataclass(frozen=True, slots=True)
class StoredCase:
    """A case as stored: its row id, the domain snapshot and the head of its event chain."""

    id: int
    case: CaseSnapshot
    last_seq: int
    last_hash: str


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


def _cycle_from_values(row: Sequence[Any]) -> Cycle:
    """A Cycle from its columns selected in the Cycle's field order (`_LOAD_CYCLE`)."""
    return Cycle(row[0], row[1], _STATUS[row[2]], _UNIT[row[3]], *row[4:])


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


def event_values(
    case_id: int, seq: int, previous_hash: str, event: DomainEvent, recorded_at: datetime
) -> dict[str, Any]:
    """The row of one event, its hash chained to ``previous_hash``."""
    # hash the instant as it reads back (aware UTC), not as the caller spelled its offset
    recorded_at = recorded_at.astimezone(UTC)
    row: dict[str, Any] = {
        "case_id": case_id,
        "seq": seq,
        "trigger": event.trigger,
        "from_state": event.source,
        "to_state": event.dest,
        "on": event.on,
        "recorded_at": recorded_at,
        "actor": event.actor.value,
        "by": event.by,
        "reason": event.reason,
        "attrs": jsonable(event.attrs),
        "clocks": [change.to_json() for change in event.clocks],
    }
    # the same mapping from row to hashed fields as verification uses, by construction
    row["hash"] = link(previous_hash, event_hash_fields(row))
    return row


def event_hash_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The hashed fields of a stored event row (for verification)."""
    return hashed_fields(
        seq=row["seq"],
        trigger=row["trigger"],
        from_state=row["from_state"],
        to_state=row["to_state"],
        on=row["on"],
        recorded_at=row["recorded_at"],
        actor=row["actor"],
        by=row["by"],
        reason=row["reason"],
        attrs=row["attrs"],
        clocks=row["clocks"],
    )


def changed_cycles(
    before: Sequence[Cycle], after: Sequence[Cycle]
) -> tuple[list[Cycle], list[Cycle]]:
    """(cycles to insert, cycles to update): the domain only appends and replaces."""
    updated = [new for old, new in zip(before, after, strict=False) if new != old]
    return list(after[len(before):]), updated


# -- reading -----------------------------------------------------------------------------------

_EVENT_KEYS = [c.name for c in events.columns if c.name != "id"]
_CYCLE_KEYS = [c.name for c in clock_cycles.columns if c.name != "id"]
_CASE_KEYS = [c.name for c in cases.columns if c.name != "id"]
_CASE_UPDATE_KEYS = ["attrs", "version", "last_on", "last_seq", "last_hash", "updated_at",
                     "department", "handler"]
# Indexed columns are set only when they change: SQLite rewrites an index entry whenever its
# column is in the SET clause, same value or not, and those pages dominate the commit (WAL
# frames per transition fell from 10.9 to 8.6 in bench/persist_transitions.py's walk).
_CASE_INDEXED = ("state", "admitted_on", "closed_on")
_CASE_UPDATES = [
    tuple(c for i, c in enumerate(_CASE_INDEXED) if mask & (1 << i)) for mask in range(8)
]
_CYCLE_UPDATE_KEYS = [
    "status", "days", "resumed_on", "used", "raw_end", "due_on", "paused_since", "paused_days",
    "extended_days", "extensions", "stopped_on",
]

def _update_case_name(changed: Sequence[str]) -> str:
    return "update_case:" + ",".join(changed)


def _update_case(changed: Sequence[str]) -> Callable[[], tuple[Any, list[str]]]:
    """The guarded update of a case row setting ``changed`` indexed columns besides the rest."""
    def build() -> tuple[Any, list[str]]:
        statement = sa.update(cases).where(
            cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_version")
        )
        return statement, [*_CASE_UPDATE_KEYS, *changed]

    return build


# What loading a case reads: the snapshot's columns, not the bookkeeping ones (clerk,
# department, created and updated times), which would only be converted and thrown away.
_LOAD_CASE = ["id", "ref", "type", "state", "attrs", "version", "opened_on", "admitted_on",
              "closed_on", "last_on", "last_seq", "last_hash"]
_LOAD_CYCLE = list(Cycle._fields)  # the cycle's columns named as the Cycle's fields
_CASE_WIDTH = len(_LOAD_CASE)
_CASE_AT = {name: i for i, name in enumerate(_LOAD_CASE)}
_CYCLE_ID_AT = _CASE_WIDTH + len(_LOAD_CYCLE)  # load_case's last column
_BY_CYCLE_ID = itemgetter(_CYCLE_ID_AT)
_SEEN_VERSION_AT = _CYCLE_ID_AT + 1  # lock_case's last column


def _case_with_cycles(*, lock: bool = False) -> sa.Select[Any]:
    # One query, one round trip: the case's columns, then one cycle's (NULLs when it has
    # none), then the cycle's id. Not ORDER BY id: the index the join reads gives the rows in
    # (clock, cycle) order, and SQLite would sort them in a temporary B-tree, a third of the
    # statement's cost; `load` puts the few rows in order by that last column instead.
    columns = [*[cases.c[name] for name in _LOAD_CASE],
               *[clock_cycles.c[name] for name in _LOAD_CYCLE], clock_cycles.c.id]
    if lock:
        # PostgreSQL, locking: the version this statement's snapshot saw, last (see `load`)
        seen = cases.alias("seen")
        columns.append(
            sa.select(seen.c.version).where(seen.c.id == cases.c.id).scalar_subquery()
        )
    query = (
        sa.select(*columns)
        .select_from(cases.outerjoin(clock_cycles, clock_cycles.c.case_id == cases.c.id))
        .where(cases.c.ref == sa.bindparam("ref"))
    )
    return query.with_for_update(of=cases) if lock else query


# SET columns come from the parameter keys; WHERE binds are prefixed b_ to keep them apart.
STATEMENTS = PreparedSet({
    "load_case": lambda: (_case_with_cycles(), None),
    "lock_case": lambda: (_case_with_cycles(lock=True), None),
    "load_cycles": lambda: (
        sa.select(*[clock_cycles.c[name] for name in _LOAD_CYCLE])
        .where(
            clock_cycles.c.case_id
            == sa.select(cases.c.id).where(cases.c.ref == sa.bindparam("ref")).scalar_subquery()
        )
        .order_by(clock_cycles.c.id),
        None,
    ),
    "insert_case": lambda: (sa.insert(cases).returning(cases.c.id), _CASE_KEYS),
    "insert_event": lambda: (sa.insert(events), _EVENT_KEYS),
    "insert_cycle": lambda: (sa.insert(clock_cycles), _CYCLE_KEYS),
    **{_update_case_name(changed): _update_case(changed) for changed in _CASE_UPDATES},
    "update_cycle": lambda: (
        sa.update(clock_cycles).where(
            clock_cycles.c.case_id == sa.bindparam("b_case_id"),
            clock_cycles.c.clock == sa.bindparam("b_clock"),
            clock_cycles.c.cycle == sa.bindparam("b_cycle"),
        ),
        _CYCLE_UPDATE_KEYS,
    ),
})


def load(db: Database, ref: str, *, for_update: bool = False) -> StoredCase:
    """The case ``ref`` with its cycles; ``for_update`` locks its row until the transaction
    ends (PostgreSQL; SQLite's writing units of work hold the database lock already)."""
    width = _CASE_WIDTH
    locking = for_update and db.dialect.name != "sqlite"
    joined = STATEMENTS.get("lock_case" if locking else "load_case", db)
    rows = joined.raw(db, {"ref": ref})
    if not rows:
        raise CaseNotFound(ref)
    case = joined.part(0, width)(rows[0][:width])
    if locking and rows[0][_SEEN_VERSION_AT] != case[_CASE_AT["version"]]:
        # A writer changed the case after this statement's snapshot was taken (PostgreSQL
        # waited for its lock, or found its newer row). The case row is re-read once
        # locked, but the cycles joined to it are still what the snapshot saw (READ
        # COMMITTED takes a snapshot a statement), as is the version in the last column.
        # Read now, after the lock, the cycles are current. Equal versions mean current
        # cycles: cycles are written only by `append`, which always raises the version.
        load_cycles = STATEMENTS.get("load_cycles", db)
        cycles = tuple(_cycle_from_values(load_cycles.row(r))
                       for r in load_cycles.raw(db, {"ref": ref}))
    elif rows[0][width] is None:  # clock is NOT NULL: NULL means no cycle
        cycles = ()
    else:
        if len(rows) > 1:
            rows.sort(key=_BY_CYCLE_ID)
        cycle_part = joined.part(width, _CYCLE_ID_AT)
        cycles = tuple(_cycle_from_values(cycle_part(r[width:_CYCLE_ID_AT])) for r in rows)
    at = _CASE_AT
    snapshot = CaseSnapshot(
        type=case[at["type"]],
        state=case[at["state"]],
        attrs=case[at["attrs"]],
        cycles=cycles,
        opened_on=case[at["opened_on"]],
        last_on=case[at["last_on"]],
        admitted_on=case[at["admitted_on"]],
        closed_on=case[at["closed_on"]],
        version=case[at["version"]],
        ref=case[at["ref"]],
    )
    return StoredCase(case[at["id"]], snapshot, case[at["last_seq"]], case[at["last_hash"]])


def find(
    connection: sa.Connection,
    *,
    case_type: str | None = None,
    state: str | None = None,
    overdue_on: date | None = None,
    notices: Sequence[str] = (),
    limit: int | None = None,
) -> list[StoredCase]:
    """Cases by type and state; with ``overdue_on``, only those with a clock running past due
    (``notices``: clocks owed by no one, which are never overdue)."""
    query = sa.select(cases).order_by(cases.c.id)
    if case_type is not None:
        query = query.where(cases.c.type == case_type)
    if state is not None:
        query = query.where(cases.c.state == state)
    if overdue_on is not None:
        query = query.where(
            sa.exists().where(
                clock_cycles.c.case_id == cases.c.id,
                clock_cycles.c.status == CycleStatus.RUNNING.value,
                clock_cycles.c.due_on < overdue_on,
                clock_cycles.c.clock.not_in(notices),
            )
        )
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
    return [
        StoredCase(
            row["id"],
            snapshot_from_row(row, tuple(by_case[row["id"]])),
            row["last_seq"],
            row["last_hash"],
        )
        for row in rows
    ]


def event_rows(connection: sa.Connection, case_id: int) -> list[Mapping[Any, Any]]:
    query = sa.select(events).where(events.c.case_id == case_id).order_by(events.c.seq)
    return list(connection.execute(query).mappings().all())


def chain_heads(
    connection: sa.Connection, ref: str | None = None
) -> list[tuple[int, str, int, str]]:
    """(id, ref, last_seq, last_hash) of one case or of all, for verifying their chains."""
    query = sa.select(cases.c.id, cases.c.ref, cases.c.last_seq, cases.c.last_hash)
    if ref is not None:
        query = query.where(cases.c.ref == ref)
    rows = connection.execute(query.order_by(cases.c.id)).all()
    if ref is not None and not rows:
        raise CaseNotFound(ref)
    return [(r.id, r.ref, r.last_seq, r.last_hash) for r in rows]


def existing_refs(connection: sa.Connection, refs: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(list(refs), 500):
        rows = connection.execute(sa.select(cases.c.ref).where(cases.c.ref.in_(chunk)))
        found.update(r.ref for r in rows)
    return found


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- writing -----------------------------------------------------------------------------------


def next_ref(connection: sa.Connection, prefix: str, year: int) -> str:
    """A fresh reference ``PREFIX-YEAR-NNNN``, never one already taken (imports bring their own)."""
    key = f"{prefix}-{year}"
    dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
    while True:
        statement = (
            dialect.insert(ref_counters)
            .values(key=key, last=1)
            .on_conflict_do_update(
                index_elements=[ref_counters.c.key], set_={"last": ref_counters.c.last + 1}
            )
            .returning(ref_counters.c.last)
        )
        number = connection.execute(statement).scalar_one()
        ref = f"{key}-{number:04d}"
        if not existing_refs(connection, [ref]):
            return ref


def _text_attr(attrs: Mapping[str, object], name: str) -> str | None:
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
        "department": _text_attr(case.attrs, "department"),
        "handler": _text_attr(case.attrs, "handler"),
        "last_seq": last_seq,
        "last_hash": last_hash,
        "created_at": recorded_at,
        "updated_at": recorded_at,
        "import_key": import_key,
    }


def insert_case(
    connection: Database, opened: Fired, *, ref: str, recorded_at: datetime
) -> StoredCase:
    """Store a newly opened case with its first event and clock cycles."""
    case = opened.case
    first = event_values(0, 1, GENESIS, opened.event, recorded_at)
    values = case_values(case, ref=ref, clerk=opened.event.by or None, last_seq=1,
                         last_hash=first["hash"], recorded_at=recorded_at)
    try:
        cursor = STATEMENTS.get("insert_case", connection).execute(connection, values)
    except connection.dialect.loaded_dbapi.IntegrityError as exc:
        # a concurrent writer stored the same reference after we looked (PostgreSQL waits
        # for it on the unique index, then refuses): the same answer as when we saw it
        raise Conflict(f"a case {ref!r} already exists", ["a new reference"]) from exc
    case_id = int(cursor.fetchone()[0])
    cursor.close()
    first["case_id"] = case_id
    STATEMENTS.get("insert_event", connection).execute(connection, first).close()
    if case.cycles:
        STATEMENTS.get("insert_cycle", connection).execute_many(
            connection, [cycle_values(case_id, c) for c in case.cycles]
        )
    stored_case = case._replace(ref=ref)
    return StoredCase(case_id, stored_case, 1, first["hash"])


def append(
    connection: Database, stored: StoredCase, fired: Fired, *, recorded_at: datetime
) -> StoredCase:
    """Store what a fired trigger did: case row, event, changed cycles. `Conflict` if the case
    moved on since it was read."""
    case = fired.case
    seq = stored.last_seq + 1
    event = event_values(stored.id, seq, stored.last_hash, fired.event, recorded_at)
    before = stored.case
    changed = tuple(
        name for name, old, new in (
            ("state", before.state, case.state),
            ("admitted_on", before.admitted_on, case.admitted_on),
            ("closed_on", before.closed_on, case.closed_on),
        ) if old != new
    )
    values = {
        "b_id": stored.id,
        "b_version": before.version,
        "state": case.state,
        "attrs": jsonable(case.attrs),
        "version": case.version,
        "admitted_on": case.admitted_on,
        "closed_on": case.closed_on,
        "last_on": case.last_on,
        "last_seq": seq,
        "last_hash": event["hash"],
        "updated_at": recorded_at,
        "department": _text_attr(case.attrs, "department"),
        "handler": _text_attr(case.attrs, "handler"),
    }
    inserted, updated = changed_cycles(before.cycles, case.cycles)
    if connection.dialect.name == "postgresql":
        written = _append_in_one_statement(connection, changed, values, event, updated, inserted)
    else:
        written = _append_in_statements(connection, changed, values, event, updated, inserted)
    # a refused write changed nothing, so callers that fire several triggers in one
    # transaction (apply_system_acts) can go on after a refusal
    if not written:
        raise Conflict(
            f"case {case.ref} changed while this change was being made; reload and try again",
            ["--expect-version <current version>"],
        )
    return StoredCase(stored.id, case, seq, event["hash"])


def _append_in_statements(
    connection: Database,
    changed: tuple[str, ...],
    values: dict[str, Any],
    event: dict[str, Any],
    updated: list[Cycle],
    inserted: list[Cycle],
) -> bool:
    """SQLite: the version guard first, alone, then the event and the cycles."""
    if STATEMENTS.get(_update_case_name(changed), connection).rowcount(connection, values) != 1:
        return False
    case_id = values["b_id"]
    STATEMENTS.get("insert_event", connection).execute(connection, event).close()
    if updated:
        STATEMENTS.get("update_cycle", connection).execute_many(
            connection,
            [
                {**cycle_values(case_id, c), "b_case_id": case_id, "b_clock": c.clock,
                 "b_cycle": c.cycle}
                for c in updated
            ],
        )
    if inserted:
        STATEMENTS.get("insert_cycle", connection).execute_many(
            connection, [cycle_values(case_id, c) for c in inserted]
        )
    return True


def _append_in_one_statement(
    connection: Database,
    changed: tuple[str, ...],
    values: dict[str, Any],
    event: dict[str, Any],
    updated: list[Cycle],
    inserted: list[Cycle],
) -> bool:
    """PostgreSQL: the guarded case update, the event and the cycles as one statement (its
    writes hang off the guard's RETURNING, so a refused guard writes nothing): one round trip
    and one statement for the server to run instead of three or more."""
    shape = (changed, bool(updated), bool(inserted))
    statement = STATEMENTS.get(
        f"append:{_update_case_name(changed)}:{shape[1]}:{shape[2]}",
        connection,
        build=lambda: (_append_statement(*shape), None),
    )
    # every case and event value under its parameter's name; the statement takes the ones
    # it has parameters for (the unchanged indexed columns are not among them)
    params: dict[str, Any] = {"b_id": values["b_id"], "b_version": values["b_version"]}
    params.update({key: values[name] for key, name in _CASE_PARAMS})
    params.update({key: event[name] for key, name in _EVENT_PARAMS})
    if updated:
        params["updated"] = _cycle_array(values["b_id"], updated)
    if inserted:
        params["inserted"] = _cycle_array(values["b_id"], inserted)
    cursor = statement.execute(connection, params)
    (count,) = cursor.fetchone()
    cursor.close()
    return bool(count == 1)


_EVENT_COLUMNS = [name for name in _EVENT_KEYS if name != "case_id"]
_CYCLE_COLUMNS = [name for name in _CYCLE_KEYS if name != "case_id"]
# (parameter, value) names of the one-statement append, made once rather than per call
_CASE_PARAMS = [(f"c_{name}", name) for name in (*_CASE_UPDATE_KEYS, *_CASE_INDEXED)]
_EVENT_PARAMS = [(f"e_{name}", name) for name in _EVENT_COLUMNS]


def _cycle_rows(name: str) -> Any:
    """The cycles in the JSON array parameter ``name`` as rows (jsonb_to_recordset); each
    carries its place in the domain's order of cycles."""
    return (
        sa.func.jsonb_to_recordset(sa.bindparam(name, type_=JSONB))
        .table_valued(*[sa.column(c, clock_cycles.c[c].type) for c in _CYCLE_COLUMNS],
                      sa.column("place", sa.Integer))
        .render_derived(name=f"{name}_rows", with_types=True)
    )


def _cycle_array(case_id: int, cycles: list[Cycle]) -> list[dict[str, Any]]:
    return [{**cycle_values(case_id, c), "place": k} for k, c in enumerate(cycles)]


def _append_statement(changed: Sequence[str], updated: bool, inserted: bool) -> sa.Select[Any]:
    """WITH guarded AS (UPDATE cases … WHERE id AND version RETURNING id), then the event's
    INSERT and the cycles' UPDATE and INSERT, each joined to `guarded`; SELECT count(*).
    Parameters: c_<column> for the case, e_<column> for the event, and the cycles updated
    and inserted as two JSON arrays of rows (a statement with a parameter per cycle column
    is too long for psycopg to keep parsed, and there would be one per count of cycles)."""

    def bind(name: str, column: sa.Column[Any]) -> sa.BindParameter[Any]:
        return sa.bindparam(name, type_=column.type)

    guarded = (
        sa.update(cases)
        .where(cases.c.id == sa.bindparam("b_id"), cases.c.version == sa.bindparam("b_version"))
        .values({name: bind(f"c_{name}", cases.c[name])
                 for name in (*_CASE_UPDATE_KEYS, *changed)})
        .returning(cases.c.id)
        .cte("guarded")
    )
    writes = [
        sa.insert(events)
        .from_select(["case_id", *_EVENT_COLUMNS],
                     sa.select(guarded.c.id,
                               *[bind(f"e_{name}", events.c[name]) for name in _EVENT_COLUMNS]))
        .cte("event")
    ]
    if updated:
        rows = _cycle_rows("updated")
        writes.append(
            sa.update(clock_cycles)
            .where(
                clock_cycles.c.case_id == guarded.c.id,
                clock_cycles.c.clock == rows.c.clock,
                clock_cycles.c.cycle == rows.c.cycle,
            )
            .values({name: rows.c[name] for name in _CYCLE_UPDATE_KEYS})
            .cte("updated")
        )
    if inserted:
        rows = _cycle_rows("inserted")
        # in the array's order: the rows take their ids in it, the domain's order of cycles
        writes.append(
            sa.insert(clock_cycles)
            .from_select(["case_id", *_CYCLE_COLUMNS],
                         sa.select(guarded.c.id, *[rows.c[name] for name in _CYCLE_COLUMNS])
                         .order_by(rows.c.place))
            .cte("inserted")
        )
    return sa.select(sa.func.count()).select_from(guarded).add_cte(*writes)
