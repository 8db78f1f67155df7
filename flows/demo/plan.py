"""The demo bureau's half-year, planned: who does what, when (DESIGN §8). Pure and seeded.

`plan(seed, calendar)` returns every act of a district bureau shaped like the seed, from the
first reconsideration applications of October 2023 (the carry-over) to the end of June 2024:
openings and the clerks' and supervisors' triggers, each dated (its legal date) and timed (the
simulated instant it is recorded at), and the mornings the deadline sweep runs. It reads no
clock, no database and no global random state: the same seed gives the same plan.

The plan keeps to the law as implemented, so that the engine refuses none of it:

- a clerk who lets the acceptance review (受理审查, 5 working days) run out does nothing more on
  the case until it has been 视为受理 by law, on the review's last day — the sweep records it the
  next morning, or the clerk's next act does (a lapse comes before any later act);
- an applicant who never supplements is 视为放弃 (reconsideration) or 视为撤回 (legal aid) the day
  after the last day, by the sweep; those who do, post in time and the clerk records it in time;
- legal aid's ``close`` comes after ``receive_closing_materials``;
- a late clerk is late only where lateness has no legal effect but an escalation (sending the
  copy, deciding, assigning a lawyer): the sweep records 预警/逾期/严重逾期 and queues alerts.

Calibration. The seed figures (DESIGN §7) are reached by construction, not by luck: the
admission date of every reconsideration and complaint follows from its path (the accept date,
or the review's last day for 视为受理, computed on the same calendar), and closures are then
assigned to hit the figures exactly — the earliest admissions of 2023 close in 2023 until the
handled population is 647, the cases with the latest natural closing dates stay open at the
period's end, and 239 of the 507 closed ones are withdrawals. `Plan.expected` are the figures
the plan aims at; the report computed from the recorded events must give the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flows.demo import lifecycles
from flows.demo.planning import (
    CP_CLOSED,
    CP_HANDLED,
    DEFAULT_SEED,
    FIRST_DAY,
    H1,
    LAST_DAY,
    OPEN,
    PREFIX,
    RC_CLOSED,
    RC_HANDLED,
    RC_PERIOD,
    RC_WITHDRAWN,
    SWEEP_AT,
    Act,
    Planner,
)
from states.calendar import SHANGHAI, WorkCalendar

__all__ = ["DEFAULT_SEED", "FIRST_DAY", "H1", "LAST_DAY", "OPEN", "PREFIX", "RC_PERIOD", "Act",
           "Expected", "Plan", "plan"]


@dataclass(frozen=True)
class Expected:
    """A row of the seed figures the plan is calibrated to."""

    case_type: str
    start: date
    end: date
    handled: int
    closed: int
    withdrawn: int | None = None


@dataclass(frozen=True)
class Plan:
    seed: int
    acts: tuple[Act, ...]  # in the order they happen
    sweeps: tuple[datetime, ...]  # the instants the deadline sweep runs
    expected: tuple[Expected, ...]
    sample_ref: str  # a case whose timeline tells the story (视为受理, escalations, decision)
    cases: int


# -- the plan ------------------------------------------------------------------------------------

def plan(seed: int = DEFAULT_SEED, calendar: WorkCalendar | None = None) -> Plan:
    """Every act of the demo bureau's half-year, in order, and the sweeps between them."""
    from states.calendar import default_calendar

    p = Planner(seed, calendar or default_calendar())
    rc, sample = lifecycles.reconsideration(p)
    cases = rc + lifecycles.complaints(p) + lifecycles.legal_aid(p)
    acts = sorted((a for c in cases for a in c.acts(p.rng)), key=_order)
    sweeps = tuple(datetime.combine(day, SWEEP_AT, tzinfo=SHANGHAI)
                   for day in p.workdays(FIRST_DAY, LAST_DAY + timedelta(days=1)))
    expected = (
        Expected("reconsideration", *RC_PERIOD, RC_HANDLED, RC_CLOSED, RC_WITHDRAWN),
        Expected("complaint", *H1, CP_HANDLED, CP_CLOSED),
    )
    return Plan(seed, tuple(acts), sweeps, expected, sample, len(cases))


def _order(act: Act) -> tuple[datetime, str]:
    return act.at, act.ref
