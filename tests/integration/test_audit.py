"""The supervisor's audit on SQLite and PostgreSQL, over tests/report_population.py (each case's
story in tests/integration/test_closure_report.py)."""

from __future__ import annotations

from datetime import date

from report_population import build_population

from flows.audit import clerk_desk, overdue_clocks, verify_all
from flows.context import Bureau


def test_overdue_clocks_as_of_a_day(bureau: Bureau) -> None:
    build_population(bureau)
    board = overdue_clocks(bureau, date(2024, 7, 1))
    # C's reply (due 03-27) and decision (due 05-21, decided on 07-10 only), G's and E's
    # replies; L's assignment (due 03-07) stopped when L was terminated on 05-10; K's
    # complaint acceptance (10 working days from 06-20) is not due until 07-04
    assert [(x["ref"], x["clock"], x["days_overdue"]) for x in board] == [
        ("C", "respondent_reply", 96), ("C", "decision", 41), ("G", "respondent_reply", 28),
        ("E", "respondent_reply", 11)]
    # a week later K's acceptance is late too, and C's decision is no longer running
    later = overdue_clocks(bureau, date(2024, 7, 11), case_type="complaint")
    assert [(x["ref"], x["clock"], x["owed_by"], x["department"]) for x in later] == [
        ("K", "acceptance", "bureau", "投诉科")]


def test_a_clerks_desk_and_the_chains(bureau: Bureau) -> None:
    build_population(bureau)
    desk = clerk_desk(bureau, "李", date(2024, 4, 1), date(2024, 6, 30), date(2024, 12, 31))
    # 李: D withdrawn 04-20 (on time); C decided 07-10, outside the period
    assert [(c["ref"], c["on_time"]) for c in desk["closed"]] == [("D", True)]
    assert desk["on_time_rate"] == 1.0 and desk["open"] == []
    summary = verify_all(bureau)
    assert summary.ok and summary.checked == 11 and summary.to_json()["first_broken"] is None
