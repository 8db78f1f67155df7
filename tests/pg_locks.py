"""Watching PostgreSQL's locks, for the tests that force two writers to cross."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine


def backend_pid(connection: sa.Connection) -> int:
    """The PostgreSQL backend serving ``connection``."""
    return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def others_wait_on(engine: Engine, me: int) -> bool:
    """Whether some PostgreSQL session waits on a lock the backend ``me`` holds."""
    with engine.connect() as watcher:
        return bool(watcher.execute(sa.text(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity"
            " WHERE :me = ANY(pg_blocking_pids(pid)))"), {"me": me}).scalar_one())
