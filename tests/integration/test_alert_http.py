"""Alert delivery over real HTTP: a receiver on 127.0.0.1 that verifies and misbehaves.

The receiver is ``http.server.ThreadingHTTPServer`` on an ephemeral port. The delivery loop
here stands in for the outbox flow: one ``send`` per attempt, ``decide`` and ``backoff`` (tiny
base) between attempts, and nothing more for an alert once it is "sent".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from email.message import Message
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from receiver import Reply, serve

from flows.alerts import MAX_ATTEMPTS, Alert, Outcome, backoff, decide, send, verify_signature

SECRET = "whsec-integration"
TIMEOUT = 0.3  # the client's; a slow answer sleeps well past it
SLOW = 0.9
BASE = 0.002  # backoff base: 2 ms, 4 ms, 8 ms, ...



def make_alert(index: int, url: str, **changes: Any) -> Alert:
    fields: dict[str, Any] = {
        "idempotency_key": f"alert-{index:03d}",
        "channel": "webhook",
        "url": url,
        "secret": SECRET,
        "ref": f"2025-FYJZ-{index:04d}",
        "case_type": "法律援助",
        "clock": "review",
        "clock_label": "审查期限",
        "rung": ("due_soon", "overdue", "overdue_serious")[index % 3],
        "due_on": date(2025, 6, 9),
        "basis": "《法律援助法》第四十三条",
        "recipient": "clerk",
    }
    fields.update(changes)
    return Alert(**fields)


@dataclass
class Delivery:
    """What the stand-in outbox recorded."""

    final: dict[str, Outcome] = field(default_factory=dict)
    attempts: Counter[str] = field(default_factory=Counter)
    sent: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def deliver(
    client: httpx.Client,
    alerts: list[Alert],
    *,
    on_sent: Callable[[str], None] = lambda key: None,
    base: float = BASE,
    deadline: float = 10.0,
) -> Delivery:
    """Attempt every alert until it is sent or dead, waiting ``backoff`` between attempts."""
    record = Delivery()
    due = {alert.idempotency_key: 0.0 for alert in alerts}
    by_key = {alert.idempotency_key: alert for alert in alerts}
    give_up = time.monotonic() + deadline
    while due:
        assert time.monotonic() < give_up, f"still pending: {sorted(due)}"
        now = time.monotonic()
        ready = [key for key, at in due.items() if at <= now]
        if not ready:
            time.sleep(min(due.values()) - now)
            continue
        for key in ready:
            result = send(client, by_key[key], now_ms=time.time_ns() // 1_000_000,
                          timeout=TIMEOUT)
            record.attempts[key] += 1
            if result.error:
                record.errors.append(result.error)
            verdict = decide(result, record.attempts[key])
            if verdict == "retry":
                due[key] = time.monotonic() + backoff(record.attempts[key], base=base)
                continue
            del due[key]
            record.final[key] = verdict
            if verdict == "sent":
                record.sent[key] += 1
                on_sent(key)
    return record


# Per alert (index % 10), what the receiver does on its 1st, 2nd, ... request for it; past the
# end of a row it accepts. "slow" processes the alert, then answers after the client's timeout
# (the redelivery must then be dropped as a duplicate); "lost" never processes it.
PLAN: list[list[str]] = [
    ["500", "503"],
    ["slow"],
    ["503"],
    [],
    ["500"],
    [],
    ["lost", "503"],
    ["503", "500"],
    [],
    ["500"],
]


@dataclass
class Receiver:
    """A webhook receiver as a real one behaves: verify, then dedupe by Idempotency-Key."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    processed: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    bodies: dict[str, set[bytes]] = field(default_factory=dict)
    bad_signatures: int = 0
    acked: set[str] = field(default_factory=set)  # keys the sender has recorded as sent
    after_ack: list[str] = field(default_factory=list)

    def respond(self, path: str, headers: Message, body: bytes) -> Reply:
        key = headers.get("Idempotency-Key", "")
        with self.lock:
            self.requests[key] += 1
            if key in self.acked:
                self.after_ack.append(key)
            self.bodies.setdefault(key, set()).add(body)
            if not verify_signature(SECRET, body, headers.get("X-Caseflow-Signature", "")):
                self.bad_signatures += 1
                return self._answer("401", Reply(401, b'{"error": "bad signature"}'))
            if json.loads(body)["idempotency_key"] != key:
                return self._answer("422", Reply(422))
            row = PLAN[int(key.rsplit("-", 1)[1]) % len(PLAN)]
            attempt = self.requests[key]
            step = row[attempt - 1] if attempt <= len(row) else "ok"
            if step in ("500", "503"):
                return self._answer(step, Reply(int(step), b'{"error": "try later"}'))
            if step == "lost":
                return self._answer("lost", Reply(504, delay=SLOW))
            if key in self.processed:
                self.duplicates[key] += 1
            else:
                self.processed[key] += 1
            return self._answer(step, Reply(200, b'{"ok": true}', SLOW if step == "slow" else 0))

    def _answer(self, kind: str, reply: Reply) -> Reply:
        self.answers[kind] += 1
        return reply

    def ack(self, key: str) -> None:
        with self.lock:
            self.acked.add(key)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as client:  # no proxy between us and 127.0.0.1
        yield client


def test_every_alert_arrives_exactly_once_despite_failures_and_timeouts(
    client: httpx.Client,
) -> None:
    receiver = Receiver()
    with serve(receiver.respond) as url:
        alerts = [make_alert(index, f"{url}/hooks/caseflow") for index in range(50)]
        record = deliver(client, alerts, on_sent=receiver.ack)
    keys = {alert.idempotency_key for alert in alerts}

    # every alert arrived, was processed once, and the sender recorded it sent once
    assert set(receiver.processed) == keys
    assert all(count == 1 for count in receiver.processed.values())
    assert record.final == dict.fromkeys(keys, "sent")
    assert record.sent == Counter(keys)
    # nothing was sent for an alert after its 2xx was received
    assert receiver.after_ack == []
    # the timed-out-after-processing alerts came again and were dropped as duplicates
    assert set(receiver.duplicates) >= {f"alert-{i:03d}" for i in range(1, 50, 10)}
    # every attempt carried the same signed bytes under the same key
    assert receiver.bad_signatures == 0
    assert all(len(bodies) == 1 for bodies in receiver.bodies.values())

    # the plan really happened: half the planned requests failed, each failure retried
    assert receiver.answers["500"] == 20 and receiver.answers["503"] == 20
    assert receiver.answers["slow"] == 5 and receiver.answers["lost"] == 5
    planned = sum(len(PLAN[i % 10]) + 1 for i in range(50))
    assert planned == 100
    assert planned <= sum(receiver.requests.values()) <= 50 * MAX_ATTEMPTS
    assert all(record.attempts[k] >= len(PLAN[int(k[-3:]) % 10]) + 1 for k in keys)
    # the sender saw a failure for every request but each alert's last: an answer, or a
    # timeout (on a loaded machine even a 500/503 can come after the client gave up)
    assert len(record.errors) == sum(receiver.requests.values()) - 50
    kinds = Counter(e.split(":")[0] for e in record.errors)
    assert set(kinds) <= {"HTTP 500", "HTTP 503", "ReadTimeout"}, kinds
    assert kinds["HTTP 500"] <= 20 and kinds["HTTP 503"] <= 20
    assert kinds["ReadTimeout"] >= 10


def test_receiver_rejects_a_forged_signature(client: httpx.Client) -> None:
    receiver = Receiver()
    with serve(receiver.respond) as url:
        body = json.dumps({"idempotency_key": "alert-003"}).encode()
        forged = "sha256=" + hmac.new(b"wrong", body, hashlib.sha256).hexdigest()
        response = client.post(
            url, content=body, timeout=TIMEOUT,
            headers={"Idempotency-Key": "alert-003", "X-Caseflow-Signature": forged},
        )
    assert response.status_code == 401
    assert receiver.bad_signatures == 1
    assert receiver.processed == Counter()


def test_a_4xx_answer_is_dead_after_one_attempt(client: httpx.Client) -> None:
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def refuse(path: str, headers: Message, body: bytes) -> Reply:
        with lock:
            seen[headers.get("Idempotency-Key", "")] += 1
        return Reply(422, b'{"error": "unknown case type"}')

    with serve(refuse) as url:
        alerts = [make_alert(index, url) for index in range(3)]
        record = deliver(client, alerts)
    keys = {alert.idempotency_key for alert in alerts}
    assert record.final == dict.fromkeys(keys, "dead")
    assert record.attempts == Counter(keys)
    assert seen == Counter(keys)
    assert record.errors == ['HTTP 422: {"error": "unknown case type"}'] * 3


def test_retry_stops_at_max_attempts(client: httpx.Client) -> None:
    seen: list[str] = []

    def always_busy(path: str, headers: Message, body: bytes) -> Reply:
        seen.append(path)
        return Reply(503)

    with serve(always_busy) as url:
        record = deliver(client, [make_alert(0, url)], base=0.0005)
    assert record.final == {"alert-000": "dead"}
    assert record.attempts["alert-000"] == MAX_ATTEMPTS == len(seen)


def test_connection_refused_is_retried(client: httpx.Client) -> None:
    with serve(lambda path, headers, body: Reply(200)) as url:
        pass  # the port is closed again: nothing listens there now
    record = deliver(client, [make_alert(0, url)], base=0.0005)
    assert record.final == {"alert-000": "dead"}
    assert record.attempts["alert-000"] == MAX_ATTEMPTS
    assert all(error.startswith("ConnectError") for error in record.errors)


def test_dingtalk_sign_verifies_at_a_real_receiver(client: httpx.Client) -> None:
    secret = "SEC0000caseflow"
    checked: list[bool] = []

    def robot(path: str, headers: Message, body: bytes) -> Reply:
        query = parse_qs(urlsplit(path).query)
        timestamp = int(query["timestamp"][0])
        mac = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
        good = hmac.compare_digest(base64.b64encode(mac.digest()).decode(), query["sign"][0])
        fresh = abs(time.time() * 1000 - timestamp) < 3_600_000
        checked.append(good and fresh and query["access_token"] == ["t-1"])
        if not (good and fresh):
            return Reply(200, b'{"errcode": 310000, "errmsg": "sign not match"}')
        text = json.loads(body)["markdown"]["text"]
        assert "2025-FYJZ-0004" in text
        return Reply(200, b'{"errcode": 0, "errmsg": "ok"}')

    with serve(robot) as url:
        good = make_alert(4, f"{url}/robot/send?access_token=t-1", channel="dingtalk",
                          secret=secret)
        bad = make_alert(5, f"{url}/robot/send?access_token=t-1", channel="dingtalk",
                         secret="SECwrong")
        record = deliver(client, [good, bad])
    assert record.final == {"alert-004": "sent", "alert-005": "dead"}
    assert checked == [True, False]
    assert record.errors == ["errcode 310000: sign not match"]


def test_wecom_rate_limit_is_retried_then_sent(client: httpx.Client) -> None:
    answers = iter([b'{"errcode": 45009, "errmsg": "api freq out of limit"}',
                    b'{"errcode": 0, "errmsg": "ok"}'])
    contents: list[str] = []

    def robot(path: str, headers: Message, body: bytes) -> Reply:
        contents.append(json.loads(body)["markdown"]["content"])
        return Reply(200, next(answers))

    with serve(robot) as url:
        record = deliver(client, [make_alert(7, f"{url}/cgi-bin/webhook/send?key=k",
                                             channel="wecom", secret=None)])
    assert record.final == {"alert-007": "sent"}
    assert record.attempts["alert-007"] == 2
    assert len(contents) == 2 and contents[0] == contents[1]
    assert "2025-FYJZ-0007" in contents[0]
