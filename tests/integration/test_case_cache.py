"""The case cache, on SQLite and PostgreSQL: a bureau fires on the case as it last wrote it,
and a change made elsewhere since (another process, here another bureau with a cache of its
own) is never missed, never lets a refused trigger through, and never refuses a good one.

(`conftest.check_case_cache` also checks, after every test using the `bureau` fixture, that
each cached case equals the stored one at its version.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from flows import services
from flows.context import Bureau
from models.engine import create_engine
from models.errors import Conflict
from states.calendar import default_calendar
from states.casetypes import CASE_TYPES
from states.errors import TriggerNotAllowed

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
OPENED = date(2024, 9, 27)
ON = date(2024, 10, 8)


@pytest.fixture
def elsewhere(engine: Engine) -> Iterator[Bureau]:
    """Another writer on the same database, with its own cache: another process, in effect."""
    yield Bureau(engine, CASE_TYPES, default_calendar())


def opened(bureau: Bureau) -> str:
    return services.open_case(bureau, "reconsideration", on=OPENED, by="a", now=NOW).case.ref


def test_a_written_case_is_cached_as_committed(bureau: Bureau) -> None:
    ref = opened(bureau)
    cached = bureau.cases.get(ref)
    assert cached is not None and cached.case.version == 1
    services.advance(bureau, ref, "accept", on=ON, by="a", now=NOW)
    cached = bureau.cases.get(ref)
    assert cached == services.get_case(bureau, ref)
    assert cached is not None and cached.case.version == 2


def test_what_was_not_committed_is_not_cached(bureau: Bureau) -> None:
    ref = opened(bureau)
    with bureau.unit_of_work() as uow:
        services._advance_in(uow, bureau, ref, "accept", ON, None, None, "a", NOW, None, False)
        # left without commit: rolled back
    cached = bureau.cases.get(ref)
    assert cached is not None and cached.case.state == "received"
    assert services.advance(bureau, ref, "accept", on=ON, by="a", now=NOW).case.version == 2


def test_a_change_made_elsewhere_is_seen(bureau: Bureau, elsewhere: Bureau) -> None:
    """The reply stops the clock the copy started elsewhere: the write on the cached copy
    (version 2) is refused by the version guard, and the case is read again."""
    ref = opened(bureau)
    services.advance(bureau, ref, "accept", on=ON, by="a", now=NOW)
    services.advance(elsewhere, ref, "send_copy", on=ON, by="b", now=NOW)
    stored = services.advance(bureau, ref, "receive_reply", on=ON, by="a", now=NOW)
    assert stored.case.version == 4
    reply = [c for c in stored.case.cycles if c.clock == "respondent_reply"]
    assert [c.status.value for c in reply] == ["met"]
    rows = services.timeline(bureau, ref)
    assert [r["trigger"] for r in rows] == ["open", "accept", "send_copy", "receive_reply"]
    assert [r["by"] for r in rows] == ["a", "a", "b", "a"]
    assert all(check.ok for check in services.verify(bureau))


def test_a_stale_copy_never_refuses_a_good_trigger(bureau: Bureau, elsewhere: Bureau) -> None:
    ref = opened(bureau)  # cached here as received, where send_copy is not allowed
    services.advance(elsewhere, ref, "accept", on=ON, by="b", now=NOW)
    assert services.advance(bureau, ref, "send_copy", on=ON, by="a", now=NOW).case.version == 3
    # the version the clerk saw is the stored one, not the stale copy's
    services.advance(elsewhere, ref, "receive_reply", on=ON, by="b", now=NOW)
    stored = services.advance(bureau, ref, "schedule_hearing", on=ON,
                              attrs={"hearing_on": "2024-10-21"}, by="a", now=NOW,
                              expect_version=4)
    assert stored.case.version == 5


def test_a_stale_copy_never_lets_a_refused_trigger_through(
    bureau: Bureau, elsewhere: Bureau
) -> None:
    ref = opened(bureau)  # cached here as received, where accept is allowed
    services.advance(elsewhere, ref, "reject", on=ON, reason="out of time", by="b", now=NOW)
    with pytest.raises(TriggerNotAllowed) as refused:
        services.advance(bureau, ref, "accept", on=ON, by="a", now=NOW)
    assert "rejected" in str(refused.value)  # judged on the stored state
    assert [r["trigger"] for r in services.timeline(bureau, ref)] == ["open", "reject"]
    # and a clerk's version check is judged on the stored version too
    with pytest.raises(Conflict) as stale:
        services.advance(bureau, ref, "accept", on=ON, by="a", now=NOW, expect_version=1)
    assert "--expect-version 2" in stale.value.allowed


def test_after_a_write_alone_units_of_work_are_whole_again(bureau: Bureau) -> None:
    """On PostgreSQL the write on a cached case runs as a transaction of its own; the
    connection goes back to the pool with transactions as before, so a later unit of work
    that is left without commit still keeps nothing."""
    ref = opened(bureau)
    services.advance(bureau, ref, "accept", on=ON, by="a", now=NOW)  # on the cached case
    before = services.timeline(bureau, ref)
    with bureau.unit_of_work() as uow:
        services._advance_in(uow, bureau, ref, "send_copy", ON, None, None, "a", NOW, None,
                             False)
        services._advance_in(uow, bureau, ref, "receive_reply", ON, None, None, "a", NOW,
                             None, False)
        # left without commit: rolled back, both
    assert services.timeline(bureau, ref) == before


def test_a_transition_on_a_cached_case_is_one_statement_on_postgresql(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """It runs in autocommit (UnitOfWork.as_one_statement), so it must stay one statement: a
    second one would commit apart from the first. (SQLite runs its statements in the
    transaction its unit of work begins up front.)"""
    import psycopg

    engine = create_engine(pg_url)
    bureau = Bureau(engine, CASE_TYPES, default_calendar())
    try:
        ref = opened(bureau)
        ran: list[tuple[bool, str]] = []
        execute = psycopg.Cursor.execute

        def spy(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
            ran.append((self.connection.autocommit, str(query).split()[0]))
            return execute(self, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", spy)
        services.advance(bureau, ref, "accept", on=ON, by="a", now=NOW)
        monkeypatch.undo()
        assert ran == [(True, "WITH")]
        assert services.get_case(bureau, ref).case.state == "under_review"
    finally:
        engine.dispose()
