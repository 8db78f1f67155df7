"""Engine factories: SQLite by default (a file, zero set-up), PostgreSQL in production.

Functions only: nothing is built at import time. SQLite gets WAL (readers never wait for the
writer), foreign keys, a busy timeout, and transactions begun by us, so that a writing unit of
work can take the write lock up front (`BEGIN IMMEDIATE`) instead of failing half-way when a
concurrent writer commits first.
"""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
CHECKPOINT_EVERY_S = 0.5


def normalize_url(url: str) -> str:
    """Accept the short PostgreSQL spellings and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _json_dumps(value: Any) -> str:
    # orjson: ~5x faster than the standard library on the hot path (attributes, clock changes)
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
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _Checkpointer(engine, database).attach()
        return engine
    # no pre-ping: it costs a round trip per unit of work; stale connections are recycled
    kwargs.setdefault("pool_recycle", 1800)
    return sa.create_engine(url, **kwargs)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's begin event emit BEGIN, not the driver (see the module docstring).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # Checkpoints (copying the WAL into the database, with an fsync) are left to
    # `_Checkpointer`, off the writers' path; a committing writer would otherwise pay
    # ≈ 10 ms every few hundred transactions. SQLite still checkpoints when the last
    # connection closes.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_on_begin(connection: sa.Connection) -> None:
    driver = connection.connection.driver_connection
    # a unit of work begins on the driver itself (models.uow); SQLAlchemy then only joins it
    if not driver.in_transaction:  # type: ignore[union-attr]
        driver.execute("BEGIN")  # type: ignore[union-attr]


class _Checkpointer:
    """Checkpoints a SQLite file's WAL from a background thread while the engine is in use.

    PASSIVE checkpoints never block readers or writers; the sqlite3 driver releases the GIL
    while it copies pages and syncs, so writers go on meanwhile. The thread starts with the
    engine's first connection and stops when the engine is disposed (or the process ends).
    """

    def __init__(self, engine: Engine, path: str) -> None:
        self.engine = engine
        self.path = path
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def attach(self) -> None:
        sa.event.listen(self.engine, "connect", self._start)
        sa.event.listen(self.engine, "engine_disposed", lambda _engine: self.stop.set())

    def _start(self, _dbapi_connection: Any, _record: Any) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.stop.clear()
                self.thread = threading.Thread(
                    target=self._run, name=f"caseflow-checkpoint:{self.path}", daemon=True
                )
                self.thread.start()

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self.path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error:
            return
        try:
            while not self.stop.wait(CHECKPOINT_EVERY_S):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:  # a busy or vanished database: try again next time
                    continue
        finally:
            connection.close()
