"""What the services work against: the store, the case-type declarations and the calendar."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


# -- what flows run against ----------------------------------------------------------------
# A Prefect flow's parameters must be plain values, so a flow cannot be handed the Bureau.
# The composition root (deployments/) installs a factory for it, and for the real clock,
# before any flow runs; flows ask for them here. Nothing is built until a flow asks.

_bureau_factory: Callable[[], Bureau] | None = None
_clock: Callable[[], datetime] | None = None
_bureau: Bureau | None = None
_delivery_factory: Callable[[], Any] | None = None


def install(
    bureau_factory: Callable[[], Bureau],
    clock: Callable[[], datetime],
    delivery_factory: Callable[[], Any] | None = None,
) -> None:
    """Called by the composition root: how to build the bureau, what time it is, and how to
    build a `flows.delivery.DeliveryKit` (routes, HTTP client, settings) for alert delivery."""
    global _bureau_factory, _clock, _bureau, _delivery_factory
    _bureau_factory, _clock, _bureau = bureau_factory, clock, None
    _delivery_factory = delivery_factory


def current_bureau() -> Bureau:
    global _bureau
    if _bureau is None:
        if _bureau_factory is None:
            raise RuntimeError("no bureau installed: run flows through deployments/")
        _bureau = _bureau_factory()
    return _bureau


def current_delivery_kit() -> Any:
    if _delivery_factory is None:
        raise RuntimeError("no delivery kit installed: run flows through deployments/")
    return _delivery_factory()


def current_time() -> datetime:
    if _clock is None:
        raise RuntimeError("no clock installed: run flows through deployments/")
    return _clock()
