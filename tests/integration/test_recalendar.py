"""Calendar updates against a real store, on SQLite and on PostgreSQL (DESIGN.md §3).

Cases are opened and advanced through `flows.services` on a calendar where 2027 is provisional,
then `flows.recalendar.reproject_clocks` applies a FICTIONAL 2027 notice (TEST DATA, not the
State Council's): 春节 02-05 (Fri) .. 02-11 (Thu) off instead of the provisional 02-05 .. 02-08,
Sat 02-20 worked. Hand-derived dates (the start day is not counted):

- 受理审查 5 working days from Mon 2027-02-01: provisional 02, 03, 04, 09, 10 -> 02-10;
  notice 02, 03, 04, 12, 15 -> 02-15.
- 审理期限 60 calendar days from Fri 2026-12-11: Tue 2027-02-09, a working day when provisional;
  a rest day in the notice -> Fri 02-12.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from calendar_data import FICTIONAL_2027

from flows import services
from flows.context import Bureau
from flows.recalendar import reproject_clocks
from flows.sweep import sweep
from models.tables import alerts, escalations
from states.calendar import WorkCalendar, packaged_years, parse_calendar_data
from states.errors import InvalidLegalDate

SOURCE = "TEST ONLY: fictional 2027 notice"

NOTICE = parse_calendar_data(FICTIONAL_2027, origin="test")
BEFORE_YEARS = {year: data for year, data in packaged_years().items() if year != 2027}
BEFORE = WorkCalendar(BEFORE_YEARS)
AFTER = WorkCalendar({**BEFORE_YEARS, **NOTICE})

NOW = datetime(2027, 2, 9, 2, 0, tzinfo=UTC)  # 10:00 on 2027-02-09 in Shanghai


def d(text: str) -> date:
    return date.fromisoformat(text)


def at(day: str) -> datetime:
    """10:00 Asia/Shanghai on ``day``."""
    return datetime.fromisoformat(f"{day}T10:00:00+08:00")


@pytest.fixture
def old(bureau: Bureau) -> Bureau:
    """The bureau before the notice: 2027 provisional."""
    return replace(bureau, calendar=BEFORE)


def open_cases(bureau: Bureau) -> dict[str, str]:
    """Three reconsideration cases; returns their refs by role."""
    crossing = services.open_case(bureau, "reconsideration", on=d("2026-12-10"), by="clerk",
                                  now=NOW).case.ref
    for trigger, on in [("accept", "2026-12-11"), ("send_copy", "2026-12-14"),
                        ("receive_reply", "2026-12-18")]:
        services.advance(bureau, crossing, trigger, on=d(on), by="clerk", now=NOW)
    in_2027 = services.open_case(bureau, "reconsideration", on=d("2027-02-01"), by="clerk",
                                 now=NOW).case.ref
    # every clock of this one ends in 2026: it is not even examined
    services.open_case(bureau, "reconsideration", on=d("2026-06-01"), by="clerk", now=NOW)
    return {"crossing": crossing, "in_2027": in_2027}


def due(bureau: Bureau, ref: str, clock: str) -> date:
    case = services.get_case(bureau, ref).case
    return next(c.due_on for c in reversed(case.cycles) if c.clock == clock)


def test_running_clocks_are_reprojected_and_journaled(old: Bureau) -> None:
    refs = open_cases(old)
    assert due(old, refs["crossing"], "decision") == d("2027-02-09")
    assert due(old, refs["in_2027"], "acceptance_review") == d("2027-02-10")
    versions = {ref: services.get_case(old, ref).case.version for ref in refs.values()}

    report = reproject_clocks(old, AFTER, years=[2027], now=NOW, source=SOURCE).to_json()

    assert report == {
        "on": "2027-02-09",
        "years": [2027],
        "source": SOURCE,
        "cases": 2,
        "cycles": 2,
        "events": 2,
        "changed": [
            {"ref": refs["crossing"], "clock": "decision", "cycle": 1,
             "from": "2027-02-09", "to": "2027-02-12"},
            {"ref": refs["in_2027"], "clock": "acceptance_review", "cycle": 1,
             "from": "2027-02-10", "to": "2027-02-15"},
        ],
        "failures": [],
    }
    assert due(old, refs["crossing"], "decision") == d("2027-02-12")
    assert due(old, refs["in_2027"], "acceptance_review") == d("2027-02-15")
    for ref, version in versions.items():
        stored = services.get_case(old, ref)
        assert stored.case.version == version + 1
    last = services.timeline(old, refs["in_2027"])[-1]
    assert {k: getattr(last, k) for k in ("trigger", "from_state", "to_state", "on", "actor", "by",
                                 "reason", "attrs", "clocks", "recorded_at")} == {
        "trigger": "recalendar",
        "from_state": "received",
        "to_state": "received",
        "on": d("2027-02-09"),
        "actor": "system",
        "by": "system",
        "reason": None,
        "attrs": {"years": "2027", "source": SOURCE},
        "clocks": [{"clock": "acceptance_review", "cycle": 1, "change": "reprojected",
                    "due_on": "2027-02-15", "status": "running"}],
        "recorded_at": NOW,
    }
    assert [r.trigger for r in services.timeline(old, refs["crossing"])] == [
        "open", "accept", "send_copy", "receive_reply", "recalendar",
    ]
    assert all(check.ok for check in services.verify(old))


def test_running_it_twice_changes_nothing_the_second_time(old: Bureau) -> None:
    refs = open_cases(old)
    reproject_clocks(old, AFTER, years=[2027], now=NOW, source=SOURCE)
    before = {ref: services.get_case(old, ref).case for ref in refs.values()}

    again = reproject_clocks(old, AFTER, years=[2027], now=NOW, source=SOURCE).to_json()

    assert (again["cases"], again["cycles"], again["events"]) == (2, 2, 0)
    assert again["changed"] == [] and again["failures"] == []
    assert {ref: services.get_case(old, ref).case for ref in refs.values()} == before
    # and the bureau that already counts on the notice finds nothing either
    new = replace(old, calendar=AFTER)
    assert reproject_clocks(new, AFTER, years=[2027], now=NOW).to_json()["events"] == 0
    assert all(check.ok for check in services.verify(old))


def test_the_update_does_not_forbid_acts_dated_before_it(old: Bureau) -> None:
    refs = open_cases(old)
    reproject_clocks(old, AFTER, years=[2027], now=NOW)
    new = replace(old, calendar=AFTER)
    # the case's last act stays 02-01: an acceptance on 02-03, recorded later, is still allowed
    stored = services.advance(new, refs["in_2027"], "accept", on=d("2027-02-03"), by="clerk",
                              now=NOW)
    assert stored.case.last_on == d("2027-02-03")
    # 发送副本 7 working days from 02-03 on the notice: 04, 12, 15..19 -> 02-19
    assert due(new, refs["in_2027"], "copy_to_respondent") == d("2027-02-19")


def test_an_update_dated_in_the_future_is_refused(old: Bureau) -> None:
    with pytest.raises(InvalidLegalDate):
        reproject_clocks(old, AFTER, years=[2027], now=NOW, on=d("2027-02-10"))


def test_no_years_no_work(old: Bureau) -> None:
    open_cases(old)
    report = reproject_clocks(old, AFTER, years=[], now=NOW).to_json()
    assert (report["cases"], report["events"], report["changed"]) == (0, 0, [])


def escalation_rows(bureau: Bureau) -> list[dict[str, Any]]:
    with bureau.engine.connect() as connection:
        query = sa.select(escalations.c.clock, escalations.c.rung, escalations.c.reached_on,
                          escalations.c.due_on, escalations.c.alerted).order_by(escalations.c.id)
        return [dict(row) for row in connection.execute(query).mappings()]


def alert_count(bureau: Bureau) -> int:
    with bureau.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one())


def test_escalations_recorded_before_are_kept_and_not_sent_again(old: Bureau) -> None:
    ref = services.open_case(old, "reconsideration", on=d("2027-02-01"), by="clerk",
                             now=NOW).case.ref
    # 预警 one working day before 02-10: reached on 02-09
    first = sweep(old, at("2027-02-09"))
    assert [(e["clock"], e["level"]) for e in first.escalations] == [
        ("acceptance_review", "due_soon"),
    ]
    queued = alert_count(old)
    assert queued > 0
    recorded = escalation_rows(old)

    report = reproject_clocks(old, AFTER, years=[2027], now=at("2027-02-09"), source=SOURCE)
    assert [(c["from"], c["to"]) for c in report.changed] == [("2027-02-10", "2027-02-15")]

    new = replace(old, calendar=AFTER)
    # 02-12 is the working day before the new due date: 预警 again by date, but it was sent
    later = sweep(new, at("2027-02-12"))
    assert later.escalations == [] and later.lapsed == []
    assert escalation_rows(new) == recorded  # kept as recorded, old due date and all
    assert alert_count(new) == queued
    # on the provisional data the clock would have lapsed on 02-11 (视为受理); now it waits
    assert services.get_case(new, ref).case.state == "received"
    lapsed = sweep(new, at("2027-02-16"))
    assert [(x["effect"], x["effective_on"]) for x in lapsed.lapsed] == [
        ("deem_accepted", "2027-02-15"),
    ]
    assert escalation_rows(new)[: len(recorded)] == recorded
    assert all(check.ok for check in services.verify(new))
