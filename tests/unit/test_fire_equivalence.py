"""The fast paths of `fire` agree with the plain code they replaced.

- `apply_clock_effects` skips, by a `ClockPlan` worked out once per kind of event, the clocks
  an event cannot act on, and takes bare stop/start conditions as matched: it is compared with
  tests/unit/reference_effects.py (the code before, kept as an oracle) on every declared event
  against live cycles of every clock, and on random walks through `fire`;
- the clock functions build cycles from lists of fields by position: compared with the
  `Cycle._replace` versions on random cycles;
- `fire` builds its named tuples with `tuple.__new__`: each field is checked by name;
- the shared machines use `_State`/`_Machine` (a plain `name`, a direct `get_state`): compared
  with a stock `transitions.Machine` on every trigger from every state.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from datetime import date, timedelta
from enum import Enum
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from transitions import Machine, MachineError
from unit import reference_effects as ref

import states.machine as machine_module
from states import clocks
from states.calendar import Unit, WorkCalendar
from states.case import CaseSnapshot, ClockChange, DomainEvent, Fired
from states.casetype import (
    Actor,
    Attr,
    AttrKind,
    AttrValue,
    CaseType,
    StateSpec,
    TransitionSpec,
    attr_choice,
)
from states.casetypes import CASE_TYPES
from states.clock_effects import apply_clock_effects
from states.clocks import ClockSpec, Cycle, Extension, Owner, on
from states.errors import CaseflowError, ClockRuleViolation
from states.machine import _requirement, _Token, build_machine, fire, machine_for, open_case

CAL = WorkCalendar()
NAMES = sorted(CASE_TYPES)
FAST = settings(max_examples=60, deadline=None, database=None)

Outcome = tuple[tuple[Cycle, ...], tuple[ClockChange, ...]] | ClockRuleViolation


def outcome(effects: Callable[..., Any], *args: Any) -> Outcome:
    try:
        result: Outcome = effects(*args)
    except ClockRuleViolation as err:
        return err
    return result


def assert_same(got: Outcome, expected: Outcome) -> None:
    if isinstance(expected, ClockRuleViolation):
        assert isinstance(got, ClockRuleViolation), got
        assert (got.message, got.allowed) == (expected.message, expected.allowed)
        return
    assert not isinstance(got, ClockRuleViolation), got.message
    assert got == expected
    cycles, changes = got
    assert all(type(c) is Cycle for c in cycles)
    assert all(type(c) is ClockChange for c in changes)


def sample_value(rule: Attr, on_: date, rng: random.Random) -> AttrValue:
    """A value ``rule`` accepts (a date far enough after ``on_`` for a notice period)."""
    match rule.kind:
        case AttrKind.CHOICE:
            return rng.choice(rule.choices)
        case AttrKind.INT:
            return rng.randint(rule.low or 0, rule.high or 60)
        case AttrKind.DATE:
            least = rule.min_working_days_after or 0
            return CAL.add_working_days(on_, least + rng.randint(0, 5)).isoformat()
        case _:
            return "x"


# -- every declared event against live cycles of every clock ------------------------------------


def live_cycles(case_type: CaseType, day: date, rng: random.Random) -> tuple[Cycle, ...]:
    """A cycle of every clock, live: running or paused, started some days before ``day``."""
    cycles = []
    for clock in case_type.clocks:
        started = day - timedelta(days=rng.randint(0, 80))
        cycle = clocks.start(clock, rng.randint(1, 2), started, {}, CAL)
        if rng.random() < 0.3:
            cycle = clocks.pause(cycle, min(day, started + timedelta(days=3)), CAL)
        cycles.append(cycle)
    rng.shuffle(cycles)  # changes are listed in the order the clocks first appear
    return tuple(cycles)


def check_every_event(case_type: CaseType, rng: random.Random, rounds: int = 12) -> int:
    """Compare the fast and the plain effects of every declared event on live cycles."""
    checked = 0
    for spec in case_type.transitions:
        for source in spec.source:
            dest = spec.dest or source
            for _ in range(rounds):
                day = date(2024, 3, 1) + timedelta(days=rng.randint(0, 500))
                cycles = live_cycles(case_type, day, rng)
                if rng.random() < 0.3:  # on a due date: lapse triggers take effect then
                    day = rng.choice(cycles).due_on
                attrs_before: dict[str, AttrValue] = {
                    a.name: sample_value(a, day, rng) for a in case_type.open_attrs
                }
                if rng.random() < 0.5:
                    attrs_before["procedure"] = rng.choice(("ordinary", "simplified"))
                event_attrs = {a.name: sample_value(a, day, rng) for a in spec.attrs}
                attrs_after = {**attrs_before, **event_attrs, **spec.sets}
                args = (case_type, cycles, spec, spec.trigger, source, dest, day,
                        attrs_before, attrs_after, event_attrs, CAL)
                assert_same(outcome(apply_clock_effects, *args),
                            outcome(ref.apply_clock_effects, *args))
                checked += 1
    return checked


@pytest.mark.parametrize("name", NAMES)
def test_every_declared_event_has_the_effects_of_the_plain_reading(name: str) -> None:
    assert check_every_event(CASE_TYPES[name], random.Random(name)) > 100


def test_conditions_on_source_and_attributes_are_matched_as_the_plain_reading() -> None:
    # none of the packaged declarations stops a clock on a condition: this one does, on every
    # kind, so a plan that takes a conditional stop or start as bare would fail here
    def clock(name: str, **kw: Any) -> ClockSpec:
        return ClockSpec(name, name, 10, Unit.CALENDAR, "test", Owner.BUREAU, **kw)

    flag = (attr_choice("flag", ("y", "n")),)
    case_type = CaseType(
        name="probe", label="probe", law="", ref_prefix="PB", initial="a",
        states=(StateSpec("a", "a"), StateSpec("b", "b"), StateSpec("c", "c", terminal=True)),
        transitions=(
            TransitionSpec("t", ("a",), "b", Actor.CLERK, "t", attrs=flag),
            TransitionSpec("t", ("b",), None, Actor.CLERK, "t", attrs=flag),
            TransitionSpec("u", ("a", "b"), "c", Actor.CLERK, "u", attrs=flag),
            TransitionSpec("v", ("b",), "a", Actor.CLERK, "v", attrs=flag),
        ),
        clocks=(
            clock("by_source", starts=(on("open"),), stops=(on("t", source=("a",)),)),
            clock("by_flag", starts=(on("open"),), stops=(on("t", flag="y"),)),
            clock("bare", starts=(on("open"),), stops=(on("v"), on("t", source=("b",)))),
            clock("pausing", starts=(on("open"),), pauses_in=frozenset({"b"})),
            clock("ending", starts=(on("t", source=("b",)), on("u", flag="y")),
                  stops_on_terminal=True),
            clock("lapsing", starts=(on("v"),), lapse="t"),
        ),
    )
    assert check_every_event(case_type, random.Random(7), rounds=40) > 100


@pytest.mark.parametrize("name", NAMES)
def test_opening_has_the_effects_of_the_plain_reading(name: str) -> None:
    case_type = CASE_TYPES[name]
    rng = random.Random(name)
    for _ in range(20):
        day = date(2024, 1, 1) + timedelta(days=rng.randint(0, 700))
        attrs = {a.name: sample_value(a, day, rng) for a in case_type.open_attrs}
        state = case_type.initial_state(attrs)
        args = (case_type, (), None, "open", None, state, day, {}, attrs, attrs, CAL)
        assert_same(outcome(apply_clock_effects, *args), outcome(ref.apply_clock_effects, *args))


# -- random walks through `fire` ------------------------------------------------------------------


def checking(calls: list[int]) -> Callable[..., Any]:
    """`apply_clock_effects` that also runs the plain reading and fails on any difference."""

    def both(*args: Any) -> Any:
        got = outcome(apply_clock_effects, *args)
        assert_same(got, outcome(ref.apply_clock_effects, *args))
        calls.append(1)
        if isinstance(got, ClockRuleViolation):
            raise got
        return got

    return both


def assert_fields(fired: Fired, case: CaseSnapshot, trigger: str, day: date, by: str) -> None:
    """`fire` builds its results by position: every field must be the one its name says."""
    after, event = fired
    assert type(fired) is Fired and type(after) is CaseSnapshot and type(event) is DomainEvent
    assert (after.type, after.opened_on, after.last_on, after.ref) == (
        case.type, case.opened_on, day, case.ref)
    assert after.version == case.version + 1
    assert (event.trigger, event.source, event.dest, event.on, event.by) == (
        trigger, case.state, after.state, day, by)
    assert event.clocks == tuple(event.clocks) and all(
        type(c) is ClockChange for c in event.clocks)
    assert after.closed_on is None or after.closed_on <= day
    assert after.admitted_on is None or after.admitted_on <= day


@FAST
@given(name=st.sampled_from(NAMES), seed=st.integers(0, 2**32 - 1))
def test_random_walks_fire_with_the_effects_of_the_plain_reading(name: str, seed: int) -> None:
    case_type = CASE_TYPES[name]
    rng = random.Random(seed)
    triggers = sorted(case_type.triggers)
    day = date(2024, 1, 1) + timedelta(days=rng.randint(0, 600))
    calls: list[int] = []
    with mock.patch.object(machine_module, "apply_clock_effects", checking(calls)):
        open_attrs = {a.name: sample_value(a, day, rng) for a in case_type.open_attrs}
        case = open_case(case_type, day, attrs=open_attrs, ref="R1", calendar=CAL).case
        for _ in range(25):
            live = [c for c in case.cycles if c.live]
            if live and rng.random() < 0.3:
                day = max(day, rng.choice(live).due_on)  # lapses take effect on the due date
            else:
                day += timedelta(days=rng.randint(0, 30))
            allowed = [t for t in triggers if case_type.transition_from(t, case.state)]
            trigger = rng.choice(allowed) if allowed and rng.random() < 0.9 else rng.choice(
                triggers)
            spec = case_type.transition_from(trigger, case.state)
            attrs = {a.name: sample_value(a, day, rng) for a in spec.attrs} if spec else {}
            by_system = rng.random() < 0.5
            try:
                fired = fire(case_type, case, trigger, day, attrs=attrs, reason="r", by="u",
                             by_system=by_system, calendar=CAL)
            except CaseflowError:
                continue
            assert_fields(fired, case, trigger, day, "u")
            case = fired.case
    assert calls  # the opening at least went through the check


# -- the clock functions ----------------------------------------------------------------------


def test_the_field_positions_are_the_fields_of_a_cycle() -> None:
    positions = {
        "status": clocks._STATUS, "unit": clocks._UNIT, "days": clocks._DAYS,
        "started_on": clocks._STARTED_ON, "resumed_on": clocks._RESUMED_ON,
        "used": clocks._USED, "raw_end": clocks._RAW_END, "due_on": clocks._DUE_ON,
        "paused_since": clocks._PAUSED_SINCE, "paused_days": clocks._PAUSED_DAYS,
        "extended_days": clocks._EXTENDED_DAYS, "extensions": clocks._EXTENSIONS,
        "stopped_on": clocks._STOPPED_ON,
    }
    for field, position in positions.items():
        assert Cycle._fields[position] == field
    assert len(Cycle._fields) == 15  # `start` spells every field


def cycle_spec(days: int, unit: Unit) -> ClockSpec:
    return ClockSpec("p", "性质", days, unit, "test", Owner.BUREAU, starts=(on("open"),),
                     extension=Extension(60, 2), lengths={"procedure": {"simplified": days + 3}})


Step = tuple[str, int, int]  # operation, days after the previous step, a number


def run_op(
    module: Any, op: str, cycle: Cycle, spec: ClockSpec, day: date, number: int,
    attrs: Mapping[str, object],
) -> Cycle | ClockRuleViolation:
    """``op`` of `states.clocks` or of the reference on ``cycle``, or the refusal it raised."""
    function = getattr(module, op)
    try:
        match op:
            case "reproject":
                result = function(cycle, CAL)
            case "pause" | "resume":
                result = function(cycle, day, CAL)
            case "extend":
                result = function(cycle, spec, number, day, attrs, CAL)
            case "relength":
                result = function(cycle, max(number, 1), CAL)
            case "stop" | "close":
                result = function(cycle, day)
            case _:
                result = function(cycle)  # lapse
    except ClockRuleViolation as err:
        return err
    assert isinstance(result, Cycle)
    return result


@settings(max_examples=200, deadline=None, database=None)
@given(
    start=st.dates(date(2004, 1, 1), date(2026, 6, 30)),
    length=st.integers(1, 90),
    unit=st.sampled_from(Unit),
    steps=st.lists(st.tuples(
        st.sampled_from(("pause", "resume", "extend", "relength", "stop", "close", "lapse",
                         "reproject")),
        st.one_of(st.just(0), st.integers(0, 40)), st.integers(-3, 40)), max_size=8),
)
def test_the_clock_functions_agree_with_their_replace_versions(
    start: date, length: int, unit: Unit, steps: list[Step]
) -> None:
    spec = cycle_spec(length, unit)
    attrs = {"procedure": "simplified"}
    cycle = clocks.start(spec, 1, start, attrs, CAL)
    assert cycle == ref.start(spec, 1, start, attrs, CAL) and type(cycle) is Cycle
    day = start
    for op, gap, number in steps:
        day += timedelta(days=gap)
        if day.year > 2026:
            break
        got = run_op(clocks, op, cycle, spec, day, number, attrs)
        expected = run_op(ref, op, cycle, spec, day, number, attrs)
        if isinstance(expected, ClockRuleViolation):
            assert isinstance(got, ClockRuleViolation)
            assert (got.message, got.allowed) == (expected.message, expected.allowed)
            continue
        assert got == expected and type(got) is Cycle
        assert (got is cycle) == (expected is cycle)  # "unchanged" is the same object
        cycle = got


# -- the shared machines ----------------------------------------------------------------------


def stock_machine(case_type: CaseType) -> Machine:
    """The machine as `build_machine` made it before: the library's own classes."""
    transitions = []
    for spec in case_type.transitions:
        entry: dict[str, Any] = {"trigger": spec.trigger, "source": list(spec.source),
                                 "dest": spec.dest}
        if spec.requires:
            entry["conditions"] = [_requirement(spec)]
        transitions.append(entry)
    return Machine(model=None, states=[s.name for s in case_type.states],
                   transitions=transitions, initial=case_type.initial, auto_transitions=False)


def attempt(machine: Machine, trigger: str, state: str, attrs: Mapping[str, AttrValue]) -> object:
    token = _Token(state, attrs)
    try:
        moved = machine.events[trigger].trigger(token, token)
    except MachineError as err:
        return ("refused", str(err))
    return (moved, token.state, token.refusal)


@pytest.mark.parametrize("name", NAMES)
def test_the_shared_machine_fires_as_a_stock_machine(name: str) -> None:
    case_type = CASE_TYPES[name]
    stock, shared = stock_machine(case_type), machine_for(case_type)
    assert type(shared) is not Machine  # the fast classes are in use
    variants: list[dict[str, AttrValue]] = [
        {}, {"procedure": "simplified"}, {"procedure": "ordinary"}]
    for trigger in case_type.triggers:
        for state in [s.name for s in case_type.states]:
            for attrs in variants:
                assert attempt(shared, trigger, state, attrs) == attempt(
                    stock, trigger, state, attrs)
    for state in stock.states:
        assert shared.get_state(state) is shared.states[state]
        assert shared.get_state(state).name == stock.get_state(state).name == state


def test_get_state_falls_back_to_the_library_for_anything_but_a_registered_name() -> None:
    case_type = CASE_TYPES["reconsideration"]
    shared, stock = build_machine(case_type), stock_machine(case_type)
    for machine in (shared, stock):
        with pytest.raises(ValueError, match="not a registered state"):
            machine.get_state("no_such_state")

    class Named(Enum):  # an Enum is looked up by its name, as the library does
        received = "something else"

    assert shared.get_state(Named.received) is shared.states["received"]
    assert stock.get_state(Named.received) is stock.states["received"]
