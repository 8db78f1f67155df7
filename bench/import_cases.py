"""How fast `caseflow case import` brings cases in: synthetic 2024 lifecycles into a fresh SQLite.

    .venv/bin/python bench/import_cases.py [--cases 100000] [--workers N] [--verify] [--keep DIR]

Generates N cases (the three types mixed, realistic lifecycles of about five events each with
every date in 2024, deemed acceptances included) as a JSON Lines file in a temporary folder,
imports it into a fresh SQLite database through the importer service, and prints cases/s,
events/s and the seconds taken. Goal: 100,000 cases (≈ 500,000 events) in under 60 s.
Figures, not pass/fail: the exit code is 0 unless a generated record fails to import. On a
shared machine compare the CPU seconds too: they do not depend on what else is running.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from flows import importer, pool, services
from flows.context import Bureau
from models.engine import create_engine
from models.lawyers import NewLawyer
from models.schema import upgrade
from states.calendar import WorkCalendar, default_calendar
from states.casetypes import CASE_TYPES

GOAL_SECONDS = 60.0
LAWYERS = 80  # the pool the legal-aid records name
NOW = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
FIRST, LAST = date(2024, 1, 2), date(2024, 12, 31)

Step = tuple[str, dict[str, object], int]  # trigger, attrs, days after the previous event
Walk = Callable[[random.Random], list[Step]]


def _rc_decided(r: random.Random) -> list[Step]:
    return [("accept", {"procedure": r.choice(["ordinary", "ordinary", "simplified"])}, 4),
            ("send_copy", {}, r.randint(1, 6)), ("receive_reply", {}, r.randint(3, 12)),
            ("decide", {"decision": r.choice(["maintain", "revoke", "confirm_illegal"])},
             r.randint(10, 40))]


def _rc_deemed(r: random.Random) -> list[Step]:
    # 视为受理 on the last day of review: "deem" marks it; the generator supplies the date
    return [("deem_accepted", {}, -1), ("send_copy", {}, r.randint(1, 6)),
            ("receive_reply", {}, r.randint(3, 12)), ("withdraw", {}, r.randint(5, 30))]


def _rc_supplement(r: random.Random) -> list[Step]:
    return [("request_supplement", {}, r.randint(1, 4)), ("receive_supplement", {}, 5),
            ("accept", {}, r.randint(1, 4)), ("send_copy", {}, r.randint(1, 6)),
            ("suspend", {"ground": 1}, r.randint(5, 20)), ("resume", {}, r.randint(5, 30))]


def _rc_rejected(r: random.Random) -> list[Step]:
    return [("reject", {}, r.randint(1, 4))]


def _la_application(r: random.Random) -> list[Step]:
    return [("approve", {}, r.randint(1, 6)), ("assign", {"lawyer": str(r.randint(1, LAWYERS))}, 2),
            ("engage", {}, r.randint(1, 4)), ("conclude", {"outcome": "judgment"},
                                                r.randint(20, 90)),
            ("receive_closing_materials", {}, 8), ("close", {}, 2)]


def _la_materials(r: random.Random) -> list[Step]:
    return [("request_materials", {}, r.randint(1, 3)), ("receive_materials", {}, 6),
            ("approve", {}, r.randint(1, 3)), ("assign", {"lawyer": str(r.randint(1, LAWYERS))}, 1)]


def _la_denied(r: random.Random) -> list[Step]:
    return [("deny", {}, r.randint(1, 6))]


def _cp_handled(r: random.Random) -> list[Step]:
    return [("accept", {}, r.randint(2, 9)), ("decide", {"outcome": "no_violation"},
                                              r.randint(10, 50)), ("reply", {}, r.randint(1, 7))]


def _cp_transferred(r: random.Random) -> list[Step]:
    return [("request_supplement", {}, 3), ("receive_supplement", {}, 6),
            ("transfer", {"to": "律师协会"}, r.randint(1, 5))]


# (type, opening attributes, walk, weight)
KINDS: list[tuple[str, dict[str, object], Walk, int]] = [
    ("reconsideration", {"applicant": "申请人", "respondent": "区市场监管局"}, _rc_decided, 20),
    ("reconsideration", {"applicant": "申请人"}, _rc_deemed, 8),
    ("reconsideration", {"applicant": "申请人"}, _rc_supplement, 8),
    ("reconsideration", {"applicant": "申请人"}, _rc_rejected, 4),
    ("legal_aid", {"matter": "labor", "applicant": "受援人"}, _la_application, 25),
    ("legal_aid", {"matter": "civil"}, _la_materials, 10),
    ("legal_aid", {"matter": "family"}, _la_denied, 5),
    ("complaint", {"complainant": "投诉人", "subject_kind": "lawyer"}, _cp_handled, 15),
    ("complaint", {"complainant": "投诉人"}, _cp_transferred, 5),
]
REASONS = {"reject": "不属于行政复议范围", "deny": "经济状况不符合条件"}


def record(n: int, r: random.Random, calendar: WorkCalendar) -> dict[str, object]:
    type_name, attrs, walk, _ = r.choices(KINDS, weights=[k[3] for k in KINDS])[0]
    opened = FIRST + timedelta(days=r.randint(0, 300))
    events: list[dict[str, object]] = []
    day = opened
    for trigger, event_attrs, gap in walk(r):
        # 视为受理: on the last of the 5 working days of review (art. 30)
        day = calendar.add_working_days(opened, 5) if gap < 0 else day + timedelta(days=gap)
        if day > LAST:
            break  # still open at the end of the year
        event: dict[str, object] = {"trigger": trigger, "on": day.isoformat()}
        if event_attrs:
            event["attrs"] = event_attrs
        if trigger in REASONS:
            event["reason"] = REASONS[trigger]
        events.append(event)
    prefix = CASE_TYPES[type_name].ref_prefix
    return {"type": type_name, "ref": f"{prefix}-2024-H{n:06d}", "on": opened.isoformat(),
            "attrs": attrs, "by": f"clerk-{n % 12}", "events": events}


def generate(path: Path, cases: int, seed: int) -> int:
    """Write ``cases`` records to ``path``; returns the number of events (openings included)."""
    r = random.Random(seed)
    calendar = default_calendar()
    events = 0
    with path.open("w", encoding="utf-8") as out:
        for n in range(1, cases + 1):
            rec = record(n, r, calendar)
            events += 1 + len(rec["events"])  # type: ignore[arg-type]
            out.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return events


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="how many cases to import")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="write the file and database here, and keep them")
    parser.add_argument("--verify", action="store_true", help="verify every hash chain after")
    parser.add_argument("--workers", type=int, help="worker processes (default: as the CLI)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        source, db = folder / "cases.jsonl", folder / "import.db"
        for stale in folder.glob("import.db*"):
            stale.unlink()
        began = time.perf_counter()
        events = generate(source, args.cases, args.seed)
        print(f"generated {args.cases:,} cases, {events:,} events "
              f"({source.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - began:.1f} s")

        engine = create_engine(f"sqlite:///{db}")
        upgrade(engine)
        bureau = Bureau(engine, CASE_TYPES, default_calendar())
        # the pool the records' assignments name (an import names lawyers of the pool)
        pool.add_lawyers(bureau, [NewLawyer(f"律师{i:02d}", "律所", ("civil",), 10)
                                  for i in range(1, LAWYERS + 1)], now=NOW)
        workers = args.workers or importer.default_workers(args.cases)
        began, cpu = time.perf_counter(), _cpu_seconds()
        report = importer.import_file(bureau, source, now=NOW, by="bench", workers=workers)
        seconds, cpu = time.perf_counter() - began, _cpu_seconds() - cpu
        how = f"{workers} worker processes" if workers > 1 else "in this process"
        print(f"imported {report.imported:,} cases, {report.failed} failed, in {seconds:.1f} s "
              f"({how}; {cpu:.1f} CPU s in all)")
        print(f"  {report.imported / seconds:,.0f} cases/s, {events / seconds:,.0f} events/s")
        scaled = seconds * 100_000 / max(args.cases, 1)
        print(f"  goal: 100,000 cases in < {GOAL_SECONDS:.0f} s; at this rate {scaled:.0f} s "
              f"({'met' if scaled < GOAL_SECONDS else 'NOT met'})")
        for error in report.errors[:5]:
            print(f"  line {error.line}: {error.message}", file=sys.stderr)
        if args.verify:
            began = time.perf_counter()
            broken = [c for c in services.verify(bureau) if not c.ok]
            print(f"verified every chain in {time.perf_counter() - began:.1f} s: "
                  f"{len(broken)} broken")
        engine.dispose()
    return 1 if report.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
