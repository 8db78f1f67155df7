"""Deadline enforcement decided by pure code: lapse effects and escalation rungs (DESIGN §4, §6).

The sweep flow gathers running clock cycles, asks `evaluate` what is due at ``now`` and applies
each decision in its own transaction. Nothing here reads the real clock: ``now`` is a parameter.

Two kinds of decision:

- `Lapse` — a clock whose lapse effect is a system trigger ran out: 视为受理 (``deem_accepted``),
  视为放弃 (``deem_abandoned``), 视为撤回 (``deem_withdrawn``). It takes legal effect on the date
  its clock declares (`ClockSpec.effective_on`: the last day of the period for 视为受理,
  行政复议法 art. 30; the day after it for the applicant's default, art. 31), never on the day
  the sweep happens to run, so clocks it starts count from that date however late the sweep is.
  Either way it is decided only once the last day has ended.
- `Escalation` — a rung the cycle has reached and that is not yet recorded:

  - ``due_soon`` 预警: the time left is within the clock's warning window
    (`ClockSpec.warning_window`: 1 working day for clocks up to 10 days, else 7 days);
  - ``overdue`` 逾期: from 00:00 of the day after ``due_on``;
  - ``overdue_serious`` 严重逾期: overdue by 5 working days or more;
  - ``arisen``: a notice owed by no one (中止满六十日) has reached its day — the ground for
    termination of art. 41(5) has arisen; the only rung of a notice, never "late".

  All dates are legal dates (Asia/Shanghai): 23:59:59 on ``due_on`` is not yet overdue.

Rules:

- Only running cycles count: a paused (中止) cycle reaches nothing, a stopped one (met, missed,
  cancelled) neither — so no rung is ever recorded after a clock stops.
- Each rung is recorded once per cycle: rungs in ``rungs_recorded`` are never decided again, which
  makes `evaluate` idempotent (record its output, evaluate the same ``now`` again: nothing).
- Catch-up: a sweep after days of silence decides every rung reached since; all are recorded
  (with the legal date each was reached), but only the highest sends an alert — the lower ones are
  ``caught_up``. A rung at or below one already recorded never alerts.
- A clock with a lapse trigger lapses instead of going overdue: the law's effect is the answer to
  the missed deadline, it stops the clock (missed, which the on-time report counts) and it is
  recorded in the timeline as a system event. Its ``due_soon`` still warns before the last day; a
  ``due_soon`` a late sweep skipped over is recorded caught up, without an alert.
- Applying a lapse starts clocks dated ``effective_on`` (e.g. the decision clock after 视为受理);
  those may already be due or overdue at ``now``, so the sweep gathers and evaluates again after
  applying lapses, until no `Lapse` is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType

from states.calendar import Unit, WorkCalendar, legal_date
from states.casetype import CaseType
from states.clocks import ESCALATE, ClockSpec, Cycle, CycleStatus

SERIOUS_AFTER = 5  # working days overdue before 严重逾期 (DESIGN §6)


class Rung(StrEnum):
    """Escalation levels of a running clock, lowest first: 预警, 逾期, 严重逾期."""

    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    OVERDUE_SERIOUS = "overdue_serious"
    # a notice's day has come: the legal ground it marks has arisen (中止满六十日, art. 41(5))
    ARISEN = "arisen"

    @property
    def level(self) -> int:
        """0, 1, 2: the order of the rungs (do not compare the strings)."""
        return _LEVELS[self]

    @property
    def label(self) -> str:
        """The rung as alerts and listings name it: 预警, 逾期, 严重逾期, 期间届满提示."""
        return RUNG_LABELS[self]


_LEVELS: Mapping[Rung, int] = MappingProxyType({rung: i for i, rung in enumerate(Rung)})
RUNG_LABELS: Mapping[Rung, str] = MappingProxyType({
    Rung.DUE_SOON: "预警",
    Rung.OVERDUE: "逾期",
    Rung.OVERDUE_SERIOUS: "严重逾期",
    Rung.ARISEN: "期间届满提示",
})

RECIPIENTS: Mapping[Rung, tuple[str, ...]] = MappingProxyType({
    Rung.DUE_SOON: ("clerk",),  # 承办人
    Rung.OVERDUE: ("clerk", "supervisor"),  # + 科长
    Rung.OVERDUE_SERIOUS: ("clerk", "supervisor", "leader"),  # + 分管领导
    Rung.ARISEN: ("clerk", "supervisor"),  # the ground for a decision is there
})


def recipients(rung: Rung) -> tuple[str, ...]:
    """Who is told at ``rung`` (roles; routes and channels come from the policy file)."""
    return RECIPIENTS[rung]


@dataclass(frozen=True, slots=True)
class ClockOnCase:
    """One clock cycle of one case, with the rungs already recorded for that cycle."""

    ref: str
    case_type: str
    state: str
    spec: ClockSpec
    cycle: Cycle
    rungs_recorded: frozenset[Rung] = frozenset()

    def __post_init__(self) -> None:
        if self.spec.name != self.cycle.clock:
            raise ValueError(f"cycle of {self.cycle.clock!r} given with spec {self.spec.name!r}")


@dataclass(frozen=True, slots=True)
class Lapse:
    """视为受理/视为放弃/视为撤回: fire ``trigger`` as the system, effective ``effective_on``."""

    ref: str
    clock: str
    cycle: int
    trigger: str
    effective_on: date
    case_type: str = ""


@dataclass(frozen=True, slots=True)
class Escalation:
    """Record ``rung`` for this cycle, reached on ``reached_on``; alert its recipients if ``alert``.

    ``caught_up`` (always ``not alert``): overtaken by a higher rung or by the lapse in the same
    evaluation (a sweep that ran late), or not above a rung already recorded; recorded for the
    audit trail, never sent.
    """

    ref: str
    clock: str
    cycle: int
    rung: Rung
    alert: bool
    caught_up: bool
    reached_on: date
    due_on: date
    case_type: str = ""


Decision = Lapse | Escalation


def _window_start(spec: ClockSpec, due_on: date, calendar: WorkCalendar) -> date:
    """The first legal date on which the time left to ``due_on`` is within the warning window.

    Calendar window: ``due_on - days``. Working window: the earliest ``w`` with
    ``working_days_between(w, due_on) <= days``, i.e. ``days`` working days counted back.
    """
    days, unit = spec.warning_window()
    if unit is Unit.CALENDAR:
        return due_on - timedelta(days=days)
    # A rest day shares its rank with the working day before it: count back from that one.
    anchor = due_on if calendar.is_workday(due_on) else calendar.add_working_days(due_on, -1)
    return calendar.add_working_days(anchor, -days) if days else anchor


def rung_dates(spec: ClockSpec, cycle: Cycle, calendar: WorkCalendar) -> dict[Rung, date]:
    """The first legal date on which each rung is reached by a running ``cycle``.

    A rung is reached at ``now`` when ``legal_date(now) >= rung_dates(...)[rung]``. A clock whose
    lapse is a system trigger has only ``due_soon``: from ``lapse_date`` on it lapses instead.
    ``due_soon`` is never before the cycle started.
    """
    if spec.notice:  # nobody owes it: no warning, no lateness, only the day it arises
        return {Rung.ARISEN: lapse_date(cycle)}
    dates = {Rung.DUE_SOON: max(_window_start(spec, cycle.due_on, calendar), cycle.started_on)}
    if spec.lapse == ESCALATE:
        dates[Rung.OVERDUE] = lapse_date(cycle)
        dates[Rung.OVERDUE_SERIOUS] = calendar.add_working_days(cycle.due_on, SERIOUS_AFTER)
    return dates


def lapse_date(cycle: Cycle) -> date:
    """The first legal date on which the cycle is past due: the day after ``due_on``."""
    return cycle.due_on + timedelta(days=1)


def gather_horizon(types: Mapping[str, CaseType], now: datetime, calendar: WorkCalendar) -> date:
    """The latest ``due_on`` of a running cycle that can get any decision at ``now``.

    The sweep may gather only running cycles with ``due_on <= gather_horizon(...)`` (an index on
    ``due_on``) and miss nothing: a lapse or an overdue rung needs ``due_on < legal_date(now)``,
    and ``due_soon`` needs ``now`` inside the warning window, whose widest reach over all clocks
    of ``types`` (the policy-applied declarations) is this bound. A working-day window of ``d``
    reaches every ``due_on`` before the ``(d + 1)``-th working day after today.
    """
    today = legal_date(now)
    horizon = today
    for case_type in types.values():
        for spec in case_type.clocks:
            days, unit = spec.warning_window()
            if unit is Unit.CALENDAR:
                bound = today + timedelta(days=days)
            else:
                bound = calendar.add_working_days(today, days + 1) - timedelta(days=1)
            horizon = max(horizon, bound)
    return horizon


def clocks_on_case(
    case_type: CaseType,
    ref: str,
    state: str,
    cycles: Iterable[Cycle],
    recorded: Mapping[tuple[str, int], frozenset[Rung]],
) -> list[ClockOnCase]:
    """The running cycles of a case as `evaluate` takes them; ``recorded`` by (clock, cycle)."""
    return [
        ClockOnCase(ref, case_type.name, state, case_type.clock_map[c.clock], c,
                    recorded.get((c.clock, c.cycle), frozenset()))
        for c in cycles
        if c.status is CycleStatus.RUNNING
    ]


def _decide(item: ClockOnCase, today: date, calendar: WorkCalendar) -> list[Decision]:
    cycle, spec = item.cycle, item.spec
    if cycle.status is not CycleStatus.RUNNING:
        return []
    dates = rung_dates(spec, cycle, calendar)
    new = [r for r in Rung if r in dates and dates[r] <= today and r not in item.rungs_recorded]
    lapsing = spec.lapses_by_trigger and today >= lapse_date(cycle)
    highest_recorded = max((r.level for r in item.rungs_recorded), default=-1)
    top = new[-1] if new and not lapsing and new[-1].level > highest_recorded else None
    decisions: list[Decision] = [
        Escalation(item.ref, cycle.clock, cycle.cycle, rung, alert=rung is top,
                   caught_up=rung is not top, reached_on=dates[rung], due_on=cycle.due_on,
                   case_type=item.case_type)
        for rung in new
    ]
    if lapsing:
        decisions.append(Lapse(item.ref, cycle.clock, cycle.cycle, spec.lapse,
                               spec.effective_on(cycle), item.case_type))
    return decisions


def _order(decision: Decision) -> tuple[str, str, int, int]:
    level = decision.rung.level if isinstance(decision, Escalation) else len(Rung)
    return (decision.ref, decision.clock, decision.cycle, level)


def evaluate(
    clocks: Iterable[ClockOnCase], now: datetime, calendar: WorkCalendar
) -> list[Decision]:
    """What the law and the bureau's rules require at ``now`` for these cycles.

    Pure and deterministic: ordered by case ref, clock, cycle, then rung (a cycle's `Lapse` after
    its rungs). Rungs already recorded are never decided again, so evaluating the same ``now``
    after applying the result decides nothing.
    """
    today = legal_date(now)
    decisions = [d for item in clocks for d in _decide(item, today, calendar)]
    decisions.sort(key=_order)
    return decisions
