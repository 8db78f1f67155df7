"""Real-browser fixtures: `caseflow serve` on a real SQLite database and a free port, driven by
Playwright with Debian's Chromium (/usr/bin/chromium; Playwright's own download cannot work
here). Without that browser the tests are skipped — except under CI (``CI=true``), where that
is a failure. Screenshots go to ``CASEFLOW_SCREENSHOTS`` (else a temporary folder), printed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployments.bootstrap import bootstrap
from flows import services, users
from states.calendar import legal_date
from states.roles import Role

CHROMIUM = Path("/usr/bin/chromium")
CASEFLOW = Path(sys.executable).parent / "caseflow"
PASSWORD = "a long passphrase"
STAFF = [("王", Role.CLERK, "一科"), ("李", Role.SUPERVISOR, "一科"), ("审", Role.AUDITOR, None)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")  # closed after the journeys, not kept for the whole run
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; CI must run the browser tests")
        pytest.skip(f"SKIPPING BROWSER TESTS: no {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run"])
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("CASEFLOW_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the pages: {folder}")
    return folder


class Site:
    """The served app: its URL, the cases made for the journeys, and the runtime to check."""

    def __init__(self, url: str, db_url: str, refs: dict[str, str]) -> None:
        self.url, self.db_url, self.refs = url, db_url, refs


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    db_url = f"sqlite:///{tmp_path / 'caseflow.db'}"
    rt = bootstrap(db_url)
    now = rt.now()
    today = legal_date(now)
    refs = {}
    refs["fresh"] = services.open_case(
        rt.bureau, "reconsideration", on=today - timedelta(days=1),
        attrs={"department": "一科", "handler": "王", "applicant": "张三",
               "phone": "13812345678"}, by="王", now=now).case.ref
    late = services.open_case(
        rt.bureau, "reconsideration", on=today - timedelta(days=40),
        attrs={"department": "一科", "handler": "王", "applicant": "李四"}, by="王", now=now)
    services.advance(rt.bureau, late.case.ref, "accept", on=today - timedelta(days=39),
                     by="王", now=now)
    refs["late"] = late.case.ref
    # a court's notice (法律援助法 第三十六条): approved on receipt, a lawyer due in 3 days
    refs["legal_aid"] = services.open_case(
        rt.bureau, "legal_aid", on=today, by="王", now=now,
        attrs={"department": "一科", "channel": "notification", "matter": "civil",
               "applicant": "王五"}).case.ref
    for name, role, department in STAFF:
        users.add_user(rt.bureau, name, role, department=department, password=PASSWORD, now=now)
    rt.close()
    port = free_port()
    env = {**os.environ, "CASEFLOW_SECRET_KEY": "browser-tests"}
    server = subprocess.Popen([str(CASEFLOW), "--db", db_url, "serve", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stdout.read().decode() if server.stdout else ""
                pytest.fail(f"caseflow serve did not come up: {output}")
            time.sleep(0.2)
        yield Site(url, db_url, refs)
    finally:
        server.terminate()
        server.wait(timeout=20)
