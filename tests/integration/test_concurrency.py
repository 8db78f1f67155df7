"""Many writers on one case, on SQLite and on PostgreSQL: serialized, none lost, none doubled.

Each worker uses the services with a bureau of its own (the shared engine, like threads of one
process, or an engine of its own, like separate processes). With ``expect_version`` a worker
that read a stale version gets `Conflict` and nothing else; without it every advance lands.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pytest

from flows import services
from flows.context import Bureau
from models.engine import create_engine
from models.errors import Conflict
from states.calendar import default_calendar
from states.casetypes import CASE_TYPES

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
ON = date(2024, 10, 8)
WORKERS = 8
ATTEMPTS = 25
# internal triggers of a reconsideration under review: they keep the state, so any number of
# them may follow each other. A hearing must be at least 5 working days after its notice:
# 10-09, 10-10, 10-11, Sat 10-12, 10-14 -> 10-21 is well past that.
TRIGGERS: tuple[tuple[str, dict[str, object]], ...] = (
    ("send_copy", {}),
    ("receive_reply", {}),
    ("schedule_hearing", {"hearing_on": "2024-10-21"}),
)


@dataclass
class Tally:
    wins: list[int] = field(default_factory=list)  # the version each successful advance made
    conflicts: int = 0
    errors: list[str] = field(default_factory=list)


def case_under_review(bureau: Bureau) -> str:
    ref = services.open_case(bureau, "reconsideration", on=date(2024, 9, 27), by="clerk",
                             now=NOW).case.ref
    services.advance(bureau, ref, "accept", on=ON, by="clerk", now=NOW)
    return ref


def bureau_factory(
    bureau: Bureau, db_url: str, separate: bool
) -> Callable[[], AbstractContextManager[Bureau]]:
    """A context manager giving each worker its bureau: shared engine, or one of its own."""

    @contextmanager
    def make() -> Iterator[Bureau]:
        if not separate:
            yield bureau
            return
        engine = create_engine(db_url)
        try:
            yield Bureau(engine, CASE_TYPES, default_calendar())
        finally:
            engine.dispose()

    return make


def run_workers(worker: Callable[[int, Tally], None]) -> list[Tally]:
    tallies = [Tally() for _ in range(WORKERS)]
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = [pool.submit(worker, i, tallies[i]) for i in range(WORKERS)]
        for future in futures:
            future.result(timeout=120)
    return tallies


def check_history(bureau: Bureau, ref: str, base: int, tallies: list[Tally]) -> None:
    """Versions rose by one per stored event, every success is stored, the chain verifies."""
    case = services.get_case(bureau, ref).case
    rows = services.timeline(bureau, ref)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert case.version == len(rows)
    wins = sorted(v for t in tallies for v in t.wins)
    assert len(wins) == len(rows) - base  # no event lost, none extra
    assert wins == list(range(base + 1, len(rows) + 1))  # no two writers made the same version
    by_worker = Counter(r.by for r in rows[base:])
    assert by_worker == Counter({f"w{i}": len(t.wins) for i, t in enumerate(tallies) if t.wins})
    (check,) = services.verify(bureau, ref)
    assert check.ok, check
    assert check.events == len(rows)


@pytest.mark.parametrize("separate_engines", [False, True], ids=["shared", "per_worker"])
def test_expect_version_serializes_writers(
    bureau: Bureau, db_url: str, separate_engines: bool
) -> None:
    ref = case_under_review(bureau)
    base = 2
    make = bureau_factory(bureau, db_url, separate_engines)
    start = threading.Barrier(WORKERS, timeout=60)

    def worker(i: int, tally: Tally) -> None:
        with make() as mine:
            start.wait()
            for k in range(ATTEMPTS):
                trigger, attrs = TRIGGERS[(i + k) % len(TRIGGERS)]
                try:
                    version = services.get_case(mine, ref).case.version
                    stored = services.advance(mine, ref, trigger, on=ON, attrs=attrs,
                                              by=f"w{i}", now=NOW, expect_version=version)
                except Conflict:
                    tally.conflicts += 1
                except Exception as exc:  # anything else is a failure of the test
                    tally.errors.append(f"{type(exc).__name__}: {exc}")
                else:
                    assert stored.case.version == version + 1
                    tally.wins.append(stored.case.version)

    tallies = run_workers(worker)
    assert [e for t in tallies for e in t.errors] == []
    attempts = sum(len(t.wins) + t.conflicts for t in tallies)
    assert attempts == WORKERS * ATTEMPTS
    assert sum(len(t.wins) for t in tallies) > 0
    assert sum(t.conflicts for t in tallies) > 0  # there were losers, and they got Conflict
    check_history(bureau, ref, base, tallies)


def test_same_expected_version_exactly_one_wins(bureau: Bureau, db_url: str) -> None:
    """In lock-step rounds every worker reads the same version, then all write at once."""
    ref = case_under_review(bureau)
    base = 2
    rounds = 6
    read, write = threading.Barrier(WORKERS, timeout=60), threading.Barrier(WORKERS, timeout=60)
    make = bureau_factory(bureau, db_url, separate=True)

    def worker(i: int, tally: Tally) -> None:
        with make() as mine:
            for k in range(rounds):
                read.wait()  # everyone's previous write has finished
                version = services.get_case(mine, ref).case.version
                assert version == base + k
                write.wait()  # everyone has read the same version
                trigger, attrs = TRIGGERS[(i + k) % len(TRIGGERS)]
                try:
                    stored = services.advance(mine, ref, trigger, on=ON, attrs=attrs,
                                              by=f"w{i}", now=NOW, expect_version=version)
                except Conflict:
                    tally.conflicts += 1
                except Exception as exc:
                    tally.errors.append(f"{type(exc).__name__}: {exc}")
                else:
                    tally.wins.append(stored.case.version)

    tallies = run_workers(worker)
    assert [e for t in tallies for e in t.errors] == []
    assert sum(len(t.wins) for t in tallies) == rounds  # exactly one winner per round
    assert sum(t.conflicts for t in tallies) == rounds * (WORKERS - 1)
    check_history(bureau, ref, base, tallies)


def test_two_writers_same_version_nothing_half_written(bureau: Bureau) -> None:
    ref = case_under_review(bureau)
    before = services.get_case(bureau, ref)
    start = threading.Barrier(2, timeout=60)
    outcomes: list[object] = [None, None]

    def writer(i: int) -> None:
        trigger, attrs = TRIGGERS[i]
        start.wait()
        try:
            outcomes[i] = services.advance(bureau, ref, trigger, on=ON, attrs=attrs,
                                           by=f"w{i}", now=NOW, expect_version=2)
        except Exception as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    winners = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(conflicts) == 1, outcomes
    assert len(winners) == 1, outcomes
    (winner,) = winners
    after = services.get_case(bureau, ref)
    assert after.case == winner.case  # type: ignore[attr-defined]
    assert after.case.version == before.case.version + 1
    rows = services.timeline(bureau, ref)
    assert [r.seq for r in rows] == [1, 2, 3]
    # only the winner's clock changes are stored: send_copy starts respondent_reply,
    # receive_reply (with no reply clock running) changes no clock
    started = [c.clock for c in after.case.cycles if c not in before.case.cycles]
    expected = {"send_copy": ["copy_to_respondent", "respondent_reply"], "receive_reply": []}
    assert started == expected[rows[2].trigger]
    assert all(check.ok for check in services.verify(bureau))


@pytest.mark.parametrize("separate_engines", [False, True], ids=["shared", "per_worker"])
def test_without_expect_version_every_advance_lands(
    bureau: Bureau, db_url: str, separate_engines: bool
) -> None:
    ref = case_under_review(bureau)
    base = 2
    per_worker = 10
    make = bureau_factory(bureau, db_url, separate_engines)
    start = threading.Barrier(WORKERS, timeout=60)

    def worker(i: int, tally: Tally) -> None:
        with make() as mine:
            start.wait()
            for k in range(per_worker):
                trigger, attrs = TRIGGERS[(i + k) % len(TRIGGERS)]
                try:
                    stored = services.advance(mine, ref, trigger, on=ON, attrs=attrs,
                                              by=f"w{i}", now=NOW)
                except Exception as exc:
                    tally.errors.append(f"{type(exc).__name__}: {exc}")
                else:
                    tally.wins.append(stored.case.version)

    tallies = run_workers(worker)
    assert [e for t in tallies for e in t.errors] == []
    assert [len(t.wins) for t in tallies] == [per_worker] * WORKERS
    check_history(bureau, ref, base, tallies)
    assert services.get_case(bureau, ref).case.version == base + WORKERS * per_worker


def test_concurrent_opens_get_distinct_refs(bureau: Bureau, db_url: str) -> None:
    """Generated references never repeat and leave no gaps; a reference given twice at once
    is taken once, and the others are told `Conflict`."""
    per_worker = 5
    make = bureau_factory(bureau, db_url, separate=True)
    start = threading.Barrier(WORKERS, timeout=60)
    made: list[str] = []
    duplicates: list[str] = []

    def worker(i: int, tally: Tally) -> None:
        with make() as mine:
            start.wait()
            try:
                services.open_case(mine, "complaint", on=ON, ref="CP-IMPORT-1", by=f"w{i}",
                                   now=NOW)
            except Conflict:
                tally.conflicts += 1
            except Exception as exc:
                tally.errors.append(f"{type(exc).__name__}: {exc}")
            else:
                duplicates.append(f"w{i}")
            for _ in range(per_worker):
                try:
                    stored = services.open_case(mine, "reconsideration", on=ON, by=f"w{i}",
                                                now=NOW)
                except Exception as exc:
                    tally.errors.append(f"{type(exc).__name__}: {exc}")
                else:
                    made.append(stored.case.ref)

    tallies = run_workers(worker)
    assert [e for t in tallies for e in t.errors] == []
    assert len(duplicates) == 1
    assert sum(t.conflicts for t in tallies) == WORKERS - 1
    assert sorted(made) == [f"RC-2024-{n:04d}" for n in range(1, WORKERS * per_worker + 1)]
    listed = services.list_cases(bureau)
    assert len(listed) == WORKERS * per_worker + 1
    assert all(check.ok for check in services.verify(bureau))


def _wait_until_blocked(bureau: Bureau, waiting: threading.Thread) -> None:
    """Until ``waiting`` waits for the case's lock (PostgreSQL shows it; SQLite's busy wait
    shows nothing, so give it time to reach it)."""
    if bureau.engine.dialect.name != "postgresql":
        time.sleep(0.5)
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and waiting.is_alive():
        with bureau.engine.connect() as connection:
            blocked = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ).scalar_one()
        if blocked:
            return
        time.sleep(0.02)
    raise AssertionError("the second writer never waited for the lock")


def test_a_writer_that_waited_sees_the_cycles_written_meanwhile(bureau: Bureau) -> None:
    """The second writer reads the case only once the first has committed, cycles included:
    the respondent's reply clock the first one started is the clock its reply stops."""
    ref = case_under_review(bureau)
    holding, release = threading.Event(), threading.Event()
    outcome: list[object] = []

    def first() -> None:
        with bureau.unit_of_work() as uow:
            services.advance_in(uow, bureau, ref, "send_copy", on=ON, by="first", now=NOW)
            holding.set()
            release.wait(60)
            uow.commit()

    def second() -> None:
        try:
            outcome.append(services.advance(bureau, ref, "receive_reply", on=ON, by="second",
                                            now=NOW))
        except Exception as exc:
            outcome.append(exc)

    one = threading.Thread(target=first)
    one.start()
    assert holding.wait(60)
    two = threading.Thread(target=second)
    two.start()
    _wait_until_blocked(bureau, two)
    release.set()
    one.join(60)
    two.join(60)
    (stored,) = outcome
    assert not isinstance(stored, Exception), stored
    reply = [c for c in services.get_case(bureau, ref).case.cycles
             if c.clock == "respondent_reply"]
    assert [c.status.value for c in reply] == ["met"]
    rows = services.timeline(bureau, ref)
    assert [r.trigger for r in rows] == ["open", "accept", "send_copy", "receive_reply"]
    assert [c["clock"] for c in rows[3].clocks] == ["respondent_reply"]
    assert all(check.ok for check in services.verify(bureau))
