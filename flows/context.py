"""What the services work against: the store, the case-type declarations and the calendar.

A `Bureau` is built by the composition root (`deployments.bootstrap`) and passed to every
service and flow function; a Prefect flow builds its own inside the run
(`deployments.entrypoints`). Nothing here is global.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from models.uow import UnitOfWork
from states.calendar import WorkCalendar
from states.casetype import CaseType
from states.casetypes import case_type


@dataclass(frozen=True)
class Bureau:
    """One bureau's engine room (司法局): built by the composition root, passed to services."""

    engine: Engine
    types: Mapping[str, CaseType]
    calendar: WorkCalendar

    def unit_of_work(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self.engine, write=write)

    def case_type(self, name: str) -> CaseType:
        return case_type(name, self.types)
