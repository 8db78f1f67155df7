"""The legal-aid lawyer pool's use cases (律师库管理) and the `assign` gate.

Every entry point that fires `assign` — a clerk's `case advance`, the assignment flow, the demo —
goes through `flows.services.advance_in`, which calls `check_gates` before anything is written
and `record` after the events are appended: a lawyer outside the pool, or one the hard gates of
`states.assignment` refuse for the case on the event's date, is refused (exit 3) and nothing
changes. Each function here is one unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from flows.context import Bureau
from models import lawyers as store
from models.bulk import Rows
from models.lawyers import NewLawyer, lawyer_id
from models.tables import LawyerLeaveRow, LawyerRow
from models.uow import UnitOfWork
from states.assignment import LawyerNotEligible, check, need_of, not_in_pool
from states.case import Fired
from states.casetypes.legal_aid import RATINGS
from states.errors import InvalidAttribute, InvalidInput
from states.roles import Identity, may_edit_pool

POOL_TYPE = "legal_aid"  # the case type whose `assign` takes a lawyer of the pool
MAX_CAPACITY = 500


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
        need = need_of(item.case.ref, event.on, item.case.attrs)
        found = None if number is None else store.gate_lawyer(
            connection, number, case_id=case_id, on=event.on, parties=need.parties)
        if found is not None and found[1]:  # declined the case or was replaced on it
            need = replace(need, excluded=need.excluded | {found[0].id})
        check(None if found is None else found[0], need, named)


def record(connection: sa.Connection, case_id: int, case_type: str, fired: Sequence[Fired],
           recorded_at: datetime) -> None:
    """The offers, outcomes and loads the events of a legal-aid case changed."""
    if case_type == POOL_TYPE:
        store.record_offers(connection, case_id, [store.event_fields(f.event) for f in fired],
                            recorded_at)


def assigned(item: Rows) -> list[str]:
    """What the `assign`s of an imported record name as their lawyer (none but legal aid's)."""
    if item.type != POOL_TYPE:
        return []
    return [str(e["attrs"].get("lawyer", "")) for e in item.events if e["trigger"] == "assign"]


def unknown_lawyers(connection: sa.Connection, chunk: Sequence[tuple[int, Rows]]
                    ) -> dict[int, LawyerNotEligible]:
    """Imported history (`flows.importer`): the records, by line, whose `assign` names a lawyer
    who is not in the pool. The other gates judge a lawyer for a new assignment today (their
    load, leave, rotation); a past assignment is a fact, so only the pool is asked of it."""
    named = {line: assigned(rows) for line, rows in chunk if rows.type == POOL_TYPE}
    known = store.known_ids(connection, [n for names in named.values() for text in names
                                         if (n := lawyer_id(text)) is not None])
    refused: dict[int, LawyerNotEligible] = {}
    for line, names in named.items():
        for text in names:
            number = lawyer_id(text)
            if number is None or number not in known:
                refused[line] = not_in_pool(text)
                break
    return refused


def lock_imported(connection: sa.Connection, rows: Sequence[Rows]) -> None:
    """Lock, in id order, the lawyers whose rows `record_imported` will change for ``rows``:
    those their `assign`s name (a record releases or resumes only a lawyer it assigned). Taken
    before the cases are written, as every writer of the pool takes them (`models.lawyers.lock`):
    taken record by record, in the file's order, they would cross an assignment pass's."""
    store.lock(connection, (number for item in rows for text in assigned(item)
                            if (number := lawyer_id(text)) is not None))


def record_imported(connection: sa.Connection, ids: Sequence[int], rows: Sequence[Rows]
                    ) -> None:
    """The offers and loads of imported legal-aid cases, as if advanced one by one."""
    for case_id, item in zip(ids, rows, strict=True):
        if item.type == POOL_TYPE:
            store.record_offers(connection, case_id, item.events, item.case["created_at"])


# -- the pool's own use cases --------------------------------------------------------------------


def parse_areas(text: str) -> tuple[str, ...]:
    return areas_of(text.split(","), f"--areas {text!r}")


def areas_of(items: Sequence[str], what: str = "areas") -> tuple[str, ...]:
    """Practice areas in order, the first the specialty, each once."""
    areas = tuple(dict.fromkeys(a.strip() for a in items if a.strip()))
    if not areas:
        raise InvalidAttribute(f"{what} names no practice area",
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


def editing(uow: UnitOfWork, who: Identity | None) -> None:
    """Judge a change of the pool (`states.roles.may_edit_pool`) in its unit of work, like
    every write (`flows.services.acting`): open while caseflow has no users."""
    from flows.services import acting  # flows.services reaches the pool's gate through here

    person = acting(uow.connection, who)
    if person is not None:
        may_edit_pool(person)


def add_lawyers(bureau: Bureau, new: Sequence[NewLawyer], *, now: datetime,
                who: Identity | None = None) -> list[int]:
    """Add lawyers to the pool, all or none."""
    checked = [check_lawyer(n) for n in new]
    with bureau.unit_of_work() as uow:
        editing(uow, who)
        ids = store.add_lawyers(uow.connection, checked, now=now)
        uow.commit()
    return ids


ADDED_KEYS = ("id", "name", "firm", "areas", "capacity")  # CONTRACT.md: `lawyer add --json`


def added_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: doc[k] for k in ADDED_KEYS}


def lawyer_json(row: LawyerRow) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "firm": row.firm, "areas": list(row.areas),
            "capacity": row.capacity, "active": row.active, "load": row.open_cases,
            "last_assigned_on": _day(row.last_assigned_on)}


def leaves_json(rows: Sequence[LawyerLeaveRow]) -> list[dict[str, str]]:
    return [{"from": r.start_on.isoformat(), "to": r.end_on.isoformat()} for r in rows]


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def list_lawyers(bureau: Bureau) -> list[dict[str, Any]]:
    """The pool, each lawyer with their load and leave periods (请假)."""
    with bureau.unit_of_work(write=False) as uow:
        leaves = store.all_leaves(uow.connection)
        return [{**lawyer_json(row), "leaves": leaves_json(leaves.get(row.id or 0, []))}
                for row in store.lawyer_rows(uow.connection)]


def show_lawyer(bureau: Bureau, lawyer: int) -> dict[str, Any]:
    """A lawyer with their leave, conflicts and every offer made to them with its outcome."""
    with bureau.unit_of_work(write=False) as uow:
        doc = lawyer_json(store.lawyer_row(uow.connection, lawyer))
        doc["leaves"] = leaves_json(store.leaves_of(uow.connection, lawyer))
        doc["conflicts"] = store.conflicts_of(uow.connection, lawyer)
        doc["offers"] = [{"ref": r["ref"], "offered_on": r["offered_on"].isoformat(),
                          "outcome": r["outcome"], "outcome_on": _day(r["outcome_on"]),
                          "reason": r["reason"], "released_on": _day(r["released_on"])}
                         for r in store.offers_of(uow.connection, lawyer)]
    return doc


def add_leave(bureau: Bureau, lawyer: int, start: date, end: date,
              who: Identity | None = None) -> dict[str, Any]:
    if end < start:
        raise InvalidAttribute(f"leave ends on {end.isoformat()}, before it starts on "
                               f"{start.isoformat()}", [f"--to >= {start.isoformat()}"])
    with bureau.unit_of_work() as uow:
        editing(uow, who)
        store.add_leave(uow.connection, lawyer, start, end)
        uow.commit()
    return show_lawyer(bureau, lawyer)


def add_conflict(bureau: Bureau, lawyer: int, party: str,
                 who: Identity | None = None) -> dict[str, Any]:
    if not party.strip() or len(party.strip()) > 200:
        raise InvalidAttribute(f"party {party!r} is not usable", ["--party NAME (1..200)"])
    with bureau.unit_of_work() as uow:
        editing(uow, who)
        store.add_conflict(uow.connection, lawyer, party)
        uow.commit()
    return show_lawyer(bureau, lawyer)


def set_active(bureau: Bureau, lawyer: int, active: bool,
               who: Identity | None = None) -> dict[str, Any]:
    with bureau.unit_of_work() as uow:
        editing(uow, who)
        store.set_active(uow.connection, lawyer, active)
        uow.commit()
    return show_lawyer(bureau, lawyer)


# -- importing a roster (律师名册) -----------------------------------------------------------------

LAWYER_COLUMNS = ("name", "firm", "areas", "capacity", "active")
DEFAULT_CAPACITY = 10
MAX_LISTED = 5  # line errors named in the one error line; the count says how many more


class InvalidLawyerFile(InvalidInput):
    """A roster file with wrong rows: nothing of it is imported (exit 2)."""

    code = "invalid_lawyer_file"


def _row(header: list[str], cells: list[str]) -> NewLawyer:
    if len(cells) != len(header):
        raise ValueError(f"{len(cells)} cells where the header has {len(header)}")
    data = dict(zip(header, (c.strip() for c in cells), strict=True))
    areas = tuple(dict.fromkeys(a.strip() for a in
                                data["areas"].replace(";", ",").replace("、", ",").split(",")
                                if a.strip()))
    if not areas:
        raise ValueError("areas is empty (e.g. civil;labor)")
    capacity_text = data.get("capacity") or str(DEFAULT_CAPACITY)
    if not (capacity_text.isascii() and capacity_text.isdigit()):
        raise ValueError(f"capacity {capacity_text!r} is not a whole number 1..{MAX_CAPACITY}")
    active_text = (data.get("active") or "yes").lower()
    if active_text not in ("yes", "no", "true", "false", "1", "0"):
        raise ValueError(f"active {active_text!r} is not yes or no")
    try:
        return check_lawyer(NewLawyer(data["name"], data["firm"], areas, int(capacity_text),
                                      active_text in ("yes", "true", "1")))
    except InvalidAttribute as error:
        raise ValueError(error.message) from None


def parse_roster(lines: Sequence[str], name: str = "FILE") -> list[NewLawyer]:
    """The lawyers of a CSV roster: a header naming ``name, firm, areas`` and optionally
    ``capacity`` (default `DEFAULT_CAPACITY`) and ``active`` (yes/no), then one lawyer a row;
    ``areas`` separated by ``;`` (or ``,`` in a quoted cell). Every wrong row is named with
    its line; one wrong row and nothing is imported."""
    import csv

    rows = list(csv.reader(lines))
    if not rows:
        raise InvalidLawyerFile(f"{name} is empty", ["a CSV header: name,firm,areas,capacity"])
    header = [h.strip().lower().lstrip("\ufeff") for h in rows[0]]
    missing = [c for c in ("name", "firm", "areas") if c not in header]
    unknown = [c for c in header if c not in LAWYER_COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise InvalidLawyerFile(
            f"{name} line 1: the header {','.join(header)!r} must name name, firm and areas "
            "once each, and may add capacity and active", [",".join(LAWYER_COLUMNS)])
    lawyers: list[NewLawyer] = []
    errors: list[str] = []
    for line, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue
        try:
            lawyers.append(_row(header, cells))
        except ValueError as error:
            errors.append(f"line {line}: {error}")
    if errors:
        more = f"; and {len(errors) - MAX_LISTED} more" if len(errors) > MAX_LISTED else ""
        raise InvalidLawyerFile(
            f"{name}: {len(errors)} wrong row(s), nothing imported: "
            + "; ".join(errors[:MAX_LISTED]) + more, [",".join(LAWYER_COLUMNS)])
    if not lawyers:
        raise InvalidLawyerFile(f"{name} has no lawyer rows", [",".join(LAWYER_COLUMNS)])
    return lawyers


# -- the fairness report (指派情况) ----------------------------------------------------------------


def assignment_report(bureau: Bureau, start: date, end: date) -> dict[str, Any]:
    """Per lawyer, the offers made in ``start..end`` (accepted, declined, replaced, still
    offered), the cases held at the end of ``end`` (open load), and the quality supervision
    of their cases in the period (庭审旁听, 案卷评查 by rating, 受援人投诉); then the spread of
    offers among the active lawyers (max − min), the fairness figure."""
    if end < start:
        raise InvalidAttribute(f"--to {end.isoformat()} is before --from {start.isoformat()}",
                               [f"--to >= {start.isoformat()}"])
    with bureau.unit_of_work(write=False) as uow:
        rows = store.lawyer_rows(uow.connection)
        offers = store.offer_counts(uow.connection, start, end)
        loads = store.open_loads(uow.connection, end)
        supervision = store.supervision_counts(uow.connection, start, end)
    lawyers: list[dict[str, Any]] = []
    for row in rows:
        lawyer = row.id or 0
        by_outcome = offers.get(lawyer, {})
        watched = supervision.get(lawyer, {})
        lawyers.append({
            "id": row.id, "name": row.name, "firm": row.firm, "active": row.active,
            "offers": sum(by_outcome.values()),
            # signed, whether or not the lawyer was replaced later
            "accepted": (by_outcome.get(store.Outcome.ACCEPTED, 0)
                         + by_outcome.get(store.Outcome.REPLACED, 0)),
            "declined": by_outcome.get(store.Outcome.DECLINED, 0),
            "replaced": by_outcome.get(store.Outcome.REPLACED, 0),
            "pending": by_outcome.get(store.Outcome.OFFERED, 0),
            "open_load": loads.get(lawyer, 0),
            "hearings_attended": watched.get("attend_hearing", 0),
            "files_reviewed": watched.get("review_file", 0),
            "ratings": {r: watched.get(f"review_file:{r}", 0) for r in RATINGS},
            "complaints": watched.get("aided_complaint", 0),
        })
    counted = [lawyer["offers"] for lawyer in lawyers if lawyer["active"]]
    return {"from": start.isoformat(), "to": end.isoformat(), "lawyers": lawyers,
            "offers_max": max(counted, default=0), "offers_min": min(counted, default=0),
            "max_minus_min": max(counted, default=0) - min(counted, default=0)}
