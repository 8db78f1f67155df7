"""Example tests of the working-day calendar and the statutory counting rules (DESIGN.md §3).

Every expected date below was worked out by hand from the counting rules and the State Council's
notices (国务院办公厅关于部分节假日安排的通知), never computed with the code under test. The
official arrangements used (rest days falling on weekdays; make-up working days, 调休上班):

    2024 rest: 01-01, 02-12..02-16, 04-04, 04-05, 05-01..05-03, 06-10, 09-16, 09-17,
               10-01..10-04, 10-07
         work: 02-04 Sun, 02-18 Sun, 04-07 Sun, 04-28 Sun, 05-11 Sat, 09-14 Sat, 09-29 Sun,
               10-12 Sat
    2025 rest: 01-01, 01-28..01-31, 02-03, 02-04, 04-04, 05-01, 05-02, 05-05, 06-02,
               10-01..10-03, 10-06..10-08
         work: 01-26 Sun, 02-08 Sat, 04-27 Sun, 09-28 Sun, 10-11 Sat
    2026 rest: 01-01, 01-02, 02-16..02-20, 02-23, 04-06, 05-01, 05-04, 05-05, 06-19, 09-25,
               10-01, 10-02, 10-05..10-07
         work: 01-04 Sun, 02-14 Sat, 02-28 Sat, 05-09 Sat, 09-20 Sun, 10-10 Sat

Weekdays used: 2024-01-01 Mon, 2025-01-01 Wed, 2026-01-01 Thu, 2027-01-01 Fri.
"""

from __future__ import annotations

from datetime import date

import pytest

from states.calendar import (
    FIRST_YEAR,
    LAST_YEAR,
    Due,
    Unit,
    WorkCalendar,
    chinesecalendar_years,
    parse_calendar_data,
)
from states.errors import CalendarRangeError, InvalidCalendarData

D = date


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    # chinesecalendar's official years only, so that a year added to states/data/calendar.toml
    # later (2027, say) does not silently change what these tests mean by "provisional".
    return WorkCalendar(official=chinesecalendar_years())


# -- the design's own examples ---------------------------------------------------------------


def test_design_example_5_working_days_across_national_day_2024(cal: WorkCalendar) -> None:
    # From Fri 2024-09-27 (not counted): 09-28 Sat rest; 09-29 Sun make-up (1); 09-30 Mon (2);
    # 10-01..10-07 rest (holiday, 10-05/10-06 weekend); 10-08 (3); 10-09 (4); 10-10 (5).
    assert cal.add_working_days(D(2024, 9, 27), 5) == D(2024, 10, 10)
    assert cal.due(D(2024, 9, 27), 5, Unit.WORKING) == Due(D(2024, 10, 10), provisional=False)


def test_design_example_5_calendar_days_across_national_day_2024(cal: WorkCalendar) -> None:
    # 2024-09-27 + 5 = 10-02 (Wed, holiday); 10-03..10-07 rest too; next working day 10-08 Tue.
    assert cal.add_calendar_days(D(2024, 9, 27), 5) == D(2024, 10, 8)
    assert cal.due(D(2024, 9, 27), 5, Unit.CALENDAR) == Due(D(2024, 10, 8), provisional=False)


# -- rule: the start day is not counted ------------------------------------------------------


def test_start_day_is_not_counted_working(cal: WorkCalendar) -> None:
    # Start Mon 2024-10-14 (a working day, not counted): 10-15 Tue is the 1st working day.
    assert cal.add_working_days(D(2024, 10, 14), 1) == D(2024, 10, 15)


def test_start_day_is_not_counted_calendar(cal: WorkCalendar) -> None:
    # Start Mon 2024-10-14: 1 calendar day -> 10-15 Tue, a working day, no roll.
    assert cal.add_calendar_days(D(2024, 10, 14), 1) == D(2024, 10, 15)


def test_make_up_sunday_as_start_is_not_counted(cal: WorkCalendar) -> None:
    # Start Sun 2024-09-29 (make-up working day, but the start is never counted):
    # 09-30 Mon (1); 10-01..10-07 rest; 10-08 Tue (2).
    assert cal.add_working_days(D(2024, 9, 29), 2) == D(2024, 10, 8)


# -- rule: N working days -> the N-th working day after the start ------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # 2024 Spring Festival. From Thu 02-08: 02-09 Fri (1; 除夕 was a working day in 2024);
        # 02-10..02-17 rest (Sat, Sun, Mon-Fri holiday, Sat); 02-18 Sun make-up (2); 02-19 (3).
        (D(2024, 2, 8), 3, D(2024, 2, 19)),
        # From Fri 02-02: 02-03 Sat rest; 02-04 Sun make-up (1); 02-05 Mon (2).
        (D(2024, 2, 2), 2, D(2024, 2, 5)),
        # 2024 National Day, make-up Saturday at the end. From Wed 10-09: 10-10 (1), 10-11 (2),
        # 10-12 Sat make-up (3).
        (D(2024, 10, 9), 3, D(2024, 10, 12)),
        # 2025 Spring Festival. From Fri 01-24: 01-25 Sat rest; 01-26 Sun make-up (1);
        # 01-27 Mon (2).
        (D(2025, 1, 24), 2, D(2025, 1, 27)),
        # From Mon 01-27: 01-28..01-31 holiday, 02-01/02-02 weekend, 02-03/02-04 holiday;
        # 02-05 Wed (1).
        (D(2025, 1, 27), 1, D(2025, 2, 5)),
        # From Wed 02-05: 02-06 Thu (1), 02-07 Fri (2), 02-08 Sat make-up (3).
        (D(2025, 2, 5), 3, D(2025, 2, 8)),
        # 2025 National Day. From Fri 09-26: 09-27 Sat rest; 09-28 Sun make-up (1); 09-29 (2);
        # 09-30 (3); 10-01..10-08 rest (10-04/10-05 weekend); 10-09 Thu (4).
        (D(2025, 9, 26), 3, D(2025, 9, 30)),
        (D(2025, 9, 26), 4, D(2025, 10, 9)),
        # From Thu 10-09: 10-10 Fri (1), 10-11 Sat make-up (2).
        (D(2025, 10, 9), 2, D(2025, 10, 11)),
        # 2026 Spring Festival. From Thu 02-12: 02-13 Fri (1); 02-14 Sat make-up (2);
        # 02-15 Sun, 02-16..02-20 holiday, 02-21/02-22 weekend, 02-23 Mon holiday; 02-24 Tue (3).
        (D(2026, 2, 12), 2, D(2026, 2, 14)),
        (D(2026, 2, 12), 3, D(2026, 2, 24)),
        # From Tue 02-24: 02-25 (1), 02-26 (2), 02-27 (3), 02-28 Sat make-up (4),
        # 03-01 Sun rest, 03-02 Mon (5).
        (D(2026, 2, 24), 5, D(2026, 3, 2)),
        # 2026 Mid-Autumn and National Day. From Thu 09-24: 09-25 Fri holiday, weekend;
        # 09-28 Mon (1).
        (D(2026, 9, 24), 1, D(2026, 9, 28)),
        # From Fri 09-18: 09-19 Sat rest; 09-20 Sun make-up (1); 09-21 Mon (2).
        (D(2026, 9, 18), 2, D(2026, 9, 21)),
        # From Tue 09-29: 09-30 Wed (1); 10-01..10-07 rest; 10-08 Thu (2); 10-09 Fri (3);
        # 10-10 Sat make-up (4).
        (D(2026, 9, 29), 3, D(2026, 10, 9)),
        (D(2026, 9, 29), 4, D(2026, 10, 10)),
    ],
)
def test_n_working_days(cal: WorkCalendar, start: date, days: int, expected: date) -> None:
    assert cal.add_working_days(start, days) == expected
    assert cal.add(start, days, Unit.WORKING) == expected


def test_working_days_across_new_year_2026(cal: WorkCalendar) -> None:
    # From Wed 2025-12-31: 2026-01-01 Thu, 01-02 Fri holiday, 01-03 Sat rest;
    # 01-04 Sun make-up (1); 01-05 Mon (2).
    assert cal.add_working_days(D(2025, 12, 31), 2) == D(2026, 1, 5)


# -- rule: N calendar days -> start + N, rolled forward to a working day ---------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        # 2024 Spring Festival: 02-05 + 7 = 02-12 Mon (holiday); 02-13..02-17 rest;
        # 02-18 Sun is a make-up working day -> 02-18.
        (D(2024, 2, 5), 7, D(2024, 2, 18)),
        # 2024: 02-01 + 3 = 02-04 Sun, a make-up working day: no roll.
        (D(2024, 2, 1), 3, D(2024, 2, 4)),
        # 2024 National Day: 09-25 + 4 = 09-29 Sun, make-up working day: no roll.
        (D(2024, 9, 25), 4, D(2024, 9, 29)),
        # 2024: 10-10 + 2 = 10-12 Sat, make-up working day: no roll.
        (D(2024, 10, 10), 2, D(2024, 10, 12)),
        # 2024: 10-10 + 3 = 10-13, an ordinary Sunday -> 10-14 Mon.
        (D(2024, 10, 10), 3, D(2024, 10, 14)),
        # 2025 Spring Festival: 01-27 + 3 = 01-30 Thu (holiday); 01-31..02-04 rest -> 02-05 Wed.
        (D(2025, 1, 27), 3, D(2025, 2, 5)),
        # 2025: 01-24 + 2 = 01-26 Sun, make-up working day: no roll.
        (D(2025, 1, 24), 2, D(2025, 1, 26)),
        # 2025: 02-07 + 1 = 02-08 Sat, make-up working day: no roll.
        (D(2025, 2, 7), 1, D(2025, 2, 8)),
        # 2025 National Day: 09-26 + 10 = 10-06 Mon (holiday); 10-07, 10-08 rest -> 10-09 Thu.
        (D(2025, 9, 26), 10, D(2025, 10, 9)),
        # 2025: 10-04 + 7 = 10-11 Sat, make-up working day: no roll.
        (D(2025, 10, 4), 7, D(2025, 10, 11)),
        # 2026 Spring Festival: 02-13 + 5 = 02-18 Wed (holiday); 02-19..02-23 rest -> 02-24 Tue.
        (D(2026, 2, 13), 5, D(2026, 2, 24)),
        # 2026: 02-10 + 4 = 02-14 Sat, make-up working day: no roll.
        (D(2026, 2, 10), 4, D(2026, 2, 14)),
        # 2026 National Day: 09-30 + 1 = 10-01 Thu (holiday); 10-02..10-07 rest -> 10-08 Thu.
        (D(2026, 9, 30), 1, D(2026, 10, 8)),
        # 2026: 10-08 + 2 = 10-10 Sat, make-up working day: no roll.
        (D(2026, 10, 8), 2, D(2026, 10, 10)),
        # 2026 Mid-Autumn: 09-20 + 5 = 09-25 Fri (holiday); weekend -> 09-28 Mon.
        (D(2026, 9, 20), 5, D(2026, 9, 28)),
    ],
)
def test_n_calendar_days(cal: WorkCalendar, start: date, days: int, expected: date) -> None:
    assert cal.add_calendar_days(start, days) == expected
    assert cal.add(start, days, Unit.CALENDAR) == expected


def test_calendar_days_counts_rest_days_inside_the_period(cal: WorkCalendar) -> None:
    # Calendar days count holidays inside the period: 2024-09-30 + 9 = 10-09 Wed (working),
    # although 7 of the 9 days were holidays.
    assert cal.add_calendar_days(D(2024, 9, 30), 9) == D(2024, 10, 9)


# -- a start date that is itself a holiday ---------------------------------------------------


def test_working_days_from_a_holiday(cal: WorkCalendar) -> None:
    # Start Thu 2024-10-03 (holiday): 10-04..10-07 rest; 10-08 (1), 10-09 (2), 10-10 (3),
    # 10-11 (4), 10-12 Sat make-up (5).
    assert cal.add_working_days(D(2024, 10, 3), 5) == D(2024, 10, 12)
    # Start Sat 2025-02-01 (weekend inside the Spring Festival): 02-02 Sun, 02-03, 02-04 rest;
    # 02-05 Wed (1).
    assert cal.add_working_days(D(2025, 2, 1), 1) == D(2025, 2, 5)


def test_calendar_days_from_a_holiday(cal: WorkCalendar) -> None:
    # 2024-10-03 + 3 = 10-06 Sun (rest); 10-07 Mon holiday -> 10-08 Tue.
    assert cal.add_calendar_days(D(2024, 10, 3), 3) == D(2024, 10, 8)
    # 2026-02-16 (holiday) + 10 = 02-26 Thu, a working day.
    assert cal.add_calendar_days(D(2026, 2, 16), 10) == D(2026, 2, 26)


# -- is_workday ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "day",
    [
        D(2024, 2, 4),  # Sun
        D(2024, 2, 18),  # Sun
        D(2024, 4, 7),  # Sun
        D(2024, 4, 28),  # Sun
        D(2024, 5, 11),  # Sat
        D(2024, 9, 14),  # Sat
        D(2024, 9, 29),  # Sun
        D(2024, 10, 12),  # Sat
        D(2025, 1, 26),  # Sun
        D(2025, 2, 8),  # Sat
        D(2025, 4, 27),  # Sun
        D(2025, 9, 28),  # Sun
        D(2025, 10, 11),  # Sat
        D(2026, 1, 4),  # Sun
        D(2026, 2, 14),  # Sat
        D(2026, 2, 28),  # Sat
        D(2026, 5, 9),  # Sat
        D(2026, 9, 20),  # Sun
        D(2026, 10, 10),  # Sat
    ],
)
def test_make_up_weekend_days_are_working_days(cal: WorkCalendar, day: date) -> None:
    assert day.weekday() >= 5  # really a Saturday or Sunday
    assert cal.is_workday(day)


@pytest.mark.parametrize(
    "day",
    [
        D(2024, 2, 12),  # Mon, Spring Festival
        D(2024, 2, 16),  # Fri, Spring Festival
        D(2024, 10, 1),  # Tue, National Day
        D(2024, 10, 7),  # Mon, National Day bridge
        D(2025, 1, 28),  # Tue, 除夕
        D(2025, 2, 4),  # Tue, Spring Festival bridge
        D(2025, 10, 8),  # Wed, National Day bridge
        D(2026, 2, 23),  # Mon, Spring Festival bridge
        D(2026, 9, 25),  # Fri, Mid-Autumn
        D(2026, 10, 7),  # Wed, National Day bridge
    ],
)
def test_holiday_weekdays_are_rest_days(cal: WorkCalendar, day: date) -> None:
    assert day.weekday() < 5
    assert not cal.is_workday(day)


def test_ordinary_days(cal: WorkCalendar) -> None:
    assert cal.is_workday(D(2024, 10, 14))  # Mon
    assert not cal.is_workday(D(2024, 10, 13))  # Sun, no make-up
    assert not cal.is_workday(D(2025, 10, 12))  # Sun after the 10-11 make-up Saturday
    assert cal.is_workday(D(2024, 2, 9))  # Fri, 除夕 2024 was not a rest day in the notice


def test_2005_12_31_follows_chinesecalendar(cal: WorkCalendar) -> None:
    # PREFECT-NOTES: chinesecalendar and holidays disagree on Sat 2005-12-31; we follow
    # chinesecalendar, which has it as a rest day.
    assert not cal.is_workday(D(2005, 12, 31))


def test_roll_forward(cal: WorkCalendar) -> None:
    assert cal.roll_forward(D(2024, 10, 8)) == D(2024, 10, 8)  # working day stays
    assert cal.roll_forward(D(2024, 10, 1)) == D(2024, 10, 8)  # 10-01..10-07 rest
    assert cal.roll_forward(D(2024, 9, 28)) == D(2024, 9, 29)  # Sat -> make-up Sun


# -- working_days_between counts (start, end] ----------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # (09-27, 10-10]: 09-29, 09-30, 10-08, 10-09, 10-10.
        (D(2024, 9, 27), D(2024, 10, 10), 5),
        # (09-30, 10-07]: all holiday.
        (D(2024, 9, 30), D(2024, 10, 7), 0),
        # (09-30, 10-08]: 10-08 only.
        (D(2024, 9, 30), D(2024, 10, 8), 1),
        # (09-29, 09-30]: the start 09-29 (make-up Sunday) is excluded, 09-30 included.
        (D(2024, 9, 29), D(2024, 9, 30), 1),
        # (09-28, 09-29]: the end 09-29 (make-up Sunday) is included.
        (D(2024, 9, 28), D(2024, 9, 29), 1),
        # Empty interval.
        (D(2024, 10, 10), D(2024, 10, 10), 0),
        # Reversed: minus the working days in (end, start].
        (D(2024, 10, 10), D(2024, 9, 27), -5),
        # (2025-01-24, 2025-02-08]: 01-26, 01-27, 02-05, 02-06, 02-07, 02-08.
        (D(2025, 1, 24), D(2025, 2, 8), 6),
        # (2026-02-13, 2026-02-28]: 02-14, 02-24, 02-25, 02-26, 02-27, 02-28.
        (D(2026, 2, 13), D(2026, 2, 28), 6),
        # Across years, (2025-12-30, 2026-01-05]: 12-31, 01-04 (Sun make-up), 01-05.
        (D(2025, 12, 30), D(2026, 1, 5), 3),
    ],
)
def test_working_days_between(cal: WorkCalendar, start: date, end: date, expected: int) -> None:
    assert cal.working_days_between(start, end) == expected
    assert cal.days_between(start, end, Unit.WORKING) == expected


def test_days_between_calendar(cal: WorkCalendar) -> None:
    assert cal.days_between(D(2024, 9, 27), D(2024, 10, 8), Unit.CALENDAR) == 11


# -- negative working-day adds go backwards ------------------------------------------------------


def test_negative_working_days_from_a_working_day(cal: WorkCalendar) -> None:
    # Back from Thu 2024-10-10: 10-09 (1), 10-08 (2), 10-07..10-01 rest, 09-30 (3),
    # 09-29 Sun make-up (4), 09-28 Sat rest, 09-27 (5).
    assert cal.add_working_days(D(2024, 10, 10), -5) == D(2024, 9, 27)
    assert cal.add_working_days(D(2024, 10, 10), -1) == D(2024, 10, 9)


def test_negative_working_days_from_a_rest_day(cal: WorkCalendar) -> None:
    # Back from Sat 2024-10-05 (holiday): 10-04..10-01 rest; 09-30 Mon is the 1st working day
    # before it, 09-29 Sun make-up the 2nd, 09-27 Fri the 3rd.
    assert cal.add_working_days(D(2024, 10, 5), -1) == D(2024, 9, 30)
    assert cal.add_working_days(D(2024, 10, 5), -2) == D(2024, 9, 29)
    assert cal.add_working_days(D(2024, 10, 5), -3) == D(2024, 9, 27)
    # Back from Sun 2024-10-13 (ordinary weekend): 10-12 Sat make-up is the 1st.
    assert cal.add_working_days(D(2024, 10, 13), -1) == D(2024, 10, 12)


def test_counting_grows_a_fresh_index_across_years() -> None:
    # A fresh calendar first expands only 2024; the answers need 2023 and 2025.
    fresh = WorkCalendar(official=chinesecalendar_years())
    # Back from Tue 2024-01-02: 01-01 Mon holiday, 2023-12-31 Sun, 12-30 Sat rest;
    # 12-29 Fri (1), 12-28 Thu (2).
    assert fresh.add_working_days(D(2024, 1, 2), -2) == D(2023, 12, 28)
    # From Tue 2024-12-31: 2025-01-01 Wed holiday; 01-02 Thu (1), 01-03 Fri (2).
    assert fresh.add_working_days(D(2024, 12, 31), 2) == D(2025, 1, 3)


# -- provisional years (no official data: 2027) ----------------------------------------------


def test_provisional_year_is_weekends_and_statutory_holidays(cal: WorkCalendar) -> None:
    assert cal.is_provisional(2027)
    assert not cal.is_provisional(2026)
    # Spring Festival 2027 under 《全国年节及纪念日放假办法》: 除夕 Fri 02-05 to 初三 Mon 02-08.
    for day in (D(2027, 2, 5), D(2027, 2, 6), D(2027, 2, 7), D(2027, 2, 8)):
        assert not cal.is_workday(day), day
    assert cal.is_workday(D(2027, 2, 4))  # Thu
    assert cal.is_workday(D(2027, 2, 9))  # Tue, no bridge days in provisional mode
    # National Day 2027: Fri 10-01 to Sun 10-03; Mon 10-04 is no holiday without a notice.
    for day in (D(2027, 10, 1), D(2027, 10, 2), D(2027, 10, 3)):
        assert not cal.is_workday(day), day
    assert cal.is_workday(D(2027, 10, 4))
    # New Year's Day: Fri 2027-01-01.
    assert not cal.is_workday(D(2027, 1, 1))


def test_provisional_counting(cal: WorkCalendar) -> None:
    # From Thu 2027-09-30: 10-01 Fri holiday, 10-02/10-03 weekend; 10-04 Mon (1).
    assert cal.due(D(2027, 9, 30), 1, Unit.WORKING) == Due(D(2027, 10, 4), provisional=True)
    # 2027-09-30 + 1 = 10-01 rest -> 10-04 Mon.
    assert cal.due(D(2027, 9, 30), 1, Unit.CALENDAR) == Due(D(2027, 10, 4), provisional=True)
    # From Thu 2027-02-04: 02-05..02-08 rest; 02-09 Tue (1).
    assert cal.add_working_days(D(2027, 2, 4), 1) == D(2027, 2, 9)


def test_due_is_provisional_only_when_the_span_touches_2027(cal: WorkCalendar) -> None:
    # From Wed 2026-12-29: 12-30 (1), 12-31 (2): entirely 2026.
    assert cal.due(D(2026, 12, 29), 2, Unit.WORKING) == Due(D(2026, 12, 31), provisional=False)
    # From Wed 2026-12-30: 12-31 Thu (1); 2027-01-01 Fri holiday, weekend; 01-04 (2), 01-05 (3).
    assert cal.due(D(2026, 12, 30), 3, Unit.WORKING) == Due(D(2027, 1, 5), provisional=True)
    # 2026-12-30 + 2 = 2027-01-01 (holiday) -> Mon 2027-01-04.
    assert cal.due(D(2026, 12, 30), 2, Unit.CALENDAR) == Due(D(2027, 1, 4), provisional=True)
    assert cal.touches_provisional(D(2027, 1, 4), D(2026, 12, 30))  # either order
    assert not cal.touches_provisional(D(2024, 1, 1), D(2026, 12, 31))


# -- the data file mechanism -----------------------------------------------------------------

# A made-up 2027 notice for the test (not the real one): National Day 10-01..10-07 off,
# Sun 09-26 and Sat 10-09 worked; New Year's Day 01-01 off. It says nothing of February.
NOTICE_2027 = """
[years.2027]
source = "test notice"
rest_days = ["2027-01-01", "2027-10-01", "2027-10-02", "2027-10-03", "2027-10-04",
             "2027-10-05", "2027-10-06", "2027-10-07"]
working_days = ["2027-09-26", 2027-10-09]
"""


def test_data_file_makes_a_year_official() -> None:
    parsed = parse_calendar_data(NOTICE_2027, origin="test.toml")
    assert set(parsed) == {2027}
    assert parsed[2027].source == "test notice"
    assert D(2027, 10, 9) in parsed[2027].working_days  # a native TOML date is accepted
    cal = WorkCalendar(official={**chinesecalendar_years(), **parsed})
    assert not cal.is_provisional(2027)
    assert not cal.is_workday(D(2027, 10, 4))  # provisional mode: a working day
    assert cal.is_workday(D(2027, 9, 26))  # Sun make-up
    assert cal.is_workday(D(2027, 10, 9))  # Sat make-up
    # The table replaces the year: Mon 2027-02-08 (a provisional holiday) is now a working day.
    assert cal.is_workday(D(2027, 2, 8))
    # From Thu 09-30: 10-01..10-07 rest; 10-08 Fri (1); 10-09 Sat make-up (2).
    assert cal.due(D(2027, 9, 30), 1, Unit.WORKING) == Due(D(2027, 10, 8), provisional=False)
    assert cal.due(D(2027, 9, 30), 2, Unit.WORKING) == Due(D(2027, 10, 9), provisional=False)
    # From Fri 09-24: 09-25 Sat rest; 09-26 Sun make-up (1); 09-27 Mon (2).
    assert cal.add_working_days(D(2027, 9, 24), 2) == D(2027, 9, 27)
    # 2027-09-30 + 1 = 10-01 rest -> 10-08 Fri.
    assert cal.add_calendar_days(D(2027, 9, 30), 1) == D(2027, 10, 8)
    # The span ending in 2028 is still provisional.
    assert cal.due(D(2027, 12, 30), 3, Unit.CALENDAR).provisional


def test_data_file_can_correct_an_official_year() -> None:
    # Pretend a correction makes Mon 2024-10-14 a rest day too.
    text = """
    [years.2024]
    rest_days = ["2024-10-01", "2024-10-02", "2024-10-03", "2024-10-04", "2024-10-07",
                 "2024-10-14"]
    working_days = ["2024-09-29", "2024-10-12"]
    """
    cal = WorkCalendar(official={**chinesecalendar_years(), **parse_calendar_data(text)})
    assert not cal.is_workday(D(2024, 10, 14))
    # From Fri 10-11: 10-12 Sat make-up (1), 10-13 Sun, 10-14 corrected rest, 10-15 Tue (2).
    assert cal.add_working_days(D(2024, 10, 11), 2) == D(2024, 10, 15)


def test_empty_data_file_adds_nothing() -> None:
    assert parse_calendar_data("[years]\n") == {}
    assert parse_calendar_data("") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[years.2027\nrest_days = [", "bad.toml: not valid TOML"),
        (
            '[years.2027]\nrest_days = ["2026-10-01"]',
            "bad.toml: rest_days of 2027 lists 2026-10-01",
        ),
        (
            '[years.2027]\nworking_days = ["2028-01-01"]',
            "bad.toml: working_days of 2027 lists 2028-01-01",
        ),
        (
            '[years.2027]\nrest_days = ["2027-10-01"]\nworking_days = ["2027-10-01"]',
            "bad.toml: 2027-10-01 is both a rest and a working day",
        ),
        (
            '[years.2027]\nrest_days = ["10/01/2027"]',
            "bad.toml: rest_days has '10/01/2027', not a YYYY-MM-DD date",
        ),
        ('[years.next]\nrest_days = ["2027-10-01"]', "bad.toml: year 'next' is not a number"),
        ("years = 2027", "bad.toml: 'years' must be a table"),
        ('[years]\n2027 = "2027-10-01"', "bad.toml: years.2027 must be a [years.2027] table"),
        (
            '[years.2027]\nrest_days = "2027-10-01"',
            "bad.toml: rest_days of 2027 must be a list of dates",
        ),
        # A TOML date-time is not a date: it must not be accepted and then match no day.
        (
            "[years.2027]\nrest_days = [2027-10-04T00:00:00]",
            "bad.toml: rest_days has '2027-10-04 00:00:00', not a YYYY-MM-DD date",
        ),
    ],
)
def test_bad_data_files_are_refused(text: str, message: str) -> None:
    with pytest.raises(InvalidCalendarData) as caught:
        parse_calendar_data(text, origin="bad.toml")
    assert str(caught.value).startswith(message)
    assert caught.value.code == "invalid_data_file"


# -- range -------------------------------------------------------------------------------------


def test_range_constants() -> None:
    assert (FIRST_YEAR, LAST_YEAR) == (2000, 2099)


@pytest.mark.parametrize("day", [D(1999, 12, 31), D(2100, 1, 1)])
def test_dates_outside_the_range_are_refused(cal: WorkCalendar, day: date) -> None:
    with pytest.raises(CalendarRangeError) as caught:
        cal.is_workday(day)
    assert str(caught.value) == f"year {day.year} is outside the calendar's range 2000–2099"
    assert caught.value.code == "date_out_of_range"
    with pytest.raises(CalendarRangeError):
        cal.add_working_days(day, 1)
    with pytest.raises(CalendarRangeError):
        cal.add_calendar_days(day, 0)
    with pytest.raises(CalendarRangeError):
        cal.working_days_between(D(2024, 1, 1), day)


def test_results_beyond_the_range_are_refused(cal: WorkCalendar) -> None:
    # Thu 2099-12-31 is in range, but its next working day is in 2100.
    assert cal.is_workday(D(2099, 12, 31))
    with pytest.raises(CalendarRangeError):
        cal.add_working_days(D(2099, 12, 31), 1)
    with pytest.raises(CalendarRangeError):
        cal.add_calendar_days(D(2099, 12, 30), 5)
    # Mon 2000-01-03 is in range; the working day before it would be in 1999.
    assert cal.is_workday(D(2000, 1, 3))
    with pytest.raises(CalendarRangeError):
        cal.add_working_days(D(2000, 1, 3), -1)
