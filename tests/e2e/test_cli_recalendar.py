"""`caseflow calendar reproject` and ``CASEFLOW_CALENDAR_DATA`` through the real console script.

The data file below is a FICTIONAL 2027 notice (TEST DATA, not the State Council's): 春节
02-05 (Fri) .. 02-11 (Thu) off, where the provisional 2027 of the installed data has only the
statutory 02-05 .. 02-08. The case's 审理期限: accepted Tue 2026-11-10, 60 calendar days
extended by 30 (art. 62): 11-10 + 90 = Mon 2027-02-08, a provisional rest day -> Tue 02-09;
on the notice 02-08 .. 02-11 are all off -> Fri 02-12.
"""

from __future__ import annotations

import json
from pathlib import Path

from calendar_data import FICTIONAL_2027

REF = "RC-E2E-0001"


def ok(done) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def decision(show_stdout: str) -> dict:
    return next(c for c in json.loads(show_stdout)["clocks"] if c["name"] == "decision")


def test_reproject_moves_running_clocks_and_journals_them(cli, tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'caseflow.db'}"]
    data = tmp_path / "calendar-2027.toml"
    data.write_text(FICTIONAL_2027, encoding="utf-8")
    ok(cli([*db, "case", "open", "reconsideration", "--on", "2026-11-09", "--ref", REF,
            "--by", "clerk"]))
    ok(cli([*db, "case", "advance", REF, "accept", "--on", "2026-11-10", "--by", "clerk"]))
    ok(cli([*db, "case", "advance", REF, "extend", "--on", "2026-11-11", "--set", "days=30",
            "--by", "chief"]))
    before = decision(ok(cli([*db, "case", "show", REF, "--json"])))
    assert (before["due_on"], before["provisional"]) == ("2027-02-09", True)

    done = cli([*db, "calendar", "reproject", "--data", str(data), "--json"])
    report = json.loads(ok(done))
    assert done.stdout.count("\n") == 1
    assert {k: report[k] for k in ("years", "source", "cases", "cycles", "events", "changed",
                                   "failures")} == {
        "years": [2027],
        "source": "TEST ONLY: fictional 2027 notice",
        "cases": 1,
        "cycles": 2,  # 审理期限 and 发送副本 (due in 2026, running overdue: it stays)
        "events": 1,
        "changed": [{"ref": REF, "clock": "decision", "cycle": 1,
                     "from": "2027-02-09", "to": "2027-02-12"}],
        "failures": [],
    }
    assert decision(ok(cli([*db, "case", "show", REF, "--json"])))["due_on"] == "2027-02-12"
    timeline = json.loads(ok(cli([*db, "case", "timeline", REF, "--json"])))
    assert [e["trigger"] for e in timeline] == ["open", "accept", "extend", "recalendar"]
    last = timeline[-1]
    assert (last["from"], last["to"], last["actor"], last["on"]) == (
        "under_review", "under_review", "system", report["on"],
    )
    assert [(c["clock"], c["change"], c["due_on"]) for c in last["clocks"]] == [
        ("decision", "reprojected", "2027-02-12"),
    ]
    ok(cli([*db, "case", "verify", REF]))

    # the second run finds every date where the data puts it; people get a one-line summary
    # and a reminder to make every command count on the new data
    again = cli([*db, "calendar", "reproject", "--data", str(data)])
    assert ok(again).startswith("calendar data for 2027 on ")
    assert "0 clock(s) re-projected on 0 case(s)" in again.stdout
    assert "CASEFLOW_CALENDAR_DATA" in again.stderr

    # with CASEFLOW_CALENDAR_DATA every command counts on the notice: no longer provisional
    env = {"CASEFLOW_CALENDAR_DATA": str(data)}
    now = decision(ok(cli([*db, "case", "show", REF, "--json"], env=env)))
    assert (now["due_on"], now["provisional"]) == ("2027-02-12", False)
    assert json.loads(ok(cli(["calendar", "is-workday", "2027-02-10", "--json"], env=env))) == {
        "date": "2027-02-10", "workday": False, "provisional": False,
    }
    quiet = cli([*db, "calendar", "reproject", "--data", str(data)], env=env)
    assert ok(quiet) and quiet.stderr == ""


def test_an_unreadable_data_file_is_a_usage_error(cli, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    done = cli(["calendar", "reproject", "--data", str(missing), "--json"])
    assert done.returncode == 2
    assert json.loads(done.stdout)["error"]["code"] == "invalid_data_file"
    assert done.stderr.count("\n") == 1 and "nowhere.toml" in done.stderr
    # the same file named by the environment fails every command the same way
    bad = cli(["calendar", "is-workday", "2027-02-10"],
              env={"CASEFLOW_CALENDAR_DATA": str(missing)})
    assert bad.returncode == 2 and "nowhere.toml" in bad.stderr
    assert list(tmp_path.iterdir()) == []  # nothing was created, no database either
