"""The `transitions` machine decides: what it holds, not a second reading of the declarations.

Each test changes a case type's machine (a copy of the declaration gets a machine of its own)
and not its declaration, and `fire` and `allowed_triggers` follow the machine.
Reconsideration opened Fri 2024-09-27, acted on the next working day, Sun 2024-09-29 (调休上班).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date

import pytest
from transitions import Machine
from transitions.core import Condition

from states.calendar import WorkCalendar
from states.case import CaseSnapshot
from states.casetype import CaseType
from states.casetypes import CASE_TYPES
from states.errors import ActorNotAllowed, RuleViolation, TriggerNotAllowed
from states.lapses import describe
from states.machine import (
    DeclaredTransition,
    allowed_triggers,
    declaration,
    fire,
    machine_for,
    open_case,
)

CAL = WorkCalendar()
RC = CASE_TYPES["reconsideration"]
OPENED, NEXT = date(2024, 9, 27), date(2024, 9, 29)


@pytest.fixture
def own() -> Iterator[tuple[CaseType, Machine]]:
    """A copy of the reconsideration declaration and the machine built for it."""
    case_type = dataclasses.replace(RC)
    yield case_type, machine_for(case_type)
    machine_for(RC)  # the packaged declaration's machine back in the shared cache


def opened(case_type: CaseType) -> CaseSnapshot:
    return open_case(case_type, OPENED, calendar=CAL).case


def transition(machine: Machine, trigger: str, state: str) -> DeclaredTransition:
    found = machine.events[trigger].transitions[state][0]
    assert isinstance(found, DeclaredTransition)
    return found


def test_a_condition_only_the_machine_holds_refuses_the_trigger(
    own: tuple[CaseType, Machine],
) -> None:
    case_type, machine = own
    assert fire(case_type, opened(case_type), "accept", NEXT, calendar=CAL).case.state == (
        "under_review"
    )
    transition(machine, "accept", "received").conditions.append(Condition(lambda event: False))
    with pytest.raises(RuleViolation, match="'accept' is refused"):
        fire(case_type, opened(case_type), "accept", NEXT, calendar=CAL)


def test_a_transition_the_machine_lacks_is_refused_and_not_offered(
    own: tuple[CaseType, Machine],
) -> None:
    case_type, machine = own
    assert "withdraw" in allowed_triggers(case_type, "received")
    machine.remove_transition("withdraw", source="received")
    assert "received" in case_type.triggers["withdraw"][0].source  # still declared
    assert "withdraw" not in allowed_triggers(case_type, "received")
    assert "withdraw" in allowed_triggers(case_type, "under_review")
    with pytest.raises(TriggerNotAllowed) as refused:
        fire(case_type, opened(case_type), "withdraw", NEXT, calendar=CAL)
    assert "withdraw" not in refused.value.allowed and "accept" in refused.value.allowed


def test_what_fires_is_the_declaration_the_machines_transition_carries(
    own: tuple[CaseType, Machine],
) -> None:
    case_type, machine = own
    accept = transition(machine, "accept", "received")
    accept.spec = dataclasses.replace(accept.spec, sets={"procedure": "simplified"})
    case = fire(case_type, opened(case_type), "accept", NEXT, attrs={"procedure": "ordinary"},
                calendar=CAL).case
    assert case.attrs["procedure"] == "simplified"
    # simplified: the decision period is 30 calendar days, 09-29 + 30 = 10-29 (Tue)
    decision = next(c for c in case.cycles if c.clock == "decision")
    assert (decision.days, decision.due_on) == (30, date(2024, 10, 29))


def test_the_actor_is_a_condition_of_the_machine(own: tuple[CaseType, Machine]) -> None:
    case_type, machine = own
    accept = transition(machine, "accept", "received")
    accept.spec = dataclasses.replace(accept.spec, actor=RC.triggers["deem_accepted"][0].actor)
    assert "accept" not in allowed_triggers(case_type, "received")
    with pytest.raises(ActorNotAllowed):
        fire(case_type, opened(case_type), "accept", NEXT, calendar=CAL)


def abandoned() -> CaseSnapshot:
    """Supplement requested Sun 09-29: its 10 working days are 09-30, 10-08..10-12 (Sat 10-12
    worked) and 10-14..10-17 (10-01..10-07 off), so due Thu 10-17; 视为放弃 the day after,
    Fri 10-18."""
    case = fire(RC, opened(RC), "request_supplement", NEXT, calendar=CAL).case
    return fire(RC, case, "deem_abandoned", date(2024, 10, 18), by_system=True,
                calendar=CAL).case


@pytest.mark.parametrize(("reinstated_for", "dest", "label"), [
    ("posted_in_time", "received", "恢复审查（补正已按期交邮）"),
    ("good_reason", "awaiting_supplement", "恢复补正（有正当理由）"),
])
def test_the_event_chooses_among_the_machines_transitions(
    reinstated_for: str, dest: str, label: str
) -> None:
    fired = fire(RC, abandoned(), "reinstate", date(2024, 10, 21),
                 attrs={"reinstated_for": reinstated_for}, reason="邮戳为10月18日",
                 calendar=CAL)
    assert fired.case.state == dest
    spec = declaration(RC, "reinstate", "abandoned", dest)
    assert spec is not None and spec.label == label


def test_a_lapse_is_described_by_the_transition_it_took() -> None:
    lapse = fire(RC, fire(RC, opened(RC), "request_supplement", NEXT, calendar=CAL).case,
                 "deem_abandoned", date(2024, 10, 18), by_system=True, calendar=CAL)
    assert describe(RC, (lapse,)) == (
        "by law the case was 视为放弃申请 (deem_abandoned) on 2024-10-18, "
        "行政复议法 第三十一条第二款"
    )
