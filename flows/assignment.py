"""指派 — the assignment flow: every approved legal-aid case gets a lawyer of the pool.

gather -> decide -> apply, like the deadline sweep:

- `gather` reads the cases waiting in `approved` with their running assignment clock (3 days,
  法律援助法 第三十六条、第四十三条), the pool as it stands on the legal date of ``now``, and
  who declined or was replaced on each case;
- `decide` is `states.assignment.plan` (pure): most urgent clock first, one pass that keeps each
  lawyer's load and place in the rotation current as it goes;
- `apply` fires `assign` through the services (the gate is checked again there, in the
  transaction that writes, so a pool changed in between cannot slip a lawyer through), a chunk
  of cases per transaction; the reasons go on the event.

A case no lawyer can take stays `approved`: it is reported with the count each gate kept out,
and its assignment clock keeps running, so the deadline sweep escalates it (预警, 逾期, 严重逾期)
like any other overdue clock — no second mechanism.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flows import services
from flows.context import Bureau
from flows.pool import POOL_TYPE
from models import lawyers as store
from models import repository
from models.errors import Conflict
from models.repository import StoredCase
from states.assignment import CaseNeed, Choice, NoLawyer, PoolLawyer, choose, need_of, plan
from states.calendar import legal_date
from states.errors import CaseflowError, RuleViolation, TriggerNotAllowed
from states.lapses import LapsedFirst
from states.roles import Identity, may_run_assignment

CLOCK = "assignment"
CHUNK = 500  # cases per transaction
SYSTEM_BY = "system"


@dataclass(frozen=True)
class Waiting:
    """An approved case waiting for a lawyer, its assignment clock due on ``due_on``."""

    ref: str
    due_on: date
    need: CaseNeed


@dataclass(frozen=True)
class Gathered:
    on: date
    pool: list[PoolLawyer]
    waiting: list[Waiting]


@dataclass
class AssignmentReport:
    now: datetime
    assigned: list[dict[str, Any]] = field(default_factory=list)
    unassigned: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # no longer waiting

    def to_json(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "assigned": self.assigned,
                "unassigned": self.unassigned, "skipped": self.skipped}


def gather(bureau: Bureau, now: datetime) -> Gathered:
    """The waiting cases, most urgent assignment clock first (ties by case id), and the pool
    on ``now``'s date."""
    on = legal_date(now)
    with bureau.unit_of_work(write=False) as uow:
        rows = store.waiting(uow.connection, POOL_TYPE, CLOCK)
        excluded = store.excluded(uow.connection, [r.id for r in rows])
        pool = store.pool(uow.connection, on)
    waiting = [Waiting(r.ref, r.due_on, need_of(r.ref, on, r.attrs, excluded.get(r.id, ())))
               for r in rows]
    return Gathered(on, pool, waiting)


def decide(gathered: Gathered) -> list[Choice | NoLawyer]:
    return plan(gathered.pool, [w.need for w in gathered.waiting])


def apply(bureau: Bureau, gathered: Gathered, decisions: Sequence[Choice | NoLawyer], *,
          now: datetime, recorded_at: datetime | None = None, by: str = SYSTEM_BY
          ) -> AssignmentReport:
    """Fire `assign` for each choice, `CHUNK` cases per transaction, in the order of
    ``decisions`` (`decide` keeps `gather`'s). A case someone else moved meanwhile is skipped.

    Another pass may run at once (the schedule and a supervisor's 指派 Assign now) with another
    plan for the same cases. Each transaction first locks the rows of every lawyer its choices
    name, in id order, then writes its cases in `gather`'s order: both passes take their locks
    in one order, so the second waits for the first instead of PostgreSQL failing one of them
    as a deadlock (case by case, each write locks its lawyer then its case, and two plans
    naming the lawyers in opposite orders cross)."""
    report = AssignmentReport(now)
    choices = [d for d in decisions if isinstance(d, Choice)]
    for d in decisions:
        if isinstance(d, NoLawyer):
            report.unassigned.append({"ref": d.ref, "reason": d.reason,
                                      "gates": {g.value: n for g, n in d.kept_out.items()}})
    for start in range(0, len(choices), CHUNK):
        chunk = choices[start:start + CHUNK]
        with bureau.unit_of_work() as uow:
            store.lock(uow.connection, (choice.lawyer.id for choice in chunk))
            for choice in chunk:
                try:
                    services.advance_in(
                        uow, bureau, choice.ref, "assign", on=gathered.on,
                        attrs={"lawyer": str(choice.lawyer.id)},
                        reason="; ".join(choice.reasons), by=by,
                        now=recorded_at or now, by_system=True)
                except (TriggerNotAllowed, Conflict) as moved:
                    # a clerk (or another run) acted on the case since it was gathered
                    report.skipped.append({"ref": choice.ref, "reason": moved.message})
                    continue
                except CaseflowError as error:  # the pool changed: the gate refused
                    report.unassigned.append({"ref": choice.ref, "reason": error.message,
                                              "gates": {}})
                    continue
                report.assigned.append({
                    "ref": choice.ref, "lawyer": choice.lawyer.id, "name": choice.lawyer.name,
                    "reasons": list(choice.reasons),
                    "alternatives": [a.lawyer.id for a in choice.alternatives]})
            uow.commit()
    return report


@dataclass(frozen=True)
class Phases:
    """The flow's phases; the Prefect wrapper passes them as tasks."""

    gather: Callable[[Bureau, datetime], Gathered] = gather
    decide: Callable[[Gathered], list[Choice | NoLawyer]] = decide
    apply: Callable[..., AssignmentReport] = apply


def assign_legal_aid(bureau: Bureau, now: datetime, *, recorded_at: datetime | None = None,
                     phases: Phases | None = None, by: str = SYSTEM_BY) -> AssignmentReport:
    """指派: give every approved legal-aid case a lawyer of the pool, as of ``now``; ``by``
    is recorded on the events (the system's schedule, or the person who ran the pass)."""
    steps = phases or Phases()
    gathered = steps.gather(bureau, now)
    decisions = steps.decide(gathered)
    return steps.apply(bureau, gathered, decisions, now=now, recorded_at=recorded_at, by=by)


def run_assignment(bureau: Bureau, now: datetime, who: Identity | None) -> AssignmentReport:
    """The pass run by a person from the API or the pages: judged first
    (`states.roles.may_run_assignment`: supervisors, leaders, clerks of a department that
    works legal-aid cases), then run as the schedule runs it, their name on the events."""
    person = runner(bureau, who)
    return assign_legal_aid(bureau, now, by=person.name if person else SYSTEM_BY)


def runner(bureau: Bureau, who: Identity | None) -> Identity | None:
    """``who`` if they may run the pass (None with no user directory), else `RoleNotAllowed`."""
    with bureau.unit_of_work(write=False) as uow:
        person = services.acting(uow.connection, who)
        departments = store.departments_of(uow.connection, POOL_TYPE)
    if person is not None:
        may_run_assignment(person, departments)
    return person


class NoEligibleLawyer(RuleViolation):
    """No lawyer of the pool may take the case now: the reason names each gate."""

    code = "no_eligible_lawyer"


def assign_one(bureau: Bureau, ref: str, *, on: date, by: str, now: datetime) -> StoredCase:
    """指派 one case to the lawyer the policy chooses, in one unit of work: a clerk's act (the
    lapses due by ``on`` come first, as in `services.advance`), the reasons on the event."""
    services.not_in_future(on, now)
    with bureau.unit_of_work() as uow:
        stored = repository.load(uow.connection, ref)
        excluded = store.excluded(uow.connection, [stored.id]).get(stored.id, set())
        choice = choose(store.pool(uow.connection, on),
                        need_of(ref, on, stored.case.attrs, excluded))
        if isinstance(choice, NoLawyer):
            raise NoEligibleLawyer(f"case {ref}: {choice.reason}", ["caseflow lawyer add"])
        try:
            stored = services.advance_in(uow, bureau, ref, "assign", on=on,
                                         attrs={"lawyer": str(choice.lawyer.id)},
                                         reason="; ".join(choice.reasons), by=by, now=now)
        except LapsedFirst:
            uow.commit()  # the lapses are facts, whatever becomes of the assignment
            raise
        uow.commit()
    return stored
