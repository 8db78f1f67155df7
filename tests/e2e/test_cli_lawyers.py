"""The lawyer pool and 指派 through the installed `caseflow` (CONTRACT.md, "Legal-aid lawyers
and assignment"), on SQLite and PostgreSQL: a roster of hundreds imported, a run of `assign`,
a decline, quality supervision in the timeline, the fairness report. Refusals are in
test_cli_bad_input.py's corpus."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROSTER_SIZE = 300


def run(cli: Any, db_url: str, *args: str) -> Any:
    done = cli(["--db", db_url, *args, "--json"])
    assert done.returncode == 0, f"{args}: exit {done.returncode}: {done.stderr}"
    assert done.stderr == "" and done.stdout.count("\n") == 1, (done.stderr, done.stdout)
    return json.loads(done.stdout)


def roster(path: Path, rows: int) -> Path:
    lines = ["name,firm,areas,capacity,active"]
    lines += [f"律师{i:03d},律所{i % 30:02d},{'criminal;civil' if i % 2 else 'labor;criminal'},"
              f"{3 + i % 4},{'no' if i % 50 == 0 else 'yes'}" for i in range(1, rows + 1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_roster_a_run_of_assign_a_decline_and_the_report(cli, db_url, tmp_path):
    imported = run(cli, db_url, "lawyer", "import", str(roster(tmp_path / "r.csv", ROSTER_SIZE)))
    assert imported == {"imported": ROSTER_SIZE, "ids": list(range(1, ROSTER_SIZE + 1))}
    listed = run(cli, db_url, "lawyer", "list")
    assert len(listed) == ROSTER_SIZE
    assert listed[49] == {"id": 50, "name": "律师050", "firm": "律所20",
                          "areas": ["labor", "criminal"], "capacity": 5, "active": False,
                          "load": 0, "last_assigned_on": None, "leaves": []}
    # the first lawyer may not act against 某公司, and is on leave for the first day
    run(cli, db_url, "lawyer", "conflict", "add", "2", "--party", "某公司")
    shown = run(cli, db_url, "lawyer", "leave", "1", "--from", "2024-09-02", "--to",
                "2024-09-02")
    assert shown["leaves"] == [{"from": "2024-09-02", "to": "2024-09-02"}]
    refs = [run(cli, db_url, "case", "open", "legal_aid", "--on", "2024-09-02",
                "--set", "channel=notification", "--set", "matter=criminal",
                "--set", f"applicant=被告人{i}", "--set", "opposing_party=某公司")["ref"]
            for i in range(3)]
    report = run(cli, db_url, "assign", "--now", "2024-09-02T16:00:00+08:00")
    # rotation: nobody assigned yet, the lighter load, then specialty (criminal first: odd
    # ids), then the id — 1 is on leave, 2 has the conflict
    assert [(x["ref"], x["lawyer"]) for x in report["assigned"]] == [
        (refs[0], 3), (refs[1], 5), (refs[2], 7)]
    assert report["unassigned"] == []
    assert all(len(x["reasons"]) == 4 for x in report["assigned"])
    timeline = run(cli, db_url, "case", "timeline", refs[0])
    assert timeline[-1]["trigger"] == "assign" and timeline[-1]["by"] == "system"
    assert timeline[-1]["reason"] == "; ".join(report["assigned"][0]["reasons"])

    declined = run(cli, db_url, "case", "advance", refs[0], "decline_assignment", "--on",
                   "2024-09-03", "--reason", "律师因病无法承办")
    assert declined["state"] == "approved"
    again = run(cli, db_url, "assign", "--now", "2024-09-03T16:00:00+08:00")
    assert [(x["ref"], x["lawyer"]) for x in again["assigned"]] == [(refs[0], 1)]

    for step in (["engage"], ["attend_hearing"], ["review_file", "--set", "rating=fair"],
                 ["aided_complaint", "--reason", "会见不及时"]):
        run(cli, db_url, "case", "advance", refs[0], *step, "--on", "2024-09-05")
    story = cli(["--db", db_url, "case", "timeline", refs[0]])
    assert story.returncode == 0, story.stderr
    assert "庭审旁听" in story.stdout and "rating=fair" in story.stdout
    assert "受援人投诉" in story.stdout and "stays in_service" in story.stdout

    doc = run(cli, db_url, "report", "assignments", "--from", "2024-09-01", "--to",
              "2024-09-30")
    rows = {row["id"]: row for row in doc["lawyers"]}
    assert {k: rows[3][k] for k in ("offers", "accepted", "declined", "open_load")} == {
        "offers": 1, "accepted": 0, "declined": 1, "open_load": 0}
    assert {k: rows[1][k] for k in ("offers", "accepted", "open_load", "hearings_attended",
                                    "files_reviewed", "complaints")} == {
        "offers": 1, "accepted": 1, "open_load": 1, "hearings_attended": 1,
        "files_reviewed": 1, "complaints": 1}
    assert rows[1]["ratings"] == {"excellent": 0, "good": 0, "fair": 1, "poor": 0}
    assert (doc["offers_max"], doc["offers_min"], doc["max_minus_min"]) == (1, 0, 1)
