"""End to end against a real Prefect server: the deadline sweep as a served deployment
(`python -m deployments.serve`), as a worker's deployment (`prefect deploy --all` from
prefect.yaml, `prefect worker start`), and from the CLI with ``PREFECT_API_URL`` set.

Each path opens a reconsideration case received on Fri 2024-09-27 in its own SQLite file,
triggers a sweep at 2024-10-15 12:00 (Asia/Shanghai), and reads the case back through the CLI:
its acceptance review (5 working days: 09-29, 09-30, then 10-08, 10-09, 10-10 after the National
Day holiday) lapsed, so it was deemed accepted on 2024-10-10 (视为受理, 行政复议法 art. 30).

One `prefect server start` (its own PREFECT_HOME, a free port, no scheduler: runs are triggered
here) serves the module; every process started here runs in its own process group and is
stopped with it. Every wait is bounded. About a minute in all.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.prefect_server

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
NOW = "2024-10-15T12:00:00+08:00"
DEPLOYMENT = "deadline-sweep/deadline-sweep"
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# Quiet and offline (../shared/PREFECT-NOTES.md); the server runs only the services a triggered
# run needs, so no scheduled run of either deployment interferes with the ones started here.
PREFECT_ENV = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_LEVEL": "INFO",
    "PREFECT_CLI_PROMPT": "false",
    "PREFECT_UI_ENABLED": "false",
    **{f"PREFECT_SERVER_SERVICES_{name}_ENABLED": "false"
       for name in ("SCHEDULER", "LATE_RUNS", "FOREMAN", "TRIGGERS", "CANCELLATION_CLEANUP",
                    "PAUSE_EXPIRATIONS", "REPOSSESSOR", "DB_VACUUM", "EVENT_LOGGER")},
}


@dataclass
class Prefect:
    """The server of this module and the environment every process started here runs with."""

    api: str
    home: Path

    def env(self, **overrides: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("CASEFLOW_", "PREFECT_")) and key not in {"COLUMNS"}}
        env.update(PREFECT_ENV, PREFECT_HOME=str(self.home), PREFECT_API_URL=self.api)
        env.update(overrides)
        return env

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.api}{path}", timeout=10, trust_env=False)

    def post(self, path: str, body: Mapping[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.api}{path}", json=body, timeout=10, trust_env=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def started(
    args: Sequence[str], env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a process group of its own, its output in ``log``; the group is stopped
    (TERM, then KILL after 15 s) on the way out."""
    with log.open("wb") as out:
        process = subprocess.Popen(args, cwd=REPO, env=dict(env), stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            try:
                process.wait(timeout=15)
                break
            except subprocess.TimeoutExpired:
                continue


def wait_for(what: str, ready: Callable[[], Any], timeout: float,
             alive: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> Any:
    """Poll ``ready()`` until it returns something truthy; fail after ``timeout`` seconds, or
    as soon as the process ``alive`` has exited (with the tail of its ``log``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            result = ready()
            if result:
                return result
        if alive is not None and alive.poll() is not None:
            pytest.fail(f"{what}: the process exited ({alive.returncode}) first\n{tail(log)}")
        time.sleep(0.5)
    pytest.fail(f"{what}: not within {timeout:.0f} s\n{tail(log)}")


def tail(log: Path | None, lines: int = 60) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def run(args: Sequence[str], env: Mapping[str, str], timeout: float = 120) -> str:
    done = subprocess.run(args, cwd=REPO, env=dict(env), capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert done.returncode == 0, (
        f"{' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done.stdout


@pytest.fixture(scope="module")
def prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prefect]:
    folder = tmp_path_factory.mktemp("prefect-server")
    port = free_port()
    server = Prefect(api=f"http://127.0.0.1:{port}/api", home=folder / "home")
    log = folder / "server.log"
    args = [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with started(args, server.env(), log) as process:
        wait_for("the Prefect server's /api/health",
                 lambda: server.get("/health").status_code == 200, 180, process, log)
        yield server


def open_case(prefect: Prefect, db_url: str) -> str:
    out = run([str(BIN / "caseflow"), "--db", db_url, "case", "open", "reconsideration",
               "--on", "2024-09-27", "--json"], prefect.env())
    ref: str = json.loads(out)["ref"]
    return ref


def trigger_sweep(prefect: Prefect, env: Mapping[str, str]) -> str:
    """`prefect deployment run` with ``now``: the id of the flow run it created."""
    out = run([str(BIN / "prefect"), "deployment", "run", DEPLOYMENT, "--param", f"now={NOW}"],
              env)
    found = re.search(r"UUID: ([0-9a-f-]{36})", out)
    assert found, out
    return found.group(1)


def finished(prefect: Prefect, flow_run: str, timeout: float, log: Path,
             alive: subprocess.Popen[bytes] | None = None) -> dict[str, Any]:
    """The flow run once it has ended; fail unless it completed, with the run's own logs."""
    def ended() -> dict[str, Any] | None:
        run_ = prefect.get(f"/flow_runs/{flow_run}").json()
        return run_ if run_["state"] and run_["state"]["type"] in TERMINAL else None

    run_: dict[str, Any] = wait_for(f"flow run {flow_run}", ended, timeout, alive, log)
    if run_["state"]["type"] != "COMPLETED":
        logs = prefect.post("/logs/filter", {"logs": {"flow_run_id": {"any_": [flow_run]}},
                                             "sort": "TIMESTAMP_ASC", "limit": 200}).json()
        messages = "\n".join(entry["message"] for entry in logs)
        pytest.fail(f"flow run {run_['state']['type']}: {run_['state']['message']}\n"
                    f"-- the run's logs:\n{messages}\n-- {log.name}:\n{tail(log)}")
    return run_


def assert_deemed_accepted(prefect: Prefect, db_url: str, ref: str) -> None:
    caseflow = [str(BIN / "caseflow"), "--db", db_url]
    shown = json.loads(run([*caseflow, "case", "show", ref, "--json"], prefect.env()))
    assert shown["state"] == "under_review" and shown["admitted_on"] == "2024-10-10"
    timeline = json.loads(run([*caseflow, "case", "timeline", ref, "--json"], prefect.env()))
    assert [(e["trigger"], e["on"]) for e in timeline] == [
        ("open", "2024-09-27"), ("deem_accepted", "2024-10-10")]
    assert timeline[-1]["by"] == "system" and timeline[-1]["to"] == "under_review"


def deployment_exists(prefect: Prefect) -> bool:
    return prefect.get(f"/deployments/name/{DEPLOYMENT}").status_code == 200


def test_a_served_deployment_applies_deemed_acceptance(prefect: Prefect, tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'caseflow.db'}"
    ref = open_case(prefect, db_url)
    env = prefect.env(CASEFLOW_DB_URL=db_url)
    log = tmp_path / "serve.log"
    with started([sys.executable, "-m", "deployments.serve"], env, log) as serving:
        wait_for(f"the deployment {DEPLOYMENT}", lambda: deployment_exists(prefect), 120,
                 serving, log)
        flow_run = trigger_sweep(prefect, env)
        finished(prefect, flow_run, 180, log, serving)
    assert_deemed_accepted(prefect, db_url, ref)
    artifacts = prefect.post("/artifacts/filter", {"artifacts": {
        "flow_run_id": {"any_": [flow_run]}, "key": {"any_": ["deadline-sweep"]}}}).json()
    assert len(artifacts) == 1 and ref in artifacts[0]["data"]


def test_a_deployment_run_by_a_worker_applies_deemed_acceptance(
    prefect: Prefect, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'caseflow.db'}"
    ref = open_case(prefect, db_url)
    env = prefect.env(CASEFLOW_DB_URL=db_url, CASEFLOW_HOME=str(REPO))
    prefect_cli = str(BIN / "prefect")
    run([prefect_cli, "work-pool", "create", "caseflow", "--type", "process"], env)
    run([prefect_cli, "deploy", "--all"], env)
    flow_run = trigger_sweep(prefect, env)
    log = tmp_path / "worker.log"
    with started([prefect_cli, "worker", "start", "--pool", "caseflow", "--run-once",
                  "--limit", "1"], env, log) as worker:
        finished(prefect, flow_run, 180, log, worker)
    assert_deemed_accepted(prefect, db_url, ref)


def test_the_cli_sweeps_as_a_flow_run_where_a_server_is_configured(
    prefect: Prefect, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'caseflow.db'}"
    ref = open_case(prefect, db_url)
    # --db, not CASEFLOW_DB_URL: the flow composes its bureau from this command's options
    out = run([str(BIN / "caseflow"), "--db", db_url, "sweep", "--now", NOW, "--json"],
              prefect.env())
    assert [(x["ref"], x["effect"], x["effective_on"]) for x in json.loads(out)["lapsed"]] == [
        (ref, "deem_accepted", "2024-10-10")]
    runs = prefect.post("/flow_runs/filter", {"flow_runs": {"state": {"type": {
        "any_": ["COMPLETED"]}}}, "sort": "START_TIME_DESC", "limit": 1}).json()
    assert runs and runs[0]["parameters"]["now"].startswith("2024-10-15T12:00:00")
    assert_deemed_accepted(prefect, db_url, ref)
