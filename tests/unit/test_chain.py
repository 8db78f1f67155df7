"""The canonical form of an event, which its hash covers, is pinned byte for byte."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from models.chain import GENESIS, canonical, link


def _reference(event: dict[str, object]) -> bytes:
    # the definition the chain promises, written with the standard library
    def iso(value: object) -> str:
        assert isinstance(value, date | datetime)
        return value.isoformat()

    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=iso).encode()


def test_canonical_bytes_match_the_standard_library_definition() -> None:
    for recorded_at in (datetime(2025, 6, 1, 8, 0, tzinfo=UTC),
                        datetime(2025, 6, 1, 8, 0, 0, 123456, tzinfo=UTC)):
        event = {"seq": 3, "trigger": "decide", "from": "under_review", "to": "decided",
                 "on": date(2024, 10, 9), "recorded_at": recorded_at, "actor": "clerk",
                 "by": "张三", "reason": None, "attrs": {"decision": "maintain", "days": 5},
                 "clocks": [{"clock": "decision", "cycle": 1, "change": "met",
                             "due_on": "2024-12-09", "status": "met"}]}
        assert canonical(event) == _reference(event)


def test_a_link_depends_on_the_previous_hash_and_every_field() -> None:
    event = {"seq": 1, "trigger": "open", "on": date(2024, 9, 27), "by": "a"}
    first = link(GENESIS, event)
    assert len(first) == 64
    assert link("1" * 64, event) != first
    assert link(GENESIS, {**event, "by": "b"}) != first
