"""Throughput of the working-day calendar: ``python bench/calendar_add.py``.

Measures calls/s of ``WorkCalendar.add_working_days``, ``add_calendar_days`` (spans 1..60 days)
and ``is_workday`` over random start dates in 2024–2026, on an index warmed beforehand. The
target is >= 200,000 calls/s for spans up to 60 days.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from datetime import date, timedelta

from states.calendar import WorkCalendar

TARGET = 200_000
FIRST, LAST = date(2024, 1, 1), date(2026, 12, 31)


def measure(loop: Callable[[], object], calls: int, rounds: int) -> float:
    """Best calls/s of ``loop`` (which makes ``calls`` calls) over ``rounds`` runs."""
    best = float("inf")
    for _ in range(rounds):
        began = time.perf_counter()
        loop()
        best = min(best, time.perf_counter() - began)
    return calls / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000, help="calls per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best one counts")
    parser.add_argument("--seed", type=int, default=2024)
    options = parser.parse_args()

    rng = random.Random(options.seed)
    span = (LAST - FIRST).days
    args = [
        (FIRST + timedelta(days=rng.randrange(span + 1)), rng.randint(1, 60))
        for _ in range(options.calls)
    ]

    calendar = WorkCalendar()
    # Warm the index over every year the measured calls reach (2024 .. 2027).
    calendar.is_workday(FIRST)
    calendar.is_workday(date(LAST.year + 1, 12, 31))

    days = [start for start, _ in args]
    add_working, add_calendar = calendar.add_working_days, calendar.add_calendar_days
    is_workday = calendar.is_workday

    def working() -> None:
        for start, n in args:
            add_working(start, n)

    def calendar_days() -> None:
        for start, n in args:
            add_calendar(start, n)

    def workday() -> None:
        for day in days:
            is_workday(day)

    calls, rounds = options.calls, options.rounds
    figures = [
        ("add_working_days (1..60 days)", measure(working, calls, rounds)),
        ("add_calendar_days (1..60 days)", measure(calendar_days, calls, rounds)),
        ("is_workday", measure(workday, calls, rounds)),
    ]
    for label, rate in figures:
        print(f"{label}: {rate:,.0f} calls/s")
    slow = [label for label, rate in figures[:2] if rate < TARGET]
    if slow:
        print(f"below the target of {TARGET:,} calls/s: {', '.join(slow)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
