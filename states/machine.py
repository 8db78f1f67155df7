"""The one place that builds `transitions` machines and fires triggers on cases.

One machine per case type, built once with ``model=None`` and ``auto_transitions=False`` and
shared by every case: a trigger is fired on a throw-away token that carries the case's state
and attributes, so the machine itself holds no per-case data and is safe to share between
threads. Everything a trigger does besides moving the state (attribute rules, clock effects,
the event) is computed from the declarations by pure functions around it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from transitions import Machine, MachineError, State

from states.calendar import WorkCalendar
from states.case import CaseSnapshot, DomainEvent, Fired
from states.casetype import Actor, Attr, AttrValue, CaseType, Need, TransitionSpec
from states.clock_effects import apply_clock_effects
from states.clocks import Cycle
from states.errors import (
    ActorNotAllowed,
    InvalidAttribute,
    InvalidLegalDate,
    RuleViolation,
    TriggerNotAllowed,
    UnknownTrigger,
)

OPEN = "open"
# read on every fire: `Actor.SYSTEM` goes through the Python `__getattr__` hook of `EnumType`
# (Python 3.11), ten times the cost of a global (see `states.clocks`)
_SYSTEM = Actor.SYSTEM


class _Token:
    """What the shared machine moves: a case's state, attributes and clocks for one firing,
    with the event's date and attributes its conditions judge."""

    __slots__ = ("attrs", "cycles", "event_attrs", "on", "refusal", "state")

    def __init__(
        self,
        state: str,
        attrs: Mapping[str, AttrValue],
        cycles: tuple[Cycle, ...] = (),
        on: date | None = None,
        event_attrs: Mapping[str, AttrValue] | None = None,
    ) -> None:
        self.state = state
        self.attrs = attrs
        self.cycles = cycles
        self.on = on
        self.event_attrs = event_attrs or {}
        self.refusal = ""


def _requirement(spec: TransitionSpec) -> Any:
    def holds(token: _Token) -> bool:
        for attr, values in spec.requires.items():
            if str(token.attrs.get(attr)) not in values:
                token.refusal = (
                    f"{spec.trigger!r} requires {attr}={'|'.join(sorted(values))}; "
                    f"the case has {attr}={token.attrs.get(attr)}"
                )
                return False
        return True

    return holds


def _chosen(spec: TransitionSpec) -> Any:
    def chosen(token: _Token) -> bool:
        if token.on is None:  # asked which triggers are allowed, not firing one
            return True
        return all(str(token.event_attrs.get(k)) in v for k, v in spec.when.items())

    return chosen


def _clock_needs(spec: TransitionSpec) -> Any:
    def hold(token: _Token) -> bool:
        if token.on is None:  # asked which triggers are allowed, not firing one
            return True
        for need in spec.needs:
            if need.applies(token.event_attrs) and not need.holds(token.cycles, token.on):
                token.refusal = f"{spec.trigger!r} is refused: {need.because}"
                return False
        return True

    return hold


class _State(State):
    """A `transitions` state whose name is a plain attribute, read without a property call.

    `State.name` is a property that checks for an Enum on every read, and one firing reads it
    about five times; the name never changes, so it is computed once here. With
    `_Machine.get_state`, callgrind on the walk of bench/fire_trigger.py counts 4.5% fewer
    instructions per fire.
    """

    __slots__ = ("name",)  # a slot shadows the property of `State` with a plain attribute

    def __init__(self, name: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(name, *args, **kwargs)
        self.name = super().name  # type: ignore[misc]  # read once, where the property was


class _Machine(Machine):
    """`Machine` with `_State` states and a direct lookup of a state by its name.

    One firing looks its states up five times through `get_state`, which checks for an Enum
    and for membership before indexing; a registered name (a plain `str`) is found by one
    lookup, and anything else (an Enum, a `StrEnum` whose name is not its value, an unknown
    name) goes the library's way, with its error. Callgrind, bench/fire_trigger.py walk: 6%
    fewer instructions spent in the library per fire (about 2.5% of a whole fire).
    """

    state_cls = _State

    def get_state(self, state: Any) -> State:
        found = self.states.get(state) if type(state) is str else None
        return found if found is not None else super().get_state(state)


def build_machine(case_type: CaseType) -> Machine:
    """A fresh machine for a case type (use `machine_for` to share one)."""
    transitions = []
    for spec in case_type.transitions:
        entry: dict[str, Any] = {
            "trigger": spec.trigger,
            "source": list(spec.source),
            "dest": spec.dest,
        }
        conditions = []
        if spec.when:
            conditions.append(_chosen(spec))
        if spec.requires:
            conditions.append(_requirement(spec))
        if spec.needs:
            conditions.append(_clock_needs(spec))
        if conditions:
            entry["conditions"] = conditions
        transitions.append(entry)
    return _Machine(
        model=None,
        states=[s.name for s in case_type.states],
        transitions=transitions,
        initial=case_type.initial,
        auto_transitions=False,
    )


_machines: dict[str, tuple[CaseType, Machine]] = {}
_machines_lock = threading.Lock()


def machine_for(case_type: CaseType) -> Machine:
    """The shared machine of a case type, built on first use."""
    cached = _machines.get(case_type.name)
    if cached is not None and cached[0] is case_type:
        return cached[1]
    with _machines_lock:
        cached = _machines.get(case_type.name)
        if cached is None or cached[0] is not case_type:
            cached = (case_type, build_machine(case_type))
            _machines[case_type.name] = cached
        return cached[1]


def allowed_triggers(
    case_type: CaseType,
    state: str,
    *,
    by_system: bool = False,
    attrs: Mapping[str, object] | None = None,
    cycles: Sequence[Cycle] | None = None,
    on: date | None = None,
) -> list[str]:
    """The triggers that may fire from ``state``; a person never fires system triggers.

    With the case's ``attrs``, triggers whose attribute requirements fail are left out too
    (no conversion of an ordinary case, no extension where the clock cannot be extended).
    With its ``cycles`` and the date ``on``, so is an extension its clock rule refuses on that
    date: the clock not running, extended as often or as far as allowed, or already lapsed.
    """
    names = machine_for(case_type).get_triggers(state)
    allowed = []
    for name in names:
        spec = case_type.transition_from(name, state)
        if spec is None or (spec.actor is Actor.SYSTEM and not by_system):
            continue
        if attrs is not None and not _attrs_allow(case_type, spec, attrs):
            continue
        if cycles is not None and not _clocks_allow(spec, cycles):
            continue
        if (spec.extends is not None and cycles is not None and on is not None
                and not _extendable(case_type, spec.extends, cycles, on)):
            continue
        allowed.append(name)
    return sorted(allowed)


def _extendable(case_type: CaseType, clock: str, cycles: Sequence[Cycle], on: date) -> bool:
    """Whether `states.clocks.extend` would extend ``clock``'s latest cycle on ``on`` (by a
    day: the length asked for is known only when the trigger is fired)."""
    rule = case_type.clock_map[clock].extension
    latest = next((c for c in reversed(cycles) if c.clock == clock), None)
    return (rule is not None and latest is not None and latest.live
            and latest.extensions < rule.times and latest.extended_days < rule.max_days
            and not latest.past_due(on))


def _attrs_allow(case_type: CaseType, spec: TransitionSpec, attrs: Mapping[str, object]) -> bool:
    required = dict(spec.requires)
    if spec.extends is not None:
        rule = case_type.clock_map[spec.extends].extension
        if rule is not None:
            required.update(rule.when)
    return all(str(attrs.get(key)) in values for key, values in required.items())


def _clocks_allow(spec: TransitionSpec, cycles: Sequence[Cycle]) -> bool:
    """Whether the clock conditions that hold whatever the event's attributes are met (a
    condition on an attribute, such as termination on ground 5, leaves the trigger listed)."""
    return all(
        need.when or need.need is not Need.STOPPED or need.holds(cycles, date.min)
        for need in spec.needs
    )


def parse_attrs(
    rules: tuple[Attr, ...],
    raw: Mapping[str, object],
    on: date,
    calendar: WorkCalendar,
    what: str,
    today: date | None = None,
) -> dict[str, AttrValue]:
    """Validate raw ``KEY=VALUE`` input against the declared attributes, filling defaults."""
    if not rules and not raw:
        return {}
    # a trigger declares one or two attributes: scanning them costs less than the sets that
    # name what is wrong, which are built only when something is
    for key in raw:
        for rule in rules:
            if rule.name == key:
                break
        else:
            raise _unknown_attribute(rules, raw, what)
    values: dict[str, AttrValue] = {}
    for rule in rules:
        if rule.name in raw:
            values[rule.name] = rule.parse(raw[rule.name], on, calendar, today)
        elif rule.required:
            raise InvalidAttribute(f"{what} needs {rule.name}", rule.allowed())
        elif rule.default is not None:
            values[rule.name] = rule.default
    return values


def _unknown_attribute(
    rules: tuple[Attr, ...], raw: Mapping[str, object], what: str
) -> InvalidAttribute:
    by_name = {r.name: r for r in rules}
    unknown = sorted(set(raw) - by_name.keys())
    allowed = [a for r in rules for a in r.allowed()]
    return InvalidAttribute(
        f"{what} takes no attribute {unknown[0]!r}; "
        + (f"it takes {', '.join(by_name)}" if by_name else "it takes none"),
        allowed,
    )


def open_case(
    case_type: CaseType,
    on: date,
    *,
    attrs: Mapping[str, object] | None = None,
    by: str = "",
    ref: str = "",
    calendar: WorkCalendar,
) -> Fired:
    """A new case received on ``on`` (收到申请), with the clocks opening starts."""
    values = parse_attrs(case_type.open_attrs, attrs or {}, on, calendar, case_type.name)
    state = case_type.initial_state(values)
    cycles, changes = apply_clock_effects(
        case_type, (), None, OPEN, None, state, on, {}, values, values, calendar
    )
    admitted = on if case_type.admits(OPEN, None, values) else None
    case = CaseSnapshot(
        type=case_type.name,
        state=state,
        attrs=values,
        cycles=cycles,
        opened_on=on,
        last_on=on,
        admitted_on=admitted,
        ref=ref,
    )
    event = DomainEvent(OPEN, None, state, on, Actor.CLERK, by, None, values, changes)
    return Fired(case, event)


def fire(
    case_type: CaseType,
    case: CaseSnapshot,
    trigger: str,
    on: date,
    *,
    attrs: Mapping[str, object] | None = None,
    reason: str | None = None,
    by: str = "",
    by_system: bool = False,
    calendar: WorkCalendar,
    today: date | None = None,
) -> Fired:
    """Fire ``trigger`` on ``case`` with legal effect on ``on``.

    Returns the case after it and the event recording it, or raises: `UnknownTrigger`,
    `TriggerNotAllowed` (naming the allowed ones), `ActorNotAllowed`, `InvalidAttribute`,
    `InvalidLegalDate`, `ClockRuleViolation`. The input case is never changed. ``today``, the
    real legal date, bounds the dates of things that happened (``served_on``, ``posted_on``).
    Lapses that happened in law before ``on`` are not applied here: see `states.lapses.act`.
    """
    if case.type != case_type.name:
        raise ValueError(f"a {case.type} case fired through the {case_type.name} declaration")
    spec = case_type.transition_from(trigger, case.state)
    if spec is None:
        # an unknown trigger has no transition from any state: told apart only when refused
        if trigger not in case_type.triggers:
            raise UnknownTrigger(case_type.name, trigger, case_type.triggers)
        raise TriggerNotAllowed(
            trigger, case.state, allowed_triggers(case_type, case.state, by_system=by_system)
        )
    if spec.actor is _SYSTEM and not by_system:
        raise ActorNotAllowed(
            f"{trigger!r} is applied by the system when its time limit lapses, never by a person",
            allowed_triggers(case_type, case.state),
        )
    if on < case.last_on:
        raise InvalidLegalDate(
            f"{on.isoformat()} is before the case's previous event on "
            f"{case.last_on.isoformat()}; an event cannot take effect before it",
            [f"on>={case.last_on.isoformat()}"],
        )
    event_attrs = parse_attrs(spec.attrs, attrs or {}, on, calendar, trigger, today)
    reason = (reason or "").strip() or None
    if spec.reason_required and reason is None:
        raise InvalidAttribute(f"{trigger!r} needs a reason (--reason TEXT)", ["reason=TEXT"])
    actor = _SYSTEM if by_system else spec.actor
    if spec.again_by is not None and _fired_before(case_type, case, trigger):
        if reason is None:
            raise InvalidAttribute(
                f"{trigger!r} was made on this case before ({spec.basis}); doing it again is "
                f"the {spec.again_by.value}'s decision and needs a reason (--reason TEXT)",
                ["reason=TEXT"],
            )
        actor = spec.again_by

    attrs_after = dict(case.attrs)
    for rule in spec.attrs:  # in declaration order, as `parse_attrs` filled `event_attrs`
        if rule.keep and rule.name in event_attrs:
            attrs_after[rule.name] = event_attrs[rule.name]
    if spec.sets:
        attrs_after.update(spec.sets)

    # requirements are about the case before the event (art. 55: only a simplified case is
    # converted), so the token carries the attributes before `sets` and the event's own values
    token = _Token(case.state, case.attrs, case.cycles, on, event_attrs)
    try:
        moved = machine_for(case_type).events[trigger].trigger(token, token)
    except MachineError:  # the declarations and the machine disagree: a bug, not input
        raise TriggerNotAllowed(
            trigger, case.state, allowed_triggers(case_type, case.state, by_system=by_system)
        ) from None
    if not moved:
        raise RuleViolation(token.refusal or f"{trigger!r} is refused in this case")
    dest = token.state

    cycles, changes = apply_clock_effects(
        case_type, case.cycles, spec, trigger, case.state, dest, on,
        case.attrs, attrs_after, event_attrs, calendar,
    )
    closed = case_type.closed_states
    closed_on = case.closed_on
    if dest in closed and case.state not in closed:
        closed_on = on
    elif dest not in closed:
        closed_on = None
    admitted_on = case.admitted_on
    if admitted_on is None and case_type.admits(trigger, case.state, attrs_after):
        admitted_on = on
    # Built with `tuple.__new__` and every field in order: a named tuple's own `__new__` is a
    # Python function, which costs as much again as the tuple (the three: about 2% of a fire's
    # instructions); tests/unit/test_fire_equivalence.py checks every field by name.
    after = tuple.__new__(CaseSnapshot, (
        case.type, dest, attrs_after, cycles, case.opened_on, on, admitted_on, closed_on,
        case.version + 1, case.ref,
    ))
    event = tuple.__new__(
        DomainEvent, (trigger, case.state, dest, on, actor, by, reason, event_attrs, changes)
    )
    return tuple.__new__(Fired, (after, event))


def _fired_before(case_type: CaseType, case: CaseSnapshot, trigger: str) -> bool:
    """Whether ``trigger`` was fired on the case before: a clock it starts has a cycle."""
    started = {clock.name for clock, _, _ in case_type.clock_starts.get(trigger, ())}
    return any(cycle.clock in started for cycle in case.cycles)


def mermaid(case_type: CaseType) -> str:
    """The state diagram as Mermaid text, Chinese labels beside the names.

    Written from the declaration rather than by ``GraphMachine(graph_engine="mermaid")``: that
    renderer marks a "current" state, cannot label states in Chinese and draws one initial
    state, while legal aid has two (by channel).
    """
    lines = ["stateDiagram-v2"]
    for state in case_type.states:
        lines.append(f'    state "{state.name} {state.label}" as {state.name}')
    initials = {case_type.initial}
    if case_type.initial_by is not None:
        initials |= set(case_type.initial_by[1].values())
    for name in sorted(initials):
        lines.append(f"    [*] --> {name}")
    for spec in case_type.transitions:
        dests = spec.source if spec.dest is None else (spec.dest,) * len(spec.source)
        for source, dest in zip(spec.source, dests, strict=True):
            lines.append(f"    {source} --> {dest}: {spec.trigger}")
    for state in case_type.states:
        if state.terminal:
            lines.append(f"    {state.name} --> [*]")
    return "\n".join(lines) + "\n"
