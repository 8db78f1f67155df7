"""The supervisor's audit through the console script: the timeline told in words, the overdue
board, a clerk's desk and the chains, on the population of tests/report_population.py (each
case's story in tests/integration/test_closure_report.py), swept once at 2024-06-03 09:00."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from report_population import build_population

from flows.context import Bureau
from flows.sweep import sweep
from models.engine import create_engine
from models.schema import upgrade
from states.calendar import default_calendar
from states.casetypes import CASE_TYPES


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    path = tmp_path_factory.mktemp("audit") / "caseflow.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine)
    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    build_population(bureau)
    swept = datetime(2024, 6, 3, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    sweep(bureau, swept, recorded_at=swept)
    engine.dispose()
    return {"CASEFLOW_DB_URL": f"sqlite:///{path}"}


def test_the_timeline_tells_the_story(cli, db) -> None:
    done = cli(["case", "timeline", "H"], env=db)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    for line in [
        "H  reconsideration 行政复议",
        "#2 2024-03-19  accept 受理  received 收到申请（受理审查） → under_review 审理中",
        # 60 calendar days from 03-19: 05-18 is a Saturday → Monday 05-20
        "   - decision 审理期限: started 2024-03-19, due 2024-05-20",
        "   - acceptance_review 受理审查: met on 2024-03-19 (due 2024-03-25)",
        "#4 2024-03-25  suspend 中止  under_review 审理中 → suspended 中止",
        "   with: ground=1",
        "   - suspension_limit 中止满六十日: started 2024-03-25, due 2024-05-24",
        "#5 2024-05-27  terminate 终止  suspended 中止 → terminated 终止",
        # 03-25 .. 05-27: 63 days in which the decision period did not run
        "   - decision 审理期限: ended on 2024-05-27 while paused since 2024-03-25 "
        "(63 days paused, not counted)",
        # 10 working days from 03-20 end on 04-03; terminated 05-27: 54 days later
        "   - respondent_reply 被申请人答复: missed by 54 days (due 2024-04-03)",
    ]:
        assert line in text.splitlines(), line
    assert "   by 王 (clerk) · recorded " in text


def test_the_timeline_tells_extensions_and_deemed_acts(cli, db) -> None:
    c = cli(["case", "timeline", "C"], env=db).stdout.splitlines()
    assert "   - decision 审理期限: extended by 10 days, now due 2024-05-21" in c
    assert "   - decision 审理期限: missed by 50 days (due 2024-05-21)" in c  # 07-10
    g = cli(["case", "timeline", "G"], env=db).stdout.splitlines()
    assert "#2 2024-05-11  deem_accepted 视为受理  received 收到申请（受理审查） → " \
           "under_review 审理中" in g
    assert "   - acceptance_review 受理审查: lapsed at the end of 2024-05-11" in g


def test_the_timeline_json_is_unchanged(cli, db) -> None:
    entries = json.loads(cli(["case", "timeline", "H", "--json"], env=db).stdout)
    assert [e["trigger"] for e in entries] == ["open", "accept", "send_copy", "suspend",
                                               "terminate"]
    assert set(entries[0]) >= {"seq", "trigger", "from", "to", "on", "recorded_at", "by",
                               "reason", "attrs", "clocks", "hash"}


def test_overdue_board_as_of_a_day(cli, db) -> None:
    done = cli(["audit", "overdue", "--now", "2024-07-01T09:00:00+08:00", "--type",
                "reconsideration", "--json"], env=db)
    assert done.returncode == 0, done.stderr
    board = json.loads(done.stdout)
    # on 07-01: C's reply (due 03-27) and decision (due 05-21, decided only on 07-10),
    # G's reply (due 06-03), E's reply (due 06-20); A, D, H, J were closed by then
    assert [(x["ref"], x["clock"], x["days_overdue"], x["owed_by"]) for x in board] == [
        ("C", "respondent_reply", 96, "respondent"), ("C", "decision", 41, "bureau"),
        ("G", "respondent_reply", 28, "respondent"), ("E", "respondent_reply", 11,
                                                      "respondent")]
    decision = board[1]
    assert (decision["handler"], decision["department"], decision["due_on"]) \
        == ("李", "复议一科", "2024-05-21")
    # the sweep of 06-03 saw C decided already (the population is built to its end first),
    # and G's reply (due 06-03) one working day from its due date: 预警 on 05-31
    assert decision["rungs"] == [] and board[2]["rungs"] == ["due_soon"]
    only = json.loads(cli(["audit", "overdue", "--now", "2024-07-01", "--department",
                           "复议二科", "--json"], env=db).stdout)
    assert [x["ref"] for x in only] == ["G", "E"]


def test_overdue_refuses_a_future_now(cli, db) -> None:
    done = cli(["audit", "overdue", "--now", "2999-01-01"], env=db)
    assert done.returncode == 2 and "later than the real time" in done.stderr


def test_a_clerks_desk(cli, db) -> None:
    done = cli(["audit", "clerk", "王", "--from", "2024-04-01", "--to", "2024-06-30", "--json"],
               env=db)
    assert done.returncode == 0, done.stderr
    desk = json.loads(done.stdout)
    # 王's A (decided 04-15), H (terminated 05-27) and J (decided 04-10, late); none open
    assert [(c["ref"], c["on_time"]) for c in desk["closed"]] == [
        ("J", False), ("A", True), ("H", True)]
    assert (desk["closed_count"], desk["closed_on_time"], desk["on_time_rate"]) \
        == (3, 2, 0.6667)
    assert desk["open"] == []
    zhang = json.loads(cli(["audit", "clerk", "张", "--json"], env=db).stdout)
    # E and G are open, each waiting on the respondent's reply (G's due first)
    assert [(c["ref"], c["next_clock"]) for c in zhang["open"]] == [
        ("G", "respondent_reply"), ("E", "respondent_reply")]


def test_verify_every_chain(cli, db) -> None:
    done = cli(["audit", "verify", "--json"], env=db)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["ok"] and doc["checked"] == 11 and doc["first_broken"] is None
    assert "11 of 11 case chain(s) verify" in cli(["audit", "verify"], env=db).stdout
