"""Lapse effects take legal effect on the period's last day, and answer the right clocks."""

from __future__ import annotations

from datetime import date

import pytest

from states.calendar import default_calendar
from states.casetypes import CASE_TYPES
from states.errors import ClockRuleViolation
from states.machine import fire, open_case

CAL = default_calendar()
RC = CASE_TYPES["reconsideration"]
LA = CASE_TYPES["legal_aid"]


def test_a_late_sweep_still_deems_acceptance_on_the_last_day_of_review() -> None:
    # Received Fri 2024-09-27: 5 working days -> 10-10 (09-29 and 09-30 worked, then 10-08..10).
    case = open_case(RC, date(2024, 9, 27), calendar=CAL).case
    with pytest.raises(ClockRuleViolation) as late:
        fire(RC, case, "deem_accepted", date(2024, 10, 14), by_system=True, calendar=CAL)
    assert late.value.allowed == ["on=2024-10-10"]
    deemed = fire(RC, case, "deem_accepted", date(2024, 10, 10), by_system=True, calendar=CAL)
    decision = deemed.case.live_cycle("decision")
    assert decision is not None and decision.started_on == date(2024, 10, 10)


def test_provisional_aid_answers_the_materials_clock() -> None:
    # Materials requested 2024-03-04 (15 calendar days -> 03-19); aid given provisionally on
    # 03-06 (art. 44): the wait for materials is over, met in time.
    case = open_case(LA, date(2024, 3, 1), calendar=CAL).case
    case = fire(LA, case, "request_materials", date(2024, 3, 4), calendar=CAL).case
    case = fire(LA, case, "approve_provisionally", date(2024, 3, 6), reason="急迫",
                calendar=CAL).case
    materials = [c for c in case.cycles if c.clock == "materials"]
    assert [(c.status.value, c.stopped_on) for c in materials] == [("met", date(2024, 3, 6))]
    assert case.admitted_on == date(2024, 3, 6)


def test_a_declined_assignment_stops_the_lawyers_clock_and_reopening_admits() -> None:
    case = open_case(LA, date(2024, 3, 1), calendar=CAL).case
    case = fire(LA, case, "approve", date(2024, 3, 4), calendar=CAL).case
    case = fire(LA, case, "assign", date(2024, 3, 5), attrs={"lawyer": "L1"}, calendar=CAL).case
    case = fire(LA, case, "decline_assignment", date(2024, 3, 6), reason="利益冲突",
                calendar=CAL).case
    engagement = [c for c in case.cycles if c.clock == "engagement"]
    assert [c.status.value for c in engagement] == ["met"]

    denied = open_case(LA, date(2024, 3, 1), calendar=CAL).case
    denied = fire(LA, denied, "deny", date(2024, 3, 4), reason="不符合经济困难标准",
                  calendar=CAL).case
    assert denied.admitted_on is None
    denied = fire(LA, denied, "file_objection", date(2024, 3, 8), calendar=CAL).case
    reopened = fire(LA, denied, "order_correction", date(2024, 3, 11), calendar=CAL).case
    assert (reopened.state, reopened.admitted_on, reopened.closed_on) == (
        "approved", date(2024, 3, 11), None)
