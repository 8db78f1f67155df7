"""`caseflow types`: the declared case types, checked against the names of DESIGN.md §5."""

from __future__ import annotations

import json

import pytest

TYPE_KEYS = {"name", "label", "states", "transitions", "clocks"}
STATE_KEYS = {"name", "label", "terminal"}
TRANSITION_KEYS = {"trigger", "source", "dest", "actor"}
CLOCK_KEYS = {"name", "label", "days", "unit", "basis"}
ACTORS = {"clerk", "supervisor", "system"}

# DESIGN.md §5: the names are part of the contract.
EXPECTED = {
    "reconsideration": {
        "label": "行政复议",
        "states": {
            "received", "awaiting_supplement", "under_review", "suspended",
            "rejected", "abandoned", "decided", "mediated", "withdrawn", "terminated",
            "dismissed",
        },
        "terminal": {
            "rejected", "abandoned", "decided", "mediated", "withdrawn", "terminated",
            "dismissed",
        },
        "triggers": {
            "request_supplement", "receive_supplement", "extend_supplement", "deem_abandoned",
            "accept", "deem_accepted", "reject", "send_copy", "receive_reply",
            "schedule_hearing", "convert_to_ordinary", "extend", "suspend", "resume",
            "mediate", "withdraw", "terminate", "dismiss", "decide", "reinstate", "reassign",
        },
        "system": {"deem_abandoned", "deem_accepted"},
        "clocks": {
            "acceptance_review": (5, "working"),
            "supplement": (10, "working"),
            "copy_to_respondent": (7, "working"),
            "respondent_reply": (10, "working"),
            "decision": (60, "calendar"),
            "suspension_limit": (60, "calendar"),
        },
    },
    "legal_aid": {
        "label": "法律援助",
        "states": {
            "applied", "awaiting_materials", "approved", "assigned", "in_service", "concluded",
            "denied", "withdrawn", "terminated", "closed",
        },
        "terminal": {"denied", "withdrawn", "terminated", "closed"},
        "triggers": {
            "request_materials", "receive_materials", "deem_withdrawn", "approve",
            "approve_provisionally", "deny", "assign", "decline_assignment", "engage",
            "replace_lawyer", "conclude", "close", "terminate", "withdraw", "file_objection",
            "uphold", "order_correction", "reinstate", "receive_closing_materials", "reassign",
            "attend_hearing", "review_file", "aided_complaint",
        },
        "system": {"deem_withdrawn"},
        "clocks": {
            "review": (7, "calendar"),
            "materials": (15, "calendar"),
            "assignment": (3, "calendar"),
            "engagement": (5, "calendar"),
            "closing_report": (30, "calendar"),
            "objection_review": (5, "calendar"),
        },
    },
    "complaint": {
        "label": "律师执业投诉",
        "states": {
            "received", "awaiting_supplement", "investigating", "decided",
            "not_accepted", "transferred", "withdrawn", "closed",
        },
        "terminal": {"not_accepted", "transferred", "withdrawn", "closed"},
        "triggers": {
            "request_supplement", "receive_supplement", "accept", "decline", "transfer",
            "extend", "decide", "reply", "withdraw", "reassign",
        },
        "system": set(),
        "clocks": {
            "acceptance": (10, "working"),
            "supplement": (10, "working"),
            "handling": (60, "calendar"),
        },
    },
}


@pytest.fixture(scope="module")
def types_list(run_in, tmp_path_factory):
    done = run_in(["types", "--json"], tmp_path_factory.mktemp("types"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1, "one JSON document on one line"
    return json.loads(done.stdout)


def test_types_json_is_a_list_of_the_three_types(types_list):
    assert isinstance(types_list, list)
    assert len(types_list) == 3
    assert [t["name"] for t in types_list] == ["reconsideration", "legal_aid", "complaint"]
    for case_type in types_list:
        assert set(case_type) >= TYPE_KEYS, case_type.keys()
        assert case_type["label"] == EXPECTED[case_type["name"]]["label"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_states(types_list, name):
    case_type = next(t for t in types_list if t["name"] == name)
    states = case_type["states"]
    for state in states:
        assert set(state) >= STATE_KEYS, state
        assert isinstance(state["label"], str) and state["label"]
        assert type(state["terminal"]) is bool
    assert {s["name"] for s in states} == EXPECTED[name]["states"]
    assert len(states) == len(EXPECTED[name]["states"]), "no state listed twice"
    assert {s["name"] for s in states if s["terminal"]} == EXPECTED[name]["terminal"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_transitions(types_list, name):
    case_type = next(t for t in types_list if t["name"] == name)
    states = {s["name"] for s in case_type["states"]}
    transitions = case_type["transitions"]
    for transition in transitions:
        assert set(transition) >= TRANSITION_KEYS, transition
        assert transition["actor"] in ACTORS, transition
        assert isinstance(transition["source"], list) and transition["source"], transition
        assert set(transition["source"]) <= states, transition
        # Internal triggers keep the state (no destination); the others go to a known state.
        assert transition["dest"] is None or transition["dest"] in states, transition
    assert {t["trigger"] for t in transitions} == EXPECTED[name]["triggers"]
    system = {t["trigger"] for t in transitions if t["actor"] == "system"}
    assert system == EXPECTED[name]["system"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_clocks(types_list, name):
    case_type = next(t for t in types_list if t["name"] == name)
    clocks = case_type["clocks"]
    for clock in clocks:
        assert set(clock) >= CLOCK_KEYS, clock
        assert isinstance(clock["label"], str) and clock["label"]
        assert isinstance(clock["basis"], str) and clock["basis"].strip(), clock
        assert type(clock["days"]) is int and clock["days"] > 0
        assert clock["unit"] in {"working", "calendar"}
    lengths = {c["name"]: (c["days"], c["unit"]) for c in clocks}
    assert lengths == EXPECTED[name]["clocks"]
    # issue 11 §4: which periods statute fixes (the policy file cannot change them)
    fixed = {c["name"] for c in clocks if c["fixed_by_law"]}
    assert fixed == FIXED_BY_LAW[name]


FIXED_BY_LAW = {
    "reconsideration": {"acceptance_review", "supplement", "copy_to_respondent",
                        "respondent_reply", "decision", "suspension_limit"},
    "legal_aid": {"review", "assignment", "engagement", "objection_review"},
    "complaint": set(),
}


def test_reconsideration_transitions_match_the_design(types_list):
    case_type = next(t for t in types_list if t["name"] == "reconsideration")
    by_trigger = {t["trigger"]: t for t in case_type["transitions"]}
    assert by_trigger["accept"]["source"] == ["received"]
    assert by_trigger["accept"]["dest"] == "under_review"
    assert by_trigger["accept"]["actor"] == "clerk"
    assert by_trigger["extend"]["actor"] == "supervisor"
    assert by_trigger["extend"]["dest"] is None
    assert set(by_trigger["extend"]["source"]) == {"under_review", "suspended"}
    assert set(by_trigger["withdraw"]["source"]) == {
        "received", "awaiting_supplement", "under_review", "suspended",
    }


def test_mermaid_diagram(cli):
    done = cli(["types", "show", "reconsideration", "--mermaid"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("stateDiagram-v2")
    lines = {line.strip() for line in done.stdout.splitlines()}
    assert "received --> under_review: accept" in lines
    assert "received --> under_review: deem_accepted" in lines
    assert "under_review --> decided: decide" in lines
    assert "[*] --> received" in lines

    # with --json: one JSON document (CONTRACT: nothing else on stdout), the same diagram
    as_json = cli(["types", "show", "reconsideration", "--mermaid", "--json"])
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == {"type": "reconsideration", "mermaid": done.stdout}


def test_human_listing_shows_chinese_labels(cli):
    done = cli(["types"])
    assert done.returncode == 0, done.stderr
    for label in ("行政复议", "法律援助", "律师执业投诉", "受理审查", "审理期限"):
        assert label in done.stdout, label
    for name in ("reconsideration", "legal_aid", "complaint", "acceptance_review"):
        assert name in done.stdout, name


def test_piped_tables_are_not_cut_short(cli, types_list):
    """Off a terminal nobody can widen the window: every legal basis arrives whole."""
    done = cli(["types"])
    assert done.returncode == 0, done.stderr
    assert "…" not in done.stdout
    for case_type in types_list:
        for clock in case_type["clocks"]:
            assert clock["basis"] in done.stdout, clock["basis"]

    narrow = cli(["types"], env={"COLUMNS": "80"})  # a width that is asked for still holds
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80
