"""Deadline enforcement (期限监督) as a service: gather -> decide (pure) -> apply.

`sweep` runs three phases, each a plain function (the Prefect flow runs them as tasks): `gather`
the running clock cycles that may be due soon or overdue at ``now`` (an indexed query up to
`gather_horizon`); `decide` what the law and the bureau's rules say (`states.escalation.evaluate`,
pure); `apply` each decision, a batch per transaction:

- a lapse fires its system trigger through the services (`services.apply_system_acts`: a
  batch of cases per transaction, a refused one skipped), dated the period's last day
  (视为受理 takes effect then, however late the sweep runs), recorded in the timeline;
- rungs are recorded together with their alerts in the outbox (one alert per recipient role),
  a batch of cycles per transaction; a rung already recorded (by an earlier or a concurrent
  sweep) is skipped by its unique key, so running the same sweep twice changes nothing the
  second time.

Lapses start new clocks dated in the past, which may already be due: the sweep gathers again
after applying lapses, until a pass applies none. No Prefect here: the flow wraps this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any, NamedTuple

from flows import services
from flows.context import Bureau
from models import deadlines
from models.deadlines import GatheredCycle
from states.calendar import legal_date
from states.clocks import Cycle
from states.errors import CaseflowError, InvalidInput
from states.escalation import (
    ClockOnCase,
    Escalation,
    Lapse,
    Rung,
    evaluate,
    gather_horizon,
    recipients,
)

SYSTEM = "system"
CLOCK_SKEW = timedelta(minutes=5)  # how far ahead of the real time a sweep's `now` may be
MAX_PASSES = 10
# Rungs are recorded for this many cycles per transaction: each rung row is idempotent by its
# unique key and its alerts are queued in the same transaction, so a batch is as safe as one
# cycle at a time, and one transaction per cycle measured 0.6 ms each (6 s for 10,000 cycles).
CYCLES_PER_TRANSACTION = 200
# Lapses likewise (`services.apply_system_acts`: a refused one changes nothing, the rest go on).
CASES_PER_TRANSACTION = 200
RouteFor = Callable[[str, str | None], str]


def default_route(role: str, department: str | None) -> str:
    """The outbox route of a recipient: the department's own where it has one (resolved when
    the alert is sent), else the role's."""
    return f"{department}/{role}" if department else role


@dataclass
class SweepReport:
    now: datetime
    lapsed: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    alerts_queued: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    # lapses and rungs another sweep (or a clerk's act, which applies lapses first) recorded
    # between this sweep's gathering and its writing: done, not failed
    already_applied: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: SweepReport) -> None:
        """Take in what one pass applied."""
        self.lapsed += other.lapsed
        self.escalations += other.escalations
        self.alerts_queued += other.alerts_queued
        self.failures += other.failures
        self.already_applied += other.already_applied

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "lapsed": self.lapsed,
            "escalations": self.escalations,
            "alerts_queued": self.alerts_queued,
            "failures": self.failures,
            "already_applied": self.already_applied,
        }


def sweep(
    bureau: Bureau, now: datetime, *, recorded_at: datetime | None = None,
    route_for: RouteFor = default_route, phases: Phases | None = None,
) -> SweepReport:
    """Enforce every statutory clock at ``now``; idempotent for the same ``now``. What it
    records is stamped ``recorded_at``, the real time (default ``now``).

    Each pass runs the three phases — `gather`, `decide`, `apply` — until a pass applies no
    lapse; ``phases`` lets a caller run them its own way (the Prefect flow runs each as a task
    with retries) with the very same loop."""
    recorded_at = now if recorded_at is None else recorded_at
    if now > recorded_at + CLOCK_SKEW:
        # a sweep in the future would apply lapses dated after today, which no clerk could
        # then act before (issue 12, item 1): whatever runs it, a flow run included
        raise InvalidInput(
            f"cannot sweep at {now.isoformat()}: it is later than the real time "
            f"{recorded_at.isoformat()}", [f"now<={(recorded_at + CLOCK_SKEW).isoformat()}"])
    run = phases or PLAIN
    report = SweepReport(now)
    for _ in range(MAX_PASSES):
        gathered = run.gather(bureau, now)
        decided = run.decide(bureau, gathered, now)
        applied = run.apply(bureau, decided, now, recorded_at, route_for)
        report.add(applied)
        if not applied.lapsed:
            break
    return report


@dataclass(frozen=True)
class Decided:
    """What the law and the bureau's rules say at ``now`` of the gathered cycles: the new rungs
    of each cycle, and the lapses in the order their cases are locked."""

    rungs: list[tuple[GatheredCycle, list[Escalation]]]
    lapses: list[Lapse]
    cycles: dict[tuple[str, str, int], GatheredCycle]


def gather(bureau: Bureau, now: datetime) -> list[GatheredCycle]:
    """The running cycles that may get a decision at ``now`` (an indexed query up to the
    gather horizon)."""
    horizon = gather_horizon(bureau.types, now, bureau.calendar)
    with bureau.unit_of_work(write=False) as uow:
        return deadlines.gather(uow.connection, horizon)


def decide(bureau: Bureau, gathered: list[GatheredCycle], now: datetime) -> Decided:
    """Pure: `states.escalation.evaluate` over the gathered cycles, grouped for writing."""
    decisions = evaluate(_clocks(bureau, gathered), now, bureau.calendar)
    cycles = {(g.ref, g.cycle.clock, g.cycle.cycle): g for g in gathered}
    rungs = [
        (cycles[key], list(group))
        for key, group in groupby((d for d in decisions if isinstance(d, Escalation)),
                                  key=lambda e: (e.ref, e.clock, e.cycle))
    ]
    # every batch locks cases in case-id order (rungs are written in key order too), so two
    # sweeps running at once on PostgreSQL cannot deadlock each other
    case_ids = {g.ref: g.case_id for g in gathered}
    lapses = sorted((d for d in decisions if isinstance(d, Lapse)),
                    key=lambda lapse: case_ids[lapse.ref])
    return Decided(rungs, lapses, cycles)


def apply(
    bureau: Bureau, decided: Decided, now: datetime, recorded_at: datetime,
    route_for: RouteFor = default_route,
) -> SweepReport:
    """Record the rungs with their alerts, then fire the lapses, a batch per transaction.
    Safe to run again: a rung or lapse recorded meanwhile is reported as already applied."""
    report = SweepReport(now)
    for start in range(0, len(decided.rungs), CYCLES_PER_TRANSACTION):
        _record_rungs(bureau, decided.rungs[start:start + CYCLES_PER_TRANSACTION], now,
                      recorded_at, route_for, report)
    for start in range(0, len(decided.lapses), CASES_PER_TRANSACTION):
        _apply_lapses(bureau, decided.lapses[start:start + CASES_PER_TRANSACTION],
                      decided.cycles, now, recorded_at, report)
    return report


class Phases(NamedTuple):
    """How a sweep runs its phases: as plain calls, or (the flow) as Prefect tasks."""

    gather: Callable[[Bureau, datetime], list[GatheredCycle]]
    decide: Callable[[Bureau, list[GatheredCycle], datetime], Decided]
    apply: Callable[[Bureau, Decided, datetime, datetime, RouteFor], SweepReport]


PLAIN = Phases(gather, decide, apply)


def _clocks(bureau: Bureau, gathered: list[GatheredCycle]) -> list[ClockOnCase]:
    return [
        ClockOnCase(
            ref=g.ref,
            case_type=g.case_type,
            state=g.state,
            spec=bureau.types[g.case_type].clock_map[g.cycle.clock],
            cycle=g.cycle,
            rungs_recorded=frozenset(Rung(r) for r in g.rungs),
        )
        for g in gathered
        if g.case_type in bureau.types and g.cycle.clock in bureau.types[g.case_type].clock_map
    ]


def _apply_lapses(
    bureau: Bureau,
    lapses: list[Lapse],
    gathered: dict[tuple[str, str, int], GatheredCycle],
    now: datetime,
    recorded_at: datetime,
    report: SweepReport,
) -> int:
    """Fire the lapses' system triggers, each dated as its clock declares."""
    acts = [services.SystemAct(x.ref, x.trigger, x.effective_on) for x in lapses]
    applied = 0
    for lapse, result in zip(lapses, services.apply_system_acts(bureau, acts, now=now,
                                                                          recorded_at=recorded_at),
                             strict=True):
        entry = {"ref": lapse.ref, "clock": lapse.clock, "effect": lapse.trigger,
                 "effective_on": lapse.effective_on.isoformat(),
                 "provisional": _provisional(bureau, gathered[lapse.ref, lapse.clock,
                                                              lapse.cycle].cycle)}
        if isinstance(result, CaseflowError):
            if _lapsed_meanwhile(bureau, lapse):
                report.already_applied.append({**entry, "kind": "lapse"})
            else:  # e.g. the case moved on by a path that does not answer this clock
                report.failures.append({**entry, "error": result.to_json()})
            continue
        applied += 1
        report.lapsed.append(entry)
    return applied


def _lapsed_meanwhile(bureau: Bureau, lapse: Lapse) -> bool:
    """Whether the cycle this lapse answers is no longer running: another sweep, or a clerk's
    act (which applies the lapses due before it), got there between gathering and writing."""
    try:
        case = services.get_case(bureau, lapse.ref).case
    except CaseflowError:
        return False
    return any(c.clock == lapse.clock and c.cycle == lapse.cycle and not c.live
               for c in case.cycles)


def _provisional(bureau: Bureau, cycle: Cycle) -> bool:
    """Whether the cycle's dates rest on a year without the State Council's notice."""
    return bureau.calendar.touches_provisional(cycle.started_on, cycle.due_on)


def _record_rungs(
    bureau: Bureau,
    groups: list[tuple[GatheredCycle, list[Escalation]]],
    now: datetime,
    recorded_at: datetime,
    route_for: RouteFor,
    report: SweepReport,
) -> None:
    """Some cycles' new rungs and their alerts, in one transaction."""
    rows = [
        {"case_id": gathered.case_id, "clock": r.clock, "cycle": r.cycle, "rung": r.rung.value,
         "reached_on": r.reached_on, "due_on": r.due_on, "alerted": r.alert,
         "caught_up": r.caught_up, "recorded_at": recorded_at}
        for gathered, rungs in groups
        for r in rungs
    ]
    with bureau.unit_of_work() as uow:
        new = deadlines.record_escalations(uow.connection, rows)
        recorded: list[Escalation] = []
        alerts: list[dict[str, Any]] = []
        for gathered, rungs in groups:
            spec = bureau.types[gathered.case_type].clock_map[gathered.cycle.clock]
            for rung in rungs:
                escalation_id = new.get((gathered.case_id, rung.clock, rung.cycle,
                                         rung.rung.value))
                if escalation_id is None:  # recorded already, by an earlier or parallel sweep
                    report.already_applied.append({
                        "kind": "rung", "ref": rung.ref, "clock": rung.clock,
                        "cycle": rung.cycle, "level": rung.rung.value})
                    continue
                recorded.append(rung)
                if rung.alert:
                    provisional = _provisional(bureau, gathered.cycle)
                    alerts.extend(
                        _alert_row(escalation_id, gathered, rung, spec.label, spec.basis, role,
                                   route_for(role, gathered.department), now, recorded_at,
                                   provisional)
                        for role in recipients(rung.rung)
                    )
        queued = deadlines.queue_alerts(uow.connection, alerts)
        uow.commit()
    report.alerts_queued += queued
    cycles = {(g.ref, g.cycle.clock, g.cycle.cycle): g.cycle for g, _ in groups}
    report.escalations.extend(
        {"ref": r.ref, "clock": r.clock, "level": r.rung.value, "cycle": r.cycle,
         "reached_on": r.reached_on.isoformat(), "alert": r.alert, "caught_up": r.caught_up,
         "provisional": _provisional(bureau, cycles[r.ref, r.clock, r.cycle])}
        for r in recorded
    )


def _alert_row(
    escalation_id: int,
    gathered: GatheredCycle,
    rung: Escalation,
    clock_label: str,
    basis: str,
    role: str,
    route: str,
    now: datetime,
    recorded_at: datetime,
    provisional: bool,
) -> dict[str, Any]:
    key = f"{gathered.ref}:{rung.clock}:{rung.cycle}:{rung.rung.value}:{role}"
    return {
        "escalation_id": escalation_id,
        "idempotency_key": key,
        "route": route,
        "recipient": role,
        "payload": {
            "ref": gathered.ref,
            "case_type": gathered.case_type,
            "clock": rung.clock,
            "clock_label": clock_label,
            "cycle": rung.cycle,
            "rung": rung.rung.value,
            "due_on": rung.due_on.isoformat(),
            "reached_on": rung.reached_on.isoformat(),
            "basis": basis,
            "judged_on": legal_date(now).isoformat(),
            "provisional": provisional,
        },
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": recorded_at,
        "created_at": recorded_at,
    }
