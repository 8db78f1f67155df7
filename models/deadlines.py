"""Store queries and writes of deadline enforcement: gathering clocks, recording rungs, the outbox.

Gathering uses the partial index on live cycles by due date, so a sweep reads only the cycles
that can be due soon or overdue — never all open cases.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from models.repository import cycle_from_row, upsert
from models.tables import alerts, cases, clock_cycles, escalations
from states.clocks import Cycle, CycleStatus


@dataclass(frozen=True, slots=True)
class GatheredCycle:
    """A running cycle with what the sweep needs of its case and the rungs already recorded."""

    case_id: int
    ref: str
    case_type: str
    state: str
    department: str | None
    cycle: Cycle
    rungs: frozenset[str]


# The predicate of the partial index ix_cycles_running_due, spelled out as SQL text: SQLite
# uses a partial index only for a query that repeats the index's WHERE term, and a bound
# parameter does not count; it would otherwise scan every cycle ever stored, on every sweep.
_RUNNING_INDEX_PREDICATE = sa.text(f"clock_cycles.status = '{CycleStatus.RUNNING.value}'")


def gather(connection: sa.Connection, horizon: date) -> list[GatheredCycle]:
    """Running cycles due on or before ``horizon`` that have not reached their last rung."""
    serious = (
        sa.select(escalations.c.id)
        .where(
            escalations.c.case_id == clock_cycles.c.case_id,
            escalations.c.clock == clock_cycles.c.clock,
            escalations.c.cycle == clock_cycles.c.cycle,
            # the last rung of a cycle: 严重逾期, or a notice's day having come
            escalations.c.rung.in_(("overdue_serious", "arisen")),
        )
        .exists()
    )
    query = (
        sa.select(clock_cycles, cases.c.ref, cases.c.type, cases.c.state, cases.c.department)
        .join(cases, cases.c.id == clock_cycles.c.case_id)
        .where(
            _RUNNING_INDEX_PREDICATE,  # served by ix_cycles_running_due
            clock_cycles.c.due_on <= horizon,
            ~serious,
        )
        # No ORDER BY: to return rows in (case_id, clock, cycle) order SQLite walks the whole
        # unique index of clock_cycles instead of the partial index on due_on, i.e. every
        # cycle ever stored. The few rows gathered are sorted here instead.
    )
    rows = sorted(
        connection.execute(query).mappings().all(),
        key=lambda row: (row["case_id"], row["clock"], row["cycle"]),
    )
    recorded = _recorded_rungs(connection, {row["case_id"] for row in rows})
    return [
        GatheredCycle(
            case_id=row["case_id"],
            ref=row["ref"],
            case_type=row["type"],
            state=row["state"],
            department=row["department"],
            cycle=cycle_from_row(row),
            rungs=frozenset(recorded.get((row["case_id"], row["clock"], row["cycle"]), ())),
        )
        for row in rows
    ]


def _recorded_rungs(
    connection: sa.Connection, case_ids: Iterable[int]
) -> dict[tuple[int, str, int], set[str]]:
    found: dict[tuple[int, str, int], set[str]] = {}
    ids = sorted(case_ids)
    for start in range(0, len(ids), 500):
        rows = connection.execute(
            sa.select(escalations.c.case_id, escalations.c.clock, escalations.c.cycle,
                      escalations.c.rung)
            .where(escalations.c.case_id.in_(ids[start:start + 500]))
        )
        for r in rows:
            found.setdefault((r.case_id, r.clock, r.cycle), set()).add(r.rung)
    return found


def record_escalations(
    connection: sa.Connection, rows: Sequence[dict[str, Any]]
) -> dict[tuple[int, str, int, str], int]:
    """Record many rungs in one statement; returns the ids of those that were new, by
    (case_id, clock, cycle, rung). Rungs recorded already (by this or a concurrent sweep) are
    skipped by their unique key. Rows go in key order, so concurrent sweeps on PostgreSQL take
    their row locks in the same order and cannot deadlock."""
    if not rows:
        return {}
    ordered = sorted(rows, key=lambda r: (r["case_id"], r["clock"], r["cycle"], r["rung"]))
    # executemany with RETURNING: SQLAlchemy batches it into multi-row statements it compiles
    # once ("insertmanyvalues"); rows skipped as duplicates simply return nothing
    statement = upsert(connection.dialect.name, escalations).on_conflict_do_nothing().returning(
        escalations.c.id, escalations.c.case_id, escalations.c.clock, escalations.c.cycle,
        escalations.c.rung
    )
    return {
        (r.case_id, r.clock, r.cycle, r.rung): r.id
        for r in connection.execute(statement, ordered)
    }


def queue_alerts(connection: sa.Connection, rows: Sequence[dict[str, Any]]) -> int:
    """Put alerts in the outbox (same transaction as their escalation).

    Only alerts of rungs this transaction recorded are queued, and a rung is recorded by one
    sweep only (its unique key), so their idempotency keys are new: a plain insert of many
    rows (thousands when a late sweep catches up)."""
    if not rows:
        return 0
    connection.execute(sa.insert(alerts), list(rows))
    return len(rows)
