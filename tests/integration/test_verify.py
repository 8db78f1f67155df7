"""The event hash chain: `services.verify` finds any edit made behind the services' back.

Each test builds three cases through the services, then tampers with the stored rows directly
with SQL, as someone with database access could, and checks that verification names the first
broken event of the tampered case and of no other.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from lawyer_pool import pool_lawyer

from flows import services
from flows.context import Bureau
from models import repository
from models.chain import event_hash_fields, link
from models.errors import CaseNotFound
from models.tables import cases, events
from states.errors import RuleViolation

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def build(bureau: Bureau) -> list[str]:
    """Three cases with 1, 5 and 3 events; the middle one is the one tampered with."""
    def go(ref: str, trigger: str, on: str, **kwargs: object) -> None:
        services.advance(bureau, ref, trigger, on=date.fromisoformat(on), by="clerk-a",
                         now=NOW, **kwargs)  # type: ignore[arg-type]

    first = services.open_case(bureau, "complaint", on=date(2024, 9, 27), by="clerk-a",
                               now=NOW).case.ref
    target = services.open_case(bureau, "reconsideration", on=date(2024, 9, 27),
                                attrs={"applicant": "张三"}, by="clerk-a", now=NOW).case.ref
    go(target, "accept", "2024-10-08", attrs={"procedure": "ordinary"})
    go(target, "send_copy", "2024-10-09")
    go(target, "receive_reply", "2024-10-15")
    go(target, "extend", "2024-10-16", attrs={"days": "10"})
    last = services.open_case(bureau, "legal_aid", on=date(2024, 9, 27), by="clerk-a",
                              now=NOW).case.ref
    go(last, "approve", "2024-09-29")
    go(last, "assign", "2024-09-30", attrs={"lawyer": pool_lawyer(bureau)})
    return [first, target, last]


def case_id(bureau: Bureau, ref: str) -> int:
    with bureau.engine.connect() as connection:
        return int(connection.execute(sa.select(cases.c.id).where(cases.c.ref == ref))
                   .scalar_one())


def tamper(bureau: Bureau, ref: str, sql: str, **params: object) -> None:
    """Run raw SQL with :case_id bound to the case's id; it must change at least one row."""
    with bureau.engine.begin() as connection:
        result = connection.execute(sa.text(sql), {"case_id": case_id(bureau, ref), **params})
        assert result.rowcount >= 1


def edit_event(bureau: Bureau, ref: str, at: int, **values: object) -> None:
    """Change columns of one stored event through a Core UPDATE (typed values)."""
    with bureau.engine.begin() as connection:
        result = connection.execute(
            sa.update(events)
            .where(events.c.case_id == case_id(bureau, ref), events.c.seq == at)
            .values(**values)
        )
        assert result.rowcount == 1


def broken(bureau: Bureau) -> dict[str, int | None]:
    return {check.ref: check.broken_at for check in services.verify(bureau)}


def test_untouched_cases_verify(bureau: Bureau) -> None:
    refs = build(bureau)
    checks = services.verify(bureau)
    assert [(c.ref, c.events, c.ok, c.problem) for c in checks] == [
        (refs[0], 1, True, ""), (refs[1], 5, True, ""), (refs[2], 3, True, ""),
    ]
    (single,) = services.verify(bureau, refs[1])
    assert (single.ref, single.events, single.broken_at) == (refs[1], 5, None)
    with pytest.raises(CaseNotFound):
        services.verify(bureau, "RC-2099-0001")


def swap_legal_dates(b: Bureau, r: str) -> None:
    edit_event(b, r, 2, on=date(2024, 10, 9))
    edit_event(b, r, 3, on=date(2024, 10, 8))


def reorder_events(b: Bureau, r: str) -> None:
    edit_event(b, r, 2, seq=99)
    edit_event(b, r, 3, seq=2)
    edit_event(b, r, 99, seq=3)


def delete(seq: int) -> Callable[[Bureau, str], None]:
    return lambda b, r: tamper(
        b, r, f"DELETE FROM events WHERE case_id = :case_id AND seq = {seq}"
    )


TAMPERING: dict[str, tuple[Callable[[Bureau, str], None], int]] = {
    # what was done to the middle case -> the first seq that must be reported broken
    "reason of event 2": (lambda b, r: tamper(
        b, r, "UPDATE events SET reason = 'x' WHERE case_id = :case_id AND seq = 2"), 2),
    "author of event 1": (lambda b, r: tamper(
        b, r, "UPDATE events SET \"by\" = 'mallory' WHERE case_id = :case_id AND seq = 1"), 1),
    "legal date of event 3": (lambda b, r: edit_event(b, r, 3, on=date(2024, 10, 10)), 3),
    "legal dates of events 2 and 3 swapped": (swap_legal_dates, 2),
    "recorded_at of event 4 by a microsecond": (
        lambda b, r: edit_event(b, r, 4, recorded_at=NOW + timedelta(microseconds=1)), 4),
    "attributes of event 2": (
        lambda b, r: edit_event(b, r, 2, attrs={"procedure": "simplified"}), 2),
    "clock changes of event 5": (lambda b, r: edit_event(b, r, 5, clocks=[]), 5),
    "trigger of event 5": (lambda b, r: edit_event(b, r, 5, trigger="decide"), 5),
    "events 2 and 3 reordered": (reorder_events, 2),
    "hash of event 3 replaced": (lambda b, r: edit_event(b, r, 3, hash="0" * 64), 3),
    "first event deleted": (delete(1), 1),
    "middle event deleted": (delete(3), 3),
    "last event deleted": (delete(5), 5),
}


@pytest.mark.parametrize("what", list(TAMPERING))
def test_tampering_is_found_in_that_case_only(bureau: Bureau, what: str) -> None:
    refs = build(bureau)
    change, first_broken = TAMPERING[what]
    change(bureau, refs[1])
    assert broken(bureau) == {refs[0]: None, refs[1]: first_broken, refs[2]: None}
    (check,) = services.verify(bureau, refs[1])
    assert not check.ok
    assert check.broken_at == first_broken
    assert check.problem


def test_deleted_last_event_says_events_are_missing(bureau: Bureau) -> None:
    refs = build(bureau)
    tamper(bureau, refs[1], "DELETE FROM events WHERE case_id = :case_id AND seq = 5")
    (check,) = services.verify(bureau, refs[1])
    assert (check.broken_at, check.events) == (5, 4)
    assert "missing" in check.problem


def test_rewritten_chain_head_is_found(bureau: Bureau) -> None:
    """The case row keeps the head of its chain: a head that matches no event is found."""
    refs = build(bureau)
    tamper(bureau, refs[2], "UPDATE cases SET last_hash = :h WHERE id = :case_id", h="f" * 64)
    checks = {c.ref: c for c in services.verify(bureau)}
    assert checks[refs[2]].broken_at == 3
    assert "head" in checks[refs[2]].problem
    assert checks[refs[0]].ok and checks[refs[1]].ok


def test_a_forged_event_whose_own_hash_was_recomputed_breaks_the_next_link(
    bureau: Bureau,
) -> None:
    """Someone who knows the hashing rewrites event 3's legal date and stores the hash that
    matches its new content: event 3 now verifies on its own, but event 4 was chained to the
    old hash of event 3, so the chain breaks there."""
    refs = build(bureau)
    with bureau.engine.connect() as connection:
        rows = repository.event_rows(connection, case_id(bureau, refs[1]))
    forged = {**rows[2].model_dump(), "on": date(2024, 10, 10)}
    own_hash = link(rows[1].hash, event_hash_fields(forged))
    edit_event(bureau, refs[1], 3, on=date(2024, 10, 10), hash=own_hash)
    (check,) = services.verify(bureau, refs[1])
    assert check.broken_at == 4
    assert "event 4" in check.problem


# -- the stored case against a replay of its events --------------------------------------------

PROJECTION_TAMPERING: dict[str, tuple[str, str]] = {
    # what was changed behind the services' back -> what verification must name
    "state": ("UPDATE cases SET state = 'decided' WHERE id = :case_id",
              "stored state 'decided', its events give 'under_review'"),
    "a due date moved to 2030": (
        "UPDATE clock_cycles SET due_on = '2030-01-01' "
        "WHERE case_id = :case_id AND clock = 'decision'",
        "clock decision cycle 1: stored due_on 2030-01-01, its events give 2024-12-17"),
    "an attribute": (
        "UPDATE cases SET attrs = :attrs WHERE id = :case_id",
        "stored attributes"),
    "a clock cycle removed": (
        "DELETE FROM clock_cycles WHERE case_id = :case_id AND clock = 'respondent_reply'",
        "clock cycles stored"),
}


@pytest.mark.parametrize("what", list(PROJECTION_TAMPERING))
def test_a_stored_case_that_its_events_do_not_give_is_named_and_not_advanced(
    bureau: Bureau, what: str
) -> None:
    refs = build(bureau)
    sql, named = PROJECTION_TAMPERING[what]
    params = {"attrs": '{"procedure": "simplified", "applicant": "张三"}'}
    tamper(bureau, refs[1], sql, **(params if ":attrs" in sql else {}))
    checks = {c.ref: c for c in services.verify(bureau)}
    assert checks[refs[0]].ok and checks[refs[2]].ok
    check = checks[refs[1]]
    assert not check.ok and check.broken_at is None
    assert named in check.problem, check.problem
    with pytest.raises(services.CaseBroken) as refused:
        services.advance(bureau, refs[1], "schedule_hearing", on=date(2024, 10, 20),
                         attrs={"hearing_on": "2024-11-20"}, by="clerk-a", now=NOW)
    assert refused.value.code == "case_broken" and isinstance(refused.value, RuleViolation)
    # the other cases go on as ever
    services.advance(bureau, refs[2], "engage", on=date(2024, 10, 2), by="clerk-a", now=NOW)


def test_a_broken_chain_is_not_advanced_and_a_repaired_case_is_again(bureau: Bureau) -> None:
    refs = build(bureau)
    tamper(bureau, refs[1], "UPDATE cases SET state = 'decided' WHERE id = :case_id")
    assert not services.verify(bureau, refs[1])[0].ok
    tamper(bureau, refs[1], "UPDATE cases SET state = 'under_review' WHERE id = :case_id")
    # repaired, but the record stands until a verification finds the case whole again
    with pytest.raises(services.CaseBroken):
        services.advance(bureau, refs[1], "mediate", on=date(2024, 10, 20), by="clerk-a",
                         now=NOW)
    assert services.verify(bureau, refs[1])[0].ok
    after = services.advance(bureau, refs[1], "mediate", on=date(2024, 10, 20), by="clerk-a",
                             now=NOW)
    assert after.case.state == "mediated"
    assert all(check.ok for check in services.verify(bureau))


def test_a_chain_found_broken_is_recorded_too(bureau: Bureau) -> None:
    refs = build(bureau)
    edit_event(bureau, refs[1], 2, reason="x")
    assert services.verify(bureau, refs[1])[0].broken_at == 2
    with pytest.raises(services.CaseBroken, match="event 2 does not match its hash"):
        services.advance(bureau, refs[1], "mediate", on=date(2024, 10, 20), by="clerk-a",
                         now=NOW)
