"""Unit of Work: one connection, one transaction, rolled back unless committed.

Repositories never commit; the service that opened the unit of work decides. A writing unit
of work on SQLite takes the write lock when it begins (`BEGIN IMMEDIATE`), so two writers
queue instead of one failing after it has read; on PostgreSQL the repository locks the case
row it is about to change (`SELECT … FOR UPDATE`).
"""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.engine import is_sqlite


class UnitOfWork:
    def __init__(self, engine: Engine, *, write: bool = True) -> None:
        self.engine = engine
        self.write = write
        self._connection: sa.Connection | None = None
        self._transaction: sa.RootTransaction | None = None

    @property
    def connection(self) -> sa.Connection:
        assert self._connection is not None, "use the unit of work in a with block"
        return self._connection

    def __enter__(self) -> UnitOfWork:
        self._connection = self.engine.connect()
        if self.write and is_sqlite(self.engine):
            self._connection.info["sqlite_begin"] = "IMMEDIATE"
        self._transaction = self._connection.begin()
        return self

    def commit(self) -> None:
        assert self._transaction is not None
        self._transaction.commit()

    def rollback(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.rollback()
        finally:
            if self._connection is not None:
                self._connection.close()
            self._connection = None
            self._transaction = None
