"""`states.recalendar`: a case's running clocks re-projected on new calendar data (DESIGN.md §3).

2027 has no State Council notice in the packaged data: it is provisional (weekends and the
statutory holidays themselves: 春节 02-05 (Fri) .. 02-08 (Mon)). The "notice" below is FICTIONAL
TEST DATA, not the real one: it gives 春节 02-05 (Fri) .. 02-11 (Thu) off, with Sun 01-31 and
Sat 02-20 worked. Every expected date is derived by hand; the start day is never counted.

February 2027: Mon 02-01, Tue 02, Wed 03, Thu 04, Fri 05, Sat 06, Sun 07, Mon 08, Tue 09,
Wed 10, Thu 11, Fri 12, Sat 13, Sun 14, Mon 15 .. Fri 19, Sat 20, Sun 21, Mon 22.
"""

from __future__ import annotations

from datetime import date

import pytest
from calendar_data import FICTIONAL_2027

from states.calendar import WorkCalendar, packaged_years, parse_calendar_data
from states.case import CaseSnapshot, ClockChange
from states.casetype import Actor
from states.casetypes import CASE_TYPES
from states.clocks import CycleStatus
from states.machine import fire, open_case
from states.recalendar import recalendar

NOTICE = parse_calendar_data(FICTIONAL_2027, origin="test")
# 2027 left out explicitly, so the test holds whatever chinesecalendar learns later
BEFORE_YEARS = {year: data for year, data in packaged_years().items() if year != 2027}
BEFORE = WorkCalendar(BEFORE_YEARS)
AFTER = WorkCalendar({**BEFORE_YEARS, **NOTICE})
RC = CASE_TYPES["reconsideration"]
CP = CASE_TYPES["complaint"]
D = date


def opened(on: date, case_type=RC) -> CaseSnapshot:
    return open_case(case_type, on, calendar=BEFORE).case


def step(case: CaseSnapshot, trigger: str, on: date, case_type=RC, **attrs: object):
    return fire(case_type, case, trigger, on, attrs=attrs, calendar=BEFORE).case


def due(case: CaseSnapshot, clock: str) -> date:
    return next(c.due_on for c in case.cycles if c.clock == clock)


def test_the_fictional_notice_moves_the_spring_festival() -> None:
    assert BEFORE.is_provisional(2027) and not AFTER.is_provisional(2027)
    assert BEFORE.is_workday(D(2027, 2, 9)) and not AFTER.is_workday(D(2027, 2, 9))
    assert not BEFORE.is_workday(D(2027, 2, 20)) and AFTER.is_workday(D(2027, 2, 20))


def test_a_running_working_day_clock_is_reprojected_and_recorded() -> None:
    # 受理审查 5 working days from Mon 02-01.
    # Provisional: 02, 03, 04, (05..08 off), 09, 10 -> 02-10.
    # Notice: 02, 03, 04, (05..11 off), 12, (weekend), 15 -> 02-15.
    case = opened(D(2027, 2, 1))
    assert due(case, "acceptance_review") == D(2027, 2, 10)
    fired = recalendar(RC, case, AFTER, D(2027, 2, 3), years=[2027], source="TEST notice")
    assert fired is not None
    after, event = fired
    assert due(after, "acceptance_review") == D(2027, 2, 15)
    assert after.cycles[0].status is CycleStatus.RUNNING
    assert after.version == case.version + 1
    assert (after.state, after.attrs, after.last_on) == (case.state, case.attrs, case.last_on)
    assert event.trigger == "recalendar"
    assert (event.source, event.dest) == ("received", "received")
    assert (event.actor, event.by, event.on) == (Actor.SYSTEM, "system", D(2027, 2, 3))
    assert event.attrs == {"years": "2027", "source": "TEST notice"}
    assert event.clocks == (
        ClockChange("acceptance_review", 1, "reprojected", D(2027, 2, 15), CycleStatus.RUNNING),
    )
    assert case.cycles[0].due_on == D(2027, 2, 10)  # the input is never changed


def test_a_calendar_day_clock_rolls_forward_over_the_new_rest_days() -> None:
    # 审理期限 60 calendar days from Fri 2026-12-11: 2027-02-09 (Tue), a working day when
    # provisional; a rest day in the notice, so it rolls forward to Fri 02-12.
    case = step(opened(D(2026, 12, 10)), "accept", D(2026, 12, 11))
    assert due(case, "decision") == D(2027, 2, 9)
    fired = recalendar(RC, case, AFTER, D(2026, 12, 20), years=[2027])
    assert fired is not None
    assert due(fired.case, "decision") == D(2027, 2, 12)
    # 发送副本 7 working days from 12-11 ends in 2026 (12-22): unchanged, not reported
    assert [c.clock for c in fired.event.clocks] == ["decision"]
    assert due(fired.case, "copy_to_respondent") == due(case, "copy_to_respondent")


def test_stopped_cycles_keep_the_dates_they_were_judged_by() -> None:
    # Accepted on Wed 02-03: 受理审查 (due 02-10 on the provisional data) is met and stays so.
    # 发送副本 7 working days from 02-03: provisional 04, 09, 10, 11, 12, 15, 16 -> 02-16;
    # notice 04, 12, 15, 16, 17, 18, 19 -> 02-19.
    # 审理期限 60 calendar days: 04-04 (Sun) -> Mon 04-05 清明 off in both -> 04-06: unchanged.
    case = step(opened(D(2027, 2, 1)), "accept", D(2027, 2, 3))
    fired = recalendar(RC, case, AFTER, D(2027, 2, 3), years=[2027])
    assert fired is not None
    met = fired.case.cycles[0]
    assert met == case.cycles[0]
    assert (met.status, met.due_on) == (CycleStatus.MET, D(2027, 2, 10))
    assert [(c.clock, c.due_on) for c in fired.event.clocks] == [
        ("copy_to_respondent", D(2027, 2, 19)),
    ]
    assert due(fired.case, "decision") == D(2027, 4, 6)


def test_nothing_moved_gives_none() -> None:
    # every clock of a 2026 case ends in 2026
    case = step(opened(D(2026, 6, 1)), "accept", D(2026, 6, 2))
    assert recalendar(RC, case, AFTER, D(2026, 11, 27), years=[2027]) is None
    # the same data applied twice: the second time nothing moves
    fired = recalendar(RC, opened(D(2027, 2, 1)), AFTER, D(2027, 2, 1), years=[2027])
    assert fired is not None
    assert recalendar(RC, fired.case, AFTER, D(2027, 2, 2), years=[2027]) is None


def test_a_closed_case_has_nothing_to_reproject() -> None:
    case = step(step(opened(D(2027, 2, 1)), "accept", D(2027, 2, 2)), "withdraw", D(2027, 2, 3))
    assert all(not c.live for c in case.cycles)
    assert recalendar(RC, case, AFTER, D(2027, 2, 3)) is None


def test_the_event_is_never_dated_before_the_case_previous_event() -> None:
    case = step(opened(D(2027, 2, 1)), "request_supplement", D(2027, 2, 4))
    fired = recalendar(RC, case, AFTER, D(2026, 11, 27), years=[2027])
    assert fired is not None
    assert fired.event.on == D(2027, 2, 4) == case.last_on


def test_a_paused_working_day_clock_is_recounted_from_its_start() -> None:
    # 投诉受理审查 10 working days from Mon 02-01, paused on 02-10 (通知补正).
    # Counted before the pause: provisional 02, 03, 04, 09, 10 = 5; notice 02, 03, 04 = 3.
    # Due if resumed at the pause: provisional 02..04, 09..12, 15..17 -> 02-17;
    # notice 02..04, 12, 15..19, Sat 20 (worked) -> 02-20.
    case = step(opened(D(2027, 2, 1), CP), "request_supplement", D(2027, 2, 10), CP)
    paused = case.cycles[0]
    assert (paused.status, paused.used, paused.due_on) == (CycleStatus.PAUSED, 5, D(2027, 2, 17))
    fired = recalendar(CP, case, AFTER, D(2027, 2, 10), years=[2027])
    assert fired is not None
    recounted = fired.case.cycles[0]
    assert (recounted.status, recounted.used, recounted.due_on) == (
        CycleStatus.PAUSED, 3, D(2027, 2, 20),
    )
    # 补正 10 working days from 02-10: 11, 12, 15..19, 22..24 -> 02-24 provisional; the notice
    # gives 12, 15..19, 20, 22..24 -> 02-24 too: not reported
    assert [c.clock for c in fired.event.clocks] == ["acceptance"]
    # resumed on Mon 02-22 on the new data: 7 working days left -> 23..26, 03-01..03 -> 03-03
    resumed = fire(CP, fired.case, "receive_supplement", D(2027, 2, 22), calendar=AFTER).case
    assert resumed.cycles[0].due_on == D(2027, 3, 3)


def test_a_case_of_another_type_is_refused() -> None:
    with pytest.raises(ValueError):
        recalendar(CP, opened(D(2027, 2, 1)), AFTER, D(2027, 2, 1))
