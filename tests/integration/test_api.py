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
         "周": (Role.LEADER, None), "审": (Role.AUDITOR, None),
         "孙": (Role.CLERK, "法律援助中心")}


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
            "/api/cases/{ref}/triggers", "/api/audit/overdue", "/api/lawyers",
            "/api/lawyers/{lawyer}", "/api/lawyers/{lawyer}/leaves",
            "/api/lawyers/{lawyer}/conflicts", "/api/assign",
            "/api/reports/assignments"} <= set(paths)
    assert not any(p.startswith("/login") or p == "/" for p in paths)


# -- the lawyer pool (律师库) and 指派 ---------------------------------------------------------


def legal_aid(api: Api, applicant: str = "甲", matter: str = "criminal") -> str:
    """A court's notice (art. 36), received today: approved, its 3-day assignment clock running."""
    answer = api("POST", "/api/cases", "李", json={
        "type": "legal_aid", "on": legal_date(datetime.now(UTC)).isoformat(),
        "attrs": {"department": "法律援助中心", "channel": "notification", "matter": matter,
                  "applicant": applicant}})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["ref"])


def add_lawyer(api: Api, name: str = "甲律师", areas: tuple[str, ...] = ("criminal",),
               who: str = "李") -> Any:
    return api("POST", "/api/lawyers", who, json={"name": name, "firm": "甲所",
                                                  "areas": list(areas), "capacity": 2})


def test_the_pool_and_a_pass_mirror_the_cli(api: Api) -> None:
    added = add_lawyer(api)
    assert added.status_code == 201, added.text
    first = added.json()
    assert first == {"id": first["id"], "name": "甲律师", "firm": "甲所", "areas": ["criminal"],
                     "capacity": 2}  # CONTRACT.md's `lawyer add --json`
    second = add_lawyer(api, "乙律师", ("criminal", "civil")).json()["id"]
    today = legal_date(datetime.now(UTC))
    away = api("POST", f"/api/lawyers/{second}/leaves", "周",
               json={"from": (today - timedelta(days=1)).isoformat(),
                     "to": (today + timedelta(days=9)).isoformat()})
    assert away.status_code == 200 and len(away.json()["leaves"]) == 1
    conflicted = api("POST", f"/api/lawyers/{first['id']}/conflicts", "李",
                     json={"party": "丙公司"})
    assert conflicted.json()["conflicts"] == ["丙公司"]
    kept = legal_aid(api, applicant="丙公司")  # only 甲 could, and 甲 is conflicted
    ref = legal_aid(api)
    run = api("POST", "/api/assign", "孙")  # a clerk of the legal-aid department
    assert run.status_code == 200, run.text
    report = run.json()
    assert [(x["ref"], x["lawyer"]) for x in report["assigned"]] == [(ref, first["id"])]
    assert any("rotation" in r for r in report["assigned"][0]["reasons"])
    (unassigned,) = report["unassigned"]
    assert unassigned["ref"] == kept and "conflict" in unassigned["reason"]
    assert unassigned["gates"] == {"conflict": 1, "on_leave": 1}
    case = api("GET", f"/api/cases/{ref}", "审").json()
    assert (case["state"], case["attrs"]["lawyer"]) == ("assigned", str(first["id"]))
    assert api("GET", f"/api/cases/{ref}/timeline", "审").json()[-1]["by"] == "孙"
    pool = {d["id"]: d for d in api("GET", "/api/lawyers", "审").json()}
    assert (pool[first["id"]]["load"], pool[second]["load"]) == (1, 0)
    assert pool[second]["leaves"] == away.json()["leaves"]
    shown = api("GET", f"/api/lawyers/{first['id']}", "王").json()
    assert [(o["ref"], o["outcome"]) for o in shown["offers"]] == [(ref, "offered")]
    fairness = api("GET", "/api/reports/assignments", "审",
                   params={"from": today.isoformat(), "to": today.isoformat()})
    assert fairness.status_code == 200
    assert fairness.json()["max_minus_min"] == 1  # 甲 one offer, 乙 none (on leave)


def test_pool_errors_are_the_contracts_object(api: Api) -> None:
    lawyer = add_lawyer(api).json()["id"]
    answers = [
        (401, api("GET", "/api/lawyers")),
        (404, api("GET", "/api/lawyers/999", "王")),
        (404, api("POST", "/api/lawyers/999/conflicts", "李", json={"party": "丁"})),
        (404, api("POST", "/api/lawyers/999/suspend", "李")),
        (404, api("POST", "/api/lawyers/999/activate", "李")),
        (400, api("POST", f"/api/lawyers/{lawyer}/leaves", "李",
                  json={"from": "June", "to": "2025-06-01"})),
        (422, api("POST", "/api/lawyers", "李", json={"name": "甲", "firm": "所", "areas": [" "],
                                                     "capacity": 2})),
        (422, api("POST", f"/api/lawyers/{lawyer}/leaves", "李",
                  json={"from": "2025-06-10", "to": "2025-06-01"})),
    ]
    for status, answer in answers:
        assert answer.status_code == status, answer.text
        assert set(answer.json()["error"]) == {"code", "message", "allowed"}
    assert api("GET", f"/api/lawyers/{lawyer}", "王").json()["leaves"] == []
    assert len(api("GET", "/api/lawyers", "王").json()) == 1


def test_a_suspended_lawyer_is_offered_nothing_until_reactivated(api: Api) -> None:
    """暂停指派 / 恢复指派 through the API: the pool shows it, and the pass skips the
    suspended lawyer (the only one who could take the case) until they are reactivated."""
    lawyer = add_lawyer(api).json()["id"]
    ref = legal_aid(api)
    suspended = api("POST", f"/api/lawyers/{lawyer}/suspend", "李")
    assert suspended.status_code == 200 and suspended.json()["active"] is False
    assert [d["active"] for d in api("GET", "/api/lawyers", "王").json()] == [False]
    run = api("POST", "/api/assign", "李").json()
    assert run["assigned"] == [] and [u["ref"] for u in run["unassigned"]] == [ref]
    assert api("GET", f"/api/cases/{ref}", "审").json()["state"] == "approved"
    activated = api("POST", f"/api/lawyers/{lawyer}/activate", "李")
    assert activated.status_code == 200 and activated.json()["active"] is True
    run = api("POST", "/api/assign", "李").json()
    assert [(a["ref"], a["lawyer"]) for a in run["assigned"]] == [(ref, lawyer)]


# Every change of the pool and the pass, by every role: (write, who) -> status
POOL_WRITES = {"add lawyer": 201, "add leave": 200, "add conflict": 200, "suspend": 200,
               "activate": 200, "assign": 200}
POOL_MATRIX = {
    **{(w, who): (ok if who in {"李", "周"} else 403) for w, ok in POOL_WRITES.items()
       for who in STAFF},
    ("assign", "孙"): 200,  # a clerk of the legal-aid department runs the pass …
}  # … 王 and 赵 (clerks of other departments) and 审 (auditor) do not; no clerk edits the pool


@pytest.mark.parametrize(("write", "who"), list(POOL_MATRIX))
def test_pool_role_by_endpoint(api: Api, write: str, who: str) -> None:
    lawyer = add_lawyer(api).json()["id"]
    ref = legal_aid(api)
    before = api("GET", f"/api/lawyers/{lawyer}", "审").json()
    answer = {
        "add lawyer": lambda: add_lawyer(api, "新律师", who=who),
        "add leave": lambda: api("POST", f"/api/lawyers/{lawyer}/leaves", who,
                                 json={"from": "2025-07-01", "to": "2025-07-05"}),
        "add conflict": lambda: api("POST", f"/api/lawyers/{lawyer}/conflicts", who,
                                    json={"party": "丁"}),
        "suspend": lambda: api("POST", f"/api/lawyers/{lawyer}/suspend", who),
        "activate": lambda: api("POST", f"/api/lawyers/{lawyer}/activate", who),
        "assign": lambda: api("POST", "/api/assign", who),
    }[write]()
    assert answer.status_code == POOL_MATRIX[(write, who)], answer.text
    if answer.status_code == 403:
        assert answer.json()["error"]["code"] == "role_not_allowed"
        assert api("GET", f"/api/lawyers/{lawyer}", "审").json() == before
        assert len(api("GET", "/api/lawyers", "审").json()) == 1
        assert api("GET", f"/api/cases/{ref}", "审").json()["state"] == "approved"


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
         "/api/audit/overdue", "/api/me", "/api/lawyers",
         "/api/reports/assignments?from=2025-01-01&to=2025-06-30"]


@pytest.mark.parametrize("path", READS)
def test_every_read_needs_a_live_token(api: Api, path: str) -> None:
    ref = api.open()["ref"]
    assert api("GET", path.format(ref=ref), "审").status_code == 200
    for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic x"}]:
        answer = api("GET", path.format(ref=ref), headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["WWW-Authenticate"] == "Bearer"
