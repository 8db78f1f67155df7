"""Properties of cycle arithmetic that hold on any date of the official data (2004–2026)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from states import clocks
from states.calendar import Unit, default_calendar
from states.clocks import ClockSpec, CycleStatus, Extension, Owner, on

CAL = default_calendar()
FAST = settings(max_examples=150, deadline=None, database=None)

days_ = st.dates(date(2004, 1, 1), date(2026, 12, 31))
lengths = st.integers(1, 90)
units = st.sampled_from(Unit)


def spec(days: int, unit: Unit, *, cap: int = 90) -> ClockSpec:
    return ClockSpec("p", "性质", days, unit, "test", Owner.BUREAU, starts=(on("open"),),
                     extension=Extension(cap, 1))


@FAST
@given(start=days_, length=lengths, unit=units, offset=st.integers(0, 120))
def test_a_zero_length_pause_changes_nothing(
    start: date, length: int, unit: Unit, offset: int
) -> None:
    cycle = clocks.start(spec(length, unit), 1, start, {}, CAL)
    day = start + timedelta(days=offset)
    back = clocks.resume(clocks.pause(cycle, day, CAL), day, CAL)
    assert back.status is CycleStatus.RUNNING
    assert (back.raw_end, back.due_on) == (cycle.raw_end, cycle.due_on)
    assert back.paused_days == 0


@FAST
@given(start=days_, length=lengths, k=st.integers(1, 60), offset=st.integers(0, 90))
def test_extending_a_calendar_clock_moves_raw_end_by_k_days(
    start: date, length: int, k: int, offset: int
) -> None:
    cycle = clocks.start(spec(length, Unit.CALENDAR), 1, start, {}, CAL)
    day = min(start + timedelta(days=offset), cycle.due_on)  # not lapsed yet
    longer = clocks.extend(cycle, spec(length, Unit.CALENDAR), k, day, {}, CAL)
    assert longer.raw_end - cycle.raw_end == timedelta(days=k)
    assert longer.due_on == CAL.roll_forward(cycle.raw_end + timedelta(days=k))


@FAST
@given(start=days_, length=lengths, k=st.integers(1, 60), offset=st.integers(0, 90))
def test_extending_a_working_clock_moves_raw_end_by_k_working_days(
    start: date, length: int, k: int, offset: int
) -> None:
    cycle = clocks.start(spec(length, Unit.WORKING), 1, start, {}, CAL)
    day = min(start + timedelta(days=offset), cycle.due_on)
    longer = clocks.extend(cycle, spec(length, Unit.WORKING), k, day, {}, CAL)
    assert CAL.working_days_between(cycle.raw_end, longer.raw_end) == k
    assert longer.due_on == longer.raw_end


@FAST
@given(start=days_, length=lengths, used=st.integers(0, 90), paused=st.integers(0, 120))
def test_a_calendar_pause_moves_raw_end_by_the_days_paused(
    start: date, length: int, used: int, paused: int
) -> None:
    cycle = clocks.start(spec(length, Unit.CALENDAR), 1, start, {}, CAL)
    # Paused before the limit lapses (a lapsed limit is not paused: see test_clocks.py).
    stop_day = min(start + timedelta(days=used), cycle.due_on)
    resumed = clocks.resume(
        clocks.pause(cycle, stop_day, CAL), stop_day + timedelta(days=paused), CAL
    )
    assert resumed.raw_end - cycle.raw_end == timedelta(days=paused)
    assert resumed.paused_days == paused


@FAST
@given(
    start=days_,
    length=lengths,
    unit=units,
    pauses=st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=3),
    k=st.none() | st.integers(1, 30),
)
def test_due_on_is_a_working_day_on_or_after_raw_end(
    start: date, length: int, unit: Unit, pauses: list[tuple[int, int]], k: int | None
) -> None:
    cycle = clocks.start(spec(length, unit), 1, start, {}, CAL)
    seen = [cycle]
    day = start
    for run, rest in pauses:
        day += timedelta(days=run)
        cycle = clocks.pause(cycle, day, CAL)
        seen.append(cycle)
        day += timedelta(days=rest)
        cycle = clocks.resume(cycle, day, CAL)
        seen.append(cycle)
    if k is not None and day <= cycle.due_on:
        seen.append(clocks.extend(cycle, spec(length, unit), k, day, {}, CAL))
    for each in seen:
        assert CAL.is_workday(each.due_on)
        assert each.due_on >= each.raw_end
        assert each.due_on == CAL.roll_forward(each.raw_end)
        if unit is Unit.WORKING:
            assert each.due_on == each.raw_end


@FAST
@given(start=days_, length=lengths, unit=units, a=st.integers(0, 200), b=st.integers(0, 200))
def test_status_on_never_goes_back_from_overdue_to_running(
    start: date, length: int, unit: Unit, a: int, b: int
) -> None:
    cycle = clocks.start(spec(length, unit), 1, start, {}, CAL)
    earlier, later = start + timedelta(days=min(a, b)), start + timedelta(days=max(a, b))
    first, second = cycle.status_on(earlier), cycle.status_on(later)
    assert first in (CycleStatus.RUNNING, CycleStatus.OVERDUE)
    if first is CycleStatus.OVERDUE:
        assert second is CycleStatus.OVERDUE
    assert (second is CycleStatus.OVERDUE) == (later > cycle.due_on)
