"""Legal time limits (法定期限): their declarations and the arithmetic of their cycles.

A clock is declared once per case type (`ClockSpec`); every time one of its start triggers
fires, the case gets a new `Cycle`. Cycles are immutable values and every operation here is a
pure function returning a new one.

How a cycle counts (DESIGN.md §4):

- its length in effect is ``days + extended_days`` units of its unit, counted from the start date
  (the start day itself not counted);
- a pause keeps the units used so far; on resume counting starts again from the resume date, so
  for calendar clocks the due date moves by the calendar days spent paused, and for working-day
  clocks the remaining working days are counted from the resume date;
- an extension moves the raw end by exactly its days;
- a calendar clock's raw end is rolled forward to a working day once, at the very end;
- a clock is due at the end of its due date (Asia/Shanghai) and overdue from the next instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from states.calendar import Unit, WorkCalendar
from states.errors import ClockRuleViolation

ESCALATE = "escalate"
# a clock owed by no one: its end marks the day a legal ground arises (中止满六十日 → art. 41(5))
NOTICE = "notice"
_EMPTY: Mapping[str, frozenset[str]] = MappingProxyType({})


class Owner(StrEnum):
    """Who owes the act the clock waits for."""

    BUREAU = "bureau"
    APPLICANT = "applicant"
    RESPONDENT = "respondent"
    LAWYER = "lawyer"
    NOBODY = "nobody"  # a notice: it marks a day, nobody can be late for it

    @property
    def label(self) -> str:
        """The party as a clerk names it (责任方)."""
        return _OWNER_LABELS[self]


_OWNER_LABELS = {Owner.BUREAU: "本局", Owner.APPLICANT: "申请人", Owner.RESPONDENT: "被申请人",
                 Owner.LAWYER: "承办律师", Owner.NOBODY: "无"}


class Effective(StrEnum):
    """The legal date on which a lapse effect by a system trigger takes effect.

    ``last_day``: the period's last day ("审查期限届满之日起视为受理", 行政复议法 art. 30);
    ``day_after``: the day after it, for the applicant's default — the applicant has the whole
    last day ("逾期不补正的，视为…放弃", art. 31; 视为撤回, 法律援助法 art. 43). Either way the
    effect can be applied only once the last day has ended.
    """

    LAST_DAY = "last_day"
    DAY_AFTER = "day_after"


class CycleStatus(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    MISSED = "missed"
    OVERDUE = "overdue"  # never stored: a running cycle judged after its due date
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        """The status as a clerk says it."""
        return _STATUS_LABELS[self]


_STATUS_LABELS = {CycleStatus.RUNNING: "计时中", CycleStatus.PAUSED: "已中止",
                  CycleStatus.MET: "按期完成", CycleStatus.MISSED: "逾期完成",
                  CycleStatus.OVERDUE: "已逾期", CycleStatus.CANCELLED: "已取消"}


LIVE = frozenset({CycleStatus.RUNNING, CycleStatus.PAUSED})


@dataclass(frozen=True, slots=True)
class When:
    """A trigger, optionally only from some states or with some attribute values.

    ``attrs`` are checked against the case's attributes after the event (which include the
    event's own attributes).
    """

    trigger: str
    source: frozenset[str] = frozenset()
    attrs: Mapping[str, frozenset[str]] = field(default_factory=lambda: _EMPTY)

    def matches(self, trigger: str, source: str | None, attrs: Mapping[str, object]) -> bool:
        if trigger != self.trigger:
            return False
        if self.source and source not in self.source:
            return False
        return all(str(attrs.get(key)) in values for key, values in self.attrs.items())


def on(trigger: str, *, source: tuple[str, ...] = (), **attrs: object) -> When:
    """``on("suspend", ground=(1, 2, 4))``: a `When` written the way the law reads."""
    values = {
        key: frozenset(str(v) for v in (val if isinstance(val, tuple | list) else (val,)))
        for key, val in attrs.items()
    }
    return When(trigger, frozenset(source), MappingProxyType(values))


def any_matches(
    whens: tuple[When, ...], trigger: str, source: str | None, attrs: Mapping[str, object]
) -> bool:
    """Whether any of ``whens`` matches the event."""
    return any(w.matches(trigger, source, attrs) for w in whens)


@dataclass(frozen=True, slots=True)
class Extension:
    """How a clock may be extended (延长): total cap, how many times, under which attributes."""

    max_days: int
    times: int = 1
    when: Mapping[str, frozenset[str]] = field(default_factory=lambda: _EMPTY)
    basis: str = ""


@dataclass(frozen=True, slots=True)
class ClockSpec:
    """A declared legal time limit. ``basis`` names the law and article it comes from."""

    name: str
    label: str
    days: int
    unit: Unit
    basis: str
    owed_by: Owner
    starts: tuple[When, ...]
    stops: tuple[When, ...] = ()
    stops_on_terminal: bool = False
    pauses_in: frozenset[str] = frozenset()
    lapse: str = ESCALATE
    effective: Effective = Effective.LAST_DAY
    extension: Extension | None = None
    # attribute -> value -> days, e.g. {"procedure": {"simplified": 30}} (行政复议法 art. 62(2))
    lengths: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    warning_days: int | None = None
    warning_unit: Unit | None = None
    # length and unit set by statute: the bureau's policy file may not change them
    fixed_by_law: bool = False
    # owed by someone outside the bureau and counted from service of the notice (送达): a cycle
    # starts on the event's ``served_on`` date when it has one (art. 31, 48)
    from_service: bool = False

    def __post_init__(self) -> None:
        if (self.lapse == NOTICE) != (self.owed_by is Owner.NOBODY):
            raise ValueError(f"clock {self.name!r}: a notice is owed by nobody, and only a notice")

    @property
    def notice(self) -> bool:
        """Owed by no one: it marks the day a legal ground arises, is never missed, and never
        counts in on-time figures (DESIGN §4)."""
        return self.lapse == NOTICE

    @property
    def lapses_by_trigger(self) -> bool:
        """Its lapse is a system trigger (视为受理, 视为放弃, 视为撤回)."""
        return self.lapse not in (ESCALATE, NOTICE)

    def effective_on(self, cycle: Cycle) -> date:
        """The legal date on which this clock's lapse effect takes effect for ``cycle``."""
        if self.effective is Effective.DAY_AFTER:
            return cycle.due_on + timedelta(days=1)
        return cycle.due_on

    def length(self, attrs: Mapping[str, object]) -> int:
        """The length in days for a case with these attributes."""
        for attr, by_value in self.lengths.items():
            value = attrs.get(attr)
            if value is not None and str(value) in by_value:
                return by_value[str(value)]
        return self.days

    def warning_window(self) -> tuple[int, Unit]:
        """预警: 1 working day for clocks up to 10 days, 7 days for longer ones, unless set."""
        if self.warning_days is not None:
            return self.warning_days, self.warning_unit or self.unit
        if self.days <= 10:
            return 1, Unit.WORKING
        return 7, Unit.CALENDAR


class Cycle(NamedTuple):
    """One run of a clock on one case."""

    clock: str
    cycle: int
    status: CycleStatus
    unit: Unit
    days: int
    started_on: date
    resumed_on: date  # where the current counting segment starts
    used: int  # units counted before ``resumed_on``
    raw_end: date
    due_on: date
    paused_since: date | None = None
    paused_days: int = 0
    extended_days: int = 0
    extensions: int = 0
    stopped_on: date | None = None

    @property
    def live(self) -> bool:
        return self.status in LIVE

    def past_due(self, day: date) -> bool:
        """True when the limit had lapsed by the end of ``day`` (a paused one: when it paused)."""
        if self.status is CycleStatus.PAUSED and self.paused_since is not None:
            return self.paused_since > self.due_on
        return day > self.due_on

    def status_on(self, day: date) -> CycleStatus:
        """The status judged on legal date ``day``: a running cycle past its due date is overdue."""
        if self.status is CycleStatus.RUNNING and day > self.due_on:
            return CycleStatus.OVERDUE
        return self.status


def _end(
    unit: Unit, started_on: date, anchor: date, remaining: int, calendar: WorkCalendar
) -> tuple[date, date]:
    """(raw end, due date) of a cycle with ``remaining`` units left to count from ``anchor``."""
    if unit is Unit.WORKING:
        # The working day ``remaining`` working days past the anchor, counted from the start
        # date: ``remaining`` may be negative (a shortened cycle), and counting backwards
        # from a rest day is off by one against counting forwards from it.
        if anchor != started_on:
            remaining += calendar.working_days_between(started_on, anchor)
        raw = calendar.add_working_days(started_on, remaining)
        return raw, raw
    raw = anchor + timedelta(days=remaining)
    return raw, calendar.roll_forward(raw)


def _projected(cycle: Cycle, calendar: WorkCalendar, **changes: Any) -> Cycle:
    """``cycle`` with ``changes``, its raw end and due date computed again from the rest."""
    cycle = cycle._replace(**changes)
    anchor = cycle.paused_since if cycle.paused_since is not None else cycle.resumed_on
    remaining = cycle.days + cycle.extended_days - cycle.used
    raw, due = _end(cycle.unit, cycle.started_on, anchor, remaining, calendar)
    return cycle._replace(raw_end=raw, due_on=due)


def start(
    spec: ClockSpec, number: int, day: date, attrs: Mapping[str, object], calendar: WorkCalendar
) -> Cycle:
    """A new cycle of ``spec`` counting from ``day``."""
    days = spec.length(attrs)
    raw, due = _end(spec.unit, day, day, days, calendar)
    return Cycle(spec.name, number, CycleStatus.RUNNING, spec.unit, days, started_on=day,
                 resumed_on=day, used=0, raw_end=raw, due_on=due)


def pause(cycle: Cycle, day: date, calendar: WorkCalendar) -> Cycle:
    """中止: stop counting after ``day``; the units used so far are kept.

    A limit that had already lapsed stays lapsed: suspending the case afterwards does not give
    the bureau its time back, so such a cycle keeps running (overdue) and is judged by its
    original due date."""
    if cycle.status is not CycleStatus.RUNNING or cycle.past_due(day):
        return cycle
    used = cycle.used + calendar.days_between(cycle.resumed_on, day, cycle.unit)
    return _projected(cycle, calendar, status=CycleStatus.PAUSED, used=used, paused_since=day)


def resume(cycle: Cycle, day: date, calendar: WorkCalendar) -> Cycle:
    """恢复: count the remaining units again from ``day``."""
    if cycle.status is not CycleStatus.PAUSED or cycle.paused_since is None:
        return cycle
    paused_days = cycle.paused_days + max(0, (day - cycle.paused_since).days)
    return _projected(cycle, calendar, status=CycleStatus.RUNNING, resumed_on=day,
                      paused_since=None, paused_days=paused_days)


def extend(
    cycle: Cycle,
    spec: ClockSpec,
    days: int,
    day: date,
    attrs: Mapping[str, object],
    calendar: WorkCalendar,
) -> Cycle:
    """延长 by ``days``: refused where the clock cannot be extended, past its cap, more often than
    allowed, or once it has lapsed."""
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
    return _projected(cycle, calendar, extended_days=cycle.extended_days + days,
                      extensions=cycle.extensions + 1)


def relength(cycle: Cycle, days: int, calendar: WorkCalendar) -> Cycle:
    """Switch a running cycle to another length, still counted from its start (e.g. art. 55)."""
    if not cycle.live or cycle.days == days:
        return cycle
    return _projected(cycle, calendar, days=days)


def _ended(cycle: Cycle, status: CycleStatus, day: date) -> Cycle:
    return cycle._replace(status=status, stopped_on=day)


def stop(cycle: Cycle, day: date, judged_on: date | None = None) -> Cycle:
    """The act the clock waited for happened on ``day``: met if in time, else missed.

    ``judged_on``: the date the act counts as done when it is earlier, e.g. materials posted
    by the last day are on time however late they arrive (民事诉讼法 art. 85: 期满前交邮的，
    不算过期)."""
    judged = day if judged_on is None else min(day, judged_on)
    return _ended(cycle, CycleStatus.MISSED if cycle.past_due(judged) else CycleStatus.MET, day)


def lapse(cycle: Cycle, day: date | None = None) -> Cycle:
    """The limit ran out and the law's effect applies on ``day`` (视为受理 and the like; by
    default its last day): missed."""
    return _ended(cycle, CycleStatus.MISSED, cycle.due_on if day is None else day)


def end_notice(cycle: Cycle, day: date) -> Cycle:
    """A notice ends with what it waited on (the suspension ends): nobody owed it, so it is
    never missed — met once its day had come (the ground had arisen), else cancelled."""
    return _ended(cycle, CycleStatus.MET if cycle.past_due(day) else CycleStatus.CANCELLED, day)


def close(cycle: Cycle, day: date) -> Cycle:
    """The case ended by another path: a lapsed clock was missed, any other is cancelled."""
    return _ended(cycle, CycleStatus.MISSED if cycle.past_due(day) else CycleStatus.CANCELLED, day)


def reproject(cycle: Cycle, calendar: WorkCalendar) -> Cycle:
    """Recompute a live cycle's dates on (new) calendar data."""
    return _projected(cycle, calendar) if cycle.live else cycle
