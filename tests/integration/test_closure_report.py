"""The closure report (DESIGN §7) over a small population built through the services, with the
expected figures worked out by hand, on SQLite and PostgreSQL.

The period is 2024-04-01..2024-06-30. Reconsideration cases (2024 calendar: 04-04..04-06,
05-01..05-05, 06-10 off; Sun 04-07, Sun 04-28 and Sat 05-11 worked):

- A: accepted 03-04, copy sent 03-05, extended +30 on 04-01, decided 04-15
  → carried, closed on time, 1 extension in the period.
- B: accepted 02-02, decided 03-20 → closed before the period: not handled.
- C: accepted 03-12, extended +10 on 03-15 (decision due 03-12+70 = 05-21), decided 07-10
  → carried, open and overdue at 06-30 (closed later), 110 days old.
- D: accepted 04-02, withdrawn 04-20 → accepted, closed, withdrawn, on time.
- E: accepted 06-04 → accepted, open, 26 days old.
- F: rejected 04-09, never accepted → not handled.
- G: opened Mon 05-06; its review (5 working days: 05-07..05-10 and Sat 05-11) lapsed: deemed
  accepted on 05-11, recorded when the copy is sent 05-20 → accepted, open (decision due
  05-11+60 = 07-10), 50 days old, 1 deemed acceptance.
- H: accepted 03-19, suspended 03-25 (ground 1), terminated 05-27 on ground 5 (the 60 days ran
  out on 05-24) → carried, closed on time.
- J: accepted 01-16, decided 04-10 (decision due 01-16+60 = 03-16, a Saturday → 03-18)
  → carried, closed late (decision missed).

A legal-aid case L, approved 03-04, terminated 05-10 (its 3-day assignment, due 03-07, missed),
reopened on 07-05 (order_correction after an objection): closed at the end of the period, late.
A complaint K opened 06-20 (admitted on opening).

Respondent replies are never received: that clock is the respondent's, so its missed cycles do
not make a case late.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from report_population import END, ONE, START, TWO, build_population

from flows.context import Bureau
from flows.reports import closure_report, csv_text
from states.errors import InvalidInput

RECONSIDERATION = {
    "type": "reconsideration", "label": "行政复议",
    "carried_over": 4,  # A, C, H, J
    "accepted": 3,  # D, E, G
    "handled": 7,
    "closed": 4,  # A, D, H, J
    "closure_rate": 0.5714,  # 4/7 = 0.571428…
    "withdrawn": 1,  # D
    "withdrawn_share": 0.25,  # 1/4
    "closed_on_time": 3,  # A, D, H (J's decision missed)
    "on_time_rate": 0.75,  # 3/4
    "open_at_end": 3,  # C, E, G
    "overdue_open": 1,  # C: decision due 05-21, still running on 06-30
    "ageing": {"0-30": 1, "31-60": 1, "61-90": 0, ">90": 1},  # E 26, G 50, C 110 days
    "deemed": {"deem_accepted": 1, "deem_abandoned": 0, "deem_withdrawn": 0},  # G
    "extensions": 1,  # A's on 04-01 (C's on 03-15 is before the period)
}
LEGAL_AID = {
    "type": "legal_aid", "label": "法律援助", "carried_over": 1, "accepted": 0, "handled": 1,
    "closed": 1, "closure_rate": 1.0, "withdrawn": 0, "withdrawn_share": 0.0,
    "closed_on_time": 0, "on_time_rate": 0.0, "open_at_end": 0, "overdue_open": 0,
    "ageing": {"0-30": 0, "31-60": 0, "61-90": 0, ">90": 0},
    "deemed": {"deem_accepted": 0, "deem_abandoned": 0, "deem_withdrawn": 0}, "extensions": 0,
}
COMPLAINT = {
    "type": "complaint", "label": "律师执业投诉", "carried_over": 0, "accepted": 1, "handled": 1,
    "closed": 0, "closure_rate": 0.0, "withdrawn": 0, "withdrawn_share": None,
    "closed_on_time": 0, "on_time_rate": None, "open_at_end": 1, "overdue_open": 0,
    "ageing": {"0-30": 1, "31-60": 0, "61-90": 0, ">90": 0},
    "deemed": {"deem_accepted": 0, "deem_abandoned": 0, "deem_withdrawn": 0}, "extensions": 0,
}


@pytest.fixture
def population(bureau: Bureau) -> Bureau:
    build_population(bureau)
    return bureau


def test_the_report_is_judged_as_of_the_end_of_the_period(population: Bureau) -> None:
    doc = closure_report(population, START, END).to_json()
    assert doc["from"] == "2024-04-01" and doc["to"] == "2024-06-30"
    rows = {row["type"]: row for row in doc["rows"]}
    assert list(rows) == ["reconsideration", "legal_aid", "complaint"]
    assert rows["reconsideration"] == RECONSIDERATION
    assert rows["complaint"] == COMPLAINT
    assert rows["legal_aid"] == LEGAL_AID
    assert "breakdown" not in doc


def test_one_type(population: Bureau) -> None:
    doc = closure_report(population, START, END, case_type="reconsideration").to_json()
    assert doc["rows"] == [RECONSIDERATION]


def test_a_later_period_sees_what_happened_after_the_first(population: Bureau) -> None:
    # 2024-07-01..07-31: carried C, E, G (open on 06-30); C decided 07-10, late (due 05-21)
    row = closure_report(population, date(2024, 7, 1), date(2024, 7, 31),
                         case_type="reconsideration").rows[0].to_json()
    assert (row["carried_over"], row["accepted"], row["closed"], row["closed_on_time"]) \
        == (3, 0, 1, 0)
    # G's decision, due 07-10, runs on: overdue at the end of 07-31, and E's (due 08-05) not
    assert row["overdue_open"] == 1
    # L was closed on 06-30 (terminated), so it is not carried into July, although reopened
    la = closure_report(population, date(2024, 7, 1), date(2024, 7, 31),
                        case_type="legal_aid").rows[0].to_json()
    assert (la["carried_over"], la["handled"]) == (0, 0)
    # judged on 07-04, before the reopening: still closed; in May, closed then (05-10)
    may = closure_report(population, date(2024, 5, 1), date(2024, 7, 4),
                         case_type="legal_aid").rows[0].to_json()
    assert (may["carried_over"], may["closed"], may["open_at_end"]) == (1, 1, 0)


def test_breakdown_by_department(population: Bureau) -> None:
    doc = closure_report(population, START, END, case_type="reconsideration",
                         by="department").to_json()
    assert doc["by"] == "department" and doc["rows"] == [RECONSIDERATION]
    by = {row["department"]: row for row in doc["breakdown"]}
    assert set(by) == {ONE, TWO}
    # 一科: A, C carried; D accepted; A, D closed (both on time); C overdue
    assert [by[ONE][k] for k in ("carried_over", "accepted", "closed", "closed_on_time",
                                 "overdue_open", "closure_rate", "extensions")] \
        == [2, 1, 2, 2, 1, 0.6667, 1]
    # 二科: H, J carried; E, G accepted; H, J closed, J late; G deemed accepted
    assert [by[TWO][k] for k in ("carried_over", "accepted", "closed", "closed_on_time",
                                 "overdue_open", "closure_rate", "on_time_rate")] \
        == [2, 2, 2, 1, 0, 0.5, 0.5]
    assert by[TWO]["deemed"]["deem_accepted"] == 1


def test_breakdown_by_handler(population: Bureau) -> None:
    doc = closure_report(population, START, END, by="handler").to_json()
    by = {(row["type"], row["handler"]): row for row in doc["breakdown"]}
    # 王: A, H, J carried and closed (J late); 李: C carried, D accepted; 张: E, G; 赵: K
    assert {k: (v["handled"], v["closed"], v["closed_on_time"]) for k, v in by.items()} == {
        ("reconsideration", "王"): (3, 3, 2), ("reconsideration", "李"): (2, 1, 1),
        ("reconsideration", "张"): (2, 0, 0), ("legal_aid", "钱"): (1, 1, 0),
        ("complaint", "赵"): (1, 0, 0)}


def test_breakdown_by_month(population: Bureau) -> None:
    doc = closure_report(population, START, END, case_type="reconsideration",
                         by="month").to_json()
    by = {row["month"]: row for row in doc["breakdown"]}
    assert list(by) == ["2024-04", "2024-05", "2024-06"]
    figures = ("carried_over", "accepted", "closed", "closed_on_time", "overdue_open",
               "closure_rate", "on_time_rate")
    # April: A, C, H, J carried, D accepted; A, J, D closed (J late); C due 05-21: not yet
    assert [by["2024-04"][k] for k in figures] == [4, 1, 3, 2, 0, 0.6, 0.6667]
    # May: C, H carried, G accepted; H closed on time; C overdue from 05-22
    assert [by["2024-05"][k] for k in figures] == [2, 1, 1, 1, 1, 0.3333, 1.0]
    # June: C, G carried, E accepted; nothing closed, so no on-time rate
    assert [by["2024-06"][k] for k in figures] == [2, 1, 0, 0, 1, 0.0, None]


def test_csv_has_a_line_per_row(population: Bureau) -> None:
    report = closure_report(population, START, END, by="department")
    lines = list(csv.DictReader(io.StringIO(csv_text(report))))
    assert len(lines) == 3 + 4  # three types, then 一科, 二科, 法援科, 投诉科
    first = lines[0]
    assert first["type"] == "reconsideration" and first["department"] == ""
    assert (first["handled"], first["closure_rate"], first["age_>90"]) == ("7", "0.5714", "1")
    assert lines[2]["withdrawn_share"] == "" and lines[2]["type"] == "complaint"


@pytest.mark.parametrize(("start", "end", "kwargs", "says"), [
    (date(2024, 7, 1), date(2024, 6, 30), {}, "ends before it starts"),
    (START, END, {"case_type": "divorce"}, "not a case type"),
    (START, END, {"by": "week"}, "not a breakdown"),
])
def test_bad_input_is_refused(bureau: Bureau, start: date, end: date,
                              kwargs: dict[str, str], says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        closure_report(bureau, start, end, **kwargs)  # type: ignore[arg-type]
