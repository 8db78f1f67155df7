"""`caseflow calendar`: due dates and working days through the real console script.

Every expected date here is derived by hand from the State Council's notices (DESIGN.md §3):
2024: 10-01..10-07 off, Sun 09-29 and Sat 10-12 worked;
2025 Spring Festival: 01-28..02-04 off, Sun 01-26 and Sat 02-08 worked;
2027 has no notice yet (provisional: weekends and the statutory holidays themselves).
"""

from __future__ import annotations

import json

import pytest

ADD_KEYS = {"start", "days", "unit", "due", "provisional"}
WORKDAY_KEYS = {"date", "workday", "provisional"}


def one_json(stdout: str) -> object:
    """The single JSON document that is all of stdout."""
    assert stdout.endswith("\n") and stdout.count("\n") == 1, stdout
    return json.loads(stdout)


@pytest.mark.parametrize(
    ("unit", "due"),
    [
        # 09-29 (make-up Sunday) and 09-30 count, 10-01..10-07 do not, then 10-08, 10-09, 10-10.
        ("working", "2024-10-10"),
        # 09-27 + 5 = 10-02, a holiday: rolled forward to the next working day.
        ("calendar", "2024-10-08"),
    ],
)
def test_add_prints_the_due_date(cli, tmp_path, unit, due):
    done = cli(["calendar", "add", "2024-09-27", "5", "--unit", unit])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == due
    assert done.stdout == due + "\n"
    assert done.stderr == ""
    # The calendar needs no database: nothing is created in the working folder.
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("unit", "due"), [("working", "2024-10-10"), ("calendar", "2024-10-08")]
)
def test_add_json_document(cli, unit, due):
    done = cli(["calendar", "add", "2024-09-27", "5", "--unit", unit, "--json"])
    assert done.returncode == 0, done.stderr
    document = one_json(done.stdout)
    assert isinstance(document, dict)
    assert set(document) == ADD_KEYS
    assert document == {
        "start": "2024-09-27", "days": 5, "unit": unit, "due": due, "provisional": False,
    }
    assert type(document["days"]) is int
    assert type(document["provisional"]) is bool


@pytest.mark.parametrize(
    ("day", "answer"),
    [
        ("2024-09-29", "yes"),  # Sunday, make-up working day (调休上班)
        ("2024-10-02", "no"),  # National Day holiday, a Wednesday
    ],
)
def test_is_workday_prints_yes_or_no(cli, day, answer):
    done = cli(["calendar", "is-workday", day])
    assert done.returncode == 0, done.stderr
    assert done.stdout == answer + "\n"


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        ("2025-01-26", True),  # Sunday worked before the Spring Festival
        ("2025-01-28", False),  # 除夕, first day off
        ("2025-02-04", False),  # last day off, a Tuesday
        ("2025-02-08", True),  # Saturday worked after it
    ],
)
def test_is_workday_json(cli, day, workday):
    done = cli(["calendar", "is-workday", day, "--json"])
    assert done.returncode == 0, done.stderr
    document = one_json(done.stdout)
    assert isinstance(document, dict)
    assert set(document) == WORKDAY_KEYS
    assert document == {"date": day, "workday": workday, "provisional": False}
    assert type(document["workday"]) is bool


@pytest.mark.parametrize(
    ("start", "days", "unit", "due"),
    [
        # Fri 01-24: Sun 01-26 (1), Mon 01-27 (2), 01-28..02-04 off, Wed 02-05 (3).
        ("2025-01-24", 3, "working", "2025-02-05"),
        # Mon 01-27: 02-05, 02-06, 02-07, Sat 02-08 (worked), Mon 02-10.
        ("2025-01-27", 5, "working", "2025-02-10"),
        # 01-25 + 5 = 01-30, in the holiday: the next working day is 02-05.
        ("2025-01-25", 5, "calendar", "2025-02-05"),
        # 02-01 + 7 = Sat 02-08, a make-up working day: it stays.
        ("2025-02-01", 7, "calendar", "2025-02-08"),
    ],
)
def test_add_around_spring_festival_2025(cli, start, days, unit, due):
    done = cli(["calendar", "add", start, str(days), "--unit", unit, "--json"])
    assert done.returncode == 0, done.stderr
    assert one_json(done.stdout) == {
        "start": start, "days": days, "unit": unit, "due": due, "provisional": False,
    }


def test_add_into_a_year_without_a_notice_is_provisional(cli):
    # Fri 2026-12-25: 12-28..12-31 (4), 2027-01-01 New Year off, 01-04..01-08 (9), 01-11 (10).
    done = cli(["calendar", "add", "2026-12-25", "10", "--unit", "working", "--json"])
    assert done.returncode == 0, done.stderr
    assert one_json(done.stdout) == {
        "start": "2026-12-25", "days": 10, "unit": "working", "due": "2027-01-11",
        "provisional": True,
    }


def test_add_provisional_human_output_warns_on_stderr(cli):
    done = cli(["calendar", "add", "2026-12-25", "10", "--unit", "working"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "2027-01-11"
    assert "provisional" in done.stderr


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        ("2027-10-01", False),  # National Day itself, statutory
        ("2027-10-04", True),  # Monday: a bridge day only a notice could create
    ],
)
def test_is_workday_in_a_provisional_year(cli, day, workday):
    done = cli(["calendar", "is-workday", day, "--json"])
    assert done.returncode == 0, done.stderr
    assert one_json(done.stdout) == {"date": day, "workday": workday, "provisional": True}
