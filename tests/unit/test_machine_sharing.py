"""One `transitions` machine per case type, shared by every case and every thread.

Eight threads fire thousands of triggers each through the same machines, on their own cases,
following walks that sit in different states at any moment; what they produce must equal a
single-threaded run of the same walks, refusals included.
"""

from __future__ import annotations

import dataclasses
import sys
import threading
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from states.calendar import WorkCalendar
from states.case import CaseSnapshot
from states.casetypes import CASE_TYPES
from states.errors import CaseflowError
from states.machine import fire, machine_for, open_case

CAL = WorkCalendar()
THREADS = 8
ROUNDS = 180  # walks per thread: 180 x ~7.5 fires ~ 1,350 fires per thread, ~11,000 in all
DATES = 20  # walks start on one of 20 days, so due dates differ between walks

# Walks through different states; some steps are refused on purpose (wrong state, a
# requirement that fails in the condition, a second extension) so the error paths are shared too.
Walk = list[tuple[str, dict[str, object], bool]]  # trigger, attrs, by_system
WALKS: list[tuple[str, dict[str, object], Walk]] = [
    ("reconsideration", {}, [
        ("accept", {}, False), ("send_copy", {}, False), ("receive_reply", {}, False),
        ("suspend", {"ground": 1}, False), ("resume", {}, False), ("extend", {"days": 7}, False),
        ("extend", {"days": 1}, False), ("decide", {"decision": "revoke"}, False)]),
    ("reconsideration", {}, [
        ("accept", {"procedure": "simplified"}, False), ("convert_to_ordinary", {}, False),
        ("convert_to_ordinary", {}, False), ("suspend", {"ground": 3}, False),
        ("decide", {"decision": "maintain"}, False), ("withdraw", {}, False)]),
    ("reconsideration", {}, [
        ("request_supplement", {}, False), ("extend_supplement", {"days": 3}, False),
        ("receive_supplement", {}, False), ("deem_accepted", {}, True),
        ("schedule_hearing", {"hearing_on": "2025-06-30"}, False), ("mediate", {}, False)]),
    ("legal_aid", {}, [
        ("request_materials", {}, False), ("receive_materials", {}, False),
        ("approve", {}, False), ("assign", {"lawyer": "L7"}, False),
        ("decline_assignment", {}, False), ("assign", {"lawyer": "L8"}, False),
        ("engage", {}, False), ("conclude", {"outcome": "done"}, False),
        ("receive_closing_materials", {}, False), ("close", {}, False)]),
    ("legal_aid", {"channel": "notification"}, [
        ("assign", {"lawyer": "L1"}, False), ("engage", {}, False),
        ("terminate", {"ground": 4}, False), ("file_objection", {}, False),
        ("order_correction", {}, False), ("replace_lawyer", {}, False), ("approve", {}, False)]),
    ("legal_aid", {}, [
        ("deny", {}, False), ("file_objection", {}, False), ("uphold", {}, False),
        ("file_objection", {}, False), ("order_correction", {}, False), ("withdraw", {}, False)]),
    ("complaint", {}, [
        ("request_supplement", {}, False), ("receive_supplement", {}, False),
        ("accept", {}, False), ("extend", {"days": 30}, False), ("extend", {"days": 1}, False),
        ("decide", {"outcome": "no_violation"}, False), ("reply", {}, False)]),
    ("complaint", {}, [
        ("accept", {}, False), ("reply", {}, False), ("transfer", {"to": "律协"}, False),
        ("withdraw", {}, False)]),
]

Outcome = tuple[str, object]
LAPSING = {c.name for t in CASE_TYPES.values() for c in t.clocks if c.lapse != "escalate"}


def run_walk(index: int, round_: int) -> Iterator[Outcome]:
    """Each fire's outcome: the case after it, or the refusal's class and message."""
    type_name, open_attrs, walk = WALKS[index % len(WALKS)]
    case_type = CASE_TYPES[type_name]
    day = date(2025, 3, 3) + timedelta(days=round_ % DATES)
    case: CaseSnapshot = open_case(case_type, day, attrs=open_attrs, calendar=CAL).case
    yield ("open", case)
    for trigger, attrs, by_system in walk:
        day += timedelta(days=2)
        if by_system:  # a lapse applies on the last day of its period
            day = max([day] + [c.due_on for c in case.cycles if c.live and c.clock in LAPSING])
        try:
            case = fire(case_type, case, trigger, day, attrs=attrs, reason="r",
                        by_system=by_system, calendar=CAL).case
            yield (trigger, case)
        except CaseflowError as exc:
            yield (trigger, (type(exc).__name__, exc.message, tuple(exc.allowed)))


def run_thread(index: int) -> list[Outcome]:
    out: list[Outcome] = []
    for round_ in range(ROUNDS):
        # each thread starts its walks at a different offset, so threads are in different states
        out.extend(run_walk(index + round_, round_))
    return out


def reference_run(index: int, memo: dict[tuple[int, int], list[Outcome]]) -> list[Outcome]:
    """What `run_thread` must produce, computed single-threaded (each distinct walk once)."""
    out: list[Outcome] = []
    for round_ in range(ROUNDS):
        key = ((index + round_) % len(WALKS), round_ % DATES)
        if key not in memo:
            memo[key] = list(run_walk(*key))
        out.extend(memo[key])
    return out


def test_threads_sharing_machines_match_a_single_threaded_run() -> None:
    memo: dict[tuple[int, int], list[Outcome]] = {}
    reference = [reference_run(i, memo) for i in range(THREADS)]
    assert all(len(r) >= 1000 for r in reference)  # thousands of fires per thread
    refusals = sum(1 for r in reference for _, o in r if isinstance(o, tuple))
    assert refusals > 0  # the error paths are exercised as well

    results: list[list[Outcome] | None] = [None] * THREADS
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(i: int) -> None:
        try:
            barrier.wait()
            results[i] = run_thread(i)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert not errors
    for i in range(THREADS):
        assert results[i] == reference[i], f"thread {i} diverged"


def test_machine_for_returns_one_machine_per_type() -> None:
    for case_type in CASE_TYPES.values():
        first = machine_for(case_type)
        assert machine_for(case_type) is first
        assert all(machine_for(case_type) is first for _ in range(100))
        assert first.models == []  # no case is bound to it
    machines = {id(machine_for(t)) for t in CASE_TYPES.values()}
    assert len(machines) == len(CASE_TYPES)


@pytest.mark.parametrize("name", sorted(CASE_TYPES))
def test_first_use_from_many_threads_builds_one_machine(name: str) -> None:
    # a new declaration object (as a policy override makes) gets its own machine, built once
    # even when eight threads ask for it at the same moment
    fresh = dataclasses.replace(CASE_TYPES[name])
    barrier = threading.Barrier(THREADS)
    seen: list[object] = []
    lock = threading.Lock()

    def ask() -> None:
        barrier.wait()
        machine = machine_for(fresh)
        with lock:
            seen.append(machine)

    threads = [threading.Thread(target=ask) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == THREADS
    assert all(m is seen[0] for m in seen)
    assert machine_for(fresh) is seen[0]
    machine_for(CASE_TYPES[name])  # put the packaged declaration's machine back
