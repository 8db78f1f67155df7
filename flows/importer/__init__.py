"""Import of historical and carry-over cases (`caseflow case import FILE`).

A bureau brings its open cases when it starts. Each record is one case with its events
(`flows.importer.records`: the record's shape as pydantic models), read from CSV or JSON Lines
(`flows.importer.files`); every event is replayed in memory through the same rules as a clerk's
`advance` (`flows.importer.replay`), and the cases that replay cleanly are written in chunks
(`flows.importer.writer`, `models.bulk`), stored exactly as if they had been opened and
advanced one by one: same columns, same hash chain. A record with any error is reported with
its line number and nothing of it is kept; every good record is kept (with ``dry_run``,
everything is checked and nothing is written). Rules: every date is a legal date no later than
today (as of ``now``) and no earlier than the case's previous event; a reference must be new to
the database and to the file; a record imported before is skipped, never written twice.

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
and writes chunks in order. Results do not depend on the number of workers. Workers end with
this process however it ends (SIGKILL included), and ignore Ctrl-C, which this process answers
for them: nothing is left holding its output open.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from pathlib import Path

from flows.context import Bureau
from flows.importer.files import (
    MAX_NESTING,
    RawRecord,
    UnreadableFile,
    count_records,
    read_csv,
    read_jsonl,
    reading,
    sniff_format,
)
from flows.importer.records import (
    CaseRecord,
    EventRecord,
    InvalidRecord,
    RecordError,
    import_key,
    parse_record,
)
from flows.importer.replay import Outcome, Replayer
from flows.importer.writer import (
    ALREADY_IMPORTED,
    ImportInterrupted,
    ImportReport,
    Progress,
    Stop,
    Writer,
)
from flows.services import acting
from states.roles import Identity, may_import

__all__ = [
    "ALREADY_IMPORTED", "MAX_NESTING", "CaseRecord", "EventRecord", "ImportInterrupted",
    "ImportReport", "InvalidRecord", "Progress", "RawRecord", "RecordError", "Stop",
    "UnreadableFile", "can_fork", "count_records", "default_workers", "import_file",
    "import_key", "import_records", "parse_record", "read_csv", "read_jsonl", "sniff_format",
]

CHUNK = 2_000  # records per transaction
BATCH = 250  # records per task of a worker process
IN_FLIGHT = 8  # tasks queued per worker, so workers keep busy while a chunk is written
PARALLEL_FROM = 5_000  # records from which `import_file` replays in worker processes
MAX_WORKERS = 8
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_CHILD: Replayer | None = None  # what a forked worker process replays with


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
    replayer = Replayer(bureau, now=now, by=by)
    writer = Writer(bureau, dry_run=dry_run, progress=progress,
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
    replayer: Replayer, writer: Writer, records: Iterable[RawRecord | Mapping[str, object]],
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
    with reading(path) as records:
        return import_records(bureau, records, now=now, dry_run=dry_run, by=by,
                              progress=progress, chunk_size=chunk_size, workers=workers,
                              stop=stop)
