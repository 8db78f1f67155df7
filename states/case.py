"""A case and its events as plain immutable values: what the domain works on and returns.

A fired trigger never changes a case: it returns a new snapshot (``_replace``) and the event
that records the change, so a refused trigger leaves the case as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import NamedTuple

from states.casetype import Actor, AttrValue
from states.clocks import Cycle, CycleStatus


class ClockChange(NamedTuple):
    """What one event did to one clock cycle, for the timeline."""

    clock: str
    cycle: int
    change: str  # started, paused, resumed, extended, relengthed, met, missed, cancelled
    due_on: date
    status: CycleStatus

    def to_json(self) -> dict[str, object]:
        return {
            "clock": self.clock,
            "cycle": self.cycle,
            "change": self.change,
            "due_on": self.due_on.isoformat(),
            "status": self.status.value,
        }


class DomainEvent(NamedTuple):
    """One thing that happened to a case, with the legal date it takes effect (``on``)."""

    trigger: str
    source: str | None  # None for the event that opens the case
    dest: str
    on: date
    actor: Actor
    by: str
    reason: str | None
    attrs: Mapping[str, AttrValue]
    clocks: tuple[ClockChange, ...]


class CaseSnapshot(NamedTuple):
    """A case as the domain sees it: state, attributes, clock cycles and its key dates."""

    type: str
    state: str
    attrs: Mapping[str, AttrValue]
    cycles: tuple[Cycle, ...]
    opened_on: date
    last_on: date  # legal date of the latest event: no later event may take effect before it
    admitted_on: date | None = None
    closed_on: date | None = None
    version: int = 1
    ref: str = ""

    def live_cycle(self, clock: str) -> Cycle | None:
        for cycle in reversed(self.cycles):
            if cycle.clock == clock:
                return cycle if cycle.live else None
        return None

    def cycles_on(self, day: date) -> tuple[tuple[Cycle, CycleStatus], ...]:
        """Each cycle with its status judged on legal date ``day``."""
        return tuple((c, c.status_on(day)) for c in self.cycles)


class Fired(NamedTuple):
    """The result of firing a trigger: the case after it and the event that records it."""

    case: CaseSnapshot
    event: DomainEvent
