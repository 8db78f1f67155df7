"""`caseflow demo`, the main job (DESIGN §8): run once through the installed script, `--json`,
in a folder that holds an earlier demo's database; its figures are the seed's, counted from the
recorded events; a database with anyone else's case is refused untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

CASEFLOW = Path(sys.executable).parent / "caseflow"
DEMO_TIMEOUT = 900  # seconds; the demo's own goal is < 60 s on an idle machine (bench/demo.py)


def caseflow(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The installed script, without caseflow's settings from the environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEFLOW_")}
    return subprocess.run([str(CASEFLOW), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, encoding="utf-8", timeout=timeout, check=False)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    folder = tmp_path_factory.mktemp("demo")
    # an earlier demo's database: the demo replaces it
    earlier = caseflow(["--db", "sqlite:///caseflow-demo.db", "case", "open", "complaint",
                        "--on", "2024-01-02", "--ref", "DEMO-CP-EARLIER"], folder)
    assert earlier.returncode == 0, earlier.stderr
    done = caseflow(["demo", "--json"], folder, timeout=DEMO_TIMEOUT)
    assert done.returncode == 0, done.stderr
    return folder, json.loads(done.stdout)




def seed_figures(folder: Path, case_type: str, start: str, end: str) -> dict[str, Any]:
    """The closure report's row for ``case_type``, asked of the demo's database as any
    supervisor would (`caseflow report closure`)."""
    done = caseflow(["--db", f"sqlite:///{folder / 'caseflow-demo.db'}", "report", "closure",
                     "--from", start, "--to", end, "--type", case_type, "--json"], folder)
    assert done.returncode == 0, done.stderr
    (row,) = json.loads(done.stdout)["rows"]
    return dict(row)


def test_the_seed_figures_come_out_of_the_events(demo):
    folder, _ = demo
    rc = seed_figures(folder, "reconsideration", "2024-01-01", "2024-05-31")
    assert (rc["handled"], rc["closed"], rc["withdrawn"]) == (647, 507, 239)
    assert (rc["closure_rate"], rc["withdrawn_share"]) == (0.7836, 0.4714)
    assert rc["carried_over"] > 50  # cases from late 2023 still open on 2024-01-01
    cp = seed_figures(folder, "complaint", "2024-01-01", "2024-06-30")
    assert (cp["handled"], cp["closed"]) == (72, 63)
    la = seed_figures(folder, "legal_aid", "2024-01-01", "2024-06-30")
    assert 5_700 <= la["handled"] <= 6_000  # the seed: 5,860


def test_the_demo_reports_rows_and_files(demo):
    folder, doc = demo
    rows = {row["type"]: (report["from"], report["to"], row)
            for report in doc["reports"] for row in report["rows"]}
    start, end, rc = rows["reconsideration"]
    assert (start, end) == ("2024-01-01", "2024-05-31")
    assert (rc["handled"], rc["closed"], rc["closure_rate"]) == (647, 507, 0.7836)
    assert (rc["withdrawn"], rc["withdrawn_share"]) == (239, 0.4714)
    assert (rows["complaint"][2]["handled"], rows["complaint"][2]["closed"]) == (72, 63)
    for name in doc["files"]:
        assert (folder / name).is_file(), name
    # the sweeps applied the law's deemed outcomes and escalated; the alerts reached the sink
    assert doc["lapsed"]["deem_accepted"] > 0 and doc["lapsed"]["deem_withdrawn"] > 0
    assert doc["escalations"]["overdue"] > 0
    sink = (folder / doc["alerts"]["sink"]).read_text(encoding="utf-8").splitlines()
    assert len(sink) == doc["alerts"]["sent"] > 0
    alert = json.loads(sink[0])
    assert alert["headers"]["x-caseflow-signature"].startswith("sha256=")


def test_the_earlier_demo_database_was_replaced(demo):
    folder, doc = demo
    listed = caseflow(["--db", "sqlite:///caseflow-demo.db", "case", "show", "DEMO-CP-EARLIER"],
                      folder)
    assert listed.returncode == 4, listed.stderr
    assert doc["cases"] > 7_000


def test_other_commands_work_on_the_demo_database(demo):
    folder, doc = demo
    url = ["--db", "sqlite:///caseflow-demo.db"]
    listed = caseflow([*url, "case", "list", "--type", "complaint", "--json"], folder)
    assert listed.returncode == 0, listed.stderr
    assert all(case["ref"].startswith("DEMO-CP-") for case in json.loads(listed.stdout))
    ref = doc["timeline"]["ref"]
    timeline = caseflow([*url, "case", "timeline", ref, "--json"], folder)
    assert timeline.returncode == 0, timeline.stderr
    assert json.loads(timeline.stdout) == doc["timeline"]["events"]
    verified = caseflow([*url, "case", "verify", ref], folder)
    assert verified.returncode == 0, verified.stderr


def test_the_demo_leaves_a_lawyer_pool_that_took_the_cases_in_turn(demo):
    from flows.demo.planning import LAWYERS, LEAVES

    folder, _ = demo
    url = ["--db", "sqlite:///caseflow-demo.db"]
    listed = caseflow([*url, "lawyer", "list", "--json"], folder)
    assert listed.returncode == 0, listed.stderr
    assert [lawyer["name"] for lawyer in json.loads(listed.stdout)] == [n for n, *_ in LAWYERS]
    done = caseflow([*url, "report", "assignments", "--from", "2024-01-01", "--to",
                     "2024-06-30", "--json"], folder)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["lawyers"]
    offers = {row["id"]: row["offers"] for row in rows}
    assert sum(offers.values()) > 5_000 and all(row["accepted"] > 0 for row in rows)
    # the lawyers who took leave had fewer turns; the others took theirs evenly, whatever
    # their areas (every one takes criminal cases, over half of them)
    on_leave = {lawyer for lawyer, *_ in LEAVES}
    others = [n for lawyer, n in offers.items() if lawyer not in on_leave]
    assert max(offers[lawyer] for lawyer in on_leave) < min(others)
    assert max(others) - min(others) <= 3


def test_a_timeline_is_printed(demo, capsys):
    from deployments.cli.demo import render

    _, doc = demo
    render(doc)
    out = capsys.readouterr().out
    assert f"timeline of {doc['timeline']['ref']}" in out
    assert "deem_accepted" in out  # the sample case was 视为受理 by the sweep
    assert "647" in out and "0.7836" in out
    # where to look in the browser: the demo's cases lie in 2024, not in this year
    assert "http://127.0.0.1:8000/dashboard?from=2024-01-01&to=2024-06-30" in out


def _digest(path: Path) -> str:
    """The database's bytes, with its write-ahead log if it has one."""
    wal = path.with_name(path.name + "-wal")
    return hashlib.sha256(path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
                          ).hexdigest()


def test_a_database_with_other_cases_is_refused_untouched(tmp_path):
    opened = caseflow(["--db", "sqlite:///mine.db", "case", "open", "reconsideration",
                       "--on", "2024-03-01"], tmp_path)
    assert opened.returncode == 0, opened.stderr
    before = _digest(tmp_path / "mine.db")
    done = caseflow(["--db", "sqlite:///mine.db", "demo", "--json"], tmp_path)
    assert done.returncode == 3, done.stderr
    assert json.loads(done.stdout)["error"]["code"] == "not_a_demo_database"
    assert "RC-2024-0001" in done.stderr and len(done.stderr.splitlines()) == 1
    assert _digest(tmp_path / "mine.db") == before
    assert not (tmp_path / "caseflow-demo-files").exists()


def test_another_applications_file_is_refused_untouched(tmp_path):
    with sqlite3.connect(tmp_path / "caseflow-demo.db") as connection:
        connection.execute("CREATE TABLE notes (body TEXT)")
    before = _digest(tmp_path / "caseflow-demo.db")
    done = caseflow(["demo"], tmp_path)
    assert done.returncode == 2, done.stderr
    assert _digest(tmp_path / "caseflow-demo.db") == before


def test_the_demo_leaves_users_to_log_in_with(demo):
    from deployments.bootstrap import bootstrap
    from flows.users import log_in

    folder, doc = demo
    listed = caseflow(["--db", "sqlite:///caseflow-demo.db", "user", "list", "--json"], folder)
    assert listed.returncode == 0, listed.stderr
    people = {u["name"]: (u["role"], u["department"]) for u in json.loads(listed.stdout)}
    assert sorted(role for role, _ in people.values()) == [
        "auditor", "clerk", "clerk", "clerk", "leader", "supervisor"]
    assert {d for role, d in people.values() if role == "clerk"} == {
        "行政复议科", "法律援助中心", "律师工作科"}
    assert sorted(u["name"] for u in doc["users"]["users"]) == sorted(people)
    rt = bootstrap(f"sqlite:///{folder / 'caseflow-demo.db'}")
    try:
        for name in people:
            assert log_in(rt.bureau, name, doc["users"]["password"]).name == name
        # each clerk handled cases of the demo: their worklist is not empty
        clerks = [n for n, (role, _) in people.items() if role == "clerk"]
        handled = caseflow(["--db", "sqlite:///caseflow-demo.db", "audit", "clerk", clerks[0],
                            "--from", "2024-01-01", "--to", "2024-06-30", "--json"], folder)
        assert handled.returncode == 0 and json.loads(handled.stdout)["closed_count"] > 0
    finally:
        rt.close()
