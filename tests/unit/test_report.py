"""The closure report's arithmetic (states/report.py): rates, shares, months, ages."""

from __future__ import annotations

from datetime import date

import pytest

from states.casetypes import CASE_TYPES
from states.errors import InvalidInput
from states.report import (
    ClosureCounts,
    ClosureRow,
    age_bounds,
    check_grouping,
    months,
    rate,
    reopening_triggers,
)


def test_the_seed_figures_round_half_up_to_four_places() -> None:
    # DESIGN §7: reconsideration 2024-01-01..05-31, handled 647, closed 507, withdrawn 239
    assert rate(507, 647) == 0.7836  # 0.783616…
    assert rate(239, 507) == 0.4714  # 0.471400…
    assert rate(1, 8) == 0.125 and rate(2, 3) == 0.6667
    assert rate(1, 20000) == 0.0001  # 0.00005 rounds half up, not to even
    assert rate(0, 0) is None  # nothing handled: no rate, not 0 %


def test_a_row_derives_handled_open_and_the_rates() -> None:
    counts = ClosureCounts(carried_over=140, accepted=507, closed=507, withdrawn=239,
                           closed_on_time=400, overdue_open=12)
    doc = ClosureRow("reconsideration", "行政复议", counts).to_json()
    assert (doc["handled"], doc["open_at_end"]) == (647, 140)
    assert (doc["closure_rate"], doc["withdrawn_share"], doc["on_time_rate"]) \
        == (0.7836, 0.4714, 0.789)  # 400/507 = 0.78895…
    assert (counts + counts).closed == 1014


def test_months_are_cut_to_the_period() -> None:
    assert list(months(date(2023, 12, 15), date(2024, 2, 10))) == [
        ("2023-12", date(2023, 12, 15), date(2023, 12, 31)),
        ("2024-01", date(2024, 1, 1), date(2024, 1, 31)),
        ("2024-02", date(2024, 2, 1), date(2024, 2, 10))]
    with pytest.raises(InvalidInput, match="ends before it starts"):
        list(months(date(2024, 2, 1), date(2024, 1, 31)))


def test_ages_count_calendar_days_since_admission() -> None:
    # on 06-30: admitted 06-30 is 0 days old, 05-31 is 30, 05-30 is 31, 03-31 is 91
    assert age_bounds(date(2024, 6, 30)) == [
        ("0-30", date(2024, 5, 31), date(2024, 6, 30)),
        ("31-60", date(2024, 5, 1), date(2024, 5, 30)),
        ("61-90", date(2024, 4, 1), date(2024, 4, 30)),
        (">90", None, date(2024, 3, 31))]


def test_what_reopens_a_case_comes_from_the_declarations() -> None:
    assert reopening_triggers(CASE_TYPES["reconsideration"]) == ("reinstate",)
    assert reopening_triggers(CASE_TYPES["legal_aid"]) == ("order_correction", "reinstate")
    assert reopening_triggers(CASE_TYPES["complaint"]) == ()


def test_breakdowns_are_named() -> None:
    for by in (None, "department", "handler", "month"):
        check_grouping(by)
    with pytest.raises(InvalidInput, match="not a breakdown"):
        check_grouping("week")
