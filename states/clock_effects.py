"""Which clocks an event starts, stops, pauses, resumes, extends or re-lengthens.

One pure function, driven only by the clock declarations of the case type, applied in the
order the law reads:

1. a system trigger that is a clock's lapse effect marks that clock's cycle missed; it takes
   effect on the date the clock declares (its last day, or the day after) and on no other;
2. clocks the trigger answers stop: met if in time, missed if late — in time judged by the
   event's ``posted_on`` when it has one (期满前交邮的，不算过期);
3. entering a closed state stops the clocks that end with the case (met or missed) and closes
   every other live cycle: missed if already past due, else cancelled; a notice, owed by no
   one, is never missed (met once its day has come, else cancelled);
4. entering a pausing state pauses, leaving it resumes;
5. an extension trigger lengthens its clock;
6. a changed attribute re-lengthens clocks whose length depends on it (art. 55);
7. start triggers open a new cycle, counting from the event's legal date — or, for a period owed
   outside the bureau, from the day the notice was served (``served_on``, 送达).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from states import clocks
from states.calendar import WorkCalendar
from states.case import ClockChange
from states.casetype import AttrValue, CaseType, TransitionSpec
from states.clocks import Cycle, any_matches
from states.errors import ClockRuleViolation


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
    # clock -> index of its latest cycle, clocks in order of first appearance
    latest = {cycle.clock: index for index, cycle in enumerate(result)}
    closing = dest != source and dest in case_type.closed_states

    for name, index in latest.items():
        cycle = result[index]
        if not cycle.live:
            continue
        clock = case_type.clock_map[name]
        if clock.lapse == trigger:
            # 视为受理 and the like take effect on the date the law says (the last day, or the
            # day after it), whenever the sweep that applies them runs: any other date would
            # move the clocks they start
            effective = clock.effective_on(cycle)
            if day != effective:
                raise ClockRuleViolation(
                    f"{trigger!r} applies when {name!r} lapses and takes effect on "
                    f"{effective.isoformat()} ({clock.effective.value.replace('_', ' ')})",
                    [f"on={effective.isoformat()}"],
                )
            new, change = clocks.lapse(cycle, day), "missed"
        elif any_matches(clock.stops, trigger, source, attrs_after) or (
            closing and clock.stops_on_terminal
        ):
            if clock.notice:
                new = clocks.end_notice(cycle, day)
            else:
                new = clocks.stop(cycle, day, _date_attr(event_attrs, "posted_on"))
            change = new.status.value
        elif closing:
            new = clocks.end_notice(cycle, day) if clock.notice else clocks.close(cycle, day)
            change = new.status.value
        elif source != dest and dest in clock.pauses_in and source not in clock.pauses_in:
            new, change = clocks.pause(cycle, day, calendar), "paused"
        elif source != dest and source in clock.pauses_in and dest not in clock.pauses_in:
            new, change = clocks.resume(cycle, day, calendar), "resumed"
        else:
            continue
        _replace(result, changes, index, new, change)

    if spec is not None and spec.extends is not None:
        clock = case_type.clock_map[spec.extends]
        index_ = latest.get(clock.name)
        if index_ is None or not result[index_].live:
            raise ClockRuleViolation(f"clock {clock.name!r} is not running")
        days = event_attrs["days"]
        assert isinstance(days, int)  # declared as an int attribute of every extension trigger
        new = clocks.extend(result[index_], clock, days, day, attrs_after, calendar)
        _replace(result, changes, index_, new, "extended")

    # a changed attribute may change a clock's length (simplified -> ordinary, art. 55)
    for clock in case_type.clocks if attrs_after != attrs_before else ():
        index_ = latest.get(clock.name)
        if index_ is not None and any(
            attrs_after.get(attr) != attrs_before.get(attr) for attr in clock.lengths
        ):
            new = clocks.relength(result[index_], clock.length(attrs_after), calendar)
            _replace(result, changes, index_, new, "relengthed")

    for clock in case_type.clocks:
        if any_matches(clock.starts, trigger, source, attrs_after):
            index_ = latest.get(clock.name)
            number = 1
            if index_ is not None:
                cycle = result[index_]
                number = cycle.cycle + 1
                if cycle.live:
                    _replace(result, changes, index_, clocks.close(cycle, day), "cancelled")
            # a period owed outside the bureau counts from the day the notice was served
            served = _date_attr(event_attrs, "served_on") if clock.from_service else None
            new = clocks.start(clock, number, served or day, attrs_after, calendar)
            result.append(new)
            latest[clock.name] = len(result) - 1
            changes.append(_change(new, "started"))
            if dest in clock.pauses_in:  # started in a state where it does not run
                _replace(result, changes, len(result) - 1,
                         clocks.pause(new, served or day, calendar), "paused")

    return tuple(result), tuple(changes)


def _replace(
    result: list[Cycle], changes: list[ClockChange], index: int, new: Cycle, change: str
) -> None:
    """Put what a clock function returned in place of cycle ``index``; it returns the very same
    cycle when nothing changed, and only a changed cycle is a change."""
    if new is not result[index]:
        result[index] = new
        changes.append(_change(new, change))


def _change(cycle: Cycle, change: str) -> ClockChange:
    return ClockChange(cycle.clock, cycle.cycle, change, cycle.due_on, cycle.status)


def _date_attr(event_attrs: Mapping[str, AttrValue], name: str) -> date | None:
    """A date attribute of the event (kept as ISO text), if it has one."""
    value = event_attrs.get(name)
    return date.fromisoformat(value) if isinstance(value, str) else None
