"""Unit of Work: one connection, one transaction, rolled back unless committed.

Repositories never commit; the service that opened the unit of work decides. A writing unit
of work on SQLite takes the write lock when it begins (`BEGIN IMMEDIATE`), so two writers
queue instead of one failing after it has read; on PostgreSQL the repository locks the case
row it is about to change (`SELECT … FOR UPDATE`).

The transaction is held on the pooled DBAPI connection itself, not on a SQLAlchemy
`Connection`: a clerk's transition runs a handful of prepared statements (`models.prepared`)
and a SQLAlchemy `Connection` with its transaction object cost ≈ 60 µs of CPU per unit of
work on top of the pool, a quarter of what the bare sqlite3 module needs for the whole
transition. Statements off the hot path still go through SQLAlchemy: `connection` wraps the
same pooled connection, joining the transaction already begun, on first use.

A unit of work checks its connection out of the pool when it begins and back in when it ends:
about 13 % of a warm transition's CPU on SQLite (170 against 147 µs without; pool bookkeeping,
its reset, the queue's lock). Code that runs many units of work one after another (a sweep,
a recalendar, a worker's batch) wraps them in `one_connection`: they then run on one pooled
connection, one transaction after another, as they would on one SQLAlchemy `Connection`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import PoolProxiedConnection

from models.engine import is_sqlite

_PG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the connection
_NOTHING = nullcontext()


class _Held:
    """The connection `one_connection` keeps checked out for its units of work."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # a context copied into another thread (Prefect's task runners copy them) must not
        # share the connection: only the thread that holds it uses it
        self.thread = threading.get_ident()
        self.pooled: PoolProxiedConnection | None = None
        self.connection: sa.Connection | None = None
        self.busy = False

    def take(self) -> PoolProxiedConnection:
        if self.pooled is None:
            self.pooled = self.engine.raw_connection()
        self.busy = True
        return self.pooled

    def sqlalchemy_connection(self) -> sa.Connection:
        assert self.pooled is not None
        if self.connection is None:
            self.connection = sa.Connection(self.engine, self.pooled)
        return self.connection

    def release(self) -> None:
        """Back to the pool, which resets it and throws it away if it is broken."""
        connection, pooled = self.connection, self.pooled
        self.connection = self.pooled = None
        self.busy = False
        _give_back(connection, pooled)


def _give_back(connection: sa.Connection | None, pooled: PoolProxiedConnection | None) -> None:
    # closing the SQLAlchemy connection returns the pooled one it wraps
    if connection is not None:
        connection.close()
    elif pooled is not None:
        pooled.close()


_held: ContextVar[_Held | None] = ContextVar("caseflow_held_connection", default=None)


def _holding(engine: Engine) -> _Held | None:
    """The `one_connection` of this thread on ``engine``, if it is inside one."""
    held = _held.get()
    if held is not None and held.engine is engine and held.thread == threading.get_ident():
        return held
    return None


@contextmanager
def one_connection(engine: Engine) -> Iterator[None]:
    """Units of work on ``engine`` begun inside, in this thread, run one after another on one
    pooled connection instead of checking one out each. A unit of work begun while another
    is open on it (nested) checks out its own, as does one in another thread. A unit of work
    that ends with an error gives the connection back to the pool (which resets it, or drops
    it if broken) and the next one takes a fresh one. Nested on the same engine: the outer
    one holds."""
    if _holding(engine) is not None:
        yield
        return
    held = _Held(engine)
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        held.release()


class UnitOfWork:
    def __init__(self, engine: Engine, *, write: bool = True) -> None:
        self.engine = engine
        self.write = write
        self.dialect: Dialect = engine.dialect
        self._pooled: PoolProxiedConnection | None = None
        self._driver: Any = None
        self._connection: sa.Connection | None = None
        self._committed = False
        self._held: _Held | None = None

    @property
    def driver_connection(self) -> Any:
        """The DBAPI connection (sqlite3 or psycopg) the transaction runs on."""
        assert self._driver is not None, "use the unit of work in a with block"
        return self._driver

    @property
    def connection(self) -> sa.Connection:
        """A SQLAlchemy connection in the same transaction, for statements off the hot path."""
        assert self._pooled is not None, "use the unit of work in a with block"
        if self._connection is None:
            self._connection = (
                sa.Connection(self.engine, self._pooled)
                if self._held is None
                else self._held.sqlalchemy_connection()
            )
        return self._connection

    def __enter__(self) -> UnitOfWork:
        held = _holding(self.engine)
        if held is not None and not held.busy:
            self._held = held
            self._pooled = held.take()
        else:
            self._held = None
            self._pooled = self.engine.raw_connection()
        # kept: the pool's property chain to it costs more than the statements' own lookups
        self._driver = self._pooled.driver_connection
        self._committed = False
        if is_sqlite(self.engine):
            # the driver is in autocommit mode (models.engine), so we begin, and say how
            try:
                self._driver.execute("BEGIN IMMEDIATE" if self.write else "BEGIN")
            except BaseException:
                self._let_go(failed=True)
                raise
        # psycopg begins a transaction with the first statement (autocommit is off)
        return self

    def as_one_statement(self) -> AbstractContextManager[None]:
        """For a unit of work whose only statement runs inside: on PostgreSQL that statement
        is its own transaction (autocommit), sparing the BEGIN and COMMIT round trips, two of
        a transition's three when it writes its cached case (`flows.services.advance`). Only
        while nothing has run yet in the unit of work; elsewhere, and on SQLite (which began
        its transaction with the unit of work), nothing changes. One statement only: a
        second one inside would commit apart from the first."""
        if (
            self.dialect.name != "postgresql"
            or self._connection is not None
            or self.driver_connection.info.transaction_status != _PG_IDLE
        ):
            return _NOTHING
        return self._autocommitting()

    @contextmanager
    def _autocommitting(self) -> Iterator[None]:
        self._driver.autocommit = True
        try:
            yield
        finally:
            self._driver.autocommit = False

    def commit(self) -> None:
        assert self._pooled is not None, "use the unit of work in a with block"
        if self._connection is not None and self._connection.in_transaction():
            self._connection.commit()
        else:
            self._driver.commit()
        self._committed = True

    def rollback(self) -> None:
        if self._pooled is None or self._committed:
            return
        if self._connection is not None and self._connection.in_transaction():
            self._connection.rollback()
        else:
            self._driver.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        except BaseException:
            self._let_go(failed=True)
            raise
        self._let_go(failed=exc_type is not None)

    def _let_go(self, *, failed: bool) -> None:
        """Return the connection: to the pool, or to the `one_connection` holding it, which
        gives it to the pool too after an error rather than trust it for the next one."""
        held, connection, pooled = self._held, self._connection, self._pooled
        self._held = self._connection = None
        self._pooled = self._driver = None
        if held is None:
            _give_back(connection, pooled)
        elif failed:
            held.release()
        else:
            held.busy = False
