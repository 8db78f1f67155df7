"""The user directory and the role gate of the services, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from flows import services, users
from flows.context import Bureau
from models.errors import Conflict
from states.roles import (
    BadCredentials,
    Identity,
    IdentityRequired,
    Role,
    RoleNotAllowed,
    UnknownUser,
)

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
WANG = Identity("王", Role.CLERK, "一科")
ZHAO = Identity("赵", Role.CLERK, "二科")
LI = Identity("李", Role.SUPERVISOR, "一科")
AUDITOR = Identity("审", Role.AUDITOR)


@pytest.fixture
def staffed(bureau: Bureau) -> Bureau:
    for who in (WANG, ZHAO, LI, AUDITOR):
        users.add_user(bureau, who.name, who.role, department=who.department,
                       password="a long passphrase", now=NOW)
    return bureau


def open_rc(bureau: Bureau, on: str = "2025-05-06", who: Identity | None = WANG) -> str:
    stored = services.open_case(bureau, "reconsideration", on=date.fromisoformat(on),
                                attrs={"department": "一科"}, by="x", now=NOW, who=who)
    return stored.case.ref


def events_of(bureau: Bureau, ref: str) -> list[str]:
    return [e.trigger for e in services.timeline(bureau, ref)]


def test_without_users_everything_stays_open(bureau: Bureau) -> None:
    ref = open_rc(bureau, who=None)
    services.advance(bureau, ref, "accept", on=date(2025, 5, 7), by="anyone", now=NOW)
    assert events_of(bureau, ref) == ["open", "accept"]


def test_once_users_exist_a_write_must_name_one(staffed: Bureau) -> None:
    ref = open_rc(staffed)
    with pytest.raises(IdentityRequired):
        services.advance(staffed, ref, "accept", on=date(2025, 5, 7), by="x", now=NOW)
    with pytest.raises(IdentityRequired):
        open_rc(staffed, who=None)
    assert events_of(staffed, ref) == ["open"]


def test_a_clerk_opens_a_case_of_their_own_and_it_is_theirs(staffed: Bureau) -> None:
    stored = services.get_case(staffed, open_rc(staffed))
    assert stored.case.attrs["handler"] == "王"
    with pytest.raises(RoleNotAllowed):
        services.open_case(staffed, "reconsideration", on=date(2025, 5, 6),
                           attrs={"department": "二科"}, by="王", now=NOW, who=WANG)


def test_the_roles_decide_and_a_refusal_changes_nothing(staffed: Bureau) -> None:
    # received 2025-05-06: the 5-working-day review ends 2025-05-13, deemed accepted that day
    ref = open_rc(staffed)
    for who in (ZHAO, LI, AUDITOR):  # not this case's clerks
        with pytest.raises(RoleNotAllowed):
            services.advance(staffed, ref, "reject", on=date(2025, 5, 20), reason="r",
                             by=who.name, now=NOW, who=who)
    # refused before anything was judged: not even the deemed acceptance was recorded
    assert events_of(staffed, ref) == ["open"]
    assert services.get_case(staffed, ref).case.version == 1
    services.advance(staffed, ref, "accept", on=date(2025, 5, 7), by="王", now=NOW, who=WANG)
    with pytest.raises(RoleNotAllowed):  # the supervisor's extension
        services.advance(staffed, ref, "extend", on=date(2025, 5, 8), attrs={"days": 10},
                         by="王", now=NOW, who=WANG)
    services.advance(staffed, ref, "extend", on=date(2025, 5, 8), attrs={"days": 10},
                     by="李", now=NOW, who=LI)
    assert events_of(staffed, ref) == ["open", "accept", "extend"]


def test_a_second_supplement_request_is_the_supervisors(staffed: Bureau) -> None:
    ref = open_rc(staffed)
    services.advance(staffed, ref, "request_supplement", on=date(2025, 5, 7), by="王",
                     now=NOW, who=WANG)
    services.advance(staffed, ref, "receive_supplement", on=date(2025, 5, 9), by="王",
                     now=NOW, who=WANG)
    with pytest.raises(RoleNotAllowed, match="supervisor"):
        services.advance(staffed, ref, "request_supplement", on=date(2025, 5, 12),
                         reason="again", by="王", now=NOW, who=WANG)
    assert len(events_of(staffed, ref)) == 3
    services.advance(staffed, ref, "request_supplement", on=date(2025, 5, 12),
                     reason="again", by="李", now=NOW, who=LI)
    assert services.timeline(staffed, ref)[-1].actor == "supervisor"


def test_triggers_now_are_the_users(staffed: Bureau) -> None:
    ref = open_rc(staffed, on="2025-05-28")
    assert "accept" in services.triggers_now(staffed, ref, NOW, WANG)
    assert "accept" not in services.triggers_now(staffed, ref, NOW, ZHAO)
    assert services.triggers_now(staffed, ref, NOW, AUDITOR) == []


def test_passwords_and_tokens(staffed: Bureau) -> None:
    assert users.log_in(staffed, "王", "a long passphrase") == WANG
    for name, password in [("王", "wrong passphrase"), ("无名", "a long passphrase")]:
        with pytest.raises(BadCredentials):
            users.log_in(staffed, name, password)
    token = users.issue_token(staffed, "李", NOW)
    assert users.by_token(staffed, token) == LI
    assert [u.tokens for u in users.list_users(staffed) if u.identity == LI] == [1]
    assert users.revoke(staffed, "李", NOW) == 1
    with pytest.raises(BadCredentials):
        users.by_token(staffed, token)
    with pytest.raises(Conflict):
        users.add_user(staffed, "王", Role.CLERK, department="一科", password=None, now=NOW)
    with pytest.raises(UnknownUser):
        users.issue_token(staffed, "无名", NOW)
