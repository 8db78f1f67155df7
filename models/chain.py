"""The event hash chain, built and verified here: each event's hash covers the previous hash
and the event itself.

``hash = SHA-256(previous hash + canonical JSON of the event)``, the first event chained to
`GENESIS`. Editing, removing or reordering any stored event breaks every link from it on, so a
supervisor can trust a timeline that verifies (`check_chain`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from models.tables import EventRow
from states.case import DomainEvent

GENESIS = "0" * 64


_PLAIN = frozenset({str, int, float, bool, type(None)})


def jsonable(value: Any) -> Any:
    """Dates as ISO text; everything else as JSON already has it."""
    # a case's attributes are text and whole numbers: such a dict is returned as it is
    if type(value) is dict and all(type(v) in _PLAIN and type(k) is str for k, v in value.items()):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def canonical(event: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8, dates and times in ISO 8601: the same bytes on every
    backend (exactly what ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` with ISO dates writes; a test holds it to that)."""
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


def link(previous: str, event: Mapping[str, Any]) -> str:
    """The hash of ``event`` chained to ``previous``."""
    return hashlib.sha256(previous.encode() + canonical(event)).hexdigest()


def hashed_fields(
    *,
    seq: int,
    trigger: str,
    from_state: str | None,
    to_state: str,
    on: date,
    recorded_at: datetime,
    actor: str,
    by: str,
    reason: str | None,
    attrs: Mapping[str, Any],
    clocks: list[dict[str, Any]],
) -> dict[str, Any]:
    """The fields of an event the hash covers, in the shape the timeline shows them."""
    return {
        "seq": seq,
        "trigger": trigger,
        "from": from_state,
        "to": to_state,
        "on": on,
        "recorded_at": recorded_at,
        "actor": actor,
        "by": by,
        "reason": reason,
        "attrs": attrs,
        "clocks": clocks,
    }


def event_values(
    case_id: int, seq: int, previous_hash: str, event: DomainEvent, recorded_at: datetime
) -> dict[str, Any]:
    """The row of one event, its hash chained to ``previous_hash``."""
    # hash the instant as it reads back (aware UTC), not as the caller spelled its offset
    recorded_at = recorded_at.astimezone(UTC)
    row: dict[str, Any] = {
        "case_id": case_id,
        "seq": seq,
        "trigger": event.trigger,
        "from_state": event.source,
        "to_state": event.dest,
        "on": event.on,
        "recorded_at": recorded_at,
        "actor": event.actor.value,
        "by": event.by,
        "reason": event.reason,
        "attrs": jsonable(event.attrs),
        "clocks": [change.to_json() for change in event.clocks],
    }
    # the same mapping from row to hashed fields as verification uses, by construction
    row["hash"] = link(previous_hash, event_hash_fields(row))
    return row


HASHED = ("seq", "trigger", "from_state", "to_state", "on", "recorded_at", "actor", "by",
          "reason", "attrs", "clocks")


def event_hash_fields(row: Mapping[str, Any] | EventRow) -> dict[str, Any]:
    """The hashed fields of an event row: the values about to be inserted (a mapping), or a
    stored `EventRow`."""
    if isinstance(row, EventRow):
        return hashed_fields(**{name: getattr(row, name) for name in HASHED})
    return hashed_fields(**{name: row[name] for name in HASHED})


@dataclass(frozen=True)
class ChainCheck:
    """What verifying one case found: its hash chain, then its stored row against its events."""

    ref: str
    events: int
    broken_at: int | None  # the first seq whose hash does not verify
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def check_chain(
    ref: str, rows: Sequence[EventRow], last_seq: int, head: str
) -> ChainCheck:
    """Recompute a case's chain from its stored event rows (in ``seq`` order), naming the first
    broken link; ``last_seq`` and ``head`` are what the case row says its chain ends with."""
    previous = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        seq = row.seq
        if seq != expected_seq:
            return ChainCheck(ref, len(rows), expected_seq, f"event {expected_seq} is missing")
        if link(previous, event_hash_fields(row)) != row.hash:
            return ChainCheck(ref, len(rows), seq, f"event {seq} does not match its hash")
        previous = row.hash
    # checked after the walk, so that a gap in the middle is named where it is, not at the end
    if len(rows) < last_seq:
        missing = len(rows) + 1
        return ChainCheck(ref, len(rows), missing, f"events from {missing} are missing")
    if previous != head:
        return ChainCheck(ref, len(rows), len(rows), "the case's chain head does not match")
    return ChainCheck(ref, len(rows), None)
