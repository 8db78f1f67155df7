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
CHECKPOINT_EVERY_S = 0.1
# how long the FULL step of a round may wait for the write lock or an old reader
CHECKPOINT_WAIT_S = 0.005
# WAL pages (≈ 40 MB) at which a committing writer checkpoints itself (see `_sqlite_on_connect`)
WAL_BACKSTOP_PAGES = 10_000


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
    # ≈ 4 ms every hundred-odd transitions (SQLite's default, every 1,000 WAL pages). The
    # writers' own checkpoint stays as a backstop, far out of the way, should the
    # background one be kept from resetting the WAL for long. SQLite also checkpoints when
    # the last connection closes.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_BACKSTOP_PAGES}")
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

    Each round is two checkpoints. A PASSIVE one copies the WAL into the database without
    blocking anyone (the sqlite3 driver releases the GIL while it copies and syncs), so
    writers go on meanwhile. Then a FULL one takes the write lock for a moment and copies
    the few frames committed during the first. Only a WAL checkpointed to its last frame
    when a writer begins is reset (written again from its start); under a steady stream of
    writes PASSIVE checkpoints alone never get there, and the WAL grew by every frame ever
    written (388 MB after bench/persist_transitions.py's 9,000 transitions), slowing every
    page lookup and commit. The FULL step waits at most `CHECKPOINT_WAIT_S` for the write
    lock or for a reader on an older snapshot, then gives up until the next round, so a
    long report query never holds writers up behind it.

    The thread starts with the engine's first connection and stops when the engine is
    disposed (or the process ends).
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
            connection = sqlite3.connect(self.path, timeout=CHECKPOINT_WAIT_S)
        except sqlite3.Error:
            return
        try:
            while not self.stop.wait(CHECKPOINT_EVERY_S):
                _checkpoint_round(connection)
        finally:
            connection.close()


def _checkpoint_round(connection: sqlite3.Connection) -> None:
    """One round of `_Checkpointer`: PASSIVE, then FULL unless the WAL is empty. The FULL
    step runs even when the PASSIVE one copied every frame: a writer whose transaction was
    open meanwhile began reading before the copy ended, and such a writer never resets the
    WAL; the next one to begin after a FULL step (which waits out the open transaction and
    keeps others from starting) does. Errors (a busy or vanished database) are left for the
    next round."""
    try:
        _busy, frames, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames > 0:
            connection.execute("PRAGMA wal_checkpoint(FULL)").fetchone()
    except sqlite3.Error:
        pass
