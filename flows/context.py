"""What the services work against: the store, the case-type declarations and the calendar.

A `Bureau` is built by the composition root (`deployments.bootstrap`) and passed to every
service and flow function; a Prefect flow builds its own inside the run
(`deployments.entrypoints`). Nothing here is global.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from models.case_cache import CaseCache
from models.uow import UnitOfWork, one_connection
from states.calendar import WorkCalendar
from states.casetype import CaseType
from states.casetypes import case_type


@dataclass(frozen=True)
class Bureau:
    """One bureau's engine room (司法局): built by the composition root, passed to services."""

    engine: Engine
    types: Mapping[str, CaseType]
    calendar: WorkCalendar
    # the cases this bureau's services last wrote, to spare the next transition its read
    cases: CaseCache = field(default_factory=CaseCache, compare=False, repr=False)

    def unit_of_work(self, *, write: bool = True) -> UnitOfWork:
        return UnitOfWork(self.engine, write=write)

    def one_connection(self) -> AbstractContextManager[None]:
        """For many units of work one after another: they run on one pooled connection
        (`models.uow.one_connection`)."""
        return one_connection(self.engine)

    def case_type(self, name: str) -> CaseType:
        return case_type(name, self.types)

