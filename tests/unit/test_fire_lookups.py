"""The lookups `fire` precomputes per case type agree with the declarations they index.

`CaseType.transition_from` and `CaseType.clock_stops` answer from indexes built once per case
type, and `parse_attrs` checks input keys without building sets; each is compared here with the
plain reading of the declarations it replaces, so an index that drifts from them fails.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from states.calendar import WorkCalendar
from states.casetype import CaseType, TransitionSpec, attr_int
from states.casetypes import CASE_TYPES
from states.clocks import When, any_matches, on
from states.errors import InvalidAttribute
from states.machine import parse_attrs

CAL = WorkCalendar()
NAMES = sorted(CASE_TYPES)


def scanned(case_type: CaseType, trigger: str, state: str) -> TransitionSpec | None:
    """The first declared transition of ``trigger`` from ``state``, by reading them in order."""
    for spec in case_type.transitions:
        if spec.trigger == trigger and state in spec.source:
            return spec
    return None


@pytest.mark.parametrize("name", NAMES)
def test_transition_from_is_the_first_declared_transition(name: str) -> None:
    case_type = CASE_TYPES[name]
    states = [s.name for s in case_type.states] + ["no_such_state"]
    for trigger in [*case_type.triggers, "no_such_trigger"]:
        for state in states:
            assert case_type.transition_from(trigger, state) is scanned(case_type, trigger, state)


def test_transition_from_keeps_the_first_of_two_transitions_from_a_state() -> None:
    base = CASE_TYPES["reconsideration"]
    first, *_ = base.transitions
    again = dataclasses.replace(first, label="again", source=(*first.source, "under_review"))
    case_type = dataclasses.replace(base, transitions=(first, again, *base.transitions[1:]))
    assert case_type.transition_from(first.trigger, first.source[0]) is first
    assert case_type.transition_from(first.trigger, "under_review") is again


@pytest.mark.parametrize("name", NAMES)
def test_clock_stops_are_the_stop_conditions_naming_each_trigger(name: str) -> None:
    case_type = CASE_TYPES[name]
    expected: dict[str, dict[str, tuple[When, ...]]] = {}
    for clock in case_type.clocks:
        for trigger in {w.trigger for w in clock.stops}:
            whens = tuple(w for w in clock.stops if w.trigger == trigger)
            expected.setdefault(trigger, {})[clock.name] = whens
    assert {t: dict(by_clock) for t, by_clock in case_type.clock_stops.items()} == expected


def test_any_matches_is_any_of_the_conditions() -> None:
    whens = (on("accept", source=("received",)), on("suspend", ground=(1, 2)))
    events: list[tuple[str, str | None, dict[str, object]]] = [
        ("accept", "received", {}),
        ("accept", "suspended", {}),
        ("suspend", "under_review", {"ground": 2}),
        ("suspend", "under_review", {"ground": 3}),
        ("resume", None, {}),
    ]
    for trigger, source, attrs in events:
        expected = any(w.matches(trigger, source, attrs) for w in whens)
        assert any_matches(whens, trigger, source, attrs) is expected
    assert any_matches((), "accept", "received", {}) is False


def test_an_unknown_attribute_is_named_with_those_declared() -> None:
    rules = (attr_int("days", 1, 30), attr_int("ground", 1, 5))
    with pytest.raises(InvalidAttribute) as err:
        parse_attrs(rules, {"days": 3, "zeta": 1, "alpha": 2}, date(2025, 3, 3), CAL, "extend")
    assert err.value.message == "extend takes no attribute 'alpha'; it takes days, ground"
    assert err.value.allowed == ["days=1..30", "ground=1..5"]


def test_an_attribute_on_a_trigger_that_takes_none() -> None:
    with pytest.raises(InvalidAttribute) as err:
        parse_attrs((), {"days": 3}, date(2025, 3, 3), CAL, "send_copy")
    assert err.value.message == "send_copy takes no attribute 'days'; it takes none"
    assert err.value.allowed == []


def test_an_unknown_attribute_is_refused_before_a_bad_value() -> None:
    rules = (attr_int("days", 1, 30),)
    with pytest.raises(InvalidAttribute, match="takes no attribute 'zeta'"):
        parse_attrs(rules, {"days": 99, "zeta": 1}, date(2025, 3, 3), CAL, "extend")
