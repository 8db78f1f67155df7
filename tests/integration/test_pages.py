"""The pages through FastAPI's TestClient, on SQLite and PostgreSQL: login and its limit, CSRF,
the worklist, a case's forms with their version, the dashboard (the browser tests walk the
same pages in Chromium)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

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


def row_text(html: str, ref: str) -> str:
    """The words of the table row that names ``ref``, tags dropped, spaces squeezed."""
    row = next(r for r in re.findall(r"<tr.*?</tr>", html, re.S) if ref in r)
    return " ".join(re.sub(r"<[^>]+>", " ", row).split())


def test_a_clerks_day(site: tuple[Runtime, dict[str, str]]) -> None:
    rt, refs = site
    client = TestClient(create_app(rt, secret_key="k"))
    assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert log_in(client, "王") == 303
    worklist = client.get("/").text
    # by nearest deadline: the late case's copy was due weeks ago
    assert worklist.index(refs["late"]) < worklist.index(refs["fresh"])
    assert 'class="overdue"' in worklist
    # the names a clerk knows first, the engine's beside them
    assert row_text(worklist, refs["late"]).startswith(
        f"{refs['late']} 行政复议 reconsideration 审理中 under_review 发送副本 copy_to_respondent ")
    page = client.get(f"/cases/{refs['fresh']}").text
    assert 'name="version" value="1"' in page and 'data-trigger="accept"' in page
    token = csrf(page)
    today = legal_date(rt.now()).isoformat()
    done = client.post(f"/cases/{refs['fresh']}/fire/accept",
                       data={"csrf": token, "version": "1", "on": today,
                             "procedure": "ordinary"})
    assert done.status_code == 200 and "under_review" in done.text
    assert '已办理 <span class="en">done</span>: 受理 <span class="en">accept</span>' in done.text
    stale = client.post(f"/cases/{refs['fresh']}/fire/send_copy",
                        data={"csrf": token, "version": "1", "on": today})
    assert stale.status_code == 409 and "已被他人更新" in stale.text
    forged = client.post(f"/cases/{refs['fresh']}/fire/send_copy",
                         data={"csrf": "forged", "version": "2", "on": today})
    assert forged.status_code == 403
    assert services.get_case(rt.bureau, refs["fresh"]).case.version == 2
    assert client.get("/dashboard").status_code == 403  # the supervisors'


def test_a_case_page_tells_what_the_law_did_that_no_sweep_has_recorded(
        site: tuple[Runtime, dict[str, str]]) -> None:
    """An application nobody decided on within 5 working days is accepted by law (视为受理,
    行政复议法 art. 30): until a sweep records it, the page says so beside the stored state,
    and offers the actions of the state the law has put the case in."""
    from flows.sweep import sweep

    rt, _ = site
    now = rt.now()
    ref = services.open_case(rt.bureau, "reconsideration",
                             on=legal_date(now) - timedelta(days=30),
                             attrs={"department": "一科", "handler": "王"}, by="王",
                             now=now, who=users.identity(rt.bureau, "王")).case.ref
    clerk = TestClient(create_app(rt, secret_key="k"))
    assert log_in(clerk, "王") == 303
    page = clerk.get(f"/cases/{ref}").text
    assert "received" in page.split('id="state"')[1].split("</dd>")[0]
    lapsed = page.split('id="lapsed"')[1].split("</div>")[0]
    assert "视为受理 <span class=\"en\">deem_accepted</span> → 审理中" in lapsed
    assert "第三十条" in lapsed
    assert 'data-trigger="accept"' not in page and 'data-trigger="decide"' in page
    # the case's attributes and its clocks' statuses by the names a clerk knows
    assert '<dt>承办人 <span class="en">handler</span></dt><dd>王</dd>' in page
    assert '<td>已逾期 <span class="en">overdue</span></td>' in page

    sweep(rt.bureau, now)
    swept = clerk.get(f"/cases/{ref}").text
    assert 'id="lapsed"' not in swept
    assert "under_review" in swept.split('id="state"')[1].split("</dd>")[0]


def test_the_supervisors_dashboard_and_the_auditors_hands(
        site: tuple[Runtime, dict[str, str]]) -> None:
    rt, refs = site
    supervisor = TestClient(create_app(rt, secret_key="k"))
    assert log_in(supervisor, "李") == 303
    board = supervisor.get("/dashboard")
    assert board.status_code == 200
    late = row_text(board.text, refs["late"])
    assert late.startswith(f"{refs['late']} 行政复议 reconsideration 发送副本 copy_to_respondent ")
    assert late.endswith(" 本局 bureau 王 一科")
    workloads = board.text.split('id="workloads"')[1]
    assert row_text(workloads, "<td>王</td>").startswith("王 行政复议 reconsideration ")
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


def test_guesses_sent_together_are_limited_too(site: tuple[Runtime, dict[str, str]]) -> None:
    """Logins are checked in the thread pool, several at once: ten wrong guesses sent together
    still get five password checks (401) and five refusals (429), however they interleave."""
    import threading

    rt, _ = site
    app = create_app(rt, secret_key="k")
    clients = [TestClient(app) for _ in range(10)]
    tokens = [csrf(client.get("/login").text) for client in clients]
    together = threading.Barrier(len(clients))
    answers: list[int] = []

    def guess(client: TestClient, token: str) -> None:
        together.wait()
        answers.append(client.post("/login", data={"username": "王", "password": "wrong",
                                                   "csrf": token},
                                   follow_redirects=False).status_code)

    threads = [threading.Thread(target=guess, args=pair) for pair in zip(clients, tokens,
                                                                          strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [401] * 5 + [429] * 5


def test_the_lawyer_pool_page(site: tuple[Runtime, dict[str, str]]) -> None:
    """律师库: a supervisor adds a lawyer and a leave and runs 指派; a clerk of another
    department sees the pool but may change nothing; a form without the session's token fails."""
    from flows import pool

    rt, _ = site
    today = legal_date(rt.now())
    waiting = services.open_case(rt.bureau, "legal_aid", on=today, by="李", now=rt.now(),
                                 attrs={"department": "一科", "channel": "notification",
                                        "matter": "civil", "applicant": "甲"},
                                 who=users.identity(rt.bureau, "李")).case.ref
    supervisor = TestClient(create_app(rt, secret_key="k"))
    assert log_in(supervisor, "李") == 303
    page = supervisor.get("/lawyers").text
    assert "律师库为空" in page and 'id="add-lawyer"' in page and 'id="assign-now"' in page
    added = supervisor.post("/lawyers", data={"csrf": csrf(page), "name": "钱律师",
                                              "firm": "钱所", "areas": "civil,tax",
                                              "capacity": "3"},
                            follow_redirects=False)
    assert added.status_code == 303
    lawyer = added.headers["location"].split("/")[-1].split("?")[0]
    later = (today + timedelta(days=30)).isoformat()
    leave = supervisor.post("/lawyers/leaves", data={"csrf": csrf(page), "lawyer": lawyer,
                                                     "from": later, "to": later})
    assert leave.status_code == 200 and f"{later} – {later}" in leave.text
    # a common area in Chinese first; one the bureau added, by its own name
    assert "<dd>民事 civil, tax</dd>" in leave.text
    assert "<td>民事 civil, tax</td>" in supervisor.get("/lawyers").text
    result = supervisor.post("/lawyers/assign", data={"csrf": csrf(page)})
    assert result.status_code == 200 and 'id="assignment-result"' in result.text
    assert waiting in result.text and "rotation" in result.text
    assert services.get_case(rt.bureau, waiting).case.attrs["lawyer"] == lawyer

    clerk = TestClient(create_app(rt, secret_key="k"))
    assert log_in(clerk, "王") == 303  # of 一科, which holds the legal-aid case: may run 指派
    seen = clerk.get("/lawyers").text
    assert "钱律师" in seen and 'id="add-lawyer"' not in seen and 'id="assign-now"' in seen
    refused = clerk.post("/lawyers/conflicts", data={"csrf": csrf(seen), "lawyer": lawyer,
                                                     "party": "乙"})
    assert refused.status_code == 403 and "supervisors" in refused.text
    forged = supervisor.post("/lawyers/conflicts", data={"csrf": "forged", "lawyer": lawyer,
                                                         "party": "乙"})
    assert forged.status_code == 403
    assert pool.show_lawyer(rt.bureau, int(lawyer))["conflicts"] == []
    auditor = TestClient(create_app(rt, secret_key="k"))
    assert log_in(auditor, "审") == 303
    looked = auditor.get("/lawyers").text
    assert 'id="assign-now"' not in looked
    hands = auditor.post("/lawyers/assign", data={"csrf": csrf(looked)})
    assert hands.status_code == 403 and "auditor" in hands.text


def test_a_supervisor_suspends_and_reactivates_a_lawyer(
        site: tuple[Runtime, dict[str, str]]) -> None:
    """暂停指派 / 恢复指派 on a lawyer's page: the pool and the next 指派 follow it; a clerk's or
    an auditor's submit is refused naming the rule, and so is one without the session's token;
    an unknown lawyer is a 404 page. Nothing refused changes the lawyer."""
    from flows import pool
    from flows.assignment import run_assignment
    from models.lawyers import NewLawyer

    rt, _ = site
    today = legal_date(rt.now())
    lead = users.identity(rt.bureau, "李")
    (lawyer,) = pool.add_lawyers(rt.bureau, [NewLawyer("钱律师", "钱所", ("civil",), 3)],
                                 now=rt.now(), who=lead)

    def waiting(applicant: str) -> str:
        return services.open_case(rt.bureau, "legal_aid", on=today, by="李", now=rt.now(),
                                  attrs={"department": "一科", "channel": "notification",
                                         "matter": "civil", "applicant": applicant},
                                  who=lead).case.ref

    def active() -> bool:
        (row,) = pool.list_lawyers(rt.bureau)
        return bool(row["active"])

    supervisor = TestClient(create_app(rt, secret_key="k"))
    assert log_in(supervisor, "李") == 303
    page = supervisor.get(f"/lawyers/{lawyer}").text
    assert "在册 active" in page and 'id="suspend"' in page and 'id="activate"' not in page
    suspended = supervisor.post(f"/lawyers/{lawyer}/suspend", data={"csrf": csrf(page)},
                                follow_redirects=False)
    assert suspended.status_code == 303
    assert suspended.headers["location"] == f"/lawyers/{lawyer}?done=suspended"
    shown = supervisor.get(suspended.headers["location"]).text
    assert "已暂停指派" in shown and 'id="activate"' in shown and 'id="suspend"' not in shown
    assert not active()
    row = re.search(rf'<tr[^>]*data-lawyer="{lawyer}">.*?</tr>',
                    supervisor.get("/lawyers").text, re.S)
    assert row and "暂停 suspended" in row[0]
    # the only civil lawyer suspended: the pass leaves the case waiting, the gate named
    first = waiting("甲")
    report = run_assignment(rt.bureau, rt.now(), lead).to_json()
    assert report["assigned"] == [] and [u["ref"] for u in report["unassigned"]] == [first]
    assert "suspended" in report["unassigned"][0]["reason"]

    # hand-made submits with each one's own token: refused, the rule named, nothing changed
    for name in ("王", "审"):
        hands = TestClient(create_app(rt, secret_key="k"))
        assert log_in(hands, name) == 303
        seen = hands.get(f"/lawyers/{lawyer}").text
        assert 'id="activate"' not in seen and "暂停指派 suspended" in seen
        refused = hands.post(f"/lawyers/{lawyer}/activate", data={"csrf": csrf(seen)})
        assert refused.status_code == 403 and "role_not_allowed" in refused.text
        assert "changed by supervisors" in refused.text and "role supervisor" in refused.text
        assert not active()
    for token in ({}, {"csrf": "forged"}):
        forged = supervisor.post(f"/lawyers/{lawyer}/activate", data=token)
        assert forged.status_code == 403 and "CSRF" in forged.text
        assert not active()
    for verb in ("suspend", "activate"):
        missing = supervisor.post(f"/lawyers/{lawyer + 1000}/{verb}", data={"csrf": csrf(page)})
        assert missing.status_code == 404 and "lawyer_not_found" in missing.text
        assert "未能完成" in missing.text  # the error page, not a traceback
        assert not active()

    activated = supervisor.post(f"/lawyers/{lawyer}/activate", data={"csrf": csrf(page)})
    assert activated.status_code == 200 and "已恢复指派" in activated.text
    assert 'id="suspend"' in activated.text and active()
    # in the rotation again: the next pass gives the waiting case to them
    report = run_assignment(rt.bureau, rt.now(), lead).to_json()
    assert [(a["ref"], a["lawyer"]) for a in report["assigned"]] == [(first, lawyer)]
    assert services.get_case(rt.bureau, first).case.attrs["lawyer"] == str(lawyer)


def test_the_pages_writes_run_off_the_event_loop(
        site: tuple[Runtime, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Logging in (argon2: tens of milliseconds) and every page's write run in FastAPI's thread
    pool: on the event loop they would hold up every other request of the worker meanwhile."""
    import asyncio

    from flows import assignment, pool

    rt, refs = site
    called: list[tuple[str, bool]] = []

    def watch(module: Any, name: str) -> None:
        real = getattr(module, name)

        def on_the_loop() -> bool:
            try:
                asyncio.get_running_loop()
            except RuntimeError:
                return False
            return True

        def call(*args: Any, **kwargs: Any) -> Any:
            called.append((name, on_the_loop()))
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, call)

    for module, name in [(users, "log_in"), (services, "open_case"), (services, "advance"),
                         (pool, "add_lawyers"), (pool, "add_leave"), (pool, "set_active"),
                         (assignment, "run_assignment")]:
        watch(module, name)
    today = legal_date(rt.now()).isoformat()
    clerk = TestClient(create_app(rt, secret_key="k"))
    assert log_in(clerk, "王") == 303
    token = csrf(clerk.get("/").text)
    opened = clerk.post("/cases", data={"csrf": token, "type": "reconsideration", "on": today},
                        follow_redirects=False)
    assert opened.status_code == 303, opened.text
    fired = clerk.post(f"/cases/{refs['fresh']}/fire/accept",
                       data={"csrf": token, "version": "1", "on": today,
                             "procedure": "ordinary"}, follow_redirects=False)
    assert fired.status_code == 303, fired.text
    lead = TestClient(create_app(rt, secret_key="k"))
    assert log_in(lead, "李") == 303
    token = csrf(lead.get("/lawyers").text)
    added = lead.post("/lawyers", data={"csrf": token, "name": "钱律师", "firm": "钱所",
                                        "areas": "civil", "capacity": "3"},
                      follow_redirects=False)
    assert added.status_code == 303, added.text
    lawyer = added.headers["location"].split("/")[2].split("?")[0]
    for path, data in [("/lawyers/leaves", {"lawyer": lawyer, "from": today, "to": today}),
                       (f"/lawyers/{lawyer}/suspend", {}), (f"/lawyers/{lawyer}/activate", {}),
                       ("/lawyers/assign", {})]:
        answer = lead.post(path, data={"csrf": token, **data}, follow_redirects=False)
        assert answer.status_code in {200, 303}, (path, answer.text)
    assert sorted({name for name, _ in called}) == sorted(
        ["log_in", "open_case", "advance", "add_lawyers", "add_leave", "set_active",
         "run_assignment"])
    assert [name for name, on_loop in called if on_loop] == []
