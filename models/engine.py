"""Engine factories: SQLite by default (a file, zero set-up), PostgreSQL in production.

Functions only: nothing is built at import time. SQLite gets WAL (readers never wait for the
writer), foreign keys and a busy timeout, and its transactions are begun by SQLAlchemy rather
than by the driver (SQLAlchemy's documented recipe for pysqlite), so that a writing unit of work
can take the write lock up front (`BEGIN IMMEDIATE`) instead of failing half-way when a
concurrent writer commits first.
"""

from __future__ import annotations

from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
WAL_CHECKPOINT_PAGES = 4_000
# the execution option a writing unit of work sets on its connection (`models.uow`)
WRITES = "caseflow_writes"


def normalize_url(url: str) -> str:
    """Accept the short PostgreSQL spellings and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def sqlite_file(url: str) -> str | None:
    """The file a SQLite URL names, or None (another database, memory, a ``file:`` URI, or a
    URL that does not parse: opening it says what is wrong)."""
    try:
        parsed = sa.engine.make_url(normalize_url(url))
    except sa.exc.ArgumentError:
        return None
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else database


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings caseflow relies on."""
    url = normalize_url(url)
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs
        )
        sa.event.listen(engine, "connect", _sqlite_on_connect)
        sa.event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # servers and firewalls drop idle connections: older ones are replaced before use
    kwargs.setdefault("pool_recycle", 1800)
    return sa.create_engine(url, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # the driver must not begin transactions by itself: `_sqlite_on_begin` does, and says how
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # A committing writer now and then copies the journal into the database (a checkpoint);
    # at every 4,000 pages rather than SQLite's 1,000 that is one clerk's act in several
    # hundred, not one in a hundred.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_on_begin(connection: sa.Connection) -> None:
    """A writer takes the database's write lock when its transaction begins, so that two
    writers queue there instead of the second failing after it has read; readers do not."""
    writes = connection.get_execution_options().get(WRITES, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")
