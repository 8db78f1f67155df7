"""Who may fire what (states/roles.py): every role against every actor, hand-listed."""

from __future__ import annotations

import pytest

from states.casetype import Actor
from states.casetypes import CASE_TYPES
from states.roles import (
    Identity,
    InvalidUser,
    Role,
    RoleNotAllowed,
    check_user,
    mask,
    masked,
    may_edit_pool,
    may_fire,
    may_fire_any,
    may_run_assignment,
    opening_attrs,
    triggers_for,
)

WANG = Identity("王", Role.CLERK, "一科")  # a clerk of 一科
ZHAO = Identity("赵", Role.CLERK, "二科")  # a clerk of 二科
LI = Identity("李", Role.SUPERVISOR, "一科")
LEADER = Identity("周", Role.LEADER)
AUDITOR = Identity("审", Role.AUDITOR)
CASE = {"department": "一科", "handler": "钱"}  # a case of 一科 handled by 钱

# (who, actor) -> may fire on CASE
RULES = {
    (WANG, Actor.CLERK): True,  # a clerk of the case's department
    (ZHAO, Actor.CLERK): False,  # another department's clerk
    (LI, Actor.CLERK): False,  # clerk triggers are the clerks'
    (LEADER, Actor.CLERK): False,
    (AUDITOR, Actor.CLERK): False,
    (WANG, Actor.SUPERVISOR): False,
    (ZHAO, Actor.SUPERVISOR): False,
    (LI, Actor.SUPERVISOR): True,
    (LEADER, Actor.SUPERVISOR): True,
    (AUDITOR, Actor.SUPERVISOR): False,
    **{(who, Actor.SYSTEM): False for who in (WANG, ZHAO, LI, LEADER, AUDITOR)},
}


@pytest.mark.parametrize(("who", "actor"), list(RULES))
def test_who_may_fire_which_actors_triggers(who: Identity, actor: Actor) -> None:
    if RULES[(who, actor)]:
        may_fire(who, "t", actor, **CASE)
    else:
        with pytest.raises(RoleNotAllowed) as refused:
            may_fire(who, "t", actor, **CASE)
        assert "'t'" in refused.value.message or "auditor" in refused.value.message


def test_the_handler_may_fire_though_of_another_department() -> None:
    may_fire(ZHAO, "accept", Actor.CLERK, department="一科", handler="赵")


def test_a_clerk_refusal_names_who_may() -> None:
    with pytest.raises(RoleNotAllowed) as refused:
        may_fire(ZHAO, "accept", Actor.CLERK, **CASE)
    assert refused.value.allowed == ["handler 钱", "clerk of 一科"]


def test_a_second_supplement_request_lets_a_supervisor_in() -> None:
    rc = CASE_TYPES["reconsideration"]
    may_fire_any(LI, rc, "request_supplement", **CASE)  # as its again_by actor
    may_fire_any(WANG, rc, "request_supplement", **CASE)
    with pytest.raises(RoleNotAllowed):
        may_fire_any(AUDITOR, rc, "request_supplement", **CASE)


def test_triggers_are_filtered_for_the_user() -> None:
    rc = CASE_TYPES["reconsideration"]
    names = ["accept", "extend", "reassign", "withdraw"]
    assert triggers_for(WANG, rc, names, **CASE) == ["accept", "withdraw"]
    assert triggers_for(LI, rc, names, **CASE) == ["extend", "reassign"]
    assert triggers_for(AUDITOR, rc, names, **CASE) == []
    assert triggers_for(None, rc, names, **CASE) == names


def test_opening_a_case() -> None:
    # a clerk's own case, of their department, unless a handler is named
    assert opening_attrs(WANG, {"applicant": "张三"}) == {
        "handler": "王", "applicant": "张三", "department": "一科"}
    assert opening_attrs(WANG, {"handler": "钱"})["handler"] == "钱"
    with pytest.raises(RoleNotAllowed):
        opening_attrs(WANG, {"department": "二科"})
    assert opening_attrs(LI, {"department": "二科"}) == {"department": "二科"}
    with pytest.raises(RoleNotAllowed):
        opening_attrs(AUDITOR, {})


def test_personal_data_is_masked_for_leaders_and_auditors() -> None:
    attrs = {"applicant": "张三", "phone": "13812345678", "id_number": "110101199003071234",
             "opposing_party_phone": "01062345678"}
    assert masked(attrs, WANG) == attrs
    assert masked(attrs, LI) == attrs
    for who in (LEADER, AUDITOR):
        assert masked(attrs, who) == {"applicant": "张三", "phone": "138****5678",
                                      "id_number": "110***********1234",
                                      "opposing_party_phone": "010****5678"}
    assert mask("12345") == "*****"


def test_a_clerk_needs_a_department_and_a_usable_name() -> None:
    with pytest.raises(InvalidUser):
        check_user("王", Role.CLERK, None)
    with pytest.raises(InvalidUser):
        check_user("王 五", Role.SUPERVISOR, None)
    check_user("王", Role.CLERK, "一科")


# the lawyer pool: (who) -> may change it; may run 指派 when 一科 holds legal-aid cases
POOL = [(WANG, False, True), (ZHAO, False, False), (LI, True, True), (LEADER, True, True),
        (AUDITOR, False, False)]


@pytest.mark.parametrize(("who", "edits", "assigns"), POOL)
def test_who_changes_the_pool_and_runs_the_pass(who: Identity, edits: bool,
                                               assigns: bool) -> None:
    for allowed, judge in ((edits, lambda: may_edit_pool(who)),
                           (assigns, lambda: may_run_assignment(who, ["一科", None]))):
        if allowed:
            judge()
        else:
            with pytest.raises(RoleNotAllowed):
                judge()
    with pytest.raises(RoleNotAllowed) as refused:  # the refusal names who may
        may_run_assignment(ZHAO, ["一科"])
    assert "clerk of 一科" in refused.value.allowed
