"""Unit of Work: one SQLAlchemy connection, one transaction, rolled back unless committed.

Repositories never commit; the service that opened the unit of work decides. A writing unit
of work on SQLite takes the write lock when it begins (`BEGIN IMMEDIATE`, see
`models.engine`), so two writers queue instead of one failing after it has read; on
PostgreSQL the repository locks the case row it is about to change (`SELECT … FOR UPDATE`).
"""

from __future__ import annotations

from types import TracebackType

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from models.engine import WRITES


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
        connection = self.engine.connect()
        try:
            if self.write:
                connection.execution_options(**{WRITES: True})
            self._transaction = connection.begin()
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return self

    def commit(self) -> None:
        assert self._transaction is not None, "use the unit of work in a with block"
        self._transaction.commit()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection, self._transaction = self._connection, None, None
        if connection is not None:
            connection.close()  # rolls back whatever was not committed
