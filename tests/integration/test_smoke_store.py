"""The store round-trips a case on both backends (the fixtures themselves work)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flows import services
from flows.context import Bureau

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def test_open_and_advance_round_trip(bureau: Bureau) -> None:
    opened = services.open_case(bureau, "reconsideration", on=date(2024, 9, 27),
                                attrs={"applicant": "张三"}, by="clerk-a", now=NOW)
    assert opened.case.ref == "RC-2024-0001"
    services.advance(bureau, opened.case.ref, "accept", on=date(2024, 10, 8), by="clerk-a",
                     now=NOW)
    loaded = services.get_case(bureau, opened.case.ref)
    assert loaded.case.state == "under_review"
    assert loaded.case.version == 2
    assert loaded.case.attrs == {"applicant": "张三", "procedure": "ordinary"}
    assert [(c.clock, c.status.value, c.due_on) for c in loaded.case.cycles] == [
        ("acceptance_review", "met", date(2024, 10, 10)),
        ("copy_to_respondent", "running", date(2024, 10, 16)),  # 7 working days, Sat 10-12 worked
        ("decision", "running", date(2024, 12, 9)),
    ]
    rows = services.timeline(bureau, opened.case.ref)
    assert [r.trigger for r in rows] == ["open", "accept"]
    assert rows[0].recorded_at == NOW
    assert all(check.ok for check in services.verify(bureau))
