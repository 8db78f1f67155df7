"""Persisted transitions per second: each one a full service call (one unit of work, one
transaction: load, fire, write case + event + cycles, commit).

    python bench/persist_transitions.py                      # SQLite, one process
    python bench/persist_transitions.py --pg --writers 4     # PostgreSQL, 4 writer processes
    python bench/persist_transitions.py --pg --writers 4 --core   # and SQLAlchemy Core alone

Each transition is what a clerk's `caseflow case advance` does at a bureau with its user
directory (the clerk handles the cases; `--open-mode`: a fresh install with no users, where
each write first asks whether the directory is still empty): a unit of work (a pooled
connection and its transaction), the case and its cycles read in one statement, the role rule
and the trigger judged, the case row (under its version guard), event and changed cycles
written, commit.

Floors (issue 13): on SQLite in one process >= 2,500/s, p99 < 5 ms, and >= 25 % of the
plain-sqlite3 run of the same statements in the same run; on PostgreSQL with 4 concurrent
writers >= 1,500/s. Prints its figures; asserts nothing.

Between the two, `core_reference` runs the same statements as caseflow builds them, through its
unit of work on a SQLAlchemy connection, with the same fixed values and no domain: the cost of
the store speaking SQLAlchemy, which bounds caseflow's own figure from above.

The plain-sqlite3 yardstick (`plain_sqlite3_reference`) runs the same schema and the same
statements per transition, written by hand on the sqlite3 module with no domain, no hashing
and no value conversion. The machine's speed varies between sessions, so the ratio of the two
figures is the number to compare across runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import sqlite3
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import quote

from flows import services
from flows.context import Bureau
from flows.users import add_user, identity
from models import repository
from models.engine import create_engine
from models.schema import upgrade
from models.uow import UnitOfWork
from states.calendar import default_calendar
from states.casetypes import CASE_TYPES
from states.roles import Role

NOW = datetime(2025, 6, 1, tzinfo=UTC)
DEPARTMENT = "复议科"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
# A reconsideration's life after opening: 8 persisted transitions, clocks in every one.
WALK: list[tuple[str, date, dict[str, str]]] = [
    ("accept", date(2024, 10, 8), {}),
    ("send_copy", date(2024, 10, 9), {}),
    ("receive_reply", date(2024, 10, 15), {}),
    ("suspend", date(2024, 10, 20), {"ground": "1"}),
    ("resume", date(2024, 11, 5), {}),
    ("extend", date(2024, 11, 6), {"days": "20"}),
    ("schedule_hearing", date(2024, 11, 7), {"hearing_on": "2024-11-20"}),
    ("decide", date(2024, 12, 2), {"decision": "maintain"}),
]
SUPERVISORS = {"extend"}  # the walk's supervisor's trigger (延长审理期限)
# The plain-sqlite3 yardstick runs the statements caseflow runs for each step of the walk: the
# case with its cycles in one read, the guarded case update, the event, and one upsert of the
# cycles the step started or changed (how many, by step).
CYCLES_WRITTEN = [3, 2, 1, 2, 2, 1, 0, 1]
CYCLE_COLUMNS = ("case_id", "clock", "cycle", "status", "unit", "days", "started_on",
                 "resumed_on", "used", "raw_end", "due_on", "paused_since", "paused_days",
                 "extended_days", "extensions", "stopped_on")
PLAIN_LOAD = (
    "SELECT cases.id, cases.ref, cases.type, cases.state, cases.attrs, cases.version, "
    "cases.opened_on, cases.admitted_on, cases.closed_on, cases.last_on, cases.last_seq, "
    "cases.last_hash, cases.broken, "
    + ", ".join(f"clock_cycles.{c}" for c in CYCLE_COLUMNS[1:])
    + " FROM cases LEFT OUTER JOIN clock_cycles ON clock_cycles.case_id = cases.id "
    "WHERE cases.ref = ? ORDER BY clock_cycles.id"
)
PLAIN_CYCLES = (
    f"INSERT INTO clock_cycles ({', '.join(CYCLE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(CYCLE_COLUMNS))}) "
    "ON CONFLICT (case_id, clock, cycle) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in CYCLE_COLUMNS[3:])
)


def _run(url: str, cases: int, worker: int, open_mode: bool = False
         ) -> tuple[list[float], float]:
    engine = create_engine(url)
    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    who = chief = None
    if not open_mode:
        # a bureau at work has its user directory: the clerk who opens the cases handles them,
        # their department's chief (科室负责人) extends the decision period
        for name, role in ((f"clerk-{worker}", Role.CLERK), (f"chief-{worker}", Role.SUPERVISOR)):
            add_user(bureau, name, role, department=DEPARTMENT, password=None, now=NOW)
        who, chief = identity(bureau, f"clerk-{worker}"), identity(bureau, f"chief-{worker}")
    refs = [
        services.open_case(bureau, "reconsideration", on=date(2024, 9, 27),
                           ref=f"B{worker}-{i}", by=who.name if who else "bench", now=NOW,
                           who=who).case.ref
        for i in range(cases)
    ]
    latencies: list[float] = []
    cpu = time.process_time()
    for trigger, on, attrs in WALK:
        actor = chief if trigger in SUPERVISORS else who
        for ref in refs:
            start = time.perf_counter()
            services.advance(bureau, ref, trigger, on=on, attrs=attrs,
                             by=actor.name if actor else "bench", now=NOW, who=actor)
            latencies.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu
    print(f"writer {worker}: {len(latencies):,} transitions in {cpu:.2f} s of CPU = "
          f"{len(latencies) / cpu:,.0f}/s per CPU second (other load on the machine excluded)")
    engine.dispose()
    return latencies, cpu


def core_reference(url: str, cases: int, worker: int = 0) -> tuple[list[float], float]:
    """The same walk's statements through SQLAlchemy Core as caseflow issues them (its
    statements, its unit of work, its engine settings and value types), with fixed values and
    no domain: what "the store speaks SQLAlchemy" costs by itself, the bound on caseflow's own
    figure. Latencies and CPU seconds of the walk."""
    engine = create_engine(url)
    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    refs = [
        services.open_case(bureau, "reconsideration", on=date(2024, 9, 27),
                           ref=f"C{worker}-{i}", by="bench", now=NOW).case.ref
        for i in range(cases)
    ]
    upsert = repository._cycles_upsert(engine.dialect.name)
    clocks = [{"clock": "decision", "cycle": 1, "change": "paused", "due_on": "2024-12-09",
               "status": "paused"}] * 2
    latencies: list[float] = []
    cpu = time.process_time()
    for step, (trigger, on, attrs) in enumerate(WALK):
        for ref in refs:
            start = time.perf_counter()
            with UnitOfWork(engine) as uow:
                rows = uow.connection.execute(repository._CASE_WITH_CYCLES, {"ref": ref}).all()
                case_id, version, seq, previous = rows[0][0], rows[0][5], rows[0][10], rows[0][11]
                digest = hashlib.sha256((previous + trigger).encode()).hexdigest()
                guarded = uow.connection.execute(repository._UPDATE_CASE, {
                    "b_id": case_id, "b_version": version, "state": "under_review",
                    "attrs": {"procedure": "ordinary"}, "version": version + 1,
                    "admitted_on": date(2024, 10, 8), "closed_on": None, "last_on": on,
                    "last_seq": seq + 1, "last_hash": digest, "updated_at": NOW,
                    "department": None, "handler": None})
                assert guarded.rowcount == 1
                uow.connection.execute(repository._INSERT_EVENT, {
                    "case_id": case_id, "seq": seq + 1, "trigger": trigger,
                    "from_state": "under_review", "to_state": "under_review", "on": on,
                    "recorded_at": NOW, "actor": "clerk", "by": "bench", "reason": None,
                    "attrs": attrs, "clocks": clocks, "hash": digest})
                cycles = [{"case_id": case_id, "clock": f"clock{n}", "cycle": 1,
                           "status": "running", "unit": "working", "days": 5,
                           "started_on": date(2024, 9, 27), "resumed_on": date(2024, 9, 27),
                           "used": step, "raw_end": date(2024, 10, 10),
                           "due_on": date(2024, 10, 10), "paused_since": None,
                           "paused_days": 0, "extended_days": 0, "extensions": 0,
                           "stopped_on": None} for n in range(CYCLES_WRITTEN[step])]
                if cycles:
                    uow.connection.execute(upsert, cycles)
                uow.commit()
            latencies.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu
    engine.dispose()
    return latencies, cpu


def plain_sqlite3_reference(path: Path, cases: int) -> float:
    """Transitions per CPU second of the same walk's statements on the bare sqlite3 module."""
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    refs = [
        services.open_case(bureau, "reconsideration", on=date(2024, 9, 27),
                           ref=f"R-{i}", by="bench", now=NOW).case.ref
        for i in range(cases)
    ]
    engine.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    clocks = json.dumps([{"clock": "decision", "cycle": 1, "change": "paused",
                          "due_on": "2024-12-09", "status": "paused"}] * 2)
    stamp = "2025-06-01 00:00:00.000000"
    count = 0
    cpu = time.process_time()
    for step, (trigger, on, attrs) in enumerate(WALK):
        for ref in refs:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(PLAIN_LOAD, (ref,)).fetchall()
            case_id, version, seq, previous = rows[0][0], rows[0][5], rows[0][10], rows[0][11]
            digest = hashlib.sha256((previous + trigger).encode()).hexdigest()
            db.execute(
                "UPDATE cases SET state = ?, attrs = ?, version = ?, admitted_on = ?, "
                "closed_on = ?, last_on = ?, last_seq = ?, last_hash = ?, updated_at = ?, "
                "department = ?, handler = ? WHERE id = ? AND version = ?",
                ("under_review", '{"procedure":"ordinary"}', version + 1, "2024-10-08", None,
                 on.isoformat(), seq + 1, digest, stamp, None, None, case_id, version),
            )
            db.execute(
                'INSERT INTO events (case_id, seq, "trigger", from_state, to_state, "on", '
                'recorded_at, actor, "by", reason, attrs, clocks, hash) '
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, seq + 1, trigger, "under_review", "under_review", on.isoformat(),
                 stamp, "clerk", "bench", None, json.dumps(attrs), clocks, digest),
            )
            cycles = [(case_id, f"clock{n}", 1, "running", "working", 5, "2024-09-27",
                       "2024-09-27", step, "2024-10-10", "2024-10-10", None, 0, 0, 0, None)
                      for n in range(CYCLES_WRITTEN[step])]
            if len(cycles) == 1:
                db.execute(PLAIN_CYCLES, cycles[0])
            elif cycles:
                db.executemany(PLAIN_CYCLES, cycles)
            db.execute("COMMIT")
            count += 1
    cpu = time.process_time() - cpu
    db.close()
    return count / cpu


def compare_with_plain_sqlite3(cases: int, rounds: int, open_mode: bool) -> None:
    """Caseflow and the plain-sqlite3 yardstick in alternating rounds on fresh files, so both
    meet the same background load; the best round of each is the figure compared."""
    ours: list[float] = []
    core: list[float] = []
    plain: list[float] = []
    for _ in range(rounds):
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        upgrade(create_engine(url))
        latencies, cpu = _run(url, cases, 0, open_mode)
        ours.append(len(latencies) / cpu)
        url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'core.db'}"
        upgrade(create_engine(url))
        latencies, cpu = core_reference(url, cases)
        core.append(len(latencies) / cpu)
        plain.append(plain_sqlite3_reference(Path(tempfile.mkdtemp()) / "plain.db", cases))
    print("rounds, per CPU second: caseflow " + ", ".join(f"{r:,.0f}" for r in ours)
          + "; SQLAlchemy Core alone " + ", ".join(f"{r:,.0f}" for r in core)
          + "; plain sqlite3 " + ", ".join(f"{r:,.0f}" for r in plain))
    print(f"best of each: caseflow {max(ours):,.0f}/s, SQLAlchemy Core alone {max(core):,.0f}/s, "
          f"plain sqlite3 {max(plain):,.0f}/s; caseflow at {max(ours) / max(plain):.0%} of "
          f"plain sqlite3 (the floor is 25 %), the same statements through SQLAlchemy Core "
          f"with no domain at {max(core) / max(plain):.0%}")


def _worker(args: tuple[str, int, int, bool]) -> tuple[list[float], float]:
    return _run(*args)


def _core_worker(args: tuple[str, int, int]) -> tuple[list[float], float]:
    return core_reference(*args)


def report(label: str, latencies: list[float], wall: float) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[int(len(ordered) * 0.99) - 1] * 1000
    print(f"{label}: {len(ordered):,} transitions in {wall:.2f} s = "
          f"{len(ordered) / wall:,.0f}/s; latency p50 {p50:.2f} ms, p99 {p99:.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=1000, help="cases per writer")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--writers", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3,
                        help="SQLite: rounds of caseflow and plain sqlite3, alternating")
    parser.add_argument("--open-mode", action="store_true",
                        help="no user directory (a fresh install): every write first asks "
                             "whether the directory is still empty")
    parser.add_argument("--core", action="store_true",
                        help="PostgreSQL: then the same statements through SQLAlchemy Core "
                             "with no domain, the same writers (SQLite compares always)")
    args = parser.parse_args()

    schemas: list[str] = []
    admin = create_engine(PG_URL) if args.pg else None

    def fresh_database() -> str:
        """A new PostgreSQL schema (dropped at the end) or SQLite file, upgraded."""
        if admin is not None:
            schemas.append(f"cf_bench_{uuid.uuid4().hex[:8]}")
            with admin.begin() as connection:
                connection.exec_driver_sql(f'CREATE SCHEMA "{schemas[-1]}"')
            url = f"{PG_URL}?options={quote(f'-csearch_path={schemas[-1]}')}"
        else:
            url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
        upgrade(create_engine(url))
        return url

    url = fresh_database()
    try:
        start = time.perf_counter()
        if args.writers == 1:
            parts = [_run(url, args.cases, 0, args.open_mode)]
        else:
            with mp.get_context("spawn").Pool(args.writers) as pool:
                parts = pool.map(_worker, [(url, args.cases, w, args.open_mode)
                                            for w in range(args.writers)])
        latencies = [x for part, _cpu in parts for x in part]
        cpu = sum(c for _part, c in parts)
        # Opening the cases is inside the wall time too; count only the advances.
        wall = time.perf_counter() - start
        backend = "PostgreSQL" if args.pg else "SQLite"
        report(f"{backend}, {args.writers} writer(s), wall incl. opening",
               latencies, wall)
        report(f"{backend}, {args.writers} writer(s), advances only (sum of latencies/writers)",
               latencies, sum(latencies) / args.writers)
        print(f"client CPU per transition: {cpu / len(latencies) * 1e6:,.0f} µs")
        if not args.pg and args.rounds > 0:
            compare_with_plain_sqlite3(args.cases, args.rounds, args.open_mode)
        if args.pg and args.core:
            # the same statements through SQLAlchemy Core, no domain: the bound on the above
            url = fresh_database()
            with mp.get_context("spawn").Pool(args.writers) as pool:
                parts = pool.map(_core_worker, [(url, args.cases, w)
                                                for w in range(args.writers)])
            latencies = [x for part, _cpu in parts for x in part]
            cpu = sum(c for _part, c in parts)
            report(f"SQLAlchemy Core alone, {args.writers} writer(s), advances only",
                   latencies, sum(latencies) / args.writers)
            print(f"client CPU per transition: {cpu / len(latencies) * 1e6:,.0f} µs")
    finally:
        if admin is not None:
            with admin.begin() as connection:
                for schema in schemas:
                    connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
