"""The plain reading of the clock rules, kept as the oracle of the fast one in `states`.

`states.clocks` builds changed cycles from lists of fields and `states.clock_effects` skips, by
a plan worked out per kind of event, the clocks an event cannot act on; both were written for
speed. This module is the code they replaced (`Cycle._replace`, one branch chain over every
clock, every condition matched on every fire), unoptimised on purpose, so that
tests/unit/test_fire_equivalence.py can check that the two agree on every event it tries.
Do not make it faster: its only job is to be obviously right.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from states.calendar import Unit, WorkCalendar
from states.case import ClockChange
from states.casetype import AttrValue, CaseType, TransitionSpec
from states.clocks import ClockSpec, Cycle, CycleStatus, When, any_matches
from states.errors import ClockRuleViolation


def _end(
    unit: Unit, started_on: date, anchor: date, remaining: int, calendar: WorkCalendar
) -> tuple[date, date]:
    if unit is Unit.WORKING:
        if anchor != started_on:
            remaining += calendar.working_days_between(started_on, anchor)
        raw = calendar.add_working_days(started_on, remaining)
        return raw, raw
    raw = anchor + timedelta(days=remaining)
    return raw, calendar.roll_forward(raw)


def project(cycle: Cycle, calendar: WorkCalendar) -> Cycle:
    anchor = cycle.paused_since if cycle.paused_since is not None else cycle.resumed_on
    remaining = cycle.days + cycle.extended_days - cycle.used
    raw, due = _end(cycle.unit, cycle.started_on, anchor, remaining, calendar)
    return cycle._replace(raw_end=raw, due_on=due)


def start(
    spec: ClockSpec, number: int, day: date, attrs: Mapping[str, object], calendar: WorkCalendar
) -> Cycle:
    days = spec.length(attrs)
    raw, due = _end(spec.unit, day, day, days, calendar)
    return Cycle(clock=spec.name, cycle=number, status=CycleStatus.RUNNING, unit=spec.unit,
                 days=days, started_on=day, resumed_on=day, used=0, raw_end=raw, due_on=due)


def pause(cycle: Cycle, day: date, calendar: WorkCalendar) -> Cycle:
    if cycle.status is not CycleStatus.RUNNING or cycle.past_due(day):
        return cycle
    used = cycle.used + calendar.days_between(cycle.resumed_on, day, cycle.unit)
    return project(
        cycle._replace(status=CycleStatus.PAUSED, used=used, paused_since=day), calendar
    )


def resume(cycle: Cycle, day: date, calendar: WorkCalendar) -> Cycle:
    if cycle.status is not CycleStatus.PAUSED or cycle.paused_since is None:
        return cycle
    paused = max(0, (day - cycle.paused_since).days)
    resumed = cycle._replace(
        status=CycleStatus.RUNNING,
        resumed_on=day,
        paused_since=None,
        paused_days=cycle.paused_days + paused,
    )
    return project(resumed, calendar)


def extend(
    cycle: Cycle,
    spec: ClockSpec,
    days: int,
    day: date,
    attrs: Mapping[str, object],
    calendar: WorkCalendar,
) -> Cycle:
    rule = spec.extension
    if rule is None:
        raise ClockRuleViolation(f"clock {spec.name!r} cannot be extended")
    for attr, values in rule.when.items():
        if str(attrs.get(attr)) not in values:
            raise ClockRuleViolation(
                f"clock {spec.name!r} can be extended only when {attr} is "
                + " or ".join(sorted(values)),
                sorted(values),
            )
    if not cycle.live:
        raise ClockRuleViolation(f"clock {spec.name!r} is {cycle.status.value}, not running")
    if cycle.extensions >= rule.times:
        raise ClockRuleViolation(
            f"clock {spec.name!r} was already extended {cycle.extensions} time(s); "
            f"the limit is {rule.times}"
        )
    left = rule.max_days - cycle.extended_days
    if days < 1:
        raise ClockRuleViolation(
            f"an extension of {spec.name!r} must be at least 1 day, not {days}",
            [f"days=1..{left}"],
        )
    if cycle.extended_days + days > rule.max_days:
        raise ClockRuleViolation(
            f"extending {spec.name!r} by {days} days exceeds the cap of {rule.max_days}",
            [f"days=1..{left}"],
        )
    if cycle.past_due(day):
        raise ClockRuleViolation(
            f"clock {spec.name!r} lapsed on {cycle.due_on.isoformat()}; "
            "an extension must be decided before then"
        )
    longer = cycle._replace(
        extended_days=cycle.extended_days + days, extensions=cycle.extensions + 1
    )
    return project(longer, calendar)


def relength(cycle: Cycle, days: int, calendar: WorkCalendar) -> Cycle:
    if not cycle.live or cycle.days == days:
        return cycle
    return project(cycle._replace(days=days), calendar)


def stop(cycle: Cycle, day: date) -> Cycle:
    status = CycleStatus.MISSED if cycle.past_due(day) else CycleStatus.MET
    return cycle._replace(status=status, stopped_on=day)


def lapse(cycle: Cycle) -> Cycle:
    return cycle._replace(status=CycleStatus.MISSED, stopped_on=cycle.due_on)


def close(cycle: Cycle, day: date) -> Cycle:
    status = CycleStatus.MISSED if cycle.past_due(day) else CycleStatus.CANCELLED
    return cycle._replace(status=status, stopped_on=day)


def reproject(cycle: Cycle, calendar: WorkCalendar) -> Cycle:
    return project(cycle, calendar) if cycle.live else cycle


def _conditions(whens: tuple[When, ...], trigger: str) -> tuple[When, ...]:
    return tuple(w for w in whens if w.trigger == trigger)


def apply_clock_effects(
    case_type: CaseType,
    cycles: tuple[Cycle, ...],
    spec: TransitionSpec | None,
    trigger: str,
    source: str | None,
    dest: str,
    day: date,
    attrs_before: Mapping[str, AttrValue],
    attrs_after: Mapping[str, AttrValue],
    event_attrs: Mapping[str, AttrValue],
    calendar: WorkCalendar,
) -> tuple[tuple[Cycle, ...], tuple[ClockChange, ...]]:
    """`states.clock_effects.apply_clock_effects` as it read before it was made faster."""
    result = list(cycles)
    changes: list[ClockChange] = []
    latest = {c.clock: i for i, c in enumerate(result)}
    closing = dest != source and dest in case_type.closed_states

    def update(index: int, new: Cycle, change: str) -> None:
        if new is not result[index]:
            result[index] = new
            changes.append(ClockChange(new.clock, new.cycle, change, new.due_on, new.status))

    for name, index in latest.items():
        cycle = result[index]
        if not cycle.live:
            continue
        clock = case_type.clock_map[name]
        if clock.lapse == trigger:
            if day != cycle.due_on:
                raise ClockRuleViolation(
                    f"{trigger!r} applies when {name!r} lapses and takes effect on its last "
                    f"day, {cycle.due_on.isoformat()}",
                    [f"on={cycle.due_on.isoformat()}"],
                )
            update(index, lapse(cycle), "missed")
        elif any_matches(_conditions(clock.stops, trigger), trigger, source, attrs_after) or (
            closing and clock.stops_on_terminal
        ):
            stopped = stop(cycle, day)
            update(index, stopped, stopped.status.value)
        elif closing:
            closed = close(cycle, day)
            update(index, closed, closed.status.value)
        elif clock.pauses_in and source != dest:
            if dest in clock.pauses_in and source not in clock.pauses_in:
                update(index, pause(cycle, day, calendar), "paused")
            elif source in clock.pauses_in and dest not in clock.pauses_in:
                update(index, resume(cycle, day, calendar), "resumed")

    if spec is not None and spec.extends is not None:
        clock = case_type.clock_map[spec.extends]
        index_ = latest.get(clock.name)
        if index_ is None or not result[index_].live:
            raise ClockRuleViolation(f"clock {clock.name!r} is not running")
        days = event_attrs["days"]
        assert isinstance(days, int)
        update(index_, extend(result[index_], clock, days, day, attrs_after, calendar),
               "extended")

    if any(attrs_after.get(k) != attrs_before.get(k) for k in case_type.length_attrs):
        for clock in case_type.clocks:
            index_ = latest.get(clock.name)
            if index_ is not None and clock.lengths:
                update(index_, relength(result[index_], clock.length(attrs_after), calendar),
                       "relengthed")

    for clock in case_type.clocks:
        if any_matches(_conditions(clock.starts, trigger), trigger, source, attrs_after):
            index_ = latest.get(clock.name)
            number = 1
            if index_ is not None:
                number = result[index_].cycle + 1
                if result[index_].live:
                    update(index_, close(result[index_], day), "cancelled")
            new = start(clock, number, day, attrs_after, calendar)
            result.append(new)
            latest[clock.name] = len(result) - 1
            changes.append(ClockChange(new.clock, new.cycle, "started", new.due_on, new.status))

    return tuple(result), tuple(changes)
