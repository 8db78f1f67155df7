"""`caseflow case …` end to end: the installed console script on SQLite and on PostgreSQL.

Every case here walks a whole lifecycle of DESIGN.md §5 with explicit past `--on` dates, and
every JSON document is checked against the shapes of CONTRACT.md. Expected due dates are
worked out by hand from the 2024 official calendar (国庆 10-01..07 with make-up days 09-29 and
10-12; 中秋 09-15..17 with make-up day 09-14), not by the code under test.
"""

from __future__ import annotations

import getpass
import json
import re
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from models.engine import create_engine
from models.schema import HEAD, current_revision
from states.calendar import legal_date

CASE_KEYS = {"ref", "type", "state", "version", "opened_on", "closed_on", "attrs", "clocks"}
CLOCK_KEYS = {"name", "cycle", "status", "started_on", "due_on", "paused_days", "extended_days",
              "basis"}
EVENT_KEYS = {"seq", "trigger", "from", "to", "on", "recorded_at", "by", "reason", "attrs",
              "clocks", "hash"}
STATUSES = {"running", "paused", "met", "missed", "overdue", "cancelled"}
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WITH_OFFSET = re.compile(r".*T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})")
HASH = re.compile(r"[0-9a-f]{64}")
ME = getpass.getuser()


# -- running the console script -------------------------------------------------------------


def caseflow(
    cli: Any, db_url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return cli(["--db", db_url, *args], env=env)


def ok_json(cli: Any, db_url: str, *args: str) -> Any:
    """Run a command with --json that must succeed; its one JSON document."""
    done = caseflow(cli, db_url, *args, "--json")
    assert done.returncode == 0, f"{args}: exit {done.returncode}: {done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr == "", done.stderr
    assert done.stdout.endswith("\n") and done.stdout.count("\n") == 1, done.stdout
    return json.loads(done.stdout)


def ok_text(cli: Any, db_url: str, *args: str, columns: int | None = None) -> str:
    """Run a command without --json that must succeed; its human output."""
    env = None if columns is None else {"COLUMNS": str(columns)}
    done = caseflow(cli, db_url, *args, env=env)
    assert done.returncode == 0, f"{args}: exit {done.returncode}: {done.stderr}"
    assert done.stderr == "", done.stderr
    assert done.stdout.strip(), "no output"
    with pytest.raises(ValueError):
        json.loads(done.stdout)
    return done.stdout


def in_parallel(cli: Any, db_url: str, commands: Sequence[Sequence[str]]) -> list[Any]:
    """Read-only --json commands, run side by side (each one is a Python start-up)."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: ok_json(cli, db_url, *args), commands))


# -- the contract's shapes ------------------------------------------------------------------


def is_date(value: Any) -> bool:
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        return False
    date.fromisoformat(value)
    return True


def check_case(doc: Any) -> dict[str, Any]:
    assert isinstance(doc, dict), doc
    assert set(doc) >= CASE_KEYS, CASE_KEYS - set(doc)
    assert isinstance(doc["ref"], str) and doc["ref"]
    assert doc["type"] in {"reconsideration", "legal_aid", "complaint"}
    assert isinstance(doc["state"], str) and doc["state"]
    assert isinstance(doc["version"], int) and not isinstance(doc["version"], bool)
    assert doc["version"] >= 1
    assert is_date(doc["opened_on"]), doc["opened_on"]
    assert doc["closed_on"] is None or is_date(doc["closed_on"]), doc["closed_on"]
    assert isinstance(doc["attrs"], dict)
    assert isinstance(doc["clocks"], list)
    for clock in doc["clocks"]:
        assert isinstance(clock, dict)
        assert set(clock) >= CLOCK_KEYS, CLOCK_KEYS - set(clock)
        assert isinstance(clock["name"], str) and clock["name"]
        assert isinstance(clock["cycle"], int) and clock["cycle"] >= 1
        assert clock["status"] in STATUSES, clock["status"]
        assert is_date(clock["started_on"]) and is_date(clock["due_on"]), clock
        assert clock["started_on"] <= clock["due_on"], clock
        for key in ("paused_days", "extended_days"):
            assert isinstance(clock[key], int) and clock[key] >= 0, clock
        assert isinstance(clock["basis"], str) and clock["basis"], clock
    return doc


def check_timeline(entries: Any) -> list[dict[str, Any]]:
    assert isinstance(entries, list) and entries
    for number, event in enumerate(entries, start=1):
        assert isinstance(event, dict)
        assert set(event) >= EVENT_KEYS, EVENT_KEYS - set(event)
        assert event["seq"] == number
        assert isinstance(event["trigger"], str) and event["trigger"]
        assert event["from"] is None if number == 1 else isinstance(event["from"], str)
        assert isinstance(event["to"], str) and event["to"]
        assert is_date(event["on"]), event["on"]
        stamp = event["recorded_at"]
        assert isinstance(stamp, str) and WITH_OFFSET.fullmatch(stamp), stamp
        assert datetime.fromisoformat(stamp).tzinfo is not None, stamp
        assert isinstance(event["by"], str) and event["by"]
        assert event["reason"] is None or isinstance(event["reason"], str)
        assert isinstance(event["attrs"], dict)
        assert isinstance(event["clocks"], list)
        assert isinstance(event["hash"], str) and HASH.fullmatch(event["hash"]), event["hash"]
    assert entries[0]["trigger"] == "open"
    for before, after in pairwise(entries):
        assert after["from"] == before["to"], (before, after)
        assert after["on"] >= before["on"]
        assert after["recorded_at"] >= before["recorded_at"]
    assert len({e["hash"] for e in entries}) == len(entries)
    return entries


def clock(doc: dict[str, Any], name: str, cycle: int | None = None) -> dict[str, Any]:
    """The clock ``name`` of a case (its latest cycle unless ``cycle`` is given)."""
    found = [c for c in doc["clocks"] if c["name"] == name]
    assert found, f"no clock {name!r} in {[c['name'] for c in doc['clocks']]}"
    if cycle is None:
        return max(found, key=lambda c: c["cycle"])
    (only,) = [c for c in found if c["cycle"] == cycle]
    return only


def live(doc: dict[str, Any]) -> set[str]:
    """The clocks still running (judged at the real now, every 2024 clock is overdue)."""
    return {c["name"] for c in doc["clocks"] if c["status"] in {"running", "overdue", "paused"}}


def advance(cli: Any, db_url: str, ref: str, trigger: str, on: str, *more: str) -> dict[str, Any]:
    doc = check_case(ok_json(cli, db_url, "case", "advance", ref, trigger, "--on", on, *more))
    assert doc["ref"] == ref
    return doc


# -- lifecycles -------------------------------------------------------------------------------


def test_reconsideration_lifecycle(cli, db_url):
    started = datetime.now(UTC) - timedelta(seconds=1)
    doc = check_case(ok_json(cli, db_url, "case", "open", "reconsideration", "--on", "2024-09-27",
                             "--set", "applicant=王某", "--by", "alice"))
    ref = doc["ref"]
    assert re.fullmatch(r"RC-2024-[0-9]{4}", ref), ref
    assert (doc["type"], doc["state"], doc["version"]) == ("reconsideration", "received", 1)
    assert (doc["opened_on"], doc["closed_on"]) == ("2024-09-27", None)
    assert doc["attrs"] == {"applicant": "王某"}
    review = clock(doc, "acceptance_review")
    # 5 working days from Fri 09-27: 09-29 (make-up), 09-30, 10-08, 10-09, 10-10
    assert (review["cycle"], review["started_on"], review["due_on"]) == (1, "2024-09-27",
                                                                         "2024-10-10")
    assert review["status"] == "overdue"  # judged now, years later
    assert "第三十条" in review["basis"]

    doc = advance(cli, db_url, ref, "request_supplement", "2024-09-30")
    assert (doc["state"], doc["version"]) == ("awaiting_supplement", 2)
    assert clock(doc, "acceptance_review")["status"] == "met"
    # 10 working days from 09-30: 10-08..10-11, 10-12 (make-up), 10-14..10-18
    assert clock(doc, "supplement")["due_on"] == "2024-10-18"

    doc = advance(cli, db_url, ref, "receive_supplement", "2024-10-08")
    assert (doc["state"], doc["version"]) == ("received", 3)
    assert clock(doc, "supplement")["status"] == "met"
    second = clock(doc, "acceptance_review")
    assert (second["cycle"], second["started_on"], second["due_on"]) == (2, "2024-10-08",
                                                                         "2024-10-14")
    assert clock(doc, "acceptance_review", 1)["status"] == "met"

    doc = advance(cli, db_url, ref, "accept", "2024-10-09", "--set", "procedure=ordinary",
                  "--expect-version", "3")
    assert (doc["state"], doc["version"]) == ("under_review", 4)
    assert doc["attrs"] == {"applicant": "王某", "procedure": "ordinary"}
    assert live(doc) == {"copy_to_respondent", "decision"}
    assert clock(doc, "copy_to_respondent")["due_on"] == "2024-10-17"
    decision = clock(doc, "decision")
    # 60 calendar days from 10-09 end on Sun 12-08: moved to the next working day
    assert (decision["started_on"], decision["due_on"]) == ("2024-10-09", "2024-12-09")
    assert decision["basis"] == "行政复议法 第六十二条"

    doc = advance(cli, db_url, ref, "send_copy", "2024-10-10")
    assert (doc["state"], doc["version"]) == ("under_review", 5)
    assert clock(doc, "copy_to_respondent")["status"] == "met"
    assert clock(doc, "respondent_reply")["due_on"] == "2024-10-23"

    doc = advance(cli, db_url, ref, "receive_reply", "2024-10-21")
    assert (doc["state"], doc["version"]) == ("under_review", 6)
    assert clock(doc, "respondent_reply")["status"] == "met"
    assert live(doc) == {"decision"}

    doc = advance(cli, db_url, ref, "suspend", "2024-10-22", "--set", "ground=1")
    assert (doc["state"], doc["version"]) == ("suspended", 7)
    assert doc["attrs"]["ground"] == 1
    assert clock(doc, "decision")["status"] == "paused"
    limit = clock(doc, "suspension_limit")
    # 60 calendar days from 10-22 end on Sat 12-21 -> Mon 12-23
    assert (limit["started_on"], limit["due_on"]) == ("2024-10-22", "2024-12-23")

    doc = advance(cli, db_url, ref, "resume", "2024-11-05")
    assert (doc["state"], doc["version"]) == ("under_review", 8)
    # a notice owed by nobody (中止满六十日), ended before its day: cancelled, never missed
    assert clock(doc, "suspension_limit")["status"] == "cancelled"
    decision = clock(doc, "decision")
    # suspended 10-22..11-05: 14 days do not count; 12-08 + 14 = Sun 12-22 -> Mon 12-23
    assert decision["paused_days"] == 14
    assert decision["due_on"] == "2024-12-23"

    doc = advance(cli, db_url, ref, "extend", "2024-11-06", "--set", "days=15", "--by", "boss")
    assert (doc["state"], doc["version"]) == ("under_review", 9)
    decision = clock(doc, "decision")
    assert decision["extended_days"] == 15
    assert decision["due_on"] == "2025-01-06"  # 12-22 + 15
    assert "days" not in doc["attrs"]  # recorded on the event only

    doc = advance(cli, db_url, ref, "decide", "2024-11-20", "--set", "decision=maintain",
                  "--reason", "具体行政行为合法")
    assert (doc["state"], doc["version"]) == ("decided", 10)
    assert doc["closed_on"] == "2024-11-20"
    assert doc["attrs"]["decision"] == "maintain"
    assert live(doc) == set()
    assert clock(doc, "decision")["status"] == "met"

    events, verified, triggers = in_parallel(cli, db_url, [
        ["case", "timeline", ref], ["case", "verify", ref], ["case", "triggers", ref]])
    check_timeline(events)
    assert [e["trigger"] for e in events] == [
        "open", "request_supplement", "receive_supplement", "accept", "send_copy",
        "receive_reply", "suspend", "resume", "extend", "decide"]
    assert [e["to"] for e in events][-4:] == ["suspended", "under_review", "under_review",
                                              "decided"]
    assert [e["on"] for e in events] == [
        "2024-09-27", "2024-09-30", "2024-10-08", "2024-10-09", "2024-10-10", "2024-10-21",
        "2024-10-22", "2024-11-05", "2024-11-06", "2024-11-20"]
    assert events[0]["by"] == "alice" and events[8]["by"] == "boss"
    assert {e["by"] for e in events[1:8]} | {events[9]["by"]} == {ME}
    assert events[8]["actor"] == "supervisor" and events[9]["actor"] == "clerk"
    assert events[8]["attrs"] == {"days": 15}
    assert events[9]["reason"] == "具体行政行为合法" and events[9]["attrs"] == {
        "decision": "maintain"}
    assert events[3]["attrs"] == {"procedure": "ordinary"}
    changes = {(c["clock"], c["change"]) for c in events[3]["clocks"]}
    assert {("acceptance_review", "met"), ("copy_to_respondent", "started"),
            ("decision", "started")} <= changes
    finished = datetime.now(UTC) + timedelta(seconds=1)
    for event in events:
        assert started <= datetime.fromisoformat(event["recorded_at"]) <= finished
    assert verified["ok"] is True and verified["checked"] == 1 and verified["broken"] == []
    assert triggers == []  # decided: a closed case takes no trigger

    if db_url.startswith("sqlite"):  # the human output, once (it does not depend on the store)
        shown = ok_text(cli, db_url, "case", "show", ref)
        for label in (ref, "行政复议", "decided", "已决定", "审理期限", "状态", "届满", "依据"):
            assert label in shown, label
        # a wide terminal: rich shortens the cells of a 7-column table to fit 80 columns
        timeline = ok_text(cli, db_url, "case", "timeline", ref, columns=200)
        for label in ("生效日", "request_supplement", "boss", "supervisor"):
            assert label in timeline, label


def test_legal_aid_lifecycles_by_application_and_by_notification(cli, db_url):
    lawyer = ok_json(cli, db_url, "lawyer", "add", "律师甲", "--firm", "甲律师事务所",
                     "--areas", "labor,criminal", "--capacity", "2")
    assert lawyer == {"id": 1, "name": "律师甲", "firm": "甲律师事务所",
                      "areas": ["labor", "criminal"], "capacity": 2}

    def by_application() -> str:
        doc = check_case(ok_json(cli, db_url, "case", "open", "legal_aid", "--on", "2024-09-02",
                                 "--ref", "LA-APP-1", "--set", "channel=application",
                                 "--set", "matter=labor", "--set", "applicant=李某"))
        assert (doc["ref"], doc["state"], doc["version"]) == ("LA-APP-1", "applied", 1)
        assert doc["attrs"] == {"channel": "application", "matter": "labor",
                                "applicant": "李某"}
        assert clock(doc, "review")["due_on"] == "2024-09-09"  # 7 calendar days
        doc = advance(cli, db_url, "LA-APP-1", "approve", "2024-09-05")
        assert doc["state"] == "approved"
        assert clock(doc, "review")["status"] == "met"
        assert clock(doc, "assignment")["due_on"] == "2024-09-09"  # Sun 09-08 -> Mon 09-09
        doc = advance(cli, db_url, "LA-APP-1", "assign", "2024-09-06", "--set", "lawyer=1")
        assert (doc["state"], doc["attrs"]["lawyer"]) == ("assigned", "1")
        assert clock(doc, "assignment")["status"] == "met"
        assert clock(doc, "engagement")["due_on"] == "2024-09-11"
        doc = advance(cli, db_url, "LA-APP-1", "engage", "2024-09-10")
        assert doc["state"] == "in_service" and live(doc) == set()
        doc = advance(cli, db_url, "LA-APP-1", "conclude", "2024-11-15",
                      "--set", "outcome=调解结案")
        assert (doc["state"], doc["attrs"]["outcome"]) == ("concluded", "调解结案")
        assert doc["closed_on"] is None
        assert clock(doc, "closing_report")["due_on"] == "2024-12-16"  # Sun 12-15 -> 12-16
        doc = advance(cli, db_url, "LA-APP-1", "receive_closing_materials", "2024-11-18")
        assert doc["state"] == "concluded"
        assert clock(doc, "closing_report")["status"] == "met"
        doc = advance(cli, db_url, "LA-APP-1", "close", "2024-11-20")
        assert (doc["state"], doc["version"], doc["closed_on"]) == ("closed", 7, "2024-11-20")
        assert clock(doc, "closing_report")["status"] == "met"
        return doc["ref"]

    def by_notification() -> str:
        doc = check_case(ok_json(cli, db_url, "case", "open", "legal_aid", "--on", "2024-09-13",
                                 "--set", "channel=notification", "--set", "matter=criminal",
                                 "--set", "notifier=某区人民法院"))
        ref = doc["ref"]
        assert re.fullmatch(r"LA-2024-[0-9]{4}", ref), ref
        assert (doc["state"], doc["version"]) == ("approved", 1)
        assert [c["name"] for c in doc["clocks"]] == ["assignment"]  # no review: art. 36
        # 3 calendar days from Fri 09-13 end on 09-16, in 中秋 (09-15..17): moved to 09-18
        assert clock(doc, "assignment")["due_on"] == "2024-09-18"
        doc = advance(cli, db_url, ref, "assign", "2024-09-14", "--set", "lawyer=1")
        assert doc["state"] == "assigned"
        doc = advance(cli, db_url, ref, "engage", "2024-09-19")
        assert doc["state"] == "in_service"
        assert clock(doc, "engagement")["status"] == "met"
        doc = advance(cli, db_url, ref, "conclude", "2024-10-30", "--set", "outcome=判决")
        assert doc["state"] == "concluded"
        doc = advance(cli, db_url, ref, "receive_closing_materials", "2024-11-04")
        doc = advance(cli, db_url, ref, "close", "2024-11-05")
        assert (doc["state"], doc["version"], doc["closed_on"]) == ("closed", 6, "2024-11-05")
        return ref

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.submit(by_application), pool.submit(by_notification)
        refs = {first.result(), second.result()}

    verified, closed, events = in_parallel(cli, db_url, [
        ["case", "verify", "--all"],
        ["case", "list", "--type", "legal_aid", "--state", "closed"],
        ["case", "timeline", "LA-APP-1"]])
    assert verified == {"ok": True, "checked": 2, "broken": []}
    assert {check_case(d)["ref"] for d in closed} == refs
    check_timeline(events)
    assert [e["trigger"] for e in events] == ["open", "approve", "assign", "engage", "conclude",
                                              "receive_closing_materials", "close"]
    assert events[2]["attrs"] == {"lawyer": "1"}
    # both cases were concluded: the lawyer holds none any more
    shown = ok_json(cli, db_url, "lawyer", "show", "1")
    assert (shown["load"], shown["last_assigned_on"]) == (0, "2024-09-14")


def test_complaint_lifecycle_and_a_stale_version(cli, db_url):
    doc = check_case(ok_json(cli, db_url, "case", "open", "complaint", "--on", "2024-09-02",
                             "--set", "subject=某律师事务所", "--set", "subject_kind=firm"))
    ref = doc["ref"]
    assert re.fullmatch(r"CP-2024-[0-9]{4}", ref), ref
    assert (doc["state"], doc["version"]) == ("received", 1)
    # 10 working days from Mon 09-02: 09-03..06, 09-09..13, 09-14 (make-up for 中秋)
    assert clock(doc, "acceptance")["due_on"] == "2024-09-14"

    with ThreadPoolExecutor(3) as pool:  # none of them changes the case
        listed = pool.submit(ok_json, cli, db_url, "case", "triggers", ref)
        stale = pool.submit(caseflow, cli, db_url, "case", "advance", ref, "accept",
                            "--on", "2024-09-10", "--expect-version", "2", "--json").result()
        if db_url.startswith("sqlite"):
            text = pool.submit(ok_text, cli, db_url, "case", "triggers", ref).result()
            for line in ("accept  受理立案调查", "decline  不予受理", "withdraw  撤回投诉"):
                assert line in text.splitlines(), text
        triggers = listed.result()
    assert triggers == sorted(triggers)
    assert set(triggers) == {"request_supplement", "accept", "decline", "transfer", "withdraw",
                             "reassign"}

    assert stale.returncode == 5, stale.stderr
    assert stale.stderr.count("\n") == 1 and "version" in stale.stderr, stale.stderr
    error = json.loads(stale.stdout)["error"]
    assert set(error) == {"code", "message", "allowed"}
    assert "--expect-version 1" in error["allowed"]

    doc = advance(cli, db_url, ref, "accept", "2024-09-10", "--expect-version", "1")
    assert (doc["state"], doc["version"]) == ("investigating", 2)
    assert clock(doc, "acceptance")["status"] == "met"
    handling = clock(doc, "handling")
    assert handling["due_on"] == "2024-11-11"  # 60 days end on Sat 11-09 -> Mon 11-11
    doc = advance(cli, db_url, ref, "extend", "2024-10-15", "--set", "days=15", "--by", "chief")
    assert (doc["state"], doc["version"]) == ("investigating", 3)
    handling = clock(doc, "handling")
    assert (handling["extended_days"], handling["due_on"]) == (15, "2024-11-25")
    doc = advance(cli, db_url, ref, "decide", "2024-11-01", "--set", "outcome=no_violation")
    assert (doc["state"], doc["attrs"]["outcome"]) == ("decided", "no_violation")
    assert doc["closed_on"] is None and live(doc) == {"handling"}
    doc = advance(cli, db_url, ref, "reply", "2024-11-08")
    assert (doc["state"], doc["version"], doc["closed_on"]) == ("closed", 5, "2024-11-08")
    assert clock(doc, "handling")["status"] == "met"

    events = check_timeline(ok_json(cli, db_url, "case", "timeline", ref))
    assert [(e["trigger"], e["by"]) for e in events] == [
        ("open", ME), ("accept", ME), ("extend", "chief"), ("decide", ME), ("reply", ME)]
    assert len(events) == 5  # the refused stale accept left no event


def test_clock_status_is_judged_at_now(cli, db_url):
    opened = in_parallel(cli, db_url, [
        ["case", "open", "reconsideration", "--on", "2024-09-27", "--ref", "RC-NOW"],
        ["case", "open", "complaint", "--on", "2024-10-08", "--ref", "CP-NOW"]])
    assert [check_case(d)["ref"] for d in opened] == ["RC-NOW", "CP-NOW"]
    # RC-NOW: acceptance_review due 2024-10-10; CP-NOW: acceptance due 2024-10-21
    last_second, first_second, in_utc, late, by_type, none = in_parallel(cli, db_url, [
        ["case", "show", "RC-NOW", "--now", "2024-10-10T23:59:59+08:00"],
        ["case", "show", "RC-NOW", "--now", "2024-10-11T00:00:00+08:00"],
        ["case", "show", "RC-NOW", "--now", "2024-10-10T16:00:00+00:00"],  # 10-11 in Shanghai
        ["case", "list", "--overdue", "--now", "2024-10-11T00:00:00+08:00"],
        ["case", "list", "--type", "complaint", "--state", "received", "--overdue",
         "--now", "2024-10-22T08:00:00+08:00"],
        ["case", "list", "--type", "reconsideration", "--state", "received", "--overdue",
         "--now", "2024-10-10T23:59:59+08:00"]])
    assert clock(check_case(last_second), "acceptance_review")["status"] == "running"
    assert clock(check_case(first_second), "acceptance_review")["status"] == "overdue"
    assert clock(check_case(in_utc), "acceptance_review")["status"] == "overdue"
    assert [check_case(d)["ref"] for d in late] == ["RC-NOW"]
    assert clock(late[0], "acceptance_review")["status"] == "overdue"
    assert [check_case(d)["ref"] for d in by_type] == ["CP-NOW"]
    assert clock(by_type[0], "acceptance")["status"] == "overdue"
    assert none == []

    if db_url.startswith("sqlite"):
        listed = ok_text(cli, db_url, "case", "list", "--now", "2024-10-11", columns=200)
        for label in ("RC-NOW", "CP-NOW", "状态", "收到投诉", "逾期", "acceptance_review"):
            assert label in listed, label


# -- the schema -----------------------------------------------------------------------------


def count_cases(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(sa.text("SELECT count(*) FROM cases")).scalar_one())
    finally:
        engine.dispose()


def test_db_upgrade_is_idempotent(cli, db_url):
    check_case(ok_json(cli, db_url, "case", "open", "complaint", "--on", "2024-09-02"))
    assert ok_json(cli, db_url, "db", "upgrade") == {"from": HEAD, "to": HEAD}
    assert count_cases(db_url) == 1


def test_a_new_sqlite_file_gets_its_schema_by_itself(cli, tmp_path: Path):
    fresh = tmp_path / "fresh.db"
    doc = check_case(ok_json(cli, f"sqlite:///{fresh}", "case", "open", "complaint",
                             "--on", "2024-09-02"))
    assert doc["ref"] == "CP-2024-0001"
    engine = create_engine(f"sqlite:///{fresh}")
    assert current_revision(engine) == HEAD
    engine.dispose()
    assert count_cases(f"sqlite:///{fresh}") == 1

    # `db upgrade` on a new file (named by CASEFLOW_DB_URL), then again: nothing to do
    env = {"CASEFLOW_DB_URL": f"sqlite:///{tmp_path / 'by-env.db'}"}
    first = cli(["db", "upgrade", "--json"], env=env)
    assert first.returncode == 0 and first.stderr == "", first.stderr
    assert json.loads(first.stdout) == {"from": None, "to": HEAD}
    again = cli(["db", "upgrade"], env=env)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert again.stdout.strip() == f"schema at revision {HEAD}"

    # no --db, no CASEFLOW_DB_URL: caseflow.db in the current folder. A command that only
    # reads does not create it (a mistyped path would answer "no cases"); a writing one does.
    default = tmp_path / "caseflow.db"
    listed = cli(["case", "list", "--json"])
    assert listed.returncode == 4, listed.stderr
    assert json.loads(listed.stdout)["error"]["code"] == "no_database"
    assert "caseflow.db" in listed.stderr and listed.stderr.count("\n") == 1, listed.stderr
    assert not default.exists()
    opened = cli(["case", "open", "complaint", "--on", "2024-09-02", "--json"])
    assert opened.returncode == 0, opened.stderr
    assert default.exists()
    engine = create_engine(f"sqlite:///{default}")
    assert current_revision(engine) == HEAD
    engine.dispose()

    # an empty file (made on purpose, e.g. by `touch`) is a new database, even for reading
    empty = tmp_path / "empty.db"
    empty.touch()
    assert ok_json(cli, f"sqlite:///{empty}", "case", "list") == []
    engine = create_engine(f"sqlite:///{empty}")
    assert current_revision(engine) == HEAD
    engine.dispose()


def test_triggers_leave_out_an_extension_the_clock_rule_refuses(cli, tmp_path: Path):
    # dated from today: the decision period (60 days) is running, not lapsed
    today = legal_date(datetime.now(UTC))
    db_url = f"sqlite:///{tmp_path / 'extend.db'}"
    ref = check_case(ok_json(cli, db_url, "case", "open", "reconsideration", "--on",
                             (today - timedelta(days=3)).isoformat()))["ref"]
    advance(cli, db_url, ref, "accept", (today - timedelta(days=2)).isoformat())
    assert "extend" in ok_json(cli, db_url, "case", "triggers", ref)
    advance(cli, db_url, ref, "extend", (today - timedelta(days=1)).isoformat(),
            "--set", "days=10")
    # art. 62 allows one extension: the second would be refused, so it is not offered
    assert "extend" not in ok_json(cli, db_url, "case", "triggers", ref)
    assert "extend" not in ok_text(cli, db_url, "case", "triggers", ref).split()


def test_a_sweep_judged_in_the_past_is_recorded_at_the_real_time(cli, tmp_path: Path):
    db_url = f"sqlite:///{tmp_path / 'sweep.db'}"
    ref = check_case(ok_json(cli, db_url, "case", "open", "reconsideration", "--on",
                             "2024-09-27"))["ref"]
    before = datetime.now(UTC)
    swept = ok_json(cli, db_url, "sweep", "--now", "2024-10-21T09:00:00+08:00")
    after = datetime.now(UTC)
    assert [(x["ref"], x["effect"]) for x in swept["lapsed"]] == [(ref, "deem_accepted")]
    events = check_timeline(ok_json(cli, db_url, "case", "timeline", ref))
    lapse = events[-1]
    assert (lapse["trigger"], lapse["on"]) == ("deem_accepted", "2024-10-10")
    # legal effect on the law's date; recorded when it was written, not at --now
    assert before <= datetime.fromisoformat(lapse["recorded_at"]) <= after

# -- issue 11: a lapse that has happened in law comes before a later act --------------------------


def test_a_late_reject_is_refused_naming_the_deemed_acceptance(cli, db_url):
    ref = ok_json(cli, db_url, "case", "open", "reconsideration", "--on", "2024-09-27")["ref"]
    done = caseflow(cli, db_url, "case", "advance", ref, "reject", "--on", "2024-10-14",
                    "--reason", "不属于受理范围")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert "视为受理" in done.stderr and "2024-10-10" in done.stderr
    assert "行政复议法 第三十条第三款" in done.stderr
    # the deemed acceptance is recorded, the rejection is not
    events = ok_json(cli, db_url, "case", "timeline", ref)
    assert [(e["trigger"], e["on"], e["actor"]) for e in events] == [
        ("open", "2024-09-27", "clerk"), ("deem_accepted", "2024-10-10", "system")]
    shown = ok_json(cli, db_url, "case", "show", ref)
    assert (shown["state"], shown["version"]) == ("under_review", 2)
    # with --json the error object; a second try names no new lapse and changes nothing
    again = caseflow(cli, db_url, "case", "advance", ref, "reject", "--on", "2024-10-14",
                     "--reason", "x", "--json")
    assert again.returncode == 3
    assert json.loads(again.stdout)["error"]["code"] == "trigger_not_allowed"
    assert ok_json(cli, db_url, "case", "show", ref)["version"] == 2
    # withdrawing is still allowed, and comes after the system's event
    doc = ok_json(cli, db_url, "case", "advance", ref, "withdraw", "--on", "2024-10-15")
    assert (doc["state"], doc["version"]) == ("withdrawn", 3)
    assert ok_json(cli, db_url, "case", "verify", ref)["ok"] is True


def test_served_on_and_posted_on_from_the_command_line(cli, db_url):
    ref = ok_json(cli, db_url, "case", "open", "reconsideration", "--on", "2024-09-27")["ref"]
    doc = ok_json(cli, db_url, "case", "advance", ref, "request_supplement", "--on",
                  "2024-09-30", "--set", "served_on=2024-10-08")
    supplement = next(c for c in doc["clocks"] if c["name"] == "supplement")
    assert (supplement["started_on"], supplement["due_on"]) == ("2024-10-08", "2024-10-21")
    doc = ok_json(cli, db_url, "case", "advance", ref, "receive_supplement", "--on",
                  "2024-10-25", "--set", "posted_on=2024-10-21")
    assert doc["state"] == "received"
    supplement = next(c for c in doc["clocks"] if c["name"] == "supplement")
    assert supplement["status"] == "met"


@pytest.mark.parametrize("tampering, named", [
    ("UPDATE cases SET state = 'decided' WHERE ref = :ref",
     "stored state 'decided', its events give 'under_review'"),
    ("UPDATE clock_cycles SET due_on = '2030-01-01' WHERE clock = 'decision' AND case_id = "
     "(SELECT id FROM cases WHERE ref = :ref)",
     "stored due_on 2030-01-01, its events give 2024-12-09"),
])
def test_verify_names_a_row_its_events_do_not_give_and_advance_is_refused(
    cli, db_url, tampering, named
):
    """Issue 12, item 10: a case edited behind the services' back exits 6 naming the field;
    advancing it then exits 3 until it is repaired and verifies again."""
    ref = ok_json(cli, db_url, "case", "open", "reconsideration", "--on", "2024-09-27")["ref"]
    advance(cli, db_url, ref, "accept", "2024-10-08")
    engine = create_engine(db_url)
    try:
        with engine.begin() as connection:
            assert connection.execute(sa.text(tampering), {"ref": ref}).rowcount == 1
    finally:
        engine.dispose()
    found = caseflow(cli, db_url, "case", "verify", ref)
    assert found.returncode == 6
    assert found.stderr.count("\n") == 1 and named in found.stderr and ref in found.stderr
    as_json = caseflow(cli, db_url, "case", "verify", "--all", "--json")
    assert as_json.returncode == 6
    error = json.loads(as_json.stdout)["error"]
    assert error["code"] == "verification_failed" and named in error["message"]
    refused = caseflow(cli, db_url, "case", "advance", ref, "send_copy", "--on", "2024-10-09",
                       "--json")
    assert refused.returncode == 3
    assert json.loads(refused.stdout)["error"]["code"] == "case_broken"
    assert "verif" in refused.stderr
