"""The HTTP API (deployments/api) through FastAPI's TestClient, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deployments.api.app import create_app
from deployments.bootstrap import bootstrap
from flows import users
from states.calendar import legal_date
from states.roles import Role

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
STAFF = {"王": (Role.CLERK, "一科"), "赵": (Role.CLERK, "二科"), "李": (Role.SUPERVISOR, "一科"),
         "周": (Role.LEADER, None), "审": (Role.AUDITOR, None)}


class Api:
    def __init__(self, client: TestClient, tokens: dict[str, str]) -> None:
        self.client, self.tokens = client, tokens

    def __call__(self, method: str, path: str, who: str | None = None, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if who is not None:
            headers["Authorization"] = f"Bearer {self.tokens[who]}"
        return self.client.request(method, path, headers=headers, **kw)

    def open(self, who: str = "王", **attrs: str) -> dict[str, Any]:
        answer = self("POST", "/api/cases", who, json={
            "type": "reconsideration", "on": "2025-05-06",
            "attrs": {"department": "一科", **attrs}})
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


@pytest.fixture
def api(db_url: str) -> Iterator[Api]:
    rt = bootstrap(db_url)
    tokens = {}
    for name, (role, department) in STAFF.items():
        users.add_user(rt.bureau, name, role, department=department, password=None, now=NOW)
        tokens[name] = users.issue_token(rt.bureau, name, NOW)
    with TestClient(create_app(rt, secret_key="test")) as client:
        yield Api(client, tokens)
    rt.close()


def test_open_show_fire_with_versions(api: Api) -> None:
    opened = api.open(phone="13812345678")
    ref = opened["ref"]
    assert opened["version"] == 1 and opened["attrs"]["handler"] == "王"
    shown = api("GET", f"/api/cases/{ref}", "王")
    assert shown.status_code == 200 and shown.headers["ETag"] == '"1"'
    fired = api("POST", f"/api/cases/{ref}/triggers/accept", "王",
                json={"on": "2025-05-07", "attrs": {"procedure": "ordinary"}},
                headers={"If-Match": '"1"'})
    assert fired.status_code == 200, fired.text
    assert fired.json()["state"] == "under_review" and fired.headers["ETag"] == '"2"'
    stale = api("POST", f"/api/cases/{ref}/triggers/withdraw", "王", json={},
                headers={"If-Match": '"1"'})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "conflict"
    assert stale.json()["error"]["allowed"] == ['If-Match: "2"']
    timeline = api("GET", f"/api/cases/{ref}/timeline", "王").json()
    assert [e["trigger"] for e in timeline] == ["open", "accept"]
    assert timeline[1]["by"] == "王" and timeline[1]["from"] == "received"


def test_errors_are_the_contracts_object(api: Api) -> None:
    ref = api.open()["ref"]
    answers = {
        401: api("GET", f"/api/cases/{ref}"),  # users exist: a token is needed
        404: api("GET", "/api/cases/RC-1999-0001", "王"),
        400: api("POST", "/api/cases", "王", json={"type": "reconsideration", "on": "June"}),
        422: api("POST", f"/api/cases/{ref}/triggers/decide", "王", json={"on": "2025-05-07"}),
    }
    bad_token = api("GET", f"/api/cases/{ref}", headers={"Authorization": "Bearer nope"})
    assert bad_token.status_code == 401
    for status, answer in answers.items():
        assert answer.status_code == status, answer.text
        error = answer.json()["error"]
        assert set(error) == {"code", "message", "allowed"} and error["message"]
    assert "accept" in answers[422].json()["error"]["allowed"]
    assert api("POST", f"/api/cases/{ref}/triggers/accept", "王", json={},
               headers={"If-Match": "soon"}).status_code == 400


# Every write, by every role: (endpoint, who) -> status. The case is 一科's, handled by 王.
WRITES = ["open", "clerk trigger", "supervisor trigger", "system trigger"]
MATRIX = {
    ("open", "王"): 201, ("open", "赵"): 403, ("open", "李"): 201, ("open", "周"): 201,
    ("open", "审"): 403,
    ("clerk trigger", "王"): 200, ("clerk trigger", "赵"): 403, ("clerk trigger", "李"): 403,
    ("clerk trigger", "周"): 403, ("clerk trigger", "审"): 403,
    ("supervisor trigger", "王"): 403, ("supervisor trigger", "赵"): 403,
    ("supervisor trigger", "李"): 200, ("supervisor trigger", "周"): 200,
    ("supervisor trigger", "审"): 403,
    **{("system trigger", who): 403 for who in STAFF},
}


@pytest.mark.parametrize(("write", "who"), list(MATRIX))
def test_role_by_endpoint(api: Api, write: str, who: str) -> None:
    if write == "open":  # 一科's case: 赵 is of 二科
        answer = api("POST", "/api/cases", who, json={
            "type": "reconsideration", "on": "2025-05-06", "attrs": {"department": "一科"}})
        assert answer.status_code == MATRIX[(write, who)], answer.text
        return
    ref = api.open()["ref"]
    trigger, body = {
        "clerk trigger": ("accept", {"on": "2025-05-07"}),
        "supervisor trigger": ("reassign", {"on": "2025-05-07", "attrs": {"handler": "钱"}}),
        "system trigger": ("deem_accepted", {"on": "2025-05-13"}),
    }[write]
    answer = api("POST", f"/api/cases/{ref}/triggers/{trigger}", who, json=body,
                 headers={"If-Match": '"1"'})
    assert answer.status_code == MATRIX[(write, who)], answer.text
    if answer.status_code == 403:
        assert answer.json()["error"]["code"] == "role_not_allowed"
        assert api("GET", f"/api/cases/{ref}", "王").headers["ETag"] == '"1"'


def test_allowed_triggers_are_the_users(api: Api) -> None:
    ref = api.open()["ref"]  # 视为受理 by law long ago: under review today
    clerk = api("GET", f"/api/cases/{ref}/triggers", "王").json()
    supervisor = api("GET", f"/api/cases/{ref}/triggers", "李").json()
    assert "send_copy" in clerk and "reassign" not in clerk
    assert "reassign" in supervisor and "send_copy" not in supervisor
    assert api("GET", f"/api/cases/{ref}/triggers", "审").json() == []
    assert api("GET", f"/api/cases/{ref}/triggers", "赵").json() == []


def test_personal_data_masked_for_auditors(api: Api) -> None:
    ref = api.open(id_number="110101199003071234")["ref"]
    assert api("GET", f"/api/cases/{ref}", "审").json()["attrs"]["id_number"] == \
        "110***********1234"
    assert api("GET", f"/api/cases/{ref}", "李").json()["attrs"]["id_number"] == \
        "110101199003071234"
    first = api("GET", f"/api/cases/{ref}/timeline", "周").json()[0]
    assert first["attrs"]["id_number"] == "110***********1234"


def test_list_filters_reports_and_audit(api: Api) -> None:
    mine = api.open()["ref"]
    theirs = api.open(who="李", handler="钱")["ref"]
    api("POST", f"/api/cases/{mine}/triggers/accept", "王", json={"on": "2025-05-07"})

    def refs(**query: str) -> list[str]:
        answer = api("GET", "/api/cases", "审", params=query)
        assert answer.status_code == 200, answer.text
        return [c["ref"] for c in answer.json()]

    assert refs(department="一科") == [mine, theirs]
    assert refs(handler="王") == [mine] and refs(handler="钱") == [theirs]
    assert refs(state="under_review") == [mine]
    assert refs(department="二科") == []
    # 2025-05-06's review ran out 2025-05-13 (not recorded: no sweep); 王's decision runs to
    # 2025-07-07: both are overdue or due by then, seen from today
    assert refs(overdue="true") == [mine, theirs]
    today = legal_date(datetime.now(UTC))
    assert refs(due_before=(today - timedelta(days=1)).isoformat()) == [mine, theirs]
    assert refs(due_before="2025-05-12") == []
    assert api("GET", "/api/cases", "审", params={"state": "nowhere"}).status_code == 404
    report = api("GET", "/api/reports/closure", "周",
                 params={"from": "2025-01-01", "to": "2025-06-30", "type": "reconsideration"})
    assert report.status_code == 200
    assert report.json()["rows"][0]["accepted"] == 1  # 王's; 钱's was never accepted
    overdue = api("GET", "/api/audit/overdue", "审", params={"department": "一科"}).json()
    assert {x["ref"] for x in overdue} == {mine, theirs}
    assert api("GET", "/api/reports/closure", "周",
               params={"from": "2025-07-01", "to": "2025-06-01"}).status_code == 400


def test_openapi_has_every_path(api: Api) -> None:
    paths = api("GET", "/openapi.json").json()["paths"]
    assert {"/api/cases", "/api/cases/{ref}", "/api/cases/{ref}/timeline",
            "/api/cases/{ref}/triggers/{trigger}", "/api/reports/closure",
            "/api/cases/{ref}/triggers", "/api/audit/overdue"} <= set(paths)
    assert not any(p.startswith("/login") or p == "/" for p in paths)


def test_revoked_token_refused_on_the_next_request(api: Api) -> None:
    """Nothing about a token outlives its request: revoked, it is refused at once, on reads,
    writes and /me alike; a new token works at once."""
    ref = api.open()["ref"]
    assert api("GET", f"/api/cases/{ref}", "王").status_code == 200
    rt = api.client.app.state.runtime  # type: ignore[attr-defined]  # the server's own
    assert users.revoke(rt.bureau, "王", NOW) == 1
    for method, path, body in [("GET", f"/api/cases/{ref}", None), ("GET", "/api/me", None),
                               ("POST", f"/api/cases/{ref}/triggers/accept",
                                {"on": "2025-05-07"})]:
        refused = api(method, path, "王", json=body)
        assert refused.status_code == 401, (path, refused.text)
        assert refused.json()["error"]["code"] == "bad_credentials"
    api.tokens["王"] = users.issue_token(rt.bureau, "王", NOW)
    assert api("GET", "/api/me", "王").json()["name"] == "王"
    accepted = api("POST", f"/api/cases/{ref}/triggers/accept", "王", json={"on": "2025-05-07"})
    assert accepted.status_code == 200, accepted.text


READS = ["/api/cases", "/api/cases/{ref}", "/api/cases/{ref}/timeline",
         "/api/cases/{ref}/triggers", "/api/reports/closure?from=2025-01-01&to=2025-06-30",
         "/api/audit/overdue", "/api/me"]


@pytest.mark.parametrize("path", READS)
def test_every_read_needs_a_live_token(api: Api, path: str) -> None:
    ref = api.open()["ref"]
    assert api("GET", path.format(ref=ref), "审").status_code == 200
    for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}]:
        answer = api("GET", path.format(ref=ref), headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["WWW-Authenticate"] == "Bearer"
