"""Clerks, supervisors and auditors in a real Chromium, against `caseflow serve` (conftest).

Each journey saves a screenshot of every page it sees (`shots`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from deployments.bootstrap import bootstrap
from flows import services

PASSWORD = "a long passphrase"  # the staff's, in conftest


def log_in(page: Any, site: Any, name: str) -> None:
    page.goto(f"{site.url}/login")
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{site.url}/")


def version_of(site: Any, ref: str) -> int:
    rt = bootstrap(site.db_url)
    try:
        return services.get_case(rt.bureau, ref).case.version
    finally:
        rt.close()


def decision_due(site: Any, ref: str) -> str:
    rt = bootstrap(site.db_url)
    try:
        cycles = services.get_case(rt.bureau, ref).case.cycles
    finally:
        rt.close()
    return next(c.due_on.isoformat() for c in cycles if c.clock == "decision")


def test_a_clerk_advances_a_case_and_sees_the_new_deadline(
        browser: Any, site: Any, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    log_in(page, site, "王")
    page.screenshot(path=shots / "1-clerk-worklist.png", full_page=True)
    assert page.locator(f"a:has-text('{site.refs['late']}')").count() == 1
    page.click(f"a:has-text('{site.refs['fresh']}')")
    page.screenshot(path=shots / "2-clerk-case.png", full_page=True)
    form = page.locator("form[data-trigger=accept]")
    form.locator("select[name=procedure]").select_option("ordinary")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".flash.done")
    page.screenshot(path=shots / "3-clerk-accepted.png", full_page=True)
    assert "under_review" in page.inner_text("#state")
    due = decision_due(site, site.refs["fresh"])  # 审理期限, 60 days from today
    decision_row = page.locator("#clocks tr", has_text="decision")
    assert due in decision_row.inner_text()
    assert "60 天" in decision_row.inner_text() or "天 days" in decision_row.inner_text()


def test_a_stale_form_is_refused_with_a_clear_message(
        browser: Any, site: Any, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    first, second = context.new_page(), context.new_page()
    log_in(first, site, "王")
    ref = site.refs["fresh"]
    for page in (first, second):
        page.goto(f"{site.url}/cases/{ref}")
    first.locator("form[data-trigger=accept] button[type=submit]").click()
    first.wait_for_selector(".flash.done")
    # the second tab still shows version 1: its `withdraw` is refused, and nothing is done
    second.locator("form[data-trigger=withdraw] button[type=submit]").click()
    second.wait_for_selector(".flash.error")
    second.screenshot(path=shots / "4-stale-form.png", full_page=True)
    message = second.inner_text(".flash.error")
    assert "已被他人更新" in message and "changed since you opened it" in message
    assert version_of(site, ref) == 2
    assert "under_review" in second.inner_text("#state")


def test_a_supervisor_finds_an_overdue_case_and_reads_its_timeline(
        browser: Any, site: Any, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    log_in(page, site, "李")
    page.click("header a[href='/dashboard']")
    page.wait_for_selector("#overdue")
    page.wait_for_load_state("networkidle")  # the chart
    page.screenshot(path=shots / "5-supervisor-dashboard.png", full_page=True)
    row = page.locator("#overdue tr", has_text=site.refs["late"])
    assert row.count() >= 1 and "copy_to_respondent" in row.first.inner_text()
    row.first.locator("a").click()
    page.wait_for_selector("#timeline")
    page.screenshot(path=shots / "6-supervisor-timeline.png", full_page=True)
    story = page.inner_text("#timeline")
    assert "accept" in story and "王" in story
    assert page.locator("form[data-trigger]").count() > 0  # reassign, extend: theirs


def test_an_auditor_cannot_change_anything(browser: Any, site: Any, shots: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    log_in(page, site, "审")
    ref = site.refs["fresh"]
    page.goto(f"{site.url}/cases/{ref}")
    page.screenshot(path=shots / "7-auditor-case.png", full_page=True)
    assert page.locator("form[data-trigger]").count() == 0
    assert "138****5678" in page.inner_text("dl.facts")  # the phone number, masked
    assert page.locator("form[action='/cases']").count() == 0  # and no case to open
    # a hand-made submit with the session's own token is refused all the same
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    answer = page.request.post(f"{site.url}/cases/{ref}/fire/withdraw",
                               form={"csrf": token or "", "version": "1"})
    assert answer.status == 403 and "auditor" in answer.text()
    assert version_of(site, ref) == 1


def test_a_supervisor_fills_the_pool_and_assigns(browser: Any, site: Any, shots: Path) -> None:
    """律师库: a lawyer and a leave added on /lawyers, the lawyer suspended (暂停指派) and
    reactivated on their page, then 指派 — the approved legal-aid case goes to that lawyer,
    with the policy's reasons on the page."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    log_in(page, site, "李")
    page.click("header a[href='/lawyers']")
    form = page.locator("form#add-lawyer")
    form.locator("input[name=name]").fill("钱律师")
    form.locator("input[name=firm]").fill("明理律师事务所")
    form.locator("input[name=areas]").fill("civil,labor")
    form.locator("input[name=capacity]").fill("3")
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".flash.done")
    assert "钱律师" in page.inner_text("h1")
    page.goto(f"{site.url}/lawyers")
    leave = page.locator("form#add-leave")
    leave.locator("input[name=from]").fill("2099-01-01")
    leave.locator("input[name=to]").fill("2099-01-10")
    leave.locator("button[type=submit]").click()
    page.wait_for_selector("#leaves")
    assert "2099-01-01 – 2099-01-10" in page.inner_text("#leaves")
    page.screenshot(path=shots / "8-lawyer-detail.png", full_page=True)
    assert "在册 active" in page.inner_text("#status")
    page.click("form#suspend button[type=submit]")  # 暂停指派
    page.wait_for_selector("form#activate")
    page.screenshot(path=shots / "8a-lawyer-suspended.png", full_page=True)
    assert "已暂停指派" in page.inner_text(".flash.done")
    assert "暂停指派 suspended" in page.inner_text("#status")
    page.click("a[href='/lawyers']")
    assert "暂停 suspended" in page.inner_text("#pool tr:has-text('钱律师')")
    page.click("#pool a:has-text('钱律师')")
    page.click("form#activate button[type=submit]")  # 恢复指派, before the pass below
    page.wait_for_selector("form#suspend")
    assert "已恢复指派" in page.inner_text(".flash.done")
    assert "在册 active" in page.inner_text("#status")
    page.goto(f"{site.url}/lawyers")
    page.click("#assign-now")
    page.wait_for_selector("#assignment-result")
    page.screenshot(path=shots / "9-supervisor-assigns.png", full_page=True)
    row = page.locator("#assigned tr", has_text=site.refs["legal_aid"])
    assert row.count() == 1 and "钱律师" in row.inner_text()
    assert "rotation" in row.inner_text()  # the policy's reasons, as stored on the event
    assert "2099-01-01 – 2099-01-10" in page.inner_text("#pool")
    assert "1 / 3" in page.inner_text("#pool")  # its load now
