"""Driving a plan through the engine: the real services and the real sweep, day by day.

Every act goes through `flows.services` (`open_case`, `advance`) with ``now`` the simulated
instant it happens at, so the services judge it as of that moment (they refuse an act dated
after ``now``'s legal date) and record it at that instant: the demo's own data carry simulated
``recorded_at`` stamps, from 2023-10-09 to 2024-07-01, not the real time. Each working morning
the deadline sweep (`flows.sweep.sweep`, the body of the Prefect flow) runs at that morning's
instant, applies what had lapsed in law (视为受理, 视为放弃, 视为撤回, each on its own legal date),
records escalations and queues their alerts, which `deliver` (given by the caller) sends.

A plan the engine refuses is a bug in the plan: the first refusal stops the run, naming the
act (`PlanRefused`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flows import pool, services
from flows.assignment import assign_one
from flows.context import Bureau
from flows.demo.plan import OPEN, Act, Plan
from flows.demo.planning import CONFLICTS, LAWYERS, LEAVES
from flows.sweep import sweep
from models.lawyers import NewLawyer
from states.errors import CaseflowError

Deliver = Callable[[datetime], Any]
Progress = Callable[[datetime, int], None]  # (simulated instant, acts done so far)


class PlanRefused(RuntimeError):
    """The engine refused an act of the plan: the plan broke a rule it should keep."""


@dataclass
class Simulated:
    """What the run did."""

    acts: int = 0
    sweeps: int = 0
    lapsed: dict[str, int] = field(default_factory=dict)  # system trigger -> count
    escalations: dict[str, int] = field(default_factory=dict)  # rung -> count
    alerts_queued: int = 0
    sweep_failures: int = 0


def simulate(bureau: Bureau, plan: Plan, *, deliver: Deliver | None = None,
             progress: Progress | None = None) -> Simulated:
    """Run every act of ``plan`` and every sweep between them, in time order."""
    done = Simulated()
    fill_pool(bureau, plan.acts[0].at if plan.acts else datetime.now(UTC))
    acts = plan.acts
    i = 0
    for morning in plan.sweeps:
        while i < len(acts) and acts[i].at < morning:
            _apply(bureau, acts[i])
            i += 1
        _sweep(bureau, morning, done)
        if deliver is not None:
            deliver(morning)
        done.acts = i
        if progress is not None:
            progress(morning, i)
    for act in acts[i:]:
        _apply(bureau, act)
    done.acts = len(acts)
    return done


def fill_pool(bureau: Bureau, at: datetime) -> None:
    """The demo bureau's lawyer pool (律师库), with its leave and conflicts, once."""
    if pool.list_lawyers(bureau):
        return
    pool.add_lawyers(bureau, [NewLawyer(name, firm, areas, capacity)
                              for name, firm, areas, capacity in LAWYERS], now=at)
    for lawyer, start, end in LEAVES:
        pool.add_leave(bureau, lawyer, start, end)
    for lawyer, party in CONFLICTS:
        pool.add_conflict(bureau, lawyer, party)


def _apply(bureau: Bureau, act: Act) -> None:
    try:
        if act.trigger == "assign":
            # 指派 by the pool's policy (the plan's own draw of a lawyer is not used)
            assign_one(bureau, act.ref, on=act.on, by=act.by, now=act.at)
        elif act.trigger == OPEN:
            services.open_case(bureau, act.case_type, on=act.on, attrs=act.attrs, ref=act.ref,
                               by=act.by, now=act.at)
        else:
            services.advance(bureau, act.ref, act.trigger, on=act.on, attrs=act.attrs or None,
                             reason=act.reason, by=act.by, now=act.at)
    except CaseflowError as error:
        raise PlanRefused(f"the plan's {act.trigger} of {act.ref} on {act.on.isoformat()} "
                          f"was refused: {error.message}") from error


def _sweep(bureau: Bureau, morning: datetime, done: Simulated) -> None:
    report = sweep(bureau, morning, recorded_at=morning)
    done.sweeps += 1
    done.alerts_queued += report.alerts_queued
    done.sweep_failures += len(report.failures)
    for item in report.lapsed:
        done.lapsed[item["effect"]] = done.lapsed.get(item["effect"], 0) + 1
    for item in report.escalations:
        done.escalations[item["level"]] = done.escalations.get(item["level"], 0) + 1
