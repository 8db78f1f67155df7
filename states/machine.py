"""The one place that builds `transitions` machines and fires triggers on cases.

One machine per case type, built once with ``model=None`` and ``auto_transitions=False`` and
shared by every case and thread. It holds the declaration as `transitions` understands it:
states, transitions, and each transition's conditions —

- the actor: a person never fires the system's lapse triggers (视为受理 and the like);
- ``when``: the event's attributes that choose one of several transitions of a trigger from one
  state (``reinstate`` to ``received`` or to ``awaiting_supplement`` by ``reinstated_for``);
- ``requires``: the case's attributes (only a simplified case is converted, art. 55);
- ``needs``: the case's clocks (termination on ground 5 once 中止满六十日 has arisen).

`fire` asks the machine: a trigger with no transition from the case's state raises
`MachineError`, which becomes `TriggerNotAllowed`; each candidate transition first reads the
event's input (``prepare``: its date, attributes and reason, refused at once when wrong), then
judges its conditions; the transition taken records its declaration on the `Firing` the machine
moved. What the event does to clocks is a pure function of that declaration
(`states.clock_effects.apply_clock_effects`), applied right after.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, cast

from transitions import Machine, MachineError, Transition
from transitions.core import EventData

from states.calendar import WorkCalendar
from states.case import CaseSnapshot, DomainEvent, Fired
from states.casetype import Actor, Attr, AttrValue, CaseType, Need, TransitionSpec
from states.clock_effects import apply_clock_effects
from states.clocks import Cycle
from states.errors import (
    ActorNotAllowed,
    CaseflowError,
    InvalidAttribute,
    InvalidLegalDate,
    RuleViolation,
    TriggerNotAllowed,
    UnknownTrigger,
)

OPEN = "open"


class DeclaredTransition(Transition):
    """A machine transition that carries the declaration (`TransitionSpec`) it was built from."""

    def __init__(self, *args: Any, spec: TransitionSpec, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spec = spec


class DeclaredMachine(Machine):
    """A `Machine` whose transitions carry their declarations."""

    transition_cls = DeclaredTransition


class Firing:
    """What the shared machine moves: one case's state for one event, with what its callbacks
    read (the case, the event's input) and record (the event's attributes and actor, the
    transition taken, or why none was)."""

    def __init__(
        self,
        case_type: CaseType,
        case: CaseSnapshot,
        on: date,
        raw_attrs: Mapping[str, object],
        reason: str | None,
        by_system: bool,
        calendar: WorkCalendar,
        today: date | None,
    ) -> None:
        self.state = case.state
        self.case_type = case_type
        self.case = case
        self.on = on
        self.raw_attrs = raw_attrs
        self.reason = (reason or "").strip() or None
        self.by_system = by_system
        self.calendar = calendar
        self.today = today
        self.event_attrs: dict[str, AttrValue] = {}
        self.actor = Actor.SYSTEM if by_system else Actor.CLERK
        self.taken: TransitionSpec | None = None
        self.refusal: CaseflowError | None = None


def _parts(event: EventData) -> tuple[Firing, TransitionSpec]:
    return cast(Firing, event.model), cast(DeclaredTransition, event.transition).spec


# -- the machine's callbacks (``send_event=True``: each gets the library's `EventData`) ----------


def _prepare(event: EventData) -> None:
    """Read the event's input as the declaration says; wrong input is refused at once."""
    firing, spec = _parts(event)
    case, trigger = firing.case, spec.trigger
    if firing.on < case.last_on:
        raise InvalidLegalDate(
            f"{firing.on.isoformat()} is before the case's previous event on "
            f"{case.last_on.isoformat()}; an event cannot take effect before it",
            [f"on>={case.last_on.isoformat()}"],
        )
    firing.event_attrs = parse_attrs(
        spec.attrs, firing.raw_attrs, firing.on, firing.calendar, trigger, firing.today
    )
    if spec.reason_required and firing.reason is None:
        raise InvalidAttribute(f"{trigger!r} needs a reason (--reason TEXT)", ["reason=TEXT"])
    firing.actor = Actor.SYSTEM if firing.by_system else spec.actor
    if spec.again_by is not None and _fired_before(firing.case_type, case, trigger):
        if firing.reason is None:
            raise InvalidAttribute(
                f"{trigger!r} was made on this case before ({spec.basis}); doing it again is "
                f"the {spec.again_by.value}'s decision and needs a reason (--reason TEXT)",
                ["reason=TEXT"],
            )
        firing.actor = spec.again_by


def _by_its_actor(event: EventData) -> bool:
    """A system trigger is the law's effect of a lapse: never fired by a person."""
    firing, spec = _parts(event)
    if spec.actor is Actor.SYSTEM and not firing.by_system:
        firing.refusal = ActorNotAllowed(
            f"{spec.trigger!r} is applied by the system when its time limit lapses, "
            "never by a person",
            allowed_triggers(firing.case_type, firing.state),
        )
        return False
    return True


def _chosen(event: EventData) -> bool:
    """The event's attributes choose this transition (``when``)."""
    firing, spec = _parts(event)
    return _match(spec.when, firing.event_attrs)


def _required(event: EventData) -> bool:
    """The case's attributes before the event are as required (``requires``)."""
    firing, spec = _parts(event)
    for attr, values in spec.requires.items():
        if str(firing.case.attrs.get(attr)) not in values:
            firing.refusal = RuleViolation(
                f"{spec.trigger!r} requires {attr}={'|'.join(sorted(values))}; "
                f"the case has {attr}={firing.case.attrs.get(attr)}"
            )
            return False
    return True


def _clocks_ready(event: EventData) -> bool:
    """The case's clocks are as the transition needs on the event's date (``needs``)."""
    firing, spec = _parts(event)
    for need in spec.needs:
        if need.applies(firing.event_attrs) and not need.holds(firing.case.cycles, firing.on):
            firing.refusal = RuleViolation(f"{spec.trigger!r} is refused: {need.because}")
            return False
    return True


def _taken(event: EventData) -> None:
    firing, spec = _parts(event)
    firing.taken = spec


def build_machine(case_type: CaseType) -> Machine:
    """A fresh machine for a case type (use `machine_for` to share one)."""
    transitions = []
    for spec in case_type.transitions:
        conditions: list[Any] = [_by_its_actor]
        if spec.when:
            conditions.append(_chosen)
        if spec.requires:
            conditions.append(_required)
        if spec.needs:
            conditions.append(_clocks_ready)
        transitions.append({
            "trigger": spec.trigger,
            "source": list(spec.source),
            "dest": spec.dest,
            "prepare": _prepare,
            "conditions": conditions,
            "spec": spec,
        })
    return DeclaredMachine(
        model=None,
        states=[s.name for s in case_type.states],
        transitions=transitions,
        initial=case_type.initial,
        auto_transitions=False,
        send_event=True,
        after_state_change=_taken,
    )


_machines: dict[str, tuple[CaseType, Machine]] = {}
_machines_lock = threading.Lock()


def machine_for(case_type: CaseType) -> Machine:
    """The shared machine of a case type, built on first use (a new declaration object, as a
    policy override makes, gets its own)."""
    with _machines_lock:
        cached = _machines.get(case_type.name)
        if cached is None or cached[0] is not case_type:
            cached = (case_type, build_machine(case_type))
            _machines[case_type.name] = cached
        return cached[1]


def declared_transitions(case_type: CaseType, trigger: str, state: str) -> list[TransitionSpec]:
    """The declarations of the machine's transitions of ``trigger`` from ``state``, in the order
    the machine tries them (empty when it has none)."""
    event = machine_for(case_type).events.get(trigger)
    if event is None:
        return []
    return [cast(DeclaredTransition, t).spec for t in event.transitions.get(state, [])]


def declaration(
    case_type: CaseType, trigger: str, source: str, dest: str
) -> TransitionSpec | None:
    """The declaration of the machine's transition an event of ``trigger`` from ``source`` to
    ``dest`` took (an internal trigger keeps the state: ``dest == source``)."""
    return next(
        (spec for spec in declared_transitions(case_type, trigger, source)
         if (spec.dest or source) == dest),
        None,
    )


# -- which triggers may fire -------------------------------------------------------------------


def allowed_triggers(
    case_type: CaseType,
    state: str,
    *,
    by_system: bool = False,
    attrs: Mapping[str, object] | None = None,
    cycles: Sequence[Cycle] | None = None,
    on: date | None = None,
) -> list[str]:
    """The triggers the machine has from ``state``, less those whose conditions already refuse
    them without the event's own input: a person never fires system triggers.

    With the case's ``attrs``, triggers whose attribute requirements fail are left out too
    (no conversion of an ordinary case, no extension where the clock cannot be extended).
    With its ``cycles``, so is a trigger that needs a clock stopped that is not (closing a legal
    aid case before the closing materials came); with the date ``on`` as well, an extension its
    clock rule refuses on that date: the clock not running, extended as often or as far as
    allowed, or already lapsed.
    """
    machine = machine_for(case_type)
    return sorted(
        name
        for name in machine.get_triggers(state)
        if any(
            _may_fire(case_type, spec, by_system, attrs, cycles, on)
            for spec in declared_transitions(case_type, name, state)
        )
    )


def _may_fire(
    case_type: CaseType,
    spec: TransitionSpec,
    by_system: bool,
    attrs: Mapping[str, object] | None,
    cycles: Sequence[Cycle] | None,
    on: date | None,
) -> bool:
    if spec.actor is Actor.SYSTEM and not by_system:
        return False
    if attrs is not None:
        rule = case_type.clock_map[spec.extends].extension if spec.extends else None
        if not _match(spec.requires, attrs) or (rule is not None and not _match(rule.when, attrs)):
            return False
    if cycles is not None:
        # a need that holds whatever the event's attributes, judged where it can be: whether a
        # clock stopped needs no date, whether a ground has arisen does
        judged = [n for n in spec.needs
                  if not n.when and (on is not None or n.need is Need.STOPPED)]
        if not all(need.holds(cycles, on or date.min) for need in judged):
            return False
        if spec.extends is not None and on is not None:
            return _extendable(case_type, spec.extends, cycles, on)
    return True


def _extendable(case_type: CaseType, clock: str, cycles: Sequence[Cycle], on: date) -> bool:
    """Whether `states.clocks.extend` would extend ``clock``'s latest cycle on ``on`` (by a
    day: the length asked for is known only when the trigger is fired)."""
    rule = case_type.clock_map[clock].extension
    latest = next((c for c in reversed(cycles) if c.clock == clock), None)
    return (rule is not None and latest is not None and latest.live
            and latest.extensions < rule.times and latest.extended_days < rule.max_days
            and not latest.past_due(on))


def _match(conditions: Mapping[str, frozenset[str]], attrs: Mapping[str, object]) -> bool:
    return all(str(attrs.get(key)) in values for key, values in conditions.items())


# -- input --------------------------------------------------------------------------------------


def parse_attrs(
    rules: tuple[Attr, ...],
    raw: Mapping[str, object],
    on: date,
    calendar: WorkCalendar,
    what: str,
    today: date | None = None,
) -> dict[str, AttrValue]:
    """Validate raw ``KEY=VALUE`` input against the declared attributes, filling defaults."""
    by_name = {rule.name: rule for rule in rules}
    unknown = sorted(set(raw) - by_name.keys())
    if unknown:
        allowed = [a for rule in rules for a in rule.allowed()]
        raise InvalidAttribute(
            f"{what} takes no attribute {unknown[0]!r}; "
            + (f"it takes {', '.join(by_name)}" if by_name else "it takes none"),
            allowed,
        )
    values: dict[str, AttrValue] = {}
    for rule in rules:
        if rule.name in raw:
            values[rule.name] = rule.parse(raw[rule.name], on, calendar, today)
        elif rule.required:
            raise InvalidAttribute(f"{what} needs {rule.name}", rule.allowed())
        elif rule.default is not None:
            values[rule.name] = rule.default
    return values


# -- events -------------------------------------------------------------------------------------


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
    `InvalidLegalDate`, `RuleViolation` (a condition refused it), `ClockRuleViolation`. The
    input case is never changed. ``today``, the real legal date, bounds the dates of things that
    happened (``served_on``, ``posted_on``). Lapses that happened in law before ``on`` are not
    applied here: see `states.lapses.act`.
    """
    if case.type != case_type.name:
        raise ValueError(f"a {case.type} case fired through the {case_type.name} declaration")
    machine = machine_for(case_type)
    if trigger not in machine.events:
        raise UnknownTrigger(case_type.name, trigger, machine.events)
    firing = Firing(case_type, case, on, attrs or {}, reason, by_system, calendar, today)
    try:
        machine.events[trigger].trigger(firing)
    except MachineError:  # no transition of the trigger from this state
        raise TriggerNotAllowed(
            trigger, case.state, allowed_triggers(case_type, case.state, by_system=by_system)
        ) from None
    spec = firing.taken
    if spec is None:
        raise firing.refusal or RuleViolation(f"{trigger!r} is refused in this case")
    return _after(case_type, case, spec, firing, by)


def _after(
    case_type: CaseType, case: CaseSnapshot, spec: TransitionSpec, firing: Firing, by: str
) -> Fired:
    """The case after the transition ``spec`` the machine took, and the event recording it."""
    trigger, on, event_attrs, dest = spec.trigger, firing.on, firing.event_attrs, firing.state
    attrs_after = dict(case.attrs)
    for rule in spec.attrs:
        if rule.keep and rule.name in event_attrs:
            attrs_after[rule.name] = event_attrs[rule.name]
    attrs_after.update(spec.sets)
    cycles, changes = apply_clock_effects(
        case_type, case.cycles, spec, trigger, case.state, dest, on,
        case.attrs, attrs_after, event_attrs, calendar=firing.calendar,
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
    after = case._replace(
        state=dest, attrs=attrs_after, cycles=cycles, last_on=on, admitted_on=admitted_on,
        closed_on=closed_on, version=case.version + 1,
    )
    event = DomainEvent(
        trigger, case.state, dest, on, firing.actor, by, firing.reason, event_attrs, changes
    )
    return Fired(after, event)


def _fired_before(case_type: CaseType, case: CaseSnapshot, trigger: str) -> bool:
    """Whether ``trigger`` was fired on the case before: a clock it starts has a cycle."""
    started = {c.name for c in case_type.clocks if any(w.trigger == trigger for w in c.starts)}
    return any(cycle.clock in started for cycle in case.cycles)


def mermaid(case_type: CaseType) -> str:
    """The state diagram as Mermaid text, Chinese labels beside the names.

    Written from the declaration rather than by transitions' own
    ``GraphMachine(..., graph_engine="mermaid")``, which (transitions 0.9.3) draws less: one
    initial state (``[*] -->`` the machine's ``initial``), while legal aid has two by channel;
    no terminal markers (only its nested-state graph draws ``final`` states, and its nesting
    splits names at ``_``); triggers that share an edge merged into one ``a | b`` label. It
    also draws per model (a machine with ``model=None`` has no graph to ask for), styles that
    model's state as "active", and adds a title block and style classes.
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
        for source in spec.source:
            lines.append(f"    {source} --> {spec.dest or source}: {spec.trigger}")
    for state in case_type.states:
        if state.terminal:
            lines.append(f"    {state.name} --> [*]")
    return "\n".join(lines) + "\n"
