"""Cycle arithmetic of `states.clocks`, with every expected date derived by hand.

Official 2024 data used throughout (国务院办公厅 notice for 2024):
- 国庆: 10-01 (Tue) .. 10-07 (Mon) off; Sun 09-29 and Sat 10-12 are working days;
- 清明: 04-04 .. 04-06 off, Sun 04-07 worked; 劳动节: 05-01 .. 05-05 off, Sun 04-28 and
  Sat 05-11 worked.
The start day is never counted (民事诉讼法 art. 85; 行政复议法 art. 88).
"""

from __future__ import annotations

from datetime import date

import pytest

from states import clocks
from states.calendar import Unit, WorkCalendar, YearData, default_calendar
from states.casetypes import CASE_TYPES
from states.clocks import ClockSpec, CycleStatus, Extension, Owner, on
from states.errors import ClockRuleViolation

CAL = default_calendar()
D = date


def spec(
    days: int,
    unit: Unit,
    *,
    extension: Extension | None = None,
    warning_days: int | None = None,
    warning_unit: Unit | None = None,
) -> ClockSpec:
    return ClockSpec(
        "t", "测试", days, unit, "test", Owner.BUREAU, starts=(on("open"),),
        extension=extension, warning_days=warning_days, warning_unit=warning_unit,
    )


def begin(days: int, unit: Unit, day: date, **kw: object) -> clocks.Cycle:
    return clocks.start(spec(days, unit, **kw), 1, day, {}, CAL)  # type: ignore[arg-type]


DECISION = CASE_TYPES["reconsideration"].clock_map["decision"]  # 60 cal, simplified 30, +30 once
COPY = CASE_TYPES["reconsideration"].clock_map["copy_to_respondent"]  # 7 working, no extension
ORDINARY = {"procedure": "ordinary"}
SIMPLIFIED = {"procedure": "simplified"}


# -- start -----------------------------------------------------------------------------------


def test_working_start_skips_the_national_day_holiday() -> None:
    # 5 working days from Fri 2024-09-27: Sun 09-29 (1, worked), Mon 09-30 (2), 10-01..10-07 off,
    # 10-08 (3), 10-09 (4), 10-10 (5).
    cycle = begin(5, Unit.WORKING, D(2024, 9, 27))
    assert cycle.raw_end == D(2024, 10, 10)
    assert cycle.due_on == D(2024, 10, 10)
    assert cycle.status is CycleStatus.RUNNING
    assert (cycle.started_on, cycle.resumed_on, cycle.used) == (D(2024, 9, 27),) * 2 + (0,)
    assert cycle.days == 5 and cycle.cycle == 1 and cycle.clock == "t"


def test_calendar_start_ending_on_a_holiday_rolls_forward() -> None:
    # 09-27 + 5 = 10-02, a National Day holiday; next working day after 10-01..10-07 is 10-08.
    cycle = begin(5, Unit.CALENDAR, D(2024, 9, 27))
    assert cycle.raw_end == D(2024, 10, 2)
    assert cycle.due_on == D(2024, 10, 8)


def test_calendar_start_ending_on_a_plain_saturday_rolls_to_a_make_up_sunday() -> None:
    # 09-27 + 1 = Sat 09-28 (rest); the next working day is Sun 09-29 (调休上班).
    cycle = begin(1, Unit.CALENDAR, D(2024, 9, 27))
    assert (cycle.raw_end, cycle.due_on) == (D(2024, 9, 28), D(2024, 9, 29))


def test_calendar_start_ending_on_a_make_up_saturday_stays() -> None:
    # 10-05 + 7 = Sat 10-12, a make-up working day: no roll-forward.
    cycle = begin(7, Unit.CALENDAR, D(2024, 10, 5))
    assert (cycle.raw_end, cycle.due_on) == (D(2024, 10, 12), D(2024, 10, 12))


def test_working_start_on_a_rest_day_counts_from_the_next_working_day() -> None:
    # From Sat 10-05 (holiday): 1 working day is 10-08; from Sat 09-28: 1 is Sun 09-29.
    assert begin(1, Unit.WORKING, D(2024, 10, 5)).due_on == D(2024, 10, 8)
    assert begin(1, Unit.WORKING, D(2024, 9, 28)).due_on == D(2024, 9, 29)


def test_start_uses_the_length_chosen_by_attribute() -> None:
    # decision: simplified 30 from 2024-03-01 -> 03-31 (Sun) -> Mon 04-01;
    # ordinary 60 -> 04-30 (Tue, a working day: 04-28 worked, 05-01 off).
    simple = clocks.start(DECISION, 2, D(2024, 3, 1), SIMPLIFIED, CAL)
    assert (simple.days, simple.raw_end, simple.due_on) == (30, D(2024, 3, 31), D(2024, 4, 1))
    assert simple.cycle == 2
    ordinary = clocks.start(DECISION, 1, D(2024, 3, 1), ORDINARY, CAL)
    assert (ordinary.days, ordinary.raw_end, ordinary.due_on) == (60, D(2024, 4, 30),
                                                                    D(2024, 4, 30))


# -- pause / resume --------------------------------------------------------------------------


def test_calendar_pause_moves_the_due_date_by_the_calendar_days_paused() -> None:
    # 60 calendar days from 2024-03-01: 03-31 is +30, 04-30 is +60 -> due Tue 04-30.
    cycle = begin(60, Unit.CALENDAR, D(2024, 3, 1))
    assert cycle.due_on == D(2024, 4, 30)
    # Paused on 03-11: 10 days used, 50 remain; still projected from the pause day: 04-30.
    paused = clocks.pause(cycle, D(2024, 3, 11), CAL)
    assert paused.status is CycleStatus.PAUSED
    assert (paused.used, paused.paused_since) == (10, D(2024, 3, 11))
    assert paused.due_on == D(2024, 4, 30)
    # Resumed on 03-25 (14 days paused): 03-25 + 50 = 05-14 = 04-30 + 14 (Tue, working).
    resumed = clocks.resume(paused, D(2024, 3, 25), CAL)
    assert resumed.status is CycleStatus.RUNNING
    assert (resumed.raw_end, resumed.due_on) == (D(2024, 5, 14), D(2024, 5, 14))
    assert (resumed.paused_days, resumed.resumed_on, resumed.paused_since) == (
        14, D(2024, 3, 25), None)


def test_working_pause_keeps_the_remaining_working_days() -> None:
    # 10 working days from Fri 2024-09-20: 09-23..09-27 (5), Sun 09-29 (6), 09-30 (7),
    # 10-08 (8), 10-09 (9), 10-10 (10).
    cycle = begin(10, Unit.WORKING, D(2024, 9, 20))
    assert cycle.due_on == D(2024, 10, 10)
    # Paused on Wed 09-25: 09-23, 09-24, 09-25 used -> 3 used, 7 remain.
    paused = clocks.pause(cycle, D(2024, 9, 25), CAL)
    assert paused.used == 3
    # Resumed on Wed 10-09; the 7 remaining count from there: 10-10 (1), 10-11 (2),
    # Sat 10-12 (3, a make-up working day), 10-14 (4), 10-15 (5), 10-16 (6), 10-17 (7).
    # (Ignoring the make-up Saturday would give 10-18; the official calendar makes it 10-17.)
    resumed = clocks.resume(paused, D(2024, 10, 9), CAL)
    assert (resumed.raw_end, resumed.due_on) == (D(2024, 10, 17), D(2024, 10, 17))
    assert resumed.paused_days == 14


def test_working_pause_over_rest_days_only_changes_nothing() -> None:
    # 5 working days from 09-27 -> 10-10. Paused on 10-03 (holiday) after 2 working days
    # (09-29, 09-30); resumed on Sat 10-05 (holiday): 3 remain -> 10-08, 10-09, 10-10.
    cycle = begin(5, Unit.WORKING, D(2024, 9, 27))
    paused = clocks.pause(cycle, D(2024, 10, 3), CAL)
    assert paused.used == 2
    resumed = clocks.resume(paused, D(2024, 10, 5), CAL)
    assert resumed.due_on == D(2024, 10, 10)
    assert resumed.paused_days == 2


def test_working_pause_on_a_holiday_after_the_due_date_keeps_the_due_date() -> None:
    # 1 working day from Fri 09-27 -> Sun 09-29 (worked). A pause on Sat 10-05 (holiday) comes
    # after the due date: the lapsed limit is not paused, its due date stays 09-29, and the
    # cycle stopped later is missed.
    cycle = begin(1, Unit.WORKING, D(2024, 9, 27))
    assert cycle.due_on == D(2024, 9, 29)
    paused = clocks.pause(cycle, D(2024, 10, 5), CAL)
    assert paused.status is CycleStatus.RUNNING
    assert (paused.raw_end, paused.due_on) == (D(2024, 9, 29), D(2024, 9, 29))
    assert clocks.resume(paused, D(2024, 10, 8), CAL).due_on == D(2024, 9, 29)
    assert clocks.stop(paused, D(2024, 10, 9)).status is CycleStatus.MISSED


def test_pause_and_resume_ignore_cycles_in_the_wrong_status() -> None:
    cycle = begin(5, Unit.WORKING, D(2024, 9, 27))
    assert clocks.resume(cycle, D(2024, 9, 30), CAL) is cycle  # not paused
    paused = clocks.pause(cycle, D(2024, 9, 30), CAL)
    assert clocks.pause(paused, D(2024, 10, 8), CAL) is paused  # already paused
    met = clocks.stop(cycle, D(2024, 9, 30))
    assert clocks.pause(met, D(2024, 10, 8), CAL) is met


def test_roll_forward_is_applied_once_to_the_final_raw_date() -> None:
    # 5 calendar days from 09-27: raw 10-02 (holiday) -> due 10-08.
    cycle = begin(5, Unit.CALENDAR, D(2024, 9, 27))
    assert cycle.due_on == D(2024, 10, 8)
    # Paused on 09-28 (1 day used), resumed on 10-05 (7 days paused): raw = 10-05 + 4 = Wed 10-09,
    # a working day, so due 10-09. Had the roll-forward been kept and the pause added to the
    # rolled date, it would be 10-08 + 7 = 10-15.
    paused = clocks.pause(cycle, D(2024, 9, 28), CAL)
    resumed = clocks.resume(paused, D(2024, 10, 5), CAL)
    assert resumed.raw_end == D(2024, 10, 9)
    assert resumed.due_on == D(2024, 10, 9)


def test_roll_forward_is_not_accumulated_by_an_extension() -> None:
    # raw 10-02 -> due 10-08; extended by 3 on 09-30: raw 10-05 (holiday) -> due 10-08 again,
    # not 10-08 + 3 = 10-11. Extended again by 3: raw 10-08 -> due 10-08.
    rule = Extension(10, 3)
    cycle = begin(5, Unit.CALENDAR, D(2024, 9, 27), extension=rule)
    once = clocks.extend(cycle, spec(5, Unit.CALENDAR, extension=rule), 3, D(2024, 9, 30), {}, CAL)
    assert (once.raw_end, once.due_on) == (D(2024, 10, 5), D(2024, 10, 8))
    twice = clocks.extend(once, spec(5, Unit.CALENDAR, extension=rule), 3, D(2024, 9, 30), {}, CAL)
    assert (twice.raw_end, twice.due_on) == (D(2024, 10, 8), D(2024, 10, 8))
    assert (twice.extended_days, twice.extensions) == (6, 2)
    # A third extension by 5 would make 11 > 10: refused, naming the cap and what is left.
    with pytest.raises(ClockRuleViolation) as info:
        clocks.extend(twice, spec(5, Unit.CALENDAR, extension=rule), 5, D(2024, 9, 30), {}, CAL)
    assert "cap of 10" in info.value.message
    assert info.value.allowed == ["days=1..4"]


# -- extend ----------------------------------------------------------------------------------


def test_extend_moves_the_raw_end_by_exactly_its_days() -> None:
    # ordinary decision from 03-01: raw 04-30; +30 -> 05-30 (Thu, working).
    cycle = clocks.start(DECISION, 1, D(2024, 3, 1), ORDINARY, CAL)
    longer = clocks.extend(cycle, DECISION, 30, D(2024, 4, 1), ORDINARY, CAL)
    assert (longer.raw_end, longer.due_on) == (D(2024, 5, 30), D(2024, 5, 30))
    assert (longer.extended_days, longer.extensions) == (30, 1)
    assert longer.days == 60  # the declared length is kept apart from the extension


def test_extend_a_working_clock_by_working_days() -> None:
    # 5 working days from 09-27 -> 10-10; +3 working: 10-11, Sat 10-12 (worked), 10-14.
    rule = Extension(5)
    cycle = begin(5, Unit.WORKING, D(2024, 9, 27), extension=rule)
    longer = clocks.extend(cycle, spec(5, Unit.WORKING, extension=rule), 3, D(2024, 10, 8), {},
                           CAL)
    assert (longer.raw_end, longer.due_on) == (D(2024, 10, 14), D(2024, 10, 14))


def test_extend_refused_past_the_cap() -> None:
    cycle = clocks.start(DECISION, 1, D(2024, 3, 1), ORDINARY, CAL)
    with pytest.raises(ClockRuleViolation) as info:
        clocks.extend(cycle, DECISION, 31, D(2024, 4, 1), ORDINARY, CAL)
    assert info.value.message == "extending 'decision' by 31 days exceeds the cap of 30"
    assert info.value.allowed == ["days=1..30"]


def test_extend_refused_a_second_time() -> None:
    cycle = clocks.start(DECISION, 1, D(2024, 3, 1), ORDINARY, CAL)
    once = clocks.extend(cycle, DECISION, 10, D(2024, 4, 1), ORDINARY, CAL)
    with pytest.raises(ClockRuleViolation) as info:
        clocks.extend(once, DECISION, 5, D(2024, 4, 2), ORDINARY, CAL)
    assert info.value.message == (
        "clock 'decision' was already extended 1 time(s); the limit is 1"
    )


def test_extend_allowed_on_the_due_date_refused_the_day_after() -> None:
    cycle = clocks.start(DECISION, 1, D(2024, 3, 1), ORDINARY, CAL)  # due 04-30
    assert clocks.extend(cycle, DECISION, 1, D(2024, 4, 30), ORDINARY, CAL).due_on == D(2024, 5, 6)
    # (04-30 + 1 = 05-01, Labor Day; 05-01..05-05 off -> 05-06.)
    with pytest.raises(ClockRuleViolation) as info:
        clocks.extend(cycle, DECISION, 1, D(2024, 5, 1), ORDINARY, CAL)
    assert info.value.message == (
        "clock 'decision' lapsed on 2024-04-30; an extension must be decided before then"
    )


def test_extend_refused_when_the_attributes_do_not_hold() -> None:
    # art. 62: only the ordinary procedure can be extended.
    cycle = clocks.start(DECISION, 1, D(2024, 3, 1), SIMPLIFIED, CAL)
    with pytest.raises(ClockRuleViolation) as info:
        clocks.extend(cycle, DECISION, 10, D(2024, 3, 5), SIMPLIFIED, CAL)
    assert info.value.message == "clock 'decision' can be extended only when procedure is ordinary"
    assert info.value.allowed == ["ordinary"]
    with pytest.raises(ClockRuleViolation, match="only when procedure is ordinary"):
        clocks.extend(cycle, DECISION, 10, D(2024, 3, 5), {}, CAL)


def test_extend_refused_when_the_clock_has_no_extension() -> None:
    cycle = clocks.start(COPY, 1, D(2024, 3, 1), ORDINARY, CAL)
    with pytest.raises(ClockRuleViolation) as info:
        clocks.extend(cycle, COPY, 3, D(2024, 3, 4), ORDINARY, CAL)
    assert info.value.message == "clock 'copy_to_respondent' cannot be extended"


def test_extend_refused_once_the_cycle_is_over() -> None:
    cycle = clocks.start(DECISION, 1, D(2024, 3, 1), ORDINARY, CAL)
    met = clocks.stop(cycle, D(2024, 4, 1))
    with pytest.raises(ClockRuleViolation) as info:
        clocks.extend(met, DECISION, 5, D(2024, 4, 1), ORDINARY, CAL)
    assert info.value.message == "clock 'decision' is met, not running"


@pytest.mark.parametrize("days", [0, -5])
def test_extend_refused_for_no_or_negative_days(days: int) -> None:
    cycle = clocks.start(DECISION, 1, D(2024, 3, 1), ORDINARY, CAL)
    with pytest.raises(ClockRuleViolation, match="at least 1 day") as info:
        clocks.extend(cycle, DECISION, days, D(2024, 4, 1), ORDINARY, CAL)
    assert info.value.allowed == ["days=1..30"]


def test_extend_a_paused_cycle_then_resume() -> None:
    # Ordinary decision from 03-01 (raw 04-30), paused 03-11 (10 used), extended by 20 while
    # suspended, resumed 03-25: raw = 03-25 + (60 + 20 - 10) = 03-25 + 70 = 06-03 (Mon).
    cycle = clocks.start(DECISION, 1, D(2024, 3, 1), ORDINARY, CAL)
    paused = clocks.pause(cycle, D(2024, 3, 11), CAL)
    longer = clocks.extend(paused, DECISION, 20, D(2024, 3, 20), ORDINARY, CAL)
    assert longer.status is CycleStatus.PAUSED
    resumed = clocks.resume(longer, D(2024, 3, 25), CAL)
    assert (resumed.raw_end, resumed.due_on) == (D(2024, 6, 3), D(2024, 6, 3))


# -- stop, lapse, close ----------------------------------------------------------------------


def test_stop_is_met_up_to_the_due_date_and_missed_after() -> None:
    cycle = begin(5, Unit.CALENDAR, D(2024, 9, 27))  # due 10-08
    early = clocks.stop(cycle, D(2024, 9, 30))
    assert (early.status, early.stopped_on) == (CycleStatus.MET, D(2024, 9, 30))
    on_due = clocks.stop(cycle, D(2024, 10, 8))
    assert on_due.status is CycleStatus.MET
    late = clocks.stop(cycle, D(2024, 10, 9))
    assert (late.status, late.stopped_on) == (CycleStatus.MISSED, D(2024, 10, 9))


def test_stop_while_paused_before_the_due_date_is_met() -> None:
    # Paused on 09-28 with the due date 10-08 still ahead: time paused is not counted.
    paused = clocks.pause(begin(5, Unit.CALENDAR, D(2024, 9, 27)), D(2024, 9, 28), CAL)
    assert clocks.stop(paused, D(2024, 12, 2)).status is CycleStatus.MET


def test_lapse_is_missed_on_the_due_date() -> None:
    lapsed = clocks.lapse(begin(5, Unit.CALENDAR, D(2024, 9, 27)))
    assert (lapsed.status, lapsed.stopped_on) == (CycleStatus.MISSED, D(2024, 10, 8))


def test_close_is_missed_past_due_else_cancelled() -> None:
    cycle = begin(5, Unit.CALENDAR, D(2024, 9, 27))  # due 10-08
    assert clocks.close(cycle, D(2024, 10, 8)).status is CycleStatus.CANCELLED
    late = clocks.close(cycle, D(2024, 10, 9))
    assert (late.status, late.stopped_on) == (CycleStatus.MISSED, D(2024, 10, 9))
    paused = clocks.pause(cycle, D(2024, 9, 28), CAL)
    assert clocks.close(paused, D(2024, 12, 2)).status is CycleStatus.CANCELLED


# -- status_on -------------------------------------------------------------------------------


def test_status_on_is_overdue_from_the_day_after_the_due_date() -> None:
    cycle = begin(5, Unit.CALENDAR, D(2024, 9, 27))  # due 10-08
    assert cycle.status_on(D(2024, 9, 27)) is CycleStatus.RUNNING
    assert cycle.status_on(D(2024, 10, 8)) is CycleStatus.RUNNING
    assert cycle.status_on(D(2024, 10, 9)) is CycleStatus.OVERDUE
    assert cycle.status_on(D(2025, 1, 1)) is CycleStatus.OVERDUE


def test_status_on_of_paused_and_finished_cycles_is_their_status() -> None:
    cycle = begin(5, Unit.CALENDAR, D(2024, 9, 27))
    paused = clocks.pause(cycle, D(2024, 9, 28), CAL)
    assert paused.status_on(D(2024, 10, 9)) is CycleStatus.PAUSED
    assert paused.status_on(D(2025, 6, 1)) is CycleStatus.PAUSED
    met = clocks.stop(cycle, D(2024, 9, 30))
    assert met.status_on(D(2025, 6, 1)) is CycleStatus.MET
    assert clocks.lapse(cycle).status_on(D(2024, 10, 9)) is CycleStatus.MISSED


# -- relength (art. 55) ----------------------------------------------------------------------


def test_relength_simplified_to_ordinary_counts_from_the_start() -> None:
    # simplified: 03-01 + 30 = Sun 03-31 -> Mon 04-01; ordinary: 03-01 + 60 = Tue 04-30.
    simple = clocks.start(DECISION, 1, D(2024, 3, 1), SIMPLIFIED, CAL)
    assert simple.due_on == D(2024, 4, 1)
    ordinary = clocks.relength(simple, 60, CAL)
    assert (ordinary.days, ordinary.raw_end, ordinary.due_on) == (60, D(2024, 4, 30),
                                                                    D(2024, 4, 30))
    assert ordinary.started_on == D(2024, 3, 1)


def test_relength_keeps_time_paused() -> None:
    # Simplified from 03-01, paused 03-11 .. 03-25 (14 days): raw 03-31 + 14 = Sun 04-14 (rest)
    # -> due Mon 04-15. Converted to ordinary: 04-30 + 14 = Tue 05-14.
    simple = clocks.start(DECISION, 1, D(2024, 3, 1), SIMPLIFIED, CAL)
    resumed = clocks.resume(clocks.pause(simple, D(2024, 3, 11), CAL), D(2024, 3, 25), CAL)
    assert (resumed.raw_end, resumed.due_on) == (D(2024, 4, 14), D(2024, 4, 15))
    assert clocks.relength(resumed, 60, CAL).due_on == D(2024, 5, 14)


def test_relength_leaves_finished_cycles_and_same_lengths_alone() -> None:
    simple = clocks.start(DECISION, 1, D(2024, 3, 1), SIMPLIFIED, CAL)
    assert clocks.relength(simple, 30, CAL) is simple
    met = clocks.stop(simple, D(2024, 3, 20))
    assert clocks.relength(met, 60, CAL) is met


# -- ClockSpec -------------------------------------------------------------------------------


def test_length_by_attribute() -> None:
    assert DECISION.length(SIMPLIFIED) == 30
    assert DECISION.length(ORDINARY) == 60
    assert DECISION.length({}) == 60
    assert DECISION.length({"procedure": None}) == 60
    assert DECISION.length({"channel": "simplified"}) == 60
    assert COPY.length(SIMPLIFIED) == 3
    reply = CASE_TYPES["reconsideration"].clock_map["respondent_reply"]
    assert (reply.length(SIMPLIFIED), reply.length(ORDINARY)) == (5, 10)


@pytest.mark.parametrize(
    ("days", "unit", "expected"),
    [
        (1, Unit.WORKING, (1, Unit.WORKING)),
        (10, Unit.WORKING, (1, Unit.WORKING)),
        (10, Unit.CALENDAR, (1, Unit.WORKING)),
        (11, Unit.WORKING, (7, Unit.CALENDAR)),
        (60, Unit.CALENDAR, (7, Unit.CALENDAR)),
    ],
)
def test_warning_window_defaults(days: int, unit: Unit, expected: tuple[int, Unit]) -> None:
    assert spec(days, unit).warning_window() == expected


def test_warning_window_explicit_values() -> None:
    # warning_days alone takes the clock's own unit; warning_unit overrides it.
    assert spec(60, Unit.CALENDAR, warning_days=3).warning_window() == (3, Unit.CALENDAR)
    assert spec(5, Unit.WORKING, warning_days=2).warning_window() == (2, Unit.WORKING)
    assert spec(7, Unit.CALENDAR, warning_days=2,
                warning_unit=Unit.WORKING).warning_window() == (2, Unit.WORKING)
    assert spec(60, Unit.CALENDAR, warning_days=10,
                warning_unit=Unit.WORKING).warning_window() == (10, Unit.WORKING)


def test_warning_window_of_the_declarations() -> None:
    assert CASE_TYPES["legal_aid"].clock_map["review"].warning_window() == (1, Unit.WORKING)
    assert DECISION.warning_window() == (7, Unit.CALENDAR)


# -- reproject on other calendar data ----------------------------------------------------------


def test_reproject_with_other_calendar_data_moves_live_cycles_only() -> None:
    # A calendar whose 2024 has no holidays and no make-up days: plain weekends.
    plain = WorkCalendar(official={2024: YearData(2024, frozenset(), frozenset())})
    calendar_clock = begin(5, Unit.CALENDAR, D(2024, 9, 27))  # raw 10-02, official due 10-08
    working_clock = begin(5, Unit.WORKING, D(2024, 9, 27))  # official due 10-10
    paused = clocks.pause(calendar_clock, D(2024, 9, 28), CAL)  # projected due 10-08
    met = clocks.stop(calendar_clock, D(2024, 9, 30))
    missed = clocks.lapse(working_clock)

    # Plain: Wed 10-02 is a working day; 5 working days from Fri 09-27 are 09-30 .. Fri 10-04.
    assert clocks.reproject(calendar_clock, plain).due_on == D(2024, 10, 2)
    assert clocks.reproject(working_clock, plain).due_on == D(2024, 10, 4)
    assert clocks.reproject(paused, plain).due_on == D(2024, 10, 2)
    assert clocks.reproject(met, plain) is met
    assert clocks.reproject(missed, plain) is missed
    assert met.due_on == D(2024, 10, 8) and missed.due_on == D(2024, 10, 10)
    # And back on the official data, the dates are the original ones.
    back = clocks.reproject(clocks.reproject(working_clock, plain), CAL)
    assert back == working_clock


def test_reproject_keeps_the_other_fields() -> None:
    plain = WorkCalendar(official={2024: YearData(2024, frozenset(), frozenset())})
    cycle = begin(5, Unit.CALENDAR, D(2024, 9, 27))
    assert clocks.reproject(cycle, plain) == cycle._replace(due_on=D(2024, 10, 2))


def test_suspending_a_lapsed_limit_does_not_revive_it() -> None:
    # 5 calendar days from Fri 2024-09-27: raw end 10-02 (National Day) rolls to Tue 10-08.
    # Paused on 10-09, after the due date, the limit has lapsed already: it keeps running
    # (overdue) with its original due date, and resuming later changes nothing.
    cal = default_calendar()
    spec = ClockSpec("c", "c", 5, Unit.CALENDAR, "test", Owner.BUREAU, starts=())
    cycle = clocks.start(spec, 1, date(2024, 9, 27), {}, cal)
    paused = clocks.pause(cycle, date(2024, 10, 9), cal)
    assert paused.status is CycleStatus.RUNNING
    assert paused.due_on == date(2024, 10, 8)
    resumed = clocks.resume(paused, date(2024, 10, 30), cal)
    assert resumed.due_on == date(2024, 10, 8)
    assert resumed.status_on(date(2024, 10, 30)) is CycleStatus.OVERDUE


def test_ending_a_cycle_changes_only_its_status_and_stop_date() -> None:
    # `stop` and `close` set fields by position: every other field must come through unchanged.
    cycle = clocks.start(CASE_TYPES["reconsideration"].clock_map["decision"], 3,
                         D(2024, 10, 8), {}, default_calendar())
    cycle = cycle._replace(paused_days=4, extended_days=10, extensions=1, used=2)
    ended = clocks.stop(cycle, D(2024, 10, 9))
    assert ended == cycle._replace(status=CycleStatus.MET, stopped_on=D(2024, 10, 9))
    assert clocks.close(cycle, D(2025, 3, 1)) == cycle._replace(
        status=CycleStatus.MISSED, stopped_on=D(2025, 3, 1))


def test_two_pauses_in_one_calendar_cycle_each_count_from_their_own_resumption() -> None:
    # 审理期限 of 60 calendar days from Mon 2025-03-03: raw end 05-02.
    # Paused 03-13 (10 days used), resumed 03-20 (7 days paused), paused again 03-30: the
    # second stretch counts from the resumption, 03-20 -> 03-30, 10 days (not 27 from the
    # start), so 20 used; resumed 04-09 (10 more paused, 17 in all): 40 left from 04-09 ->
    # Mon 05-19, which is also 05-02 + 17.
    cycle = begin(60, Unit.CALENDAR, D(2025, 3, 3))
    cycle = clocks.pause(cycle, D(2025, 3, 13), CAL)
    cycle = clocks.resume(cycle, D(2025, 3, 20), CAL)
    cycle = clocks.pause(cycle, D(2025, 3, 30), CAL)
    assert cycle.used == 20
    cycle = clocks.resume(cycle, D(2025, 4, 9), CAL)
    assert (cycle.paused_days, cycle.due_on) == (17, D(2025, 5, 19))


def test_two_pauses_in_one_working_day_cycle_keep_the_working_days_left() -> None:
    # 10 working days from Mon 2025-03-03. Paused Wed 03-05 after 2 (03-04, 03-05); resumed
    # Mon 03-10; paused Wed 03-12 after 2 more (03-11, 03-12), 4 used; resumed Mon 03-17: the 6
    # left are 03-18, 19, 20, 21, 24, 25 -> due Tue 03-25.
    cycle = begin(10, Unit.WORKING, D(2025, 3, 3))
    cycle = clocks.pause(cycle, D(2025, 3, 5), CAL)
    cycle = clocks.resume(cycle, D(2025, 3, 10), CAL)
    cycle = clocks.pause(cycle, D(2025, 3, 12), CAL)
    assert cycle.used == 4
    cycle = clocks.resume(cycle, D(2025, 3, 17), CAL)
    assert cycle.due_on == D(2025, 3, 25)


def test_every_party_that_can_owe_a_clock_has_a_name_a_clerk_uses() -> None:
    assert {owner: owner.label for owner in Owner} == {
        Owner.BUREAU: "本局", Owner.APPLICANT: "申请人", Owner.RESPONDENT: "被申请人",
        Owner.LAWYER: "承办律师", Owner.NOBODY: "无"}


def test_every_clock_status_has_a_name_a_clerk_uses() -> None:
    labels = {status: status.label for status in CycleStatus}
    assert labels[CycleStatus.OVERDUE] == "已逾期" and labels[CycleStatus.MET] == "按期完成"
    assert len(set(labels.values())) == len(CycleStatus)
