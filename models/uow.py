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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import TracebackType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.pool import PoolProxiedConnection

from models.engine import is_sqlite

_PG_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the connection
_NOTHING = nullcontext()


class UnitOfWork:
    def __init__(self, engine: Engine, *, write: bool = True) -> None:
        self.engine = engine
        self.write = write
        self.dialect: Dialect = engine.dialect
        self._pooled: PoolProxiedConnection | None = None
        self._driver: Any = None
        self._connection: sa.Connection | None = None
        self._committed = False

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
            self._connection = sa.Connection(self.engine, self._pooled)
        return self._connection

    def __enter__(self) -> UnitOfWork:
        self._pooled = self.engine.raw_connection()
        # kept: the pool's property chain to it costs more than the statements' own lookups
        self._driver = self._pooled.driver_connection
        self._committed = False
        if is_sqlite(self.engine):
            # the driver is in autocommit mode (models.engine), so we begin, and say how
            try:
                self._driver.execute("BEGIN IMMEDIATE" if self.write else "BEGIN")
            except BaseException:
                self._pooled.close()
                self._pooled = self._driver = None
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
        finally:
            # closing the SQLAlchemy connection returns the pooled one it wraps
            if self._connection is not None:
                self._connection.close()
            elif self._pooled is not None:
                self._pooled.close()
            self._connection = None
            self._pooled = self._driver = None
