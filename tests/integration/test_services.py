"""The clerks' use cases against a real store, on SQLite and on PostgreSQL.

Every lifecycle is walked through `flows.services` and checked after a reload from the
database: state, version (+1 per event), attributes, admitted/closed dates and every clock
cycle (status, due date, paused and extended days).

Counting (DESIGN.md §3): the start day is not counted; N working days end on the N-th working
day after the start; N calendar days end on start + N, rolled forward once to a working day.
Official data used below:
- 2024 National Day: 10-01..10-07 off; Sun 09-29 and Sat 10-12 worked.
- 2025 New Year: 01-01 (Wed) off; Spring Festival 01-28..02-04 off, Sun 01-26 worked.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from lawyer_pool import pool_lawyer

from flows import services
from flows.context import Bureau
from models import repository
from models.errors import CaseNotFound, Conflict
from models.repository import StoredCase
from models.tables import metadata
from states.errors import (
    ActorNotAllowed,
    ClockRuleViolation,
    InvalidLegalDate,
    RuleViolation,
    TriggerNotAllowed,
    UnknownCaseType,
)

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)

# (clock, cycle) -> (status, started_on, due_on, paused_days, extended_days)
Clocks = dict[tuple[str, int], tuple[str, str, str, int, int]]


def d(text: str) -> date:
    return date.fromisoformat(text)


def clocks_of(stored: StoredCase) -> Clocks:
    return {
        (c.clock, c.cycle): (
            c.status.value,
            c.started_on.isoformat(),
            c.due_on.isoformat(),
            c.paused_days,
            c.extended_days,
        )
        for c in stored.case.cycles
    }


class Walk:
    """Advance one case step by step, checking each step against a fresh reload."""

    def __init__(self, bureau: Bureau, stored: StoredCase) -> None:
        self.bureau = bureau
        self.ref = stored.case.ref
        self.version = stored.case.version
        assert self.version == 1

    def step(
        self,
        trigger: str,
        on: str,
        *,
        attrs: Mapping[str, object] | None = None,
        reason: str | None = None,
        by_system: bool = False,
        same_in_memory: bool = True,
    ) -> StoredCase:
        returned = services.advance(
            self.bureau, self.ref, trigger, on=d(on), attrs=attrs, reason=reason,
            by="clerk-a", now=NOW, by_system=by_system,
        )
        loaded = services.get_case(self.bureau, self.ref)
        self.version += 1
        assert loaded.case.version == self.version, trigger
        assert loaded.last_seq == self.version
        assert loaded.case.last_on == d(on)
        if same_in_memory:  # what the service returned is what was stored
            assert returned.case == loaded.case
        assert (returned.id, returned.last_seq, returned.last_hash) == (
            loaded.id, loaded.last_seq, loaded.last_hash
        )
        return loaded


def open_(bureau: Bureau, type_name: str, on: str, **kwargs: Any) -> StoredCase:
    kwargs.setdefault("by", "clerk-a")
    kwargs.setdefault("now", NOW)
    return services.open_case(bureau, type_name, on=d(on), **kwargs)


def dump(bureau: Bureau) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, as the driver returns it, in primary-key order."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with bureau.engine.connect() as connection:
        for table in metadata.sorted_tables:
            keys = ", ".join(f'"{c.name}"' for c in table.primary_key.columns)
            rows = connection.exec_driver_sql(f'SELECT * FROM "{table.name}" ORDER BY {keys}')
            out[table.name] = [tuple(r) for r in rows]
    return out


def event_count(bureau: Bureau) -> int:
    with bureau.engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM events").scalar_one())


# -- lifecycles --------------------------------------------------------------------------------


def test_reconsideration_lifecycle_persisted(bureau: Bureau) -> None:
    opened = open_(bureau, "reconsideration", "2024-09-27",
                   attrs={"applicant": "张三", "respondent": "某区市场监管局"})
    walk = Walk(bureau, opened)
    # open Fri 09-27: acceptance_review 5 working days: 09-29 (Sun, worked), 09-30, 10-08, 10-09,
    # 10-10 -> 10-10
    case = services.get_case(bureau, walk.ref)
    assert case.case.state == "received"
    assert case.case.version == 1
    assert case.case.opened_on == d("2024-09-27")
    assert case.case.admitted_on is None
    assert clocks_of(case) == {
        ("acceptance_review", 1): ("running", "2024-09-27", "2024-10-10", 0, 0),
    }

    # request_supplement Mon 09-30: acceptance_review met; supplement 10 working days from 09-30:
    # 10-08..10-11 (4), Sat 10-12 (5), 10-14..10-18 (10) -> 10-18
    case = walk.step("request_supplement", "2024-09-30")
    assert case.case.state == "awaiting_supplement"
    assert clocks_of(case) == {
        ("acceptance_review", 1): ("met", "2024-09-27", "2024-10-10", 0, 0),
        ("supplement", 1): ("running", "2024-09-30", "2024-10-18", 0, 0),
    }

    # extend_supplement by 5 working days on 10-08: 15 working days from 09-30: 10-18 (10), then
    # 10-21..10-25 -> 10-25
    case = walk.step("extend_supplement", "2024-10-08", attrs={"days": "5"},
                     reason="申请人在外地")
    assert case.case.state == "awaiting_supplement"
    assert "days" not in case.case.attrs  # recorded on the event only
    assert clocks_of(case)[("supplement", 1)] == ("running", "2024-09-30", "2024-10-25", 0, 5)

    # receive_supplement Fri 10-11: supplement met; a new acceptance_review cycle from 10-11:
    # Sat 10-12 (1, worked), 10-14, 10-15, 10-16, 10-17 -> 10-17 (art. 31(3))
    case = walk.step("receive_supplement", "2024-10-11")
    assert case.case.state == "received"
    assert clocks_of(case) == {
        ("acceptance_review", 1): ("met", "2024-09-27", "2024-10-10", 0, 0),
        ("supplement", 1): ("met", "2024-09-30", "2024-10-25", 0, 5),
        ("acceptance_review", 2): ("running", "2024-10-11", "2024-10-17", 0, 0),
    }

    # accept Mon 10-14, simplified: copy_to_respondent 3 working days: 10-15, 10-16, 10-17;
    # decision 30 calendar days: 10-14 + 30 = 11-13 (Wed, a working day)
    case = walk.step("accept", "2024-10-14", attrs={"procedure": "simplified"})
    assert case.case.state == "under_review"
    assert case.case.admitted_on == d("2024-10-14")
    assert case.case.attrs == {"applicant": "张三", "respondent": "某区市场监管局",
                               "procedure": "simplified"}
    assert clocks_of(case) == {
        ("acceptance_review", 1): ("met", "2024-09-27", "2024-10-10", 0, 0),
        ("supplement", 1): ("met", "2024-09-30", "2024-10-25", 0, 5),
        ("acceptance_review", 2): ("met", "2024-10-11", "2024-10-17", 0, 0),
        ("copy_to_respondent", 1): ("running", "2024-10-14", "2024-10-17", 0, 0),
        ("decision", 1): ("running", "2024-10-14", "2024-11-13", 0, 0),
    }

    # send_copy Wed 10-16: copy met; respondent_reply 5 working days (simplified): 10-17, 10-18,
    # 10-21, 10-22, 10-23 -> 10-23
    case = walk.step("send_copy", "2024-10-16")
    assert case.case.state == "under_review"
    assert clocks_of(case)[("copy_to_respondent", 1)][0] == "met"
    assert clocks_of(case)[("respondent_reply", 1)] == (
        "running", "2024-10-16", "2024-10-23", 0, 0)

    # convert_to_ordinary Fri 10-18 (art. 55): lengths switch, still counted from their starts.
    # respondent_reply 10 working days from 10-16: 10-17, 10-18, 10-21..10-25, 10-28..10-30
    # -> 10-30; decision 60 calendar days from 10-14 -> 12-13 (Fri)
    case = walk.step("convert_to_ordinary", "2024-10-18")
    assert case.case.attrs["procedure"] == "ordinary"
    assert clocks_of(case)[("respondent_reply", 1)] == (
        "running", "2024-10-16", "2024-10-30", 0, 0)
    assert clocks_of(case)[("decision", 1)] == ("running", "2024-10-14", "2024-12-13", 0, 0)
    assert clocks_of(case)[("copy_to_respondent", 1)] == (  # already met: unchanged
        "met", "2024-10-14", "2024-10-17", 0, 0)

    # receive_reply Fri 10-25: respondent_reply met
    case = walk.step("receive_reply", "2024-10-25")
    assert clocks_of(case)[("respondent_reply", 1)][0] == "met"

    # suspend Fri 11-01, ground 1: decision paused after 18 days used (10-14 -> 11-01), 42 left:
    # 11-01 + 42 = 12-13 while paused; suspension_limit 60 calendar days: 12-31 (Tue)
    case = walk.step("suspend", "2024-11-01", attrs={"ground": "1"})
    assert case.case.state == "suspended"
    assert case.case.attrs["ground"] == 1
    assert clocks_of(case)[("decision", 1)] == ("paused", "2024-10-14", "2024-12-13", 0, 0)
    assert clocks_of(case)[("suspension_limit", 1)] == (
        "running", "2024-11-01", "2024-12-31", 0, 0)

    # resume Mon 11-11: 10 days paused; the 42 days left count from 11-11 -> 12-23 (Mon);
    # suspension_limit, a notice owed by nobody, ends before its day: cancelled
    case = walk.step("resume", "2024-11-11")
    assert case.case.state == "under_review"
    assert clocks_of(case)[("decision", 1)] == ("running", "2024-10-14", "2024-12-23", 10, 0)
    assert clocks_of(case)[("suspension_limit", 1)][0] == "cancelled"

    # extend by 30 days on 12-02 (art. 62): raw end 12-23 + 30 = 2025-01-22 (Wed, working)
    case = walk.step("extend", "2024-12-02", attrs={"days": "30"})
    assert clocks_of(case)[("decision", 1)] == ("running", "2024-10-14", "2025-01-22", 10, 30)

    # a second extension is refused (once only) and changes nothing
    with pytest.raises(ClockRuleViolation):
        services.advance(bureau, walk.ref, "extend", on=d("2024-12-03"), attrs={"days": "1"},
                         by="chief", now=NOW)
    assert services.get_case(bureau, walk.ref).case.version == walk.version

    # decide Fri 2025-01-10: decision met, the case is closed on that date
    case = walk.step("decide", "2025-01-10", attrs={"decision": "maintain"})
    assert case.case.state == "decided"
    assert case.case.closed_on == d("2025-01-10")
    assert case.case.admitted_on == d("2024-10-14")
    assert case.case.version == 12
    assert all(c.status.value == "met" for c in case.case.cycles if c.clock != "suspension_limit")
    assert clocks_of(case)[("decision", 1)] == ("met", "2024-10-14", "2025-01-22", 10, 30)
    assert services.triggers_now(bureau, walk.ref, NOW) == []
    rows = services.timeline(bureau, walk.ref)
    assert [r.seq for r in rows] == list(range(1, 13))
    assert [r.trigger for r in rows] == [
        "open", "request_supplement", "extend_supplement", "receive_supplement", "accept",
        "send_copy", "convert_to_ordinary", "receive_reply", "suspend", "resume", "extend",
        "decide",
    ]


def test_reconsideration_withdrawn_closes_live_clocks(bureau: Bureau) -> None:
    walk = Walk(bureau, open_(bureau, "reconsideration", "2024-10-08"))
    # accept Wed 10-09: copy_to_respondent 7 working days: 10-10, 10-11, Sat 10-12, 10-14..10-17
    # -> 10-17; decision 10-09 + 60 = 12-08 (Sun) -> 12-09 (Mon)
    case = walk.step("accept", "2024-10-09")
    assert clocks_of(case)[("copy_to_respondent", 1)] == (
        "running", "2024-10-09", "2024-10-17", 0, 0)
    assert clocks_of(case)[("decision", 1)] == ("running", "2024-10-09", "2024-12-09", 0, 0)
    # withdraw Mon 10-21: the copy was due 10-17 -> missed; decision ends with the case, in time
    case = walk.step("withdraw", "2024-10-21")
    assert case.case.state == "withdrawn"
    assert case.case.closed_on == d("2024-10-21")
    assert clocks_of(case)[("copy_to_respondent", 1)][0] == "missed"
    assert clocks_of(case)[("decision", 1)][0] == "met"
    assert [c.stopped_on for c in case.case.cycles] == [d("2024-10-09"), d("2024-10-21"),
                                                         d("2024-10-21")]


def test_legal_aid_application_lifecycle_persisted(bureau: Bureau) -> None:
    opened = open_(bureau, "legal_aid", "2024-09-27",
                   attrs={"matter": "labor", "applicant": "李四"})
    walk = Walk(bureau, opened)
    # open Fri 09-27 (application): review 7 calendar days: 10-04, a holiday -> 10-08
    case = services.get_case(bureau, walk.ref)
    assert case.case.state == "applied"
    assert case.case.attrs == {"channel": "application", "matter": "labor", "applicant": "李四"}
    assert case.case.admitted_on is None
    assert clocks_of(case) == {("review", 1): ("running", "2024-09-27", "2024-10-08", 0, 0)}

    # request_materials Sun 09-29: review paused after 2 days (5 left: 09-29 + 5 = 10-04 -> 10-08);
    # materials 15 calendar days: 10-14 (Mon)
    case = walk.step("request_materials", "2024-09-29")
    assert case.case.state == "awaiting_materials"
    assert clocks_of(case) == {
        ("review", 1): ("paused", "2024-09-27", "2024-10-08", 0, 0),
        ("materials", 1): ("running", "2024-09-29", "2024-10-14", 0, 0),
    }

    # receive_materials Wed 10-09: 10 days paused; 5 left from 10-09 -> 10-14 (Mon)
    case = walk.step("receive_materials", "2024-10-09")
    assert case.case.state == "applied"
    assert clocks_of(case) == {
        ("review", 1): ("running", "2024-09-27", "2024-10-14", 10, 0),
        ("materials", 1): ("met", "2024-09-29", "2024-10-14", 0, 0),
    }

    # approve Thu 10-10: review met; admitted; assignment 3 calendar days: 10-13 (Sun) -> 10-14
    case = walk.step("approve", "2024-10-10")
    assert case.case.state == "approved"
    assert case.case.admitted_on == d("2024-10-10")
    assert clocks_of(case)[("review", 1)][0] == "met"
    assert clocks_of(case)[("assignment", 1)] == ("running", "2024-10-10", "2024-10-14", 0, 0)

    # assign on Sat 10-12 (a make-up working day): engagement 5 calendar days -> 10-17 (Thu)
    lawyer = pool_lawyer(bureau)
    case = walk.step("assign", "2024-10-12", attrs={"lawyer": lawyer})
    assert case.case.state == "assigned"
    assert case.case.attrs["lawyer"] == lawyer
    assert clocks_of(case)[("assignment", 1)][0] == "met"
    assert clocks_of(case)[("engagement", 1)] == ("running", "2024-10-12", "2024-10-17", 0, 0)

    case = walk.step("engage", "2024-10-16")
    assert case.case.state == "in_service"
    assert clocks_of(case)[("engagement", 1)][0] == "met"

    # conclude Fri 12-20: closing_report 30 calendar days: 2025-01-19 (Sun) -> 01-20 (Mon)
    case = walk.step("conclude", "2024-12-20", attrs={"outcome": "调解成功"})
    assert case.case.state == "concluded"
    assert case.case.closed_on is None
    assert clocks_of(case)[("closing_report", 1)] == (
        "running", "2024-12-20", "2025-01-20", 0, 0)

    case = walk.step("receive_closing_materials", "2025-01-13")
    case = walk.step("close", "2025-01-15")
    assert case.case.state == "closed"
    assert case.case.closed_on == d("2025-01-15")
    assert case.case.version == 9
    assert {k: v[0] for k, v in clocks_of(case).items()} == {
        ("review", 1): "met", ("materials", 1): "met", ("assignment", 1): "met",
        ("engagement", 1): "met", ("closing_report", 1): "met",
    }


def test_legal_aid_notification_and_objection(bureau: Bureau) -> None:
    # a notification (art. 36) is approved and admitted on opening; assignment 3 calendar days
    # from Tue 10-08 -> 10-11 (Fri); no review clock
    notified = open_(bureau, "legal_aid", "2024-10-08",
                     attrs={"channel": "notification", "matter": "criminal"})
    case = services.get_case(bureau, notified.case.ref)
    assert case.case.state == "approved"
    assert case.case.admitted_on == d("2024-10-08")
    assert clocks_of(case) == {("assignment", 1): ("running", "2024-10-08", "2024-10-11", 0, 0)}

    # application Tue 10-08: review 7 calendar days -> 10-15 (Tue)
    walk = Walk(bureau, open_(bureau, "legal_aid", "2024-10-08"))
    case = walk.step("deny", "2024-10-09", reason="经济状况不符合条件")
    assert case.case.state == "denied"
    assert case.case.closed_on == d("2024-10-09")
    assert clocks_of(case) == {("review", 1): ("met", "2024-10-08", "2024-10-15", 0, 0)}
    # file_objection Thu 10-10 (internal): objection_review 5 calendar days -> 10-15 (Tue)
    case = walk.step("file_objection", "2024-10-10")
    assert case.case.state == "denied"
    assert case.case.closed_on == d("2024-10-09")
    assert clocks_of(case)[("objection_review", 1)] == (
        "running", "2024-10-10", "2024-10-15", 0, 0)
    # order_correction Mon 10-14 reopens it: approved, no longer closed; assignment from 10-14
    # 3 calendar days -> 10-17 (Thu)
    case = walk.step("order_correction", "2024-10-14")
    assert case.case.state == "approved"
    assert case.case.closed_on is None
    assert clocks_of(case)[("objection_review", 1)][0] == "met"
    assert clocks_of(case)[("assignment", 1)] == ("running", "2024-10-14", "2024-10-17", 0, 0)


def test_complaint_lifecycle_persisted(bureau: Bureau) -> None:
    opened = open_(bureau, "complaint", "2024-09-27",
                   attrs={"complainant": "王五", "subject": "某律师", "subject_kind": "lawyer"})
    walk = Walk(bureau, opened)
    # open Fri 09-27, admitted on opening: acceptance 10 working days: 09-29, 09-30, 10-08..10-11,
    # Sat 10-12, 10-14, 10-15, 10-16 -> 10-16
    case = services.get_case(bureau, walk.ref)
    assert case.case.state == "received"
    assert case.case.admitted_on == d("2024-09-27")
    assert clocks_of(case) == {("acceptance", 1): ("running", "2024-09-27", "2024-10-16", 0, 0)}

    # request_supplement Mon 09-30: acceptance paused with 2 working days used (09-29, 09-30);
    # supplement 10 working days from 09-30 -> 10-18
    case = walk.step("request_supplement", "2024-09-30")
    assert case.case.state == "awaiting_supplement"
    assert clocks_of(case) == {
        ("acceptance", 1): ("paused", "2024-09-27", "2024-10-16", 0, 0),
        ("supplement", 1): ("running", "2024-09-30", "2024-10-18", 0, 0),
    }

    # receive_supplement Thu 10-10: 10 calendar days paused; the 8 working days left count from
    # 10-10: 10-11, Sat 10-12, 10-14..10-18, 10-21 -> 10-21
    case = walk.step("receive_supplement", "2024-10-10")
    assert clocks_of(case) == {
        ("acceptance", 1): ("running", "2024-09-27", "2024-10-21", 10, 0),
        ("supplement", 1): ("met", "2024-09-30", "2024-10-18", 0, 0),
    }

    # accept Tue 10-15: handling 60 calendar days: 12-14 (Sat) -> 12-16 (Mon)
    case = walk.step("accept", "2024-10-15")
    assert case.case.state == "investigating"
    assert case.case.admitted_on == d("2024-09-27")  # admitted on opening, not changed
    assert clocks_of(case)[("acceptance", 1)][0] == "met"
    assert clocks_of(case)[("handling", 1)] == ("running", "2024-10-15", "2024-12-16", 0, 0)

    # extend by 30 on 12-02: raw end 12-14 + 30 = 2025-01-13 (Mon)
    case = walk.step("extend", "2024-12-02", attrs={"days": "30"})
    assert clocks_of(case)[("handling", 1)] == ("running", "2024-10-15", "2025-01-13", 0, 30)

    case = walk.step("decide", "2025-01-06", attrs={"outcome": "order_to_correct"})
    assert case.case.state == "decided"
    assert case.case.closed_on is None
    assert case.case.attrs["outcome"] == "order_to_correct"
    assert clocks_of(case)[("handling", 1)][0] == "running"

    case = walk.step("reply", "2025-01-08")
    assert case.case.state == "closed"
    assert case.case.closed_on == d("2025-01-08")
    assert case.case.version == 7
    assert clocks_of(case)[("handling", 1)] == ("met", "2024-10-15", "2025-01-13", 0, 30)


# -- deemed acceptance ---------------------------------------------------------------------------


def test_deem_accepted_takes_effect_on_its_date(bureau: Bureau) -> None:
    ref = open_(bureau, "reconsideration", "2024-09-27").case.ref
    sweep_time = datetime(2024, 10, 15, 1, 0, tzinfo=UTC)  # the sweep runs days later
    # a person never fires it; before the review period ran out it does not apply
    with pytest.raises(ActorNotAllowed):
        services.advance(bureau, ref, "deem_accepted", on=d("2024-10-10"), by="clerk-a",
                         now=sweep_time)
    with pytest.raises(ClockRuleViolation):
        services.advance(bureau, ref, "deem_accepted", on=d("2024-10-09"), by="system",
                         now=sweep_time, by_system=True)
    assert services.get_case(bureau, ref).case.version == 1

    # acceptance_review ran out on 10-10 (09-29, 09-30, 10-08, 10-09, 10-10): effective that day
    services.advance(bureau, ref, "deem_accepted", on=d("2024-10-10"), by="system",
                     now=sweep_time, by_system=True)
    case = services.get_case(bureau, ref)
    assert case.case.state == "under_review"
    assert case.case.version == 2
    assert case.case.admitted_on == d("2024-10-10")
    assert case.case.last_on == d("2024-10-10")
    assert case.case.attrs == {"procedure": "ordinary"}
    cycles = {c.clock: c for c in case.case.cycles}
    assert cycles["acceptance_review"].status.value == "missed"
    assert cycles["acceptance_review"].stopped_on == d("2024-10-10")
    # counted from 10-10: copy 7 working days: 10-11, Sat 10-12, 10-14..10-18 -> 10-18;
    # decision 10-10 + 60 = 12-09 (Mon)
    assert clocks_of(case)[("copy_to_respondent", 1)] == (
        "running", "2024-10-10", "2024-10-18", 0, 0)
    assert clocks_of(case)[("decision", 1)] == ("running", "2024-10-10", "2024-12-09", 0, 0)
    event = services.timeline(bureau, ref)[-1]
    assert (event.trigger, event.actor, event.on) == (
        "deem_accepted", "system", d("2024-10-10"))
    assert event.recorded_at == sweep_time
    # a clerk may still record what happened between the legal date and the sweep
    services.advance(bureau, ref, "send_copy", on=d("2024-10-11"), by="clerk-a", now=sweep_time)
    assert clocks_of(services.get_case(bureau, ref))[("copy_to_respondent", 1)][0] == "met"


# -- legal dates, not found, conflicts -----------------------------------------------------------


def test_legal_dates_are_checked_and_refusals_change_nothing(bureau: Bureau) -> None:
    # 2024-10-07 17:00 UTC is already 10-08 01:00 in Shanghai: the legal date is 10-08
    now = datetime(2024, 10, 7, 17, 0, tzinfo=UTC)
    ref = open_(bureau, "reconsideration", "2024-10-08", now=now).case.ref
    with pytest.raises(InvalidLegalDate):
        open_(bureau, "reconsideration", "2024-10-09", now=now)
    services.advance(bureau, ref, "request_supplement", on=d("2024-10-08"), by="clerk-a",
                     now=now)
    before = dump(bureau)

    with pytest.raises(InvalidLegalDate):  # tomorrow in Shanghai
        services.advance(bureau, ref, "receive_supplement", on=d("2024-10-09"), by="clerk-a",
                         now=now)
    with pytest.raises(InvalidLegalDate):  # before the case's last event (10-08)
        services.advance(bureau, ref, "receive_supplement", on=d("2024-10-07"), by="clerk-a",
                         now=now)
    assert dump(bureau) == before
    case = services.get_case(bureau, ref)
    assert case.case.version == 2
    assert event_count(bureau) == 2

    # without `on` the legal date is today in Shanghai, not the UTC date
    later = now + timedelta(days=1)
    services.advance(bureau, ref, "receive_supplement", by="clerk-a", now=later)
    assert services.timeline(bureau, ref)[-1].on == d("2024-10-09")
    # on the case's last date itself is fine
    services.advance(bureau, ref, "accept", on=d("2024-10-09"), by="clerk-a", now=later)
    assert services.get_case(bureau, ref).case.version == 4


def test_not_found_and_unknown_type(bureau: Bureau) -> None:
    open_(bureau, "complaint", "2024-10-08")
    before = dump(bureau)
    for call in (
        lambda: services.get_case(bureau, "RC-2024-9999"),
        lambda: services.advance(bureau, "RC-2024-9999", "accept", on=d("2024-10-08"),
                                 by="clerk-a", now=NOW),
        lambda: services.timeline(bureau, "RC-2024-9999"),
        lambda: services.triggers_now(bureau, "RC-2024-9999", NOW),
        lambda: services.verify(bureau, "RC-2024-9999"),
    ):
        with pytest.raises(CaseNotFound):
            call()
    with pytest.raises(UnknownCaseType):
        open_(bureau, "divorce", "2024-10-08")
    with pytest.raises(UnknownCaseType):
        services.list_cases(bureau, case_type="divorce")
    assert dump(bureau) == before


def test_explicit_duplicate_ref_is_a_conflict(bureau: Bureau) -> None:
    open_(bureau, "reconsideration", "2024-10-08", ref="复-2024-17")
    before = dump(bureau)
    with pytest.raises(Conflict):
        open_(bureau, "complaint", "2024-10-09", ref="复-2024-17")
    assert dump(bureau) == before
    with pytest.raises(RuleViolation):  # not a usable reference
        open_(bureau, "complaint", "2024-10-09", ref="A B")
    assert dump(bureau) == before


def test_generated_refs_per_prefix_and_year(bureau: Bureau) -> None:
    refs = [
        open_(bureau, "reconsideration", "2024-03-01").case.ref,
        open_(bureau, "reconsideration", "2024-12-31").case.ref,
        open_(bureau, "legal_aid", "2024-05-01").case.ref,
        open_(bureau, "reconsideration", "2025-01-02").case.ref,
        open_(bureau, "complaint", "2024-06-01").case.ref,
    ]
    assert refs == ["RC-2024-0001", "RC-2024-0002", "LA-2024-0001", "RC-2025-0001",
                    "CP-2024-0001"]
    # an imported case brought its own number: generation skips it instead of failing
    open_(bureau, "reconsideration", "2024-04-01", ref="RC-2024-0003")
    assert open_(bureau, "reconsideration", "2024-04-02").case.ref == "RC-2024-0004"
    assert services.get_case(bureau, "RC-2024-0004").case.opened_on == d("2024-04-02")


def test_failed_open_does_not_use_up_a_number(
    bureau: Bureau, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_(bureau, "reconsideration", "2024-10-08")
    before = dump(bureau)

    def boom(*args: object, **kwargs: object) -> object:
        raise RuleViolation("injected after the reference was drawn")

    with monkeypatch.context() as patch:
        patch.setattr(repository, "insert_case", boom)
        with pytest.raises(RuleViolation):
            open_(bureau, "reconsideration", "2024-10-08")
    assert dump(bureau) == before
    assert open_(bureau, "reconsideration", "2024-10-08").case.ref == "RC-2024-0002"


# -- the timeline --------------------------------------------------------------------------------


def test_timeline_records_legal_date_time_and_clock_changes(bureau: Bureau) -> None:
    t1 = datetime(2024, 9, 27, 2, 30, 15, 123456, tzinfo=UTC)
    # recorded in Shanghai time: stored and returned as the same instant in UTC
    t2 = datetime(2024, 10, 9, 9, 0, 0, 654321, tzinfo=timezone(timedelta(hours=8)))
    t3 = datetime(2024, 10, 9, 3, 0, tzinfo=UTC)
    ref = open_(bureau, "reconsideration", "2024-09-27", attrs={"applicant": "张三"},
                by="clerk-a", now=t1).case.ref
    services.advance(bureau, ref, "accept", on=d("2024-10-08"), by="clerk-b", now=t2)
    services.advance(bureau, ref, "send_copy", on=d("2024-10-09"), by="clerk-b", now=t3)

    rows = services.timeline(bureau, ref)
    assert [r.seq for r in rows] == [1, 2, 3]
    assert [(r.trigger, r.from_state, r.to_state) for r in rows] == [
        ("open", None, "received"),
        ("accept", "received", "under_review"),
        ("send_copy", "under_review", "under_review"),
    ]
    assert [r.on for r in rows] == [d("2024-09-27"), d("2024-10-08"), d("2024-10-09")]
    assert [r.recorded_at for r in rows] == [t1, t2, t3]
    for row in rows:
        recorded = row.recorded_at
        assert isinstance(recorded, datetime)
        assert recorded.utcoffset() == timedelta(0)
    assert rows[1].recorded_at == datetime(2024, 10, 9, 1, 0, 0, 654321, tzinfo=UTC)
    assert [(r.actor, r.by) for r in rows] == [
        ("clerk", "clerk-a"), ("clerk", "clerk-b"), ("clerk", "clerk-b")]
    assert rows[0].attrs == {"applicant": "张三"}
    assert rows[1].attrs == {"procedure": "ordinary"}
    # open Fri 09-27: acceptance_review 5 working days -> 10-10
    assert rows[0].clocks == [
        {"clock": "acceptance_review", "cycle": 1, "change": "started",
         "due_on": "2024-10-10", "status": "running"},
    ]
    # accept Tue 10-08: acceptance_review met; copy 7 working days: 10-09..10-11, Sat 10-12,
    # 10-14..10-16 -> 10-16; decision 10-08 + 60 = 12-07 (Sat) -> 12-09 (Mon)
    assert rows[1].clocks == [
        {"clock": "acceptance_review", "cycle": 1, "change": "met",
         "due_on": "2024-10-10", "status": "met"},
        {"clock": "copy_to_respondent", "cycle": 1, "change": "started",
         "due_on": "2024-10-16", "status": "running"},
        {"clock": "decision", "cycle": 1, "change": "started",
         "due_on": "2024-12-09", "status": "running"},
    ]
    # send_copy Wed 10-09: copy met; respondent_reply 10 working days: 10-10, 10-11, Sat 10-12,
    # 10-14..10-18, 10-21, 10-22 -> 10-22
    assert rows[2].clocks == [
        {"clock": "copy_to_respondent", "cycle": 1, "change": "met",
         "due_on": "2024-10-16", "status": "met"},
        {"clock": "respondent_reply", "cycle": 1, "change": "started",
         "due_on": "2024-10-22", "status": "running"},
    ]
    assert len({r.hash for r in rows}) == 3
    # the chain verifies however the recording time was spelled (here: with a +08:00 offset)
    assert [(c.ref, c.ok) for c in services.verify(bureau)] == [(ref, True)]


# -- listing -------------------------------------------------------------------------------------


def test_list_cases_by_type_state_and_overdue(bureau: Bureau) -> None:
    # a: acceptance_review due 10-10
    a = open_(bureau, "reconsideration", "2024-09-27").case.ref
    # b: accepted Wed 10-09: copy due 10-17, decision due 12-09
    b = open_(bureau, "reconsideration", "2024-10-08").case.ref
    services.advance(bureau, b, "accept", on=d("2024-10-09"), by="clerk-a", now=NOW)
    # c: review 7 calendar days from 09-27 -> 10-04 (holiday) -> 10-08
    c = open_(bureau, "legal_aid", "2024-09-27").case.ref
    # e: acceptance 10 working days from 09-27 -> 10-16
    e = open_(bureau, "complaint", "2024-09-27").case.ref
    # f: rejected: no running clock
    f = open_(bureau, "reconsideration", "2024-09-27").case.ref
    services.advance(bureau, f, "reject", on=d("2024-09-30"), reason="超过申请期限",
                     by="clerk-a", now=NOW)

    def refs(**kwargs: Any) -> list[str]:
        return [s.case.ref for s in services.list_cases(bureau, **kwargs)]

    assert refs() == [a, b, c, e, f]
    assert refs(case_type="reconsideration") == [a, b, f]
    assert refs(state="received") == [a, e]
    assert refs(case_type="reconsideration", state="received") == [a]
    assert refs(case_type="reconsideration", state="rejected") == [f]
    # a state the type does not have is an error naming the type's states, not an empty list
    with pytest.raises(services.UnknownState) as unknown:
        refs(case_type="legal_aid", state="received")
    assert "applied" in unknown.value.allowed and "received" not in unknown.value.allowed
    assert refs(limit=2) == [a, b]
    # overdue on a date: a clock running whose due date is before that date
    assert refs(overdue_on=d("2024-10-08")) == []
    assert refs(overdue_on=d("2024-10-09")) == [c]
    assert refs(overdue_on=d("2024-10-10")) == [c]
    assert refs(overdue_on=d("2024-10-11")) == [a, c]
    assert refs(overdue_on=d("2024-10-17")) == [a, c, e]
    assert refs(overdue_on=d("2024-10-18")) == [a, b, c, e]
    assert refs(overdue_on=d("2024-10-18"), case_type="reconsideration") == [a, b]
    listed = services.list_cases(bureau, case_type="reconsideration", state="under_review")
    assert [s.case for s in listed] == [services.get_case(bureau, b).case]


# -- atomicity -----------------------------------------------------------------------------------


def test_failed_advance_leaves_the_database_unchanged(
    bureau: Bureau, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = open_(bureau, "reconsideration", "2024-09-27").case.ref
    services.advance(bureau, ref, "accept", on=d("2024-10-08"), by="clerk-a", now=NOW)
    services.advance(bureau, ref, "extend", on=d("2024-10-09"), attrs={"days": "10"},
                     by="chief", now=NOW)
    other = open_(bureau, "complaint", "2024-09-27").case.ref
    before = dump(bureau)

    # refused by the domain inside the unit of work (the case row is locked, nothing written)
    with pytest.raises(ClockRuleViolation):
        services.advance(bureau, ref, "extend", on=d("2024-10-10"), attrs={"days": "5"},
                         by="chief", now=NOW)
    with pytest.raises(TriggerNotAllowed):
        services.advance(bureau, other, "reply", on=d("2024-10-10"), by="clerk-a", now=NOW)
    assert dump(bureau) == before

    # refused after the case row and the event were written: all of it is rolled back
    def refuse(*args: object, **kwargs: object) -> object:
        raise ClockRuleViolation("injected after the case row and the event were written")

    with monkeypatch.context() as patch:
        patch.setattr(repository, "changed_cycles", refuse)
        with pytest.raises(ClockRuleViolation):
            services.advance(bureau, ref, "send_copy", on=d("2024-10-10"), by="clerk-a",
                             now=NOW)
    assert dump(bureau) == before
    # and the case still works normally afterwards
    after = services.advance(bureau, ref, "send_copy", on=d("2024-10-10"), by="clerk-a", now=NOW)
    assert after.case.version == 4
    assert all(check.ok for check in services.verify(bureau))


def test_stale_read_is_refused_by_the_version_guard(bureau: Bureau) -> None:
    """Even without the row lock, a write based on a stale read cannot land."""
    from states.machine import fire

    ref = open_(bureau, "reconsideration", "2024-09-27").case.ref
    with bureau.unit_of_work(write=False) as uow:
        stale = repository.load(uow.connection, ref)
    services.advance(bureau, ref, "accept", on=d("2024-10-08"), by="clerk-a", now=NOW)
    before = dump(bureau)
    fired = fire(bureau.case_type("reconsideration"), stale.case, "reject", d("2024-10-08"),
                 reason="stale", by="clerk-b", calendar=bureau.calendar)
    with bureau.unit_of_work() as uow:
        with pytest.raises(Conflict):
            repository.append(uow.connection, stale, fired, recorded_at=NOW)
        # the refusal wrote nothing, not even the event or the cycles, so the transaction
        # can go on (apply_system_acts does) and commit
        uow.commit()
    assert dump(bureau) == before
    assert services.get_case(bureau, ref).case.state == "under_review"


def test_expect_version(bureau: Bureau) -> None:
    ref = open_(bureau, "complaint", "2024-09-27").case.ref
    before = dump(bureau)
    with pytest.raises(Conflict) as refused:
        services.advance(bureau, ref, "accept", on=d("2024-10-08"), by="clerk-a", now=NOW,
                         expect_version=2)
    assert "--expect-version 1" in refused.value.allowed
    assert dump(bureau) == before
    stored = services.advance(bureau, ref, "accept", on=d("2024-10-08"), by="clerk-a", now=NOW,
                              expect_version=1)
    assert stored.case.version == 2
