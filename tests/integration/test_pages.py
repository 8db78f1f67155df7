"""The pages through FastAPI's TestClient, on SQLite and PostgreSQL: login and its limit, CSRF,
the worklist, a case's forms with their version, the dashboard (the browser tests walk the
same pages in Chromium)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from deployments.api.app import create_app
from deployments.bootstrap import Runtime, bootstrap
from flows import services, users
from states.calendar import legal_date
from states.roles import Role

PASSWORD = "a long passphrase"


@pytest.fixture
def site(db_url: str) -> Iterator[tuple[Runtime, dict[str, str]]]:
    rt = bootstrap(db_url)
    now = rt.now()
    today = legal_date(now)
    fresh = services.open_case(rt.bureau, "reconsideration", on=today - timedelta(days=1),
                               attrs={"department": "一科", "handler": "王"}, by="x", now=now)
    late = services.open_case(rt.bureau, "reconsideration", on=today - timedelta(days=40),
                              attrs={"department": "一科", "handler": "王"}, by="x", now=now)
    services.advance(rt.bureau, late.case.ref, "accept", on=today - timedelta(days=39), by="x",
                     now=now)
    for name, role, department in [("王", Role.CLERK, "一科"), ("李", Role.SUPERVISOR, "一科"),
                                   ("审", Role.AUDITOR, None)]:
        users.add_user(rt.bureau, name, role, department=department, password=PASSWORD, now=now)
    yield rt, {"fresh": fresh.case.ref, "late": late.case.ref}
    rt.close()


def csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "a form without its CSRF token"
    return found[1]


def log_in(client: TestClient, name: str, password: str = PASSWORD) -> int:
    token = csrf(client.get("/login").text)
    answer = client.post("/login", data={"username": name, "password": password, "csrf": token},
                         follow_redirects=False)
    return answer.status_code


def test_a_clerks_day(site: tuple[Runtime, dict[str, str]]) -> None:
    rt, refs = site
    client = TestClient(create_app(rt, secret_key="k"))
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert log_in(client, "王") == 303
    worklist = client.get("/").text
    # by nearest deadline: the late case's copy was due weeks ago
    assert worklist.index(refs["late"]) < worklist.index(refs["fresh"])
    assert 'class="overdue"' in worklist
    page = client.get(f"/cases/{refs['fresh']}").text
    assert 'name="version" value="1"' in page and 'data-trigger="accept"' in page
    token = csrf(page)
    today = legal_date(rt.now()).isoformat()
    done = client.post(f"/cases/{refs['fresh']}/fire/accept",
                       data={"csrf": token, "version": "1", "on": today,
                             "procedure": "ordinary"})
    assert done.status_code == 200 and "under_review" in done.text
    stale = client.post(f"/cases/{refs['fresh']}/fire/send_copy",
                        data={"csrf": token, "version": "1", "on": today})
    assert stale.status_code == 409 and "已被他人更新" in stale.text
    forged = client.post(f"/cases/{refs['fresh']}/fire/send_copy",
                         data={"csrf": "forged", "version": "2", "on": today})
    assert forged.status_code == 403
    assert services.get_case(rt.bureau, refs["fresh"]).case.version == 2
    assert client.get("/dashboard").status_code == 403  # the supervisors'


def test_the_supervisors_dashboard_and_the_auditors_hands(
        site: tuple[Runtime, dict[str, str]]) -> None:
    rt, refs = site
    supervisor = TestClient(create_app(rt, secret_key="k"))
    assert log_in(supervisor, "李") == 303
    board = supervisor.get("/dashboard")
    assert board.status_code == 200 and refs["late"] in board.text
    assert supervisor.get("/dashboard/chart.svg").headers["content-type"] == "image/svg+xml"
    auditor = TestClient(create_app(rt, secret_key="k"))
    assert log_in(auditor, "审") == 303
    page = auditor.get(f"/cases/{refs['fresh']}").text
    assert "data-trigger" not in page  # no action offered
    refused = auditor.post(f"/cases/{refs['fresh']}/fire/withdraw",
                           data={"csrf": csrf(page), "version": "1"})
    assert refused.status_code == 403 and "auditor" in refused.text
    assert services.get_case(rt.bureau, refs["fresh"]).case.version == 1


def test_logins_are_limited(site: tuple[Runtime, dict[str, str]]) -> None:
    rt, _ = site
    client = TestClient(create_app(rt, secret_key="k"))
    assert [log_in(client, "王", "wrong guess") for _ in range(6)] == [401] * 5 + [429]
    assert log_in(client, "王") == 429  # even the right password, until the window passes
    assert log_in(client, "李") == 303  # another name is not held up
