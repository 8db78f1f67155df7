"""Every (state, trigger) pair of every case type against the tables of DESIGN.md §5.

The expected tables below are copied by hand from DESIGN.md §5, not derived from the
declarations: a declaration that drifts from the design makes these tests fail.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

import pytest

from states.calendar import WorkCalendar
from states.case import CaseSnapshot
from states.casetypes import CASE_TYPES
from states.errors import TriggerNotAllowed
from states.machine import allowed_triggers, fire, open_case

# One line per transition: "trigger  source, source > dest"; no "> dest" means internal (i).
DESIGN_TABLES = {
    "reconsideration": """
        request_supplement   received > awaiting_supplement
        receive_supplement   awaiting_supplement > received
        extend_supplement    awaiting_supplement
        deem_abandoned       awaiting_supplement > abandoned
        reinstate            abandoned > received
        accept               received > under_review
        deem_accepted        received > under_review
        reject               received > rejected
        send_copy            under_review
        receive_reply        under_review
        schedule_hearing     under_review
        convert_to_ordinary  under_review
        extend               under_review, suspended
        suspend              under_review > suspended
        resume               suspended > under_review
        mediate              under_review, suspended > mediated
        withdraw             received, awaiting_supplement, under_review, suspended > withdrawn
        terminate            under_review, suspended > terminated
        dismiss              under_review > dismissed
        decide               under_review > decided
        reassign             received, awaiting_supplement, under_review, suspended
    """,
    "legal_aid": """
        request_materials      applied > awaiting_materials
        receive_materials      awaiting_materials > applied
        deem_withdrawn         awaiting_materials > withdrawn
        reinstate              withdrawn > applied
        approve                applied > approved
        approve_provisionally  applied, awaiting_materials > approved
        deny                   applied > denied
        assign                 approved > assigned
        decline_assignment     assigned > approved
        engage                 assigned > in_service
        replace_lawyer         in_service > approved
        conclude               in_service > concluded
        receive_closing_materials  concluded
        close                  concluded > closed
        terminate              approved, assigned, in_service > terminated
        withdraw               applied, awaiting_materials, approved > withdrawn
        file_objection         denied, terminated
        uphold                 denied, terminated
        order_correction       denied > approved
        order_correction       terminated > in_service
        attend_hearing         in_service
        review_file            in_service, concluded
        aided_complaint        assigned, in_service, concluded
        reassign     applied, awaiting_materials, approved, assigned, in_service, concluded
    """,
    "complaint": """
        request_supplement  received > awaiting_supplement
        receive_supplement  awaiting_supplement > received
        accept              received > investigating
        decline             received, awaiting_supplement > not_accepted
        transfer            received, investigating > transferred
        extend              investigating, decided
        decide              investigating > decided
        reply               decided > closed
        withdraw            received, awaiting_supplement, investigating > withdrawn
        reassign            received, awaiting_supplement, investigating, decided
    """,
}

DESIGN_STATES = {
    "reconsideration": [
        "received", "awaiting_supplement", "under_review", "suspended", "rejected", "abandoned",
        "decided", "mediated", "withdrawn", "terminated", "dismissed",
    ],
    "legal_aid": [
        "applied", "awaiting_materials", "approved", "assigned", "in_service", "concluded",
        "denied", "withdrawn", "terminated", "closed",
    ],
    "complaint": [
        "received", "awaiting_supplement", "investigating", "decided", "not_accepted",
        "transferred", "withdrawn", "closed",
    ],
}

# actor Y in DESIGN.md §5: only the system fires these
SYSTEM_TRIGGERS = frozenset({"deem_abandoned", "deem_accepted", "deem_withdrawn"})


def _parse(table: str) -> dict[str, dict[str, str | None]]:
    """{state: {trigger: dest or None (internal)}}."""
    moves: dict[str, dict[str, str | None]] = {}
    for line in table.strip().splitlines():
        trigger, _, rest = line.strip().partition(" ")
        sources, _, dest = rest.partition(">")
        for source in sources.split(","):
            moves.setdefault(source.strip(), {})[trigger] = dest.strip() or None
    return moves


EXPECTED = {name: _parse(table) for name, table in DESIGN_TABLES.items()}
TRIGGERS = {
    name: sorted({t for by in moves.values() for t in by}) for name, moves in EXPECTED.items()
}

CAL = WorkCalendar()
START = date(2025, 3, 3)  # a Monday, far from any holiday

# How to bring a case into each state: (trigger, attrs) steps after opening, one day apart.
Step = tuple[str, Mapping[str, object]]
REACH: dict[str, dict[str, list[Step]]] = {
    "reconsideration": {
        "received": [],
        "awaiting_supplement": [("request_supplement", {})],
        "under_review": [("accept", {"procedure": "ordinary"})],
        "suspended": [("accept", {}), ("suspend", {"ground": 3})],
        "rejected": [("reject", {})],
        "abandoned": [("request_supplement", {}), ("deem_abandoned", {})],
        "decided": [("accept", {}), ("decide", {"decision": "maintain"})],
        "mediated": [("accept", {}), ("mediate", {})],
        "withdrawn": [("withdraw", {})],
        "terminated": [("accept", {}), ("terminate", {"ground": 1})],
        "dismissed": [("accept", {}), ("dismiss", {})],
    },
    "legal_aid": {
        "applied": [],
        "awaiting_materials": [("request_materials", {})],
        "approved": [("approve", {})],
        "assigned": [("approve", {}), ("assign", {"lawyer": "L1"})],
        "in_service": [("approve", {}), ("assign", {"lawyer": "L1"}), ("engage", {})],
        "concluded": [("approve", {}), ("assign", {"lawyer": "L1"}), ("engage", {}),
                      ("conclude", {"outcome": "won"})],
        "denied": [("deny", {})],
        "withdrawn": [("withdraw", {})],
        "terminated": [("approve", {}), ("terminate", {"ground": 2})],
        "closed": [("approve", {}), ("assign", {"lawyer": "L1"}), ("engage", {}),
                   ("conclude", {"outcome": "won"}), ("receive_closing_materials", {}),
                   ("close", {})],
    },
    "complaint": {
        "received": [],
        "awaiting_supplement": [("request_supplement", {})],
        "investigating": [("accept", {})],
        "decided": [("accept", {}), ("decide", {"outcome": "no_violation"})],
        "not_accepted": [("decline", {})],
        "transferred": [("transfer", {"to": "市律师协会"})],
        "withdrawn": [("withdraw", {})],
        "closed": [("accept", {}), ("decide", {"outcome": "mediated"}), ("reply", {})],
    },
}

# Where the plain walk would make an allowed internal trigger illegal by its rules.
SPECIAL_REACH: dict[tuple[str, str, str], list[Step]] = {
    # art. 55: only a simplified case converts
    ("reconsideration", "under_review", "convert_to_ordinary"): [
        ("accept", {"procedure": "simplified"})
    ],
    # only a withdrawal the law deemed is reinstated (法律援助法 art. 43)
    ("legal_aid", "withdrawn", "reinstate"): [("request_materials", {}), ("deem_withdrawn", {})],
    # the lawyer's closing materials come before the file is archived
    ("legal_aid", "concluded", "close"): [
        ("approve", {}), ("assign", {"lawyer": "L1"}), ("engage", {}),
        ("conclude", {"outcome": "won"}), ("receive_closing_materials", {}),
    ],
}


def valid_attrs(type_name: str, trigger: str, on: date) -> dict[str, object]:
    """Attributes that satisfy each trigger's rules."""
    if trigger in ("extend", "extend_supplement"):
        return {"days": 5}
    if trigger in ("suspend", "terminate"):
        return {"ground": 1}
    if trigger == "decide":
        return {"decision": "maintain"} if type_name == "reconsideration" else {
            "outcome": "penalty_proposal"
        }
    if trigger == "conclude":
        return {"outcome": "settled"}
    if trigger == "assign":
        return {"lawyer": "L1"}
    if trigger == "reinstate":
        return {"reinstated_for": "posted_in_time"}
    if trigger == "reassign":
        return {"handler": "clerk-li"}
    if trigger == "review_file":
        return {"rating": "good"}
    if trigger == "transfer":
        return {"to": "市司法局"}
    if trigger == "schedule_hearing":
        return {"hearing_on": (on + timedelta(days=30)).isoformat()}
    if trigger == "accept" and type_name == "reconsideration":
        return {"procedure": "ordinary"}
    return {}


def _fire(type_name: str, case: CaseSnapshot, trigger: str, on: date,
          attrs: Mapping[str, object]) -> CaseSnapshot:
    return fire(
        CASE_TYPES[type_name], case, trigger, on, attrs=attrs, reason="理由", by="tester",
        by_system=trigger in SYSTEM_TRIGGERS, calendar=CAL,
    ).case


def when_due(type_name: str, case: CaseSnapshot, trigger: str, day: date) -> date:
    """``day``, or for a system lapse trigger the date its clock declares for the effect: the
    law's effect applies once the period has run out, never before."""
    for clock in CASE_TYPES[type_name].clocks:
        live = case.live_cycle(clock.name)
        if clock.lapse == trigger and live is not None:
            return max(day, clock.effective_on(live))
    return day


def case_in(type_name: str, state: str, trigger: str = "") -> tuple[CaseSnapshot, date]:
    """A case of the type in ``state`` and the next free legal date for ``trigger``."""
    case = open_case(CASE_TYPES[type_name], START, calendar=CAL).case
    day = START
    for step, attrs in SPECIAL_REACH.get((type_name, state, trigger), REACH[type_name][state]):
        day = when_due(type_name, case, step, day + timedelta(days=1))
        case = _fire(type_name, case, step, day, attrs)
    assert case.state == state
    return case, when_due(type_name, case, trigger, day + timedelta(days=1))


def _pairs() -> list[object]:
    return [
        pytest.param(name, state, trigger, id=f"{name}-{state}-{trigger}")
        for name in DESIGN_TABLES
        for state in DESIGN_STATES[name]
        for trigger in TRIGGERS[name]
    ]


@pytest.mark.parametrize(("type_name", "state", "trigger"), _pairs())
def test_every_state_and_trigger(type_name: str, state: str, trigger: str) -> None:
    case, on = case_in(type_name, state, trigger)
    allowed_here = EXPECTED[type_name].get(state, {})
    if trigger in allowed_here:
        after = _fire(type_name, case, trigger, on, valid_attrs(type_name, trigger, on))
        dest = allowed_here[trigger]
        assert after.state == (state if dest is None else dest)
        assert after.version == case.version + 1
        assert after.last_on == on
    else:
        by_system = trigger in SYSTEM_TRIGGERS
        with pytest.raises(TriggerNotAllowed) as err:
            fire(CASE_TYPES[type_name], case, trigger, on,
                 attrs=valid_attrs(type_name, trigger, on), reason="理由",
                 by_system=by_system, calendar=CAL)
        expected = sorted(t for t in allowed_here if by_system or t not in SYSTEM_TRIGGERS)
        assert err.value.allowed == expected
        assert trigger in err.value.message and state in err.value.message


def _states() -> list[object]:
    return [
        pytest.param(name, state, id=f"{name}-{state}")
        for name in DESIGN_TABLES
        for state in DESIGN_STATES[name]
    ]


@pytest.mark.parametrize(("type_name", "state"), _states())
def test_allowed_triggers_per_state(type_name: str, state: str) -> None:
    allowed_here = EXPECTED[type_name].get(state, {})
    case_type = CASE_TYPES[type_name]
    assert allowed_triggers(case_type, state, by_system=True) == sorted(allowed_here)
    # a person is never offered the system's lapse triggers
    assert allowed_triggers(case_type, state) == sorted(
        t for t in allowed_here if t not in SYSTEM_TRIGGERS
    )


def test_the_table_covers_every_declared_trigger_and_state() -> None:
    """Guards the parametrisation itself: nothing declared escapes the pairs above."""
    for name, case_type in CASE_TYPES.items():
        assert sorted(case_type.triggers) == TRIGGERS[name]
        assert [s.name for s in case_type.states] == DESIGN_STATES[name]


def test_allowed_triggers_leave_out_an_extension_its_clock_rule_refuses() -> None:
    """`extend` (art. 62: once, at most 30 days, before the decision period lapses) is offered
    only while `fire` would take it. Accepted Tue 2024-10-08, ordinary: 60 calendar days ->
    2024-12-07, a Saturday -> due Mon 2024-12-09."""
    reconsideration = CASE_TYPES["reconsideration"]
    case = open_case(reconsideration, date(2024, 9, 27), calendar=CAL).case
    case = _fire("reconsideration", case, "accept", date(2024, 10, 8), {"procedure": "ordinary"})

    def offered(case: CaseSnapshot, on: date) -> bool:
        return "extend" in allowed_triggers(reconsideration, case.state, attrs=case.attrs,
                                            cycles=case.cycles, on=on)

    assert offered(case, date(2024, 12, 9))  # the due date itself
    assert not offered(case, date(2024, 12, 10))  # lapsed
    extended = _fire("reconsideration", case, "extend", date(2024, 10, 9), {"days": 5})
    assert not offered(extended, date(2024, 10, 10))  # the one extension is used
    # without the cycles and a date, the state and attributes alone decide (as before)
    assert "extend" in allowed_triggers(reconsideration, extended.state, attrs=extended.attrs)
