"""Checking references and writing an import's cases (the importing process only).

Outcomes are taken in file order. A reference must be new to the database and to the file (a
reference named again is refused on every later line, whether or not the first record
replays). Generated references skip every reference the file names, and a stored reference of
the form ``PREFIX-YEAR-NNNN`` moves that counter on (`models.repository`). Records without a
reference are written last, once every reference the file names is known. Each chunk is one
transaction: an import stopped half-way keeps the chunks already written. A chunk takes its
locks in the order every writer does (lawyers, reference counters, then its references in
ascending order), so imports and openings running at once wait for each other, never deadlock.

Importing again: each record has an import key (`flows.importer.records.import_key`), stored
with its case (unique). A record whose key is already stored, or belongs to an earlier good
record of the same file, is skipped as already imported (reported with its line and the case's
reference, not as a failure), so running a file again writes nothing twice and finishes what a
stopped run began. A record that names a reference stored under another key (a case opened by
hand, or imported from a record that differs) is refused as a conflict: a changed record is
never skipped silently. Two records without a reference that are identical in every field are
one record.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import sqlalchemy as sa

from flows import pool
from flows.context import Bureau
from flows.importer.records import RecordError
from flows.importer.replay import Outcome
from models import bulk, repository
from models.bulk import Rows
from models.errors import Conflict

WRITE_ATTEMPTS = 5  # a chunk's tries when concurrent imports race for its references
PROGRESS_EVERY = 250  # records between progress reports
ALREADY_IMPORTED = "already_imported"  # the code of a record skipped as already imported

Progress = Callable[[int], None]  # called with the number of records finished so far
Stop = Callable[[], bool]  # asked between batches: whether to stop (a signal came)
_T = TypeVar("_T")


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



class Writer:
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
            no_lawyer = pool.unknown_lawyers(uow.connection, chunk)  # `assign`'s gate
            for line, rows in chunk:
                if line in no_lawyer:
                    errors.append(RecordError.of(line, rows.ref, no_lawyer[line]))
                elif rows.ref not in stored:
                    keep.append(rows)
                elif stored[rows.ref] == rows.import_key:  # the key covers the reference
                    skipped.append(_already_imported(line, rows.ref,
                                                     f"already imported as case {rows.ref}"))
                else:
                    errors.append(RecordError.of(line, rows.ref, _taken(rows.ref,
                                                                        stored[rows.ref])))
            if not self.dry_run and keep:
                # every writer takes its locks in one order — lawyers, reference counters,
                # then the references themselves, ascending — or two could each hold what the
                # other waits for: an opening that drew a number from the counter waiting on
                # our row of that number while we waited on its counter, or two imports
                # naming the same references in opposite orders
                pool.lock_imported(uow.connection, keep)
                repository.advance_ref_counters(uow.connection, [r.ref for r in keep],
                                                self.prefixes)
                keep.sort(key=lambda rows: rows.ref)
                pool.record_imported(uow.connection, bulk.insert_rows(uow.connection, keep),
                                     keep)
                uow.commit()
        return keep, skipped, errors

    def write_unnamed(self) -> None:
        """Store cases under references generated now, past every one the file names."""
        while self.unnamed:
            self.check()
            chunk = self.unnamed[: self.chunk_size]
            del self.unnamed[: self.chunk_size]
            with self.bureau.unit_of_work(write=False) as uow:
                no_lawyer = pool.unknown_lawyers(uow.connection, chunk)  # `assign`'s gate
            self.report.errors.extend(RecordError.of(line, None, no_lawyer[line])
                                      for line, _ in chunk if line in no_lawyer)
            self.finished(len(no_lawyer))
            chunk = [(line, rows) for line, rows in chunk if line not in no_lawyer]
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
            pool.lock_imported(uow.connection, keep)  # before anything is written
            groups: dict[tuple[str, int], list[Rows]] = defaultdict(list)
            for rows in keep:
                prefix = self.bureau.case_type(rows.type).ref_prefix
                groups[(prefix, rows.opened_on.year)].append(rows)
            for (prefix, year), group in sorted(groups.items()):
                refs = repository.allocate_refs(uow.connection, prefix, year, len(group),
                                          reserved=self.named)
                for rows, ref in zip(group, refs, strict=True):
                    rows.ref = ref
            pool.record_imported(uow.connection, bulk.insert_rows(uow.connection, keep), keep)
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
