"""One assignment run (指派, issue 15): goal < 5 s for 5,000 approved cases over 200 lawyers.

    .venv/bin/python bench/assign.py [--cases 5000] [--lawyers 200] [--keep DIR]

Builds a fresh SQLite database (not timed): a pool of lawyers, each with a specialty and a
second area and every one taking criminal cases, a few on leave and a few with conflicts; then
court notices (approved on opening, their 3-day assignment clock running) over the matters and
three days. Then times one `flows.assignment.assign_legal_aid` run — gather, decide (the pure
policy, one pass), apply (`assign` through the services, the gate checked again in each
transaction) — and prints its wall and CPU seconds, the split by phase, and the spread of
cases among the lawyers. Figures, not pass/fail: exit 0.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flows import assignment, pool, services
from flows.context import Bureau
from models.engine import create_engine
from models.lawyers import NewLawyer
from models.schema import upgrade
from states.calendar import default_calendar
from states.casetypes import CASE_TYPES

GOAL_S = 5.0
MATTERS = ("criminal", "civil", "labor", "family", "administrative")
SH = ZoneInfo("Asia/Shanghai")


def build(bureau: Bureau, cases: int, lawyers: int, rng: random.Random) -> datetime:
    start = datetime(2024, 9, 2, 9, tzinfo=SH)
    pool.add_lawyers(bureau, [
        NewLawyer(f"律师{i:03d}", f"律所{i % 40:02d}",
                  tuple(dict.fromkeys((MATTERS[i % 5], MATTERS[(i + 2) % 5], "criminal"))),
                  cases // lawyers * 2 + 5)
        for i in range(1, lawyers + 1)], now=start)
    for i in range(1, lawyers + 1, 25):
        pool.add_leave(bureau, i, date(2024, 9, 1), date(2024, 9, 10))
        pool.add_conflict(bureau, i + 1, f"当事人{i:05d}")
    for i in range(cases):
        day = start + timedelta(days=i % 3)
        services.open_case(bureau, "legal_aid", on=day.date(), by="bench", now=day, attrs={
            "channel": "notification", "matter": rng.choice(MATTERS),
            "applicant": f"当事人{rng.randint(1, 99_999):05d}", "opposing_party": "某公司"})
    return start + timedelta(days=2, hours=6)


def timed(bureau: Bureau, now: datetime) -> dict[str, float | int]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    gathered = assignment.gather(bureau, now)
    wall1 = time.perf_counter()
    decisions = assignment.decide(gathered)
    wall2 = time.perf_counter()
    report = assignment.apply(bureau, gathered, decisions, now=now,
                              recorded_at=datetime.now(UTC))
    wall3, cpu3 = time.perf_counter(), time.process_time()
    spread = Counter(x["lawyer"] for x in report.assigned)
    return {"wall_s": round(wall3 - wall0, 2), "cpu_s": round(cpu3 - cpu0, 2),
            "gather_s": round(wall1 - wall0, 2), "decide_s": round(wall2 - wall1, 2),
            "apply_s": round(wall3 - wall2, 2), "assigned": len(report.assigned),
            "unassigned": len(report.unassigned),
            "per_lawyer_max": max(spread.values(), default=0),
            "per_lawyer_min": min(spread.values(), default=0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--lawyers", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="build the database in DIR and keep it")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="caseflow-assign-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "assign.db"
    path.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    built = time.perf_counter()
    now = build(bureau, args.cases, args.lawyers, random.Random(15))
    print(f"built {args.cases:,} approved cases and {args.lawyers} lawyers in "
          f"{time.perf_counter() - built:.1f} s (not timed)")
    figures = timed(bureau, now)
    print(f"assignment run, SQLite: {figures['wall_s']} s wall, {figures['cpu_s']} CPU s "
          f"(goal < {GOAL_S:.0f} s) — gather {figures['gather_s']} s, decide "
          f"{figures['decide_s']} s, apply {figures['apply_s']} s")
    print(f"assigned {figures['assigned']:,}, unassigned {figures['unassigned']:,}; cases per "
          f"lawyer max {figures['per_lawyer_max']}, min {figures['per_lawyer_min']}")
    engine.dispose()


if __name__ == "__main__":
    main()
