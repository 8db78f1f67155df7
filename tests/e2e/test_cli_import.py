"""`caseflow case import FILE` through the installed console script.

Exit codes: 0 every record imported (or imported before, and skipped), 3 some record failed (the
good ones are kept), 2 the file cannot be read; with --json stdout holds exactly the report; on a
non-zero exit stderr holds one line.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import CASEFLOW, clean_env  # how `cli` runs it, but left running

Runner = Callable[..., subprocess.CompletedProcess[str]]  # the `cli` fixture of conftest.py

REPORT_KEYS = {"imported", "failed", "dry_run", "errors", "already_imported", "skipped"}
CLEAN = {"failed": 0, "errors": [], "already_imported": 0, "skipped": []}
RC = {"type": "reconsideration", "ref": "RC-2024-0101", "on": "2024-09-27",
      "attrs": {"applicant": "张三"}, "by": "clerk-a",
      "events": [{"trigger": "deem_accepted", "on": "2024-10-10"},
                 {"trigger": "send_copy", "on": "2024-10-11"}]}
CP = {"type": "complaint", "ref": "CP-2024-0007", "on": "2024-02-19",
      "events": [{"trigger": "accept", "on": "2024-02-21"}]}
BAD = {"type": "complaint", "ref": "CP-2024-0008", "on": "2024-02-19",
       "events": [{"trigger": "reply", "on": "2024-02-21"}]}  # not from `received`


def write(folder: Path, name: str, records: Sequence[Mapping[str, Any] | str]) -> str:
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return name


def one_error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("caseflow: ")
    return lines[0]


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def test_a_clean_file_imports_everything(cli: Runner, tmp_path: Path, sqlite_db: str) -> None:
    name = write(tmp_path, "cases.jsonl", [RC, "", CP])
    done = cli(["--db", sqlite_db, "case", "import", name, "--json"])
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout) == {"imported": 2, "dry_run": False, **CLEAN}

    shown = cli(["--db", sqlite_db, "case", "show", "RC-2024-0101", "--json"])
    case = json.loads(shown.stdout)
    assert (case["state"], case["version"], case["admitted_on"]) == (
        "under_review", 3, "2024-10-10")
    timeline = json.loads(cli(["--db", sqlite_db, "case", "timeline", "RC-2024-0101",
                               "--json"]).stdout)
    assert [(e["trigger"], e["actor"], e["by"]) for e in timeline] == [
        ("open", "clerk", "clerk-a"), ("deem_accepted", "system", "system"),
        ("send_copy", "clerk", "clerk-a")]
    verified = cli(["--db", sqlite_db, "case", "verify", "--all", "--json"])
    assert verified.returncode == 0
    assert json.loads(verified.stdout)["checked"] == 2


def test_a_bad_record_exits_3_and_keeps_the_good_ones(
    cli: Runner, tmp_path: Path, db_url: str
) -> None:
    name = write(tmp_path, "cases.jsonl", [RC, BAD, "not json at all", CP])
    done = cli(["--db", db_url, "case", "import", name, "--json"])
    assert done.returncode == 3
    report = json.loads(done.stdout)  # exactly one JSON document
    assert set(report) == REPORT_KEYS
    assert (report["imported"], report["failed"], report["dry_run"]) == (2, 2, False)
    first, second = report["errors"]
    assert set(first) == {"line", "ref", "error"}
    assert set(first["error"]) == {"code", "message", "allowed"}
    assert (first["line"], first["ref"], first["error"]["code"]) == (
        2, "CP-2024-0008", "trigger_not_allowed")
    assert "accept" in first["error"]["allowed"]
    assert (second["line"], second["ref"], second["error"]["code"]) == (3, None, "invalid_record")
    line = one_error_line(done.stderr)
    assert "2 of 4" in line and "line 2" in line

    listed = json.loads(cli(["--db", db_url, "case", "list", "--json"]).stdout)
    assert sorted(c["ref"] for c in listed) == ["CP-2024-0007", "RC-2024-0101"]


def test_a_malformed_record_is_named_by_line_field_and_what_is_allowed(
    cli: Runner, tmp_path: Path, db_url: str
) -> None:
    """A record of the wrong shape (pydantic's refusal, in the importer's words): exit 3, the
    field and what it allows in the report and in the one stderr line, nothing of it kept."""
    bad_date = {**CP, "ref": "CP-2024-0009", "events": [{"trigger": "accept", "on": "21.02.2024"}]}
    unknown = {**CP, "ref": "CP-2024-0010", "colour": "red"}
    name = write(tmp_path, "cases.jsonl", [CP, bad_date, unknown])
    done = cli(["--db", db_url, "case", "import", name, "--json"])
    assert done.returncode == 3
    assert json.loads(done.stdout)["errors"] == [
        {"line": 2, "ref": "CP-2024-0009", "error": {
            "code": "invalid_record", "message": "event 1: on '21.02.2024' is not a date",
            "allowed": ["YYYY-MM-DD"]}},
        {"line": 3, "ref": "CP-2024-0010", "error": {
            "code": "invalid_record", "message": "unknown field 'colour'",
            "allowed": ["type", "ref", "on", "attrs", "by", "events"]}}]
    assert one_error_line(done.stderr).endswith(
        "first: line 2: event 1: on '21.02.2024' is not a date")
    listed = json.loads(cli(["--db", db_url, "case", "list", "--json"]).stdout)
    assert [c["ref"] for c in listed] == ["CP-2024-0007"]

    text = cli(["--db", db_url, "case", "import", name])
    assert text.returncode == 3
    assert ("line 3  CP-2024-0010  invalid_record: unknown field 'colour' (allowed: type, ref, "
            "on, attrs, by, events)") in text.stdout


def test_people_get_text_and_the_same_exit_code(
    cli: Runner, tmp_path: Path, sqlite_db: str
) -> None:
    name = write(tmp_path, "cases.jsonl", [CP, BAD])
    done = cli(["--db", sqlite_db, "case", "import", name])
    assert done.returncode == 3
    assert "imported" in done.stdout and "1 case(s)" in done.stdout
    assert "line 2" in done.stdout and "trigger_not_allowed" in done.stdout
    one_error_line(done.stderr)


def test_csv_and_the_default_user(cli: Runner, tmp_path: Path, sqlite_db: str) -> None:
    events = json.dumps(CP["events"]).replace('"', '""')
    (tmp_path / "cases.csv").write_text(
        f'type,ref,on,attrs,by,events\ncomplaint,CP-1,2024-02-19,,,"{events}"\n',
        encoding="utf-8")
    done = cli(["--db", sqlite_db, "case", "import", "cases.csv", "--by", "migrator",
                "--json"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imported"] == 1
    timeline = json.loads(cli(["--db", sqlite_db, "case", "timeline", "CP-1",
                               "--json"]).stdout)
    assert [e["by"] for e in timeline] == ["migrator", "migrator"]


def test_standard_input_in_either_format(cli: Runner, tmp_path: Path, sqlite_db: str) -> None:
    """`-` reads the records from standard input: JSON Lines or CSV, told by the first
    character; errors name stdin's own line numbers."""
    records = "\n".join(json.dumps(r, ensure_ascii=False) for r in (RC, BAD)) + "\n"
    done = cli(["--db", sqlite_db, "case", "import", "-", "--json"], stdin=records)
    assert done.returncode == 3, done.stderr
    report = json.loads(done.stdout)
    assert (report["imported"], report["failed"]) == (1, 1)
    assert [(e["line"], e["ref"]) for e in report["errors"]] == [(2, "CP-2024-0008")]
    one_error_line(done.stderr)

    events = json.dumps(CP["events"]).replace('"', '""')
    csv_text = f'type,ref,on,attrs,by,events\ncomplaint,CP-1,2024-02-19,,,"{events}"\n'
    done = cli(["--db", sqlite_db, "case", "import", "-", "--by", "migrator", "--json"],
               stdin=csv_text)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["imported"] == 1
    timeline = json.loads(cli(["--db", sqlite_db, "case", "timeline", "CP-1",
                               "--json"]).stdout)
    assert [(e["trigger"], e["by"]) for e in timeline] == [("open", "migrator"),
                                                           ("accept", "migrator")]


def test_dry_run_writes_nothing(cli: Runner, tmp_path: Path, sqlite_db: str) -> None:
    name = write(tmp_path, "cases.jsonl", [RC, CP])
    done = cli(["--db", sqlite_db, "case", "import", name, "--dry-run", "--json"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"imported": 2, "dry_run": True, **CLEAN}
    assert json.loads(cli(["--db", sqlite_db, "case", "list", "--json"]).stdout) == []

    bad = cli(["--db", sqlite_db, "case", "import", write(tmp_path, "bad.jsonl", [BAD]),
               "--dry-run"])
    assert bad.returncode == 3
    assert "nothing was written" in one_error_line(bad.stderr)


def test_running_a_file_again_skips_what_it_imported(
    cli: Runner, tmp_path: Path, db_url: str
) -> None:
    """A clerk runs the same file again (after an interruption, or by mistake): nothing is
    written twice, each skipped line is named with its case, and the exit code is 0, since
    every record of the file is in the database."""
    unnamed = [{k: v for k, v in r.items() if k != "ref"} for r in (RC, CP)]
    name = write(tmp_path, "cases.jsonl", [*unnamed, "", CP])
    first = cli(["--db", db_url, "case", "import", name, "--json"])
    assert first.returncode == 0, first.stderr
    refs = sorted(c["ref"] for c in json.loads(cli(["--db", db_url, "case", "list",
                                                     "--json"]).stdout))
    assert len(refs) == 3

    again = cli(["--db", db_url, "case", "import", name, "--json"])
    assert again.returncode == 0, again.stderr
    assert again.stderr == ""
    report = json.loads(again.stdout)
    assert set(report) == REPORT_KEYS
    assert (report["imported"], report["failed"], report["already_imported"]) == (0, 0, 3)
    assert [(e["line"], e["error"]["code"]) for e in report["skipped"]] == [
        (1, "already_imported"), (2, "already_imported"), (4, "already_imported")]
    assert sorted(e["ref"] for e in report["skipped"]) == refs  # each names its case
    listed = json.loads(cli(["--db", db_url, "case", "list", "--json"]).stdout)
    assert sorted(c["ref"] for c in listed) == refs

    text = cli(["--db", db_url, "case", "import", name])
    assert text.returncode == 0
    assert "3 already imported" in text.stdout and "line 4  CP-2024-0007" in text.stdout

    # with a failure as well: exit 3, and the one line counts the skipped records too
    mixed = cli(["--db", db_url, "case", "import", write(tmp_path, "more.jsonl", [CP, BAD])])
    assert mixed.returncode == 3
    assert "1 of 2 record(s) failed" in one_error_line(mixed.stderr)
    assert "1 already imported" in mixed.stderr


def test_many_skipped_lines_are_given_as_ranges(
    cli: Runner, tmp_path: Path, sqlite_db: str
) -> None:
    records = [{"type": "complaint", "on": "2024-02-19", "by": f"clerk-{i}"} for i in range(30)]
    name = write(tmp_path, "cases.jsonl", records)
    assert cli(["--db", sqlite_db, "case", "import", name]).returncode == 0
    more = write(tmp_path, "more.jsonl", [*records[:25], {**CP, "ref": "CP-NEW"}, *records[25:]])
    done = cli(["--db", sqlite_db, "case", "import", more])
    assert done.returncode == 0, done.stderr
    assert "imported 已导入 1 case(s); 0 record(s) failed; 30 already imported" in done.stdout
    assert "not written again: lines 1-25, 27-31 (--json" in done.stdout
    assert "line 1 " not in done.stdout  # not listed one by one


@pytest.mark.parametrize(("setup", "names"), [
    ("missing", "absent.jsonl"),
    ("folder", "a-folder"),
    ("header", "colour"),
])
def test_a_file_that_cannot_be_read_exits_2(
    cli: Runner, tmp_path: Path, setup: str, names: str
) -> None:
    target = {"missing": "absent.jsonl", "folder": "a-folder", "header": "odd.csv"}[setup]
    if setup == "folder":
        (tmp_path / target).mkdir()
    if setup == "header":
        (tmp_path / target).write_text("type,on,colour\ncomplaint,2024-02-19,red\n")
    db = tmp_path / "store.db"
    done = cli(["--db", f"sqlite:///{db}", "case", "import", target, "--json"])
    assert done.returncode == 2
    assert names in one_error_line(done.stderr)
    assert json.loads(done.stdout)["error"]["code"] == "unreadable_file"
    if setup != "header":
        assert not db.exists()  # refused before the database was touched


def test_import_needs_a_file(cli: Runner, tmp_path: Path, sqlite_db: str) -> None:
    done = cli(["--db", sqlite_db, "case", "import"])
    assert done.returncode == 2
    assert "FILE" in one_error_line(done.stderr)


# -- stopping an import -------------------------------------------------------------------------

BIG = 30_000  # records: long enough to import in worker processes for several seconds


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for i in range(1, BIG + 1):
            out.write(json.dumps({**CP, "ref": f"BIG-{i}"}) + "\n")
    return path


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc: no extra dependency)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _stat(int(entry))[1] == pid:
            found.append(int(entry))
    return found


def running(pid: int) -> bool:
    state, _ = _stat(pid)
    return state not in ("", "Z")  # gone, or a zombie no one has reaped yet: ended


def _stat(pid: int) -> tuple[str, int]:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            fields = stat.read().rpartition(")")[2].split()  # after "pid (command)"
    except OSError:
        return "", 0
    return fields[0], int(fields[1])


def wait_until(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
        time.sleep(0.05)
    return result


def stored_refs(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return set(connection.execute(sa.text("SELECT ref FROM cases")).scalars())
    except sa.exc.OperationalError:  # the SQLite file has no tables yet
        return set()
    finally:
        engine.dispose()


@pytest.fixture
def start_import(tmp_path: Path) -> Iterator[Callable[[str], subprocess.Popen[str]]]:
    """Start `caseflow case import` in a session of its own; whatever a test leaves of it is
    killed afterwards."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen([str(CASEFLOW), *args], cwd=tmp_path, env=clean_env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   encoding="utf-8", start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:  # its session's process group: the import and any worker left
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.communicate()


def interrupt(
    start: Callable[..., subprocess.Popen[str]], url: str, big_file: Path, how: str
) -> tuple[subprocess.Popen[str], str, str, list[int]]:
    """Start a long import, wait until its workers run and a chunk is committed, then signal
    it (``how``: a signal's name, prefixed "group " to signal its whole process group, as
    Ctrl-C in a terminal does); returns it, once its output has closed, with its workers."""
    process = start("--db", url, "case", "import", str(big_file), "--json")
    workers = wait_until(lambda: children(process.pid), 60, "the worker processes")
    wait_until(lambda: stored_refs(url), 60, "a first chunk")
    name = how.removeprefix("group ")
    (os.killpg if how.startswith("group ") else os.kill)(process.pid, signal.Signals[name])
    # the output closes: no worker holds it open (communicate reads to the end of both)
    out, err = process.communicate(timeout=30)
    return process, out, err, workers


@pytest.mark.skipif(sys.platform != "linux", reason="worker processes need fork (Linux)")
@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "group SIGINT", "group SIGTERM",
                                 "SIGKILL"])
def test_an_import_killed_takes_its_workers_along(
    start_import: Callable[..., subprocess.Popen[str]], tmp_path: Path, big_file: Path,
    how: str,
) -> None:
    """Workers used to outlive a killed import (parent 1), holding its output open, so a
    caller reading it waited forever. SIGINT and SIGTERM stop it between two transactions with
    one line on what was committed; SIGKILL stops it dead, and its workers with it."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    process, out, err, workers = interrupt(start_import, url, big_file, how)
    wait_until(lambda: not any(running(w) for w in workers), 10, "the workers to end")
    if how == "SIGKILL":
        assert process.returncode == -signal.SIGKILL
        return
    signum = signal.Signals[how.removeprefix("group ")]
    assert process.returncode == 128 + signum
    said = err.splitlines()[-1]  # after the progress bar, if any
    assert "Traceback" not in err
    match = re.fullmatch(r"caseflow: interrupted: ([0-9,]+) case\(s\) committed, line ([0-9,]+) "
                         r"onwards not imported; run the same import again for the rest \(what "
                         rf"was committed is skipped\) \({signum.name}\)", said)
    assert match, said
    committed, onwards = (int(n.replace(",", "")) for n in match.groups())
    # every record on the lines before is in the database, none after
    assert stored_refs(url) == {f"BIG-{i}" for i in range(1, onwards)}
    assert committed == onwards - 1 > 0
    assert json.loads(out)["error"]["code"] == "interrupted"


def test_an_interrupted_import_committed_what_it_says(
    start_import: Callable[..., subprocess.Popen[str]], cli: Runner, big_file: Path, db_url: str,
    tmp_path: Path,
) -> None:
    """On either store; and running the file again brings in exactly the rest."""
    process, _, err, _ = interrupt(start_import, db_url, big_file, "SIGTERM")
    assert process.returncode == 128 + signal.SIGTERM
    match = re.search(r"interrupted: ([0-9,]+) case\(s\) committed, line ([0-9,]+) onwards",
                      err)
    assert match, err
    committed, onwards = (int(n.replace(",", "")) for n in match.groups())
    assert stored_refs(db_url) == {f"BIG-{i}" for i in range(1, onwards)}
    assert committed == len(stored_refs(db_url))

    rest = tmp_path / "rest.jsonl"  # the last records, and the first again
    lines = big_file.read_text(encoding="utf-8").splitlines(keepends=True)
    rest.write_text("".join(lines[:10] + lines[-10:]), encoding="utf-8")
    again = cli(["--db", db_url, "case", "import", str(rest), "--json"])
    assert again.returncode == 0, again.stderr
    report = json.loads(again.stdout)
    assert (report["imported"], report["already_imported"]) == (10, 10)
