"""Reading an import file: CSV or JSON Lines, into raw records numbered by their lines.

JSON Lines (``.jsonl``, ``.ndjson``, ``.json``): one object per line; blank lines are skipped,
and a line is decoded later (`decode_json`, in the worker that replays it).

CSV (``.csv``, or any file whose first character is not ``{``): a header row naming the
columns of the record (`flows.importer.records.RECORD_FIELDS`, any order; ``type`` and ``on``
required), then one case per row; ``attrs`` and ``events`` hold JSON, an empty cell means none.
A record's line is the line it starts on.

Text the store cannot keep (a NUL, bytes that are not UTF-8) and JSON nested deeper than
`MAX_NESTING` levels (a record needs four) are that record's error, never the whole import's;
a file that is no import file at all (binary data, a header naming unknown columns) is
`UnreadableFile`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from io import BufferedReader
from pathlib import Path
from typing import BinaryIO

from flows.importer.records import RECORD_FIELDS, InvalidRecord, RecordError
from states.errors import InvalidInput

_RISKY_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")  # NUL or a surrogate half
# A record nests four levels (record, events, an event, its attrs); JSON nested far deeper is no
# record, and past about a thousand levels Python's decoder (and every recursive walk of the
# value after it) stops with a RecursionError instead of an answer.
MAX_NESTING = 32
_TOO_DEEP = f"has nesting too deep (more than {MAX_NESTING} levels of [ and {{)"


class UnreadableFile(InvalidInput):
    code = "unreadable_file"


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record as read: its fields, a JSON line still to decode, or why it is unusable."""

    line: int
    data: Mapping[str, object] | None = None
    text: str | None = None
    problem: RecordError | None = None


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


def decode_json(text: str, what: str) -> object:
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
    """JSON Lines: one object per line, blank lines skipped (decoded later, by `decode_json`)."""
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
                data[name] = decode_json(cell, f"column {name}")
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
    with open_file(path) as stream:
        try:
            fmt = sniff_format(path, stream.peek(4096)[:4096])
            count = sum(1 for line in stream if line.strip())
        except OSError as exc:
            raise unreadable(path, exc) from None
    return max(count - 1, 0) if fmt == "csv" else count


def unreadable(path: Path, exc: OSError) -> UnreadableFile:
    return UnreadableFile(f"cannot read {str(path)!r}: {exc.strerror or exc}",
                          ["a readable CSV or JSON Lines file"])


def open_file(path: Path) -> BufferedReader:
    try:
        return path.open("rb")
    except OSError as exc:
        raise unreadable(path, exc) from None


@contextmanager
def reading(path: Path) -> Iterator[Iterator[RawRecord]]:
    """The records of the CSV or JSON Lines file at ``path``, read as they are used."""
    with open_file(path) as stream:
        try:
            fmt = sniff_format(path, stream.peek(4096)[:4096])
        except OSError as exc:
            raise unreadable(path, exc) from None
        yield read_records(stream, fmt)
