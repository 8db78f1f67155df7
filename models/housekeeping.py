"""Whole-database chores: which cases a database holds, and emptying it.

`caseflow demo` replaces an earlier demo database and nothing else (CONTRACT.md): it asks
`foreign_refs` whether any case is not the demo's before it empties anything.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from models.tables import CaseRow

_cases = CaseRow.__table__  # type: ignore[attr-defined]


def read_only_sqlite(path: str) -> Engine:
    """An engine that only reads the SQLite file at ``path``: the file is left byte for byte as
    it was (no journal-mode switch, no checkpoint), as a refusal must leave it."""
    return sa.create_engine(f"sqlite:///{Path(path).resolve().as_uri()}?mode=ro&uri=true")


def has_cases(connection: sa.Connection) -> bool:
    """True when the database has caseflow's cases table (at any schema revision)."""
    return sa.inspect(connection).has_table(_cases.name)


def foreign_refs(connection: sa.Connection, prefix: str, *, limit: int = 3) -> list[str]:
    """Up to ``limit`` references of cases whose reference does not start with ``prefix``."""
    query = (sa.select(_cases.c.ref)
             .where(sa.func.substr(_cases.c.ref, 1, len(prefix)) != prefix)
             .order_by(_cases.c.id).limit(limit))
    return list(connection.execute(query).scalars())


def empty(connection: sa.Connection) -> None:
    """Delete every row of caseflow's tables (the schema and its revision stay)."""
    existing = set(sa.inspect(connection).get_table_names())
    for table in reversed(SQLModel.metadata.sorted_tables):
        if table.name in existing:
            connection.execute(table.delete())
