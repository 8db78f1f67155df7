"""The legal-aid lawyer pool in the store (律师库): lawyers, leave, conflicts and offers.

Functions take the unit of work's connection and never commit. What the policy reads
(`states.assignment.PoolLawyer`) is gathered here; what an assignment changes — the offer, its
outcome, the lawyer's load and place in the rotation — is written here, in the transaction of
the event that caused it (`record_offers`, called by `flows.services`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from models.rows import select_rows
from models.tables import (
    LawyerLeaveRow,
    LawyerRow,
    cases,
    clock_cycles,
    events,
    lawyer_conflicts,
    lawyer_leaves,
    lawyer_offers,
    lawyers,
)
from states.assignment import Leave, PoolLawyer, party_key
from states.case import DomainEvent
from states.clocks import CycleStatus
from states.errors import NotFound


class LawyerNotFound(NotFound):
    code = "lawyer_not_found"

    def __init__(self, lawyer: int) -> None:
        super().__init__(f"no lawyer {lawyer!r} in the pool 律师库",
                         ["caseflow lawyer list"])


class Outcome:
    """What became of an offer (指派): its ``outcome`` column."""

    OFFERED = "offered"  # assigned, the agreement not yet signed
    ACCEPTED = "accepted"  # 签订委托协议
    DECLINED = "declined"  # 拒绝指派, with the reason
    REPLACED = "replaced"  # 更换承办人员 (法律援助法 第五十五条)


# offers that keep a lawyer off the case for good (CONTRACT.md: never offered again)
EXCLUDING = (Outcome.DECLINED, Outcome.REPLACED)


@dataclass(frozen=True, slots=True)
class NewLawyer:
    name: str
    firm: str
    areas: tuple[str, ...]
    capacity: int
    active: bool = True


def lawyer_id(text: object) -> int | None:
    """The pool id a ``lawyer=`` attribute names, or None when it names none (not a number)."""
    value = str(text).strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) < 16 else None


def add_lawyers(connection: sa.Connection, new: Sequence[NewLawyer], *, now: datetime
                ) -> list[int]:
    """Store new lawyers; their ids in order."""
    ids: list[int] = []
    for lawyer in new:
        ids.append(int(connection.execute(sa.insert(lawyers).returning(lawyers.c.id), {
            "name": lawyer.name, "firm": lawyer.firm, "areas": list(lawyer.areas),
            "capacity": lawyer.capacity, "active": lawyer.active, "open_cases": 0,
            "last_assigned_on": None, "last_offer_id": 0, "created_at": now,
        }).scalar_one()))
    return ids


def lawyer_row(connection: sa.Connection, lawyer: int) -> LawyerRow:
    found = select_rows(connection, select(LawyerRow).where(LawyerRow.id == lawyer))
    if not found:
        raise LawyerNotFound(lawyer)
    return found[0]


def known_ids(connection: sa.Connection, ids: Iterable[int]) -> set[int]:
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    return set(connection.execute(sa.select(lawyers.c.id).where(lawyers.c.id.in_(wanted)))
               .scalars())


def lawyer_rows(connection: sa.Connection) -> list[LawyerRow]:
    return select_rows(connection, select(LawyerRow).order_by(col(LawyerRow.id)))


def set_active(connection: sa.Connection, lawyer: int, active: bool) -> None:
    lawyer_row(connection, lawyer)
    connection.execute(sa.update(lawyers).where(lawyers.c.id == lawyer).values(active=active))


def add_leave(connection: sa.Connection, lawyer: int, start: date, end: date) -> None:
    lawyer_row(connection, lawyer)
    connection.execute(sa.insert(lawyer_leaves),
                       {"lawyer_id": lawyer, "start_on": start, "end_on": end})


def add_conflict(connection: sa.Connection, lawyer: int, party: str) -> bool:
    """Record a party the lawyer may not act for or against; False if it was already there."""
    lawyer_row(connection, lawyer)
    key = party_key(party)
    known = connection.execute(sa.select(lawyer_conflicts.c.id).where(
        lawyer_conflicts.c.lawyer_id == lawyer, lawyer_conflicts.c.party_key == key)).first()
    if known is not None:
        return False
    connection.execute(sa.insert(lawyer_conflicts),
                       {"lawyer_id": lawyer, "party": " ".join(party.split()), "party_key": key})
    return True


def leaves_of(connection: sa.Connection, lawyer: int) -> list[LawyerLeaveRow]:
    return select_rows(connection, select(LawyerLeaveRow)
                       .where(LawyerLeaveRow.lawyer_id == lawyer)
                       .order_by(col(LawyerLeaveRow.start_on), col(LawyerLeaveRow.id)))


def all_leaves(connection: sa.Connection) -> dict[int, list[LawyerLeaveRow]]:
    """Every lawyer's leave periods, by lawyer, earliest first (the pool's table)."""
    found: dict[int, list[LawyerLeaveRow]] = defaultdict(list)
    for leave in select_rows(connection, select(LawyerLeaveRow).order_by(
            col(LawyerLeaveRow.lawyer_id), col(LawyerLeaveRow.start_on),
            col(LawyerLeaveRow.id))):
        found[leave.lawyer_id].append(leave)
    return found


def offers_of(connection: sa.Connection, lawyer: int) -> list[Mapping[Any, Any]]:
    """A lawyer's offers (指派记录) with their case's reference, latest first."""
    query = (sa.select(cases.c.ref, lawyer_offers.c.offered_on, lawyer_offers.c.outcome,
                       lawyer_offers.c.outcome_on, lawyer_offers.c.reason,
                       lawyer_offers.c.released_on)
             .join(cases, cases.c.id == lawyer_offers.c.case_id)
             .where(lawyer_offers.c.lawyer_id == lawyer)
             .order_by(lawyer_offers.c.offered_on.desc(), lawyer_offers.c.id.desc()))
    return list(connection.execute(query).mappings())


def departments_of(connection: sa.Connection, case_type: str) -> list[str]:
    """The departments (科室) that hold cases of ``case_type``."""
    query = (sa.select(cases.c.department).distinct()
             .where(cases.c.type == case_type, cases.c.department.is_not(None)))
    return sorted(connection.execute(query).scalars())


def conflicts_of(connection: sa.Connection, lawyer: int) -> list[str]:
    query = (sa.select(lawyer_conflicts.c.party).where(lawyer_conflicts.c.lawyer_id == lawyer)
             .order_by(lawyer_conflicts.c.id))
    return list(connection.execute(query).scalars())


# -- what the policy reads ---------------------------------------------------------------------


# what the policy reads of a lawyer's row, in `_pool_lawyer`'s order
_POLICY_COLUMNS = [lawyers.c[name] for name in (
    "id", "name", "firm", "areas", "capacity", "active", "open_cases", "last_assigned_on",
    "last_offer_id")]


def _pool_lawyer(row: Sequence[Any], leaves: Iterable[Leave],
                 conflicts: Iterable[str]) -> PoolLawyer:
    """A lawyer from the `_POLICY_COLUMNS` of their row."""
    id_, name, firm, areas, capacity, active, load, last_on, last_offer = row[:9]
    return PoolLawyer(id=id_, name=name, firm=firm, areas=tuple(areas), capacity=capacity,
                      active=active, leaves=tuple(leaves), conflicts=frozenset(conflicts),
                      load=load, last_assigned_on=last_on, turn=last_offer)


# built once, like the repository's: each is compiled once and found in SQLAlchemy's cache
_POOL = sa.select(*_POLICY_COLUMNS).order_by(lawyers.c.id)
_LEAVES_FROM = sa.select(lawyer_leaves.c.lawyer_id, lawyer_leaves.c.start_on,
                         lawyer_leaves.c.end_on).where(lawyer_leaves.c.end_on >= sa.bindparam("on"))
_CONFLICTS = sa.select(lawyer_conflicts.c.lawyer_id, lawyer_conflicts.c.party_key)
_EXCLUDED = sa.select(lawyer_offers.c.case_id, lawyer_offers.c.lawyer_id).where(
    lawyer_offers.c.case_id.in_(sa.bindparam("ids", expanding=True)),
    lawyer_offers.c.outcome.in_(EXCLUDING))


def pool(connection: sa.Connection, on: date) -> list[PoolLawyer]:
    """Every lawyer of the pool, with the leave that has not ended by ``on``."""
    leaves: dict[int, list[Leave]] = defaultdict(list)
    for r in connection.execute(_LEAVES_FROM, {"on": on}):
        leaves[r.lawyer_id].append(Leave(r.start_on, r.end_on))
    conflicts: dict[int, list[str]] = defaultdict(list)
    for r in connection.execute(_CONFLICTS):
        conflicts[r.lawyer_id].append(r.party_key)
    return [_pool_lawyer(row, leaves[row[0]], conflicts[row[0]])
            for row in connection.execute(_POOL)]


_GATE = (
    sa.select(
        *_POLICY_COLUMNS,
        sa.exists().where(lawyer_leaves.c.lawyer_id == lawyers.c.id,
                          lawyer_leaves.c.start_on <= sa.bindparam("on"),
                          lawyer_leaves.c.end_on >= sa.bindparam("on")).label("on_leave"),
        sa.exists().where(lawyer_conflicts.c.lawyer_id == lawyers.c.id,
                          lawyer_conflicts.c.party_key.in_(
                              sa.bindparam("parties", expanding=True))).label("conflicted"),
        sa.exists().where(lawyer_offers.c.lawyer_id == lawyers.c.id,
                          lawyer_offers.c.case_id == sa.bindparam("case_id"),
                          lawyer_offers.c.outcome.in_(EXCLUDING)).label("declined"))
    .where(lawyers.c.id == sa.bindparam("id"))
    .with_for_update(of=lawyers)
)


def gate_lawyer(connection: sa.Connection, lawyer: int, *, case_id: int, on: date,
                parties: frozenset[str]) -> tuple[PoolLawyer, bool] | None:
    """One lawyer as the gates see them for one case on ``on``, in one statement: their row
    (locked until the transaction ends, so two assignments at once cannot both take their last
    place), their leave that day, their conflicts among the case's ``parties`` and whether they
    declined the case or were replaced on it (the bool). None when not in the pool."""
    row = connection.execute(_GATE, {"id": lawyer, "on": on, "parties": sorted(parties),
                                     "case_id": case_id}).one_or_none()
    if row is None:
        return None
    leaves = [Leave(on, on)] if row.on_leave else []
    return _pool_lawyer(row, leaves, parties if row.conflicted else ()), bool(row.declined)


_LOCK = (sa.select(lawyers.c.id).where(lawyers.c.id.in_(sa.bindparam("ids", expanding=True)))
         .order_by(lawyers.c.id).with_for_update())


def lock(connection: sa.Connection, ids: Iterable[int]) -> None:
    """Lock the rows of the lawyers ``ids`` until the transaction ends, in id order (one
    statement: PostgreSQL sorts, then locks row by row). A writer that will take several
    lawyers' rows takes them all here first, so that any two such writers queue on their first
    shared lawyer instead of each holding one the other waits for (a deadlock). SQLite renders
    no ``FOR UPDATE``: its writers already queue on `BEGIN IMMEDIATE`."""
    wanted = sorted(set(ids))
    if wanted:
        connection.execute(_LOCK, {"ids": wanted}).all()


def waiting(connection: sa.Connection, case_type: str, clock: str) -> list[sa.Row[Any]]:
    """The cases of ``case_type`` approved and waiting for a lawyer (id, ref, attrs, due_on),
    their ``clock`` running: most urgent first, then by case id. A total order, the same for
    every assignment pass whenever it gathered: a pass writes its cases in it, and two passes
    at once that locked cases in different orders could deadlock."""
    query = (
        sa.select(cases.c.id, cases.c.ref, cases.c.attrs, clock_cycles.c.due_on)
        .join(clock_cycles, clock_cycles.c.case_id == cases.c.id)
        .where(cases.c.type == case_type, cases.c.state == "approved",
               clock_cycles.c.clock == clock,
               clock_cycles.c.status == CycleStatus.RUNNING.value)
        .order_by(clock_cycles.c.due_on, cases.c.id)
    )
    return list(connection.execute(query).all())


def excluded(connection: sa.Connection, case_ids: Sequence[int]) -> dict[int, set[int]]:
    """Per case, the lawyers who declined it or were replaced on it."""
    found: dict[int, set[int]] = defaultdict(set)
    for start in range(0, len(case_ids), 500):
        for r in connection.execute(_EXCLUDED, {"ids": list(case_ids[start:start + 500])}):
            found[r.case_id].add(r.lawyer_id)
    return found


# -- what an event does to the offers ----------------------------------------------------------

# the case's offer still held (at most one: `assign` only fires on a case no lawyer holds)
_SETTLE = (
    sa.update(lawyer_offers)
    .where(lawyer_offers.c.id == sa.select(sa.func.max(lawyer_offers.c.id)).where(
        lawyer_offers.c.case_id == sa.bindparam("b_case_id"),
        lawyer_offers.c.released_on.is_(None)).scalar_subquery())
    .returning(lawyer_offers.c.lawyer_id)
)


_LOAD = sa.update(lawyers).where(lawyers.c.id == sa.bindparam("b_id")).values(
    open_cases=lawyers.c.open_cases + sa.bindparam("by"))
_INSERT_OFFER = sa.insert(lawyer_offers).returning(lawyer_offers.c.id)
# an assignment recorded late (dated before the lawyer's latest) keeps the latest date
_OFFERED = sa.update(lawyers).where(lawyers.c.id == sa.bindparam("b_id")).values(
    open_cases=lawyers.c.open_cases + 1,
    last_assigned_on=sa.case((sa.or_(lawyers.c.last_assigned_on.is_(None),
                                     lawyers.c.last_assigned_on < sa.bindparam("on")),
                              sa.bindparam("on")), else_=lawyers.c.last_assigned_on),
    last_offer_id=sa.bindparam("offer"))


def _load(connection: sa.Connection, lawyer: int, by: int) -> None:
    connection.execute(_LOAD, {"b_id": lawyer, "by": by})


def _settle(connection: sa.Connection, case_id: int, event: Mapping[str, Any],
            outcome: str | None, release: bool) -> None:
    """The case's open offer gets ``outcome`` (and the event's reason); ``release``: the
    lawyer no longer holds the case from the event's date. One statement finds and settles it."""
    values: dict[str, Any] = {}
    if outcome is not None:
        values.update(outcome=outcome, outcome_on=event["on"], reason=event["reason"])
    if release:
        values["released_on"] = event["on"]
    lawyer = connection.execute(_SETTLE, {"b_case_id": case_id, **values}).scalar_one_or_none()
    if lawyer is not None and release:
        _load(connection, lawyer, -1)


def _offer(connection: sa.Connection, case_id: int, lawyer: int, on: date,
           recorded_at: datetime) -> None:
    offer = int(connection.execute(_INSERT_OFFER, {
        "lawyer_id": lawyer, "case_id": case_id, "offered_on": on, "outcome": Outcome.OFFERED,
        "outcome_on": None, "reason": None, "released_on": None, "recorded_at": recorded_at,
    }).scalar_one())
    connection.execute(_OFFERED, {"b_id": lawyer, "on": on, "offer": offer})


def _reopen(connection: sa.Connection, case_id: int) -> None:
    """责令改正 (art. 49) resumes a terminated service with the lawyer who held it."""
    offer = connection.execute(
        sa.select(lawyer_offers.c.id, lawyer_offers.c.lawyer_id)
        .where(lawyer_offers.c.case_id == case_id, lawyer_offers.c.outcome == Outcome.ACCEPTED)
        .order_by(lawyer_offers.c.id.desc()).limit(1)).first()
    if offer is None:
        return
    connection.execute(sa.update(lawyer_offers).where(lawyer_offers.c.id == offer.id)
                       .values(released_on=None))
    _load(connection, offer.lawyer_id, +1)


def event_fields(event: DomainEvent) -> dict[str, Any]:
    """What `record_offers` reads of an event, as its stored row has it."""
    return {"trigger": event.trigger, "on": event.on, "to_state": event.dest,
            "reason": event.reason, "attrs": event.attrs}


def record_offers(connection: sa.Connection, case_id: int,
                  fired: Iterable[Mapping[str, Any]], recorded_at: datetime) -> None:
    """What a legal-aid case's events (rows, or `event_fields`) did to its offers and its
    lawyer's load."""
    for event in fired:
        match event["trigger"]:
            case "assign":
                lawyer = lawyer_id(event["attrs"].get("lawyer"))
                if lawyer is not None:
                    _offer(connection, case_id, lawyer, event["on"], recorded_at)
            case "engage":
                _settle(connection, case_id, event, Outcome.ACCEPTED, release=False)
            case "decline_assignment":
                _settle(connection, case_id, event, Outcome.DECLINED, release=True)
            case "replace_lawyer":
                _settle(connection, case_id, event, Outcome.REPLACED, release=True)
            case "conclude" | "terminate":
                _settle(connection, case_id, event, None, release=True)
            case "order_correction" if event["to_state"] == "in_service":
                _reopen(connection, case_id)


# -- the fairness report ------------------------------------------------------------------------

SUPERVISION = ("attend_hearing", "review_file", "aided_complaint")


def offer_counts(connection: sa.Connection, start: date, end: date
                 ) -> dict[int, dict[str, int]]:
    """Per lawyer, the offers made within ``start..end`` by outcome."""
    query = (sa.select(lawyer_offers.c.lawyer_id, lawyer_offers.c.outcome,
                       sa.func.count().label("n"))
             .where(lawyer_offers.c.offered_on.between(start, end))
             .group_by(lawyer_offers.c.lawyer_id, lawyer_offers.c.outcome))
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for r in connection.execute(query):
        counts[r.lawyer_id][r.outcome] = r.n
    return counts


def open_loads(connection: sa.Connection, at_end: date) -> dict[int, int]:
    """Per lawyer, the cases they held at the end of ``at_end``."""
    query = (sa.select(lawyer_offers.c.lawyer_id, sa.func.count().label("n"))
             .where(lawyer_offers.c.offered_on <= at_end,
                    sa.or_(lawyer_offers.c.released_on.is_(None),
                           lawyer_offers.c.released_on > at_end))
             .group_by(lawyer_offers.c.lawyer_id))
    return {r.lawyer_id: r.n for r in connection.execute(query)}


def supervision_counts(connection: sa.Connection, start: date, end: date
                       ) -> dict[int, dict[str, int]]:
    """Per lawyer, the quality-supervision events (质量监督) within ``start..end`` on the cases
    they held last by the event's date; ``review_file`` is counted by rating too
    (``review_file:good``)."""
    # the lawyer who held the case last by the event's date (a file reviewed after the
    # conclusion is the concluding lawyer's); one who declined never held it
    offers = lawyer_offers.alias("held")
    latest = (sa.select(sa.func.max(offers.c.id))
              .where(offers.c.case_id == events.c.case_id, offers.c.offered_on <= events.c.on,
                     offers.c.outcome != Outcome.DECLINED)
              .scalar_subquery())
    held = lawyer_offers.c.id == latest
    query = (sa.select(lawyer_offers.c.lawyer_id, events.c.trigger, events.c.attrs)
             .select_from(events.join(cases, cases.c.id == events.c.case_id)
                          .join(lawyer_offers, held))
             .where(cases.c.type == "legal_aid", events.c.trigger.in_(SUPERVISION),
                    events.c.on.between(start, end)))
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in connection.execute(query):
        counts[r.lawyer_id][r.trigger] += 1
        if r.trigger == "review_file":
            counts[r.lawyer_id][f"review_file:{r.attrs.get('rating')}"] += 1
    return {k: dict(v) for k, v in counts.items()}
