"""How fast the domain fires triggers on in-memory cases, clock arithmetic included.

    .venv/bin/python bench/fire_trigger.py [--seconds 2]

Each case is a reconsideration walked open -> accept -> send_copy -> receive_reply -> suspend
-> resume -> extend -> decide, so every fire starts, stops, pauses, resumes, extends or closes
clock cycles on the official working-day calendar. Target: at least 20,000 fires/s.
Figures, not pass/fail (README: `make bench`): the exit code is 0 either way. The last line
times a bare Python loop, so figures from machines of different speeds can be compared.
Rates are per second of this process's CPU time (`time.process_time`), so other load on a
shared machine does not count against them.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, timedelta

from states.calendar import WorkCalendar
from states.casetypes import CASE_TYPES
from states.machine import fire, open_case

TARGET = 20_000
CASE_TYPE = CASE_TYPES["reconsideration"]
# (trigger, attrs, days after the previous event)
WALK: list[tuple[str, dict[str, object], int]] = [
    ("accept", {"procedure": "ordinary"}, 3),
    ("send_copy", {}, 5),
    ("receive_reply", {}, 12),
    ("suspend", {"ground": 1}, 10),
    ("resume", {}, 40),
    ("extend", {"days": 20}, 3),
    ("decide", {"decision": "maintain"}, 20),
]


def one_walk(start: date, calendar: WorkCalendar) -> int:
    """Open a case on ``start`` and walk it to a decision; returns the number of fires."""
    case = open_case(CASE_TYPE, start, calendar=calendar).case
    day = start
    for trigger, attrs, gap in WALK:
        day += timedelta(days=gap)
        case = fire(CASE_TYPE, case, trigger, day, attrs=attrs, by="bench", calendar=calendar).case
    assert case.state == "decided"
    return len(WALK)


def bench_fire(seconds: float, calendar: WorkCalendar) -> tuple[float, float]:
    """(fires/s, open_case/s) while walking cases opened on every day of 2024-2025."""
    fires = opens = 0
    elapsed_open = 0.0
    clock = time.process_time
    began = clock()
    n = 0
    while clock() - began < seconds:
        start = date(2024, 1, 1) + timedelta(days=n % 600)
        n += 1
        t0 = clock()
        case = open_case(CASE_TYPE, start, calendar=calendar).case
        elapsed_open += clock() - t0
        opens += 1
        day = start
        for trigger, attrs, gap in WALK:
            day += timedelta(days=gap)
            case = fire(CASE_TYPE, case, trigger, day, attrs=attrs, by="bench",
                        calendar=calendar).case
            fires += 1
    total = clock() - began
    fire_time = total - elapsed_open
    return fires / fire_time, opens / elapsed_open


def bench_open(seconds: float, calendar: WorkCalendar) -> float:
    """open_case/s alone, over all three case types."""
    types = list(CASE_TYPES.values())
    clock = time.process_time
    began = clock()
    n = 0
    while clock() - began < seconds:
        for case_type in types:
            open_case(case_type, date(2024, 1, 1) + timedelta(days=n % 600), calendar=calendar)
        n += 1
    return n * len(types) / (clock() - began)


def python_speed() -> float:
    """Seconds for a bare loop of 1,000,000 additions: how fast this Python runs here."""
    began = time.process_time()
    total = 0
    for i in range(1_000_000):
        total += i
    return time.process_time() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    calendar = WorkCalendar()
    for year in range(2024, 2027):  # expand the calendar years before timing
        calendar.is_workday(date(year, 6, 1))
    one_walk(date(2024, 3, 1), calendar)  # warm the shared machine and caches

    fires_per_s, walk_opens_per_s = bench_fire(args.seconds, calendar)
    opens_per_s = bench_open(args.seconds / 2, calendar)
    print(f"fire (with clocks): {fires_per_s:,.0f} fires/s")
    print(f"open_case: {opens_per_s:,.0f} cases/s (reconsideration in the walk: "
          f"{walk_opens_per_s:,.0f}/s)")
    print(f"target {TARGET:,} fires/s: {'met' if fires_per_s >= TARGET else 'NOT met'}")
    print(f"this machine: 1,000,000 bare loop additions in {python_speed():.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
