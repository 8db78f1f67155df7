"""The case-type declarations against DESIGN.md §4-5: names, clocks, bases, reachability.

Expected names and clock rows are written out here from the design, not read from the
declarations, so a renamed state, trigger or clock fails a test.
"""

from __future__ import annotations

import re

import pytest

from states.calendar import Unit
from states.casetype import Actor, CaseType
from states.casetypes import CASE_TYPES
from states.clocks import ESCALATE, NOTICE
from states.machine import OPEN, mermaid

W, K = Unit.WORKING, Unit.CALENDAR
C, S, Y = Actor.CLERK, Actor.SUPERVISOR, Actor.SYSTEM

STATES = {
    "reconsideration": ("received awaiting_supplement under_review suspended",
                        "rejected abandoned decided mediated withdrawn terminated dismissed"),
    "legal_aid": ("applied awaiting_materials approved assigned in_service concluded",
                  "denied withdrawn terminated closed"),
    "complaint": ("received awaiting_supplement investigating decided",
                  "not_accepted transferred withdrawn closed"),
}
INITIAL = {
    "reconsideration": {"received"},
    "legal_aid": {"applied", "approved"},  # by channel: application, notification
    "complaint": {"received"},
}

# trigger -> actor (C clerk, S supervisor, Y system; legal aid's assign is C/Y: a clerk's trigger)
ACTORS = {
    "reconsideration": {
        "request_supplement": C, "receive_supplement": C, "extend_supplement": C,
        "deem_abandoned": Y, "reinstate": S, "accept": C, "deem_accepted": Y, "reject": C,
        "send_copy": C, "reassign": S,
        "receive_reply": C, "schedule_hearing": C, "convert_to_ordinary": S, "extend": S,
        "suspend": C, "resume": C, "mediate": C, "withdraw": C, "terminate": C, "dismiss": C,
        "decide": C,
    },
    "legal_aid": {
        "request_materials": C, "receive_materials": C, "deem_withdrawn": Y, "reinstate": S,
        "approve": C, "receive_closing_materials": C, "reassign": S,
        "approve_provisionally": C, "deny": C, "assign": C, "decline_assignment": C,
        "engage": C, "replace_lawyer": C, "conclude": C, "close": C, "terminate": C,
        "withdraw": C, "file_objection": C, "uphold": S, "order_correction": S,
        # 质量监督 (art. 59): the bureau's staff record hearings, file reviews, complaints
        "attend_hearing": C, "review_file": C, "aided_complaint": C,
    },
    "complaint": {
        "request_supplement": C, "receive_supplement": C, "accept": C, "decline": C,
        "transfer": C, "extend": S, "decide": C, "reply": C, "withdraw": C, "reassign": S,
    },
}
INTERNAL = {
    "reconsideration": {"extend_supplement", "send_copy", "receive_reply", "schedule_hearing",
                        "convert_to_ordinary", "extend", "reassign"},
    "legal_aid": {"file_objection", "uphold", "receive_closing_materials", "reassign",
                  "attend_hearing", "review_file", "aided_complaint"},
    "complaint": {"extend", "reassign"},
}

# clock -> (days, unit, starts, stops, pauses in, lapse); "*" in stops: any terminal state
CLOCKS = {
    "reconsideration": {
        "acceptance_review": (5, W, {"open", "receive_supplement", "reinstate"},
                              {"accept", "reject", "request_supplement", "withdraw"}, set(),
                              "deem_accepted"),
        "supplement": (10, W, {"request_supplement", "reinstate"},
                       {"receive_supplement", "withdraw"}, set(), "deem_abandoned"),
        "copy_to_respondent": (7, W, {"accept", "deem_accepted"}, {"send_copy"}, set(), ESCALATE),
        "respondent_reply": (10, W, {"send_copy"}, {"receive_reply"}, set(), ESCALATE),
        "decision": (60, K, {"accept", "deem_accepted"}, {"*"}, {"suspended"}, ESCALATE),
        "suspension_limit": (60, K, {"suspend"}, {"resume", "terminate", "withdraw", "mediate"},
                             set(), NOTICE),
    },
    "legal_aid": {
        "review": (7, K, {"open", "reinstate"},
                   {"approve", "approve_provisionally", "deny", "withdraw"},
                   {"awaiting_materials"}, ESCALATE),
        # beyond the design's table: provisional aid (art. 44) ends the wait for materials
        "materials": (15, K, {"request_materials", "reinstate"},
                      {"receive_materials", "withdraw", "approve_provisionally"}, set(),
                      "deem_withdrawn"),
        "assignment": (3, K, {"approve", "approve_provisionally", "open", "decline_assignment",
                              "replace_lawyer", "order_correction"}, {"assign"}, set(), ESCALATE),
        # beyond the design's table: a declined assignment answers the lawyer's clock
        "engagement": (5, K, {"assign"}, {"engage", "decline_assignment"}, set(), ESCALATE),
        "closing_report": (30, K, {"conclude"}, {"receive_closing_materials", "close"}, set(),
                           ESCALATE),
        "objection_review": (5, K, {"file_objection"}, {"uphold", "order_correction"}, set(),
                             ESCALATE),
    },
    "complaint": {
        "acceptance": (10, W, {"open"}, {"accept", "decline", "transfer", "withdraw"},
                       {"awaiting_supplement"}, ESCALATE),
        "supplement": (10, W, {"request_supplement"}, {"receive_supplement", "withdraw"}, set(),
                       ESCALATE),
        "handling": (60, K, {"accept"}, {"reply", "transfer", "withdraw"}, set(), ESCALATE),
    },
}
# lengths by procedure (行政复议法 arts. 54, 62(2))
SIMPLIFIED = {"copy_to_respondent": 3, "respondent_reply": 5, "decision": 30}

# the transitions as Mermaid lines, from DESIGN.md §5 (internal triggers loop on their state)
MERMAID = {
    "reconsideration": """
        received --> awaiting_supplement: request_supplement
        awaiting_supplement --> received: receive_supplement
        awaiting_supplement --> awaiting_supplement: extend_supplement
        awaiting_supplement --> abandoned: deem_abandoned
        abandoned --> received: reinstate
        abandoned --> awaiting_supplement: reinstate
        received --> under_review: accept
        received --> under_review: deem_accepted
        received --> rejected: reject
        under_review --> under_review: send_copy
        under_review --> under_review: receive_reply
        under_review --> under_review: schedule_hearing
        under_review --> under_review: convert_to_ordinary
        under_review --> under_review: extend
        suspended --> suspended: extend
        under_review --> suspended: suspend
        suspended --> under_review: resume
        under_review --> mediated: mediate
        suspended --> mediated: mediate
        received --> withdrawn: withdraw
        awaiting_supplement --> withdrawn: withdraw
        under_review --> withdrawn: withdraw
        suspended --> withdrawn: withdraw
        under_review --> terminated: terminate
        suspended --> terminated: terminate
        under_review --> dismissed: dismiss
        under_review --> decided: decide
        received --> received: reassign
        awaiting_supplement --> awaiting_supplement: reassign
        under_review --> under_review: reassign
        suspended --> suspended: reassign
    """,
    "legal_aid": """
        applied --> awaiting_materials: request_materials
        awaiting_materials --> applied: receive_materials
        awaiting_materials --> withdrawn: deem_withdrawn
        withdrawn --> applied: reinstate
        withdrawn --> awaiting_materials: reinstate
        applied --> approved: approve
        applied --> approved: approve_provisionally
        awaiting_materials --> approved: approve_provisionally
        applied --> denied: deny
        approved --> assigned: assign
        assigned --> approved: decline_assignment
        assigned --> in_service: engage
        in_service --> approved: replace_lawyer
        in_service --> concluded: conclude
        concluded --> concluded: receive_closing_materials
        concluded --> closed: close
        approved --> terminated: terminate
        assigned --> terminated: terminate
        in_service --> terminated: terminate
        applied --> withdrawn: withdraw
        awaiting_materials --> withdrawn: withdraw
        approved --> withdrawn: withdraw
        denied --> denied: file_objection
        terminated --> terminated: file_objection
        denied --> denied: uphold
        terminated --> terminated: uphold
        denied --> approved: order_correction
        terminated --> in_service: order_correction
        in_service --> in_service: attend_hearing
        in_service --> in_service: review_file
        concluded --> concluded: review_file
        assigned --> assigned: aided_complaint
        in_service --> in_service: aided_complaint
        concluded --> concluded: aided_complaint
        applied --> applied: reassign
        awaiting_materials --> awaiting_materials: reassign
        approved --> approved: reassign
        assigned --> assigned: reassign
        in_service --> in_service: reassign
        concluded --> concluded: reassign
    """,
    "complaint": """
        received --> awaiting_supplement: request_supplement
        awaiting_supplement --> received: receive_supplement
        received --> investigating: accept
        received --> not_accepted: decline
        awaiting_supplement --> not_accepted: decline
        received --> transferred: transfer
        investigating --> transferred: transfer
        investigating --> investigating: extend
        decided --> decided: extend
        investigating --> decided: decide
        decided --> closed: reply
        received --> withdrawn: withdraw
        awaiting_supplement --> withdrawn: withdraw
        investigating --> withdrawn: withdraw
        received --> received: reassign
        awaiting_supplement --> awaiting_supplement: reassign
        investigating --> investigating: reassign
        decided --> decided: reassign
    """,
}

TYPES = sorted(CASE_TYPES)
ARTICLE = re.compile(r"第[一二三四五六七八九十百零]+条")


def test_the_three_case_types() -> None:
    assert set(CASE_TYPES) == {"reconsideration", "legal_aid", "complaint"}
    assert all(name == t.name for name, t in CASE_TYPES.items())


@pytest.mark.parametrize("name", TYPES)
def test_state_names_and_terminal_states(name: str) -> None:
    case_type = CASE_TYPES[name]
    open_states, closed_states = (set(s.split()) for s in STATES[name])
    assert {s.name for s in case_type.states} == open_states | closed_states
    assert case_type.closed_states == closed_states
    initials = {case_type.initial}
    if case_type.initial_by is not None:
        initials |= set(case_type.initial_by[1].values())
    assert initials == INITIAL[name]
    assert all(s.label for s in case_type.states)  # Chinese labels


@pytest.mark.parametrize("name", TYPES)
def test_trigger_names_actors_and_internal_triggers(name: str) -> None:
    case_type = CASE_TYPES[name]
    assert {t: specs[0].actor for t, specs in case_type.triggers.items()} == ACTORS[name]
    assert all(len({s.actor for s in specs}) == 1 for specs in case_type.triggers.values())
    # what a person supplies is read before the machine knows which transition it takes
    # (reinstate: by reinstated_for), so every transition of a trigger asks for the same
    assert all(len({(s.attrs, s.reason_required) for s in specs}) == 1
               for specs in case_type.triggers.values())
    internal = {t.trigger for t in case_type.transitions if t.internal}
    assert internal == INTERNAL[name]
    assert all(t.label and t.basis for t in case_type.transitions)


@pytest.mark.parametrize("name", TYPES)
def test_clock_rows_match_the_design(name: str) -> None:
    case_type = CASE_TYPES[name]
    assert [c.name for c in case_type.clocks] == list(CLOCKS[name])
    for clock in case_type.clocks:
        days, unit, starts, stops, pauses, lapse = CLOCKS[name][clock.name]
        assert (clock.days, clock.unit) == (days, unit), clock.name
        assert {w.trigger for w in clock.starts} == starts, clock.name
        declared_stops = {w.trigger for w in clock.stops} | ({"*"} if clock.stops_on_terminal
                                                             else set())
        assert declared_stops == stops, clock.name
        assert set(clock.pauses_in) == pauses, clock.name
        assert clock.lapse == lapse, clock.name
        assert clock.label, clock.name
        if name == "reconsideration" and clock.name in SIMPLIFIED:
            assert dict(clock.lengths) == {"procedure": {"simplified": SIMPLIFIED[clock.name]}}
        else:
            assert not clock.lengths, clock.name


def test_extensions_match_the_design() -> None:
    decision = CASE_TYPES["reconsideration"].clock_map["decision"]
    assert decision.extension is not None
    assert (decision.extension.max_days, decision.extension.times) == (30, 1)
    assert dict(decision.extension.when) == {"procedure": frozenset({"ordinary"})}
    handling = CASE_TYPES["complaint"].clock_map["handling"]
    assert handling.extension is not None
    assert (handling.extension.max_days, handling.extension.times) == (30, 1)
    extendable = {(t.name, c.name) for t in CASE_TYPES.values() for c in t.clocks if c.extension}
    assert extendable == {("reconsideration", "decision"), ("reconsideration", "supplement"),
                          ("complaint", "handling")}
    # each extendable clock has exactly one trigger that extends it, and it exists
    for type_name, clock in extendable:
        extenders = [t for t in CASE_TYPES[type_name].transitions if t.extends == clock]
        assert len(extenders) == 1 and extenders[0].internal


@pytest.mark.parametrize("name", TYPES)
def test_every_clock_names_its_legal_basis(name: str) -> None:
    for clock in CASE_TYPES[name].clocks:
        basis = clock.basis.strip()
        assert basis, clock.name
        # a law and article (第…条), or the bureau's own policy (本局规定)
        assert ARTICLE.search(basis) or "本局规定" in basis, (clock.name, basis)
        if name == "complaint":  # national law gives no period: the basis says it is policy
            assert "本局规定" in basis, clock.name
        elif name == "reconsideration":
            assert "行政复议法" in basis, clock.name
        else:
            assert "法律援助" in basis, clock.name


@pytest.mark.parametrize("name", TYPES)
def test_clock_triggers_and_states_exist(name: str) -> None:
    case_type = CASE_TYPES[name]
    triggers = set(case_type.triggers) | {OPEN}
    states = set(case_type.state_map)
    for clock in case_type.clocks:
        for when in (*clock.starts, *clock.stops):
            assert when.trigger in triggers, (clock.name, when.trigger)
            assert when.source <= states, (clock.name, when.source)
        assert clock.pauses_in <= states - case_type.closed_states, clock.name
        if clock.lapses_by_trigger:
            # a lapse effect is a trigger only the system fires
            assert {s.actor for s in case_type.triggers[clock.lapse]} == {Actor.SYSTEM}
    for spec in case_type.transitions:
        if spec.extends is not None:
            assert spec.extends in case_type.clock_map
    for when in case_type.admitted_by:
        assert when.trigger in triggers


@pytest.mark.parametrize("name", TYPES)
def test_transition_states_exist(name: str) -> None:
    case_type = CASE_TYPES[name]
    states = set(case_type.state_map)
    assert len(states) == len(case_type.states)  # no duplicates
    assert case_type.initial in states
    for spec in case_type.transitions:
        assert set(spec.source) <= states, spec.trigger
        assert spec.dest is None or spec.dest in states, spec.trigger
    # one trigger has two declarations from the same state only where the event's own
    # attributes choose between them (reinstate: posted in time, or a good reason)
    for trigger, specs in case_type.triggers.items():
        sources = [(s, tuple(sorted((k, tuple(sorted(v))) for k, v in spec.when.items())))
                   for spec in specs for s in spec.source]
        assert len(sources) == len(set(sources)), trigger
        for spec in specs:
            assert not spec.when or all(s.when for s in specs), trigger


def _reachable(case_type: CaseType) -> set[str]:
    seen = set(INITIAL[case_type.name])
    todo = list(seen)
    while todo:
        state = todo.pop()
        for spec in case_type.transitions:
            if state in spec.source and spec.dest is not None and spec.dest not in seen:
                seen.add(spec.dest)
                todo.append(spec.dest)
    return seen


@pytest.mark.parametrize("name", TYPES)
def test_every_state_is_reachable_and_every_open_state_can_close(name: str) -> None:
    case_type = CASE_TYPES[name]
    assert _reachable(case_type) == set(case_type.state_map)
    closed = case_type.closed_states
    for state in set(case_type.state_map) - closed:
        onward = {s.dest for s in case_type.transitions if state in s.source and s.dest}
        assert onward, f"{state} is a dead end"
    # from every open state some path leads to a closed state
    leads_to_close = set(closed)
    changed = True
    while changed:
        changed = False
        for spec in case_type.transitions:
            if spec.dest in leads_to_close:
                new = set(spec.source) - leads_to_close
                if new:
                    leads_to_close |= new
                    changed = True
    assert leads_to_close == set(case_type.state_map)


@pytest.mark.parametrize("name", TYPES)
def test_mermaid_draws_every_transition(name: str) -> None:
    text = mermaid(CASE_TYPES[name])
    lines = text.splitlines()
    assert lines[0] == "stateDiagram-v2"
    expected = {line.strip() for line in MERMAID[name].strip().splitlines()}
    drawn = {line.strip() for line in lines if "-->" in line and "[*]" not in line}
    assert drawn == expected
    for state in INITIAL[name]:
        assert f"    [*] --> {state}" in lines
    for state in STATES[name][1].split():
        assert f"    {state} --> [*]" in lines
    for spec in CASE_TYPES[name].states:
        assert f'    state "{spec.name} {spec.label}" as {spec.name}' in lines
