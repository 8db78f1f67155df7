"""The unit of work holds its transaction on the pooled DBAPI connection; SQLAlchemy joins it.

Both ways of writing inside one unit of work (prepared statements on the driver, SQLAlchemy
statements on `uow.connection`) land together on commit and vanish together otherwise.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.engine import create_engine
from models.prepared import Prepared
from models.tables import ref_counters
from models.uow import UnitOfWork


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
