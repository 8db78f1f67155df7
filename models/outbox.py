"""The outbox's claims and marks: Core statements on the `alerts` table.

An alert row moves ``pending -> sending -> sent | pending (retry) | dead``:

- `claim` takes up to ``limit`` claimable rows for one worker: ``pending`` ones that are due,
  and ``sending`` ones whose claim (lease) expired because their worker died (that counts as
  an attempt: a crash on every attempt ends in ``dead`` at the limit, not in a loop). On
  PostgreSQL the rows are picked with ``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent
  claimers take different rows without waiting; on SQLite one ``UPDATE … WHERE id IN (SELECT
  … LIMIT n)`` runs in a writing unit of work (``BEGIN IMMEDIATE``), so claimers take turns.
  The caller commits the claim before sending anything.
- `mark_sent`, `mark_retry`, `mark_dead` and `release` change a row only while ``worker`` still
  holds it (status ``sending``, ``claimed_by = worker``): a worker whose lease expired and whose
  row another worker claimed again cannot overwrite that worker's result. They return whether
  the row was still theirs.

Nothing here commits: the caller's unit of work does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from models.rows import select_tuples
from models.tables import AlertRow, CaseRow, EscalationRow, alerts

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
DEAD = "dead"
STATUSES = (PENDING, SENDING, SENT, DEAD)


@dataclass(frozen=True, slots=True)
class ClaimedAlert:
    """An outbox row a worker holds until ``claimed_until``."""

    id: int
    idempotency_key: str
    route: str
    recipient: str
    payload: dict[str, Any]
    attempts: int  # attempts made before this one, interrupted ones included
    claimed_until: datetime


def _claimable(now: datetime, due_by: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(
        sa.and_(alerts.c.status == PENDING, alerts.c.next_attempt_at <= due_by),
        sa.and_(alerts.c.status == SENDING, alerts.c.claimed_until < now),
    )


def claim(
    connection: sa.Connection,
    *,
    worker: str,
    now: datetime,
    lease: timedelta,
    limit: int,
    due_by: datetime | None = None,
) -> list[ClaimedAlert]:
    """Claim up to ``limit`` rows for ``worker`` until ``now + lease``, oldest due first.

    ``due_by`` (default ``now``) bounds the pending rows taken: a delivery pass passes its start
    so that a row it put back for a retry is not taken again in the same pass.
    """
    if limit < 1:
        return []
    until = now + lease
    pick = (
        sa.select(alerts.c.id)
        .where(_claimable(now, now if due_by is None else due_by))
        .order_by(alerts.c.next_attempt_at, alerts.c.id)
        .limit(limit)
    )
    # A row taken back from an expired lease was being attempted when its worker stopped: that
    # attempt counts (SET expressions read the row as it was), so an alert that brings down
    # every worker that tries it reaches the limit like any other failure.
    interrupted = sa.case((alerts.c.status == SENDING, alerts.c.attempts + 1),
                          else_=alerts.c.attempts)
    claiming = sa.update(alerts).values(status=SENDING, claimed_by=worker, claimed_until=until,
                                        attempts=interrupted)
    returning = (alerts.c.id, alerts.c.idempotency_key, alerts.c.route, alerts.c.recipient,
                 alerts.c.payload, alerts.c.attempts, alerts.c.claimed_until)
    if connection.dialect.name == "postgresql":
        ids = list(connection.execute(pick.with_for_update(skip_locked=True)).scalars())
        if not ids:
            return []
        statement = claiming.where(alerts.c.id.in_(ids))
    else:
        # one statement under the write lock the unit of work took at BEGIN IMMEDIATE
        statement = claiming.where(alerts.c.id.in_(pick.scalar_subquery()))
    rows = connection.execute(statement.returning(*returning)).all()
    claimed = [ClaimedAlert(*row) for row in rows]
    return sorted(claimed, key=lambda c: c.id)


def _held(alert_id: int, worker: str) -> sa.ColumnElement[bool]:
    return sa.and_(alerts.c.id == alert_id, alerts.c.status == SENDING,
                   alerts.c.claimed_by == worker)


def _change(connection: sa.Connection, alert_id: int, worker: str, **values: Any) -> bool:
    done = connection.execute(sa.update(alerts).where(_held(alert_id, worker)).values(**values))
    return done.rowcount == 1


def mark_sent(
    connection: sa.Connection, alert_id: int, *, worker: str, attempts: int, now: datetime
) -> bool:
    """The receiver accepted it: never sent again. An earlier attempt's error stays visible."""
    return _change(connection, alert_id, worker, status=SENT, attempts=attempts, sent_at=now,
                   claimed_until=None)


def mark_retry(
    connection: sa.Connection,
    alert_id: int,
    *,
    worker: str,
    attempts: int,
    next_attempt_at: datetime,
    error: str,
) -> bool:
    """A transient failure: pending again from ``next_attempt_at``."""
    return _change(connection, alert_id, worker, status=PENDING, attempts=attempts,
                   next_attempt_at=next_attempt_at, last_error=error, claimed_by=None,
                   claimed_until=None)


def mark_dead(
    connection: sa.Connection, alert_id: int, *, worker: str, attempts: int, error: str
) -> bool:
    """Given up: kept with its last error for `caseflow alerts list --failed`."""
    return _change(connection, alert_id, worker, status=DEAD, attempts=attempts,
                   last_error=error, claimed_until=None)


def release(connection: sa.Connection, alert_ids: Sequence[int], *, worker: str) -> int:
    """Hand back rows ``worker`` claimed but did not attempt; their attempts are unchanged."""
    if not alert_ids:
        return 0
    done = connection.execute(
        sa.update(alerts)
        .where(alerts.c.id.in_(list(alert_ids)), alerts.c.status == SENDING,
               alerts.c.claimed_by == worker)
        .values(status=PENDING, claimed_by=None, claimed_until=None)
    )
    return done.rowcount


def count_undelivered(connection: sa.Connection) -> int:
    """Rows neither sent nor dead: waiting, or being sent by some worker."""
    return connection.execute(
        sa.select(sa.func.count()).select_from(alerts)
        .where(alerts.c.status.in_((PENDING, SENDING)))
    ).scalar_one()


def list_alerts(
    connection: sa.Connection, *, status: str | None = None, limit: int | None = None
) -> list[tuple[AlertRow, EscalationRow, str]]:
    """Outbox rows with the escalation they announce and their case's reference, oldest
    first."""
    query = (
        select(AlertRow, EscalationRow, CaseRow.ref)
        .join(EscalationRow, col(EscalationRow.id) == AlertRow.escalation_id)
        .join(CaseRow, col(CaseRow.id) == EscalationRow.case_id)
        .order_by(col(AlertRow.id))
    )
    if status is not None:
        query = query.where(AlertRow.status == status)
    if limit is not None:
        query = query.limit(limit)
    return select_tuples(connection, query)
