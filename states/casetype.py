"""What a case type is: a declaration of states, transitions, attributes and clocks.

A case type is data. The engine (`states.machine`, `states.clock_effects`) reads these
declarations and nothing else, so adding a case type means writing one more declaration, not
touching the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType

from states.calendar import WorkCalendar
from states.clocks import ClockSpec, Cycle, CycleStatus, Owner, When, any_matches
from states.errors import InvalidAttribute

AttrValue = str | int


class Actor(StrEnum):
    """Who fires a trigger: 承办人, 科长/分管领导, or the system on a lapse."""

    CLERK = "clerk"
    SUPERVISOR = "supervisor"
    SYSTEM = "system"


class Past(StrEnum):
    """Where a date attribute that records something that happened may lie."""

    ON_OR_AFTER_EVENT = "on_or_after_event"  # 送达: the notice reached them after it was sent
    ON_OR_BEFORE_EVENT = "on_or_before_event"  # 交邮: it was posted before it arrived


class AttrKind(StrEnum):
    TEXT = "text"
    INT = "int"
    DATE = "date"
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class Attr:
    """An attribute a trigger (or opening a case) takes, with its rule."""

    name: str
    kind: AttrKind
    label: str = ""
    required: bool = False
    choices: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    default: AttrValue | None = None
    keep: bool = True  # stored on the case; False: recorded on the event only
    # a date at least this many working days after the event's legal date (art. 51)
    min_working_days_after: int | None = None
    # a date that happened (not in the future): on or after the event's own date (served_on:
    # the notice reached the applicant) or on or before it (posted_on: the reply was posted)
    past: Past | None = None

    def allowed(self) -> list[str]:
        match self.kind:
            case AttrKind.CHOICE:
                return [f"{self.name}={c}" for c in self.choices]
            case AttrKind.INT:
                return [f"{self.name}={self.low}..{self.high}"]
            case AttrKind.DATE:
                return [f"{self.name}=YYYY-MM-DD"]
            case _:
                return [f"{self.name}=TEXT"]

    def parse(
        self, raw: object, on: date, calendar: WorkCalendar, today: date | None = None
    ) -> AttrValue:
        """The value of ``raw`` under this rule, or `InvalidAttribute` naming what is allowed.

        ``on`` is the event's legal date; ``today``, when given, the real legal date, after
        which no date of something that happened may lie."""
        text = raw.isoformat() if isinstance(raw, date) else str(raw).strip()
        match self.kind:
            case AttrKind.CHOICE:
                if text not in self.choices:
                    raise self._invalid(text, "one of " + ", ".join(self.choices))
                return text
            case AttrKind.INT:
                try:
                    number = int(text)
                except ValueError:
                    raise self._invalid(text, f"a whole number {self.low}..{self.high}") from None
                if (self.low is not None and number < self.low) or (
                    self.high is not None and number > self.high
                ):
                    raise self._invalid(text, f"a whole number {self.low}..{self.high}")
                return number
            case AttrKind.DATE:
                try:
                    day = date.fromisoformat(text)
                except ValueError:
                    raise self._invalid(text, "a date YYYY-MM-DD") from None
                least = self.min_working_days_after
                if least is not None and calendar.working_days_between(on, day) < least:
                    earliest = calendar.add_working_days(on, least).isoformat()
                    raise InvalidAttribute(
                        f"{self.name}={text} is less than {least} working days after "
                        f"{on.isoformat()}; the earliest allowed is {earliest}",
                        [f"{self.name}>={earliest}"],
                    )
                if self.past is not None:
                    self._check_past(day, on, today)
                # kept as ISO text: the same value in memory, in events and after a reload
                return day.isoformat()
            case _:
                if not text:
                    raise self._invalid(text, "a non-empty text")
                return text

    def _check_past(self, day: date, on: date, today: date | None) -> None:
        text, event = day.isoformat(), on.isoformat()
        if self.past is Past.ON_OR_AFTER_EVENT and day < on:
            raise InvalidAttribute(
                f"{self.name}={text} is before the event's date {event}; it is the day the "
                "notice reached its addressee, on or after the day it was sent",
                [f"{self.name}>={event}"],
            )
        if self.past is Past.ON_OR_BEFORE_EVENT and day > on:
            raise InvalidAttribute(
                f"{self.name}={text} is after the event's date {event}; it is the day the "
                "reply was posted, on or before the day it arrived",
                [f"{self.name}<={event}"],
            )
        if today is not None and day > today:
            raise InvalidAttribute(
                f"{self.name}={text} is in the future; it records a day that has come",
                [f"{self.name}<={today.isoformat()}"],
            )

    def _invalid(self, text: str, expected: str) -> InvalidAttribute:
        return InvalidAttribute(
            f"{self.name}={text!r} is not allowed: expected {expected}", self.allowed()
        )


def attr_text(name: str, label: str = "", *, required: bool = False) -> Attr:
    return Attr(name, AttrKind.TEXT, label, required=required)


def attr_choice(
    name: str,
    choices: tuple[str, ...],
    label: str = "",
    *,
    required: bool = False,
    default: str | None = None,
) -> Attr:
    return Attr(name, AttrKind.CHOICE, label, required=required, choices=choices, default=default)


def served_on() -> Attr:
    """送达日期: the day a notice reached the applicant or respondent; the period owed counts
    from it (行政复议法 art. 31: 自收到补正通知之日起; art. 48: 自收到申请书副本…之日起)."""
    return Attr("served_on", AttrKind.DATE, "送达日期", keep=False,
                past=Past.ON_OR_AFTER_EVENT)


def posted_on() -> Attr:
    """交邮日期: the day the reply or materials were posted; posted by the last day is in time
    (民事诉讼法 art. 85: 期满前交邮的，不算过期)."""
    return Attr("posted_on", AttrKind.DATE, "交邮日期", keep=False,
                past=Past.ON_OR_BEFORE_EVENT)


def assignment_attrs() -> tuple[Attr, ...]:
    """承办科室 and 承办人: every case carries the department and the clerk handling it, set
    at open and changed by `reassign`; alert routes, worklists and reports use them."""
    return (attr_text("department", "承办科室"), attr_text("handler", "承办人"))


def personal_attrs() -> tuple[Attr, ...]:
    """The applicant's (or complainant's) ID and phone numbers: personal data, shown in full
    only to the roles that work the case (`states.roles.masked`)."""
    return (attr_text("id_number", "身份证号"), attr_text("phone", "联系电话"))


def reassign(source: tuple[str, ...]) -> TransitionSpec:
    """改派: the section chief gives an open case to another clerk (and department)."""
    return TransitionSpec(
        "reassign", source, None, Actor.SUPERVISOR, "改派承办人", "本局内部分工",
        attrs=(attr_text("handler", "承办人", required=True), attr_text("department", "承办科室")),
    )


# why a supervisor reinstates a case the law deemed abandoned or withdrawn: what the applicant
# owed was posted in time (it counts as received), or they had a good reason for the delay
# (a new period) — "无正当理由逾期" is the law's condition for the deemed outcome
REINSTATED_FOR = ("posted_in_time", "good_reason")


def reinstate(
    source: str,
    *,
    to_review: tuple[str, str],
    to_wait: tuple[str, str],
    basis: str,
    requires: Mapping[str, frozenset[str]] | None = None,
    sets: Mapping[str, AttrValue] | None = None,
) -> tuple[TransitionSpec, TransitionSpec]:
    """恢复: a supervisor's reinstatement (reason required) of a deemed abandonment or
    withdrawal, as two transitions chosen by ``reinstated_for``: back to review when the act
    was posted in time (``to_review``: state, label), back to awaiting the applicant with a
    new period for a good reason (``to_wait``)."""
    attrs = (attr_choice("reinstated_for", REINSTATED_FOR, "恢复理由", required=True),
             served_on())
    posted, good_reason = (
        TransitionSpec("reinstate", (source,), dest, Actor.SUPERVISOR, label, basis,
                       attrs=attrs, reason_required=True, requires=dict(requires or {}),
                       sets=dict(sets or {}), when={"reinstated_for": frozenset({why})})
        for why, (dest, label) in zip(REINSTATED_FOR, (to_review, to_wait), strict=True)
    )
    return posted, good_reason


def attr_int(
    name: str, low: int, high: int, label: str = "", *, required: bool = True, keep: bool = True
) -> Attr:
    return Attr(name, AttrKind.INT, label, required=required, low=low, high=high, keep=keep)


@dataclass(frozen=True, slots=True)
class StateSpec:
    name: str
    label: str
    terminal: bool = False  # a closed state (结案); some can be reopened (legal aid, art. 49)


@dataclass(frozen=True, slots=True)
class TransitionSpec:
    """A trigger from some states. ``dest=None`` keeps the state (an internal trigger)."""

    trigger: str
    source: tuple[str, ...]
    dest: str | None
    actor: Actor
    label: str
    basis: str = ""
    attrs: tuple[Attr, ...] = ()
    reason_required: bool = False
    # case attributes that must hold before it fires, e.g. procedure=simplified (art. 55)
    requires: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # the event's own attributes that choose this transition among those of the same trigger
    # from the same state, e.g. reinstate to `received` when the reply was posted in time
    when: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # attributes it sets on the case regardless of input, e.g. procedure=ordinary on conversion
    sets: Mapping[str, AttrValue] = field(default_factory=dict)
    extends: str | None = None  # the clock an internal `extend` lengthens by `days`
    # what must hold of the case's clocks for it to fire (a ground that has arisen, a clock
    # that has stopped), judged on the event's date
    needs: tuple[ClockNeed, ...] = ()
    # fired again on a case that already had a cycle of the clock it starts, it is this
    # actor's act and needs a reason (one 补正 per application, 行政复议法 art. 31)
    again_by: Actor | None = None

    @property
    def internal(self) -> bool:
        return self.dest is None


class Need(StrEnum):
    """What a `ClockNeed` asks of a clock's latest cycle."""

    ARISEN = "arisen"  # running, and its last day has ended by the event's date
    STOPPED = "stopped"  # it exists and is no longer running: what it waited for happened


@dataclass(frozen=True, slots=True)
class ClockNeed:
    """A condition on a clock for a trigger, where ``when`` (event attributes) holds.

    ``terminate`` with ground 5 needs ``suspension_limit`` to have arisen (art. 41(5));
    ``close`` of a legal-aid case needs the lawyer's ``closing_report`` stopped."""

    clock: str
    need: Need
    because: str
    when: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def applies(self, event_attrs: Mapping[str, object]) -> bool:
        return all(str(event_attrs.get(k)) in v for k, v in self.when.items())

    def holds(self, cycles: Sequence[Cycle], on: date) -> bool:
        latest = next((c for c in reversed(cycles) if c.clock == self.clock), None)
        if latest is None:
            return False
        if self.need is Need.STOPPED:
            return not latest.live
        return latest.live and on > latest.due_on


@dataclass(frozen=True)
class CaseType:
    """A case type: 行政复议, 法律援助, 律师执业投诉, or any other declared the same way."""

    name: str
    label: str
    law: str
    ref_prefix: str
    states: tuple[StateSpec, ...]
    transitions: tuple[TransitionSpec, ...]
    clocks: tuple[ClockSpec, ...]
    initial: str
    open_attrs: tuple[Attr, ...] = ()
    # an attribute that picks the initial state instead: (attr, {value: state})
    initial_by: tuple[str, Mapping[str, str]] | None = None
    # the events that admit a case into the handled population of the closure report (§7)
    admitted_by: tuple[When, ...] = ()

    @cached_property
    def state_map(self) -> Mapping[str, StateSpec]:
        return MappingProxyType({s.name: s for s in self.states})

    @cached_property
    def clock_map(self) -> Mapping[str, ClockSpec]:
        return MappingProxyType({c.name: c for c in self.clocks})

    @cached_property
    def triggers(self) -> Mapping[str, tuple[TransitionSpec, ...]]:
        by: dict[str, list[TransitionSpec]] = {}
        for t in self.transitions:
            by.setdefault(t.trigger, []).append(t)
        return MappingProxyType({k: tuple(v) for k, v in by.items()})

    @cached_property
    def attr_labels(self) -> Mapping[str, str]:
        """Each declared attribute's label (申请人, 承办科室, …), from opening and every trigger."""
        labels: dict[str, str] = {}
        for attr in (*self.open_attrs, *(a for t in self.transitions for a in t.attrs)):
            if attr.label:
                labels.setdefault(attr.name, attr.label)
        return MappingProxyType(labels)

    @cached_property
    def closed_states(self) -> frozenset[str]:
        return frozenset(s.name for s in self.states if s.terminal)

    def initial_state(self, attrs: Mapping[str, object]) -> str:
        if self.initial_by is not None:
            attr, by_value = self.initial_by
            value = attrs.get(attr)
            if value is not None and str(value) in by_value:
                return by_value[str(value)]
        return self.initial

    def closed_on_time(self, cycles: Iterable[Cycle]) -> bool:
        """按期办结: no cycle of a clock the bureau owes was missed (DESIGN §7). Clocks owed by
        the applicant, the respondent or a lawyer do not count, nor a notice owed by nobody."""
        return not any(
            cycle.status is CycleStatus.MISSED
            and (spec := self.clock_map.get(cycle.clock)) is not None
            and spec.owed_by is Owner.BUREAU
            for cycle in cycles
        )

    def admits(self, trigger: str, source: str | None, attrs: Mapping[str, object]) -> bool:
        """Whether this event admits the case into the handled population (受理/立案)."""
        return any_matches(self.admitted_by, trigger, source, attrs)
