"""The outbox delivered over real HTTP, on SQLite and PostgreSQL: once each, failures visible.

Alerts are queued the way production queues them (cases opened, `flows.sweep.sweep` run at a
moment their clocks are seriously overdue: three alerts per case). The receiver is a
``ThreadingHTTPServer`` on 127.0.0.1 that verifies the webhook signature and, like a real one,
drops a redelivery by its ``Idempotency-Key``. Time is a fake clock the tests move past the
backoff between delivery passes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from receiver import Reply, serve

from flows import services
from flows.alerts import MAX_ATTEMPTS, verify_signature
from flows.context import Bureau
from flows.delivery import DeliveryReport, DeliverySettings, deliver, list_alerts
from flows.routes import Route
from flows.sweep import sweep
from models import outbox
from models.tables import alerts

SECRET = "whsec-delivery"
SWEEP_AT = datetime(2024, 12, 20, 1, 0, tzinfo=UTC)  # legal-aid reviews of 09-27: 严重逾期
TIMEOUT = 1.0  # seconds: the client's, per attempt (room for a loaded machine's "ok")
SLOW = 1.5  # a slow answer comes well after the client gave up
FAST = DeliverySettings(batch=5, lease=timedelta(seconds=60), timeout=TIMEOUT)
PASS_GAP = timedelta(seconds=400)  # past the longest backoff (300 s)


# -- the fake clock and the receiver ------------------------------------------------------------


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self.lock:
            self.now += delta



@dataclass
class Receiver:
    """A webhook receiver: verify the signature, then process each Idempotency-Key once.

    ``plan(key, n)`` says what the n-th request for ``key`` gets: "ok", "500", "503", "slow"
    (processed, answered after the client's timeout) or "lost" (not processed, answered late).
    """

    plan: Callable[[str, int], str] = lambda key, n: "ok"
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)
    processed: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    bad: list[str] = field(default_factory=list)
    paths: dict[str, set[str]] = field(default_factory=dict)

    def respond(self, path: str, headers: Message, body: bytes) -> Reply:
        key = headers.get("Idempotency-Key", "")
        with self.lock:
            self.requests[key] += 1
            self.paths.setdefault(key, set()).add(path)
            if not verify_signature(SECRET, body, headers.get("X-Caseflow-Signature", "")):
                self.bad.append(key)
                return Reply(401, b'{"error": "bad signature"}')
            if json.loads(body)["idempotency_key"] != key:
                self.bad.append(key)
                return Reply(422)
            step = self.plan(key, self.requests[key])
            self.answers[step] += 1
            if step in ("500", "503"):
                return Reply(int(step), b'{"error": "try later"}')
            if step == "lost":
                return Reply(504, delay=SLOW)
            if key in self.processed:
                self.duplicates[key] += 1
            else:
                self.processed[key] += 1
            return Reply(200, b'{"ok": true}', delay=SLOW if step == "slow" else self.delay)


# -- building the outbox ------------------------------------------------------------------------


def queue(bureau: Bureau, cases: int) -> list[str]:
    """``cases`` legal-aid cases seriously overdue at SWEEP_AT: 3 alerts each; their keys."""
    for _ in range(cases):
        services.open_case(bureau, "legal_aid", on=date(2024, 9, 27), by="clerk",
                           now=SWEEP_AT)
    report = sweep(bureau, SWEEP_AT)
    assert report.alerts_queued == 3 * cases
    return sorted(row["idempotency_key"] for row in rows(bureau))


def rows(bureau: Bureau) -> list[dict[str, Any]]:
    with bureau.engine.connect() as connection:
        found = connection.execute(sa.select(alerts).order_by(alerts.c.id)).mappings()
        return [dict(row) for row in found]


def webhook(url: str, name: str = "clerk") -> Route:
    return Route(name, "webhook", url, SECRET)


def every_role(url: str) -> dict[str, Route]:
    return {role: webhook(f"{url}/{role}", role) for role in ("clerk", "supervisor", "leader")}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as client:  # nothing between us and 127.0.0.1
        yield client


def run_passes(
    bureau: Bureau,
    client: httpx.Client,
    routes: dict[str, Route],
    clock: FakeClock,
    *,
    most: int = MAX_ATTEMPTS + 2,
    settings: DeliverySettings = FAST,
) -> list[DeliveryReport]:
    """Delivery passes, the clock moved past any backoff between them, until none pending."""
    reports = []
    for _ in range(most):
        reports.append(deliver(bureau, client, routes, clock=clock, worker="w1",
                               settings=settings))
        if reports[-1].pending == 0:
            break
        clock.advance(PASS_GAP)
    return reports


# -- the tests ----------------------------------------------------------------------------------

# What the receiver does to the n-th request for an alert, by the alert's position (mod 8):
# half of all requests fail, with 5xx answers and timeouts (before or after processing).
PLAN = [["500", "503"], ["slow"], ["503"], [], ["lost", "500"], [], ["500"], ["slow"]]


def test_every_alert_arrives_exactly_once_through_failures_and_timeouts(
    bureau: Bureau, client: httpx.Client
) -> None:
    keys = queue(bureau, 8)
    position = {key: i % len(PLAN) for i, key in enumerate(keys)}

    def plan(key: str, n: int) -> str:
        steps = PLAN[position[key]]
        return steps[n - 1] if n <= len(steps) else "ok"

    receiver = Receiver(plan)
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    with serve(receiver.respond) as url:
        reports = run_passes(bureau, client, every_role(url), clock)

    # every alert arrived, and was processed once: redeliveries after a timeout were dropped
    assert set(receiver.processed) == set(keys)
    assert set(receiver.processed.values()) == {1}
    assert receiver.bad == []
    slow = {k for k in keys if "slow" in PLAN[position[k]]}
    assert set(receiver.duplicates) == slow
    # none left pending: a pass per retry; the sender counted each alert sent once
    waiting = [sum(len(PLAN[position[k]]) >= n for k in keys) for n in (1, 2, 3)]
    assert [r.pending for r in reports] == waiting == [18, 6, 0]
    assert sum(r.sent for r in reports) == len(keys)
    assert sum(r.failed for r in reports) == 0
    # half the requests failed, each failure was retried
    assert sum(receiver.requests.values()) == 2 * len(keys)
    assert receiver.answers["ok"] + receiver.answers["slow"] == len(keys) + len(slow)
    # the outbox holds every attempt and the last error of the retried ones
    for row in rows(bureau):
        steps = PLAN[position[row["idempotency_key"]]]
        assert row["status"] == "sent"
        assert row["attempts"] == len(steps) + 1 == receiver.requests[row["idempotency_key"]]
        assert row["claimed_until"] is None
        if not steps:
            assert row["last_error"] is None
        elif steps[-1] in ("500", "503"):
            assert row["last_error"].startswith(f"HTTP {steps[-1]}")
        else:
            assert row["last_error"].startswith("ReadTimeout")


def test_a_retry_waits_for_its_backoff(bureau: Bureau, client: httpx.Client) -> None:
    queue(bureau, 1)
    receiver = Receiver(lambda key, n: "503" if n == 1 else "ok")
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    with serve(receiver.respond) as url:
        first = deliver(bureau, client, every_role(url), clock=clock, worker="w", settings=FAST)
        assert (first.sent, first.retried, first.pending) == (0, 3, 3)
        waiting = rows(bureau)
        assert {r["status"] for r in waiting} == {"pending"}
        assert {r["attempts"] for r in waiting} == {1}
        assert {r["next_attempt_at"] for r in waiting} == {clock() + timedelta(seconds=2)}
        clock.advance(timedelta(seconds=1))  # not yet
        early = deliver(bureau, client, every_role(url), clock=clock, worker="w",
                        settings=FAST)
        assert (early.sent, early.pending) == (0, 3)
        clock.advance(timedelta(seconds=1))
        due = deliver(bureau, client, every_role(url), clock=clock, worker="w", settings=FAST)
        assert (due.sent, due.pending) == (3, 0)
    assert sum(receiver.requests.values()) == 6


def test_a_4xx_is_dead_after_one_attempt_and_listed_as_failed(
    bureau: Bureau, client: httpx.Client
) -> None:
    keys = queue(bureau, 2)
    seen: Counter[str] = Counter()

    def refuse(path: str, headers: Message, body: bytes) -> Reply:
        seen[headers.get("Idempotency-Key", "")] += 1
        return Reply(422, b'{"error": "unknown case type"}')

    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    with serve(refuse) as url:
        reports = run_passes(bureau, client, every_role(url), clock)
        clock.advance(timedelta(days=1))
        later = deliver(bureau, client, every_role(url), clock=clock, worker="w", settings=FAST)
    assert len(reports) == 1 and reports[0].failed == len(keys) and reports[0].pending == 0
    assert later.to_json() == {"sent": 0, "failed": 0, "pending": 0}
    assert seen == Counter(keys)  # never retried
    failed = list_alerts(bureau, failed=True)
    assert sorted(d["idempotency_key"] for d in failed) == keys
    for doc in failed:
        assert doc["status"] == "dead" and doc["attempts"] == 1
        assert doc["last_error"] == 'HTTP 422: {"error": "unknown case type"}'
        assert doc["ref"].startswith("LA-2024-") and doc["clock"] == "review"
        assert doc["rung"] == "overdue_serious"
        assert doc["recipient"] in ("clerk", "supervisor", "leader")
    assert len(list_alerts(bureau)) == len(keys)


def test_retries_stop_at_max_attempts(bureau: Bureau, client: httpx.Client) -> None:
    queue(bureau, 1)
    receiver = Receiver(lambda key, n: "503")
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    with serve(receiver.respond) as url:
        reports = run_passes(bureau, client, every_role(url), clock)
    assert len(reports) == MAX_ATTEMPTS
    assert sum(r.failed for r in reports) == 3 and reports[-1].pending == 0
    assert set(receiver.requests.values()) == {MAX_ATTEMPTS}
    assert {(r["status"], r["attempts"]) for r in rows(bureau)} == {("dead", MAX_ATTEMPTS)}


def test_a_route_missing_from_the_policy_is_dead_with_a_clear_error(
    bureau: Bureau, client: httpx.Client
) -> None:
    queue(bureau, 1)
    receiver = Receiver()
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    with serve(receiver.respond) as url:
        report = deliver(bureau, client, {"clerk": webhook(url)}, clock=clock, worker="w",
                         settings=FAST)
    assert (report.sent, report.failed, report.pending) == (1, 2, 0)
    errors = {d["recipient"]: d["last_error"] for d in list_alerts(bureau, failed=True)}
    assert errors == {
        "supervisor": "no route 'supervisor' in the policy's [alerts.routes]",
        "leader": "no route 'leader' in the policy's [alerts.routes]",
    }
    assert {r["attempts"] for r in rows(bureau) if r["status"] == "dead"} == {0}


def test_a_department_route_falls_back_to_its_role(bureau: Bureau, client: httpx.Client) -> None:
    queue(bureau, 1)
    with bureau.engine.begin() as connection:
        connection.execute(sa.update(alerts).values(route="法援科/" + alerts.c.recipient))
    receiver = Receiver()
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    with serve(receiver.respond) as url:
        routes = {**every_role(url), "法援科/leader": webhook(f"{url}/fayuan-leader")}
        report = deliver(bureau, client, routes, clock=clock, worker="w", settings=FAST)
    assert report.sent == 3
    assert sorted(path for paths in receiver.paths.values() for path in paths) == [
        "/clerk", "/fayuan-leader", "/supervisor"]


def test_robot_channels_get_their_formats(bureau: Bureau, client: httpx.Client) -> None:
    queue(bureau, 1)
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    ding_secret = "SECdelivery"
    got: dict[str, Any] = {}

    def robots(path: str, headers: Message, body: bytes) -> Reply:
        parts = urlsplit(path)
        if parts.path == "/wecom":
            got["wecom"] = json.loads(body)["markdown"]["content"]
        else:
            query = parse_qs(parts.query)
            stamp = int(query["timestamp"][0])
            mac = hmac.new(ding_secret.encode(), f"{stamp}\n{ding_secret}".encode(),
                           hashlib.sha256)
            got["dingtalk_signed"] = hmac.compare_digest(
                base64.b64encode(mac.digest()).decode(), query["sign"][0])
            got["dingtalk_stamp"] = stamp
            got["dingtalk"] = json.loads(body)["markdown"]
        return Reply(200, b'{"errcode": 0, "errmsg": "ok"}')

    with serve(robots) as url:
        routes = {
            "clerk": Route("clerk", "wecom", f"{url}/wecom?key=k", None, ("zhangsan",)),
            "supervisor": Route("supervisor", "dingtalk", f"{url}/ding?access_token=t",
                                ding_secret),
            "leader": Route("leader", "dingtalk", f"{url}/ding?access_token=t", ding_secret),
        }
        report = deliver(bureau, client, routes, clock=clock, worker="w", settings=FAST)
    assert (report.sent, report.pending) == (3, 0)
    assert "LA-2024-0001" in got["wecom"] and "法律援助" in got["wecom"]
    assert "严重逾期" in got["wecom"] and "<@zhangsan>" in got["wecom"]
    assert got["dingtalk_signed"]
    assert got["dingtalk_stamp"] == int(clock().timestamp() * 1000)  # signed at the passed time
    assert "LA-2024-0001" in got["dingtalk"]["title"]


def test_two_workers_at_once_never_send_one_alert_twice(
    bureau: Bureau, client: httpx.Client
) -> None:
    keys = queue(bureau, 10)
    receiver = Receiver(delay=0.005)  # prompt answers: a second send could only be a bug
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    workers = 4
    start = threading.Barrier(workers)
    reports: list[DeliveryReport] = []
    errors: list[BaseException] = []
    small = DeliverySettings(batch=2, lease=timedelta(seconds=60), timeout=2.0)

    def work(name: str) -> None:
        try:
            with httpx.Client(trust_env=False) as own:
                start.wait(timeout=10)
                reports.append(deliver(bureau, own, every_role(url), clock=clock, worker=name,
                                       settings=small))
        except BaseException as exc:  # reported to the test below
            errors.append(exc)

    with serve(receiver.respond) as url:
        threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
            assert not thread.is_alive()
    assert errors == []
    assert receiver.requests == Counter(keys)  # counted before dedupe: one request per alert
    assert receiver.duplicates == Counter()
    assert sum(r.sent for r in reports) == len(keys)
    assert sum(1 for r in reports if r.sent) >= 2  # they really shared the work
    assert {r["status"] for r in rows(bureau)} == {"sent"}


def test_a_dead_workers_claim_is_taken_over_after_its_lease(
    bureau: Bureau, client: httpx.Client
) -> None:
    keys = queue(bureau, 2)
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    with bureau.unit_of_work() as uow:  # a worker claims three alerts, then dies
        stolen = outbox.claim(uow.connection, worker="dead", now=clock(),
                              lease=timedelta(seconds=60), limit=3)
        uow.commit()
    receiver = Receiver()
    with serve(receiver.respond) as url:
        first = deliver(bureau, client, every_role(url), clock=clock, worker="w", settings=FAST)
        assert (first.sent, first.pending) == (len(keys) - 3, 3)  # its lease still holds them
        clock.advance(timedelta(seconds=61))
        second = deliver(bureau, client, every_role(url), clock=clock, worker="w",
                         settings=FAST)
        assert (second.sent, second.pending) == (3, 0)
    assert receiver.requests == Counter(keys)
    # the dead worker, back from the grave, cannot overwrite what the live one recorded
    with bureau.unit_of_work() as uow:
        assert not outbox.mark_dead(uow.connection, stolen[0].id, worker="dead", attempts=1,
                                    error="late")
        assert outbox.release(uow.connection, [s.id for s in stolen], worker="dead") == 0
        uow.commit()
    assert {r["status"] for r in rows(bureau)} == {"sent"}


def test_an_alert_whose_every_attempt_kills_its_worker_ends_dead(
    bureau: Bureau, client: httpx.Client
) -> None:
    """Each claim taken back from an expired lease counts the attempt cut short; at the limit
    the alert is dead, listed with why, and not sent again (not claimed forever)."""
    queue(bureau, 1)
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    lease = timedelta(seconds=60)
    for crash in range(MAX_ATTEMPTS):
        with bureau.unit_of_work() as uow:  # a worker takes them and dies mid-attempt
            claimed = outbox.claim(uow.connection, worker=f"doomed-{crash}", now=clock(),
                                   lease=lease, limit=10)
            uow.commit()
        assert len(claimed) == 3
        assert {c.attempts for c in claimed} == {crash}  # the crashes before this one
        clock.advance(lease + timedelta(seconds=1))
    receiver = Receiver()
    with serve(receiver.respond) as url:
        report = deliver(bureau, client, every_role(url), clock=clock, worker="w",
                         settings=FAST)
    assert receiver.requests == Counter()  # not tried an eleventh time
    assert (report.sent, report.failed, report.pending) == (0, 3, 0)
    assert {(r["status"], r["attempts"]) for r in rows(bureau)} == {("dead", MAX_ATTEMPTS)}
    assert all("cut short" in r["last_error"] for r in rows(bureau))


def test_no_attempt_starts_that_the_lease_might_not_cover(
    bureau: Bureau, client: httpx.Client
) -> None:
    keys = queue(bureau, 2)
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    settings = DeliverySettings(batch=6, lease=timedelta(seconds=30), timeout=20.0)
    receiver = Receiver()

    leases: list[tuple[datetime, datetime]] = []

    def slow_world(path: str, headers: Message, body: bytes) -> Reply:
        key = headers.get("Idempotency-Key", "")
        with bureau.engine.connect() as connection:
            until = connection.execute(sa.select(alerts.c.claimed_until)
                                       .where(alerts.c.idempotency_key == key)).scalar_one()
        leases.append((clock(), until))
        clock.advance(timedelta(seconds=20))  # each send takes its whole timeout
        return receiver.respond(path, headers, body)

    with serve(slow_world) as url:
        report = deliver(bureau, client, every_role(url), clock=clock, worker="w",
                         settings=settings)
    # a second send per claim could outlast the lease: the rest were handed back, claimed anew
    assert (report.sent, report.pending, report.lost) == (len(keys), 0, 0)
    assert receiver.requests == Counter(keys)
    assert all(started + timedelta(seconds=20) < until for started, until in leases)


def test_no_routes_claims_nothing(bureau: Bureau, client: httpx.Client) -> None:
    keys = queue(bureau, 1)
    clock = FakeClock(SWEEP_AT + timedelta(minutes=1))
    report = deliver(bureau, client, {}, clock=clock, worker="w", settings=FAST)
    assert report.to_json() == {"sent": 0, "failed": 0, "pending": len(keys)}
    assert {(r["status"], r["attempts"]) for r in rows(bureau)} == {("pending", 0)}


def test_postgresql_claims_skip_locked_rows_without_waiting(
    bureau: Bureau, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite claimers take turns (BEGIN IMMEDIATE)")
    keys = queue(bureau, 2)
    now = SWEEP_AT + timedelta(minutes=1)
    lease = timedelta(seconds=60)
    with bureau.unit_of_work() as first:
        mine = outbox.claim(first.connection, worker="a", now=now, lease=lease, limit=2)
        with bureau.unit_of_work() as second:  # while the first claim is not yet committed
            second.connection.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            theirs = outbox.claim(second.connection, worker="b", now=now, lease=lease, limit=10)
            second.commit()
        # the first claimer dies before committing (no commit): its rows stay pending
    assert len(mine) == 2 and len(theirs) == len(keys) - 2
    assert not {m.id for m in mine} & {t.id for t in theirs}
    statuses = {r["id"]: r["status"] for r in rows(bureau)}
    assert {statuses[m.id] for m in mine} == {"pending"}
    assert {statuses[t.id] for t in theirs} == {"sending"}


def test_settings_refuse_a_lease_shorter_than_an_attempt() -> None:
    with pytest.raises(ValueError, match="lease"):
        DeliverySettings(lease=timedelta(seconds=5), timeout=10.0)
