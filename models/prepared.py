"""Core statements compiled once per dialect and run on the driver's cursor.

The hot path (load a case, record a transition) runs a handful of small statements per
transition. Measured on SQLite: `Connection.execute` of a compiled, cached Core select costs
≈ 85 µs, the same statement on the driver cursor ≈ 11 µs; with six statements per transition
that difference is the whole budget. So these statements are still built from the SQLModel
tables with SQLAlchemy Core, compiled by SQLAlchemy for the connection's dialect, and their
values converted by SQLAlchemy's own bind and result processors — only the per-call execution
machinery is skipped. They run on the unit of work's DBAPI connection, inside its transaction
(`models.uow`), or on a SQLAlchemy connection's.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

from models.types import UTCDateTime

Processor = Callable[[Any], Any] | None
Converter = Callable[[Sequence[Any]], list[Any]]


class Driver(Protocol):
    """What a prepared statement runs on: a dialect and its DBAPI connection (a unit of work)."""

    @property
    def dialect(self) -> Dialect: ...

    @property
    def driver_connection(self) -> Any: ...


Database = sa.Connection | Driver


def driver_connection(db: Database) -> Any:
    if isinstance(db, sa.Connection):
        return db.connection.driver_connection
    return db.driver_connection


def converter(processors: Sequence[Processor]) -> Converter:
    """A function converting one row of values, applying only the processors there are (most
    columns have none, and None values are never converted)."""
    steps = [(i, p) for i, p in enumerate(processors) if p is not None]

    def convert(raw: Sequence[Any]) -> list[Any]:
        row = list(raw)
        for i, processor in steps:
            value = row[i]
            if value is not None:
                row[i] = processor(value)
        return row

    return convert


class Prepared:
    """One statement for one dialect: SQL text, parameter order and value converters."""

    def __init__(
        self,
        statement: sa.ClauseElement,
        dialect: Dialect,
        column_keys: Sequence[str] | None = None,
    ) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys or ()) or None)
        assert isinstance(compiled, SQLCompiler)  # DML and selects compile to SQL
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
        self._values = _getter(self.names)
        self._convert_binds = converter([p for _, p in self.binds])
        self.row: Converter = converter(self.results)
        self._parts: dict[tuple[int, int], Converter] = {}

    def part(self, start: int, stop: int) -> Converter:
        """A converter for the result columns ``start:stop`` (one table of a join)."""
        convert = self._parts.get((start, stop))
        if convert is None:
            convert = self._parts[(start, stop)] = converter(self.results[start:stop])
        return convert

    def params(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        converted = self._convert_binds(self._values(values))
        if self.positional:
            return converted
        return dict(zip(self.names, converted, strict=True))

    def execute(self, db: Database, values: Mapping[str, Any]) -> Any:
        cursor = driver_connection(db).cursor()
        cursor.execute(self.sql, self.params(values))
        return cursor

    def execute_many(self, db: Database, rows: Iterable[Mapping[str, Any]]) -> None:
        cursor = driver_connection(db).cursor()
        cursor.executemany(self.sql, [self.params(r) for r in rows])
        cursor.close()

    def raw(self, db: Database, values: Mapping[str, Any]) -> list[Any]:
        """The rows as the driver returns them (convert with `row`, or part of them)."""
        cursor = self.execute(db, values)
        rows = cursor.fetchall()
        cursor.close()
        return rows  # type: ignore[no-any-return]

    def all(self, db: Database, values: Mapping[str, Any]) -> list[list[Any]]:
        return [self.row(r) for r in self.raw(db, values)]

    def rowcount(self, db: Database, values: Mapping[str, Any]) -> int:
        cursor = self.execute(db, values)
        count = int(cursor.rowcount)
        cursor.close()
        return count


def _getter(names: Sequence[str]) -> Callable[[Mapping[str, Any]], Sequence[Any]]:
    if not names:
        return lambda _values: ()
    if len(names) == 1:
        only = itemgetter(names[0])
        return lambda values: (only(values),)
    return itemgetter(*names)


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

    def get(
        self,
        name: str,
        db: Database,
        build: Callable[[], tuple[Any, Sequence[str] | None]] | None = None,
    ) -> Prepared:
        """The statement ``name``; ``build`` makes it when it is one of a family named at the
        call (one shape per count of rows it writes, say) rather than in the set."""
        dialect = db.dialect
        key = (dialect.name, name)
        prepared = self._cache.get(key)
        if prepared is None:
            with self._lock:
                statement, column_keys = (build or self._builders[name])()
                prepared = Prepared(statement, dialect, column_keys)
                self._cache[key] = prepared
        return prepared
