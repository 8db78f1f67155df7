"""Whole lifecycles of each case type, with every date and due date worked out by hand.

Counting (DESIGN.md §3): the start day is not counted; N working days end on the N-th working
day after the start; N calendar days end on start + N, rolled forward once to a working day.
Official holidays used below:
- 2024 National Day: 10-01..10-07 off; Sun 09-29 and Sat 10-12 worked.
- 2025 New Year: 01-01 (Wed) off.
- 2025 Spring Festival: 01-28..02-04 off; Sun 01-26 and Sat 02-08 worked.
- 2025 Labour Day: 05-01..05-05 off; Sun 04-27 worked (only for the 05-11 roll-forward).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date

import pytest

from states.calendar import WorkCalendar
from states.case import CaseSnapshot, Fired
from states.casetypes import CASE_TYPES
from states.clocks import Cycle, CycleStatus
from states.errors import (
    ActorNotAllowed,
    ClockRuleViolation,
    InvalidAttribute,
    InvalidLegalDate,
    RuleViolation,
    UnknownTrigger,
)
from states.machine import fire, open_case

CAL = WorkCalendar()
RC = CASE_TYPES["reconsideration"]
LA = CASE_TYPES["legal_aid"]
CP = CASE_TYPES["complaint"]

RUNNING, PAUSED = CycleStatus.RUNNING, CycleStatus.PAUSED
MET, MISSED, CANCELLED = CycleStatus.MET, CycleStatus.MISSED, CycleStatus.CANCELLED


def d(text: str) -> date:
    return date.fromisoformat(text)


def cycle(case: CaseSnapshot, clock: str, number: int | None = None) -> Cycle:
    """The latest cycle of ``clock`` (or cycle ``number``)."""
    found = [c for c in case.cycles if c.clock == clock and number in (None, c.cycle)]
    assert found, f"no cycle of {clock}"
    return found[-1]


def clock_view(case: CaseSnapshot) -> dict[tuple[str, int], tuple[str, CycleStatus]]:
    return {(c.clock, c.cycle): (c.due_on.isoformat(), c.status) for c in case.cycles}


def go(
    case_type: object,
    case: CaseSnapshot,
    trigger: str,
    on: str,
    attrs: Mapping[str, object] | None = None,
    **kwargs: object,
) -> CaseSnapshot:
    fired = fire(case_type, case, trigger, d(on), attrs=attrs, calendar=CAL, **kwargs)  # type: ignore[arg-type]
    assert isinstance(fired, Fired)
    assert fired.event.trigger == trigger and fired.event.on == d(on)
    return fired.case


# -- 行政复议 -------------------------------------------------------------------------------


def rc_opened() -> CaseSnapshot:
    return open_case(RC, d("2024-09-27"), attrs={"applicant": "张三"}, calendar=CAL).case


def rc_accepted(procedure: str = "ordinary") -> CaseSnapshot:
    # accepted Mon 2024-09-30
    return go(RC, rc_opened(), "accept", "2024-09-30", {"procedure": procedure})


def test_reconsideration_full_walk() -> None:
    case = rc_opened()
    assert case.state == "received"
    # 5 working days from Fri 09-27: 09-29 (Sun, worked), 09-30, [10-01..07 off], 10-08, 10-09,
    # 10-10
    assert clock_view(case) == {("acceptance_review", 1): ("2024-10-10", RUNNING)}
    assert case.opened_on == case.last_on == d("2024-09-27")
    assert case.admitted_on is None and case.closed_on is None

    case = go(RC, case, "request_supplement", "2024-09-30")
    assert case.state == "awaiting_supplement"
    # supplement: 10 working days from Mon 09-30: 10-08, 09, 10, 11, 12 (Sat, worked), 14, 15,
    # 16, 17, 18
    assert clock_view(case) == {
        ("acceptance_review", 1): ("2024-10-10", MET),
        ("supplement", 1): ("2024-10-18", RUNNING),
    }

    case = go(RC, case, "receive_supplement", "2024-10-14")
    assert case.state == "received"
    # a new acceptance_review cycle, 5 working days from Mon 10-14: 15, 16, 17, 18, 21
    assert clock_view(case)[("supplement", 1)] == ("2024-10-18", MET)
    assert clock_view(case)[("acceptance_review", 2)] == ("2024-10-21", RUNNING)

    case = go(RC, case, "accept", "2024-10-16")
    assert case.state == "under_review"
    assert case.attrs["procedure"] == "ordinary"  # the default (art. 53)
    assert case.admitted_on == d("2024-10-16")
    view = clock_view(case)
    assert view[("acceptance_review", 2)] == ("2024-10-21", MET)
    # copy_to_respondent: 7 working days from Wed 10-16: 17, 18, 21, 22, 23, 24, 25
    assert view[("copy_to_respondent", 1)] == ("2024-10-25", RUNNING)
    # decision: 10-16 + 60 = 12-15, a Sunday -> Mon 12-16
    assert view[("decision", 1)] == ("2024-12-16", RUNNING)
    assert cycle(case, "decision").raw_end == d("2024-12-15")

    case = go(RC, case, "send_copy", "2024-10-23")
    # respondent_reply: 10 working days from Wed 10-23: 24, 25, 28, 29, 30, 31, 11-01, 04, 05, 06
    assert clock_view(case)[("copy_to_respondent", 1)] == ("2024-10-25", MET)
    assert clock_view(case)[("respondent_reply", 1)] == ("2024-11-06", RUNNING)

    case = go(RC, case, "receive_reply", "2024-11-04")
    assert clock_view(case)[("respondent_reply", 1)] == ("2024-11-06", MET)
    assert case.state == "under_review"

    # 中止 on Mon 12-02, ground 1 (art. 39(1)) starts suspension_limit
    case = go(RC, case, "suspend", "2024-12-02", {"ground": 1})
    assert case.state == "suspended"
    decision = cycle(case, "decision")
    assert decision.status is PAUSED and decision.paused_since == d("2024-12-02")
    assert decision.used == 47  # 10-16 -> 12-02: 15 + 30 + 2 days counted, 13 left
    # suspension_limit: 12-02 + 60 = 2025-01-31, in the Spring Festival -> Wed 02-05
    assert clock_view(case)[("suspension_limit", 1)] == ("2025-02-05", RUNNING)

    # resumed Tue 2025-01-07, across New Year: paused 36 calendar days (12-02 -> 01-07), so the
    # raw end 12-15 moves to 01-20 (Mon, a working day). Rolling forward once, at the end, matters:
    # moving the rolled 12-16 by 36 days would give 01-21.
    case = go(RC, case, "resume", "2025-01-07")
    assert case.state == "under_review"
    decision = cycle(case, "decision")
    assert (decision.status, decision.paused_days) == (RUNNING, 36)
    assert (decision.raw_end, decision.due_on) == (d("2025-01-20"), d("2025-01-20"))
    # a notice owed by nobody: resumed before its day came, it is cancelled, never missed
    assert clock_view(case)[("suspension_limit", 1)] == ("2025-02-05", CANCELLED)

    # 延长 (art. 62) by 15 days: raw 01-20 + 15 = 02-04, a Spring Festival day -> Wed 02-05
    case = go(RC, case, "extend", "2025-01-08", {"days": 15}, by="科长")
    decision = cycle(case, "decision")
    assert (decision.extended_days, decision.extensions) == (15, 1)
    assert (decision.raw_end, decision.due_on) == (d("2025-02-04"), d("2025-02-05"))
    assert "days" not in case.attrs  # recorded on the event only
    with pytest.raises(ClockRuleViolation, match="already extended"):
        go(RC, case, "extend", "2025-01-09", {"days": 1})

    case = go(RC, case, "decide", "2025-02-05", {"decision": "maintain"})
    assert case.state == "decided"
    assert case.closed_on == d("2025-02-05")
    assert case.attrs["decision"] == "maintain"
    assert clock_view(case)[("decision", 1)] == ("2025-02-05", MET)  # on its last day
    assert not any(c.live for c in case.cycles)
    # a decided case takes nothing more
    with pytest.raises(RuleViolation):
        go(RC, case, "resume", "2025-02-06")


def test_reconsideration_extension_limits() -> None:
    case = rc_accepted()
    # over the 30-day cap of art. 62
    with pytest.raises(InvalidAttribute) as err:
        go(RC, case, "extend", "2024-10-08", {"days": 31})
    assert err.value.allowed == ["days=1..30"]
    # decision: 09-30 + 60 = 11-29 (Fri); once lapsed it cannot be extended
    assert cycle(case, "decision").due_on == d("2024-11-29")
    with pytest.raises(ClockRuleViolation, match="lapsed"):
        go(RC, case, "extend", "2024-11-30", {"days": 10})
    # on its last day it still can: 11-29 + 30 = 12-29, a Sunday -> Mon 12-30
    extended = go(RC, case, "extend", "2024-11-29", {"days": 30})
    assert cycle(extended, "decision").due_on == d("2024-12-30")
    # simplified procedure: no extension (art. 62 applies to ordinary procedure only)
    with pytest.raises(ClockRuleViolation, match="ordinary"):
        go(RC, rc_accepted("simplified"), "extend", "2024-10-08", {"days": 5})


def test_reconsideration_extend_while_suspended() -> None:
    case = go(RC, rc_accepted(), "suspend", "2024-10-08", {"ground": 3})
    assert not [c for c in case.cycles if c.clock == "suspension_limit"]  # ground 3: none
    # decision paused on 10-08 with 8 days used (09-30 -> 10-08), 52 left
    case = go(RC, case, "extend", "2024-10-09", {"days": 10})
    decision = cycle(case, "decision")
    assert (decision.status, decision.extended_days) == (PAUSED, 10)
    # resumed Mon 10-14: 62 days left -> 12-15 (Sun) -> Mon 12-16
    case = go(RC, case, "resume", "2024-10-14")
    assert cycle(case, "decision").due_on == d("2024-12-16")


def test_reconsideration_deemed_acceptance() -> None:
    case = rc_opened()
    with pytest.raises(ActorNotAllowed) as err:
        go(RC, case, "deem_accepted", "2024-10-10")
    assert "deem_accepted" not in err.value.allowed and "accept" in err.value.allowed

    # not before the review period has run out
    with pytest.raises(ClockRuleViolation) as early:
        fire(RC, case, "deem_accepted", d("2024-10-09"), by_system=True, calendar=CAL)
    assert early.value.allowed == ["on=2024-10-10"]
    # the sweep applies 视为受理 with effect on the last day of review, 10-10 (art. 30)
    fired = fire(RC, case, "deem_accepted", d("2024-10-10"), by_system=True, calendar=CAL)
    case = fired.case
    assert fired.event.actor == "system"
    assert case.state == "under_review"
    assert case.attrs["procedure"] == "ordinary"
    assert case.admitted_on == d("2024-10-10")
    review = cycle(case, "acceptance_review")
    assert (review.status, review.stopped_on) == (MISSED, d("2024-10-10"))
    # copy_to_respondent: 7 working days from Thu 10-10: 11, 12 (Sat, worked), 14, 15, 16, 17, 18
    assert clock_view(case)[("copy_to_respondent", 1)] == ("2024-10-18", RUNNING)
    # decision: 10-10 + 60 = 12-09 (Mon)
    assert clock_view(case)[("decision", 1)] == ("2024-12-09", RUNNING)
    assert cycle(case, "decision").started_on == d("2024-10-10")


def test_reconsideration_convert_to_ordinary() -> None:
    case = rc_accepted("simplified")
    assert case.attrs["procedure"] == "simplified"
    # simplified (art. 54): copy 3 working days from Mon 09-30: 10-08, 09, 10;
    # decision 30 days: 09-30 + 30 = 10-30 (Wed)
    assert clock_view(case)[("copy_to_respondent", 1)] == ("2024-10-10", RUNNING)
    assert clock_view(case)[("decision", 1)] == ("2024-10-30", RUNNING)

    case = go(RC, case, "convert_to_ordinary", "2024-10-08", by="科长")
    assert case.attrs["procedure"] == "ordinary"
    # ordinary, still counted from acceptance on 09-30: copy 7 working days: 10-08, 09, 10, 11,
    # 12 (Sat, worked), 14, 15; decision 09-30 + 60 = 11-29 (Fri)
    assert clock_view(case)[("copy_to_respondent", 1)] == ("2024-10-15", RUNNING)
    assert clock_view(case)[("decision", 1)] == ("2024-11-29", RUNNING)
    assert cycle(case, "decision").started_on == d("2024-09-30")
    # once ordinary, it cannot convert again
    with pytest.raises(RuleViolation, match="simplified"):
        go(RC, case, "convert_to_ordinary", "2024-10-09")
    # and the ordinary decision period can now be extended
    assert cycle(go(RC, case, "extend", "2024-10-09", {"days": 1}), "decision").extensions == 1


def test_reconsideration_convert_relengthens_the_reply_period() -> None:
    case = go(RC, rc_accepted("simplified"), "send_copy", "2024-10-08")
    # simplified reply: 5 working days from Tue 10-08: 09, 10, 11, 12 (Sat, worked), 14
    assert clock_view(case)[("respondent_reply", 1)] == ("2024-10-14", RUNNING)
    case = go(RC, case, "convert_to_ordinary", "2024-10-09")
    # ordinary: 10 working days from 10-08: 09, 10, 11, 12, 14, 15, 16, 17, 18, 21
    assert clock_view(case)[("respondent_reply", 1)] == ("2024-10-21", RUNNING)
    # the copy was sent in time under the simplified length and stays as it was judged
    assert clock_view(case)[("copy_to_respondent", 1)] == ("2024-10-10", MET)


def test_reconsideration_hearing_notice_period() -> None:
    case = rc_accepted()
    # 5 working days after Mon 09-30: 10-08, 09, 10, 11, 12 (Sat, worked) -> earliest 10-12
    with pytest.raises(InvalidAttribute, match="2024-10-12") as err:
        go(RC, case, "schedule_hearing", "2024-09-30", {"hearing_on": "2024-10-11"})
    assert err.value.allowed == ["hearing_on>=2024-10-12"]
    case = go(RC, case, "schedule_hearing", "2024-09-30", {"hearing_on": "2024-10-12"})
    assert case.attrs["hearing_on"] == "2024-10-12"
    assert case.state == "under_review"


def test_reconsideration_terminal_closes_live_clocks_by_their_due_dates() -> None:
    case = go(RC, rc_accepted(), "send_copy", "2024-10-08")
    # respondent_reply: 10 working days from Tue 10-08: 09, 10, 11, 12, 14, 15, 16, 17, 18, 21
    assert cycle(case, "respondent_reply").due_on == d("2024-10-21")
    before = go(RC, case, "mediate", "2024-10-21")
    assert before.closed_on == d("2024-10-21")
    assert cycle(before, "respondent_reply").status is CANCELLED  # not yet past due
    assert cycle(before, "decision").status is MET  # ends with the case, in time
    after = go(RC, case, "withdraw", "2024-10-22")
    assert cycle(after, "respondent_reply").status is MISSED  # past due when the case ended
    assert cycle(after, "decision").status is MET


def test_reconsideration_supplement_lapse_and_extension() -> None:
    case = go(RC, rc_opened(), "request_supplement", "2024-09-30")
    with pytest.raises(InvalidAttribute, match="reason"):
        go(RC, case, "extend_supplement", "2024-10-08", {"days": 5})
    # supplement due 10-18 (see the full walk) + 5 working days: 21, 22, 23, 24, 25
    extended = go(RC, case, "extend_supplement", "2024-10-08", {"days": 5}, reason="在外地")
    assert cycle(extended, "supplement").due_on == d("2024-10-25")
    # 视为放弃 takes effect the day after the last day (the applicant has the whole of 10-18)
    with pytest.raises(ClockRuleViolation, match="2024-10-19"):
        fire(RC, case, "deem_abandoned", d("2024-10-18"), by_system=True, calendar=CAL)
    abandoned = fire(RC, case, "deem_abandoned", d("2024-10-19"), by_system=True, calendar=CAL)
    assert abandoned.case.state == "abandoned"
    assert abandoned.case.closed_on == d("2024-10-19")
    assert cycle(abandoned.case, "supplement").status is MISSED
    assert cycle(abandoned.case, "supplement").stopped_on == d("2024-10-19")


def test_reconsideration_terminated_on_ground_5_once_the_suspension_has_lasted_60_days() -> None:
    case = go(RC, rc_accepted(), "suspend", "2024-10-08", {"ground": 2})
    # 10-08 + 60 = 12-07 (Sat) -> Mon 12-09: the ground of art. 41(5) arises after that day
    assert cycle(case, "suspension_limit").due_on == d("2024-12-09")
    with pytest.raises(RuleViolation, match="60 days"):
        go(RC, case, "terminate", "2024-12-09", {"ground": 5})
    assert go(RC, case, "terminate", "2024-12-09", {"ground": 1}).state == "terminated"
    case = go(RC, case, "terminate", "2024-12-10", {"ground": 5})
    assert case.state == "terminated"
    # a notice owed by nobody is never missed: its ground arose, so it ends met
    assert cycle(case, "suspension_limit").status is MET
    # decision was paused on 10-08 with 52 days left: not past due, it ends met
    assert cycle(case, "decision").status is MET


# -- 法律援助 ------------------------------------------------------------------------------


def test_legal_aid_application_channel() -> None:
    case = open_case(LA, d("2024-09-27"), attrs={"applicant": "李四"}, calendar=CAL).case
    assert case.state == "applied" and case.attrs["channel"] == "application"
    assert case.admitted_on is None
    # review: 09-27 + 7 = 10-04, a National Day holiday -> Tue 10-08
    assert clock_view(case) == {("review", 1): ("2024-10-08", RUNNING)}

    case = go(LA, case, "request_materials", "2024-09-29")  # Sun, a make-up working day
    assert case.state == "awaiting_materials"
    review = cycle(case, "review")
    assert (review.status, review.used) == (PAUSED, 2)
    # materials: 09-29 + 15 = 10-14 (Mon)
    assert clock_view(case)[("materials", 1)] == ("2024-10-14", RUNNING)

    case = go(LA, case, "receive_materials", "2024-10-08")
    assert case.state == "applied"
    assert clock_view(case)[("materials", 1)] == ("2024-10-14", MET)
    # paused 9 days (09-29 -> 10-08): raw end 10-04 + 9 = 10-13 (Sun) -> Mon 10-14
    review = cycle(case, "review")
    assert (review.status, review.raw_end, review.due_on) == (RUNNING, d("2024-10-13"),
                                                              d("2024-10-14"))

    case = go(LA, case, "approve", "2024-10-09")
    assert case.state == "approved" and case.admitted_on == d("2024-10-09")
    assert clock_view(case)[("review", 1)] == ("2024-10-14", MET)
    # assignment: 10-09 + 3 = 10-12, a Saturday but a make-up working day
    assert clock_view(case)[("assignment", 1)] == ("2024-10-12", RUNNING)

    case = go(LA, case, "assign", "2024-10-11", {"lawyer": "L1"})
    assert case.state == "assigned" and case.attrs["lawyer"] == "L1"
    assert clock_view(case)[("assignment", 1)] == ("2024-10-12", MET)
    # engagement: 10-11 + 5 = 10-16 (Wed)
    assert clock_view(case)[("engagement", 1)] == ("2024-10-16", RUNNING)

    case = go(LA, case, "engage", "2024-10-15")
    assert case.state == "in_service"
    assert clock_view(case)[("engagement", 1)] == ("2024-10-16", MET)

    case = go(LA, case, "conclude", "2024-12-20", {"outcome": "调解成功"})
    assert case.state == "concluded"
    # closing_report: 12-20 + 30 = 2025-01-19 (Sun) -> Mon 01-20
    assert clock_view(case)[("closing_report", 1)] == ("2025-01-20", RUNNING)

    # archiving waits for the lawyer's closing materials, which stop the lawyer's clock
    with pytest.raises(RuleViolation, match="closing materials"):
        go(LA, case, "close", "2025-01-10")
    case = go(LA, case, "receive_closing_materials", "2025-01-10")
    assert case.state == "concluded"
    assert clock_view(case)[("closing_report", 1)] == ("2025-01-20", MET)
    # archived weeks after the last day: the lawyer was in time all the same
    case = go(LA, case, "close", "2025-02-28")
    assert case.state == "closed" and case.closed_on == d("2025-02-28")
    assert clock_view(case)[("closing_report", 1)] == ("2025-01-20", MET)
    assert not any(c.live for c in case.cycles)


def test_legal_aid_notification_channel() -> None:
    case = open_case(LA, d("2024-09-30"), attrs={"channel": "notification", "notifier": "区法院"},
                     calendar=CAL).case
    assert case.state == "approved"
    assert case.admitted_on == d("2024-09-30")
    # no review; assignment: 09-30 + 3 = 10-03, a holiday -> Tue 10-08
    assert clock_view(case) == {("assignment", 1): ("2024-10-08", RUNNING)}


def test_legal_aid_objection_reopens() -> None:
    case = open_case(LA, d("2025-03-03"), calendar=CAL).case
    with pytest.raises(InvalidAttribute, match="reason"):
        go(LA, case, "deny", "2025-03-05")
    case = go(LA, case, "deny", "2025-03-05", reason="经济状况不符合条件")
    assert case.state == "denied" and case.closed_on == d("2025-03-05")
    assert clock_view(case)[("review", 1)] == ("2025-03-10", MET)  # 03-03 + 7 = Mon 03-10

    case = go(LA, case, "file_objection", "2025-03-06")
    assert case.state == "denied" and case.closed_on == d("2025-03-05")  # still closed
    # objection_review: 03-06 + 5 = 03-11 (Tue)
    assert clock_view(case)[("objection_review", 1)] == ("2025-03-11", RUNNING)

    upheld = go(LA, case, "uphold", "2025-03-10", by="科长")
    assert upheld.state == "denied" and upheld.closed_on == d("2025-03-05")
    assert cycle(upheld, "objection_review").status is MET

    case = go(LA, case, "order_correction", "2025-03-12", by="科长")
    assert case.state == "approved"
    assert case.closed_on is None  # reopened
    assert cycle(case, "objection_review").status is MISSED  # a day late
    # assignment: 03-12 + 3 = 03-15 (Sat) -> Mon 03-17
    assert clock_view(case)[("assignment", 1)] == ("2025-03-17", RUNNING)


def test_legal_aid_terminated_then_restored() -> None:
    case = open_case(LA, d("2025-03-03"), attrs={"channel": "notification"}, calendar=CAL).case
    case = go(LA, case, "assign", "2025-03-04", {"lawyer": "L2"})
    case = go(LA, case, "engage", "2025-03-05")
    case = go(LA, case, "terminate", "2025-03-20", {"ground": 3})
    assert case.state == "terminated" and case.closed_on == d("2025-03-20")
    case = go(LA, case, "file_objection", "2025-03-21")
    case = go(LA, case, "order_correction", "2025-03-24")
    assert case.state == "in_service" and case.closed_on is None
    assert cycle(case, "objection_review").status is MET  # 03-21 + 5 = Wed 03-26
    assert cycle(case, "assignment").cycle == 1  # no new assignment when service resumes


def test_legal_aid_deemed_withdrawn_when_materials_lapse() -> None:
    case = open_case(LA, d("2025-03-03"), calendar=CAL).case
    case = go(LA, case, "request_materials", "2025-03-05")
    # materials: 03-05 + 15 = 03-20 (Thu)
    assert cycle(case, "materials").due_on == d("2025-03-20")
    with pytest.raises(ActorNotAllowed):
        go(LA, case, "deem_withdrawn", "2025-03-20")
    # 视为撤回 takes effect the day after the last day, Fri 03-21
    with pytest.raises(ClockRuleViolation, match="2025-03-21"):
        fire(LA, case, "deem_withdrawn", d("2025-03-20"), by_system=True, calendar=CAL)
    case = fire(LA, case, "deem_withdrawn", d("2025-03-21"), by_system=True, calendar=CAL).case
    assert case.state == "withdrawn" and case.closed_on == d("2025-03-21")
    assert cycle(case, "materials").status is MISSED
    # review was paused on 03-05 with 5 days left: not lapsed, so cancelled
    assert cycle(case, "review").status is CANCELLED


# -- 律师执业投诉 ----------------------------------------------------------------------------


def test_complaint_walk() -> None:
    case = open_case(CP, d("2025-01-20"), attrs={"subject_kind": "lawyer"}, calendar=CAL).case
    assert case.state == "received" and case.admitted_on == d("2025-01-20")
    # acceptance: 10 working days from Mon 01-20: 21, 22, 23, 24, 26 (Sun, worked), 27,
    # [01-28..02-04 off], 02-05, 06, 07, 08 (Sat, worked)
    assert clock_view(case) == {("acceptance", 1): ("2025-02-08", RUNNING)}

    case = go(CP, case, "request_supplement", "2025-01-22")
    assert case.state == "awaiting_supplement"
    acceptance = cycle(case, "acceptance")
    assert (acceptance.status, acceptance.used) == (PAUSED, 2)  # 01-21, 01-22 used; 8 left
    # supplement: 10 working days from Wed 01-22: 23, 24, 26, 27, 02-05, 06, 07, 08, 10, 11
    assert clock_view(case)[("supplement", 1)] == ("2025-02-11", RUNNING)

    case = go(CP, case, "receive_supplement", "2025-02-06")
    assert case.state == "received"
    assert cycle(case, "supplement").status is MET
    # 8 working days left, counted from Thu 02-06: 07, 08 (Sat, worked), 10, 11, 12, 13, 14, 17
    assert clock_view(case)[("acceptance", 1)] == ("2025-02-17", RUNNING)

    case = go(CP, case, "accept", "2025-02-10")
    assert case.state == "investigating"
    assert clock_view(case)[("acceptance", 1)] == ("2025-02-17", MET)
    # handling: 02-10 + 60 = 04-11 (Fri)
    assert clock_view(case)[("handling", 1)] == ("2025-04-11", RUNNING)

    case = go(CP, case, "extend", "2025-04-01", {"days": 30}, by="科长")
    # 04-11 + 30 = 05-11, a Sunday (not a make-up day) -> Mon 05-12
    assert clock_view(case)[("handling", 1)] == ("2025-05-12", RUNNING)
    with pytest.raises(ClockRuleViolation):
        go(CP, case, "extend", "2025-04-02", {"days": 1})

    case = go(CP, case, "decide", "2025-04-30", {"outcome": "order_to_correct"})
    assert case.state == "decided" and case.closed_on is None
    assert cycle(case, "handling").status is RUNNING  # runs until the written reply

    case = go(CP, case, "reply", "2025-05-08")
    assert case.state == "closed" and case.closed_on == d("2025-05-08")
    assert clock_view(case)[("handling", 1)] == ("2025-05-12", MET)


# -- refusals --------------------------------------------------------------------------------


def test_backdating_before_the_previous_event() -> None:
    case = rc_accepted()  # last event on 09-30
    with pytest.raises(InvalidLegalDate) as err:
        go(RC, case, "send_copy", "2024-09-29")
    assert err.value.allowed == ["on>=2024-09-30"]
    assert go(RC, case, "send_copy", "2024-09-30").last_on == d("2024-09-30")  # same day: fine


def test_unknown_trigger() -> None:
    with pytest.raises(UnknownTrigger) as err:
        go(RC, rc_opened(), "approve", "2024-09-30")
    assert err.value.allowed == sorted(RC.triggers)


@pytest.mark.parametrize(
    ("trigger", "attrs", "allowed"),
    [
        pytest.param("suspend", {"ground": 11}, ["ground=1..10"], id="ground-11"),
        pytest.param("suspend", {"ground": "x"}, ["ground=1..10"], id="ground-text"),
        pytest.param("extend", {"days": 31}, ["days=1..30"], id="days-31"),
        pytest.param("extend", {"days": 0}, ["days=1..30"], id="days-0"),
        pytest.param("extend", {}, ["days=1..30"], id="days-missing"),
        pytest.param("decide", {"decision": "bogus"},
                     ["decision=change", "decision=revoke", "decision=confirm_illegal",
                      "decision=order_performance", "decision=confirm_invalid",
                      "decision=maintain", "decision=reject_claim"], id="decision-bogus"),
        pytest.param("terminate", {"ground": 1, "colour": "red"}, ["ground=1..5"],
                     id="unknown-key"),
        pytest.param("schedule_hearing", {"hearing_on": "next week"},
                     ["hearing_on=YYYY-MM-DD"], id="hearing-not-a-date"),
    ],
)
def test_bad_attribute_values(
    trigger: str, attrs: dict[str, object], allowed: list[str]
) -> None:
    case = rc_accepted()
    with pytest.raises(InvalidAttribute) as err:
        go(RC, case, trigger, "2024-10-08", attrs)
    assert err.value.allowed == allowed


def test_reason_required_on_reject() -> None:
    with pytest.raises(InvalidAttribute) as err:
        go(RC, rc_opened(), "reject", "2024-09-30", reason="   ")
    assert err.value.allowed == ["reason=TEXT"]


def test_the_input_case_is_never_modified() -> None:
    case = rc_accepted()
    pristine = copy.deepcopy(case)
    with pytest.raises(AttributeError):  # immutable: no attribute can be assigned
        case.state = "decided"  # type: ignore[misc]
    outcomes = []
    for trigger, attrs in [("decide", {"decision": "bogus"}), ("extend", {"days": 99}),
                           ("resume", {}), ("decide", {"decision": "revoke"}),
                           ("suspend", {"ground": 1}), ("convert_to_ordinary", {})]:
        try:
            outcomes.append(go(RC, case, trigger, "2024-10-08", attrs).state)
        except RuleViolation:
            outcomes.append("refused")  # a failed fire hands back nothing to use
        assert case == pristine
    assert outcomes == ["refused", "refused", "refused", "decided", "suspended", "refused"]
    assert case.cycles == pristine.cycles and dict(case.attrs) == dict(pristine.attrs)
