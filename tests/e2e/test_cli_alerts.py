"""`caseflow alerts deliver|list` end to end, including a delivery process killed with SIGKILL.

The outbox is built in-process the way production builds it (cases opened, the sweep run at a
moment their clocks are seriously overdue); the installed `caseflow` then delivers it to a
receiver on 127.0.0.1 that verifies the webhook signature and dedupes by Idempotency-Key.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from receiver import Reply
from receiver import serve as serve_http

from flows import services
from flows.alerts import verify_signature
from flows.context import Bureau
from flows.sweep import sweep
from models.engine import create_engine
from models.schema import upgrade
from models.tables import alerts
from states.calendar import default_calendar
from states.casetypes import CASE_TYPES

CASEFLOW = Path(sys.executable).parent / "caseflow"
SECRET = "whsec-e2e"
SWEEP_AT = datetime(2024, 12, 20, 1, 0, tzinfo=UTC)
CASES = 4  # three alerts each (clerk, supervisor, leader)
# no proxy between the CLI and the receiver on 127.0.0.1; the secret the policy names
ENV = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
       "CF_TEST_WEBHOOK_SECRET": SECRET}


@dataclass
class Receiver:
    """Verify, dedupe by key; ``status`` answers everything, after ``delay`` seconds."""

    status: int = 200
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: Counter[str] = field(default_factory=Counter)
    processed: Counter[str] = field(default_factory=Counter)
    bad_signatures: int = 0

    def handle(self, headers: Any, body: bytes) -> tuple[int, float]:
        key = headers.get("Idempotency-Key", "")
        with self.lock:
            self.requests[key] += 1
            if not verify_signature(SECRET, body, headers.get("X-Caseflow-Signature", "")):
                self.bad_signatures += 1
                return 401, 0.0
            if self.status == 200 and key not in self.processed:
                self.processed[key] += 1
            return self.status, self.delay


@contextmanager
def serve(receiver: Receiver) -> Iterator[str]:
    """The shared test receiver (tests/receiver.py) answering as ``receiver`` decides."""

    def respond(path: str, headers: Any, body: bytes) -> Reply:
        status, delay = receiver.handle(headers, body)
        answer = b'{"ok": true}' if status == 200 else b'{"error": "no such ward"}'
        return Reply(status, answer, delay)

    with serve_http(respond) as url:
        yield f"{url}/hooks/caseflow"


@dataclass
class Outbox:
    url: str  # the database
    keys: list[str]
    folder: Path

    def rows(self) -> list[dict[str, Any]]:
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                return [dict(r) for r in connection.execute(
                    sa.select(alerts).order_by(alerts.c.id)).mappings()]
        finally:
            engine.dispose()

    def policy(self, receiver_url: str, *, secret_env: str = "CF_TEST_WEBHOOK_SECRET") -> Path:
        path = self.folder / "policy.toml"
        path.write_text("".join(
            f'[alerts.routes.{role}]\nchannel = "webhook"\nurl = "{receiver_url}/{role}"\n'
            f'secret_env = "{secret_env}"\n\n'
            for role in ("clerk", "supervisor", "leader")
        ), encoding="utf-8")
        return path


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    url = f"sqlite:///{tmp_path / 'caseflow.db'}"
    engine = create_engine(url)
    try:
        upgrade(engine)
        bureau = Bureau(engine, CASE_TYPES, default_calendar())
        for _ in range(CASES):
            services.open_case(bureau, "legal_aid", on=date(2024, 9, 27), by="clerk",
                               now=SWEEP_AT)
        assert sweep(bureau, SWEEP_AT).alerts_queued == 3 * CASES
    finally:
        engine.dispose()
    box = Outbox(url, [], tmp_path)
    box.keys = sorted(r["idempotency_key"] for r in box.rows())
    return box


def env_for(outbox: Outbox, policy: Path | None, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("CASEFLOW_") and key not in {"COLUMNS", "LINES"}}
    env.update(ENV)
    env["CASEFLOW_DB_URL"] = outbox.url
    if policy is not None:
        env["CASEFLOW_POLICY"] = str(policy)
    env.update(extra)
    return env


def caseflow(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CASEFLOW), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=60, check=False)


def test_deliver_prints_the_contract_json_and_sends_each_alert_once(outbox: Outbox) -> None:
    receiver = Receiver()
    with serve(receiver) as url:
        env = env_for(outbox, outbox.policy(url))
        first = caseflow(["alerts", "deliver", "--json"], env, outbox.folder)
        again = caseflow(["alerts", "deliver", "--json"], env, outbox.folder)
        human = caseflow(["alerts", "deliver"], env, outbox.folder)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"sent": 3 * CASES, "failed": 0, "pending": 0}
    assert json.loads(again.stdout) == {"sent": 0, "failed": 0, "pending": 0}
    assert human.returncode == 0 and "sent 已发送 0" in human.stdout
    assert receiver.requests == Counter(outbox.keys) == receiver.processed
    assert receiver.bad_signatures == 0
    assert {r["status"] for r in outbox.rows()} == {"sent"}


def test_a_4xx_receiver_leaves_dead_alerts_listed_by_list_failed(outbox: Outbox) -> None:
    receiver = Receiver(status=404)
    with serve(receiver) as url:
        env = env_for(outbox, outbox.policy(url))
        done = caseflow(["alerts", "deliver", "--json"], env, outbox.folder)
        again = caseflow(["alerts", "deliver", "--json"], env, outbox.folder)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"sent": 0, "failed": 3 * CASES, "pending": 0}
    assert json.loads(again.stdout) == {"sent": 0, "failed": 0, "pending": 0}
    assert receiver.requests == Counter(outbox.keys)  # one attempt each, never retried

    env = env_for(outbox, None)
    failed = caseflow(["alerts", "list", "--failed", "--json"], env, outbox.folder)
    assert failed.returncode == 0, failed.stderr
    docs = json.loads(failed.stdout)
    assert sorted(d["idempotency_key"] for d in docs) == outbox.keys
    for doc in docs:
        assert doc["status"] == "dead" and doc["attempts"] == 1
        assert doc["last_error"] == 'HTTP 404: {"error": "no such ward"}'
        assert doc["ref"].startswith("LA-2024-") and doc["clock"] == "review"
        assert doc["rung"] == "overdue_serious" and doc["recipient"] == doc["route"]
        assert set(doc) >= {"ref", "clock", "rung", "recipient", "route", "status", "attempts",
                            "last_error", "next_attempt_at"}
    people = caseflow(["alerts", "list", "--failed"], env, outbox.folder)
    assert people.returncode == 0 and "LA-2024-0001" in people.stdout and "dead" in people.stdout
    everything = json.loads(caseflow(["alerts", "list", "--json"], env, outbox.folder).stdout)
    assert len(everything) == 3 * CASES


def test_without_routes_nothing_is_sent_and_the_alerts_stay_queued(outbox: Outbox) -> None:
    done = caseflow(["alerts", "deliver", "--json"], env_for(outbox, None), outbox.folder)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"sent": 0, "failed": 0, "pending": 3 * CASES}
    assert "no alert routes" in done.stderr
    assert {(r["status"], r["attempts"]) for r in outbox.rows()} == {("pending", 0)}


def test_an_unset_secret_variable_is_refused_before_anything_is_claimed(outbox: Outbox) -> None:
    policy = outbox.policy("http://127.0.0.1:9", secret_env="CF_TEST_UNSET_SECRET")
    done = caseflow(["alerts", "deliver", "--json"], env_for(outbox, policy), outbox.folder)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "CF_TEST_UNSET_SECRET" in done.stderr
    assert json.loads(done.stdout)["error"]["code"] == "invalid_policy"
    assert {r["status"] for r in outbox.rows()} == {"pending"}


def test_a_lease_no_longer_than_the_timeout_is_a_usage_error(outbox: Outbox) -> None:
    done = caseflow(["alerts", "deliver", "--lease", "5", "--timeout", "10"],
                    env_for(outbox, None), outbox.folder)
    assert done.returncode == 2
    assert "lease" in done.stderr and "Traceback" not in done.stderr


def test_a_delivery_killed_mid_run_loses_nothing_and_doubles_nothing(outbox: Outbox) -> None:
    lease = 2.0
    receiver = Receiver(delay=0.5)  # slow: the kill lands while an alert is in flight
    args = ["alerts", "deliver", "--json", "--lease", str(lease), "--timeout", "1",
            "--batch", "3"]
    with serve(receiver) as url:
        env = env_for(outbox, outbox.policy(url))
        process = subprocess.Popen([str(CASEFLOW), *args], cwd=outbox.folder, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            give_up = time.monotonic() + 30
            while sum(receiver.requests.values()) < 2:
                assert process.poll() is None, "the delivery ended before it could be killed"
                assert time.monotonic() < give_up, "the delivery never reached the receiver"
                time.sleep(0.01)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL
        killed = outbox.rows()
        in_flight = [r for r in killed if r["status"] == "sending"]
        assert in_flight, "the kill did not land mid-batch"
        assert sum(r["status"] == "sent" for r in killed) < len(outbox.keys)

        # after the dead run's lease expires, the next run takes its alerts over
        until = max(r["claimed_until"] for r in in_flight)
        time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.2)
        receiver.delay = 0.0
        again = caseflow(args, env, outbox.folder)
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert report["failed"] == 0 and report["pending"] == 0
    rows = outbox.rows()
    assert {r["status"] for r in rows} == {"sent"}
    # nothing lost: every alert arrived; nothing doubled: each processed once after dedupe
    assert receiver.processed == Counter(outbox.keys)
    assert receiver.bad_signatures == 0
    # only the alert in flight when the process died can have been sent a second time
    resent = {key for key, n in receiver.requests.items() if n > 1}
    assert set(receiver.requests.values()) <= {1, 2} and len(resent) <= 1
    assert resent <= {r["idempotency_key"] for r in in_flight}
    sent_before = sum(r["status"] == "sent" for r in killed)
    assert report["sent"] == len(outbox.keys) - sent_before
