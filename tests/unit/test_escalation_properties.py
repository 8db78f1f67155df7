"""Properties of `states.escalation.evaluate` for any clock, start date and sweep times.

Sweeps are simulated the way the flow runs them: evaluate at ``now``, then record what it
decided (each rung added to the cycle's recorded set; a `Lapse` marks the cycle missed).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from states import clocks
from states.calendar import SHANGHAI, Unit, default_calendar
from states.casetypes import CASE_TYPES
from states.clocks import ESCALATE, ClockSpec, CycleStatus, Effective, Owner, on
from states.escalation import (
    ClockOnCase,
    Decision,
    Escalation,
    Lapse,
    Rung,
    evaluate,
    gather_horizon,
    rung_dates,
)

CAL = default_calendar()
FAST = settings(max_examples=150, deadline=None, database=None)
DAY_MINUTES = 24 * 60

declared = st.sampled_from([c for t in CASE_TYPES.values() for c in t.clocks])
custom = st.builds(
    lambda days, unit, warning, lapse: ClockSpec(
        "c", "测试", days, unit, "test", Owner.BUREAU, starts=(on("open"),), lapse=lapse,
        warning_days=None if warning is None else warning[0],
        warning_unit=None if warning is None else warning[1],
    ),
    st.integers(1, 90),
    st.sampled_from(Unit),
    st.none() | st.tuples(st.integers(0, 15), st.sampled_from(Unit)),
    st.sampled_from([ESCALATE, "deem_something"]),
)
specs = declared | custom
starts = st.dates(date(2023, 1, 1), date(2025, 12, 31))
# minutes after 00:00 (Asia/Shanghai) of the start date, up to 150 days
offsets = st.integers(0, 150 * DAY_MINUTES)


def item(spec: ClockSpec, started: date) -> ClockOnCase:
    cycle = clocks.start(spec, 1, started, {}, CAL)
    return ClockOnCase("C-1", "t", "s", spec, cycle)


def instant(started: date, minutes: int) -> datetime:
    return datetime.combine(started, time(), tzinfo=SHANGHAI) + timedelta(minutes=minutes)


def record(state: ClockOnCase, decisions: list[Decision]) -> ClockOnCase:
    """What the flow stores after applying ``decisions``."""
    rungs = {d.rung for d in decisions if isinstance(d, Escalation)}
    cycle = state.cycle
    if any(isinstance(d, Lapse) for d in decisions):
        cycle = clocks.lapse(cycle)
    return replace(state, cycle=cycle, rungs_recorded=state.rungs_recorded | rungs)


def sweep(state: ClockOnCase, now: datetime) -> tuple[ClockOnCase, list[Decision]]:
    decisions = evaluate([state], now, CAL)
    return record(state, decisions), decisions


@FAST
@given(spec=specs, started=starts, first=offsets, later=offsets)
def test_sweeping_at_t1_then_t2_records_what_one_sweep_at_t2_records(
    spec: ClockSpec, started: date, first: int, later: int
) -> None:
    t1, t2 = sorted((instant(started, first), instant(started, later)))
    fresh = item(spec, started)
    twice, _ = sweep(sweep(fresh, t1)[0], t2)
    once, _ = sweep(fresh, t2)
    assert twice.rungs_recorded == once.rungs_recorded
    assert twice.cycle.status is once.cycle.status


@FAST
@given(spec=specs, started=starts, minutes=offsets)
def test_evaluating_the_same_now_after_recording_decides_nothing(
    spec: ClockSpec, started: date, minutes: int
) -> None:
    now = instant(started, minutes)
    state, _ = sweep(item(spec, started), now)
    assert evaluate([state], now, CAL) == []


@FAST
@given(spec=specs, started=starts, first=offsets, later=offsets)
def test_rungs_reached_only_grow_with_time(
    spec: ClockSpec, started: date, first: int, later: int
) -> None:
    t1, t2 = sorted((instant(started, first), instant(started, later)))
    fresh = item(spec, started)

    def reached(now: datetime) -> set[Rung]:
        return {d.rung for d in evaluate([fresh], now, CAL) if isinstance(d, Escalation)}

    assert reached(t1) <= reached(t2)


@FAST
@given(spec=specs, started=starts, times=st.lists(offsets, min_size=1, max_size=6))
def test_alerts_over_a_run_of_sweeps_climb_and_each_sweep_sends_at_most_one(
    spec: ClockSpec, started: date, times: list[int]
) -> None:
    state = item(spec, started)
    alerted: list[Rung] = []
    for minutes in sorted(times):
        state, decisions = sweep(state, instant(started, minutes))
        rungs = [d for d in decisions if isinstance(d, Escalation)]
        assert all(d.alert is not d.caught_up for d in rungs)
        sent = [d.rung for d in rungs if d.alert]
        assert len(sent) <= 1
        alerted += sent
    assert [r.level for r in alerted] == sorted({r.level for r in alerted})


@FAST
@given(spec=specs, started=starts, minutes=offsets)
def test_a_lapse_always_takes_effect_on_its_legal_date_and_only_once_past_the_last_day(
    spec: ClockSpec, started: date, minutes: int
) -> None:
    fresh = item(spec, started)
    now = instant(started, minutes)
    lapses = [d for d in evaluate([fresh], now, CAL) if isinstance(d, Lapse)]
    past_due = now.date() > fresh.cycle.due_on
    assert len(lapses) == (1 if past_due and spec.lapses_by_trigger else 0)
    # the last day itself (视为受理) or the day after it (视为放弃, 视为撤回), never later
    legal = fresh.cycle.due_on + timedelta(days=spec.effective is Effective.DAY_AFTER)
    assert all(d.effective_on == legal <= now.date() and d.trigger == spec.lapse
               for d in lapses)


@FAST
@given(spec=specs, started=starts, minutes=offsets)
def test_each_rung_is_reached_exactly_at_midnight_of_its_date(
    spec: ClockSpec, started: date, minutes: int
) -> None:
    fresh = item(spec, started)
    for rung, day in rung_dates(spec, fresh.cycle, CAL).items():
        midnight = datetime.combine(day, time(), tzinfo=SHANGHAI)
        before = evaluate([fresh], midnight - timedelta(microseconds=1), CAL)
        after = evaluate([fresh], midnight, CAL)
        assert rung not in {d.rung for d in before if isinstance(d, Escalation)}
        assert rung in {d.rung for d in after if isinstance(d, Escalation)}


@FAST
@given(spec=declared, started=starts, minutes=offsets, pause_after=st.integers(0, 10))
def test_a_paused_cycle_decides_nothing(
    spec: ClockSpec, started: date, minutes: int, pause_after: int
) -> None:
    fresh = item(spec, started)
    day = min(started + timedelta(days=pause_after), fresh.cycle.due_on)
    paused = replace(fresh, cycle=clocks.pause(fresh.cycle, day, CAL))
    assert paused.cycle.status is CycleStatus.PAUSED
    assert evaluate([paused], instant(started, minutes), CAL) == []


def due_on(spec: ClockSpec, today: date, due: date) -> ClockOnCase:
    """A running cycle of ``spec`` due on ``due`` (any date, even a rest day)."""
    cycle = clocks.start(spec, 1, min(today, due), {}, CAL)._replace(due_on=due, raw_end=due)
    return ClockOnCase("C-1", "t", "s", spec, cycle)


shanghai_times = st.datetimes(datetime(2023, 1, 1), datetime(2025, 12, 31),
                              timezones=st.just(SHANGHAI))


@FAST
@given(spec=specs, now=shanghai_times, ahead=st.integers(-10, 40))
def test_a_cycle_due_after_the_gather_horizon_decides_nothing(
    spec: ClockSpec, now: datetime, ahead: int
) -> None:
    today = now.date()
    types = {"t": replace(CASE_TYPES["reconsideration"], clocks=(spec,))}
    due = today + timedelta(days=ahead)
    decisions = evaluate([due_on(spec, today, due)], now, CAL)
    if due > gather_horizon(types, now, CAL):
        assert decisions == []


@FAST
@given(spec=specs, due=st.dates(date(2023, 6, 1), date(2025, 12, 31)))
def test_the_warning_opens_on_the_first_day_the_time_left_is_within_the_window(
    spec: ClockSpec, due: date
) -> None:
    # any due date, a rest day included; the cycle started long before, so nothing clamps
    cycle = clocks.start(spec, 1, due - timedelta(days=150), {}, CAL)._replace(due_on=due)
    if spec.notice:  # owed by nobody: no warning, only the day it arises
        assert set(rung_dates(spec, cycle, CAL)) == {Rung.ARISEN}
        return
    opens = rung_dates(spec, cycle, CAL)[Rung.DUE_SOON]
    days, unit = spec.warning_window()
    assert CAL.days_between(opens, due, unit) <= days
    assert CAL.days_between(opens - timedelta(days=1), due, unit) > days


@FAST
@given(now=shanghai_times)
def test_the_gather_horizon_is_reached_by_some_declared_clock(now: datetime) -> None:
    horizon = gather_horizon(CASE_TYPES, now, CAL)
    warned = [
        spec.name
        for t in CASE_TYPES.values()
        for spec in t.clocks
        if evaluate([due_on(spec, now.date(), horizon)], now, CAL)
    ]
    assert warned
