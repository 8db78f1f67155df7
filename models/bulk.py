"""Bulk writes for imports: many replayed cases per transaction, stored as the services store them.

A case replayed in memory (`Replayed`: its snapshot after the last event and every event in
order, the opening one first) is stored exactly as if it had been opened and advanced one event
at a time through `models.repository`: the same case columns (version = number of events,
``last_seq``, ``last_hash``, admitted/closed dates), the same event rows chained by
`models.chain.event_values`, and each clock cycle with its final values. Only the number of
statements differs: one Core ``INSERT`` per table per chunk, run with many rows (executemany).

Making the rows (`make_rows`: the hash chain) needs no connection, so an importer may do it in
worker processes and send the plain `Rows` back; `insert_rows` then stores them.

Import keys: an imported case carries the key of the record it came from (``import_key``, unique;
NULL for a case opened one by one), so an importer can tell a record it already brought in
(`imported_refs`, `import_keys_of`) from a new one. Like every repository function, nothing
here commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from models import repository
from models.chain import GENESIS, event_values
from models.tables import cases, clock_cycles, events
from states.case import CaseSnapshot, DomainEvent


@dataclass(frozen=True, slots=True)
class Replayed:
    """A case replayed through the domain, ready to store under ``ref``."""

    ref: str
    case: CaseSnapshot
    events: tuple[DomainEvent, ...]  # the opening event first
    import_key: str | None = None  # the record it came from, when imported


@dataclass(slots=True)
class Rows:
    """One case's rows; the case id is filled in on insert, the reference may be given then."""

    ref: str
    type: str
    opened_on: date
    case: dict[str, Any]
    events: list[dict[str, Any]]  # one per event
    cycles: list[dict[str, Any]]  # one per clock cycle
    import_key: str | None = None


def make_rows(item: Replayed, recorded_at: datetime) -> Rows:
    """The rows of a replayed case: its events chained, its final clock cycles."""
    case = item.case
    if case.version != len(item.events):
        raise ValueError(f"{item.ref}: version {case.version} but {len(item.events)} events")
    event_rows = []
    previous = GENESIS
    for seq, event in enumerate(item.events, start=1):
        row = event_values(0, seq, previous, event, recorded_at)
        previous = row["hash"]
        event_rows.append(row)
    case_row = repository.case_values(
        case, ref=item.ref, clerk=item.events[0].by or None, last_seq=len(item.events),
        last_hash=previous, recorded_at=recorded_at, import_key=item.import_key,
    )
    cycle_rows = [repository.cycle_values(0, c) for c in case.cycles]
    return Rows(item.ref, case.type, case.opened_on, case_row, event_rows, cycle_rows,
                item.import_key)


def insert_rows(connection: sa.Connection, items: Sequence[Rows]) -> list[int]:
    """Store the rows of many cases; returns their case ids, in order.

    The cases go in with one executemany; their ids are then read back by reference (unique,
    and written by this transaction), which SQLite does in a few statements where ``INSERT …
    RETURNING`` in parameter order would take one per case.
    """
    if not items:
        return []
    for item in items:
        item.case["ref"] = item.ref
    connection.execute(sa.insert(cases), [item.case for item in items])
    by_ref = _ids(connection, [item.ref for item in items])
    ids = [by_ref[item.ref] for item in items]
    event_rows: list[dict[str, Any]] = []
    cycle_rows: list[dict[str, Any]] = []
    for case_id, item in zip(ids, items, strict=True):
        for row in item.events:
            row["case_id"] = case_id
        for row in item.cycles:
            row["case_id"] = case_id
        event_rows.extend(item.events)
        cycle_rows.extend(item.cycles)
    connection.execute(sa.insert(events), event_rows)
    if cycle_rows:
        connection.execute(sa.insert(clock_cycles), cycle_rows)
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
    return insert_rows(connection, [make_rows(item, recorded_at) for item in items])
