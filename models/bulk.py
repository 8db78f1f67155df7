"""Bulk writes for imports: many replayed cases per transaction, stored as the services store them.

A case replayed in memory (`Replayed`: its snapshot after the last event and every event in
order, the opening one first) is stored exactly as if it had been opened and advanced one event
at a time through `models.repository`: the same case columns (version = number of events,
``last_seq``, ``last_hash``, admitted/closed dates), the same event rows chained by
`repository.event_values`, and each clock cycle with its final values. Only the number of
statements differs: one multi-row insert per table per chunk instead of several per event.

Reference counters: a reference imported in the generated form ``PREFIX-YEAR-NNNN`` moves its
counter forward (`advance_ref_counters`), so numbers handed out later continue after the
bureau's own numbering instead of reusing numbers of cases that were never brought over.
Like every repository function, nothing here commits.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from models import repository
from models.chain import GENESIS, jsonable
from models.tables import cases, ref_counters
from states.case import CaseSnapshot, DomainEvent

_REF = re.compile(r"(?P<prefix>[A-Za-z]+)-(?P<year>[0-9]{4})-(?P<number>[0-9]{1,9})")


@dataclass(frozen=True, slots=True)
class Replayed:
    """A case replayed through the domain, ready to store under ``ref``."""

    ref: str
    case: CaseSnapshot
    events: tuple[DomainEvent, ...]  # the opening event first


def _insert_cases() -> Any:
    # insertmanyvalues: one multi-row INSERT … RETURNING per batch, rows in parameter order
    return sa.insert(cases).returning(cases.c.id, cases.c.ref, sort_by_parameter_order=True)


def insert_replayed(
    connection: sa.Connection, items: Sequence[Replayed], *, recorded_at: datetime
) -> list[int]:
    """Store replayed cases with their events and clock cycles; returns their row ids."""
    if not items:
        return []
    case_rows: list[dict[str, Any]] = []
    event_rows: list[list[dict[str, Any]]] = []
    for item in items:
        case = item.case
        if case.version != len(item.events):
            raise ValueError(f"{item.ref}: version {case.version} but {len(item.events)} events")
        chain: list[dict[str, Any]] = []
        previous = GENESIS
        for seq, event in enumerate(item.events, start=1):
            row = repository.event_values(0, seq, previous, event, recorded_at)
            previous = row["hash"]
            chain.append(row)
        event_rows.append(chain)
        case_rows.append({
            "ref": item.ref,
            "type": case.type,
            "state": case.state,
            "attrs": jsonable(case.attrs),
            "version": case.version,
            "opened_on": case.opened_on,
            "admitted_on": case.admitted_on,
            "closed_on": case.closed_on,
            "last_on": case.last_on,
            "clerk": item.events[0].by or None,
            "department": None,
            "last_seq": len(chain),
            "last_hash": previous,
            "created_at": recorded_at,
            "updated_at": recorded_at,
        })
    returned = connection.execute(_insert_cases(), case_rows).all()
    if [r.ref for r in returned] != [item.ref for item in items]:  # pragma: no cover - a driver bug
        raise RuntimeError("the database returned case ids out of order")
    ids = [int(r.id) for r in returned]
    events_out: list[dict[str, Any]] = []
    cycles_out: list[dict[str, Any]] = []
    for case_id, item, chain in zip(ids, items, event_rows, strict=True):
        for row in chain:
            row["case_id"] = case_id
        events_out.extend(chain)
        cycles_out.extend(repository.cycle_values(case_id, c) for c in item.case.cycles)
    repository.STATEMENTS.get("insert_event", connection).execute_many(connection, events_out)
    if cycles_out:
        repository.STATEMENTS.get("insert_cycle", connection).execute_many(connection, cycles_out)
    return ids


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
