"""Import of historical and carry-over cases (`caseflow case import FILE`).

A bureau brings its open cases when it starts. Each record is one case with its events; every
event is replayed in memory through the same rules as a clerk's `advance` (`states.machine`),
and the cases that replay cleanly are written in chunks (`models.bulk`), stored exactly as if
they had been opened and advanced one by one: same columns, same hash chain. A record with any
error is reported with its line number and nothing of it is kept; every good record is kept
(with ``dry_run``, everything is checked and nothing is written).

Record format
-------------
JSON Lines (``.jsonl``, ``.ndjson``, ``.json``): one object per line; blank lines are skipped::

    {"type": "reconsideration", "ref": "RC-2023-0412", "on": "2023-11-20",
     "attrs": {"applicant": "张三"}, "by": "clerk-wang",
     "events": [{"trigger": "accept", "on": "2023-11-27", "attrs": {"procedure": "simplified"}},
                {"trigger": "send_copy", "on": "2023-11-28", "by": "clerk-li"}]}

- ``type`` (required): a case type (reconsideration, legal_aid, complaint);
- ``ref``: the case reference; when absent one is generated as `caseflow case open` does;
- ``on`` (required): the date received, YYYY-MM-DD;
- ``attrs``: the opening attributes (as ``--set`` on `caseflow case open`);
- ``by``: who opened it (default: the import's ``by``);
- ``events``: oldest first, each ``{"trigger", "on", "attrs", "reason", "by"}`` with ``trigger``
  and ``on`` required. ``by`` defaults to the record's; a system trigger (``deem_*``) is history
  and is applied as the system would have (its ``by`` defaults to ``system``).

CSV (``.csv``, or any file whose first character is not ``{``): a header row naming the
columns ``type, ref, on, attrs, by, events`` (any order; ``type`` and ``on`` required), then one
case per row; ``attrs`` and ``events`` hold the JSON above, an empty cell means none. A record's
line is the line it starts on.

Rules: every date is a legal date no later than today (as of ``now``) and no earlier than the
case's previous event; a reference must be new to the database and to the file (a reference
named again is refused on every later line, whether or not the first record replays).
Generated references skip every reference the file names, and a stored reference of the form
``PREFIX-YEAR-NNNN`` moves that counter on (`models.bulk`).

Errors
------
    CaseflowError
    └── InvalidInput
        ├── UnreadableFile   the file cannot be read, or is not an import file at all
        └── InvalidRecord    one record is not well-formed (reported with its line)

Every error of a record (`InvalidRecord`, any domain error, `Conflict` for a taken reference)
goes into the report as ``{"line", "ref", "error": {"code", "message", "allowed"}}``.
"""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from io import BufferedReader
from pathlib import Path
from typing import BinaryIO

from flows.context import Bureau
from flows.services import _check_ref, _not_in_future
from models import bulk, repository
from models.bulk import Replayed
from models.errors import Conflict
from states.casetype import Actor
from states.errors import CaseflowError, InvalidInput
from states.machine import fire, open_case

CHUNK = 2_000  # records per transaction
PROGRESS_EVERY = 250  # records between progress reports
MAX_BY_LENGTH = 80  # events.by is VARCHAR(80)
SYSTEM_BY = "system"
RECORD_FIELDS = ("type", "ref", "on", "attrs", "by", "events")
EVENT_FIELDS = ("trigger", "on", "attrs", "reason", "by")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Progress = Callable[[int], None]  # called with the number of records finished so far


class UnreadableFile(InvalidInput):
    code = "unreadable_file"


class InvalidRecord(InvalidInput):
    code = "invalid_record"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read, before any rule: its line and fields, or why it could not be read."""

    line: int
    data: Mapping[str, object] | None
    problem: InvalidRecord | None = None


@dataclass(frozen=True, slots=True)
class EventRecord:
    trigger: str
    on: date
    attrs: Mapping[str, object]
    reason: str | None
    by: str | None


@dataclass(frozen=True, slots=True)
class CaseRecord:
    type: str
    ref: str | None
    on: date
    attrs: Mapping[str, object]
    by: str | None
    events: tuple[EventRecord, ...]


@dataclass(frozen=True, slots=True)
class RecordError:
    """Why the record on ``line`` was not imported."""

    line: int
    ref: str | None
    code: str
    message: str
    allowed: tuple[str, ...] = ()

    @classmethod
    def of(cls, line: int, ref: str | None, error: CaseflowError, where: str = "") -> RecordError:
        return cls(line, ref, error.code, where + error.message, tuple(error.allowed))

    def to_json(self) -> dict[str, object]:
        return {
            "line": self.line,
            "ref": self.ref,
            "error": {"code": self.code, "message": self.message, "allowed": list(self.allowed)},
        }


@dataclass
class ImportReport:
    imported: int = 0
    dry_run: bool = False
    errors: list[RecordError] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.errors)

    def to_json(self) -> dict[str, object]:
        return {
            "imported": self.imported,
            "failed": self.failed,
            "dry_run": self.dry_run,
            "errors": [e.to_json() for e in sorted(self.errors, key=lambda e: e.line)],
        }


# -- reading -------------------------------------------------------------------------------


def _decoded(lines: Iterable[bytes | str]) -> Iterator[str]:
    """Text lines, line endings kept; bytes that are not UTF-8 become lone surrogates."""
    for number, line in enumerate(lines, start=1):
        text = line if isinstance(line, str) else line.decode("utf-8", "surrogateescape")
        yield text.removeprefix("\ufeff") if number == 1 else text


def _unusable_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not UTF-8 text"
    return None


def read_jsonl(lines: Iterable[bytes | str]) -> Iterator[RawRecord]:
    """JSON Lines: one object per line, blank lines skipped."""
    for number, text in enumerate(_decoded(lines), start=1):
        if not text.strip():
            continue
        problem = _unusable_text(text)
        if problem is None:
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                problem = f"is not JSON: {exc.msg} at column {exc.colno}"
            else:
                if not isinstance(data, dict):
                    problem = "is not a JSON object"
                elif "\\u0000" in text and _has_nul(data):
                    problem = "contains a NUL character"
                else:
                    yield RawRecord(number, data)
                    continue
        yield RawRecord(number, None, InvalidRecord(f"the line {problem}", ['{"type": …}']))


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def read_csv(lines: Iterable[bytes | str]) -> Iterator[RawRecord]:
    """CSV: a header row naming the columns, then one case per row; blank rows skipped."""
    reader = csv.reader(_decoded(lines))
    header: list[str] | None = None
    while header is None:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise UnreadableFile(f"the CSV header does not parse: {exc}") from None
        if any(cell.strip() for cell in row):
            header = [cell.strip().lower() for cell in row]
    _check_header(header)
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RawRecord(start, None, InvalidRecord(f"the row is not CSV: {exc}"))
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if any(cell.strip() for cell in row):
            yield _csv_record(line, header, row)


def _check_header(header: list[str]) -> None:
    allowed = [", ".join(RECORD_FIELDS)]
    unknown = [c for c in header if c not in RECORD_FIELDS]
    if unknown:
        raise UnreadableFile(f"the CSV header names an unknown column {unknown[0]!r}", allowed)
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise UnreadableFile(f"the CSV header names {repeated[0]!r} twice", allowed)
    missing = [c for c in ("type", "on") if c not in header]
    if missing:
        raise UnreadableFile(f"the CSV header has no {missing[0]!r} column", allowed)


def _csv_record(line: int, header: list[str], row: list[str]) -> RawRecord:
    if len(row) > len(header):
        return RawRecord(line, None, InvalidRecord(
            f"the row has {len(row)} cells; the header names {len(header)} columns",
            [", ".join(header)],
        ))
    data: dict[str, object] = {}
    for name, cell in zip(header, row, strict=False):
        problem = _unusable_text(cell)
        if problem is not None:
            return RawRecord(line, None, InvalidRecord(f"column {name} {problem}"))
        if not cell.strip():
            continue
        if name in ("attrs", "events"):
            try:
                data[name] = json.loads(cell)
            except json.JSONDecodeError as exc:
                return RawRecord(line, None, InvalidRecord(
                    f"column {name} is not JSON: {exc.msg} at character {exc.pos + 1}",
                    ['{"KEY": "VALUE"}' if name == "attrs" else '[{"trigger": …, "on": …}]'],
                ))
        else:
            data[name] = cell.strip()
    return RawRecord(line, data)


def sniff_format(path: Path, head: bytes) -> str:
    """``csv`` or ``jsonl``: by the file's suffix, else by its first character."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{") else "csv"


def read_records(stream: BinaryIO, fmt: str) -> Iterator[RawRecord]:
    return read_csv(stream) if fmt == "csv" else read_jsonl(stream)


def count_records(path: Path) -> int:
    """About how many records ``path`` holds (its non-blank lines), for a progress bar."""
    with _open(path) as stream:
        fmt = sniff_format(path, stream.peek(4096)[:4096])
        count = sum(1 for line in stream if line.strip())
    return max(count - 1, 0) if fmt == "csv" else count


def _open(path: Path) -> BufferedReader:
    try:
        return path.open("rb")
    except OSError as exc:
        raise UnreadableFile(f"cannot read {str(path)!r}: {exc.strerror or exc}",
                             ["a readable CSV or JSON Lines file"]) from None


# -- parsing a record ------------------------------------------------------------------------


def _text(
    data: Mapping[str, object], name: str, where: str, *, required: bool = False
) -> str | None:
    value = data.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidRecord(f"{where}{name} is missing", [f"{name}=TEXT"])
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"{where}{name} must be text, not {json.dumps(value)}",
                            [f"{name}=TEXT"])
    return value.strip()


def _date(data: Mapping[str, object], name: str, where: str) -> date:
    value = _text(data, name, where, required=True)
    assert value is not None
    if _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise InvalidRecord(f"{where}{name} {value!r} is not a date", ["YYYY-MM-DD"])


def _by(data: Mapping[str, object], where: str) -> str | None:
    by = _text(data, "by", where)
    if by is not None and len(by) > MAX_BY_LENGTH:
        raise InvalidRecord(f"{where}by is longer than {MAX_BY_LENGTH} characters",
                            [f"1..{MAX_BY_LENGTH} characters"])
    return by


def _attrs(data: Mapping[str, object], where: str) -> Mapping[str, object]:
    value = data.get("attrs")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRecord(f"{where}attrs must be a JSON object", ['{"KEY": "VALUE"}'])
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise InvalidRecord(f"{where}attrs.{key} must be text or a whole number, "
                                f"not {json.dumps(item)}", [f"{key}=VALUE"])
    return value


def _unknown(data: Mapping[str, object], allowed: Sequence[str], where: str) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise InvalidRecord(f"{where}unknown field {unknown[0]!r}", list(allowed))


def parse_record(data: Mapping[str, object]) -> CaseRecord:
    """The fields of one record, checked for shape (not yet for the rules)."""
    _unknown(data, RECORD_FIELDS, "")
    type_name = _text(data, "type", "", required=True)
    assert type_name is not None
    ref = _text(data, "ref", "")
    raw_events = data.get("events")
    if raw_events is None:
        raw_events = []
    if not isinstance(raw_events, list):
        raise InvalidRecord("events must be a JSON list", ['[{"trigger": …, "on": …}]'])
    events = []
    for index, raw in enumerate(raw_events, start=1):
        where = f"event {index}: "
        if not isinstance(raw, dict):
            raise InvalidRecord(f"{where}must be a JSON object", ['{"trigger": …, "on": …}'])
        _unknown(raw, EVENT_FIELDS, where)
        trigger = _text(raw, "trigger", where, required=True)
        assert trigger is not None
        events.append(EventRecord(trigger, _date(raw, "on", where), _attrs(raw, where),
                                  _text(raw, "reason", where), _by(raw, where)))
    return CaseRecord(
        type=type_name,
        ref=None if ref is None else _check_ref(ref),
        on=_date(data, "on", ""),
        attrs=_attrs(data, ""),
        by=_by(data, ""),
        events=tuple(events),
    )


# -- replaying and writing -------------------------------------------------------------------


class _Import:
    """One run: reads, replays and writes, collecting the report."""

    def __init__(
        self, bureau: Bureau, *, now: datetime, dry_run: bool, by: str,
        progress: Progress | None, chunk_size: int,
    ) -> None:
        self.bureau = bureau
        self.now = now
        self.by = by
        self.dry_run = dry_run
        self.progress = progress
        self.chunk_size = chunk_size
        self.report = ImportReport(dry_run=dry_run)
        self.named: dict[str, int] = {}  # every reference the file names -> its first line
        self.done = 0
        self.prefixes = {t.ref_prefix for t in bureau.types.values()}

    def fail(self, error: RecordError) -> None:
        self.report.errors.append(error)
        self.finished(1)

    def finished(self, count: int) -> None:
        before, self.done = self.done, self.done + count
        if self.progress is not None and before // PROGRESS_EVERY != self.done // PROGRESS_EVERY:
            self.progress(self.done)

    def parse(self, raw: RawRecord) -> CaseRecord | None:
        if raw.problem is not None or raw.data is None:
            self.fail(RecordError.of(raw.line, None, raw.problem or InvalidRecord("no record")))
            return None
        given = raw.data.get("ref")
        hint = given.strip() or None if isinstance(given, str) else None
        try:
            record = parse_record(raw.data)
        except CaseflowError as error:
            self.fail(RecordError.of(raw.line, hint, error))
            return None
        if record.ref is not None:
            first = self.named.setdefault(record.ref, raw.line)
            if first != raw.line:
                self.fail(RecordError.of(raw.line, record.ref, Conflict(
                    f"reference {record.ref!r} is already used on line {first} of this file",
                    ["a new reference"],
                )))
                return None
        return record

    def replay(self, line: int, record: CaseRecord) -> Replayed | None:
        bureau = self.bureau
        try:
            case_type = bureau.case_type(record.type)
            _not_in_future(record.on, self.now)
            opened = open_case(case_type, record.on, attrs=record.attrs,
                               by=record.by or self.by, calendar=bureau.calendar)
        except CaseflowError as error:
            self.fail(RecordError.of(line, record.ref, error))
            return None
        case, events = opened.case, [opened.event]
        for index, event in enumerate(record.events, start=1):
            specs = case_type.triggers.get(event.trigger, ())
            by_system = bool(specs) and specs[0].actor is Actor.SYSTEM
            by = event.by or (SYSTEM_BY if by_system else record.by or self.by)
            try:
                _not_in_future(event.on, self.now)
                fired = fire(case_type, case, event.trigger, event.on, attrs=event.attrs,
                             reason=event.reason, by=by, by_system=by_system,
                             calendar=bureau.calendar)
            except CaseflowError as error:
                where = f"event {index} ({event.trigger} on {event.on.isoformat()}): "
                self.fail(RecordError.of(line, record.ref, error, where))
                return None
            case = fired.case
            events.append(fired.event)
        return Replayed(record.ref or "", case, tuple(events))

    def write_named(self, chunk: list[tuple[int, Replayed]]) -> None:
        """Store replayed cases that carry their own references, unless one is already taken."""
        if not chunk:
            return
        with self.bureau.unit_of_work(write=not self.dry_run) as uow:
            taken = repository.existing_refs(uow.connection, [r.ref for _, r in chunk])
            keep = [r for _, r in chunk if r.ref not in taken]
            for line, r in chunk:
                if r.ref in taken:
                    self.fail(RecordError.of(line, r.ref, Conflict(
                        f"a case {r.ref!r} already exists", ["a new reference"]
                    )))
            if not self.dry_run and keep:
                bulk.insert_replayed(uow.connection, keep, recorded_at=self.now)
                bulk.advance_ref_counters(uow.connection, [r.ref for r in keep], self.prefixes)
                uow.commit()
        self.report.imported += len(keep)
        self.finished(len(keep))

    def write_generated(self, chunk: list[Replayed]) -> None:
        """Store replayed cases under references generated now, past every one the file names."""
        if not chunk:
            return
        if not self.dry_run:
            groups: dict[tuple[str, int], list[int]] = defaultdict(list)
            for i, r in enumerate(chunk):
                prefix = self.bureau.case_type(r.case.type).ref_prefix
                groups[(prefix, r.case.opened_on.year)].append(i)
            with self.bureau.unit_of_work() as uow:
                named = list(chunk)
                for (prefix, year), indexes in sorted(groups.items()):
                    refs = bulk.allocate_refs(uow.connection, prefix, year, len(indexes),
                                              reserved=self.named)
                    for i, ref in zip(indexes, refs, strict=True):
                        named[i] = replace(chunk[i], ref=ref)
                bulk.insert_replayed(uow.connection, named, recorded_at=self.now)
                uow.commit()
        self.report.imported += len(chunk)
        self.finished(len(chunk))


def import_records(
    bureau: Bureau,
    records: Iterable[RawRecord | Mapping[str, object]],
    *,
    now: datetime,
    dry_run: bool = False,
    by: str = "",
    progress: Progress | None = None,
    chunk_size: int = CHUNK,
) -> ImportReport:
    """Import ``records`` (read by `read_jsonl`/`read_csv`, or mappings numbered from 1).

    Records that name their reference are replayed and written as they come, ``chunk_size`` per
    transaction; those without one are replayed and written last, once every reference the file
    names is known, so a generated reference never takes one of them.
    """
    run = _Import(bureau, now=now, dry_run=dry_run, by=by, progress=progress,
                  chunk_size=chunk_size)
    chunk: list[tuple[int, Replayed]] = []
    unnamed: list[tuple[int, CaseRecord]] = []
    for number, item in enumerate(records, start=1):
        raw = item if isinstance(item, RawRecord) else RawRecord(number, item)
        record = run.parse(raw)
        if record is None:
            continue
        if record.ref is None:
            unnamed.append((raw.line, record))
            continue
        replayed = run.replay(raw.line, record)
        if replayed is not None:
            chunk.append((raw.line, replayed))
        if len(chunk) >= chunk_size:
            run.write_named(chunk)
            chunk = []
    run.write_named(chunk)
    for start in range(0, len(unnamed), chunk_size):
        replayed_all = (run.replay(line, r) for line, r in unnamed[start:start + chunk_size])
        run.write_generated([r for r in replayed_all if r is not None])
    if progress is not None:
        progress(run.done)
    return run.report


def import_file(
    bureau: Bureau,
    path: Path,
    *,
    now: datetime,
    dry_run: bool = False,
    by: str = "",
    progress: Progress | None = None,
    chunk_size: int = CHUNK,
) -> ImportReport:
    """Import the CSV or JSON Lines file at ``path`` (`UnreadableFile` if it cannot be read)."""
    with _open(path) as stream:
        try:
            fmt = sniff_format(path, stream.peek(4096)[:4096])
        except OSError as exc:
            raise UnreadableFile(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
        return import_records(bureau, read_records(stream, fmt), now=now, dry_run=dry_run,
                              by=by, progress=progress, chunk_size=chunk_size)
