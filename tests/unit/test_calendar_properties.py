"""Properties of working-day arithmetic that must hold for every date (DESIGN.md §3)."""

from __future__ import annotations

import sys
import threading
from datetime import date, timedelta

import chinese_calendar
from hypothesis import given, settings
from hypothesis import strategies as st

from states.calendar import WorkCalendar, chinesecalendar_years

ONE_DAY = timedelta(days=1)

# Official years only (chinesecalendar), warmed over every year the properties can reach
# (400 working days either side of 2004..2030), so no example pays for building the index.
CAL = WorkCalendar(official=chinesecalendar_years())
CAL.is_workday(date(2002, 1, 1))
CAL.is_workday(date(2033, 12, 31))

days = st.dates(min_value=date(2004, 1, 1), max_value=date(2030, 12, 31))
counts = st.integers(min_value=0, max_value=400)
positive = st.integers(min_value=1, max_value=400)
fast = settings(max_examples=300, deadline=None)


@fast
@given(days, positive)
def test_add_working_days_never_lands_on_a_rest_day(start: date, n: int) -> None:
    end = CAL.add_working_days(start, n)
    assert end > start
    assert CAL.is_workday(end)


@fast
@given(days, counts)
def test_working_days_between_inverts_add_working_days(start: date, n: int) -> None:
    assert CAL.working_days_between(start, CAL.add_working_days(start, n)) == n


@fast
@given(days, counts)
def test_add_working_days_is_strictly_increasing_in_n(start: date, n: int) -> None:
    assert CAL.add_working_days(start, n) < CAL.add_working_days(start, n + 1)


@fast
@given(days, positive)
def test_add_working_days_is_the_nth_working_day(start: date, n: int) -> None:
    # Exactly n - 1 working days lie strictly between start and the result.
    end = CAL.add_working_days(start, n)
    assert CAL.working_days_between(start, end - ONE_DAY) == n - 1


@fast
@given(days, positive)
def test_negative_working_days_are_the_nth_working_day_before(start: date, n: int) -> None:
    back = CAL.add_working_days(start, -n)
    assert back < start
    assert CAL.is_workday(back)
    # Exactly n - 1 working days lie strictly between the result and start.
    assert CAL.working_days_between(back, start - ONE_DAY) == n - 1
    # And n working days forward from there is the first working day on or after start.
    assert CAL.add_working_days(back, n) == CAL.roll_forward(start)


@fast
@given(days, counts)
def test_add_calendar_days_rolls_to_the_first_working_day(start: date, n: int) -> None:
    raw = start + timedelta(days=n)
    end = CAL.add_calendar_days(start, n)
    assert CAL.is_workday(end)
    assert end >= raw
    if CAL.is_workday(raw):
        assert end == raw
    day = raw
    while day < end:
        assert not CAL.is_workday(day), day
        day += ONE_DAY


@fast
@given(days)
def test_roll_forward_is_idempotent(day: date) -> None:
    once = CAL.roll_forward(day)
    assert CAL.is_workday(once)
    assert once >= day
    assert CAL.roll_forward(once) == once


def test_is_workday_agrees_with_chinesecalendar_2004_to_2026() -> None:
    # Every day, exhaustively. chinesecalendar and the holidays package disagree on 2005-12-31;
    # the official calendar follows chinesecalendar.
    day, last = date(2004, 1, 1), date(2026, 12, 31)
    disagree = []
    while day <= last:
        if CAL.is_workday(day) != chinese_calendar.is_workday(day):
            disagree.append(day)
        day += ONE_DAY
    assert disagree == []


def _answers(cal: WorkCalendar, year: int) -> list[date]:
    start = date(year, 1, 1)
    return [
        cal.add_working_days(start + timedelta(days=offset), n)
        for offset in range(0, 365, 7)
        for n in (-250, -20, -1, 1, 5, 20, 60, 250)
    ]


def test_concurrent_index_growth_gives_the_same_answers() -> None:
    years = [2004, 2030, 2012, 2027, 2008, 2033, 2019, 2002]  # spread: each forces growth
    reference = WorkCalendar()
    expected = {year: _answers(reference, year) for year in years}

    shared = WorkCalendar()  # fresh: no index yet
    barrier = threading.Barrier(len(years))
    results: dict[int, list[date]] = {}
    errors: list[BaseException] = []

    def work(year: int) -> None:
        try:
            barrier.wait()
            results[year] = _answers(shared, year)
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(year,)) for year in years]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []
    assert results == expected
