"""Core statements compiled once per dialect and run on the driver's cursor.

The hot path (load a case, record a transition) runs a handful of small statements per
transition. Measured on SQLite: `Connection.execute` of a compiled, cached Core select costs
≈ 85 µs, the same statement on the driver cursor ≈ 11 µs; with six statements per transition
that difference is the whole budget. So these statements are still built from the SQLModel
tables with SQLAlchemy Core, compiled by SQLAlchemy for the connection's dialect, and their
values converted by SQLAlchemy's own bind and result processors — only the per-call execution
machinery is skipped. They run inside the unit of work's transaction (same DBAPI connection).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from models.types import UTCDateTime

Processor = Callable[[Any], Any] | None


class Prepared:
    """One statement for one dialect: SQL text, parameter order and value converters."""

    def __init__(
        self, statement: sa.Executable, dialect: Dialect, column_keys: Sequence[str] | None = None
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys or ()) or None)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.names: tuple[str, ...] = tuple(compiled.positiontup or compiled.binds)
        self.binds: list[tuple[str, Processor]] = [
            (name, _bind_processor(compiled.binds[name].type, dialect)) for name in self.names
        ]
        if isinstance(statement, sa.Select):
            types = [column.type for column in statement.selected_columns]
        else:
            types = [d["type"] for d in getattr(statement, "returning_column_descriptions", ())]
        self.results: list[Processor] = [_result_processor(t, dialect) for t in types]

    def params(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        converted = []
        for name, processor in self.binds:
            value = values[name]
            converted.append(
                value if processor is None or value is None else processor(value)
            )
        if self.positional:
            return converted
        return dict(zip(self.names, converted, strict=True))

    def row(self, raw: Sequence[Any]) -> list[Any]:
        return [
            p(v) if p is not None and v is not None else v
            for p, v in zip(self.results, raw, strict=True)
        ]

    def execute(self, connection: sa.Connection, values: Mapping[str, Any]) -> Any:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(self.sql, self.params(values))
        return cursor

    def execute_many(self, connection: sa.Connection, rows: Iterable[Mapping[str, Any]]) -> None:
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.executemany(self.sql, [self.params(r) for r in rows])
        cursor.close()

    def all(self, connection: sa.Connection, values: Mapping[str, Any]) -> list[list[Any]]:
        cursor = self.execute(connection, values)
        rows = [self.row(r) for r in cursor.fetchall()]
        cursor.close()
        return rows

    def rowcount(self, connection: sa.Connection, values: Mapping[str, Any]) -> int:
        cursor = self.execute(connection, values)
        count = int(cursor.rowcount)
        cursor.close()
        return count


def _bind_processor(type_: Any, dialect: Dialect) -> Processor:
    # SQLAlchemy stores SQLite dates and times as ISO text; its general-purpose processors
    # check and format field by field, the datetime methods write the same text much faster
    # (tests/integration/test_prepared.py holds the two to the same text).
    if dialect.name == "sqlite" and type(type_) is sa.Date:
        return date.isoformat
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        return _utc_text
    return type_.dialect_impl(dialect).bind_processor(dialect)  # type: ignore[no-any-return]


def _result_processor(type_: Any, dialect: Dialect) -> Processor:
    if dialect.name == "sqlite" and type(type_) is sa.Date:
        return date.fromisoformat
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        return _utc_from_text
    return type_.dialect_impl(dialect).result_processor(dialect, None)  # type: ignore[no-any-return]


def _utc_text(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _utc_from_text(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class PreparedSet:
    """Statements by name, each compiled on first use for each dialect."""

    def __init__(self, builders: Mapping[str, Callable[[], tuple[Any, Sequence[str] | None]]]):
        self._builders = dict(builders)
        self._cache: dict[tuple[str, str], Prepared] = {}
        self._lock = threading.Lock()

    def get(self, name: str, connection: sa.Connection) -> Prepared:
        dialect = connection.dialect
        key = (dialect.name, name)
        prepared = self._cache.get(key)
        if prepared is None:
            with self._lock:
                statement, column_keys = self._builders[name]()
                prepared = Prepared(statement, dialect, column_keys)
                self._cache[key] = prepared
        return prepared
