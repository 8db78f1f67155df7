"""The clerks' use cases. Each is one function, one unit of work, one transaction.

A writing service loads the case (locking its row), fires the trigger through the shared
machine (pure), and writes state, clock cycles, event and version together, or nothing. No
Prefect here: flows call these, and so do the CLI and the API.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import Connection

from flows import pool
from flows.context import Bureau
from models import repository
from models import users as directory
from models import verify as verification
from models.chain import ChainCheck
from models.errors import Conflict, StaleCase
from models.repository import StoredCase
from models.tables import EventRow
from models.uow import UnitOfWork
from states.calendar import legal_date
from states.case import Fired
from states.errors import (
    CaseflowError,
    InvalidAttribute,
    InvalidLegalDate,
    NotFound,
    RuleViolation,
)
from states.lapses import LapsedFirst, act, lapses_due
from states.machine import allowed_triggers, fire
from states.machine import open_case as open_in_domain
from states.roles import (
    Identity,
    IdentityRequired,
    may_fire,
    may_fire_any,
    opening_attrs,
    triggers_for,
)

T = TypeVar("T")
MAX_REF_LENGTH = 40
# a clerk's change meets a concurrent one on the same case: read again, judge again
WRITE_ATTEMPTS = 50


class UnknownState(NotFound):
    code = "unknown_state"


class CaseBroken(RuleViolation):
    """The case failed verification: nothing is added to it until it is repaired."""

    code = "case_broken"


def not_in_future(on: date, now: datetime) -> None:
    today = legal_date(now)
    if on > today:
        raise InvalidLegalDate(
            f"{on.isoformat()} is in the future; an event takes effect today or earlier",
            [f"on<={today.isoformat()}"],
        )


def check_ref(ref: str) -> str:
    ref = ref.strip()
    if not ref or len(ref) > MAX_REF_LENGTH or any(ch.isspace() for ch in ref):
        raise InvalidAttribute(
            f"reference {ref!r} is not usable", [f"1..{MAX_REF_LENGTH} characters, no spaces"]
        )
    return ref


def acting(connection: Connection, who: Identity | None) -> Identity | None:
    """The person a write is judged as: the one gate every person's write passes (the rules
    themselves are `states.roles`). With no user directory yet, caseflow stays open as it
    was (None); once anyone is in it, a write that names no one is refused."""
    if who is None and directory.any_user(connection):
        raise IdentityRequired(
            "caseflow has users: a change is made by one of them, and none was named",
            ["--as USER", "CASEFLOW_USER", "Authorization: Bearer TOKEN"])
    return who


def open_case(
    bureau: Bureau,
    type_name: str,
    *,
    on: date,
    attrs: Mapping[str, object] | None = None,
    ref: str | None = None,
    by: str,
    now: datetime,
    who: Identity | None = None,
) -> StoredCase:
    """立案登记: open a case received on ``on``; a reference is generated when none is given.
    ``who``: the user acting (`states.roles.opening_attrs`), None with no user directory."""
    case_type = bureau.case_type(type_name)
    not_in_future(on, now)
    with bureau.unit_of_work() as uow:
        person = acting(uow.connection, who)
        if person is not None:
            attrs = opening_attrs(person, attrs or {})
        opened = open_in_domain(case_type, on, attrs=attrs, by=by, calendar=bureau.calendar)
        if ref is None:
            (ref,) = repository.allocate_refs(uow.connection, case_type.ref_prefix, on.year)
        else:
            ref = check_ref(ref)
            # asked first, not left to the unique index: a refused insert would still use up
            # a PostgreSQL sequence value, and a refusal must change nothing
            if repository.existing_refs(uow.connection, [ref]):
                raise Conflict(f"a case {ref!r} already exists", ["a new reference"])
        stored = repository.insert_case(uow.connection, opened, ref=ref, recorded_at=now)
        uow.commit()
    return stored


def advance(
    bureau: Bureau,
    ref: str,
    trigger: str,
    *,
    on: date | None = None,
    attrs: Mapping[str, object] | None = None,
    reason: str | None = None,
    by: str,
    now: datetime,
    expect_version: int | None = None,
    by_system: bool = False,
    who: Identity | None = None,
) -> StoredCase:
    """Fire ``trigger`` on case ``ref`` with legal effect on ``on`` (default: today), as
    ``who`` (None with no user directory).

    A person's trigger comes after the lapses that had happened in law by its date
    (`states.lapses`): they are recorded first, as the system's events, and stay recorded when
    the person's trigger is then refused (`LapsedFirst`, naming what happened in law)."""
    on = legal_date(now) if on is None else on
    not_in_future(on, now)
    with bureau.unit_of_work() as uow:
        try:
            stored = advance_in(uow, bureau, ref, trigger, on=on, attrs=attrs, reason=reason,
                                by=by, now=now, expect_version=expect_version,
                                by_system=by_system, who=who)
        except LapsedFirst:
            uow.commit()  # the lapses are facts, whatever becomes of the person's act
            raise
        uow.commit()
    return stored


def advance_in(
    uow: UnitOfWork,
    bureau: Bureau,
    ref: str,
    trigger: str,
    *,
    on: date,
    attrs: Mapping[str, object] | None = None,
    reason: str | None = None,
    by: str,
    now: datetime,
    expect_version: int | None = None,
    by_system: bool = False,
    who: Identity | None = None,
) -> StoredCase:
    """`advance` inside a unit of work the caller commits: the case is read, the trigger fired
    on it and the result written under the case's version guard. A person's trigger is
    preceded by the lapses due by its date; when it is refused after them, they are written
    and `LapsedFirst` is raised.

    When someone else changed the case between the read and the write, nothing was written
    and the case is read again and judged anew (up to `WRITE_ATTEMPTS` times): the same
    outcome as if this change had come second. With ``expect_version`` it is a `Conflict`
    instead: the person decided on the version they saw."""
    return with_fresh_reads(
        lambda: _judge_and_write(uow, bureau, repository.load(uow.connection, ref), trigger,
                                 on=on, attrs=attrs, reason=reason, by=by, now=now,
                                 expect_version=expect_version, by_system=by_system,
                                 who=who),
        again=expect_version is None,
    )


def with_fresh_reads(write: Callable[[], T], *, again: bool = True) -> T:
    """``write`` (read a case, judge, write it), run again while it finds that someone else
    changed the case after it was read (`StaleCase`: it wrote nothing), at most
    `WRITE_ATTEMPTS` times; ``again=False``: once."""
    for attempt in range(1, WRITE_ATTEMPTS + 1):
        try:
            return write()
        except StaleCase:
            if not again or attempt == WRITE_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _judge_and_write(
    uow: UnitOfWork,
    bureau: Bureau,
    stored: StoredCase,
    trigger: str,
    *,
    on: date,
    attrs: Mapping[str, object] | None,
    reason: str | None,
    by: str,
    now: datetime,
    expect_version: int | None,
    by_system: bool,
    who: Identity | None,
) -> StoredCase:
    ref = stored.case.ref
    if stored.broken is not None:
        raise CaseBroken(
            f"case {ref} failed verification ({stored.broken}); it cannot be advanced until "
            "it is repaired and verifies again", [f"caseflow case verify {ref}"])
    if expect_version is not None and stored.case.version != expect_version:
        raise Conflict(
            f"case {ref} is at version {stored.case.version}, not {expect_version}; "
            "it changed since you read it",
            [f"--expect-version {stored.case.version}"],
        )
    case_type = bureau.case_type(stored.case.type)
    person = None if by_system else acting(uow.connection, who)
    whose = {"department": stored.case.attrs.get("department"),
             "handler": stored.case.attrs.get("handler")}
    if person is not None:  # before anything is judged or written, lapses included
        may_fire_any(person, case_type, trigger, **whose)
    try:
        if by_system:
            events: tuple[Fired, ...] = (
                fire(case_type, stored.case, trigger, on, attrs=attrs, reason=reason, by=by,
                     by_system=True, calendar=bureau.calendar),)
        else:
            events = act(case_type, stored.case, trigger, on, attrs=attrs, reason=reason,
                         by=by, calendar=bureau.calendar, today=legal_date(now))
    except LapsedFirst as refusal:
        _append_all(uow, stored, refusal.lapses, now)
        raise
    if person is not None:  # the actor it was fired as (a second 补正 is a supervisor's)
        may_fire(person, trigger, events[-1].event.actor, **whose)
    # the lawyer `assign` names must be one the pool's gates let take this case (指派)
    pool.check_gates(uow.connection, stored.id, case_type.name, events)
    after = _append_all(uow, stored, events, now)
    pool.record(uow.connection, stored.id, case_type.name, events, now)
    return after


def _append_all(
    uow: UnitOfWork, stored: StoredCase, events: Sequence[Fired], recorded_at: datetime
) -> StoredCase:
    """Write the events in order. Only the first can find the case stale (`StaleCase`, nothing
    written): its write holds the case's row until the transaction ends."""
    for fired in events:
        stored = repository.append(uow.connection, stored, fired, recorded_at=recorded_at)
    return stored


@dataclass(frozen=True)
class SystemAct:
    """A trigger the system fires on a case with legal effect on a date (视为受理 and the like)."""

    ref: str
    trigger: str
    on: date


def apply_system_acts(
    bureau: Bureau, acts: Sequence[SystemAct], *, now: datetime,
    recorded_at: datetime | None = None,
) -> list[StoredCase | CaseflowError]:
    """Fire many system triggers in one transaction; one that is refused (the case moved on)
    is returned as its error and the others go on. No savepoint is needed for that: every
    refusal is raised before its case is written (the domain refuses before `append`, and
    `append` refuses a stale version with its first statement, which then changed nothing).

    Cases are locked, by their writes, in the order given. Writers that may run concurrently
    must take their locks in one order or PostgreSQL can deadlock them; the sweep passes acts
    in case-id order, the order in which its batches of escalations lock cases (foreign-key
    checks).

    ``now`` is the instant they are judged at; ``recorded_at`` (default ``now``) the real time
    they are recorded at."""
    for system_act in acts:
        not_in_future(system_act.on, now)
    results: dict[int, StoredCase | CaseflowError] = {}
    with bureau.unit_of_work() as uow:
        for i, system_act in enumerate(acts):
            try:
                results[i] = advance_in(uow, bureau, system_act.ref, system_act.trigger,
                                        on=system_act.on, by="system",
                                        now=recorded_at or now, by_system=True)
            except CaseflowError as error:
                results[i] = error
        uow.commit()
    return [results[i] for i in range(len(acts))]


def get_case(bureau: Bureau, ref: str) -> StoredCase:
    with bureau.unit_of_work(write=False) as uow:
        return repository.load(uow.connection, ref)


def triggers_now(
    bureau: Bureau, ref: str, now: datetime, who: Identity | None = None
) -> list[str]:
    """The triggers a person may fire on the case now: on the case as it stands in law today,
    after any lapse that has happened but that no sweep has recorded yet, and without the
    extensions its clock rules refuse today; with ``who``, only those their role allows."""
    return triggers_of(bureau, get_case(bureau, ref), now, who)


def triggers_of(
    bureau: Bureau, stored: StoredCase, now: datetime, who: Identity | None = None, *,
    lapsed: Sequence[Fired] | None = None,
) -> list[str]:
    """`triggers_now` on a case already read (a page that shows the case asks both), and on
    its `lapses_pending` when the caller has them already."""
    case_type = bureau.case_type(stored.case.type)
    today = legal_date(now)
    lapses = lapses_pending(bureau, stored, now) if lapsed is None else lapsed
    case = lapses[-1].case if lapses else stored.case
    allowed = allowed_triggers(case_type, case.state, attrs=case.attrs, cycles=case.cycles,
                               on=today)
    return triggers_for(who, case_type, allowed, department=case.attrs.get("department"),
                        handler=case.attrs.get("handler"))


def timeline(bureau: Bureau, ref: str) -> list[EventRow]:
    """Every event of the case (案件流转记录), oldest first, as stored."""
    return case_with_timeline(bureau, ref)[1]


def lapses_pending(bureau: Bureau, stored: StoredCase, now: datetime) -> tuple[Fired, ...]:
    """What the law has already done to the case by today that no sweep has recorded yet
    (视为受理 once the review period ended, …): the next act on the case records it first."""
    return lapses_due(bureau.case_type(stored.case.type), stored.case, legal_date(now),
                      bureau.calendar)


def case_with_timeline(bureau: Bureau, ref: str) -> tuple[StoredCase, list[EventRow]]:
    """The case and its events, read in one unit of work (the case page shows both)."""
    with bureau.unit_of_work(write=False) as uow:
        stored = repository.load(uow.connection, ref)
        return stored, repository.event_rows(uow.connection, stored.id)


def list_cases(
    bureau: Bureau,
    *,
    case_type: str | None = None,
    state: str | None = None,
    overdue_on: date | None = None,
    limit: int | None = None,
    department: str | None = None,
    handler: str | None = None,
    due_before: date | None = None,
) -> list[StoredCase]:
    # unknown names are errors, not empty lists
    types = [bureau.case_type(case_type)] if case_type is not None else list(bureau.types.values())
    if state is not None:
        states = sorted({s.name for t in types for s in t.states})
        if state not in states:
            raise UnknownState(f"no case type here has a state {state!r}", states)
    with bureau.unit_of_work(write=False) as uow:
        notices = sorted({c.name for t in types for c in t.clocks if c.notice})
        return repository.find(
            uow.connection, case_type=case_type, state=state, overdue_on=overdue_on,
            notices=notices, limit=limit, department=department, handler=handler,
            due_before=due_before,
        )


def verify(bureau: Bureau, ref: str | None = None) -> list[ChainCheck]:
    """Verify one case, or every case (`models.verify`): its hash chain, then its stored row
    and clock cycles against a replay of its events. What is found is recorded on the case,
    and a broken case is not advanced until a later verification finds it whole."""
    with bureau.unit_of_work(write=False) as uow:
        findings = verification.check_cases(uow.connection, bureau.types, bureau.calendar, ref)
    changed = [finding for finding in findings if finding.changed]
    if changed:
        with bureau.unit_of_work() as uow:
            verification.record(uow.connection, changed)
            uow.commit()
    return [finding.check for finding in findings]
