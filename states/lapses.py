"""A lapse comes before any later act (DESIGN §4).

When a statutory period runs out, the law's effect happens on its own legal date, whether or
not a sweep has recorded it yet: 视为受理 on the last day of the acceptance review (行政复议法
art. 30), 视为放弃 the day after the last day to supplement (art. 31), 视为撤回 the day after the
last day for legal-aid materials (法律援助法 art. 43). A person's act dated later is judged
against the case *after* those effects:

- `lapses_due` fires, in order of their legal dates, the system triggers of every lapse that had
  happened in law by a date — the same events a sweep records;
- `act` applies them before a person's trigger and then fires it. When the trigger is refused
  on the resulting state, `LapsedFirst` carries the lapses (facts, to be recorded all the same)
  and the refusal, naming what happened in law.

An act carrying ``posted_on`` (materials posted in time, 民事诉讼法 art. 85) is judged as of
that date: a lapse the posting forestalled is not applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from states.calendar import WorkCalendar
from states.case import CaseSnapshot, Fired
from states.casetype import Actor, CaseType
from states.clocks import CycleStatus
from states.errors import CaseflowError, InvalidAttribute, RuleViolation
from states.machine import declaration, declared_transitions, fire, parse_attrs

SYSTEM_BY = "system"


class LapsedFirst(RuleViolation):
    """A person's trigger refused after lapses that had happened in law by its date; the lapses
    are facts and are recorded all the same. ``code`` and ``allowed`` are the refusal's."""

    def __init__(self, refusal: CaseflowError, lapses: tuple[Fired, ...], happened: str) -> None:
        super().__init__(f"{happened}; then {refusal.message}", refusal.allowed)
        self.code = refusal.code
        self.refusal = refusal
        self.lapses = lapses


def lapses_due(
    case_type: CaseType, case: CaseSnapshot, as_of: date, calendar: WorkCalendar
) -> tuple[Fired, ...]:
    """The lapse effects that had happened in law by the legal date ``as_of``, fired in the
    order of their effective dates on ``case`` (the system's events a sweep would record).

    A period has lapsed by ``as_of`` when its last day ended before it; each effect takes the
    legal date its clock declares. A lapse that cannot be applied (its trigger is not allowed
    in the case's state, or its date precedes a later event) is left to the sweep to report.
    """
    fired: list[Fired] = []
    skipped: set[tuple[str, int]] = set()
    while True:
        pending = sorted(
            (spec.effective_on(cycle), cycle.clock, cycle.cycle, spec.lapse)
            for cycle in case.cycles
            if cycle.status is CycleStatus.RUNNING
            and as_of > cycle.due_on
            and (cycle.clock, cycle.cycle) not in skipped
            and (spec := case_type.clock_map.get(cycle.clock)) is not None
            and spec.lapses_by_trigger
        )
        if not pending:
            return tuple(fired)
        effective, clock, number, trigger = pending[0]
        try:
            lapse = fire(case_type, case, trigger, effective, by=SYSTEM_BY, by_system=True,
                         calendar=calendar)
        except CaseflowError:
            skipped.add((clock, number))
            continue
        fired.append(lapse)
        case = lapse.case


def describe(case_type: CaseType, lapses: tuple[Fired, ...]) -> str:
    """What happened in law, in a clerk's words: "视为受理 (deem_accepted) on 2024-10-10,
    行政复议法 第三十条第三款"."""
    parts = []
    for lapse in lapses:
        event = lapse.event
        spec = declaration(case_type, event.trigger, event.source or "", event.dest)
        label = spec.label if spec is not None else event.trigger
        basis = f", {spec.basis}" if spec is not None and spec.basis else ""
        parts.append(f"{label} ({event.trigger}) on {event.on.isoformat()}{basis}")
    return "by law the case was " + "; then ".join(parts)


def act(
    case_type: CaseType,
    case: CaseSnapshot,
    trigger: str,
    on: date,
    *,
    attrs: Mapping[str, object] | None = None,
    reason: str | None = None,
    by: str = "",
    calendar: WorkCalendar,
    today: date | None = None,
) -> tuple[Fired, ...]:
    """A person's ``trigger`` dated ``on``, after the lapses that had happened in law by then.

    Returns the lapses' events followed by the person's, each on the case the one before left.
    Raises what `fire` raises when the trigger is refused and nothing lapsed, `LapsedFirst`
    when something did. Input that is wrong whatever the state (an unknown trigger, a system
    trigger, a date before the case's last event, an unusable ``posted_on``) is refused before
    anything lapses, so it changes nothing.
    """
    if trigger not in case_type.triggers or on < case.last_on or any(
        spec.actor is Actor.SYSTEM for spec in declared_transitions(case_type, trigger, case.state)
    ):
        # wrong however the case stands: refused by `fire` before anything lapses
        return (fire(case_type, case, trigger, on, attrs=attrs, reason=reason, by=by,
                     calendar=calendar, today=today),)
    # most acts come before any lapse: then the act is fired as it is, its input checked once
    # (by `fire`); a posting date can only make fewer lapses due, never more
    lapses = lapses_due(case_type, case, on, calendar)
    if lapses:
        as_of = _checked(case_type, trigger, on, attrs, reason, calendar, today)
        if as_of < on:
            lapses = lapses_due(case_type, case, as_of, calendar)
    current = lapses[-1].case if lapses else case
    try:
        fired = fire(case_type, current, trigger, on, attrs=attrs, reason=reason, by=by,
                     calendar=calendar, today=today)
    except RuleViolation as refusal:
        if not lapses:
            raise
        raise LapsedFirst(refusal, lapses, describe(case_type, lapses)) from None
    return (*lapses, fired)


def _checked(
    case_type: CaseType,
    trigger: str,
    on: date,
    attrs: Mapping[str, object] | None,
    reason: str | None,
    calendar: WorkCalendar,
    today: date | None,
) -> date:
    """The date the act counts as done (its ``posted_on``, else ``on``), after checking what is
    wrong whatever the state — its attributes, its reason — so that wrong input is refused
    before anything lapses. Every declaration of one trigger takes the same attributes."""
    spec = case_type.triggers[trigger][0]
    values = parse_attrs(spec.attrs, attrs or {}, on, calendar, trigger, today)
    if spec.reason_required and not (reason or "").strip():
        raise InvalidAttribute(f"{trigger!r} needs a reason (--reason TEXT)", ["reason=TEXT"])
    posted = values.get("posted_on")
    return date.fromisoformat(posted) if isinstance(posted, str) else on
