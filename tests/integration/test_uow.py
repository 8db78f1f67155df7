"""The unit of work: one SQLAlchemy connection and transaction, rolled back unless committed."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.engine import create_engine
from models.tables import ref_counters
from models.uow import UnitOfWork


def _write(uow: UnitOfWork, key: str, last: int) -> None:
    uow.connection.execute(sa.insert(ref_counters).values(key=key, last=last))


def _stored(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {r.key: r.last for r in connection.execute(sa.select(ref_counters))}


def test_commit_keeps_what_was_written(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        _write(uow, "a", 1)
        _write(uow, "b", 2)
        uow.commit()
    assert _stored(engine) == {"a": 1, "b": 2}


def test_leaving_without_commit_keeps_nothing(engine: Engine) -> None:
    with UnitOfWork(engine) as uow:
        _write(uow, "a", 1)
    assert _stored(engine) == {}


def test_an_error_rolls_back(engine: Engine) -> None:
    with pytest.raises(RuntimeError), UnitOfWork(engine) as uow:
        _write(uow, "a", 1)
        raise RuntimeError("refused after writing")
    assert _stored(engine) == {}


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
    test_concurrency.py races them on both). A reader does not take it."""
    path = tmp_path / "caseflow.db"
    shutil.copy(sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with UnitOfWork(engine, write=False) as reader:
            reader.connection.execute(sa.select(ref_counters)).all()
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        with UnitOfWork(engine), pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    finally:
        other.close()
        engine.dispose()
