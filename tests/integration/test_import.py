"""`caseflow case import` through the importer service, on SQLite and on PostgreSQL.

The yardstick: a case imported with its history must be stored exactly as the same case opened
and advanced one event at a time through `flows.services` (every column, every clock cycle,
every event and its hash), and a bad record must leave nothing behind.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from lawyer_pool import pool_lawyer
from pg_locks import backend_pid, others_wait_on
from sqlalchemy.engine import Engine

from flows import importer, pool, services
from flows.context import Bureau
from flows.importer import ImportReport
from models import bulk, repository
from models.tables import cases, clock_cycles, events, ref_counters
from states.casetypes import CASE_TYPES

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
SYSTEM_TRIGGERS = {
    t.trigger for ct in CASE_TYPES.values() for t in ct.transitions if t.actor == "system"
}


def ev(trigger: str, on: str, attrs: Mapping[str, object] | None = None,
       reason: str | None = None, by: str | None = None) -> dict[str, object]:
    event: dict[str, object] = {"trigger": trigger, "on": on}
    if attrs:
        event["attrs"] = dict(attrs)
    if reason:
        event["reason"] = reason
    if by:
        event["by"] = by
    return event


# Whole histories of the three types; dates follow the official 2024 calendar.
HISTORIES: list[dict[str, Any]] = [
    {"type": "reconsideration", "on": "2024-09-27", "attrs": {"applicant": "张三"},
     "by": "clerk-a", "events": [
         # review ran out on 10-10 (5 working days, National Day off): 视为受理
         ev("deem_accepted", "2024-10-10"),
         ev("send_copy", "2024-10-11"),
         ev("receive_reply", "2024-10-21", by="clerk-b"),
         ev("suspend", "2024-10-25", {"ground": 1}),
         ev("resume", "2024-11-20"),
         ev("extend", "2024-11-21", {"days": 20}, by="chief-c"),
         ev("decide", "2024-12-20", {"decision": "maintain"}),
     ]},
    {"type": "reconsideration", "on": "2024-03-04", "attrs": {"respondent": "区市场监管局"},
     "by": "clerk-a", "events": [
         ev("request_supplement", "2024-03-05"),
         ev("receive_supplement", "2024-03-12"),
         ev("accept", "2024-03-14", {"procedure": "simplified"}),
         ev("send_copy", "2024-03-15"),
         ev("convert_to_ordinary", "2024-03-20", by="chief-c"),
         ev("withdraw", "2024-04-02"),
     ]},
    {"type": "reconsideration", "on": "2024-05-06", "events": [
        ev("reject", "2024-05-08", reason="不属于行政复议范围"),
    ]},
    {"type": "reconsideration", "on": "2024-12-02", "by": "clerk-d"},  # still in review
    {"type": "legal_aid", "on": "2024-04-01", "attrs": {"matter": "labor", "applicant": "李四"},
     "by": "clerk-e", "events": [
         ev("request_materials", "2024-04-02"),
         ev("receive_materials", "2024-04-09"),
         ev("approve", "2024-04-10"),
         ev("assign", "2024-04-11", {"lawyer": "1"}),
         ev("decline_assignment", "2024-04-12", reason="利益冲突"),
         ev("assign", "2024-04-12", {"lawyer": "2"}),
         ev("engage", "2024-04-15"),
         ev("conclude", "2024-07-01", {"outcome": "调解成功"}),
         ev("receive_closing_materials", "2024-07-08"),
         ev("close", "2024-07-10"),
     ]},
    {"type": "legal_aid", "on": "2024-06-03",
     "attrs": {"channel": "notification", "notifier": "区法院"}, "events": [
         ev("assign", "2024-06-04", {"lawyer": "3"}),
         ev("engage", "2024-06-06"),
     ]},
    {"type": "legal_aid", "on": "2024-08-01", "events": [
        ev("request_materials", "2024-08-02"),
        # 15 calendar days: 08-17, a Saturday -> 08-19; 视为撤回 the day after, 08-20
        ev("deem_withdrawn", "2024-08-20"),
    ]},
    {"type": "complaint", "on": "2024-02-19", "attrs": {"complainant": "王五",
                                                        "subject_kind": "lawyer"},
     "events": [
         ev("accept", "2024-02-21"),
         ev("extend", "2024-04-10", {"days": 30}, by="chief-c"),
         ev("decide", "2024-05-06", {"outcome": "order_to_correct"}),
         ev("reply", "2024-05-08"),
     ]},
]


@pytest.fixture(autouse=True)
def lawyers(request: pytest.FixtureRequest) -> None:
    """The pool the histories' assignments name (lawyers 1, 2 and 3): `assign` takes only a
    lawyer of the pool, imported or not."""
    if "bureau" in request.fixturenames:
        bureau = request.getfixturevalue("bureau")
        assert [pool_lawyer(bureau, n) for n in ("律师一", "律师二", "律师三")] == ["1", "2", "3"]


def with_refs(prefix: str, histories: Sequence[Mapping[str, Any]] = HISTORIES,
              ) -> list[dict[str, Any]]:
    return [{**h, "ref": f"{prefix}-{i}"} for i, h in enumerate(histories, start=1)]


def jsonl(records: Sequence[Mapping[str, Any] | str]) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                   for r in records)


def csv_text(records: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["type", "ref", "on", "attrs", "by", "events"])
    for r in records:
        writer.writerow([
            r.get("type", ""), r.get("ref", ""), r.get("on", ""),
            json.dumps(r["attrs"], ensure_ascii=False) if "attrs" in r else "",
            r.get("by", ""),
            json.dumps(r["events"], ensure_ascii=False) if "events" in r else "",
        ])
    return out.getvalue()


def run_import(bureau: Bureau, tmp_path: Path, text: str, name: str = "cases.jsonl",
               **kwargs: Any) -> ImportReport:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    kwargs.setdefault("by", "importer")
    return importer.import_file(bureau, path, now=NOW, **kwargs)


def through_services(bureau: Bureau, record: Mapping[str, Any], default_by: str) -> None:
    """What a clerk would have done, one command at a time."""
    by = record.get("by") or default_by
    services.open_case(bureau, record["type"], on=date.fromisoformat(record["on"]),
                       attrs=record.get("attrs"), ref=record["ref"], by=by, now=NOW)
    for e in record.get("events", []):
        system = e["trigger"] in SYSTEM_TRIGGERS
        services.advance(bureau, record["ref"], e["trigger"], on=date.fromisoformat(e["on"]),
                         attrs=e.get("attrs"), reason=e.get("reason"),
                         by=e.get("by") or ("system" if system else by), now=NOW,
                         by_system=system)


def stored(engine: Engine, ref: str) -> dict[str, Any]:
    """Everything stored about a case, without its row ids, reference and import key."""
    with engine.connect() as connection:
        case = connection.execute(sa.select(cases).where(cases.c.ref == ref)).mappings().one()
        cycle_rows = connection.execute(
            sa.select(clock_cycles).where(clock_cycles.c.case_id == case["id"])
            .order_by(clock_cycles.c.id)).mappings().all()
        event_rows = connection.execute(
            sa.select(events).where(events.c.case_id == case["id"])
            .order_by(events.c.seq)).mappings().all()
    drop = {"id", "case_id", "ref", "import_key"}
    return {
        "case": {k: v for k, v in case.items() if k not in drop},
        "cycles": [{k: v for k, v in r.items() if k not in drop} for r in cycle_rows],
        "events": [{k: v for k, v in r.items() if k not in drop} for r in event_rows],
    }


def import_key_of(engine: Engine, ref: str) -> str | None:
    with engine.connect() as connection:
        key: str | None = connection.execute(
            sa.select(cases.c.import_key).where(cases.c.ref == ref)).scalar_one()
    return key


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {t.name: connection.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (cases, events, clock_cycles, ref_counters)}


def all_chains_verify(bureau: Bureau) -> bool:
    checks = services.verify(bureau)
    return bool(checks) and all(c.ok for c in checks)


# -- the same as one at a time ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_import_stores_what_the_services_store(
    bureau: Bureau, engine: Engine, tmp_path: Path, fmt: str
) -> None:
    for record in with_refs("SV"):
        through_services(bureau, record, "importer")
    imported = with_refs("IM")
    text = jsonl(imported) if fmt == "jsonl" else csv_text(imported)
    report = run_import(bureau, tmp_path, text, f"cases.{fmt}")

    assert report.to_json() == {"imported": len(HISTORIES), "failed": 0, "dry_run": False,
                                "errors": [], "already_imported": 0, "skipped": []}
    for i in range(1, len(HISTORIES) + 1):
        assert stored(engine, f"IM-{i}") == stored(engine, f"SV-{i}"), f"history {i}"
        # only an imported case carries the key of the record it came from
        assert import_key_of(engine, f"SV-{i}") is None
        assert import_key_of(engine, f"IM-{i}") == importer.import_key(
            importer.parse_record(imported[i - 1]))
    assert all_chains_verify(bureau)

    # spot checks that the comparison compares something
    deemed = stored(engine, "IM-1")
    assert deemed["case"]["state"] == "decided"
    assert deemed["case"]["admitted_on"] == date(2024, 10, 10)
    assert deemed["case"]["version"] == deemed["case"]["last_seq"] == 8
    assert [(e["trigger"], e["actor"], e["by"]) for e in deemed["events"][:3]] == [
        ("open", "clerk", "clerk-a"), ("deem_accepted", "system", "system"),
        ("send_copy", "clerk", "clerk-a")]
    assert deemed["case"]["last_hash"] == deemed["events"][-1]["hash"]
    withdrawn_la = stored(engine, "IM-7")
    assert withdrawn_la["case"]["state"] == "withdrawn"
    assert withdrawn_la["case"]["closed_on"] == date(2024, 8, 20)
    assert stored(engine, "IM-4")["case"]["state"] == "received"


def test_worker_processes_store_the_same_rows(
    bureau: Bureau, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not importer.can_fork():
        pytest.skip("worker processes need fork (Linux)")
    monkeypatch.setattr(importer, "BATCH", 3)  # several tasks per worker
    many = [h for _ in range(4) for h in HISTORIES]
    serial = run_import(bureau, tmp_path, jsonl(with_refs("S", many)), workers=1, chunk_size=5)
    parallel = run_import(bureau, tmp_path, jsonl(with_refs("P", many)) + "oops\n",
                          workers=2, chunk_size=5)
    assert serial.imported == parallel.imported == len(many)
    assert [e.line for e in parallel.errors] == [len(many) + 1]
    for i in range(1, len(many) + 1):
        assert stored(engine, f"P-{i}") == stored(engine, f"S-{i}"), f"record {i}"
    assert all_chains_verify(bureau)

    # a problem found while reading (here, a CSV row) reaches the report whole
    rows = csv_text(with_refs("C", HISTORIES[:4])) + "complaint,C-9,2024-02-19,,,,extra\n"
    from_csv = run_import(bureau, tmp_path, rows, "cases.csv", workers=2)
    assert from_csv.imported == 4
    assert [(e.line, e.ref, e.allowed) for e in from_csv.errors] == [
        (6, "C-9", ("type, ref, on, attrs, by, events",))]


# -- bad records ------------------------------------------------------------------------------


GOOD = {"type": "complaint", "on": "2024-02-19", "events": [ev("accept", "2024-02-21")]}


def test_a_bad_record_keeps_nothing_of_itself_and_the_good_ones_stay(
    bureau: Bureau, engine: Engine, tmp_path: Path
) -> None:
    bad_late = {"type": "reconsideration", "ref": "BAD-1", "on": "2024-09-27", "events": [
        ev("accept", "2024-10-08"), ev("send_copy", "2024-10-09"),
        ev("decide", "2024-10-01", {"decision": "maintain"})]}  # before the previous event
    text = jsonl([
        {**GOOD, "ref": "OK-1"},
        "",
        {**GOOD, "ref": "OK-2"},
        bad_late,  # line 4
        '{"type": "complaint", "on": ',  # line 5: not JSON
        "   ",
        {**GOOD, "ref": "OK-3"},
        {"type": "complaint", "ref": "BAD-2", "on": "2024-02-19", "events": [
            ev("accept", "2024-02-21"), ev("frobnicate", "2024-02-22")]},  # line 8
    ])
    report = run_import(bureau, tmp_path, text)

    assert report.imported == 3
    doc = report.to_json()
    assert [(e["line"], e["ref"], e["error"]["code"]) for e in doc["errors"]] == [
        (4, "BAD-1", "invalid_legal_date"),
        (5, None, "invalid_record"),
        (8, "BAD-2", "unknown_trigger"),
    ]
    late = doc["errors"][0]["error"]
    assert late["message"].startswith("event 3 (decide on 2024-10-01): ")
    assert late["allowed"] == ["on>=2024-10-09"]
    assert "frobnicate" in doc["errors"][2]["error"]["message"]
    assert "accept" in doc["errors"][2]["error"]["allowed"]
    # nothing of the bad records: two events and one cycle for each good complaint, no more
    assert counts(engine)["cases"] == 3
    assert counts(engine)["events"] == 6
    with engine.connect() as connection:
        refs = connection.execute(sa.select(cases.c.ref).order_by(cases.c.ref)).scalars().all()
    assert refs == ["OK-1", "OK-2", "OK-3"]
    assert all_chains_verify(bureau)


def test_csv_line_numbers_count_the_lines_a_quoted_cell_spans(
    bureau: Bureau, tmp_path: Path
) -> None:
    text = (
        "type,ref,on,attrs,by,events\n"
        'complaint,C-1,2024-02-19,"{""matter"": ""失职"",\n ""complainant"": ""赵六""}",,\n'  # 2-3
        "\n"
        'complaint,C-2,2024-02-30,,,\n'  # line 5: no such date
        'complaint,C-3,2024-02-19,{not json},,\n'  # line 6
        'complaint,C-4,2024-02-19,,,,extra\n'  # line 7: one cell too many
        'complaint,C-5,2024-02-19,,clerk-z,"[{""trigger"": ""accept"", ""on"": ""2024-02-21""}]"\n'
    )
    report = run_import(bureau, tmp_path, text, "cases.csv")
    assert report.imported == 2
    assert [(e.line, e.code) for e in report.errors] == [
        (5, "invalid_record"), (6, "invalid_record"), (7, "invalid_record")]
    assert services.get_case(bureau, "C-1").case.attrs == {"matter": "失职", "complainant": "赵六"}
    assert services.get_case(bureau, "C-5").case.state == "investigating"


@pytest.mark.parametrize(("record", "code", "names"), [
    ({"type": "complaint", "on": "2024-02-19", "evnts": []}, "invalid_record", "evnts"),
    ({"type": "complaint"}, "invalid_record", "on is missing"),
    ({"type": "complaint", "on": "19.02.2024"}, "invalid_record", "19.02.2024"),
    ({"type": "complaint", "on": "2024-02-19", "attrs": ["x"]}, "invalid_record", "attrs"),
    ({"type": "complaint", "on": "2024-02-19", "attrs": {"matter": {"a": 1}}},
     "invalid_record", "attrs.matter"),
    ({"type": "complaint", "on": "2024-02-19", "attrs": {"matter": "a\u0000b"}},
     "invalid_record", "NUL"),
    ({"type": "complaint", "on": "2024-02-19", "events": {"trigger": "accept"}},
     "invalid_record", "events"),
    ({"type": "complaint", "on": "2024-02-19", "events": [{"trigger": "accept"}]},
     "invalid_record", "event 1: on is missing"),
    ({"type": "complaint", "on": "2024-02-19", "by": "x" * 81}, "invalid_record", "80"),
    ({"type": "complaint", "ref": "A B", "on": "2024-02-19"}, "invalid_attribute", "A B"),
    ({"type": "divorce", "on": "2024-02-19"}, "unknown_type", "divorce"),
    ({"type": "complaint", "on": "2025-06-02"}, "invalid_legal_date", "future"),
    ({"type": "complaint", "on": "2024-02-19", "events": [ev("accept", "2025-06-02")]},
     "invalid_legal_date", "event 1 (accept on 2025-06-02)"),
    ({"type": "complaint", "on": "2024-02-19", "attrs": {"subject_kind": "judge"}},
     "invalid_attribute", "judge"),
    ({"type": "reconsideration", "on": "2024-09-27", "events": [ev("deem_accepted",
                                                                   "2024-10-09")]},
     "clock_rule", "2024-10-10"),
    ({"type": "reconsideration", "on": "2024-09-27", "events": [ev("reject", "2024-09-30")]},
     "invalid_attribute", "reason"),
    ('["a list"]', "invalid_record", "not a JSON object"),
])
def test_each_kind_of_bad_record_is_reported_and_not_kept(
    bureau: Bureau, engine: Engine, tmp_path: Path,
    record: dict[str, Any] | str, code: str, names: str,
) -> None:
    report = run_import(bureau, tmp_path, jsonl([{**GOOD, "ref": "OK-1"}, record]))
    assert report.imported == 1
    assert [(e.line, e.code) for e in report.errors] == [(2, code)]
    assert names in report.errors[0].message
    assert counts(engine)["cases"] == 1


MALFORMED: list[tuple[dict[str, Any], str, list[str]]] = [
    # (record, the error's message, what it allows): the record's shape, judged by its models
    ({**GOOD, "ref": "SH-1", "events": [{"trigger": "accept", "on": "2024-02-21", "who": "x"}]},
     "event 1: unknown field 'who'", ["trigger", "on", "attrs", "reason", "by"]),
    ({**GOOD, "ref": "SH-2", "on": "2024-02-30"}, "on '2024-02-30' is not a date",
     ["YYYY-MM-DD"]),
    ({**GOOD, "ref": "SH-3", "events": [ev("accept", "2024-02-21"), ev("decide", "21/03/2024")]},
     "event 2: on '21/03/2024' is not a date", ["YYYY-MM-DD"]),
    ({**GOOD, "ref": "SH-4", "attrs": {"complainant": "王五", "urgent": True}},
     "attrs.urgent must be text or a whole number, not true", ["urgent=VALUE"]),
    ({**GOOD, "ref": "SH-5", "events": [{"trigger": "accept"}]}, "event 1: on is missing",
     ["YYYY-MM-DD"]),
]
JSON_ONLY = [  # a CSV cell is text, and its header names the only columns there are
    ({**GOOD, "ref": "SH-6", "colour": "red"}, "unknown field 'colour'",
     ["type", "ref", "on", "attrs", "by", "events"]),
    ({**GOOD, "ref": "SH-7", "by": 7}, "by must be text, not 7", ["by=TEXT"]),
]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_malformed_record_names_its_line_field_and_what_is_allowed(
    bureau: Bureau, engine: Engine, tmp_path: Path, fmt: str
) -> None:
    """Each malformed record is its line's error, in the same words in either format, and
    nothing of it is stored; the good records around it are."""
    malformed = MALFORMED + (JSON_ONLY if fmt == "jsonl" else [])
    records = [{**GOOD, "ref": "OK-1"}, *(bad for bad, _, _ in malformed), {**GOOD, "ref": "OK-2"}]
    text = jsonl(records) if fmt == "jsonl" else csv_text(records)
    report = run_import(bureau, tmp_path, text, f"cases.{fmt}")

    first = 2 if fmt == "jsonl" else 3  # after OK-1 (and the CSV header)
    assert [e.to_json() for e in report.errors] == [
        {"line": first + i, "ref": bad["ref"],
         "error": {"code": "invalid_record", "message": message, "allowed": allowed}}
        for i, (bad, message, allowed) in enumerate(malformed)]
    assert report.imported == 2
    assert counts(engine)["events"] == 4  # OK-1 and OK-2, opened and accepted; no more
    with engine.connect() as connection:
        refs = connection.execute(sa.select(cases.c.ref).order_by(cases.c.ref)).scalars().all()
    assert refs == ["OK-1", "OK-2"]


def test_a_file_that_is_not_an_import_file(bureau: Bureau, tmp_path: Path) -> None:
    with pytest.raises(importer.UnreadableFile, match="colour"):
        run_import(bureau, tmp_path, "type,on,colour\ncomplaint,2024-02-19,red\n", "x.csv")
    with pytest.raises(importer.UnreadableFile, match="no 'on' column"):
        run_import(bureau, tmp_path, "type,ref\ncomplaint,X\n", "x.csv")
    with pytest.raises(importer.UnreadableFile, match="cannot read"):
        importer.import_file(bureau, tmp_path / "absent.jsonl", now=NOW)
    with pytest.raises(importer.UnreadableFile, match="cannot read"):
        importer.import_file(bureau, tmp_path, now=NOW)


# -- nesting ----------------------------------------------------------------------------------


def nested(levels: int) -> str:
    """JSON text of lists nested ``levels`` deep (written by hand: `json.dumps` would recurse)."""
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("workers", [1, 2])
def test_json_nested_too_deep_is_that_records_error(
    bureau: Bureau, engine: Engine, tmp_path: Path, workers: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past about a thousand levels Python's decoder raises RecursionError; the import used to
    stop there and lose the good records. Each such line is its own error."""
    if workers > 1 and not importer.can_fork():
        pytest.skip("worker processes need fork (Linux)")
    monkeypatch.setattr(importer, "BATCH", 2)
    deep_attrs = '{"type": "complaint", "on": "2024-02-19", "attrs": {"x": %s}}'
    text = jsonl([
        {**GOOD, "ref": "OK-1"},
        deep_attrs % nested(1_000),  # line 2
        nested(100_000),  # line 3
        deep_attrs % nested(importer.MAX_NESTING),  # line 4: decodes, still far too deep
        '{"type": "complaint", "on": "2024-02-19", "events": ' + "[" * 5_000,  # line 5: cut off
        {**GOOD, "ref": "OK-2"},
    ])
    report = run_import(bureau, tmp_path, text, workers=workers)
    assert report.imported == 2
    assert [(e.line, e.code) for e in report.errors] == [
        (2, "invalid_record"), (3, "invalid_record"), (4, "invalid_record"),
        (5, "invalid_record")]
    assert all("nesting too deep" in e.message for e in report.errors)
    assert counts(engine)["cases"] == 2


@pytest.mark.parametrize("workers", [1, 2])
def test_csv_cells_nested_too_deep_are_that_records_error(
    bureau: Bureau, engine: Engine, tmp_path: Path, workers: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if workers > 1 and not importer.can_fork():
        pytest.skip("worker processes need fork (Linux)")
    monkeypatch.setattr(importer, "BATCH", 2)
    deep_object = '{""a"": ' * 2_000 + "1" + "}" * 2_000
    text = (
        "type,ref,on,attrs,by,events\n"
        "complaint,C-1,2024-02-19,,,\n"
        f'complaint,C-2,2024-02-19,"{deep_object}",,\n'  # line 3
        f"complaint,C-3,2024-02-19,,,{nested(1_000)}\n"  # line 4
        f"complaint,C-4,2024-02-19,,,{nested(importer.MAX_NESTING + 1)}\n"  # line 5
        "complaint,C-5,2024-02-19,,,\n"
    )
    report = run_import(bureau, tmp_path, text, "cases.csv", workers=workers)
    assert report.imported == 2
    assert [(e.line, e.ref) for e in report.errors] == [(3, "C-2"), (4, "C-3"), (5, "C-4")]
    assert all("nesting too deep" in e.message for e in report.errors)
    assert "column attrs" in report.errors[0].message
    assert "column events" in report.errors[1].message
    assert counts(engine)["cases"] == 2


# -- references -------------------------------------------------------------------------------


def test_duplicate_references_in_the_database_and_in_the_file(
    bureau: Bureau, engine: Engine, tmp_path: Path
) -> None:
    services.open_case(bureau, "complaint", on=date(2024, 1, 5), ref="CP-OLD", by="a", now=NOW)
    text = jsonl([
        {**GOOD, "ref": "CP-OLD"},  # taken in the database
        {**GOOD, "ref": "CP-NEW"},
        {**GOOD, "ref": "CP-NEW", "on": "2024-02-20"},  # taken earlier in the file
        {**GOOD, "ref": "CP-X", "type": "nonesuch"},
        {**GOOD, "ref": "CP-X"},  # named earlier, even though that record failed
    ])
    report = run_import(bureau, tmp_path, text)
    assert report.imported == 1
    errors = report.to_json()["errors"]
    assert [(e["line"], e["ref"], e["error"]["code"]) for e in errors] == [
        (1, "CP-OLD", "conflict"), (3, "CP-NEW", "conflict"), (4, "CP-X", "unknown_type"),
        (5, "CP-X", "conflict")]
    assert "line 2" in errors[1]["error"]["message"]
    # the old case is untouched, the new one is the first record's
    assert services.get_case(bureau, "CP-OLD").case.version == 1
    assert services.get_case(bureau, "CP-NEW").case.opened_on == date(2024, 2, 19)
    assert counts(engine)["cases"] == 2


def race_two_imports(
    bureau: Bureau, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
    *, looked_up: str, second: str | None = None,
) -> list[ImportReport]:
    """Two imports in two threads, of ``text`` and of ``second`` (default: ``text`` again).
    On PostgreSQL both first look up what is stored (`bulk.<looked_up>`) and wait for each
    other before either writes, so neither has seen the other's rows; SQLite's writers queue.
    Neither import may raise."""
    race = engine.dialect.name == "postgresql"
    both_looked = threading.Barrier(2, timeout=30)
    calls = iter(range(1_000_000))
    lock = threading.Lock()
    original = getattr(bulk, looked_up)

    def look_then_wait_for_the_other(connection: sa.Connection, wanted: Any) -> Any:
        found = original(connection, wanted)
        with lock:
            first_two = next(calls) < 2
        if race and first_two:  # both have looked and seen nothing before either writes
            both_looked.wait()
        return found

    monkeypatch.setattr(bulk, looked_up, look_then_wait_for_the_other)
    reports: list[ImportReport] = []
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            reports.append(run_import(bureau, tmp_path, second if i and second else text,
                                      name=f"import-{i}.jsonl"))
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    return reports


def test_two_imports_racing_for_the_same_references(
    bureau: Bureau, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each record is stored once; the import that lost the race reports every record as
    already imported, line by line, instead of failing on the unique index (PostgreSQL, where
    both may look before either commits; SQLite's writers queue, and must end the same)."""
    records = with_refs("RACE")
    reports = race_two_imports(bureau, engine, tmp_path, monkeypatch, jsonl(records),
                               looked_up="import_keys_of")
    winner, loser = sorted(reports, key=lambda r: r.imported, reverse=True)
    assert (winner.imported, winner.failed) == (len(records), 0)
    assert (loser.imported, loser.failed) == (0, 0)
    assert [(e["line"], e["ref"], e["error"]["code"]) for e in loser.to_json()["skipped"]] == [
        (line, record["ref"], "already_imported") for line, record in enumerate(records, start=1)
    ]
    assert counts(engine)["cases"] == len(records)
    assert all_chains_verify(bureau)


def test_two_imports_naming_the_same_references_in_opposite_orders(
    bureau: Bureau, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written in file order, two imports racing on PostgreSQL would each store some of the
    references and wait on the other's (a deadlock, one import failed); each writes its
    chunk's references in ascending order, so one waits and the other wins."""
    records = [{**GOOD, "ref": f"CP-OLD-{n:03d}"} for n in range(1, 201)]
    reports = race_two_imports(bureau, engine, tmp_path, monkeypatch, jsonl(records),
                               second=jsonl(records[::-1]), looked_up="import_keys_of")
    winner, loser = sorted(reports, key=lambda r: r.imported, reverse=True)
    assert (winner.imported, winner.failed) == (len(records), 0)
    assert (loser.imported, loser.failed, loser.already_imported) == (0, 0, len(records))
    assert counts(engine)["cases"] == len(records)


def test_generated_references_never_take_an_imported_one(
    bureau: Bureau, tmp_path: Path
) -> None:
    first = services.open_case(bureau, "reconsideration", on=date(2024, 3, 1), by="a", now=NOW)
    assert first.case.ref == "RC-2024-0001"
    plain = {"type": "reconsideration", "on": "2024-03-04"}
    text = jsonl([
        plain,  # line 1: no reference: generated after every named one is known
        {**plain, "ref": "RC-2024-0002"},
        {**plain, "ref": "RC-2024-0003", "type": "nonesuch"},  # fails, but keeps its number
        {**plain, "on": "2023-12-28"},
        {"type": "legal_aid", "on": "2024-04-01"},
    ])
    report = run_import(bureau, tmp_path, text)
    assert report.imported == 4
    refs = sorted(c.case.ref for c in services.list_cases(bureau))
    assert refs == ["LA-2024-0001", "RC-2023-0001", "RC-2024-0001", "RC-2024-0002",
                    "RC-2024-0004"]
    # later openings continue after them
    after = services.open_case(bureau, "reconsideration", on=date(2024, 5, 6), by="a", now=NOW)
    assert after.case.ref == "RC-2024-0005"


def test_an_imported_number_moves_the_counter_past_it(bureau: Bureau, tmp_path: Path) -> None:
    text = jsonl([{"type": "complaint", "on": "2024-02-19", "ref": "CP-2024-0412"},
                  {"type": "complaint", "on": "2024-02-19", "ref": "CP-2024-0099"},
                  {"type": "complaint", "on": "2024-02-19", "ref": "XX-2024-9999"}])
    assert run_import(bureau, tmp_path, text).imported == 3
    opened = services.open_case(bureau, "complaint", on=date(2024, 3, 1), by="a", now=NOW)
    assert opened.case.ref == "CP-2024-0413"
    again = run_import(bureau, tmp_path, jsonl([{"type": "complaint", "on": "2024-03-02"}]))
    assert again.imported == 1
    assert services.list_cases(bureau)[-1].case.ref == "CP-2024-0414"


def test_a_case_opened_by_hand_while_an_import_names_numbers_of_its_year(
    bureau: Bureau, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clerk opens a reconsideration case while an import of old cases named RC-2024-0001…
    writes. The import pauses once it has taken its first lock of the references, until the
    clerk's opening waits on it. Were the imported cases written before the counter was
    moved, the clerk would draw RC-2024-0001 from the counter, wait on the import's row of
    that number, and the import would wait on the clerk's counter: PostgreSQL would find a
    deadlock and fail one of them. With the counter taken first the clerk waits, then draws
    the number after the imported ones, as when the two come one after the other (SQLite's
    writers queue, and must end the same)."""
    records = [{"type": "reconsideration", "on": "2024-03-04", "ref": f"RC-2024-{n:04d}"}
               for n in range(1, 21)]
    postgres = engine.dialect.name == "postgresql"
    holding = threading.Event()
    opened: list[str] = []
    failures: list[BaseException] = []

    def clerk() -> None:
        holding.wait(30)
        try:
            opened.append(services.open_case(bureau, "reconsideration", on=date(2024, 5, 6),
                                             by="clerk", now=NOW).case.ref)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)

    def pause_once_locked(original: Any) -> Any:
        def paused(connection: sa.Connection, *args: Any, **kwargs: Any) -> Any:
            result = original(connection, *args, **kwargs)
            if not holding.is_set():
                me = backend_pid(connection) if postgres else 0
                holding.set()
                deadline = time.monotonic() + 30
                while postgres and thread.is_alive() and not others_wait_on(engine, me):
                    assert time.monotonic() < deadline, "the clerk never waited on the import"
                    time.sleep(0.02)
                if not postgres:
                    time.sleep(0.3)  # the clerk's BEGIN IMMEDIATE waits on the import
            return result
        return paused

    # whichever the import does first: move the counter, or write its cases
    monkeypatch.setattr(repository, "advance_ref_counters",
                        pause_once_locked(repository.advance_ref_counters))
    monkeypatch.setattr(bulk, "insert_rows", pause_once_locked(bulk.insert_rows))
    thread = threading.Thread(target=clerk)
    thread.start()
    try:
        report = run_import(bureau, tmp_path, jsonl(records))
    finally:
        thread.join()
    assert failures == []
    assert (report.imported, report.failed) == (len(records), 0)
    assert opened == ["RC-2024-0021"]
    assert counts(engine)["cases"] == len(records) + 1


# -- importing again ----------------------------------------------------------------------------


def skipped(report: ImportReport) -> list[tuple[int, str | None]]:
    doc = report.to_json()
    assert doc["already_imported"] == len(doc["skipped"])  # type: ignore[arg-type]
    assert all(e["error"]["code"] == "already_imported" for e in doc["skipped"])  # type: ignore[attr-defined]
    return [(e["line"], e["ref"]) for e in doc["skipped"]]  # type: ignore[attr-defined]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_importing_a_file_again_writes_nothing_twice(
    bureau: Bureau, engine: Engine, tmp_path: Path, fmt: str
) -> None:
    """Records without a reference used to be imported again under new references."""
    text = jsonl(HISTORIES) if fmt == "jsonl" else csv_text(HISTORIES)
    first = run_import(bureau, tmp_path, text, f"cases.{fmt}")
    assert (first.imported, first.failed, first.already_imported) == (len(HISTORIES), 0, 0)
    before = counts(engine)
    refs = [c.case.ref for c in services.list_cases(bureau)]

    again = run_import(bureau, tmp_path, text, f"cases.{fmt}", by="someone-else")
    assert (again.imported, again.failed, again.already_imported) == (0, 0, len(HISTORIES))
    # a CSV record's line is the line after the header it is on
    lines = [i + (1 if fmt == "csv" else 0) for i in range(1, len(HISTORIES) + 1)]
    assert skipped(again) == list(zip(lines, refs, strict=True))  # each line, and its case
    assert "already imported as case " + refs[0] in again.skipped[0].message
    assert counts(engine) == before
    assert all_chains_verify(bureau)


def test_a_record_is_the_same_in_either_format_and_any_spelling(
    bureau: Bureau, engine: Engine, tmp_path: Path
) -> None:
    assert run_import(bureau, tmp_path, jsonl(HISTORIES[:3])).imported == 3
    before = counts(engine)
    respelled = [json.dumps(dict(reversed(list(r.items()))), ensure_ascii=False, indent=None,
                            separators=(" , ", " : ")) for r in HISTORIES[:3]]
    from_csv = run_import(bureau, tmp_path, csv_text(HISTORIES[:3]), "cases.csv")
    from_jsonl = run_import(bureau, tmp_path, jsonl(respelled))
    assert (from_csv.imported, from_csv.already_imported) == (0, 3)
    assert (from_jsonl.imported, from_jsonl.already_imported) == (0, 3)
    assert counts(engine) == before
    # a record that differs in anything is another record
    changed = {**HISTORIES[3], "attrs": {"applicant": "另一人"}}
    assert run_import(bureau, tmp_path, jsonl([HISTORIES[3], changed])).imported == 2


def test_the_same_record_twice_in_one_file_is_imported_once(
    bureau: Bureau, engine: Engine, tmp_path: Path
) -> None:
    plain = {"type": "complaint", "on": "2024-02-19"}
    named = {**GOOD, "ref": "CP-N"}
    report = run_import(bureau, tmp_path, jsonl([
        plain, named, {"type": "complaint", "on": "2024-02-20"}, plain, named, "",
        {**plain, "type": "nonesuch"}, {**plain, "type": "nonesuch"},  # failing twice: failed
    ]))
    assert (report.imported, report.failed) == (3, 2)
    assert skipped(report) == [(4, None), (5, "CP-N")]
    assert "line 1" in report.skipped[0].message and "line 2" in report.skipped[1].message
    assert [(e.line, e.code) for e in report.errors] == [(7, "unknown_type"),
                                                         (8, "unknown_type")]
    assert counts(engine)["cases"] == 3


def test_a_named_record_imported_before(bureau: Bureau, engine: Engine, tmp_path: Path) -> None:
    """Its key covers its reference and content: the same record is skipped; another record
    under the same reference is refused, as a reference taken by a case opened by hand is."""
    services.open_case(bureau, "complaint", on=date(2024, 1, 5), ref="CP-OPENED", by="a",
                       now=NOW)
    assert run_import(bureau, tmp_path, jsonl([{**GOOD, "ref": "CP-1"}])).imported == 1
    report = run_import(bureau, tmp_path, jsonl([
        {**GOOD, "ref": "CP-1"},  # the same record
        {**GOOD, "ref": "CP-OPENED"},
        {**GOOD, "ref": "CP-2"},
    ]))
    assert (report.imported, report.failed) == (1, 1)
    assert skipped(report) == [(1, "CP-1")]
    assert [(e.line, e.ref, e.code) for e in report.errors] == [(2, "CP-OPENED", "conflict")]
    assert report.errors[0].message == "a case 'CP-OPENED' already exists"

    changed = run_import(bureau, tmp_path, jsonl([{**GOOD, "ref": "CP-1", "by": "clerk-x"}]))
    assert (changed.imported, changed.already_imported) == (0, 0)
    assert [(e.line, e.ref, e.code) for e in changed.errors] == [(1, "CP-1", "conflict")]
    assert "already imported from a different record" in changed.errors[0].message
    assert services.get_case(bureau, "CP-1").case.version == 2  # untouched
    assert counts(engine)["cases"] == 3


def test_an_interrupted_import_run_again_brings_in_the_rest(
    bureau: Bureau, engine: Engine, tmp_path: Path
) -> None:
    """What a clerk does after an import was stopped half-way: run the whole file again."""
    records: list[Mapping[str, Any] | str] = [*HISTORIES, *with_refs("N")]
    half = len(records) // 2
    assert run_import(bureau, tmp_path, jsonl(records[:half])).imported == half
    dry = run_import(bureau, tmp_path, jsonl(records), dry_run=True)
    assert (dry.imported, dry.failed, dry.already_imported) == (len(records) - half, 0, half)
    again = run_import(bureau, tmp_path, jsonl(records))
    assert (again.imported, again.failed, again.already_imported) == (len(records) - half, 0,
                                                                      half)
    assert [line for line, _ in skipped(again)] == list(range(1, half + 1))
    assert counts(engine)["cases"] == len(records)
    assert all_chains_verify(bureau)


def test_two_imports_racing_for_the_same_unnamed_records(
    bureau: Bureau, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each record is stored once although neither import names a reference: the import key
    is unique in the database (on PostgreSQL both look before either commits)."""
    reports = race_two_imports(bureau, engine, tmp_path, monkeypatch, jsonl(HISTORIES),
                               looked_up="imported_refs")
    winner, loser = sorted(reports, key=lambda r: r.imported, reverse=True)
    assert (winner.imported, winner.already_imported) == (len(HISTORIES), 0)
    assert (loser.imported, loser.failed, loser.already_imported) == (0, 0, len(HISTORIES))
    assert counts(engine)["cases"] == len(HISTORIES)


# -- stopping -----------------------------------------------------------------------------------


def stop_after(checks: int) -> importer.Stop:
    """A ``stop`` that says yes from its ``checks``-th question on."""
    asked = iter(range(1_000_000))
    return lambda: next(asked) >= checks - 1


# asked before each batch; with workers, all ten batches are handed out (10 questions) before
# the first is taken
@pytest.mark.parametrize(("workers", "checks"), [(1, 3), (2, 13)])
def test_an_import_asked_to_stop_says_what_it_committed(
    bureau: Bureau, engine: Engine, tmp_path: Path, workers: int, checks: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Asked between batches: the chunks written stay, and every line before the one named is
    settled (here, with one chunk per batch: the first two batches' records)."""
    if workers > 1 and not importer.can_fork():
        pytest.skip("worker processes need fork (Linux)")
    monkeypatch.setattr(importer, "BATCH", 4)
    records = [{**GOOD, "ref": f"S-{i}"} for i in range(1, 41)]
    with pytest.raises(importer.ImportInterrupted) as stopped:
        run_import(bureau, tmp_path, jsonl(records), chunk_size=4, workers=workers,
                   stop=stop_after(checks))
    assert (stopped.value.committed, stopped.value.onwards) == (8, 9)
    assert stopped.value.message.startswith(
        "interrupted: 8 case(s) committed, line 9 onwards not imported; run the same import "
        "again")
    with engine.connect() as connection:
        refs = connection.execute(sa.select(cases.c.ref)).scalars().all()
    assert sorted(refs) == sorted(f"S-{i}" for i in range(1, 9))

    # and running it again brings in the rest
    again = run_import(bureau, tmp_path, jsonl(records), workers=workers)
    assert (again.imported, again.already_imported, again.failed) == (32, 8, 0)


def test_a_stopped_import_names_the_records_without_a_ref_it_did_not_reach(
    bureau: Bureau, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "BATCH", 2)
    plain = [{**GOOD, "by": f"clerk-{i}"} for i in range(3)]
    records = [plain[0], {**GOOD, "ref": "A"}, {**GOOD, "ref": "B"}, plain[1],
               {**GOOD, "ref": "C"}, plain[2]]
    with pytest.raises(importer.ImportInterrupted) as before_the_end:
        run_import(bureau, tmp_path, jsonl(records), chunk_size=1, stop=stop_after(3))
    assert before_the_end.value.message.startswith(
        "interrupted: 2 case(s) committed, line 5 onwards and 2 record(s) without a ref "
        "before it (the first on line 1) not imported")
    with pytest.raises(importer.ImportInterrupted) as writing_them:
        run_import(bureau, tmp_path, jsonl(records), chunk_size=1, stop=stop_after(6))
    # C, then the first record without a ref (A and B were there before), and no more
    assert writing_them.value.message.startswith(
        "interrupted: 2 case(s) committed, 2 record(s) without a ref (the first on line 4) "
        "not imported")
    with pytest.raises(importer.ImportInterrupted) as dry:
        run_import(bureau, tmp_path, jsonl(records), dry_run=True, stop=stop_after(1))
    assert dry.value.message == ("interrupted: dry run, nothing was written; line 1 onwards "
                                 "not checked")


# -- dry run ----------------------------------------------------------------------------------


def test_dry_run_checks_everything_and_writes_nothing(
    bureau: Bureau, engine: Engine, tmp_path: Path
) -> None:
    services.open_case(bureau, "complaint", on=date(2024, 1, 5), ref="CP-OLD", by="a", now=NOW)
    before = counts(engine)
    records: list[Mapping[str, Any] | str] = [*with_refs("IM"), {**GOOD}, {**GOOD, "ref": "CP-OLD"},
                                              "{broken"]
    report = run_import(bureau, tmp_path, jsonl(records), dry_run=True)
    assert report.to_json()["dry_run"] is True
    assert report.imported == len(HISTORIES) + 1
    assert [(e.line, e.code) for e in report.errors] == [
        (len(HISTORIES) + 2, "conflict"), (len(HISTORIES) + 3, "invalid_record")]
    assert counts(engine) == before

    real = run_import(bureau, tmp_path, jsonl(records))
    assert (real.imported, real.failed) == (report.imported, report.failed)
    assert counts(engine)["cases"] == before["cases"] + real.imported


def test_progress_is_reported_up_to_every_record(bureau: Bureau, tmp_path: Path) -> None:
    seen: list[int] = []
    records = [{**GOOD, "ref": f"P-{i}"} for i in range(600)] + [
        {**GOOD, "by": f"clerk-{i}"} for i in range(3)] + ["x"]
    report = run_import(bureau, tmp_path, jsonl(records), progress=seen.append, chunk_size=100)
    assert report.imported == 603
    assert seen == sorted(seen)
    assert seen[-1] == 604
    assert len(seen) >= 3


def test_an_assignment_must_name_a_lawyer_of_the_pool(
    bureau: Bureau, engine: Engine, tmp_path: Path
) -> None:
    outside = {"type": "legal_aid", "ref": "LA-X", "on": "2024-06-03",
               "attrs": {"channel": "notification"},
               "events": [ev("assign", "2024-06-04", {"lawyer": "L2"})]}
    held = {"type": "legal_aid", "on": "2024-06-03", "attrs": {"channel": "notification"},
            "events": [ev("assign", "2024-06-04", {"lawyer": "3"}), ev("engage", "2024-06-05")]}
    declined = {"type": "legal_aid", "ref": "LA-D", "on": "2024-06-03",
                "attrs": {"channel": "notification"},
                "events": [ev("assign", "2024-06-04", {"lawyer": "2"}),
                           ev("decline_assignment", "2024-06-05", reason="冲突")]}
    unnamed_outside = {**outside, "ref": None}
    del unnamed_outside["ref"]
    report = run_import(bureau, tmp_path, jsonl([outside, held, declined, unnamed_outside]))
    assert report.imported == 2
    assert [(e.line, e.ref, e.code) for e in report.errors] == [
        (1, "LA-X", "lawyer_not_eligible"), (4, None, "lawyer_not_eligible")]
    assert "not in the legal-aid lawyer pool" in report.errors[0].message
    # the imported cases count in their lawyers' loads, as if advanced one by one
    assert pool.show_lawyer(bureau, 3)["load"] == 1
    assert pool.show_lawyer(bureau, 2)["load"] == 0
    assert pool.assignment_report(bureau, date(2024, 6, 1), date(2024, 6, 30))["lawyers"][1][
        "declined"] == 1
