"""指派 — choosing a legal-aid lawyer from the pool (律师库), pure and explainable.

The bureau must assign a lawyer within 3 days of granting aid (法律援助法 第四十三条) or of a
notice (第三十六条). Who gets the case is decided here, from plain values the store gathered:

1. **Hard gates** (`gates`), each a reason a lawyer may not take *this* case on *this* date:
   suspended (停止执业/暂停指派), on leave that day (请假), no practice in the case's ``matter``,
   a conflict of interest with the applicant or the opposing party (利益冲突), full (at
   capacity), or already declined or replaced on this case (拒绝指派/更换).
2. **Score** among those who pass, lexicographically: longest since their last assignment
   (轮流指派, rotation fairness), then the lightest current load, then specialty (the case's
   matter is their first practice area), then the lowest id — a deterministic tie-break.

`choose` returns the choice with its reasons and the ranked alternatives, or `NoLawyer` with
the count of lawyers each gate kept out. `plan` assigns many cases in one pass, keeping loads
and rotation current as it goes, so that equal lawyers share the work evenly.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from enum import StrEnum

from states.errors import RuleViolation


class Gate(StrEnum):
    """A hard gate a lawyer failed, with the clerk's word for it (`GATE_LABELS`)."""

    SUSPENDED = "suspended"
    ON_LEAVE = "on_leave"
    AREA = "area"
    CONFLICT = "conflict"
    FULL = "full"
    DECLINED = "declined"


# the practice areas (业务领域) a legal-aid pool commonly records, as a clerk names them; a pool
# may record others, shown by their own name
AREA_LABELS: Mapping[str, str] = {
    "criminal": "刑事", "civil": "民事", "administrative": "行政", "labor": "劳动争议",
    "family": "婚姻家事",
}

GATE_LABELS: Mapping[Gate, str] = {
    Gate.SUSPENDED: "suspended 暂停指派",
    Gate.ON_LEAVE: "on leave 请假",
    Gate.AREA: "does not practise the matter 业务领域不符",
    Gate.CONFLICT: "conflict of interest 利益冲突",
    Gate.FULL: "at capacity 已满额",
    Gate.DECLINED: "declined or was replaced on this case 已拒绝/被更换",
}


class LawyerNotEligible(RuleViolation):
    """`assign` named a lawyer the pool's gates refuse for this case: exit 3, nothing changed."""

    code = "lawyer_not_eligible"


@dataclass(frozen=True, slots=True)
class Leave:
    """请假: the lawyer takes no assignment from ``start`` to ``end``, both included."""

    start: date
    end: date

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True, slots=True)
class PoolLawyer:
    """A lawyer of the pool as the policy sees them on one day.

    ``conflicts``: the parties they may not act for or against, as `party_key`s; ``load``: the
    cases they hold now (assigned or in service); ``last_assigned_on`` and
    ``turn`` (a number that grows with every assignment, 0 when never) place them in the
    rotation: the smaller, the longer since their last assignment."""

    id: int
    name: str
    areas: tuple[str, ...]
    capacity: int
    active: bool = True
    leaves: tuple[Leave, ...] = ()
    conflicts: frozenset[str] = frozenset()
    load: int = 0
    last_assigned_on: date | None = None
    turn: int = 0
    firm: str = ""


@dataclass(frozen=True, slots=True)
class CaseNeed:
    """What one case asks of a lawyer on the assignment date ``on``: its ``matter``, its
    parties (applicant, opposing party) and the lawyers who declined or were replaced on it."""

    ref: str
    on: date
    matter: str | None
    parties: frozenset[str] = frozenset()
    excluded: frozenset[int] = frozenset()


def party_key(name: str) -> str:
    """Names are compared as a clerk would: case and surrounding or repeated spaces aside."""
    return " ".join(name.split()).casefold()


def need_of(ref: str, on: date, attrs: Mapping[str, object],
            excluded: Iterable[int] = ()) -> CaseNeed:
    """A legal-aid case's need, from its attributes (``matter``, ``applicant``,
    ``opposing_party``: CONTRACT.md, "Legal-aid lawyers and assignment")."""
    parties = frozenset(party_key(str(attrs[k])) for k in ("applicant", "opposing_party")
                        if attrs.get(k) not in (None, ""))
    matter = attrs.get("matter")
    return CaseNeed(ref, on, None if matter in (None, "") else str(matter).strip(), parties,
                    frozenset(excluded))


def gates(lawyer: PoolLawyer, need: CaseNeed) -> tuple[Gate, ...]:
    """The hard gates ``lawyer`` fails for ``need``, in the order a clerk checks them."""
    failed: list[Gate] = []
    if not lawyer.active:
        failed.append(Gate.SUSPENDED)
    if any(leave.covers(need.on) for leave in lawyer.leaves):
        failed.append(Gate.ON_LEAVE)
    # a case that names no matter can be taken by any practice area
    if need.matter is not None and need.matter not in lawyer.areas:
        failed.append(Gate.AREA)
    if lawyer.conflicts & need.parties:
        failed.append(Gate.CONFLICT)
    if lawyer.load >= lawyer.capacity:
        failed.append(Gate.FULL)
    if lawyer.id in need.excluded:
        failed.append(Gate.DECLINED)
    return tuple(failed)


RankKey = tuple[date, int, int, int, int]
ALTERNATIVES = 3  # the ranked others a choice names


def _rank_key(lawyer: PoolLawyer, matter: str | None) -> RankKey:
    specialist = 0 if matter is not None and lawyer.areas[:1] == (matter,) else 1
    return (lawyer.last_assigned_on or date.min, lawyer.turn, lawyer.load, specialist,
            lawyer.id)


@dataclass(frozen=True, slots=True)
class Ranked:
    """An eligible lawyer in the ranking, with why they stand where they do."""

    lawyer: PoolLawyer
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Choice:
    """The lawyer chosen for a case, why, and the eligible others in rank order."""

    ref: str
    lawyer: PoolLawyer
    reasons: tuple[str, ...]
    alternatives: tuple[Ranked, ...] = ()


@dataclass(frozen=True, slots=True)
class NoLawyer:
    """No lawyer of the pool passes the gates: how many each gate kept out (a lawyer failing
    several counts under each)."""

    ref: str
    kept_out: Mapping[Gate, int] = field(default_factory=dict)
    pool: int = 0

    @property
    def reason(self) -> str:
        if not self.pool:
            return "no eligible lawyer: the pool is empty 律师库为空"
        parts = [f"{n} {GATE_LABELS[g]}" for g, n in self.kept_out.items()]
        return f"no eligible lawyer among {self.pool}: " + ", ".join(parts)


def _explain(lawyer: PoolLawyer, need: CaseNeed) -> tuple[str, ...]:
    last = lawyer.last_assigned_on
    area = need.matter if need.matter is not None else "any (the case names no matter)"
    return (
        f"passes every gate: active, not on leave on {need.on.isoformat()}, practises {area}, "
        f"no conflict with the parties, never declined this case",
        "rotation 轮流指派: " + (f"last assigned {last.isoformat()}" if last else
                              "never assigned yet") + ", the longest wait of those eligible",
        f"load 在办 {lawyer.load} of {lawyer.capacity}",
        "specialty 专长: " + (f"{need.matter} is their first area" if need.matter is not None
                            and lawyer.areas[:1] == (need.matter,) else
                            "general (" + ", ".join(lawyer.areas) + ")"),
    )


def _choice(need: CaseNeed, ranked: Sequence[PoolLawyer]) -> Choice:
    first, *others = ranked
    return Choice(need.ref, first, _explain(first, need),
                  tuple(Ranked(o, _explain(o, need)[1:]) for o in others[:ALTERNATIVES]))


def choose(pool: Sequence[PoolLawyer], need: CaseNeed) -> Choice | NoLawyer:
    """The lawyer for ``need``: the first of the ranking among those who pass every gate."""
    kept_out: Counter[Gate] = Counter()
    eligible: list[PoolLawyer] = []
    for lawyer in pool:
        failed = gates(lawyer, need)
        kept_out.update(failed)
        if not failed:
            eligible.append(lawyer)
    if not eligible:
        ordered = {g: kept_out[g] for g in Gate if kept_out[g]}
        return NoLawyer(need.ref, ordered, len(pool))
    eligible.sort(key=lambda lawyer: _rank_key(lawyer, need.matter))
    return _choice(need, eligible)


def not_in_pool(named: str) -> LawyerNotEligible:
    return LawyerNotEligible(
        f"lawyer {named!r} is not in the legal-aid lawyer pool 律师库; assign a lawyer of the "
        "pool by id", ["caseflow lawyer list", "caseflow assign"])


def check(lawyer: PoolLawyer | None, need: CaseNeed, named: str) -> None:
    """Refuse (`LawyerNotEligible`) a lawyer named for ``need`` who is not in the pool or
    fails a gate; whoever fires `assign` (a clerk, the flow, an import) goes through this."""
    if lawyer is None:
        raise not_in_pool(named)
    failed = gates(lawyer, need)
    if failed:
        why = "; ".join(GATE_LABELS[g] for g in failed)
        raise LawyerNotEligible(
            f"lawyer {lawyer.id} ({lawyer.name}) may not take case {need.ref} on "
            f"{need.on.isoformat()}: {why}", ["caseflow assign", "caseflow lawyer show ID"])


def assigned(lawyer: PoolLawyer, on: date, turn: int) -> PoolLawyer:
    """The lawyer after taking one more case on ``on``: their load and place in the rotation."""
    return replace(lawyer, load=lawyer.load + 1, last_assigned_on=on, turn=turn)


def _available(lawyer: PoolLawyer, on: date, matter: str | None) -> bool:
    """The gates that do not depend on the case's parties or history: active, not on leave,
    practises the matter, below capacity."""
    return (lawyer.active and lawyer.load < lawyer.capacity
            and (matter is None or matter in lawyer.areas)
            and not any(leave.covers(on) for leave in lawyer.leaves))


class _Rotation:
    """The lawyers available for one (date, matter), in rank order: a heap whose entries go
    stale when their lawyer takes a case (a newer entry is pushed with the new rank)."""

    def __init__(self, lawyers: Iterable[PoolLawyer], on: date, matter: str | None) -> None:
        self.on, self.matter = on, matter
        self.heap = [(_rank_key(w, matter), w.turn, w.id) for w in lawyers
                     if _available(w, on, matter)]
        heapq.heapify(self.heap)

    def offer(self, lawyer: PoolLawyer) -> None:
        if _available(lawyer, self.on, self.matter):
            heapq.heappush(self.heap, (_rank_key(lawyer, self.matter), lawyer.turn, lawyer.id))

    def ranked(self, current: Mapping[int, PoolLawyer], need: CaseNeed) -> list[PoolLawyer]:
        """The first lawyers in rank order who pass every gate for ``need`` (the chosen one and
        the alternatives); the others met on the way stay for later cases."""
        passed: list[PoolLawyer] = []
        kept: list[tuple[RankKey, int, int]] = []
        while self.heap and len(passed) <= ALTERNATIVES:
            entry = heapq.heappop(self.heap)
            lawyer = current[entry[2]]
            if lawyer.turn != entry[1] or lawyer.load >= lawyer.capacity:
                continue  # stale, or full for the rest of the pass (loads only grow in it)
            kept.append(entry)
            if not (lawyer.conflicts & need.parties) and lawyer.id not in need.excluded:
                passed.append(lawyer)
        for entry in kept:
            heapq.heappush(self.heap, entry)
        return passed


def plan(pool: Sequence[PoolLawyer], needs: Sequence[CaseNeed]) -> list[Choice | NoLawyer]:
    """Assign ``needs`` in the order given (most urgent first), one pass: each choice raises
    its lawyer's load and sends them to the back of the rotation before the next case. The
    result is `choose`'s for each case in turn on the pool as the earlier choices left it; the
    lawyers available per date and matter are kept in rank order, so a case costs a few heap
    steps rather than a look at every lawyer."""
    current = {lawyer.id: lawyer for lawyer in pool}
    turn = max((lawyer.turn for lawyer in pool), default=0)
    rotations: dict[tuple[date, str | None], _Rotation] = {}
    results: list[Choice | NoLawyer] = []
    for need in needs:
        rotation = rotations.get((need.on, need.matter))
        if rotation is None:
            rotation = _Rotation(current.values(), need.on, need.matter)
            rotations[(need.on, need.matter)] = rotation
        ranked = rotation.ranked(current, need)
        if not ranked:  # nobody: say which gate kept each lawyer out
            results.append(choose(list(current.values()), need))
            continue
        choice = _choice(need, ranked)
        turn += 1
        taken = assigned(choice.lawyer, need.on, turn)
        current[taken.id] = taken
        for other in rotations.values():
            other.offer(taken)
        results.append(choice)
    return results
