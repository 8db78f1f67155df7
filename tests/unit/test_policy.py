"""The bureau's policy file: parse_policy / apply_policy (`states.policy`)."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from states.calendar import Unit, default_calendar
from states.casetype import CaseType
from states.casetypes import CASE_TYPES, case_type
from states.clocks import ClockSpec
from states.errors import InvalidPolicy
from states.machine import open_case
from states.policy import apply_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["days", "unit", "warning_days", "warning_unit", "lengths"]
LEGAL_AID_CLOCKS = [
    "assignment", "closing_report", "engagement", "materials", "objection_review", "review",
]

OVERRIDES = """
[clocks.legal_aid.materials]
days = 10
unit = "working"
warning_days = 2
warning_unit = "working"

[clocks.complaint.handling.lengths.subject_kind]
firm = 90
lawyer = 45

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
    materials = types["legal_aid"].clock_map["materials"]
    assert (materials.days, materials.unit) == (10, Unit.WORKING)
    assert materials.warning_window() == (2, Unit.WORKING)
    assert materials.basis == "法律援助法 第四十三条第二款（期限为本局规定）"  # the rest is kept
    assert materials.lapse == "deem_withdrawn"

    handling = types["complaint"].clock_map["handling"]
    assert handling.days == 60
    assert handling.length({"subject_kind": "firm"}) == 90
    assert handling.length({"subject_kind": "lawyer"}) == 45

    decision = types["reconsideration"].clock_map["decision"]
    # warning_days alone keeps the clock's own unit (calendar); lengths were not touched.
    assert decision.warning_window() == (10, Unit.CALENDAR)
    assert decision.length({"procedure": "simplified"}) == 30


def test_overrides_keep_the_rest_of_each_declaration() -> None:
    types = apply(OVERRIDES)
    legal_aid = types["legal_aid"]
    assert [c.name for c in legal_aid.clocks] == [c.name for c in CASE_TYPES["legal_aid"].clocks]
    assert legal_aid.clock_map["review"] is CASE_TYPES["legal_aid"].clock_map["review"]
    assert legal_aid.transitions is CASE_TYPES["legal_aid"].transitions
    assert sorted(types) == ["complaint", "legal_aid", "reconsideration"]
    assert apply("[clocks.complaint.supplement]\ndays = 15")["legal_aid"] is CASE_TYPES[
        "legal_aid"]  # no overrides: the very same type


def test_overrides_leave_the_defaults_untouched() -> None:
    apply(OVERRIDES)
    materials = CASE_TYPES["legal_aid"].clock_map["materials"]
    assert (materials.days, materials.unit, materials.warning_days, materials.warning_unit) == (
        15, Unit.CALENDAR, None, None)
    assert CASE_TYPES["complaint"].clock_map["handling"].lengths == {}
    assert CASE_TYPES["reconsideration"].clock_map["decision"].warning_days is None


# -- periods fixed by statute (issue 11 §4) ------------------------------------------------------

FIXED = [(t.name, c) for t in CASE_TYPES.values() for c in t.clocks if c.fixed_by_law]


def test_the_periods_fixed_by_law_are_the_statutes_and_the_rest_are_policy() -> None:
    assert {(name, c.name) for name, c in FIXED} == {
        ("reconsideration", "acceptance_review"), ("reconsideration", "supplement"),
        ("reconsideration", "copy_to_respondent"), ("reconsideration", "respondent_reply"),
        ("reconsideration", "decision"), ("reconsideration", "suspension_limit"),
        ("legal_aid", "review"), ("legal_aid", "assignment"), ("legal_aid", "engagement"),
        ("legal_aid", "objection_review"),
    }
    # 法律援助法 2021 writes "日": calendar days, not the older rules' working days
    for name in ("review", "assignment", "engagement", "objection_review"):
        assert CASE_TYPES["legal_aid"].clock_map[name].unit is Unit.CALENDAR


@pytest.mark.parametrize(("type_name", "clock"), FIXED, ids=[f"{t}.{c.name}" for t, c in FIXED])
def test_a_policy_changing_a_statutory_period_is_refused_naming_its_article(
    type_name: str, clock: ClockSpec
) -> None:
    other_unit = "working" if clock.unit is Unit.CALENDAR else "calendar"
    for setting in (f"days = {clock.days + 5}", f"days = {max(1, clock.days - 2)}",
                    f'unit = "{other_unit}"'):
        error = refusal(f"[clocks.{type_name}.{clock.name}]\n{setting}")
        assert clock.name in error.message and clock.basis in error.message
        assert "fixed by law" in error.message
        assert error.allowed == ["warning_days", "warning_unit"]
    # its warning window is the bureau's; restating the law's own length changes nothing
    types = apply(f"[clocks.{type_name}.{clock.name}]\nwarning_days = 3\n"
                  f'days = {clock.days}\nunit = "{clock.unit.value}"')
    assert types[type_name].clock_map[clock.name].warning_days == 3


def test_a_policy_changing_a_statutory_length_by_procedure_is_refused() -> None:
    error = refusal("[clocks.reconsideration.copy_to_respondent.lengths.procedure]\n"
                    "simplified = 4")
    assert "行政复议法 第四十八条、第五十四条" in error.message
    # the issue's own examples: 15 calendar days of acceptance review, 3 working days to supplement
    assert "第三十条" in refusal(
        '[clocks.reconsideration.acceptance_review]\ndays = 15\nunit = "calendar"').message
    assert "第三十一条" in refusal("[clocks.reconsideration.supplement]\ndays = 3").message


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
    # Default complaint acceptance, 10 working days: Sun 09-29 (1, worked), 09-30 (2),
    # 10-08 .. 10-11 (3..6), Sat 10-12 (7, worked), 10-14 .. 10-16 (8..10).
    default = open_case(case_type("complaint"), opened, calendar=calendar).case
    assert [(c.clock, c.due_on) for c in default.cycles] == [("acceptance", date(2024, 10, 16))]
    # Policy: 10 calendar days: 09-27 + 10 = 10-07 (holiday) -> 10-08.
    types = apply('[clocks.complaint.acceptance]\nunit = "calendar"')
    overridden = open_case(case_type("complaint", types), opened, calendar=calendar).case
    assert [(c.clock, c.due_on) for c in overridden.cycles] == [("acceptance", date(2024, 10, 8))]
    assert overridden.cycles[0].unit is Unit.CALENDAR
    # Policy: 2 working days: Sun 09-29 (worked), Mon 09-30.
    shorter = apply("[clocks.complaint.acceptance]\ndays = 2")
    case = open_case(case_type("complaint", shorter), opened, calendar=calendar).case
    assert case.cycles[0].due_on == date(2024, 9, 30)
