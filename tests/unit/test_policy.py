"""The bureau's policy file: parse_policy / apply_policy (`states.policy`)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from states.calendar import Unit, default_calendar
from states.casetype import CaseType
from states.casetypes import CASE_TYPES, case_type
from states.errors import InvalidPolicy
from states.machine import open_case
from states.policy import apply_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["days", "unit", "warning_days", "warning_unit", "lengths"]
LEGAL_AID_CLOCKS = [
    "assignment", "closing_report", "engagement", "materials", "objection_review", "review",
]

OVERRIDES = """
[clocks.legal_aid.review]
days = 10
unit = "working"
warning_days = 2
warning_unit = "working"

[clocks.reconsideration.copy_to_respondent.lengths.procedure]
simplified = 4
ordinary = 6

[clocks.reconsideration.decision]
warning_days = 10

[alerts.wecom]
url = "https://example.invalid/hook"
"""


def apply(text: str, origin: str = "policy") -> dict[str, CaseType]:
    return apply_policy(CASE_TYPES, parse_policy(text, origin=origin), origin=origin)


def refusal(text: str, origin: str = "policy") -> InvalidPolicy:
    with pytest.raises(InvalidPolicy) as info:
        apply(text, origin)
    return info.value


# -- overrides ---------------------------------------------------------------------------------


def test_overrides_give_new_declarations() -> None:
    types = apply(OVERRIDES)
    review = types["legal_aid"].clock_map["review"]
    assert (review.days, review.unit) == (10, Unit.WORKING)
    assert review.warning_window() == (2, Unit.WORKING)
    assert review.basis == "法律援助法 第四十三条"  # what was not overridden is kept
    assert review.pauses_in == frozenset({"awaiting_materials"})

    copy = types["reconsideration"].clock_map["copy_to_respondent"]
    assert copy.days == 7
    assert copy.length({"procedure": "simplified"}) == 4
    assert copy.length({"procedure": "ordinary"}) == 6

    decision = types["reconsideration"].clock_map["decision"]
    # warning_days alone keeps the clock's own unit (calendar); lengths were not touched.
    assert decision.warning_window() == (10, Unit.CALENDAR)
    assert decision.length({"procedure": "simplified"}) == 30


def test_overrides_keep_the_rest_of_each_declaration() -> None:
    types = apply(OVERRIDES)
    legal_aid = types["legal_aid"]
    assert [c.name for c in legal_aid.clocks] == [c.name for c in CASE_TYPES["legal_aid"].clocks]
    assert legal_aid.clock_map["materials"] is CASE_TYPES["legal_aid"].clock_map["materials"]
    assert legal_aid.transitions is CASE_TYPES["legal_aid"].transitions
    assert types["complaint"] is CASE_TYPES["complaint"]  # no overrides: the very same type
    assert sorted(types) == ["complaint", "legal_aid", "reconsideration"]


def test_overrides_leave_the_defaults_untouched() -> None:
    apply(OVERRIDES)
    review = CASE_TYPES["legal_aid"].clock_map["review"]
    assert (review.days, review.unit, review.warning_days, review.warning_unit) == (
        7, Unit.CALENDAR, None, None)
    assert review.warning_window() == (1, Unit.WORKING)
    copy = CASE_TYPES["reconsideration"].clock_map["copy_to_respondent"]
    assert copy.lengths == {"procedure": {"simplified": 3}}
    assert CASE_TYPES["reconsideration"].clock_map["decision"].warning_days is None


def test_days_at_the_bounds_are_accepted() -> None:
    low = apply("[clocks.complaint.supplement]\ndays = 1")
    high = apply("[clocks.complaint.supplement]\ndays = 365")
    assert low["complaint"].clock_map["supplement"].days == 1
    assert high["complaint"].clock_map["supplement"].days == 365


def test_an_empty_policy_changes_nothing() -> None:
    assert apply("") == dict(CASE_TYPES)
    assert apply("[clocks]\n") == dict(CASE_TYPES)


# -- refusals ----------------------------------------------------------------------------------


def test_unknown_case_type() -> None:
    error = refusal("[clocks.divorce.review]\ndays = 3")
    assert "clocks.divorce" in error.message and "'divorce'" in error.message
    assert error.allowed == ["complaint", "legal_aid", "reconsideration"]


def test_unknown_clock() -> None:
    error = refusal("[clocks.legal_aid.hearing]\ndays = 3")
    assert "clocks.legal_aid.hearing" in error.message
    assert error.allowed == LEGAL_AID_CLOCKS


def test_unknown_setting() -> None:
    error = refusal("[clocks.legal_aid.review]\nday = 3")
    assert error.message == "policy: clocks.legal_aid.review has no setting 'day'"
    assert error.allowed == KEYS


@pytest.mark.parametrize("value", ["0", "366", '"7"', "true", "7.0", "-1"])
def test_days_out_of_range_or_not_an_integer(value: str) -> None:
    error = refusal(f"[clocks.legal_aid.review]\ndays = {value}")
    assert error.message.startswith("policy: clocks.legal_aid.review.days is ")
    assert error.allowed == ["1..365"]


def test_warning_days_and_lengths_are_checked_the_same_way() -> None:
    error = refusal("[clocks.legal_aid.review]\nwarning_days = 0")
    assert error.message == "policy: clocks.legal_aid.review.warning_days is 0"
    assert error.allowed == ["1..365"]
    error = refusal("[clocks.reconsideration.copy_to_respondent.lengths.procedure]\n"
                    "simplified = 400")
    assert error.message == (
        "policy: clocks.reconsideration.copy_to_respondent.lengths.procedure.simplified is 400"
    )
    assert error.allowed == ["1..365"]


@pytest.mark.parametrize("key", ["unit", "warning_unit"])
def test_bad_unit(key: str) -> None:
    error = refusal(f'[clocks.legal_aid.review]\n{key} = "weeks"')
    assert error.message == f"policy: clocks.legal_aid.review.{key} is 'weeks'"
    assert error.allowed == ["working", "calendar"]


def test_invalid_toml_names_the_file() -> None:
    with pytest.raises(InvalidPolicy) as info:
        parse_policy("[clocks.legal_aid.review\ndays = 3", origin="/etc/caseflow/policy.toml")
    assert info.value.message.startswith("/etc/caseflow/policy.toml: not valid TOML")
    assert info.value.code == "invalid_policy"


def test_the_origin_prefixes_every_message() -> None:
    error = refusal("[clocks.legal_aid.review]\ndays = 0", origin="bureau.toml")
    assert error.message == "bureau.toml: clocks.legal_aid.review.days is 0"


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('clocks = "all"', "policy: clocks is 'all'"),
        ("[clocks]\nlegal_aid = 3", "policy: clocks.legal_aid is 3"),
        ('[clocks.legal_aid]\nreview = "x"', "policy: clocks.legal_aid.review is 'x'"),
        ("[clocks.legal_aid.review]\nlengths = 5", "policy: clocks.legal_aid.review.lengths is 5"),
        ("[clocks.legal_aid.review.lengths]\nchannel = 5",
         "policy: clocks.legal_aid.review.lengths.channel is 5"),
        ("[[clocks.legal_aid]]\nreview = 1", "policy: clocks.legal_aid is [{'review': 1}]"),
    ],
)
def test_a_value_where_a_table_belongs(text: str, where: str) -> None:
    error = refusal(text)
    assert error.message == f"{where}, not a table"
    assert error.allowed == ["a table"]


# -- the example file and the engine ---------------------------------------------------------


def test_the_example_policy_file_applies_cleanly() -> None:
    text = (ROOT / "policy.example.toml").read_text(encoding="utf-8")
    assert apply(text, "policy.example.toml") == dict(CASE_TYPES)  # every setting commented out
    # Its commented settings, switched on, are valid too and change something.
    live = re.sub(r"(?m)^# (?=\[|[a-z_]+ = )", "", text)
    assert live != text
    types = apply(live, "policy.example.toml")
    assert types != dict(CASE_TYPES)


def test_an_overridden_policy_changes_the_due_date_of_a_new_case() -> None:
    calendar = default_calendar()
    opened = date(2024, 9, 27)
    # Default: 7 calendar days: 09-27 + 7 = 10-04 (holiday) -> 10-08.
    default = open_case(case_type("legal_aid"), opened, calendar=calendar).case
    assert [(c.clock, c.due_on) for c in default.cycles] == [("review", date(2024, 10, 8))]
    # Policy: 7 working days: Sun 09-29 (1, worked), 09-30 (2), 10-08 .. 10-11 (3..6),
    # Sat 10-12 (7, worked).
    types = apply('[clocks.legal_aid.review]\nunit = "working"')
    overridden = open_case(case_type("legal_aid", types), opened, calendar=calendar).case
    assert [(c.clock, c.due_on) for c in overridden.cycles] == [("review", date(2024, 10, 12))]
    assert overridden.cycles[0].unit is Unit.WORKING
    # Policy: 3 calendar days: 09-27 + 3 = Mon 09-30.
    shorter = apply("[clocks.legal_aid.review]\ndays = 3")
    case = open_case(case_type("legal_aid", shorter), opened, calendar=calendar).case
    assert case.cycles[0].due_on == date(2024, 9, 30)
