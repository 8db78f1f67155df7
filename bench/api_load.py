"""The HTTP API under load, against PostgreSQL: many clerks at once, and a race on one case.

    .venv/bin/python bench/api_load.py [--clients 50] [--seconds 60] [--workers 2]
                                       [--racers 8] [--rounds 30] [--pg URL]

Serves the app with uvicorn (``--workers`` processes, `deployments.api.app:app_from_env`) on a
fresh schema of the PostgreSQL server, opens one reconsideration per client (accepted, under
review) and gives a clerk of its department an API token. Then:

1. **Load**: ``--clients`` concurrent clients (one asyncio task and httpx client each) advance their
   own case for ``--seconds``: ``suspend`` (ground 3) and ``resume`` in turn, each with
   ``If-Match`` the version the previous answer's ETag gave. Prints requests, throughput,
   errors (any answer but 200), p50/p95/p99 latency, and lost updates: every case's version
   must equal its number of events (read from the database afterwards). Also the CPU each
   request cost (Linux ``/proc``): in the uvicorn processes, in the clients (this process),
   in the PostgreSQL backends serving the app, and on the whole machine (others' work too).
2. **Race**: ``--racers`` clients read one case, then all post the same trigger with the same
   ``If-Match``, ``--rounds`` times: exactly one must win each round (200), the others get 409.

Goal (issue 16): 0 errors, 0 lost updates, p99 < 250 ms with 50 clients and 2 workers on this
2-core machine (which also runs the clients and PostgreSQL). Figures, not pass/fail: exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import resource
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import sqlalchemy as sa

from deployments.bootstrap import bootstrap
from flows import services, users
from models.engine import create_engine
from models.schema import upgrade
from models.tables import cases, events
from states.calendar import legal_date
from states.roles import Role

PG = os.environ.get("CASEFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
UVICORN = Path(sys.executable).parent / "uvicorn"


def uvicorn_kind() -> str:
    """The HTTP parser and event loop uvicorn picks by itself (``--http auto --loop auto``):
    httptools and uvloop when installed (the ``uvicorn[standard]`` extra), else h11 and
    asyncio."""
    found = {name: importlib.util.find_spec(name) is not None for name in ("httptools", "uvloop")}
    return (f"{'httptools' if found['httptools'] else 'h11'}, "
            f"{'uvloop' if found['uvloop'] else 'asyncio'}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_schema(base: str) -> tuple[str, str]:
    schema = f"cf_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    admin.dispose()
    separator = "&" if "?" in base else "?"
    # the application name finds the app's backends in pg_stat_activity (their CPU)
    url = (f"{base}{separator}options={quote(f'-csearch_path={schema}')}"
           f"&application_name={schema}")
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    return schema, url


def prepare(url: str, count: int) -> tuple[list[str], str]:
    """``count`` reconsiderations under review, and a clerk's token."""
    rt = bootstrap(url)
    now = rt.now()
    today = legal_date(now)
    opened_on = today - timedelta(days=3)
    refs = []
    for _ in range(count):
        stored = services.open_case(rt.bureau, "reconsideration", on=opened_on,
                                    attrs={"department": "一科", "handler": "王"}, by="王",
                                    now=now)
        services.advance(rt.bureau, stored.case.ref, "accept", on=opened_on, by="王", now=now)
        refs.append(stored.case.ref)
    users.add_user(rt.bureau, "王", Role.CLERK, department="一科", password=None, now=now)
    token = users.issue_token(rt.bureau, "王", now)
    rt.close()
    return refs, token


def next_act(state: str) -> tuple[str, dict[str, object]]:
    if state == "suspended":
        return "resume", {}
    return "suspend", {"attrs": {"ground": 3}}


async def one_client(base_url: str, token: str, ref: str, until: float, today: date,
                     latencies: list[float], errors: list[str]) -> None:
    # a client of its own, as each clerk has: one shared pool of 50 connections costs the
    # bench more CPU a request (httpcore scans its pool) than the server spends answering
    async with httpx.AsyncClient(base_url=base_url, timeout=60,
                                 limits=httpx.Limits(max_connections=1),
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        await advance_for(client, ref, until, today, latencies, errors)


async def advance_for(client: httpx.AsyncClient, ref: str, until: float, today: date,
                      latencies: list[float], errors: list[str]) -> None:
    answer = await client.get(f"/api/cases/{ref}")
    state, version = answer.json()["state"], answer.headers["ETag"]
    while time.monotonic() < until:
        trigger, body = next_act(state)
        started = time.perf_counter()
        try:
            answer = await client.post(f"/api/cases/{ref}/triggers/{trigger}",
                                       json={"on": today.isoformat(), **body},
                                       headers={"If-Match": version})
        except httpx.TransportError as exc:  # counted, then the case is read again
            errors.append(f"{type(exc).__name__}: {exc}")
            answer = await client.get(f"/api/cases/{ref}")
            state, version = answer.json()["state"], answer.headers["ETag"]
            continue
        latencies.append(time.perf_counter() - started)
        if answer.status_code != 200:
            errors.append(f"{answer.status_code} {answer.text[:120]}")
            answer = await client.get(f"/api/cases/{ref}")
        state, version = answer.json()["state"], answer.headers["ETag"]


TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used, 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def server_cpu(pid: int) -> float:
    """CPU seconds of uvicorn's supervisor and its worker processes."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = children.read_text().split() if children.exists() else []
    return process_cpu(pid) + sum(process_cpu(int(kid)) for kid in kids)


def backends_cpu(url: str) -> float:
    """CPU seconds of the PostgreSQL backends connected under the bench's application name
    (readable when PostgreSQL runs on this machine)."""
    engine = create_engine(url)
    name = url.rpartition("application_name=")[2]
    with engine.connect() as connection:
        pids = connection.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE "
                                          "application_name = :name AND pid <> "
                                          "pg_backend_pid()"), {"name": name}).scalars().all()
    engine.dispose()
    return sum(process_cpu(pid) for pid in pids)


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy (every process, ours or not)."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    return (sum(ticks[:8]) - idle) / TICKS


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def load(base_url: str, token: str, refs: list[str], seconds: float) -> int:
    latencies: list[float] = []
    errors: list[str] = []
    today = legal_date(datetime.now(UTC))
    until = time.monotonic() + seconds
    started = time.monotonic()
    await asyncio.gather(*(one_client(base_url, token, ref, until, today, latencies, errors)
                           for ref in refs))
    elapsed = time.monotonic() - started
    cuts = statistics.quantiles(latencies, n=100)
    print(f"load: {len(refs)} clients, {elapsed:.1f} s: {len(latencies):,} transitions "
          f"({len(latencies) / elapsed:,.0f}/s), errors {len(errors)}")
    print(f"  latency p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms, "
          f"p99 {cuts[98] * 1000:.1f} ms, max {max(latencies) * 1000:.1f} ms")
    for error in errors[:5]:
        print(f"  error: {error}")
    return len(latencies)


async def race(base_url: str, token: str, ref: str, racers: int, rounds: int) -> None:
    today = legal_date(datetime.now(UTC))
    exactly_one = 0
    outcomes: dict[tuple[int, int], int] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as client:
        for _ in range(rounds):
            shown = await client.get(f"/api/cases/{ref}")
            trigger, body = next_act(shown.json()["state"])
            answers = await asyncio.gather(*(
                client.post(f"/api/cases/{ref}/triggers/{trigger}",
                            json={"on": today.isoformat(), **body},
                            headers={"If-Match": shown.headers["ETag"]})
                for _ in range(racers)))
            won = sum(a.status_code == 200 for a in answers)
            stale = sum(a.status_code == 409 for a in answers)
            outcomes[(won, stale)] = outcomes.get((won, stale), 0) + 1
            exactly_one += won == 1 and stale == racers - 1
    print(f"race: {racers} clients on one case, {rounds} rounds: exactly one winner (and "
          f"{racers - 1} × 409) in {exactly_one} of {rounds}; (won, 409) → rounds: {outcomes}")


def lost_updates(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    counted = (sa.select(events.c.case_id, sa.func.count().label("n"))
               .group_by(events.c.case_id).subquery())
    with engine.connect() as connection:
        rows = connection.execute(sa.select(cases.c.ref, cases.c.version, counted.c.n)
                                  .join(counted, counted.c.case_id == cases.c.id)).all()
    engine.dispose()
    return sum(1 for r in rows if r.version != r.n), len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--racers", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--pg", default=PG)
    args = parser.parse_args()
    schema, url = fresh_schema(args.pg)
    server = None
    try:
        refs, token = prepare(url, args.clients + 1)
        port = free_port()
        env = {**os.environ, "CASEFLOW_DB_URL": url, "CASEFLOW_SECRET_KEY": "bench"}
        server = subprocess.Popen(
            [str(UVICORN), "--factory", "deployments.api.app:app_from_env", "--host",
             "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
             "--log-level", "warning", "--no-access-log", "--timeout-keep-alive", "75"], env=env)
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if httpx.get(f"{base_url}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        print(f"uvicorn × {args.workers} workers ({uvicorn_kind()}) on PostgreSQL "
              f"(schema {schema}); load average {os.getloadavg()[0]:.1f}")
        cpu = (server_cpu(server.pid), own_cpu(), backends_cpu(url), machine_busy(),
               time.monotonic())
        done = asyncio.run(load(base_url, token, refs[:-1], args.seconds))
        spent = [after - before for after, before in
                 zip((server_cpu(server.pid), own_cpu(), backends_cpu(url), machine_busy(),
                      time.monotonic()), cpu, strict=True)]
        ms = [1000 * s / max(done, 1) for s in spent[:4]]
        print(f"  CPU a request: uvicorn {ms[0]:.2f} ms, clients {ms[1]:.2f} ms, PostgreSQL "
              f"backends {ms[2]:.2f} ms (the three: {sum(ms[:3]):.2f} ms); whole machine "
              f"{ms[3]:.2f} ms, busy {spent[3] / spent[4]:.2f} of {os.cpu_count()} cores; "
              f"load average {os.getloadavg()[0]:.1f}")
        asyncio.run(race(base_url, token, refs[-1], args.racers, args.rounds))
        lost, total = lost_updates(url)
        print(f"lost updates: {lost} of {total} cases have a version other than their "
              "event count")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        admin = create_engine(args.pg)
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


if __name__ == "__main__":
    main()
