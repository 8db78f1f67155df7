"""The closure report over a large bureau: 1,000,000 cases, about 5 M events.

    .venv/bin/python bench/report_closure.py [--cases 1000000] [--backend sqlite|postgresql|both]
                                             [--keep DIR] [--runs 3]

Goal (issue 14 §4): < 1 s on PostgreSQL, < 2 s on SQLite for the closure report over
2024-01-01..2024-06-30 (every type, no breakdown). Figures, not pass/fail: exit code 0.

The data are written with SQLAlchemy Core bulk inserts (``insert(table)`` with a list of
rows), not through the services: cases opened uniformly over 2021..2024 (40 % reconsideration,
40 % legal aid, 20 % complaints), each with a lifecycle of 4-6 events in the shape of its type
(opened, admitted a few days later, internal acts, closed 20-160 days after admission, or
still open at the end of 2024) and a cycle for each clock the bureau owes (met, missed or
still running). Hashes are fillers: the report never reads them. Departments (10) and
handlers (200) are spread over the cases.

PostgreSQL: the server of the tests (``CASEFLOW_TEST_PG_URL`` or 127.0.0.1:5432, db ``test``),
in a schema of its own, dropped afterwards unless ``--keep-pg``. SQLite: a file under ``--keep``
(kept) or a temporary folder. Each report runs ``--runs`` times; the best and the median are
printed, with the figures of the first (so two backends can be compared).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

START, END = date(2024, 1, 1), date(2024, 6, 30)
FIRST, LAST = date(2021, 1, 1), date(2024, 12, 31)
BATCH = 20_000
PG_URL = os.environ.get("CASEFLOW_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# type -> (prefix, lifecycle: (trigger, from, to, days after the previous event) …, the
# bureau's clocks (name, days it runs from admission, or from opening for the first))
LIFECYCLES: dict[str, tuple[str, list[tuple[str, str | None, str]], list[tuple[str, int]]]] = {
    "reconsideration": ("RC", [
        ("open", None, "received"), ("accept", "received", "under_review"),
        ("send_copy", "under_review", "under_review"),
        ("receive_reply", "under_review", "under_review")],
        [("acceptance_review", 7), ("copy_to_respondent", 9), ("decision", 60)]),
    "legal_aid": ("LA", [
        ("open", None, "applied"), ("approve", "applied", "approved"),
        ("assign", "approved", "assigned"), ("engage", "assigned", "in_service")],
        [("review", 7), ("assignment", 3), ("closing_report", 90)]),
    "complaint": ("CO", [
        ("open", None, "received"), ("accept", "received", "investigating"),
        ("decide", "investigating", "decided")],
        [("acceptance", 14), ("handling", 60)]),
}
CLOSINGS = {
    "reconsideration": [("decide", "decided"), ("withdraw", "withdrawn"),
                        ("terminate", "terminated")],
    "legal_aid": [("terminate", "terminated"), ("withdraw", "withdrawn")],
    "complaint": [("reply", "closed"), ("withdraw", "withdrawn")],
}
TYPES = ["reconsideration"] * 2 + ["legal_aid"] * 2 + ["complaint"]


def generate(count: int, seed: int = 14) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]],
                                                           list[dict[str, Any]]]]:
    """(case, events, cycles) rows for cases 1..count, with ids fixed here."""
    r = random.Random(seed)
    span = (LAST - FIRST).days
    stamp = datetime(2025, 1, 1, tzinfo=UTC)
    filler = "0" * 64
    for case_id in range(1, count + 1):
        type_name = TYPES[case_id % len(TYPES)]
        prefix, steps, clocks = LIFECYCLES[type_name]
        opened = FIRST + timedelta(days=r.randrange(span))
        admitted = opened + timedelta(days=0 if type_name == "complaint" else r.randint(1, 6))
        days = [opened, admitted]
        for _ in steps[2:]:
            days.append(days[-1] + timedelta(days=r.randint(1, 10)))
        closing_day = admitted + timedelta(days=r.randint(20, 160))
        closing = r.choice(CLOSINGS[type_name]) if closing_day <= LAST else None
        trail = [(t, f, to, d) for (t, f, to), d in zip(steps, days, strict=True) if d <= LAST]
        if closing is not None:
            if trail[-1][3] > closing_day:  # closed before its internal acts: cut them
                trail = [s for s in trail if s[3] <= closing_day]
            trail.append((closing[0], trail[-1][2], closing[1], closing_day))
        events = [{
            "case_id": case_id, "seq": seq, "trigger": trigger, "from_state": source,
            "to_state": dest, "on": day, "recorded_at": stamp, "actor": "clerk",
            "by": "bench", "reason": None, "attrs": {}, "clocks": [], "hash": filler,
        } for seq, (trigger, source, dest, day) in enumerate(trail, start=1)]
        last = trail[-1]
        admitted_on = admitted if len(trail) > 1 and trail[1][3] == admitted else None
        if type_name == "complaint":
            admitted_on = opened
        cycles = []
        for number, (clock, length) in enumerate(clocks):
            started = opened if number == 0 else admitted
            if started > last[3] and number > 0 and admitted_on is None:
                continue
            due = started + timedelta(days=length)
            stopped: date | None = closing_day if closing else None
            if number < len(clocks) - 1 and len(trail) > number + 1:
                stopped = trail[number + 1][3]  # the next act stops the earlier clocks
            status = ("running" if stopped is None else "missed" if stopped > due else "met")
            cycles.append({
                "case_id": case_id, "clock": clock, "cycle": 1, "status": status,
                "unit": "calendar", "days": length, "started_on": started,
                "resumed_on": started, "used": 0, "raw_end": due, "due_on": due,
                "paused_since": None, "paused_days": 0, "extended_days": 0, "extensions": 0,
                "stopped_on": stopped,
            })
        closed = closing is not None
        case = {
            "id": case_id, "ref": f"{prefix}-{case_id:08d}", "type": type_name,
            "state": last[2], "attrs": {}, "version": len(trail), "opened_on": opened,
            "admitted_on": admitted_on, "closed_on": closing_day if closed else None,
            "last_on": last[3], "clerk": None, "department": f"科室{case_id % 10}",
            "handler": f"承办人{case_id % 200}", "last_seq": len(trail), "last_hash": filler,
            "created_at": stamp, "updated_at": stamp, "import_key": None,
        }
        yield case, events, cycles


def load(engine: Any, count: int) -> dict[str, int]:
    import sqlalchemy as sa

    from models.tables import cases, clock_cycles, events

    totals = {"cases": 0, "events": 0, "cycles": 0}
    batch: dict[str, list[dict[str, Any]]] = {"cases": [], "events": [], "cycles": []}
    tables = {"cases": cases, "events": events, "cycles": clock_cycles}

    def flush(connection: sa.Connection) -> None:
        for name in ("cases", "events", "cycles"):  # cases first: the foreign keys
            if batch[name]:
                connection.execute(sa.insert(tables[name]), batch[name])
                totals[name] += len(batch[name])
                batch[name] = []

    with engine.begin() as connection:
        for case, evs, cycles in generate(count):
            batch["cases"].append(case)
            batch["events"] += evs
            batch["cycles"] += cycles
            if len(batch["cases"]) >= BATCH:
                flush(connection)
        flush(connection)
    if engine.dialect.name == "sqlite":
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    return totals


def time_report(engine: Any, runs: int) -> tuple[list[float], list[float], dict[str, Any]]:
    from flows.context import Bureau
    from flows.reports import closure_report
    from states.calendar import default_calendar
    from states.casetypes import CASE_TYPES

    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    seconds, cpu = [], []
    first: dict[str, Any] = {}
    for _ in range(runs):
        began, began_cpu = time.perf_counter(), time.process_time()
        doc = closure_report(bureau, START, END).to_json()
        seconds.append(time.perf_counter() - began)
        cpu.append(time.process_time() - began_cpu)
        first = first or doc
    return seconds, cpu, first


def show(backend: str, totals: dict[str, int], load_s: float, seconds: list[float],
         cpu: list[float], doc: dict[str, Any]) -> None:
    print(f"== {backend}: {totals['cases']:,} cases, {totals['events']:,} events, "
          f"{totals['cycles']:,} clock cycles (loaded in {load_s:.0f} s)")
    print(f"   closure report {START}..{END}: best {min(seconds):.3f} s, "
          f"median {statistics.median(seconds):.3f} s over {len(seconds)} run(s); this "
          f"process's CPU: best {min(cpu):.3f} s (the database server's is not in it)")
    print(f"   load average while it ran: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for row in doc["rows"]:
        print(f"   {row['type']:<16} handled {row['handled']:>7,} closed {row['closed']:>7,} "
              f"rate {row['closure_rate']} on time {row['on_time_rate']} "
              f"overdue open {row['overdue_open']:,}")


def run_sqlite(count: int, keep: Path | None, runs: int) -> None:
    from models.engine import create_engine
    from models.schema import upgrade

    folder = keep or Path(tempfile.mkdtemp(prefix="caseflow-bench-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"report-{count}.db"
    engine = create_engine(f"sqlite:///{path}")
    began = time.perf_counter()
    if path.exists() and path.stat().st_size > 0 and keep is not None:
        import sqlalchemy as sa

        with engine.connect() as connection:
            totals = {name: int(connection.execute(sa.text(f"SELECT count(*) FROM {t}"))
                                .scalar_one())
                      for name, t in (("cases", "cases"), ("events", "events"),
                                      ("cycles", "clock_cycles"))}
    else:
        upgrade(engine)
        totals = load(engine, count)
    load_s = time.perf_counter() - began
    seconds, cpu, doc = time_report(engine, runs)
    engine.dispose()
    show("sqlite", totals, load_s, seconds, cpu, doc)


def run_postgresql(count: int, runs: int, keep: bool, reuse: str | None) -> None:
    import sqlalchemy as sa

    from models.engine import create_engine
    from models.schema import upgrade

    schema = reuse or f"cf_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL)
    if reuse is None:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?options={quote(f'-csearch_path={schema}')}"
    engine = create_engine(url)
    try:
        began = time.perf_counter()
        upgrade(engine)
        if reuse is None:
            totals = load(engine, count)
        else:
            with engine.connect() as connection:
                totals = {name: int(connection.execute(sa.text(f"SELECT count(*) FROM {t}"))
                                    .scalar_one())
                          for name, t in (("cases", "cases"), ("events", "events"),
                                          ("cycles", "clock_cycles"))}
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # the steady state of a table autovacuum has seen: visibility map set, statistics
            connection.exec_driver_sql("VACUUM ANALYZE")
        load_s = time.perf_counter() - began
        seconds, cpu, doc = time_report(engine, runs)
        show("postgresql", totals, load_s, seconds, cpu, doc)
    finally:
        engine.dispose()
        if not keep and reuse is None:
            with admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        else:
            print(f"   kept schema {schema}")
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the SQLite file here")
    parser.add_argument("--keep-pg", action="store_true", help="keep the PostgreSQL schema")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg-schema", help="reuse this PostgreSQL schema (kept by --keep-pg)")
    args = parser.parse_args(argv)
    if args.backend in ("sqlite", "both"):
        run_sqlite(args.cases, args.keep, args.runs)
    if args.backend in ("postgresql", "both"):
        run_postgresql(args.cases, args.runs, args.keep_pg, args.pg_schema)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
