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
line is the line it starts on. JSON nested deeper than `MAX_NESTING` levels (a record needs four)
is that record's error, never the whole import's.

Rules: every date is a legal date no later than today (as of ``now``) and no earlier than the
case's previous event; a reference must be new to the database and to the file (a reference
named again is refused on every later line, whether or not the first record replays).
Generated references skip every reference the file names, and a stored reference of the form
``PREFIX-YEAR-NNNN`` moves that counter on (`models.bulk`). Records without a reference are
written last, once every reference the file names is known. Each chunk (`CHUNK` cases) is one
transaction: an import stopped half-way keeps the chunks already written.

Importing again: each record has an import key (`import_key`: SHA-256 of its canonical content,
reference included), stored with its case (unique). A record whose key is already stored, or
belongs to an earlier good record of the same file, is skipped as already imported (reported
with its line and the case's reference, not as a failure), so running a file again writes
nothing twice and finishes what a stopped run began. A record that names a reference stored
under another key (a case opened by hand, or imported from a record that differs) is refused
as a conflict: a changed record is never skipped silently. Two records without a reference
that are identical in every field are one record.

Errors
------
    CaseflowError
    └── InvalidInput
        ├── UnreadableFile   the file cannot be read, or is not an import file at all
        └── InvalidRecord    one record is not well-formed (reported with its line)

`ImportInterrupted` (not a `CaseflowError`: nothing was refused) ends an import asked to stop
(``stop``, on SIGINT or SIGTERM): it says what was committed and from which line on nothing was.

Every error of a record (`InvalidRecord`, any domain error, `Conflict` for a taken reference)
goes into the report as ``{"line", "ref", "error": {"code", "message", "allowed"}}``; a record
skipped as already imported goes into ``skipped`` in the same shape, with the code
``already_imported``.

Speed: reading, replaying and making the rows (hash chain included) is pure work; on a long
import it runs in forked worker processes, batch by batch, while this process checks references
and writes chunks (`models.bulk`) in order. Results do not depend on the number of workers.
Workers end with this process however it ends (SIGKILL included), and ignore Ctrl-C, which
this process answers for them: nothing is left holding its output open.
"""

from __future__ import annotations

import csv
import ctypes
import hashlib
import json
import multiprocessing
import os
import re
import signal
import sys
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial
from io import BufferedReader
from pathlib import Path
from typing import BinaryIO, TypeVar

import sqlalchemy as sa

from flows.context import Bureau
from flows.services import acting, check_ref, not_in_future
from models import bulk, repository
from models.bulk import Replayed, Rows, make_rows
from models.chain import canonical
from models.errors import Conflict
from states.calendar import legal_date
from states.casetype import Actor
from states.errors import CaseflowError, InvalidInput
from states.lapses import act
from states.machine import fire, open_case
from states.roles import Identity, may_import

CHUNK = 2_000  # records per transaction
BATCH = 250  # records per task of a worker process
IN_FLIGHT = 8  # tasks queued per worker, so workers keep busy while a chunk is written
PARALLEL_FROM = 5_000  # records from which `import_file` replays in worker processes
MAX_WORKERS = 8
WRITE_ATTEMPTS = 5  # a chunk's tries when concurrent imports race for its references
PROGRESS_EVERY = 250  # records between progress reports
MAX_BY_LENGTH = 80  # events.by is VARCHAR(80)
SYSTEM_BY = "system"
RECORD_FIELDS = ("type", "ref", "on", "attrs", "by", "events")
EVENT_FIELDS = ("trigger", "on", "attrs", "reason", "by")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")  # NUL or a surrogate half
# A record nests four levels (record, events, an event, its attrs); JSON nested far deeper is no
# record, and past about a thousand levels Python's decoder (and every recursive walk of the
# value after it) stops with a RecursionError instead of an answer.
MAX_NESTING = 32
_TOO_DEEP = f"has nesting too deep (more than {MAX_NESTING} levels of [ and {{)"

ALREADY_IMPORTED = "already_imported"  # the code of a record skipped as already imported

Progress = Callable[[int], None]  # called with the number of records finished so far
Stop = Callable[[], bool]  # asked between batches: whether to stop (a signal came)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_T = TypeVar("_T")


class UnreadableFile(InvalidInput):
    code = "unreadable_file"


class InvalidRecord(InvalidInput):
    code = "invalid_record"


class ImportInterrupted(Exception):
    """The import stopped when asked to (`import_records`'s ``stop``, on a signal). Not a
    `CaseflowError`: no rule refused anything. The chunks written before stay committed; the
    message says which records were not imported, and running the same import again brings
    them in (the committed ones are skipped as already imported)."""

    def __init__(self, *, committed: int, onwards: int | None, unnamed: Sequence[int],
                 dry_run: bool) -> None:
        self.committed = committed
        self.onwards = onwards  # the first line from which nothing was imported
        self.unnamed = tuple(unnamed)  # lines before it without a ref, not imported either
        self.dry_run = dry_run
        super().__init__(self.message)

    @property
    def message(self) -> str:
        missed = [f"line {self.onwards:,} onwards"] if self.onwards is not None else []
        if self.unnamed:
            before = " before it" if missed else ""
            missed.append(f"{len(self.unnamed):,} record(s) without a ref{before} (the first on "
                          f"line {self.unnamed[0]:,})")
        if self.dry_run:
            return f"interrupted: dry run, nothing was written; {' and '.join(missed)} not checked"
        return (f"interrupted: {self.committed:,} case(s) committed, {' and '.join(missed)} "
                "not imported; run the same import again for the rest (what was committed is "
                "skipped)")


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read: its fields, a JSON line still to decode, or why it is unusable."""

    line: int
    data: Mapping[str, object] | None = None
    text: str | None = None
    problem: RecordError | None = None


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
    """What an import did: how many cases it stored (would store, on a dry run), why each
    failed record failed, and which records it skipped as already imported, by line.

    A skipped record is no failure: its case is in the database, once. ``skipped`` entries
    have the shape of ``errors`` entries, with the code ``already_imported`` and the case's
    reference."""

    imported: int = 0
    dry_run: bool = False
    errors: list[RecordError] = field(default_factory=list)
    skipped: list[RecordError] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.errors)

    @property
    def already_imported(self) -> int:
        return len(self.skipped)

    def to_json(self) -> dict[str, object]:
        return {
            "imported": self.imported,
            "failed": self.failed,
            "dry_run": self.dry_run,
            "errors": [e.to_json() for e in self.errors],
            "already_imported": self.already_imported,
            "skipped": [e.to_json() for e in self.skipped],
        }


# -- reading -------------------------------------------------------------------------------


def _decoded(lines: Iterable[bytes | str]) -> Iterator[str]:
    """Text lines, line endings kept; bytes that are not UTF-8 become lone surrogates."""
    for number, line in enumerate(lines, start=1):
        text = line if isinstance(line, str) else line.decode("utf-8", "surrogateescape")
        yield text.removeprefix("\ufeff") if number == 1 else text


def _unusable(value: object) -> str | None:
    """Why a text (or any text inside a JSON value) cannot be stored, if it cannot."""
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "is not UTF-8 text"
        return None
    if isinstance(value, dict):
        return next(filter(None, (_unusable(k) or _unusable(v) for k, v in value.items())), None)
    if isinstance(value, list):
        return next(filter(None, map(_unusable, value)), None)
    return None


def _deeper_than(value: object, limit: int) -> bool:
    """Whether ``value`` nests lists and objects more than ``limit`` levels deep."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in item)
    return False


def _decode_json(text: str, what: str) -> object:
    """A JSON document that every backend can store, or `InvalidRecord`."""
    problem = _unusable(text)
    if problem is None:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidRecord(f"{what} is not JSON: {exc.msg} at character {exc.pos + 1}",
                                ['{"type": …, "on": …}']) from None
        except RecursionError:  # about a thousand levels: the decoder gives up
            value, problem = None, _TOO_DEEP
        # fewer brackets than the limit cannot nest deeper than it: no need to look
        if problem is None and text.count("[") + text.count("{") > MAX_NESTING:
            problem = _TOO_DEEP if _deeper_than(value, MAX_NESTING) else None
        if problem is None and _RISKY_ESCAPE.search(text):
            problem = _unusable(value)
        if problem is None:
            return value
    raise InvalidRecord(f"{what} {problem}")


def read_jsonl(lines: Iterable[bytes | str]) -> Iterator[RawRecord]:
    """JSON Lines: one object per line, blank lines skipped (decoded later, by `_Replayer`)."""
    for number, text in enumerate(_decoded(lines), start=1):
        if text.strip():
            yield RawRecord(number, text=text)


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
            problem = InvalidRecord(f"the row is not CSV: {exc}")
            yield RawRecord(start, problem=RecordError.of(start, None, problem))
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
    cells = dict(zip(header, row, strict=False))
    ref = cells.get("ref", "").strip() or None
    if ref is not None and _unusable(ref) is not None:
        ref = None
    data: dict[str, object] = {}
    try:
        if len(row) > len(header):
            raise InvalidRecord(
                f"the row has {len(row)} cells; the header names {len(header)} columns",
                [", ".join(header)],
            )
        for name, cell in cells.items():
            if not cell.strip():
                continue
            if name in ("attrs", "events"):
                data[name] = _decode_json(cell, f"column {name}")
            else:
                problem = _unusable(cell)
                if problem is not None:
                    raise InvalidRecord(f"column {name} {problem}")
                data[name] = cell.strip()
    except InvalidRecord as error:
        return RawRecord(line, problem=RecordError.of(line, ref, error))
    return RawRecord(line, data=data)


def sniff_format(path: Path, head: bytes) -> str:
    """``csv`` or ``jsonl``: by the file's suffix, else by its first character. A file whose
    start is not text (a NUL byte, or mostly control characters) is neither: `UnreadableFile`."""
    controls = sum(1 for byte in head if byte < 0x20 and byte not in _TEXT_CONTROLS)
    if b"\x00" in head or controls * 10 > len(head):
        raise UnreadableFile("the file is neither CSV nor JSON Lines: it holds binary data",
                             ["CSV (UTF-8) with a header row", "JSON Lines (UTF-8)"])
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{") else "csv"


_TEXT_CONTROLS = frozenset(b"\t\n\r\f\v\x1b")


def read_records(stream: BinaryIO, fmt: str) -> Iterator[RawRecord]:
    return read_csv(stream) if fmt == "csv" else read_jsonl(stream)


def count_records(path: Path) -> int:
    """About how many records ``path`` holds (its non-blank lines), for a progress bar."""
    with _open(path) as stream:
        try:
            fmt = sniff_format(path, stream.peek(4096)[:4096])
            count = sum(1 for line in stream if line.strip())
        except OSError as exc:
            raise _unreadable(path, exc) from None
    return max(count - 1, 0) if fmt == "csv" else count


def _unreadable(path: Path, exc: OSError) -> UnreadableFile:
    return UnreadableFile(f"cannot read {str(path)!r}: {exc.strerror or exc}",
                          ["a readable CSV or JSON Lines file"])


def _open(path: Path) -> BufferedReader:
    try:
        return path.open("rb")
    except OSError as exc:
        raise _unreadable(path, exc) from None


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
        ref=None if ref is None else check_ref(ref),
        on=_date(data, "on", ""),
        attrs=_attrs(data, ""),
        by=_by(data, ""),
        events=tuple(events),
    )


def import_key(record: CaseRecord) -> str:
    """The record's import key: SHA-256 of its canonical content (reference included).

    The same record gives the same key in JSON Lines or CSV, with its fields in any order and
    any spacing, whoever runs the import; a record that differs in any field gives another.
    """
    content = {
        "type": record.type, "ref": record.ref, "on": record.on, "attrs": dict(record.attrs),
        "by": record.by,
        "events": [{"trigger": e.trigger, "on": e.on, "attrs": dict(e.attrs),
                    "reason": e.reason, "by": e.by} for e in record.events],
    }
    return hashlib.sha256(canonical(content)).hexdigest()


# -- replaying (pure: in this process or in workers) -----------------------------------------

# (line, the reference the record names, what became of it)
Outcome = tuple[int, str | None, RecordError | Rows]


class _Replayer:
    """Decodes, checks and replays records and makes their rows; touches no database."""

    def __init__(self, bureau: Bureau, *, now: datetime, by: str) -> None:
        self.bureau = bureau
        self.now = now
        self.today = legal_date(now)
        self.by = by

    def batch(self, raws: Sequence[RawRecord]) -> list[Outcome]:
        return [self.outcome(raw) for raw in raws]

    def outcome(self, raw: RawRecord) -> Outcome:
        if raw.problem is not None:
            return raw.line, raw.problem.ref, raw.problem
        try:
            decoded = raw.data if raw.text is None else _decode_json(raw.text, "the line")
            if not isinstance(decoded, Mapping):
                raise InvalidRecord("the line is not a JSON object", ['{"type": …, "on": …}'])
        except CaseflowError as error:
            return raw.line, None, RecordError.of(raw.line, None, error)
        data: Mapping[str, object] = decoded
        named = data.get("ref")
        hint = (named.strip() or None) if isinstance(named, str) else None
        try:
            record = parse_record(data)
        except CaseflowError as error:
            return raw.line, hint, RecordError.of(raw.line, hint, error)
        replayed = self.replay(raw.line, record)
        if isinstance(replayed, RecordError):
            return raw.line, record.ref, replayed
        return raw.line, record.ref, make_rows(replayed, self.now)

    def replay(self, line: int, record: CaseRecord) -> Replayed | RecordError:
        calendar = self.bureau.calendar
        try:
            case_type = self.bureau.case_type(record.type)
            not_in_future(record.on, self.now)
            opened = open_case(case_type, record.on, attrs=record.attrs,
                               by=record.by or self.by, calendar=calendar)
        except CaseflowError as error:
            return RecordError.of(line, record.ref, error)
        case, events = opened.case, [opened.event]
        for index, event in enumerate(record.events, start=1):
            specs = case_type.triggers.get(event.trigger, ())
            by_system = bool(specs) and specs[0].actor is Actor.SYSTEM
            by = event.by or (SYSTEM_BY if by_system else record.by or self.by)
            try:
                if event.on > self.today:
                    not_in_future(event.on, self.now)  # raises, naming the latest allowed date
                # a person's act comes after the lapses due by its date, as in `case advance`
                fired = (fire(case_type, case, event.trigger, event.on, attrs=event.attrs,
                              reason=event.reason, by=by, by_system=True, calendar=calendar),
                         ) if by_system else act(
                    case_type, case, event.trigger, event.on, attrs=event.attrs,
                    reason=event.reason, by=by, calendar=calendar, today=self.today)
            except CaseflowError as error:
                where = f"event {index} ({event.trigger} on {event.on.isoformat()}): "
                return RecordError.of(line, record.ref, error, where)
            case = fired[-1].case
            events.extend(f.event for f in fired)
        return Replayed(record.ref or "", case, tuple(events), import_key(record))


_CHILD: _Replayer | None = None  # what a forked worker process replays with


def _child_started(parent: int) -> None:
    """A worker's start: it ends with its parent, whatever ends the parent, and leaves
    signals to the parent (Ctrl-C reaches every process of the terminal's group)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler, copied by fork
    _end_with_parent(parent)
    # A worker never touches the store, and leaves the parent's pooled connections as they
    # are: they are the parent's, and closing them here would close them under it.


def _end_with_parent(parent: int) -> None:
    """Have Linux kill this process when its parent dies, even by SIGKILL (prctl(2)); workers
    left behind would hold the parent's standard output open, and whoever reads it would wait
    forever. (Linux sends it when the parent *thread* that forked us ends: the pool forks from
    the thread that submits, which outlives the pool.)"""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before we asked
        os._exit(1)


def _child_batch(raws: Sequence[RawRecord]) -> list[Outcome]:
    assert _CHILD is not None
    return _CHILD.batch(raws)


# -- checking references and writing (this process only) -------------------------------------


class _Writer:
    """Takes outcomes in file order: skips records already imported, refuses taken references,
    writes chunks, keeps the report."""

    def __init__(
        self, bureau: Bureau, *, dry_run: bool, progress: Progress | None,
        chunk_size: int, stop: Stop,
    ) -> None:
        self.bureau = bureau
        self.dry_run = dry_run
        self.progress = progress
        self.chunk_size = chunk_size
        self.stop = stop
        self.last_line = 0  # the last line taken
        self.read_all = False  # every record has been taken
        self.report = ImportReport(dry_run=dry_run)
        self.named: dict[str, int] = {}  # every reference the file names -> its first line
        self.keys: dict[str, int] = {}  # the import key of every good record -> its first line
        self.chunk: list[tuple[int, Rows]] = []
        self.unnamed: list[tuple[int, Rows]] = []
        self.done = 0
        self.prefixes = {t.ref_prefix for t in bureau.types.values()}

    def take(self, outcomes: Iterable[Outcome]) -> None:
        for line, ref, result in outcomes:
            self.last_line = line
            if not isinstance(result, RecordError):
                key = _key_of(result)
                first_seen = self.keys.get(key)
                if first_seen is not None:
                    self.report.skipped.append(_already_imported(
                        line, ref, f"the same record as line {first_seen} of this file"))
                    self.finished(1)
                    continue
            if ref is not None:
                first = self.named.setdefault(ref, line)
                if first != line:
                    result = RecordError.of(line, ref, Conflict(
                        f"reference {ref!r} is already used on line {first} of this file",
                        ["a new reference"],
                    ))
            if isinstance(result, RecordError):
                self.report.errors.append(result)
                self.finished(1)
                continue
            self.keys[_key_of(result)] = line
            if ref is None:
                self.unnamed.append((line, result))
            else:
                self.chunk.append((line, result))
                if len(self.chunk) >= self.chunk_size:
                    self.write_named()

    def check(self) -> None:
        """Stop here, between two transactions, if asked to."""
        if self.stop():
            interrupted = self.interrupted()
            if interrupted.onwards is not None or interrupted.unnamed:  # else all is done
                raise interrupted

    def interrupted(self) -> ImportInterrupted:
        """What was committed, and from where on nothing was: every record before that line
        is settled (committed, failed or skipped) except the unnamed ones still waiting."""
        waiting = [line for line, _ in self.chunk]
        if not self.read_all:
            waiting.append(self.last_line + 1)
        onwards = min(waiting, default=None)
        unnamed = [line for line, _ in self.unnamed if onwards is None or line < onwards]
        return ImportInterrupted(committed=0 if self.dry_run else self.report.imported,
                                 onwards=onwards, unnamed=unnamed, dry_run=self.dry_run)

    def finished(self, count: int) -> None:
        before, self.done = self.done, self.done + count
        if self.progress is not None and before // PROGRESS_EVERY != self.done // PROGRESS_EVERY:
            self.progress(self.done)

    def _retrying(self, write: Callable[[], _T]) -> _T:
        """``write()``, again when a concurrent import stored one of its cases first."""
        for _ in range(WRITE_ATTEMPTS - 1):
            try:
                return write()
            except sa.exc.IntegrityError:
                # PostgreSQL: another import stored one of these references or records after
                # we looked; we waited on its unique index until it committed, so the next
                # look sees it (SQLite cannot get here: its writers queue at BEGIN IMMEDIATE)
                continue
        return write()  # the last attempt: a failure now is no race

    def write_named(self) -> None:
        """Store cases that carry their own references, unless one is already taken."""
        chunk, self.chunk = self.chunk, []
        if not chunk:
            return
        keep, skipped, errors = self._retrying(partial(self._write_named, chunk))
        self.report.skipped.extend(skipped)
        self.report.errors.extend(errors)
        self.report.imported += len(keep)
        self.finished(len(chunk))

    def _write_named(
        self, chunk: list[tuple[int, Rows]]
    ) -> tuple[list[Rows], list[RecordError], list[RecordError]]:
        keep: list[Rows] = []
        skipped: list[RecordError] = []
        errors: list[RecordError] = []
        with self.bureau.unit_of_work(write=not self.dry_run) as uow:
            stored = bulk.import_keys_of(uow.connection, [rows.ref for _, rows in chunk])
            for line, rows in chunk:
                if rows.ref not in stored:
                    keep.append(rows)
                elif stored[rows.ref] == rows.import_key:  # the key covers the reference
                    skipped.append(_already_imported(line, rows.ref,
                                                     f"already imported as case {rows.ref}"))
                else:
                    errors.append(RecordError.of(line, rows.ref, _taken(rows.ref,
                                                                        stored[rows.ref])))
            if not self.dry_run and keep:
                bulk.insert_rows(uow.connection, keep)
                repository.advance_ref_counters(uow.connection, [r.ref for r in keep],
                                                self.prefixes)
                uow.commit()
        return keep, skipped, errors

    def write_unnamed(self) -> None:
        """Store cases under references generated now, past every one the file names."""
        while self.unnamed:
            self.check()
            chunk = self.unnamed[: self.chunk_size]
            del self.unnamed[: self.chunk_size]
            keep, skipped = self._retrying(partial(self._name_and_insert, chunk))
            self.report.skipped.extend(skipped)
            self.report.imported += len(keep)
            self.finished(len(chunk))

    def _name_and_insert(
        self, chunk: list[tuple[int, Rows]]
    ) -> tuple[list[Rows], list[RecordError]]:
        with self.bureau.unit_of_work(write=not self.dry_run) as uow:
            imported = bulk.imported_refs(uow.connection, [_key_of(r) for _, r in chunk])
            skipped = [_already_imported(line, ref, f"already imported as case {ref}")
                       for line, rows in chunk
                       if (ref := imported.get(_key_of(rows))) is not None]
            keep = [rows for _, rows in chunk if _key_of(rows) not in imported]
            if self.dry_run or not keep:
                return keep, skipped
            groups: dict[tuple[str, int], list[Rows]] = defaultdict(list)
            for rows in keep:
                prefix = self.bureau.case_type(rows.type).ref_prefix
                groups[(prefix, rows.opened_on.year)].append(rows)
            for (prefix, year), group in sorted(groups.items()):
                refs = repository.allocate_refs(uow.connection, prefix, year, len(group),
                                          reserved=self.named)
                for rows, ref in zip(group, refs, strict=True):
                    rows.ref = ref
            bulk.insert_rows(uow.connection, keep)
            uow.commit()
        return keep, skipped


def _key_of(rows: Rows) -> str:
    assert rows.import_key is not None  # every record replayed here has one
    return rows.import_key


def _already_imported(line: int, ref: str | None, message: str) -> RecordError:
    return RecordError(line, ref, ALREADY_IMPORTED, message)


def _taken(ref: str, stored_key: str | None) -> Conflict:
    if stored_key is None:
        return Conflict(f"a case {ref!r} already exists", ["a new reference"])
    return Conflict(f"a case {ref!r} was already imported from a different record (this line "
                    "differs from it)", ["a new reference", "the record as first imported"])


# -- the service -----------------------------------------------------------------------------


def _batches(records: Iterable[RawRecord | Mapping[str, object]]) -> Iterator[list[RawRecord]]:
    batch: list[RawRecord] = []
    for number, item in enumerate(records, start=1):
        batch.append(item if isinstance(item, RawRecord) else RawRecord(number, data=item))
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def can_fork() -> bool:
    """Whether worker processes can share this process's declarations (fork, on Linux)."""
    return sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()


def default_workers(records: int) -> int:
    """Worker processes for an import of about ``records`` records (1: none)."""
    if records < PARALLEL_FROM or not can_fork():
        return 1
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


def import_records(
    bureau: Bureau,
    records: Iterable[RawRecord | Mapping[str, object]],
    *,
    now: datetime,
    dry_run: bool = False,
    by: str = "",
    progress: Progress | None = None,
    chunk_size: int = CHUNK,
    workers: int = 1,
    stop: Stop | None = None,
) -> ImportReport:
    """Import ``records`` (from `read_jsonl`/`read_csv`, or mappings numbered from 1).

    Records that name their reference are written as they come, ``chunk_size`` per transaction;
    those without one are written last, once every reference the file names is known, so a
    generated reference never takes one of them. With ``workers`` > 1 the pure work runs in
    that many forked processes. ``stop`` is asked between batches and chunks: once it says so,
    queued work is dropped and `ImportInterrupted` says what was committed.
    """
    replayer = _Replayer(bureau, now=now, by=by)
    writer = _Writer(bureau, dry_run=dry_run, progress=progress,
                     chunk_size=chunk_size, stop=stop or (lambda: False))
    if workers <= 1 or not can_fork():
        for batch in _batches(records):
            writer.check()
            writer.take(replayer.batch(batch))
    else:
        _replay_in_workers(replayer, writer, records, workers)
    writer.read_all = True
    writer.check()
    writer.write_named()
    writer.write_unnamed()
    if progress is not None:
        progress(writer.done)
    writer.report.errors.sort(key=lambda e: e.line)
    writer.report.skipped.sort(key=lambda e: e.line)
    return writer.report


def _replay_in_workers(
    replayer: _Replayer, writer: _Writer, records: Iterable[RawRecord | Mapping[str, object]],
    workers: int,
) -> None:
    """Replay in forked worker processes, batch by batch; take the outcomes in file order."""
    global _CHILD
    _CHILD = replayer
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                               initializer=_child_started, initargs=(os.getpid(),))
    try:
        try:
            pending: deque[Future[list[Outcome]]] = deque()
            for batch in _batches(records):
                writer.check()
                pending.append(pool.submit(_child_batch, batch))
                if len(pending) > IN_FLIGHT * workers:
                    writer.take(pending.popleft().result())
            while pending:
                writer.check()
                writer.take(pending.popleft().result())
        except BrokenProcessPool as broken:
            if writer.stop():  # a signal to the whole process group ended the workers too
                raise writer.interrupted() from broken
            raise
    except BaseException:
        # queued batches are dropped; each worker ends after the batch in hand, and no one
        # waits for it (a process that exits meanwhile takes its workers along)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    else:
        pool.shutdown()
    finally:
        _CHILD = None


def import_file(
    bureau: Bureau,
    path: Path,
    *,
    now: datetime,
    dry_run: bool = False,
    by: str = "",
    progress: Progress | None = None,
    chunk_size: int = CHUNK,
    workers: int | None = None,
    stop: Stop | None = None,
    who: Identity | None = None,
) -> ImportReport:
    """Import the CSV or JSON Lines file at ``path`` (`UnreadableFile` if it cannot be read).

    ``workers``: worker processes for the pure work; by default none for a short file and one
    per available core for a long one. ``stop``: as for `import_records`. ``who``: the user
    importing, judged like every write (`flows.services.acting`, `states.roles.may_import`).
    """
    with bureau.unit_of_work(write=False) as uow:
        person = acting(uow.connection, who)
    if person is not None:
        may_import(person)
    if workers is None:
        workers = default_workers(count_records(path))
    with _open(path) as stream:
        try:
            fmt = sniff_format(path, stream.peek(4096)[:4096])
        except OSError as exc:
            raise _unreadable(path, exc) from None
        return import_records(bureau, read_records(stream, fmt), now=now, dry_run=dry_run,
                              by=by, progress=progress, chunk_size=chunk_size, workers=workers,
                              stop=stop)
