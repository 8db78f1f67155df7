"""How the deadline sweep scales with the number of open cases: it should not.

    .venv/bin/python bench/sweep.py [--cases 1000000] [--due-share 0.01] [--suspended 0.5]
                                    [--status-index] [--profile] [--no-double] [--keep DIR]

Builds a SQLite database of N open cases with about 2.5 live (running or paused) clock cycles
each, of which 1 % have a clock that is due soon, overdue or lapsing at the sweep's ``now``;
runs `flows.sweep.sweep` once and prints its seconds and peak RSS; then doubles the open cases
that are not due (the due ones stay the same) on a copy of the database taken before the
first sweep, and sweeps that: the time should follow the due cycles, not the open cases.
Goal at 1,000,000 cases: < 3 s and < 300 MB peak RSS. Figures, not pass/fail: exit code 0.

How the database is built (fast):
- the due cases (N/100) are real: opened and advanced through the domain (`states.machine`)
  and stored by `models.bulk` with their events and hash chains, so the sweep fires their
  deemed acceptances/withdrawals and records their rungs like any other case's;
- the other cases are reconsiderations written by ``executemany`` of raw tuples straight into
  ``cases`` and ``clock_cycles`` (no events): under review (decision and reply clocks running)
  or, ``--suspended`` of them, suspended (decision paused; reply and 中止满六十日 running):
  2 + that share live cycles per case. Each cycle row is what the domain computes for its
  clock (`states.clocks.start`/`pause`); running ones are due after the sweep's gathering
  horizon; a paused decision keeps its original due date, which for a suspension of some
  weeks is often already past: such cycles are in the live-cycle index and in the range the
  sweep's query scans, so ``--suspended`` is the knob that shows what they cost.
  The secondary indexes are dropped while writing and built again afterwards.
  ``--status-index`` adds an index on live cycles by (status, due_on), which the schema does
  not have, to show what the paused cycles in the scanned range would cost with it.

Every step runs in a child process of this script (the parent imports nothing of caseflow),
so the sweep's peak RSS (``ru_maxrss``, which Linux carries over from the parent through
fork and exec) is the sweep's own, interpreter and imports included ("baseline": before the
sweep starts). The seconds are split into gathering (the indexed query), evaluating (pure),
recording rungs (one transaction per cycle) and applying lapses (one `services.advance` per
case); ``--profile`` adds the top of a cProfile of the sweep.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from models.bulk import Replayed
    from states.calendar import WorkCalendar
    from states.clocks import Cycle

NOW = datetime(2024, 11, 20, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Wednesday
TODAY = NOW.date()
RECORDED_AT = datetime(2024, 11, 20, 0, 30, tzinfo=UTC)
GOAL_SECONDS = 3.0
GOAL_RSS_MB = 300.0
CHUNK = 50_000  # filler cases per executemany
SECONDARY_INDEXES = ("ix_cases_type_admitted", "ix_cases_type_closed", "ix_cases_type_state",
                     "ix_cycles_live_due", "ix_bench_cycles_status_due")
# --status-index: what if the live-cycle index led with the status (not in the schema)
STATUS_INDEX = ("CREATE INDEX IF NOT EXISTS ix_bench_cycles_status_due ON clock_cycles "
                "(status, due_on) WHERE status IN ('running', 'paused')")


# -- the due cases: real histories through the domain -----------------------------------------

Walk = tuple[str, date, list[tuple[str, date, dict[str, object]]]]  # type, opened, steps


def _due_walks(calendar: WorkCalendar, r: random.Random) -> Iterator[Walk]:
    """Histories of cases due at ``NOW``, forever, in a fixed mix of lapses and rungs."""
    wd = calendar.add_working_days
    while True:
        k = r.randint(1, 3)
        # 视为受理: acceptance_review (5 working days) ran out 1..3 working days ago; the
        # clocks it starts (copy, decision) date from then and may be due as well
        yield "reconsideration", wd(TODAY, -(5 + k)), []
        # 视为撤回: materials (15 calendar days) ran out 1..3 days ago
        asked = TODAY - timedelta(days=15 + k)
        yield "legal_aid", asked - timedelta(days=1), [("request_materials", asked, {})]
        # 预警: a complaint's handling (60 calendar days) due within the week
        for _ in range(2):
            accepted = TODAY - timedelta(days=60 - r.randint(1, 6))
            yield "complaint", accepted - timedelta(days=2), [("accept", accepted, {})]
        # 预警 of the 7-working-day copy clock, due on the next working day
        accepted = wd(TODAY, -6)
        yield "reconsideration", accepted - timedelta(days=1), [("accept", accepted, {})]
        # 逾期: the decision period (60 calendar days) ran out a few days ago
        for _ in range(2):
            accepted = TODAY - timedelta(days=60 + k)
            yield "reconsideration", accepted - timedelta(days=3), [
                ("accept", accepted, {}),
                ("send_copy", accepted + timedelta(days=1), {}),
                ("receive_reply", accepted + timedelta(days=2), {}),
            ]
        # 严重逾期: legal aid approved but not assigned for 2..3 weeks (assignment: 3 days)
        for _ in range(2):
            approved = TODAY - timedelta(days=r.randint(14, 21))
            yield "legal_aid", approved - timedelta(days=1), [("approve", approved, {})]


def due_cases(count: int, calendar: WorkCalendar, seed: int) -> list[Replayed]:
    from models.bulk import Replayed
    from states.casetypes import CASE_TYPES
    from states.machine import fire, open_case

    walks = _due_walks(calendar, random.Random(seed))
    items = []
    for i in range(count):
        type_name, opened, steps = next(walks)
        case_type = CASE_TYPES[type_name]
        first = open_case(case_type, opened, by="clerk-01", calendar=calendar)
        case, events = first.case, [first.event]
        for trigger, on, attrs in steps:
            fired = fire(case_type, case, trigger, on, attrs=attrs, by="clerk-01",
                         calendar=calendar)
            case = fired.case
            events.append(fired.event)
        items.append(Replayed(f"{case_type.ref_prefix}-DUE-{i:07d}", case, tuple(events)))
    return items


def insert_due(path: Path, items: list[Replayed]) -> None:
    from models import bulk
    from models.engine import create_engine

    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            for first in range(0, len(items), 2_000):
                bulk.insert_replayed(connection, items[first:first + 2_000],
                                     recorded_at=RECORDED_AT)
    finally:
        engine.dispose()


# -- the other open cases: raw tuples ---------------------------------------------------------


class Filler:
    """Rows of reconsiderations open and not due at ``NOW``, as raw driver tuples."""

    def __init__(self, suspended: float, seed: int) -> None:
        from states.calendar import default_calendar
        from states.casetypes import CASE_TYPES
        from states.escalation import gather_horizon

        self.calendar = default_calendar()
        self.specs = CASE_TYPES["reconsideration"].clock_map
        self.horizon = gather_horizon(CASE_TYPES, NOW, self.calendar)
        self.suspended = suspended
        self.r = random.Random(seed)
        self.stamp = RECORDED_AT.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        self.attrs = json.dumps({"procedure": "ordinary"})
        self.started: dict[tuple[str, date], Cycle] = {}
        self.paused: dict[tuple[date, date], Cycle] = {}
        # how many days back a running clock may have started and still be due after the
        # horizon (not gathered)
        self.back = {name: self._back(name)
                     for name in ("decision", "respondent_reply", "suspension_limit")}

    def _back(self, clock: str) -> int:
        back = 0
        while self.start(clock, TODAY - timedelta(days=back + 1)).due_on > self.horizon:
            back += 1
        return back

    def start(self, clock: str, day: date) -> Cycle:
        from states.clocks import start

        key = (clock, day)
        if key not in self.started:
            self.started[key] = start(self.specs[clock], 1, day, {"procedure": "ordinary"},
                                      self.calendar)
        return self.started[key]

    def pause(self, started_on: date, paused_since: date) -> Cycle:
        from states.clocks import pause

        key = (started_on, paused_since)
        if key not in self.paused:
            self.paused[key] = pause(self.start("decision", started_on), paused_since,
                                     self.calendar)
        return self.paused[key]

    def running(self, clock: str) -> Cycle:
        return self.start(clock, TODAY - timedelta(days=self.r.randint(0, self.back[clock])))

    def rows(self, first_id: int, count: int) -> tuple[list[tuple[Any, ...]],
                                                       list[tuple[Any, ...]]]:
        cases, cycles = [], []
        r = self.r
        for case_id in range(first_id, first_id + count):
            if r.random() < self.suspended:
                # suspended (ground 1) up to ~7 weeks ago, 0..59 days into the decision period
                suspended_on = TODAY - timedelta(days=r.randint(0, self.back["suspension_limit"]))
                accepted = suspended_on - timedelta(days=r.randint(0, 59))
                live = [self.pause(accepted, suspended_on), self.running("respondent_reply"),
                        self.start("suspension_limit", suspended_on)]
                state, version = "suspended", 5
            else:
                live = [self.running("decision"), self.running("respondent_reply")]
                accepted = live[0].started_on
                state, version = "under_review", 4
            last_on = max(c.paused_since or c.started_on for c in live)
            cases.append((case_id, f"RC-F-{case_id:08d}", "reconsideration", state, self.attrs,
                          version, (accepted - timedelta(days=3)).isoformat(),
                          accepted.isoformat(), None, last_on.isoformat(), "clerk-01", None,
                          version, "0" * 64, self.stamp, self.stamp))
            cycles.extend(
                (case_id, c.clock, c.cycle, c.status.value, c.unit.value, c.days,
                 c.started_on.isoformat(), c.resumed_on.isoformat(), c.used,
                 c.raw_end.isoformat(), c.due_on.isoformat(),
                 c.paused_since.isoformat() if c.paused_since else None,
                 c.paused_days, c.extended_days, c.extensions, None)
                for c in live
            )
        return cases, cycles


def add_filler(path: Path, count: int, suspended: float, seed: int) -> dict[str, Any]:
    """Write ``count`` open, not-due cases in one transaction, secondary indexes rebuilt."""
    began = time.perf_counter()
    filler = Filler(suspended, seed)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-400000")
        marks = ",".join("?" * len(SECONDARY_INDEXES))
        saved = [row[0] for row in db.execute(
            f"SELECT sql FROM sqlite_master WHERE type = 'index' AND name IN ({marks})",
            SECONDARY_INDEXES)]
        db.execute("BEGIN")
        for name in SECONDARY_INDEXES:
            db.execute(f"DROP INDEX IF EXISTS {name}")
        first = (db.execute("SELECT max(id) FROM cases").fetchone()[0] or 0) + 1
        cycles = 0
        for offset in range(0, count, CHUNK):
            case_rows, cycle_rows = filler.rows(first + offset, min(CHUNK, count - offset))
            db.executemany(
                "INSERT INTO cases (id, ref, type, state, attrs, version, opened_on, "
                "admitted_on, closed_on, last_on, clerk, department, last_seq, last_hash, "
                f"created_at, updated_at) VALUES ({','.join('?' * 16)})", case_rows)
            db.executemany(
                "INSERT INTO clock_cycles (case_id, clock, cycle, status, unit, days, "
                "started_on, resumed_on, used, raw_end, due_on, paused_since, paused_days, "
                f"extended_days, extensions, stopped_on) VALUES ({','.join('?' * 16)})",
                cycle_rows)
            cycles += len(cycle_rows)
        for sql in saved:
            db.execute(sql)
        db.execute("COMMIT")  # no ANALYZE: a bureau's database has no statistics either
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return {"seconds": time.perf_counter() - began, "cycles": cycles}


def build(path: Path, cases: int, due: int, suspended: float, seed: int,
          status_index: bool) -> dict[str, Any]:
    from models.engine import create_engine
    from models.schema import upgrade
    from states.calendar import default_calendar

    began = time.perf_counter()
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    insert_due(path, due_cases(due, default_calendar(), seed))
    if status_index:
        db = sqlite3.connect(path)
        db.execute(STATUS_INDEX)
        db.close()
    add_filler(path, cases - due, suspended, seed + 1)
    return {"seconds": time.perf_counter() - began}


def census(path: Path) -> dict[str, Any]:
    """What the database holds, and what of the live-cycle index the sweep's range covers."""
    from states.calendar import default_calendar
    from states.casetypes import CASE_TYPES
    from states.escalation import gather_horizon

    horizon = gather_horizon(CASE_TYPES, NOW, default_calendar()).isoformat()
    db = sqlite3.connect(path)

    def one(sql: str, *args: Any) -> int:
        return int(db.execute(sql, args).fetchone()[0])

    try:
        return {
            "cases": one("SELECT count(*) FROM cases"),
            "live_cycles": one("SELECT count(*) FROM clock_cycles "
                               "WHERE status IN ('running', 'paused')"),
            "in_range_running": one("SELECT count(*) FROM clock_cycles WHERE status = 'running' "
                                    "AND due_on <= ?", horizon),
            "in_range_paused": one("SELECT count(*) FROM clock_cycles WHERE status = 'paused' "
                                   "AND due_on <= ?", horizon),
            "bytes": path.stat().st_size,
        }
    finally:
        db.close()


# -- the sweep --------------------------------------------------------------------------------


def _vm_hwm_mb() -> float:
    """This process's own peak resident set (Linux), which exec does not inherit."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def sweep_once(path: Path, profile: bool) -> dict[str, Any]:
    """Run one sweep on ``path``; its figures (in a child process)."""
    import cProfile
    import io
    import pstats
    import resource
    from collections import Counter
    from collections.abc import Callable

    from flows import sweep as sweep_module
    from flows.context import Bureau
    from models.engine import create_engine
    from states.calendar import default_calendar
    from states.casetypes import CASE_TYPES

    spent: Counter[str] = Counter()

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0
        return wrapper

    # the phases as the flow passes them (`flows.sweep.Phases`), gather timed; inside decide and
    # apply, the module's own helpers
    for name in ("evaluate", "_record_rungs", "_apply_lapses"):
        setattr(sweep_module, name, timed(name, getattr(sweep_module, name)))
    phases = sweep_module.Phases(timed("gather", sweep_module.gather), sweep_module.decide,
                                 sweep_module.apply)
    engine = create_engine(f"sqlite:///{path}")
    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    profiler = cProfile.Profile() if profile else None
    cpu0, t0 = time.process_time(), time.perf_counter()
    if profiler is not None:
        profiler.enable()
    report = sweep_module.sweep(bureau, NOW, phases=phases)
    if profiler is not None:
        profiler.disable()
    seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    engine.dispose()
    top = ""
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(15)
        top = out.getvalue()
    return {
        "seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": peak, "baseline_rss_mb": baseline,
        "vm_hwm_mb": _vm_hwm_mb(),
        "lapsed": len(report.lapsed), "escalations": len(report.escalations),
        "alerts_queued": report.alerts_queued, "failures": len(report.failures),
        "gather": spent["gather"], "evaluate": spent["evaluate"],
        "record_rungs": spent["_record_rungs"], "apply_lapses": spent["_apply_lapses"],
        "profile": top,
    }


# -- the parent -------------------------------------------------------------------------------


def child(*args: str) -> dict[str, Any]:
    """Run this script with ``args`` in a fresh process; its JSON answer."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"step {args[0]} failed:\n{done.stderr}")
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def show(label: str, facts: dict[str, Any], result: dict[str, Any]) -> None:
    ok = result["seconds"] < GOAL_SECONDS and result["peak_rss_mb"] < GOAL_RSS_MB
    print(f"\n{label}: {facts['cases']:,} cases, {facts['live_cycles']:,} live cycles, "
          f"{facts['bytes'] / 1e6:,.0f} MB file")
    print(f"  due by the gathering horizon: {facts['in_range_running']:,} running + "
          f"{facts['in_range_paused']:,} paused cycles (ix_cycles_live_due holds both)")
    print(f"  sweep: {result['seconds']:.2f} s ({result['cpu_seconds']:.2f} s CPU), "
          f"peak RSS {result['peak_rss_mb']:.0f} MB (baseline {result['baseline_rss_mb']:.0f} "
          f"MB, VmHWM {result['vm_hwm_mb']:.0f} MB) -> "
          f"{'within' if ok else 'MISSES'} the goal ({GOAL_SECONDS:.0f} s, "
          f"{GOAL_RSS_MB:.0f} MB)")
    print(f"  {result['lapsed']:,} lapses, {result['escalations']:,} rungs, "
          f"{result['alerts_queued']:,} alerts queued, {result['failures']} failures")
    print(f"  time: gather {result['gather']:.2f} s, evaluate {result['evaluate']:.2f} s, "
          f"record rungs {result['record_rungs']:.2f} s, apply lapses "
          f"{result['apply_lapses']:.2f} s", flush=True)
    if result["profile"]:
        print(result["profile"], flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--due-share", type=float, default=0.01)
    parser.add_argument("--suspended", type=float, default=0.5,
                        help="share of the other cases suspended (their decision clock paused)")
    parser.add_argument("--seed", type=int, default=20241120)
    parser.add_argument("--status-index", action="store_true",
                        help="what if: add an index on clock_cycles (status, due_on) for live "
                             "cycles, which the schema does not have")
    parser.add_argument("--profile", action="store_true", help="cProfile the sweeps")
    parser.add_argument("--no-double", action="store_true", help="skip the doubled database")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep the files")
    parser.add_argument("--step", choices=["build", "add", "census", "sweep"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    due = max(1, round(args.cases * args.due_share))

    if args.step is not None:  # a child process
        answer = {
            "build": lambda: build(args.db, args.cases, due, args.suspended, args.seed,
                                   args.status_index),
            "add": lambda: add_filler(args.db, args.cases - due, args.suspended, args.seed + 2),
            "census": lambda: census(args.db),
            "sweep": lambda: sweep_once(args.db, args.profile),
        }[args.step]()
        print(json.dumps(answer))
        return 0

    folder = args.keep or Path(tempfile.mkdtemp(prefix="caseflow-sweep-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    common = ["--cases", str(args.cases), "--due-share", str(args.due_share),
              "--suspended", str(args.suspended), "--seed", str(args.seed)]
    try:
        first, second = folder / "sweep-n.db", folder / "sweep-2n.db"
        for stale in folder.glob("sweep-*.db*"):
            stale.unlink()
        print(f"building {args.cases:,} open cases ({due:,} due at {NOW.isoformat()}) "
              f"in {folder} ...", flush=True)
        extra = ["--status-index"] if args.status_index else []
        built = child("--step", "build", "--db", str(first), *common, *extra)
        print(f"built in {built['seconds']:.1f} s", flush=True)
        if not args.no_double:
            shutil.copyfile(first, second)  # before the sweep changes anything
        profile = ["--profile"] if args.profile else []
        show(f"N = {args.cases:,}", child("--step", "census", "--db", str(first), *common),
             child("--step", "sweep", "--db", str(first), *common, *profile))
        if not args.no_double:
            added = child("--step", "add", "--db", str(second), *common)
            print(f"\ndoubled the open cases in {added['seconds']:.1f} s", flush=True)
            show(f"2N = {2 * args.cases - due:,} (the same {due:,} due)",
                 child("--step", "census", "--db", str(second), *common),
                 child("--step", "sweep", "--db", str(second), *common, *profile))
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
