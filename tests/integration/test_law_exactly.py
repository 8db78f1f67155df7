"""Issue 11: the law, exactly — on SQLite and PostgreSQL, through the services.

- a lapse that has happened in law comes before any later act (行政复议法 art. 30: 视为受理 on
  the last day of the review);
- periods owed outside the bureau count from service (送达, arts. 31, 48); materials posted by
  the last day are on time (民事诉讼法 art. 85);
- a supervisor may reinstate a case deemed abandoned or withdrawn;
- 中止满六十日 is a notice, not a duty; one 补正 per application.

Dates worked by hand (official 2024 calendar: 10-01..10-07 off, Sun 09-29 and Sat 10-12 worked).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lawyer_pool import pool_lawyer

from flows import importer, services
from flows.context import Bureau
from flows.sweep import sweep
from models.repository import StoredCase
from states.errors import InvalidAttribute, RuleViolation, TriggerNotAllowed
from states.lapses import LapsedFirst

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
d = date.fromisoformat


def open_rc(bureau: Bureau, on: str = "2024-09-27") -> str:
    # acceptance_review, 5 working days from Fri 09-27: 09-29 (Sun, worked), 09-30, then
    # 10-08, 10-09, 10-10 -> due Thu 10-10
    return services.open_case(bureau, "reconsideration", on=d(on), attrs={"applicant": "张三"},
                              by="clerk-a", now=NOW).case.ref


def go(bureau: Bureau, ref: str, trigger: str, on: str, **kwargs: object) -> StoredCase:
    return services.advance(bureau, ref, trigger, on=d(on), by="clerk-a", now=NOW,
                            **kwargs)  # type: ignore[arg-type]


def triggers(bureau: Bureau, ref: str) -> list[tuple[str, str, str]]:
    return [(e.trigger, str(e.on), e.actor)
            for e in services.timeline(bureau, ref)]


def cycle(stored: StoredCase, clock: str, number: int | None = None):  # type: ignore[no-untyped-def]
    found = [c for c in stored.case.cycles if c.clock == clock]
    return found[-1] if number is None else next(c for c in found if c.cycle == number)


# -- 1. a lapse that has happened in law comes before any later act ------------------------------


@pytest.mark.parametrize(("trigger", "kwargs"), [
    ("reject", {"reason": "不属于受理范围"}),
    ("request_supplement", {}),
    ("accept", {"attrs": {"procedure": "ordinary"}}),
])
def test_a_late_act_on_the_application_is_refused_after_the_deemed_acceptance(
    bureau: Bureau, trigger: str, kwargs: dict[str, object]
) -> None:
    ref = open_rc(bureau)
    with pytest.raises(LapsedFirst) as refused:
        go(bureau, ref, trigger, "2024-10-14", **kwargs)
    error = refused.value
    assert error.code == "trigger_not_allowed"
    assert "视为受理" in error.message and "2024-10-10" in error.message
    assert "行政复议法 第三十条第三款" in error.message
    assert trigger in error.message and "withdraw" in error.allowed
    # the lapse is a fact and stays recorded; nothing the clerk asked for was written
    assert triggers(bureau, ref) == [("open", "2024-09-27", "clerk"),
                                     ("deem_accepted", "2024-10-10", "system")]
    stored = services.get_case(bureau, ref)
    assert (stored.case.state, stored.case.version) == ("under_review", 2)
    # the decision clock counts from the deemed acceptance, not from the late act: 10-10 + 60
    # = Mon 12-09
    decision = cycle(stored, "decision")
    assert (decision.started_on, decision.due_on) == (d("2024-10-10"), d("2024-12-09"))
    assert services.verify(bureau, ref)[0].ok
    # a sweep afterwards finds the lapse already applied
    assert sweep(bureau, datetime(2024, 10, 14, 12, tzinfo=UTC)).lapsed == []


def test_an_act_still_allowed_after_the_lapse_is_recorded_after_it(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    stored = go(bureau, ref, "withdraw", "2024-10-14")
    assert stored.case.state == "withdrawn" and stored.case.version == 3
    assert triggers(bureau, ref) == [("open", "2024-09-27", "clerk"),
                                     ("deem_accepted", "2024-10-10", "system"),
                                     ("withdraw", "2024-10-14", "clerk")]
    assert stored.case.admitted_on == d("2024-10-10")  # admitted by law, then withdrawn
    assert services.verify(bureau, ref)[0].ok


def test_an_act_on_the_last_day_is_in_time(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    stored = go(bureau, ref, "reject", "2024-10-10", reason="不属于受理范围")
    assert stored.case.state == "rejected"
    assert [t for t, _, _ in triggers(bureau, ref)] == ["open", "reject"]


def test_wrong_input_is_refused_before_anything_lapses(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    with pytest.raises(InvalidAttribute):  # an attribute withdraw does not take
        go(bureau, ref, "withdraw", "2024-10-14", attrs={"bogus": "1"})
    with pytest.raises(InvalidAttribute, match="reason"):  # reject needs a reason
        go(bureau, ref, "reject", "2024-10-14")
    with pytest.raises(RuleViolation):  # the system's trigger, fired by a person
        go(bureau, ref, "deem_accepted", "2024-10-14")
    assert triggers(bureau, ref) == [("open", "2024-09-27", "clerk")]


def test_the_triggers_allowed_now_follow_the_law_before_any_sweep(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    allowed = services.triggers_now(bureau, ref, NOW)  # 2025: the review lapsed long ago
    assert "accept" not in allowed and "reject" not in allowed
    assert {"decide", "suspend", "withdraw"} <= set(allowed)
    assert services.triggers_now(bureau, ref, datetime(2024, 10, 10, 8, tzinfo=UTC)) == [
        "accept", "reassign", "reject", "request_supplement", "withdraw"]
    assert [t for t, _, _ in triggers(bureau, ref)] == ["open"]  # asking writes nothing


# -- 3. service and posting --------------------------------------------------------------------


def test_the_supplement_period_counts_from_service(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    # sent Mon 09-30, served Tue 10-08: 10 working days from 10-08: 10-09, 10-10, 10-11,
    # 10-12 (Sat, worked), 10-14..10-18, 10-21 -> due Mon 10-21
    stored = go(bureau, ref, "request_supplement", "2024-09-30",
                attrs={"served_on": "2024-10-08"})
    supplement = cycle(stored, "supplement")
    assert (supplement.started_on, supplement.due_on) == (d("2024-10-08"), d("2024-10-21"))
    assert cycle(stored, "acceptance_review").status.value == "met"
    event = services.timeline(bureau, ref)[-1]
    assert event.attrs == {"served_on": "2024-10-08"}
    assert "served_on" not in stored.case.attrs  # recorded on the event, not the case


def test_service_dates_that_cannot_be_are_refused(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    with pytest.raises(InvalidAttribute, match="before the event"):
        go(bureau, ref, "request_supplement", "2024-09-30", attrs={"served_on": "2024-09-29"})
    with pytest.raises(InvalidAttribute, match="future"):
        go(bureau, ref, "request_supplement", "2024-09-30", attrs={"served_on": "2025-06-02"})
    assert services.get_case(bureau, ref).case.version == 1


def test_the_respondents_reply_period_counts_from_service_of_the_copy(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    go(bureau, ref, "accept", "2024-10-08", attrs={"procedure": "ordinary"})
    # copy sent Wed 10-09, served Mon 10-14: 10 working days: 10-15..10-18, 10-21..10-25,
    # 10-28 -> due Mon 10-28
    stored = go(bureau, ref, "send_copy", "2024-10-09", attrs={"served_on": "2024-10-14"})
    reply = cycle(stored, "respondent_reply")
    assert (reply.started_on, reply.due_on) == (d("2024-10-14"), d("2024-10-28"))


def test_materials_posted_by_the_last_day_are_on_time(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    # requested Mon 09-30: 10 working days from 09-30: 10-08..10-12 (Sat, worked), 10-14..10-18
    # -> due Fri 10-18; 视为放弃 would take effect Sat 10-19
    go(bureau, ref, "request_supplement", "2024-09-30")
    stored = go(bureau, ref, "receive_supplement", "2024-10-23",
                attrs={"posted_on": "2024-10-18"})
    assert stored.case.state == "received"
    assert cycle(stored, "supplement").status.value == "met"
    # a new review cycle counts from the day the bureau received them: 5 working days from
    # Wed 10-23 -> Wed 10-30
    review = cycle(stored, "acceptance_review", 2)
    assert (review.started_on, review.due_on) == (d("2024-10-23"), d("2024-10-30"))
    assert [t for t, _, _ in triggers(bureau, ref)] == [
        "open", "request_supplement", "receive_supplement"]


def test_materials_posted_late_arrive_after_the_abandonment(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    go(bureau, ref, "request_supplement", "2024-09-30")
    with pytest.raises(LapsedFirst, match=r"视为放弃申请.*2024-10-19"):
        go(bureau, ref, "receive_supplement", "2024-10-23", attrs={"posted_on": "2024-10-19"})
    stored = services.get_case(bureau, ref)
    assert stored.case.state == "abandoned" and stored.case.closed_on == d("2024-10-19")
    assert triggers(bureau, ref)[-1] == ("deem_abandoned", "2024-10-19", "system")


def test_a_posting_date_after_the_arrival_is_refused_and_nothing_lapses(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    go(bureau, ref, "request_supplement", "2024-09-30")
    with pytest.raises(InvalidAttribute, match="posted_on"):
        go(bureau, ref, "receive_supplement", "2024-10-23", attrs={"posted_on": "2024-10-24"})
    assert services.get_case(bureau, ref).case.state == "awaiting_supplement"


# -- reinstatement --------------------------------------------------------------------------------


def abandoned_rc(bureau: Bureau) -> str:
    ref = open_rc(bureau)
    go(bureau, ref, "request_supplement", "2024-09-30")  # due 10-18
    sweep(bureau, datetime(2024, 10, 21, 9, tzinfo=UTC))  # 视为放弃 on 10-19
    assert services.get_case(bureau, ref).case.state == "abandoned"
    return ref


def test_a_supervisor_reinstates_a_case_whose_supplement_was_posted_in_time(
    bureau: Bureau,
) -> None:
    ref = abandoned_rc(bureau)
    with pytest.raises(InvalidAttribute, match="reason"):
        go(bureau, ref, "reinstate", "2024-10-24", attrs={"reinstated_for": "posted_in_time"})
    stored = go(bureau, ref, "reinstate", "2024-10-24",
                attrs={"reinstated_for": "posted_in_time"}, reason="邮戳显示10月18日交邮")
    assert stored.case.state == "received" and stored.case.closed_on is None
    review = cycle(stored, "acceptance_review", 2)
    assert (review.started_on, review.status.value) == (d("2024-10-24"), "running")
    assert triggers(bureau, ref)[-2:] == [("deem_abandoned", "2024-10-19", "system"),
                                          ("reinstate", "2024-10-24", "supervisor")]


def test_a_supervisor_reinstates_a_case_for_a_good_reason_with_a_new_period(
    bureau: Bureau,
) -> None:
    ref = abandoned_rc(bureau)
    stored = go(bureau, ref, "reinstate", "2024-10-24", attrs={"reinstated_for": "good_reason",
                                                                "served_on": "2024-10-25"},
                reason="申请人住院")
    assert stored.case.state == "awaiting_supplement"
    # a new supplement period from service on Fri 10-25: 10 working days -> Fri 11-08
    supplement = cycle(stored, "supplement", 2)
    assert (supplement.started_on, supplement.due_on) == (d("2024-10-25"), d("2024-11-08"))


def test_only_a_deemed_withdrawal_of_legal_aid_is_reinstated(bureau: Bureau) -> None:
    own = services.open_case(bureau, "legal_aid", on=d("2025-03-03"), by="clerk-a",
                             now=NOW).case.ref
    go(bureau, own, "withdraw", "2025-03-04")
    with pytest.raises(RuleViolation, match="deemed_withdrawn"):
        go(bureau, own, "reinstate", "2025-03-05", attrs={"reinstated_for": "good_reason"},
           reason="x")

    deemed = services.open_case(bureau, "legal_aid", on=d("2025-03-03"), by="clerk-a",
                                now=NOW).case.ref
    # materials: 15 calendar days from Wed 03-05 -> Thu 03-20; 视为撤回 on Fri 03-21
    go(bureau, deemed, "request_materials", "2025-03-05")
    sweep(bureau, datetime(2025, 3, 24, 1, tzinfo=UTC))
    assert triggers(bureau, deemed)[-1] == ("deem_withdrawn", "2025-03-21", "system")
    stored = go(bureau, deemed, "reinstate", "2025-03-25",
                attrs={"reinstated_for": "good_reason"}, reason="申请人出差")
    assert stored.case.state == "awaiting_materials"
    assert cycle(stored, "materials", 2).due_on == d("2025-04-09")  # 03-25 + 15
    # the review restarts, paused while the materials are awaited
    assert cycle(stored, "review", 2).status.value == "paused"
    stored = go(bureau, deemed, "receive_materials", "2025-03-31")
    assert stored.case.state == "applied"
    assert cycle(stored, "review", 2).status.value == "running"


# -- 5. rules the review found ---------------------------------------------------------------------


def suspended_rc(bureau: Bureau) -> str:
    ref = open_rc(bureau)
    go(bureau, ref, "accept", "2024-09-30", attrs={"procedure": "ordinary"})
    go(bureau, ref, "send_copy", "2024-10-08")
    go(bureau, ref, "receive_reply", "2024-10-08")
    # suspended Tue 10-08 on ground 2: 10-08 + 60 = Sat 12-07 -> Mon 12-09
    go(bureau, ref, "suspend", "2024-10-08", attrs={"ground": "2"})
    return ref


def test_termination_on_ground_5_only_once_the_suspension_has_lasted_60_days(
    bureau: Bureau,
) -> None:
    ref = suspended_rc(bureau)
    with pytest.raises(RuleViolation, match="第四十一条第五项"):
        go(bureau, ref, "terminate", "2024-12-09", attrs={"ground": "5"})
    assert services.get_case(bureau, ref).case.version == 5
    report = sweep(bureau, datetime(2024, 12, 10, 1, tzinfo=UTC))  # 09:00 in Shanghai
    assert report.lapsed == []
    assert [(e["clock"], e["level"], e["alert"]) for e in report.escalations] == [
        ("suspension_limit", "arisen", True)]
    assert report.alerts_queued == 2  # the clerk and the supervisor
    stored = go(bureau, ref, "terminate", "2024-12-10", attrs={"ground": "5"})
    assert stored.case.state == "terminated"
    assert cycle(stored, "suspension_limit").status.value == "met"  # never missed
    # the bureau's own clocks were all kept: the case closed on time
    case_type = bureau.case_type("reconsideration")
    assert case_type.closed_on_time(stored.case.cycles)


def test_a_notice_past_its_day_is_not_overdue(bureau: Bureau) -> None:
    ref = suspended_rc(bureau)
    overdue = services.list_cases(bureau, overdue_on=d("2024-12-20"))
    assert ref not in {c.case.ref for c in overdue}


def test_mediation_during_a_suspension(bureau: Bureau) -> None:
    ref = suspended_rc(bureau)
    stored = go(bureau, ref, "mediate", "2024-11-01")
    assert stored.case.state == "mediated"
    assert cycle(stored, "decision").status.value == "met"
    assert cycle(stored, "suspension_limit").status.value == "cancelled"


def test_a_second_supplement_request_is_a_supervisors_decision_with_a_reason(
    bureau: Bureau,
) -> None:
    ref = open_rc(bureau)
    go(bureau, ref, "request_supplement", "2024-09-30")
    go(bureau, ref, "receive_supplement", "2024-10-08")
    with pytest.raises(InvalidAttribute, match="supervisor"):
        go(bureau, ref, "request_supplement", "2024-10-09")
    stored = go(bureau, ref, "request_supplement", "2024-10-09", reason="补正材料仍缺原件")
    assert stored.case.state == "awaiting_supplement"
    assert triggers(bureau, ref)[-1] == ("request_supplement", "2024-10-09", "supervisor")


def test_a_complaint_is_declined_from_awaiting_supplement(bureau: Bureau) -> None:
    ref = services.open_case(bureau, "complaint", on=d("2024-09-02"), by="clerk-a",
                             now=NOW).case.ref
    go(bureau, ref, "request_supplement", "2024-09-03")
    with pytest.raises(InvalidAttribute, match="reason"):
        go(bureau, ref, "decline", "2024-09-30")
    stored = go(bureau, ref, "decline", "2024-09-30", reason="逾期未补正")
    assert stored.case.state == "not_accepted"


def test_legal_aid_is_archived_after_the_lawyers_closing_materials(bureau: Bureau) -> None:
    ref = services.open_case(bureau, "legal_aid", on=d("2024-10-08"),
                             attrs={"channel": "notification"}, by="clerk-a", now=NOW).case.ref
    go(bureau, ref, "assign", "2024-10-09", attrs={"lawyer": pool_lawyer(bureau)})
    go(bureau, ref, "engage", "2024-10-10")
    go(bureau, ref, "conclude", "2024-12-20", attrs={"outcome": "判决"})
    assert "close" not in services.triggers_now(bureau, ref, NOW)
    with pytest.raises(RuleViolation, match="closing materials"):
        go(bureau, ref, "close", "2025-01-10")
    go(bureau, ref, "receive_closing_materials", "2025-01-10")  # due 01-20: met
    stored = go(bureau, ref, "close", "2025-03-01")  # archived late: the lawyer was on time
    assert stored.case.state == "closed"
    assert cycle(stored, "closing_report").status.value == "met"


def test_triggers_refused_in_state_are_still_refused_as_before(bureau: Bureau) -> None:
    ref = open_rc(bureau)
    with pytest.raises(TriggerNotAllowed):
        go(bureau, ref, "decide", "2024-10-08", attrs={"decision": "maintain"})
    assert services.get_case(bureau, ref).case.version == 1


# -- import replays follow the same rule ---------------------------------------------------------


def test_an_import_replays_lapses_before_later_acts(bureau: Bureau, tmp_path: Path) -> None:
    records = [
        # withdrawn after the review lapsed: the deemed acceptance is recorded before it
        {"type": "reconsideration", "ref": "RC-2024-0100", "on": "2024-09-27",
         "events": [{"trigger": "withdraw", "on": "2024-10-14"}]},
        # accepted after the review lapsed: refused, the record is not imported
        {"type": "reconsideration", "ref": "RC-2024-0101", "on": "2024-09-27",
         "events": [{"trigger": "accept", "on": "2024-10-14"}]},
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n",
                    encoding="utf-8")
    report = importer.import_file(bureau, path, now=NOW, by="importer")
    assert (report.imported, report.failed) == (1, 1)
    (error,) = report.errors
    assert error.line == 2 and "视为受理" in error.message
    assert triggers(bureau, "RC-2024-0100") == [("open", "2024-09-27", "clerk"),
                                                ("deem_accepted", "2024-10-10", "system"),
                                                ("withdraw", "2024-10-14", "clerk")]
    assert services.verify(bureau, "RC-2024-0100")[0].ok
