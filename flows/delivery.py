"""Delivering the outbox: claim alerts, send them outside any transaction, record each result.

One pass (`deliver`) repeats until nothing claimable is left:

1. claim a batch (one short transaction; see `models.outbox.claim`): the rows are ``sending``,
   held by this worker until ``now + lease``;
2. send each with `flows.alerts.send` — one attempt, with the client's timeout — but only while
   the attempt cannot outlast the lease (``now + timeout < claimed_until``); rows left when the
   lease runs short are handed back unattempted and claimed again;
3. record each result in its own short transaction, guarded by the claim: ``sent``; ``pending``
   again after `backoff` (transport errors, 5xx, 429, busy robots — `flows.alerts.decide` turns
   them into ``dead`` at ``max_attempts``); ``dead`` (4xx and other permanent failures, an
   unreadable row, a route the policy does not declare).

A row retried in this pass is not taken again in it (claims are bounded by the pass's start);
the next pass takes it when its ``next_attempt_at`` comes. A worker that dies mid-pass leaves its
rows ``sending``; once their lease expires any worker claims them again, counting the attempt
that was cut short, so an alert that kills every worker trying it is ``dead`` at the limit.

What "never sent twice" means here, honestly: delivery is at least once, and exactly once is
the receiver's part. Two workers never hold one row at the same time, a worker never starts an
attempt its lease might not cover, and a row marked ``sent`` is never sent again. But a worker
killed (or a database that failed) after the receiver accepted an alert and before ``sent`` was
committed leaves a row that will be sent again. The generic webhook carries the alert's
``Idempotency-Key`` (stable across attempts) for receivers to drop such a redelivery; the WeCom
and DingTalk robots have no such key, so on them this rare case shows the message twice. Lease
expiry is judged by the workers' clocks: hosts running delivery must keep their clocks in step
(NTP), far closer than the lease.

No Prefect, no real clock, no environment here: the caller passes the ``httpx.Client``, the
routes (secrets resolved), the clock and the worker's name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from flows import alerts
from flows.context import Bureau
from flows.routes import Route, find_route, missing_route
from models import outbox
from models.outbox import ClaimedAlert

Clock = Callable[[], datetime]

DEFAULT_BATCH = 20
DEFAULT_LEASE = timedelta(minutes=5)
DEFAULT_TIMEOUT = 10.0  # seconds per attempt; robots answer in well under a second


@dataclass
class DeliveryReport:
    """What one pass did. ``pending``: alerts neither sent nor dead after the pass."""

    sent: int = 0
    failed: int = 0  # marked dead in this pass
    pending: int = 0
    retried: int = 0  # attempts that failed transiently; those alerts wait for their retry
    lost: int = 0  # results not recorded: the lease expired and another worker took the row
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "pending": self.pending}


@dataclass(frozen=True)
class DeliverySettings:
    batch: int = DEFAULT_BATCH
    lease: timedelta = DEFAULT_LEASE
    timeout: float = DEFAULT_TIMEOUT
    max_attempts: int = alerts.MAX_ATTEMPTS
    backoff_base: float = 2.0
    backoff_cap: float = 300.0

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"batch must be at least 1, got {self.batch}")
        if self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        if self.lease.total_seconds() <= self.timeout:
            raise ValueError(f"the lease ({self.lease.total_seconds():g} s) must be longer "
                             f"than one attempt's timeout ({self.timeout:g} s)")


@dataclass(frozen=True)
class DeliveryKit:
    """What a delivery pass needs besides the bureau, built by the composition root."""

    routes: Mapping[str, Route]
    client: Callable[[], httpx.Client]  # a new client; the pass closes it
    worker: str
    settings: DeliverySettings
    random: Callable[[], float] | None = None


def deliver_with(bureau: Bureau, kit: DeliveryKit, clock: Clock) -> DeliveryReport:
    """One delivery pass with a kit (what the flow and the CLI run)."""
    with kit.client() as client:
        return deliver(bureau, client, kit.routes, clock=clock, worker=kit.worker,
                       settings=kit.settings, random=kit.random)


def deliver(
    bureau: Bureau,
    client: httpx.Client,
    routes: Mapping[str, Route],
    *,
    clock: Clock,
    worker: str,
    settings: DeliverySettings | None = None,
    random: Callable[[], float] | None = None,
) -> DeliveryReport:
    """One delivery pass over what is claimable now; see the module docstring.

    With no routes at all nothing is claimed: a bureau that has not configured alerts keeps
    them queued rather than declaring every one of them dead. ``random`` jitters the backoff.
    """
    run = _Pass(bureau, client, routes, clock, worker, settings or DeliverySettings(), random)
    if routes:
        run.run()
    with bureau.unit_of_work(write=False) as uow:
        run.report.pending = outbox.count_undelivered(uow.connection)
    return run.report


@dataclass
class _Pass:
    bureau: Bureau
    client: httpx.Client
    routes: Mapping[str, Route]
    clock: Clock
    worker: str
    settings: DeliverySettings
    random: Callable[[], float] | None
    report: DeliveryReport = field(default_factory=DeliveryReport)

    def run(self) -> None:
        started = self.clock()
        while True:
            with self.bureau.unit_of_work() as uow:
                claimed = outbox.claim(uow.connection, worker=self.worker, now=self.clock(),
                                       lease=self.settings.lease, limit=self.settings.batch,
                                       due_by=started)
                uow.commit()
            if not claimed or not self._batch(claimed):
                return

    def _batch(self, claimed: list[ClaimedAlert]) -> bool:
        """Attempt the claimed rows while the lease covers an attempt; False: no progress."""
        remaining = list(claimed)
        timeout = timedelta(seconds=self.settings.timeout)
        try:
            while remaining and self.clock() + timeout < remaining[0].claimed_until:
                self._one(remaining.pop(0))
        finally:
            if remaining:  # the lease ran short (or we are unwinding): hand them back
                with self.bureau.unit_of_work() as uow:
                    outbox.release(uow.connection, [r.id for r in remaining], worker=self.worker)
                    uow.commit()
        return len(remaining) < len(claimed)

    def _one(self, row: ClaimedAlert) -> None:
        if row.attempts >= self.settings.max_attempts:  # only interrupted attempts get here
            self._record(row, "dead", row.attempts,
                         f"given up after {row.attempts} attempts, the last of them cut short "
                         "by its worker stopping (lease expired)")
            return
        route = find_route(self.routes, row.route)
        if route is None:
            self._record(row, "dead", row.attempts, missing_route(row.route))
            return
        try:
            alert = to_alert(row, route, self._type_label(row.payload))
        except (KeyError, TypeError, ValueError) as exc:
            self._record(row, "dead", row.attempts,
                         f"unusable outbox row: {type(exc).__name__}: {exc}")
            return
        now_ms = int(self.clock().timestamp() * 1000)
        result = alerts.send(self.client, alert, now_ms=now_ms, timeout=self.settings.timeout)
        attempts = row.attempts + 1
        verdict = alerts.decide(result, attempts, self.settings.max_attempts)
        self._record(row, verdict, attempts, result.error, result.retry_after)

    def _record(
        self,
        row: ClaimedAlert,
        verdict: alerts.Outcome,
        attempts: int,
        error: str,
        retry_after: float | None = None,
    ) -> None:
        now = self.clock()
        with self.bureau.unit_of_work() as uow:
            if verdict == "sent":
                held = outbox.mark_sent(uow.connection, row.id, worker=self.worker,
                                        attempts=attempts, now=now)
            elif verdict == "retry":
                delay = self._delay(attempts, retry_after)
                held = outbox.mark_retry(uow.connection, row.id, worker=self.worker,
                                         attempts=attempts, error=error,
                                         next_attempt_at=now + timedelta(seconds=delay))
            else:
                held = outbox.mark_dead(uow.connection, row.id, worker=self.worker,
                                        attempts=attempts, error=error)
            uow.commit()
        if not held:
            self.report.lost += 1
            return
        if verdict == "sent":
            self.report.sent += 1
        elif verdict == "retry":
            self.report.retried += 1
        else:
            self.report.failed += 1
            self.report.errors.append({"idempotency_key": row.idempotency_key, "error": error})

    def _delay(self, attempts: int, retry_after: float | None) -> float:
        s = self.settings
        delay = alerts.backoff(attempts, s.backoff_base, s.backoff_cap, random=self.random)
        if retry_after is not None:  # the receiver asked for a pause; never beyond the cap
            delay = min(max(delay, retry_after), s.backoff_cap)
        return delay

    def _type_label(self, payload: Mapping[str, Any]) -> str | None:
        case_type = self.bureau.types.get(str(payload.get("case_type", "")))
        return case_type.label if case_type is not None else None


def to_alert(row: ClaimedAlert, route: Route, type_label: str | None = None) -> alerts.Alert:
    """The message of an outbox row, addressed by ``route``.

    People read the robots' messages: they get the case type's label (行政复议); the webhook's
    readers are programs: they get its name (reconsideration), like the clock's.
    """
    payload = row.payload
    case_type = str(payload["case_type"])
    if route.channel != "webhook" and type_label:
        case_type = type_label
    return alerts.Alert(
        idempotency_key=row.idempotency_key,
        channel=route.channel,
        url=route.url,
        secret=route.secret,
        ref=str(payload["ref"]),
        case_type=case_type,
        clock=str(payload["clock"]),
        clock_label=str(payload.get("clock_label") or payload["clock"]),
        rung=payload["rung"],
        due_on=date.fromisoformat(payload["due_on"]),
        basis=str(payload.get("basis", "")),
        recipient=row.recipient,
        mentions=route.mentions,
        provisional=bool(payload.get("provisional", False)),
    )


def list_alerts(bureau: Bureau, *, failed: bool = False,
                limit: int | None = None) -> list[dict[str, Any]]:
    """The outbox, oldest first, as JSON-ready documents; ``failed``: the dead ones only."""
    with bureau.unit_of_work(write=False) as uow:
        rows = outbox.list_alerts(uow.connection, status=outbox.DEAD if failed else None,
                                  limit=limit)
    return [
        {
            "id": alert.id,
            "ref": ref,
            "clock": escalation.clock,
            "cycle": escalation.cycle,
            "rung": escalation.rung,
            "recipient": alert.recipient,
            "route": alert.route,
            "status": alert.status,
            "attempts": alert.attempts,
            "last_error": alert.last_error,
            "next_attempt_at": _iso(alert.next_attempt_at),
            "sent_at": _iso(alert.sent_at),
            "idempotency_key": alert.idempotency_key,
        }
        for alert, escalation, ref in rows
    ]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
