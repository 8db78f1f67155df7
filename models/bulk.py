"""Bulk writes for imports: many replayed cases per transaction, stored as the services store them.

A case replayed in memory (`Replayed`: its snapshot after the last event and every event in
order, the opening one first) is stored exactly as if it had been opened and advanced one event
at a time through `models.repository`: the same case columns (version = number of events,
``last_seq``, ``last_hash``, admitted/closed dates), the same event rows chained by
`repository.event_values`, and each clock cycle with its final values. Only the number of
statements differs: one multi-row insert per table per chunk instead of several per event.

Making the rows (`RowMaker.rows`: the hash chain, JSON and date conversion by SQLAlchemy's
own converters, as `models.prepared` does) is pure work that needs no connection, so an importer
may do it in worker processes and send the plain `Rows` back; `insert_rows` then hands them to
the driver's ``executemany``, three statements per chunk.

Import keys: an imported case carries the key of the record it came from (``import_key``, unique;
NULL for a case opened one by one), so an importer can tell a record it already brought in
(`imported_refs`, `import_keys_of`) from a new one.

Reference counters: a reference imported in the generated form ``PREFIX-YEAR-NNNN`` moves its
counter forward (`advance_ref_counters`), so numbers handed out later continue after the
bureau's own numbering instead of reusing numbers of cases that were never brought over.
Like every repository function, nothing here commits.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from models import repository
from models.chain import GENESIS
from models.prepared import Prepared
from models.tables import cases, clock_cycles, events, ref_counters
from models.types import UTCDateTime
from states.case import CaseSnapshot, DomainEvent

_REF = re.compile(r"(?P<prefix>[A-Za-z]+)-(?P<year>[0-9]{4})-(?P<number>[0-9]{1,9})")


@dataclass(frozen=True, slots=True)
class Replayed:
    """A case replayed through the domain, ready to store under ``ref``."""

    ref: str
    case: CaseSnapshot
    events: tuple[DomainEvent, ...]  # the opening event first
    import_key: str | None = None  # the record it came from, when imported


@dataclass(slots=True)
class Rows:
    """One case's rows as driver parameters; the case id is filled in on insert."""

    ref: str
    type: str
    opened_on: date
    case: Any  # driver parameters of the case row
    events: list[Any]  # one per event
    cycles: list[Any]  # one per clock cycle
    import_key: str | None = None


class _Params:
    """Driver parameters of one prepared insert, made with SQLAlchemy's own converters.

    Dates and timestamps repeat across rows (every event of an import has the same
    ``recorded_at``), so their converted values are remembered.
    """

    def __init__(self, table: sa.Table, dialect: Dialect) -> None:
        keys = [c.name for c in table.columns if c.name != "id"]
        prepared = Prepared(sa.insert(table), dialect, keys)
        self.sql = prepared.sql
        self.names = prepared.names
        self.positional = prepared.positional
        self.get = operator.itemgetter(*self.names)
        self.convert: list[tuple[int, Callable[[Any], Any], dict[Any, Any] | None]] = [
            (i, p, {} if isinstance(table.c[name].type, sa.Date | UTCDateTime) else None)
            for i, (name, p) in enumerate(prepared.binds)
            if p is not None
        ]

    def __call__(self, row: dict[str, Any]) -> Any:
        values = list(self.get(row))
        for index, process, memo in self.convert:
            value = values[index]
            if value is None:
                continue
            if memo is None:
                values[index] = process(value)
                continue
            converted = memo.get(value)
            if converted is None:
                if len(memo) > 50_000:
                    memo.clear()
                converted = memo[value] = process(value)
            values[index] = converted
        return values if self.positional else dict(zip(self.names, values, strict=True))

    def set(self, params: Any, name: str, value: Any) -> None:
        if self.positional:
            params[self.names.index(name)] = value
        else:
            params[name] = value


class RowMaker:
    """Turns replayed cases into `Rows` for one SQL dialect (needs no connection)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect_name = dialect.name
        self.cases = _Params(cases, dialect)
        self.events = _Params(events, dialect)
        self.cycles = _Params(clock_cycles, dialect)

    def rows(self, item: Replayed, recorded_at: datetime) -> Rows:
        case = item.case
        if case.version != len(item.events):
            raise ValueError(f"{item.ref}: version {case.version} but {len(item.events)} events")
        event_params = []
        previous = GENESIS
        for seq, event in enumerate(item.events, start=1):
            row = repository.event_values(0, seq, previous, event, recorded_at)
            previous = row["hash"]
            event_params.append(self.events(row))
        case_params = self.cases(repository.case_values(
            case, ref=item.ref, clerk=item.events[0].by or None, last_seq=len(item.events),
            last_hash=previous, recorded_at=recorded_at, import_key=item.import_key,
        ))
        cycle_params = [self.cycles(repository.cycle_values(0, c)) for c in case.cycles]
        return Rows(item.ref, case.type, case.opened_on, case_params, event_params, cycle_params,
                    item.import_key)


def insert_rows(connection: sa.Connection, maker: RowMaker, items: Sequence[Rows]) -> list[int]:
    """Store the rows of many cases; returns their case ids, in order.

    The cases go in with one ``executemany``; their ids are then read back by reference (unique,
    and written by this transaction). SQLAlchemy's ``INSERT … RETURNING`` in parameter order
    would fall back to one statement per case for this table on SQLite.
    """
    if not items:
        return []
    if connection.dialect.name != maker.dialect_name:
        raise ValueError(f"rows made for {maker.dialect_name}, not {connection.dialect.name}")
    for item in items:
        maker.cases.set(item.case, "ref", item.ref)
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.executemany(maker.cases.sql, [item.case for item in items])
        by_ref = _ids(connection, [item.ref for item in items])
        ids = [by_ref[item.ref] for item in items]
        event_params: list[Any] = []
        cycle_params: list[Any] = []
        for case_id, item in zip(ids, items, strict=True):
            for params in item.events:
                maker.events.set(params, "case_id", case_id)
            for params in item.cycles:
                maker.cycles.set(params, "case_id", case_id)
            event_params.extend(item.events)
            cycle_params.extend(item.cycles)
        cursor.executemany(maker.events.sql, event_params)
        if cycle_params:
            cursor.executemany(maker.cycles.sql, cycle_params)
    finally:
        cursor.close()
    return ids


def _ids(connection: sa.Connection, refs: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for start in range(0, len(refs), 500):
        query = sa.select(cases.c.id, cases.c.ref).where(cases.c.ref.in_(refs[start:start + 500]))
        found.update((r.ref, int(r.id)) for r in connection.execute(query))
    return found


def imported_refs(connection: sa.Connection, keys: Iterable[str]) -> dict[str, str]:
    """The reference of each stored case imported under one of ``keys``, by key."""
    wanted = list(keys)
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        query = sa.select(cases.c.import_key, cases.c.ref).where(
            cases.c.import_key.in_(wanted[start:start + 500]))
        found.update((r.import_key, r.ref) for r in connection.execute(query))
    return found


def import_keys_of(connection: sa.Connection, refs: Iterable[str]) -> dict[str, str | None]:
    """The import key of each stored case among ``refs``, by reference (None: not imported)."""
    wanted = list(refs)
    found: dict[str, str | None] = {}
    for start in range(0, len(wanted), 500):
        query = sa.select(cases.c.ref, cases.c.import_key).where(
            cases.c.ref.in_(wanted[start:start + 500]))
        found.update((r.ref, r.import_key) for r in connection.execute(query))
    return found


def insert_replayed(
    connection: sa.Connection, items: Sequence[Replayed], *, recorded_at: datetime
) -> list[int]:
    """Store replayed cases with their events and clock cycles; returns their row ids."""
    maker = RowMaker(connection.dialect)
    return insert_rows(connection, maker, [maker.rows(item, recorded_at) for item in items])


def _dialect_insert(connection: sa.Connection) -> Any:
    return (sqlite if connection.dialect.name == "sqlite" else postgresql).insert(ref_counters)


def allocate_refs(
    connection: sa.Connection, prefix: str, year: int, count: int, *, reserved: Container[str]
) -> list[str]:
    """``count`` fresh references ``PREFIX-YEAR-NNNN``, as `repository.next_ref` hands them out.

    Numbers are reserved a block at a time (one atomic counter update); a number whose reference
    is already stored, or is in ``reserved`` (references named elsewhere in the same import), is
    skipped.
    """
    key = f"{prefix}-{year}"
    refs: list[str] = []
    while len(refs) < count:
        wanted = count - len(refs)
        statement = (
            _dialect_insert(connection)
            .values(key=key, last=wanted)
            .on_conflict_do_update(
                index_elements=[ref_counters.c.key], set_={"last": ref_counters.c.last + wanted}
            )
            .returning(ref_counters.c.last)
        )
        last = int(connection.execute(statement).scalar_one())
        block = [f"{key}-{n:04d}" for n in range(last - wanted + 1, last + 1)]
        taken = repository.existing_refs(connection, block)
        refs.extend(r for r in block if r not in taken and r not in reserved)
    return refs


def advance_ref_counters(
    connection: sa.Connection, refs: Iterable[str], prefixes: Container[str]
) -> None:
    """Move each ``PREFIX-YEAR`` counter to at least the highest imported number of that form."""
    highest: dict[str, int] = {}
    for ref in refs:
        match = _REF.fullmatch(ref)
        if match is None or match["prefix"] not in prefixes:
            continue
        key = f"{match['prefix']}-{match['year']}"
        highest[key] = max(highest.get(key, 0), int(match["number"]))
    if not highest:
        return
    insert = _dialect_insert(connection)
    larger = sa.func.max if connection.dialect.name == "sqlite" else sa.func.greatest
    statement = insert.on_conflict_do_update(
        index_elements=[ref_counters.c.key],
        set_={"last": larger(ref_counters.c.last, insert.excluded.last)},
    )
    connection.execute(statement, [{"key": k, "last": n} for k, n in sorted(highest.items())])
