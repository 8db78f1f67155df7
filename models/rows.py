"""Typed reads: the SQLModel classes of `models.tables` as the rows a query returns.

A read whose rows go to the services and views as they are stored (a lawyer of the pool, their
leave) selects the row class through SQLModel's `Session.exec` on the unit of work's
connection: the rows come back as `LawyerRow`, `LawyerLeaveRow` … with typed fields, not as
mappings keyed by strings. The session joins the connection's transaction and never ends it:
the unit of work commits or rolls back, as for every other statement.
"""

from __future__ import annotations

from typing import TypeVar, TypeVarTuple

import sqlalchemy as sa
from sqlmodel import Session, SQLModel
from sqlmodel.sql.expression import Select, SelectOfScalar

Row = TypeVar("Row", bound=SQLModel)
Columns = TypeVarTuple("Columns")


def select_rows(connection: sa.Connection, query: SelectOfScalar[Row]) -> list[Row]:
    """The instances ``query`` (a `sqlmodel.select` of one row class) finds."""
    with Session(connection) as session:
        return list(session.exec(query).all())


def select_tuples(connection: sa.Connection, query: Select[*Columns]
                  ) -> list[tuple[*Columns]]:
    """The tuples ``query`` (a `sqlmodel.select` of row classes and columns) finds: a row
    class in it comes back as its instance."""
    with Session(connection) as session:
        return list(session.exec(query).all())
