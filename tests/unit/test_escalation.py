"""Lapse effects and escalation rungs of `states.escalation`, every date derived by hand.

Official 2024 data (国务院办公厅 notice for 2024): 国庆 10-01 (Tue) .. 10-07 (Mon) off; Sun 09-29
and Sat 10-12 are working days. The start day is never counted; a clock is due at the end of its
due date in Asia/Shanghai and overdue from 00:00 of the next day (UTC 16:00 of the due date).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import pytest

from states import clocks
from states.calendar import SHANGHAI, Unit, default_calendar
from states.casetype import CaseType
from states.casetypes import CASE_TYPES
from states.clocks import ClockSpec, Cycle, CycleStatus, Owner, on
from states.escalation import (
    ClockOnCase,
    Decision,
    Escalation,
    Lapse,
    Rung,
    clocks_on_case,
    evaluate,
    gather_horizon,
    recipients,
    rung_dates,
)
from states.machine import fire, open_case

CAL = default_calendar()
RC = CASE_TYPES["reconsideration"]
LA = CASE_TYPES["legal_aid"]
D = date
DUE_SOON, OVERDUE, SERIOUS = Rung.DUE_SOON, Rung.OVERDUE, Rung.OVERDUE_SERIOUS


def at(text: str) -> datetime:
    """An aware instant; every literal below names its offset (+08:00 or Z)."""
    return datetime.fromisoformat(text)


def clock(
    case_type: CaseType,
    name: str,
    started: date,
    *,
    state: str = "",
    recorded: Iterable[Rung] = (),
    ref: str = "C-1",
) -> ClockOnCase:
    spec = case_type.clock_map[name]
    cycle = clocks.start(spec, 1, started, {}, CAL)
    return ClockOnCase(ref, case_type.name, state, spec, cycle, frozenset(recorded))


def with_cycle(item: ClockOnCase, cycle: Cycle) -> ClockOnCase:
    return replace(item, cycle=cycle)


def seen(decisions: list[Decision]) -> list[tuple[object, ...]]:
    """What a decision says, without the identifiers."""
    out: list[tuple[object, ...]] = []
    for d in decisions:
        if isinstance(d, Lapse):
            out.append(("lapse", d.trigger, d.effective_on))
        else:
            out.append((d.rung, "alert" if d.alert else "caught_up", d.reached_on))
    return out


# acceptance_review (受理审查, 5 working days) of a reconsideration received Fri 2024-09-27:
# 09-29 (Sun, worked), 09-30, then 10-08, 10-09, 10-10 -> due Thu 10-10. Its warning window is
# 1 working day (a clock of <= 10 days): counted back from 10-10 -> Wed 10-09.
def acceptance(recorded: Iterable[Rung] = ()) -> ClockOnCase:
    item = clock(RC, "acceptance_review", D(2024, 9, 27), state="received", recorded=recorded)
    assert item.cycle.due_on == D(2024, 10, 10)
    return item


def test_acceptance_review_warns_from_midnight_of_the_last_working_day_before_it_is_due() -> None:
    assert evaluate([acceptance()], at("2024-10-08T23:59:59+08:00"), CAL) == []
    assert seen(evaluate([acceptance()], at("2024-10-09T00:00:00+08:00"), CAL)) == [
        (DUE_SOON, "alert", D(2024, 10, 9))
    ]
    # 2024-10-08T16:00Z is already 10-09 00:00 in Shanghai
    assert seen(evaluate([acceptance()], at("2024-10-08T16:00:00Z"), CAL)) == [
        (DUE_SOON, "alert", D(2024, 10, 9))
    ]


def test_at_235959_on_its_due_date_acceptance_is_not_yet_deemed() -> None:
    warned = acceptance(recorded=[DUE_SOON])
    assert evaluate([warned], at("2024-10-10T23:59:59+08:00"), CAL) == []
    assert evaluate([warned], at("2024-10-10T15:59:59Z"), CAL) == []


@pytest.mark.parametrize("now", ["2024-10-11T00:00:00+08:00", "2024-10-10T16:00:00Z"])
def test_from_midnight_after_its_due_date_acceptance_is_deemed_on_the_due_date(now: str) -> None:
    decisions = evaluate([acceptance(recorded=[DUE_SOON])], at(now), CAL)
    assert decisions == [
        Lapse("C-1", "acceptance_review", 1, "deem_accepted", D(2024, 10, 10), "reconsideration")
    ]


# Each lapse effect, swept 20 days after the first instant it was due, dated as the law says:
# 视为受理 on the last day (art. 30), 视为放弃 and 视为撤回 the day after it (art. 31; 法律援助法
# art. 43: the applicant has the whole last day).
# - acceptance_review: received 09-27 -> due 10-10 (above), effective 10-10;
# - supplement (补正, 10 working days) requested Fri 09-27: 09-29, 09-30, 10-08, 10-09, 10-10,
#   10-11, 10-12 (Sat, worked), 10-14, 10-15, 10-16 -> due Wed 10-16, effective Thu 10-17;
# - materials (补充材料, 15 calendar days) requested Fri 09-20: 09-20 + 15 = Sat 10-05, a holiday,
#   rolled forward past 10-06 and 10-07 -> due Tue 10-08, effective Wed 10-09.
@pytest.mark.parametrize(
    ("case_type", "name", "started", "trigger", "due", "effective"),
    [
        (RC, "acceptance_review", D(2024, 9, 27), "deem_accepted", D(2024, 10, 10),
         D(2024, 10, 10)),
        (RC, "supplement", D(2024, 9, 27), "deem_abandoned", D(2024, 10, 16), D(2024, 10, 17)),
        (LA, "materials", D(2024, 9, 20), "deem_withdrawn", D(2024, 10, 8), D(2024, 10, 9)),
    ],
)
def test_every_lapse_effect_takes_legal_effect_on_its_legal_date_however_late_the_sweep(
    case_type: CaseType, name: str, started: date, trigger: str, due: date, effective: date
) -> None:
    item = clock(case_type, name, started)
    assert item.cycle.due_on == due
    late = datetime.combine(due + timedelta(days=21), time(), tzinfo=SHANGHAI)
    decisions = evaluate([item], late, CAL)
    lapses = [d for d in decisions if isinstance(d, Lapse)]
    assert [(d.trigger, d.effective_on) for d in lapses] == [(trigger, effective)]
    # A lapsing clock does not go overdue; the warning a late sweep skipped is recorded, not sent.
    rungs = [d for d in decisions if isinstance(d, Escalation)]
    assert [(d.rung, d.alert, d.caught_up) for d in rungs] == [(DUE_SOON, False, True)]


def test_materials_due_after_a_holiday_lapse_only_after_the_rolled_forward_day() -> None:
    # Raw end Sat 10-05 is a holiday; the applicant has until the end of Tue 10-08, so the
    # withdrawal is deemed on Wed 10-09 (the day after the last day), by a sweep that day.
    item = clock(LA, "materials", D(2024, 9, 20), recorded=[DUE_SOON])
    assert evaluate([item], at("2024-10-05T12:00:00+08:00"), CAL) == []
    assert evaluate([item], at("2024-10-08T23:59:59+08:00"), CAL) == []
    assert seen(evaluate([item], at("2024-10-09T00:00:00+08:00"), CAL)) == [
        ("lapse", "deem_withdrawn", D(2024, 10, 9))
    ]


# copy_to_respondent (发送副本, 7 working days) from Wed 09-25: 09-26, 09-27, 09-29 (Sun, worked),
# 09-30, 10-08, 10-09, 10-10 -> due Thu 10-10; warning from Wed 10-09; overdue from Fri 10-11;
# 5 working days after 10-10: 10-11, 10-12 (Sat, worked), 10-14, 10-15, 10-16 -> serious 10-16.
def copy_clock(recorded: Iterable[Rung] = ()) -> ClockOnCase:
    item = clock(RC, "copy_to_respondent", D(2024, 9, 25), state="under_review",
                 recorded=recorded)
    assert item.cycle.due_on == D(2024, 10, 10)
    return item


def test_an_escalating_clock_is_overdue_from_midnight_after_its_due_date() -> None:
    warned = copy_clock(recorded=[DUE_SOON])
    assert evaluate([warned], at("2024-10-10T23:59:59+08:00"), CAL) == []
    assert evaluate([warned], at("2024-10-10T15:59:59.999999Z"), CAL) == []
    for now in ("2024-10-11T00:00:00+08:00", "2024-10-10T16:00:00Z"):
        assert seen(evaluate([warned], at(now), CAL)) == [(OVERDUE, "alert", D(2024, 10, 11))]


def test_the_warning_window_of_a_60_calendar_day_clock_is_7_calendar_days() -> None:
    # decision (审理期限, 60 calendar days) accepted Thu 08-01: 08-01 + 60 = Mon 09-30, a working
    # day -> due 09-30; the window opens 7 days earlier, Mon 09-23.
    item = clock(RC, "decision", D(2024, 8, 1), state="under_review")
    assert item.cycle.due_on == D(2024, 9, 30)
    assert evaluate([item], at("2024-09-22T23:59:59+08:00"), CAL) == []
    assert seen(evaluate([item], at("2024-09-23T00:00:00+08:00"), CAL)) == [
        (DUE_SOON, "alert", D(2024, 9, 23))
    ]


def test_overdue_serious_comes_5_working_days_after_the_due_date_across_the_holiday() -> None:
    # decision due Mon 09-30. Overdue from 10-01, a holiday: the clock runs out all the same.
    # Working days after 09-30: 10-08, 10-09, 10-10, 10-11, 10-12 (Sat, worked) -> serious 10-12.
    warned = clock(RC, "decision", D(2024, 8, 1), recorded=[DUE_SOON])
    assert seen(evaluate([warned], at("2024-10-01T00:00:00+08:00"), CAL)) == [
        (OVERDUE, "alert", D(2024, 10, 1))
    ]
    overdue = replace(warned, rungs_recorded=frozenset({DUE_SOON, OVERDUE}))
    assert evaluate([overdue], at("2024-10-07T12:00:00+08:00"), CAL) == []
    assert evaluate([overdue], at("2024-10-11T23:59:59+08:00"), CAL) == []
    assert seen(evaluate([overdue], at("2024-10-12T00:00:00+08:00"), CAL)) == [
        (SERIOUS, "alert", D(2024, 10, 12))
    ]


def test_a_sweep_10_days_late_records_every_rung_and_alerts_only_the_highest() -> None:
    # copy_to_respondent due 10-10, first swept Sun 10-20: 7 working days late (10-11, 10-12,
    # 10-14 .. 10-18), so all three rungs were reached while no sweep ran.
    decisions = evaluate([copy_clock()], at("2024-10-20T09:00:00+08:00"), CAL)
    assert seen(decisions) == [
        (DUE_SOON, "caught_up", D(2024, 10, 9)),
        (OVERDUE, "caught_up", D(2024, 10, 11)),
        (SERIOUS, "alert", D(2024, 10, 16)),
    ]
    assert all(isinstance(d, Escalation) and d.due_on == D(2024, 10, 10) for d in decisions)
    recorded = copy_clock(recorded=[DUE_SOON, OVERDUE, SERIOUS])
    assert evaluate([recorded], at("2024-10-20T09:00:00+08:00"), CAL) == []
    assert evaluate([recorded], at("2024-12-31T09:00:00+08:00"), CAL) == []


def test_a_rung_not_above_one_already_recorded_is_never_sent() -> None:
    # Only the serious rung on record (say, imported): the lower ones fill in without alerts.
    item = copy_clock(recorded=[SERIOUS])
    assert seen(evaluate([item], at("2024-10-20T09:00:00+08:00"), CAL)) == [
        (DUE_SOON, "caught_up", D(2024, 10, 9)),
        (OVERDUE, "caught_up", D(2024, 10, 11)),
    ]


def test_paused_and_stopped_cycles_reach_nothing() -> None:
    decision = clock(RC, "decision", D(2024, 8, 1))
    late = at("2024-12-31T09:00:00+08:00")
    paused = clocks.pause(decision.cycle, D(2024, 9, 2), CAL)  # 中止 before the due date
    assert paused.status is CycleStatus.PAUSED
    accepting = acceptance()
    stopped = [
        with_cycle(decision, paused),
        with_cycle(decision, clocks.stop(decision.cycle, D(2024, 9, 2))),  # met
        with_cycle(decision, clocks.stop(decision.cycle, D(2024, 10, 9))),  # missed
        with_cycle(decision, clocks.close(decision.cycle, D(2024, 9, 2))),  # cancelled
        with_cycle(accepting, clocks.lapse(accepting.cycle)),  # already deemed accepted
    ]
    assert [s.cycle.status for s in stopped[1:]] == [
        CycleStatus.MET, CycleStatus.MISSED, CycleStatus.CANCELLED, CycleStatus.MISSED]
    assert evaluate(stopped, late, CAL) == []
    # the same cycles running would all decide something at that instant
    running = [decision, accepting]
    assert {d.clock for d in evaluate(running, late, CAL)} == {"decision", "acceptance_review"}


def test_decisions_come_ordered_by_case_clock_cycle_then_rung() -> None:
    now = at("2024-10-20T09:00:00+08:00")
    b_copy = replace(copy_clock(), ref="B")
    a_accept = replace(acceptance(), ref="A")
    a_copy = replace(copy_clock(recorded=[DUE_SOON]), ref="A")
    decisions = evaluate([b_copy, a_copy, a_accept], now, CAL)
    assert [
        (d.ref, d.clock, d.rung if isinstance(d, Escalation) else "lapse") for d in decisions
    ] == [
        ("A", "acceptance_review", DUE_SOON),
        ("A", "acceptance_review", "lapse"),
        ("A", "copy_to_respondent", OVERDUE),
        ("A", "copy_to_respondent", SERIOUS),
        ("B", "copy_to_respondent", DUE_SOON),
        ("B", "copy_to_respondent", OVERDUE),
        ("B", "copy_to_respondent", SERIOUS),
    ]


def test_rung_dates_of_an_escalating_clock_and_of_a_lapsing_one() -> None:
    copy = copy_clock()
    assert rung_dates(copy.spec, copy.cycle, CAL) == {
        DUE_SOON: D(2024, 10, 9), OVERDUE: D(2024, 10, 11), SERIOUS: D(2024, 10, 16)}
    accepting = acceptance()
    assert rung_dates(accepting.spec, accepting.cycle, CAL) == {DUE_SOON: D(2024, 10, 9)}


def test_the_warning_never_predates_the_cycle() -> None:
    # 3 calendar days from Mon 03-04 -> Thu 03-07 with a 7-day window that would open 02-29.
    spec = ClockSpec("short", "短期", 3, Unit.CALENDAR, "test", Owner.BUREAU,
                     starts=(on("open"),), warning_days=7, warning_unit=Unit.CALENDAR)
    cycle = clocks.start(spec, 1, D(2024, 3, 4), {}, CAL)
    assert cycle.due_on == D(2024, 3, 7)
    assert rung_dates(spec, cycle, CAL)[DUE_SOON] == D(2024, 3, 4)


def test_a_working_day_window_counts_back_over_the_holiday() -> None:
    # A 3-working-day window on a clock due Tue 10-08: back over 10-01..10-07 to 09-30 (1),
    # 09-29 (Sun, worked, 2), 09-27 (3) -> warns from Fri 09-27, not from Thu 09-26.
    spec = ClockSpec("w", "测试", 20, Unit.CALENDAR, "test", Owner.BUREAU,
                     starts=(on("open"),), warning_days=3, warning_unit=Unit.WORKING)
    cycle = clocks.start(spec, 1, D(2024, 9, 18), {}, CAL)  # 09-18 + 20 = Tue 10-08
    assert cycle.due_on == D(2024, 10, 8)
    item = ClockOnCase("C-1", "t", "s", spec, cycle)
    assert evaluate([item], at("2024-09-26T23:59:59+08:00"), CAL) == []
    assert seen(evaluate([item], at("2024-09-27T00:00:00+08:00"), CAL)) == [
        (DUE_SOON, "alert", D(2024, 9, 27))
    ]


def test_the_gather_horizon_covers_the_widest_warning_window() -> None:
    # Mon 2024-09-30: 7-day windows reach due dates up to 10-07; a 1-working-day window reaches
    # every due date before the 2nd working day after 09-30 (10-08 is the 1st, 10-09 the 2nd),
    # i.e. up to 10-08.
    assert gather_horizon(CASE_TYPES, at("2024-09-30T10:00:00+08:00"), CAL) == D(2024, 10, 8)
    # Tue 2024-03-12: the 1-working-day window reaches 03-13, the 7-day one 03-19.
    assert gather_horizon(CASE_TYPES, at("2024-03-12T10:00:00+08:00"), CAL) == D(2024, 3, 19)
    # A policy's 3-working-day window, at Fri 09-27: the working days after are 09-29 (Sun,
    # worked), 09-30, 10-08, then 10-09, the 4th -> every due date up to 10-08.
    spec = replace(RC.clock_map["decision"], warning_days=3, warning_unit=Unit.WORKING)
    policy = {"reconsideration": replace(RC, clocks=(spec,))}
    now = at("2024-09-27T10:00:00+08:00")
    assert gather_horizon(policy, now, CAL) == D(2024, 10, 8)
    # The same at Tue 03-12: 03-13, 03-14, 03-15 (Fri, the 3rd), then Mon 03-18 (the 4th): the
    # bound is Sun 03-17, safe even for a due date on a rest day.
    assert gather_horizon(policy, at("2024-03-12T10:00:00+08:00"), CAL) == D(2024, 3, 17)
    assert gather_horizon({}, now, CAL) == D(2024, 9, 27)


def test_recipients_widen_with_each_rung() -> None:
    assert recipients(DUE_SOON) == ("clerk",)
    assert recipients(OVERDUE) == ("clerk", "supervisor")
    assert recipients(SERIOUS) == ("clerk", "supervisor", "leader")
    assert recipients(Rung.ARISEN) == ("clerk", "supervisor")
    assert [r.level for r in Rung] == [0, 1, 2, 3]


def test_each_rung_has_its_chinese_label() -> None:
    assert [r.label for r in Rung] == ["预警", "逾期", "严重逾期", "期间届满提示"]


def test_a_lapse_applied_through_the_machine_starts_clocks_that_a_second_pass_escalates() -> None:
    # Received Fri 09-27, never touched; the first sweep runs Wed 10-30.
    now = at("2024-10-30T09:00:00+08:00")
    case = open_case(RC, D(2024, 9, 27), ref="RC-7", calendar=CAL).case
    first = evaluate(clocks_on_case(RC, "RC-7", case.state, case.cycles, {}), now, CAL)
    lapse = next(d for d in first if isinstance(d, Lapse))
    assert (lapse.ref, lapse.case_type, lapse.effective_on) == (
        "RC-7", "reconsideration", D(2024, 10, 10))
    case = fire(RC, case, lapse.trigger, lapse.effective_on, by_system=True, calendar=CAL).case
    assert case.state == "under_review"
    # copy_to_respondent now counts from 10-10: 10-11, 10-12 (Sat, worked), 10-14 .. 10-18
    # -> due Fri 10-18; by 10-30 it is 8 working days late (10-21 .. 10-25, 10-28 .. 10-30).
    # decision: 10-10 + 60 = Mon 12-09, its window opens 12-02: nothing yet.
    recorded = {("acceptance_review", 1): frozenset({DUE_SOON})}
    items = clocks_on_case(RC, "RC-7", case.state, case.cycles, recorded)
    assert sorted(i.cycle.clock for i in items) == ["copy_to_respondent", "decision"]
    second = evaluate(items, now, CAL)
    assert [(d.clock, seen([d])[0]) for d in second] == [
        ("copy_to_respondent", (DUE_SOON, "caught_up", D(2024, 10, 17))),
        ("copy_to_respondent", (OVERDUE, "caught_up", D(2024, 10, 19))),
        ("copy_to_respondent", (SERIOUS, "alert", D(2024, 10, 25))),
    ]


def test_a_cycle_given_with_another_clocks_spec_is_refused() -> None:
    item = acceptance()
    with pytest.raises(ValueError, match="supplement"):
        ClockOnCase("C-1", "reconsideration", "received", RC.clock_map["supplement"], item.cycle)
