"""The legal-aid lawyer pool's use cases (律师库管理) and the `assign` gate.

Every entry point that fires `assign` — a clerk's `case advance`, the assignment flow, the demo —
goes through `flows.services.advance_in`, which calls `check_gates` before anything is written
and `record` after the events are appended: a lawyer outside the pool, or one the hard gates of
`states.assignment` refuse for the case on the event's date, is refused (exit 3) and nothing
changes. Each function here is one unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from flows.context import Bureau
from models import lawyers as store
from models.lawyers import NewLawyer, lawyer_id
from states.assignment import check, need_of
from states.case import Fired
from states.errors import InvalidAttribute

POOL_TYPE = "legal_aid"  # the case type whose `assign` takes a lawyer of the pool
MAX_CAPACITY = 500
AREA = "matter"  # the case attribute the lawyer's practice areas must match


def check_gates(connection: sa.Connection, case_id: int, case_type: str,
                fired: Sequence[Fired]) -> None:
    """Refuse an `assign` among ``fired`` whose lawyer is not in the pool or fails a gate."""
    if case_type != POOL_TYPE:
        return
    for item in fired:
        event = item.event
        if event.trigger != "assign":
            continue
        named = str(event.attrs.get("lawyer", ""))
        number = lawyer_id(named)
        lawyer = None if number is None else store.pool_lawyer(connection, number, event.on)
        excluded = store.excluded(connection, [case_id]).get(case_id, set())
        check(lawyer, need_of(item.case.ref, event.on, item.case.attrs, excluded), named)


def record(connection: sa.Connection, case_id: int, case_type: str, fired: Sequence[Fired],
           recorded_at: datetime) -> None:
    """The offers, outcomes and loads the events of a legal-aid case changed."""
    if case_type == POOL_TYPE:
        store.record_offers(connection, case_id, [f.event for f in fired], recorded_at)


# -- the pool's own use cases --------------------------------------------------------------------


def parse_areas(text: str) -> tuple[str, ...]:
    areas = tuple(dict.fromkeys(a.strip() for a in text.split(",") if a.strip()))
    if not areas:
        raise InvalidAttribute(f"--areas {text!r} names no practice area",
                               ["--areas criminal,civil,administrative,labor,family"])
    return areas


def check_lawyer(new: NewLawyer) -> NewLawyer:
    for what, value, limit in (("name", new.name, 80), ("firm", new.firm, 120)):
        if not value.strip() or len(value.strip()) > limit:
            raise InvalidAttribute(f"{what} {value!r} is not usable",
                                   [f"1..{limit} characters"])
    if not 1 <= new.capacity <= MAX_CAPACITY:
        raise InvalidAttribute(f"capacity {new.capacity} is out of range",
                               [f"--capacity 1..{MAX_CAPACITY}"])
    return NewLawyer(new.name.strip(), new.firm.strip(), new.areas, new.capacity, new.active)


def add_lawyers(bureau: Bureau, new: Sequence[NewLawyer], *, now: datetime) -> list[int]:
    """Add lawyers to the pool, all or none."""
    checked = [check_lawyer(n) for n in new]
    with bureau.unit_of_work() as uow:
        ids = store.add_lawyers(uow.connection, checked, now=now)
        uow.commit()
    return ids


def lawyer_json(row: Any) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "firm": row["firm"],
            "areas": list(row["areas"]), "capacity": row["capacity"],
            "active": row["active"], "load": row["open_cases"],
            "last_assigned_on": (row["last_assigned_on"].isoformat()
                                 if row["last_assigned_on"] else None)}


def list_lawyers(bureau: Bureau) -> list[dict[str, Any]]:
    with bureau.unit_of_work(write=False) as uow:
        return [lawyer_json(row) for row in store.lawyer_rows(uow.connection)]


def show_lawyer(bureau: Bureau, lawyer: int) -> dict[str, Any]:
    with bureau.unit_of_work(write=False) as uow:
        doc = lawyer_json(store.lawyer_row(uow.connection, lawyer))
        doc["leaves"] = [{"from": r["start_on"].isoformat(), "to": r["end_on"].isoformat()}
                         for r in store.leaves_of(uow.connection, lawyer)]
        doc["conflicts"] = store.conflicts_of(uow.connection, lawyer)
    return doc


def add_leave(bureau: Bureau, lawyer: int, start: date, end: date) -> dict[str, Any]:
    if end < start:
        raise InvalidAttribute(f"leave ends on {end.isoformat()}, before it starts on "
                               f"{start.isoformat()}", [f"--to >= {start.isoformat()}"])
    with bureau.unit_of_work() as uow:
        store.add_leave(uow.connection, lawyer, start, end)
        uow.commit()
    return show_lawyer(bureau, lawyer)


def add_conflict(bureau: Bureau, lawyer: int, party: str) -> dict[str, Any]:
    if not party.strip() or len(party.strip()) > 200:
        raise InvalidAttribute(f"party {party!r} is not usable", ["--party NAME (1..200)"])
    with bureau.unit_of_work() as uow:
        store.add_conflict(uow.connection, lawyer, party)
        uow.commit()
    return show_lawyer(bureau, lawyer)


def set_active(bureau: Bureau, lawyer: int, active: bool) -> dict[str, Any]:
    with bureau.unit_of_work() as uow:
        store.set_active(uow.connection, lawyer, active)
        uow.commit()
    return show_lawyer(bureau, lawyer)
