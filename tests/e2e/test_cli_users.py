"""`caseflow user …` and `--as USER` through the installed CLI."""

from __future__ import annotations

import json
from typing import Any

DB = "sqlite:///users.db"


def run(cli: Any, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Any:
    return cli(["--db", DB, *args], env=env, stdin=stdin)


def ok(cli: Any, *args: str, **kw: Any) -> Any:
    done = run(cli, *args, "--json", **kw)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_users_tokens_and_acting_as_a_user(cli: Any) -> None:
    # before any user: open as before
    ref = ok(cli, "case", "open", "reconsideration", "--on", "2025-05-06",
             "--set", "department=一科", "--set", "phone=13812345678")["ref"]
    added = ok(cli, "user", "add", "王", "--role", "clerk", "--department", "一科",
               "--password-stdin", stdin="a long passphrase\n")
    assert added == {**added, "name": "王", "role": "clerk", "department": "一科",
                     "password": True, "tokens": 0}
    ok(cli, "user", "add", "审", "--role", "auditor")
    ok(cli, "user", "add", "赵", "--role", "clerk", "--department", "二科")
    issued = ok(cli, "user", "token", "王")
    assert set(issued) == {"user", "token"} and issued["user"] == "王"
    assert [u["tokens"] for u in ok(cli, "user", "list") if u["name"] == "王"] == [1]
    assert ok(cli, "user", "revoke", "王") == {"user": "王", "revoked": 1}

    # now a change names its user
    refused = run(cli, "case", "advance", ref, "accept", "--on", "2025-05-07")
    assert refused.returncode == 3 and "--as USER" in refused.stderr
    refused = run(cli, "--as", "赵", "case", "advance", ref, "accept", "--on", "2025-05-07")
    assert refused.returncode == 3 and "clerk" in refused.stderr and "一科" in refused.stderr
    refused = run(cli, "--as", "审", "case", "advance", ref, "accept", "--on", "2025-05-07")
    assert refused.returncode == 3 and "auditor" in refused.stderr
    assert run(cli, "--as", "无名", "case", "advance", ref, "accept").returncode == 4
    assert len(ok(cli, "case", "timeline", ref)) == 1  # nothing changed
    accepted = ok(cli, "case", "advance", ref, "accept", "--on", "2025-05-07",
                  env={"CASEFLOW_USER": "王"})
    assert accepted["version"] == 2
    assert ok(cli, "case", "timeline", ref)[-1]["by"] == "王"

    # the auditor reads the phone number masked, the clerk in full
    assert ok(cli, "--as", "审", "case", "show", ref)["attrs"]["phone"] == "138****5678"
    assert ok(cli, "--as", "王", "case", "show", ref)["attrs"]["phone"] == "13812345678"


def test_bad_user_input_is_one_line_and_changes_nothing(cli: Any) -> None:
    bad_role = run(cli, "user", "add", "王", "--role", "boss")
    assert bad_role.returncode == 2 and "clerk" in bad_role.stderr
    no_department = run(cli, "user", "add", "王", "--role", "clerk")
    assert no_department.returncode == 2 and "--department" in no_department.stderr
    weak = run(cli, "user", "add", "王", "--role", "leader", "--password-stdin", stdin="short\n")
    assert weak.returncode == 2 and "8" in weak.stderr
    assert ok(cli, "user", "list") == []
    ok(cli, "user", "add", "王", "--role", "leader")
    assert run(cli, "user", "add", "王", "--role", "leader").returncode == 5


def test_importing_is_a_supervisors_act_once_there_are_users(cli: Any, tmp_path: Any) -> None:
    record = json.dumps({"type": "complaint", "ref": "CP-2024-0001", "on": "2024-03-01"})
    (tmp_path / "cases.jsonl").write_text(record + "\n", encoding="utf-8")
    ok(cli, "user", "add", "王", "--role", "clerk", "--department", "一科")
    ok(cli, "user", "add", "李", "--role", "supervisor")
    assert run(cli, "case", "import", "cases.jsonl").returncode == 3
    refused = run(cli, "--as", "王", "case", "import", "cases.jsonl")
    assert refused.returncode == 3 and "supervisor" in refused.stderr
    assert run(cli, "case", "show", "CP-2024-0001").returncode == 4
    done = run(cli, "--as", "李", "case", "import", "cases.jsonl")
    assert done.returncode == 0, done.stderr
    assert ok(cli, "case", "timeline", "CP-2024-0001")[0]["by"] == "李"


def test_the_pool_is_a_supervisors_to_change_once_there_are_users(cli: Any) -> None:
    ok(cli, "user", "add", "王", "--role", "clerk", "--department", "法律援助中心")
    ok(cli, "user", "add", "李", "--role", "supervisor")
    refused = run(cli, "--as", "王", "lawyer", "add", "甲", "--firm", "所", "--areas", "civil")
    assert refused.returncode == 3 and "supervisors" in refused.stderr
    assert run(cli, "lawyer", "add", "甲", "--firm", "所", "--areas", "civil").returncode == 3
    assert ok(cli, "lawyer", "list") == []
    lawyer = ok(cli, "--as", "李", "lawyer", "add", "甲", "--firm", "所", "--areas", "civil")
    refused = run(cli, "--as", "王", "lawyer", "conflict", "add", str(lawyer["id"]),
                  "--party", "乙")
    assert refused.returncode == 3
    assert ok(cli, "lawyer", "show", str(lawyer["id"]))["conflicts"] == []
