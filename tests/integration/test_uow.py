"""The unit of work holds its transaction on the pooled DBAPI connection; SQLAlchemy joins it.

Both ways of writing inside one unit of work (prepared statements on the driver, SQLAlchemy
statements on `uow.connection`) land together on commit and vanish together otherwise.
"""

from __future__ import annotations

import contextvars
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.engine import create_engine
from models.prepared import Prepared
from models.tables import ref_counters
from models.uow import UnitOfWork, one_connection


def _write_both_ways(uow: UnitOfWork) -> None:
    Prepared(sa.insert(ref_counters), uow.dialect, ["key", "last"]).execute(
        uow, {"key": "driver", "last": 1}
    ).close()
    uow.connection.execute(sa.insert(ref_counters).values(key="sqlalchemy", last=2))


def _stored(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {r.key: r.last for r in connection.execute(sa.select(ref_counters))}


def test_commit_keeps_what_both_wrote(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        _write_both_ways(uow)
        uow.commit()
    assert _stored(engine) == {"driver": 1, "sqlalchemy": 2}


def test_leaving_without_commit_keeps_nothing(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        _write_both_ways(uow)
    assert _stored(engine) == {}


def test_an_error_rolls_back_both(engine: Engine) -> None:
    with pytest.raises(RuntimeError), UnitOfWork(engine) as uow:
        _write_both_ways(uow)
        raise RuntimeError("refused after writing")
    assert _stored(engine) == {}


def test_driver_only_unit_of_work_commits(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        Prepared(sa.insert(ref_counters), uow.dialect, ["key", "last"]).execute(
            uow, {"key": "alone", "last": 7}
        ).close()
        uow.commit()
    assert _stored(engine) == {"alone": 7}


def test_connections_go_back_to_the_pool(engine: Engine) -> None:
    for _ in range(3 * engine.pool.size()):  # type: ignore[attr-defined]
        with UnitOfWork(engine) as uow:
            uow.connection.execute(sa.select(1))
            uow.commit()
        with UnitOfWork(engine, write=False):
            pass
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_sqlite_writer_takes_the_write_lock_when_it_begins(
    sqlite_template: Path, tmp_path: Path
) -> None:
    """SQLite only: PostgreSQL writers lock the case's row instead (tests/integration/
    test_concurrency.py races them on both)."""
    path = tmp_path / "caseflow.db"
    shutil.copy(sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    with UnitOfWork(engine) as uow:
        assert uow.driver_connection.in_transaction
        other = engine.raw_connection()
        try:
            driver = other.driver_connection
            driver.execute("PRAGMA busy_timeout=0")  # type: ignore[union-attr]
            with pytest.raises(Exception, match="locked"):
                driver.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]
        finally:
            other.close()
    engine.dispose()


# -- one_connection: many units of work, one pooled connection ------------------------------


def test_units_of_work_inside_one_connection_share_it(engine: Engine) -> None:
    drivers = []
    with one_connection(engine):
        for _ in range(3):
            with UnitOfWork(engine) as uow:
                drivers.append(uow.driver_connection)
                uow.connection.execute(sa.select(1))
                uow.commit()
            with UnitOfWork(engine, write=False) as uow:
                drivers.append(uow.driver_connection)
            assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert len({id(d) for d in drivers}) == 1
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_each_unit_of_work_inside_is_still_its_own_transaction(engine: Engine) -> None:
    with one_connection(engine):
        with UnitOfWork(engine) as uow:
            _write_both_ways(uow)
            uow.commit()
        # committed when its unit of work ended, not when the held connection goes back
        assert _stored(engine) == {"driver": 1, "sqlalchemy": 2}
        with UnitOfWork(engine) as uow:  # left without commit
            Prepared(sa.insert(ref_counters), uow.dialect, ["key", "last"]).execute(
                uow, {"key": "dropped", "last": 3}
            ).close()
            uow.connection.execute(sa.insert(ref_counters).values(key="dropped too", last=4))
        with pytest.raises(RuntimeError), UnitOfWork(engine) as uow:
            uow.connection.execute(sa.insert(ref_counters).values(key="failed", last=5))
            raise RuntimeError("refused after writing")
        with UnitOfWork(engine) as uow:
            uow.connection.execute(sa.insert(ref_counters).values(key="after", last=6))
            uow.commit()
    assert _stored(engine) == {"driver": 1, "sqlalchemy": 2, "after": 6}
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_an_error_gives_the_held_connection_back_to_the_pool(engine: Engine) -> None:
    with one_connection(engine):
        with UnitOfWork(engine) as uow:
            uow.commit()
        with pytest.raises(RuntimeError), UnitOfWork(engine):
            raise RuntimeError("boom")
        # the pool has it back (and reset it); the next unit of work takes one afresh
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
        with UnitOfWork(engine) as uow:
            uow.connection.execute(sa.insert(ref_counters).values(key="next", last=1))
            uow.commit()
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert _stored(engine) == {"next": 1}
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_a_nested_unit_of_work_takes_its_own_connection(engine: Engine) -> None:
    with one_connection(engine), UnitOfWork(engine) as outer:
        _write_both_ways(outer)
        with UnitOfWork(engine, write=False) as inner:
            assert inner.driver_connection is not outer.driver_connection
            # the outer transaction is not the inner one's: nothing committed yet
            rows = inner.connection.execute(sa.select(ref_counters.c.key)).all()
            assert rows == []
        outer.commit()
    assert _stored(engine) == {"driver": 1, "sqlalchemy": 2}
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_another_thread_does_not_use_the_held_connection(engine: Engine) -> None:
    """Prefect's task runners copy the caller's context into their threads."""
    theirs: list[int] = []

    def in_thread() -> None:
        with UnitOfWork(engine, write=False) as uow:
            theirs.append(id(uow.driver_connection))

    with one_connection(engine):
        with UnitOfWork(engine, write=False) as uow:
            mine = id(uow.driver_connection)
        # the held connection is idle now, and still only this thread's
        with ThreadPoolExecutor(1) as pool:
            pool.submit(contextvars.copy_context().run, in_thread).result()
        assert theirs and theirs[0] != mine
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


def test_one_connection_nested_on_the_same_engine_keeps_the_outer(engine: Engine) -> None:
    drivers = []
    with one_connection(engine):
        with UnitOfWork(engine, write=False) as uow:
            drivers.append(id(uow.driver_connection))
        with one_connection(engine), UnitOfWork(engine, write=False) as uow:
            drivers.append(id(uow.driver_connection))
        # the inner scope's end did not give the outer one's connection back
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    assert len(set(drivers)) == 1
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]


@pytest.mark.parametrize("through", ["driver", "sqlalchemy"])
def test_a_held_connection_the_server_dropped_is_not_used_again(
    pg_url: str, through: str
) -> None:
    """PostgreSQL only: the server ends the held connection's session (a restart, an
    administrator, an idle timeout). The unit of work on it fails, whether its statement ran
    on the driver (the hot path) or through SQLAlchemy; the next one in the same
    `one_connection` runs on a fresh connection."""
    engine = create_engine(pg_url, pool_size=1, max_overflow=0)
    admin = create_engine(pg_url, poolclass=sa.pool.NullPool)
    try:
        with one_connection(engine):
            with UnitOfWork(engine) as uow:
                pid = uow.driver_connection.info.backend_pid
                uow.commit()
            with admin.connect() as connection:
                connection.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            with (
                pytest.raises((psycopg.OperationalError, sa.exc.OperationalError)),
                UnitOfWork(engine) as uow,
            ):
                if through == "driver":
                    uow.driver_connection.execute("SELECT 1")
                else:
                    uow.connection.execute(sa.select(1))
            with UnitOfWork(engine) as uow:
                assert uow.driver_connection.info.backend_pid != pid
                uow.connection.execute(
                    sa.insert(ref_counters).values(key=f"after, {through}", last=1)
                )
                uow.commit()
        # the schema is shared by every PostgreSQL test here, so look for this one's row
        assert _stored(engine).get(f"after, {through}") == 1
        assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        engine.dispose()
        admin.dispose()
