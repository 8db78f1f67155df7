"""Which clocks an event starts, stops, pauses, resumes, extends or re-lengthens.

One pure function, driven only by the clock declarations of the case type, applied in the
order the law reads:

1. a system trigger that is a clock's lapse effect marks that clock's cycle missed; it takes
   effect on the cycle's due date and on no other;
2. clocks the trigger answers stop: met if in time, missed if late;
3. entering a closed state stops the clocks that end with the case (met or missed) and closes
   every other live cycle: missed if already past due, else cancelled;
4. entering a pausing state pauses, leaving it resumes;
5. an extension trigger lengthens its clock;
6. a changed attribute re-lengthens clocks whose length depends on it (art. 55);
7. start triggers open a new cycle, counting from the event's legal date.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from types import MappingProxyType

from states import clocks
from states.calendar import WorkCalendar
from states.case import ClockChange
from states.casetype import AttrValue, CaseType, TransitionSpec
from states.clocks import Cycle, When, any_matches
from states.errors import ClockRuleViolation

_NO_STOPS: Mapping[str, tuple[When, ...]] = MappingProxyType({})


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
    """The cycles after the event and the changes it made to them."""
    result = list(cycles)
    changes: list[ClockChange] = []
    latest = {c.clock: i for i, c in enumerate(result)}
    closing = dest != source and dest in case_type.closed_states
    # only the conditions that name the trigger can match it
    stops = case_type.clock_stops.get(trigger, _NO_STOPS)

    def update(index: int, new: Cycle, change: str) -> None:
        if new is not result[index]:  # the clock functions return the same cycle if unchanged
            result[index] = new
            changes.append(ClockChange(new.clock, new.cycle, change, new.due_on, new.status))

    for name, index in latest.items():
        cycle = result[index]
        if not cycle.live:
            continue
        clock = case_type.clock_map[name]
        if clock.lapse == trigger:
            # 视为受理 and the like take effect on the period's last day, whenever the sweep
            # that applies them runs: any other date would move the clocks they start
            if day != cycle.due_on:
                raise ClockRuleViolation(
                    f"{trigger!r} applies when {name!r} lapses and takes effect on its last "
                    f"day, {cycle.due_on.isoformat()}",
                    [f"on={cycle.due_on.isoformat()}"],
                )
            update(index, clocks.lapse(cycle), "missed")
        elif (name in stops and any_matches(stops[name], trigger, source, attrs_after)) or (
            closing and clock.stops_on_terminal
        ):
            stopped = clocks.stop(cycle, day)
            update(index, stopped, stopped.status.value)
        elif closing:
            closed = clocks.close(cycle, day)
            update(index, closed, closed.status.value)
        elif clock.pauses_in and source != dest:
            if dest in clock.pauses_in and source not in clock.pauses_in:
                update(index, clocks.pause(cycle, day, calendar), "paused")
            elif source in clock.pauses_in and dest not in clock.pauses_in:
                update(index, clocks.resume(cycle, day, calendar), "resumed")

    if spec is not None and spec.extends is not None:
        clock = case_type.clock_map[spec.extends]
        index_ = latest.get(clock.name)
        if index_ is None or not result[index_].live:
            raise ClockRuleViolation(f"clock {clock.name!r} is not running")
        days = event_attrs["days"]
        assert isinstance(days, int)  # declared as an int attribute of every extension trigger
        update(index_, clocks.extend(result[index_], clock, days, day, attrs_after, calendar),
               "extended")

    # most events change no attribute: one comparison of the whole mappings rules them out
    if (
        case_type.length_attrs
        and attrs_after != attrs_before
        and any(attrs_after.get(k) != attrs_before.get(k) for k in case_type.length_attrs)
    ):
        for clock in case_type.clocks:
            index_ = latest.get(clock.name)
            if index_ is not None and clock.lengths:
                update(index_, clocks.relength(result[index_], clock.length(attrs_after),
                                               calendar), "relengthed")

    for clock, whens in case_type.clocks_started_by.get(trigger, ()):
        if any_matches(whens, trigger, source, attrs_after):
            index_ = latest.get(clock.name)
            number = 1
            if index_ is not None:
                number = result[index_].cycle + 1
                if result[index_].live:
                    update(index_, clocks.close(result[index_], day), "cancelled")
            new = clocks.start(clock, number, day, attrs_after, calendar)
            result.append(new)
            latest[clock.name] = len(result) - 1
            changes.append(ClockChange(new.clock, new.cycle, "started", new.due_on, new.status))

    return tuple(result), tuple(changes)
