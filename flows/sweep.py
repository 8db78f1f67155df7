"""Deadline enforcement (期限监督) as a service: gather -> decide (pure) -> apply.

`sweep` gathers the running clock cycles that may be due soon or overdue at ``now`` (an indexed
query up to `gather_horizon`), asks `states.escalation.evaluate` what the law and the bureau's
rules say, and applies each decision in its own transaction:

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
from datetime import datetime
from itertools import groupby
from typing import Any

from flows import services
from flows.context import Bureau
from models import deadlines
from models.deadlines import GatheredCycle
from states.calendar import legal_date
from states.errors import CaseflowError
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

    def to_json(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "lapsed": self.lapsed,
            "escalations": self.escalations,
            "alerts_queued": self.alerts_queued,
            "failures": self.failures,
        }


def sweep(
    bureau: Bureau, now: datetime, *, recorded_at: datetime | None = None,
    route_for: RouteFor = default_route,
) -> SweepReport:
    """Enforce every statutory clock at ``now``; idempotent for the same ``now``. What it
    records is stamped ``recorded_at``, the real time (default ``now``)."""
    recorded_at = now if recorded_at is None else recorded_at
    report = SweepReport(now)
    for _ in range(MAX_PASSES):
        gathered = _gather(bureau, now)
        decisions = evaluate(_clocks(bureau, gathered), now, bureau.calendar)
        lapses = [d for d in decisions if isinstance(d, Lapse)]
        rungs = [d for d in decisions if isinstance(d, Escalation)]
        by_cycle = {(g.ref, g.cycle.clock, g.cycle.cycle): g for g in gathered}
        groups = [
            (by_cycle[key], list(group))
            for key, group in groupby(rungs, key=lambda e: (e.ref, e.clock, e.cycle))
        ]
        for start in range(0, len(groups), CYCLES_PER_TRANSACTION):
            _record_rungs(bureau, groups[start:start + CYCLES_PER_TRANSACTION], now,
                          recorded_at, route_for, report)
        # every batch locks cases in case-id order (rungs are written in key order too), so
        # two sweeps running at once on PostgreSQL cannot deadlock each other
        case_ids = {g.ref: g.case_id for g in gathered}
        lapses.sort(key=lambda lapse: case_ids[lapse.ref])
        applied = 0
        for start in range(0, len(lapses), CASES_PER_TRANSACTION):
            applied += _apply_lapses(bureau, lapses[start:start + CASES_PER_TRANSACTION], now,
                                     recorded_at, report)
        if not applied:
            break
    return report


def _gather(bureau: Bureau, now: datetime) -> list[GatheredCycle]:
    horizon = gather_horizon(bureau.types, now, bureau.calendar)
    with bureau.unit_of_work(write=False) as uow:
        return deadlines.gather(uow.connection, horizon)


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
    bureau: Bureau, lapses: list[Lapse], now: datetime, recorded_at: datetime,
    report: SweepReport,
) -> int:
    """Fire the lapses' system triggers, dated the periods' last days."""
    acts = [services.SystemAct(x.ref, x.trigger, x.effective_on) for x in lapses]
    applied = 0
    for lapse, result in zip(lapses, services.apply_system_acts(bureau, acts, now=now,
                                                                          recorded_at=recorded_at),
                             strict=True):
        if isinstance(result, CaseflowError):  # e.g. the case moved on meanwhile
            report.failures.append({"ref": lapse.ref, "clock": lapse.clock,
                                    "effect": lapse.trigger, "error": result.to_json()})
            continue
        applied += 1
        report.lapsed.append({"ref": lapse.ref, "clock": lapse.clock, "effect": lapse.trigger,
                              "effective_on": lapse.effective_on.isoformat()})
    return applied


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
                    continue
                recorded.append(rung)
                if rung.alert:
                    alerts.extend(
                        _alert_row(escalation_id, gathered, rung, spec.label, spec.basis, role,
                                   route_for(role, gathered.department), now, recorded_at)
                        for role in recipients(rung.rung)
                    )
        queued = deadlines.queue_alerts(uow.connection, alerts)
        uow.commit()
    report.alerts_queued += queued
    report.escalations.extend(
        {"ref": r.ref, "clock": r.clock, "level": r.rung.value, "cycle": r.cycle,
         "reached_on": r.reached_on.isoformat(), "alert": r.alert, "caught_up": r.caught_up}
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
        },
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": recorded_at,
        "created_at": recorded_at,
    }
