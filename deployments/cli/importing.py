"""`caseflow case import FILE|-`: bring historical and carry-over cases in (flows.importer).

Registered on the `case` group by ``cases.app.command("import")(importing.import_)``. Exit codes:
0 every record is in the database (imported now, or skipped as already imported by an earlier
run: running a file again finishes what an interrupted run began); 3 some record failed (the
good ones are kept, the report names the failed ones by line); 2 the file cannot be read
(nothing imported). A progress bar goes to stderr when stderr is a terminal or the file is long,
never to stdout.

SIGINT (Ctrl-C) and SIGTERM stop the import between two transactions: the worker processes are
killed, one line on stderr says how many cases were committed and from which line on nothing
was imported, and the exit code is 128 + the signal's number (130, 143), as a shell reports a
process a signal ended. Running the same file again brings in the rest.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from deployments.cli.output import EXIT_RULE, emit_json, json_option
from deployments.cli.parsing import parse_user
from deployments.cli.state import runtime

if TYPE_CHECKING:
    from flows.importer import ImportReport

LONG_IMPORT = 10_000  # records from which a progress bar is shown even off a terminal
SKIPPED_LISTED = 20  # already imported records listed one by one; more are given as line ranges


@contextmanager
def _stop_on_signals() -> Iterator[list[int]]:
    """SIGINT and SIGTERM, while inside, ask the import to stop (the list holds the signals
    that came); outside, they do what they did before."""
    received: list[int] = []
    wanted = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum))
                for s in wanted}
    try:
        yield received
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def _progress(total: int) -> Iterator[Callable[[int], None]]:
    """A progress callback: a rich bar on stderr, or nothing for a short import off a terminal."""
    if not (sys.stderr.isatty() or total >= LONG_IMPORT):
        yield lambda done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    # redrawn by the callback, not by a thread: the importer may fork worker processes
    with Progress(
        TextColumn("importing 导入"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=Console(stderr=True), auto_refresh=False,
    ) as bar:
        task = bar.add_task("import", total=total)
        yield lambda done: bar.update(task, completed=min(done, total), refresh=True)


def import_(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE",
                               help="CSV or JSON Lines: one case with its events per record; "
                                    "- reads standard input."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Check every record and report; write nothing."),
    by: str = typer.Option(None, "--by", metavar="USER",
                           help="Who acts where a record names no one (default: the "
                                "operating-system user)."),
    as_json: bool = json_option(),
) -> None:
    """Import historical and carry-over cases from FILE, replaying every event through the rules.

    A record with any error is reported with its line and nothing of it is kept; the others are
    kept. A record imported before (by an earlier run, or earlier in FILE) is skipped and
    listed, never written twice. Exit 0 when every record was imported or already had been, 3
    when some failed, 2 when FILE cannot be read.
    """
    if file == "-":
        # spooled to a file: the importer reads it twice (a count for the progress bar, then
        # the records), and its format is told by its first character, as for a file without
        # a known suffix
        with tempfile.TemporaryDirectory(prefix="caseflow-import-") as folder:
            spooled = Path(folder) / "stdin"
            spooled.write_bytes(sys.stdin.buffer.read())
            _import(ctx, spooled, dry_run, by, as_json)
    else:
        _import(ctx, Path(file), dry_run, by, as_json)


def _import(
    ctx: typer.Context, path: Path, dry_run: bool, by: str | None, as_json: bool
) -> None:
    from flows import importer

    rt = runtime(ctx)
    who = rt.identity
    user = who.name if who is not None else parse_user(by)
    total = importer.count_records(path)  # an unreadable file stops here, before the database
    now = rt.now()
    bureau = rt.bureau
    stopped: importer.ImportInterrupted | None = None
    with _stop_on_signals() as signals, _progress(total) as progress:
        try:
            report = importer.import_file(bureau, path, now=now, dry_run=dry_run,
                                          by=user, progress=progress,
                                          workers=importer.default_workers(total),
                                          stop=lambda: bool(signals), who=who)
        except importer.ImportInterrupted as interrupted:
            stopped = interrupted  # said once the progress bar is gone
    if stopped is not None:
        signum = signals[0]
        if as_json:
            emit_json({"error": {"code": "interrupted", "message": stopped.message,
                                 "allowed": []}})
        sys.stderr.write(f"caseflow: {stopped.message} ({signal.Signals(signum).name})\n")
        sys.stdout.flush()
        sys.stderr.flush()
        # Not SystemExit: the interpreter's exit would wait for the worker processes' batches
        # in hand, forever if a signal to the whole group killed one half-way through sending
        # its result. Every transaction has ended; the workers end with this process.
        os._exit(128 + signum)
    if as_json:
        emit_json(report.to_json())
    else:
        _print(report)
    if report.failed:
        first = report.errors[0]
        kept = "nothing was written (dry run)" if dry_run else f"{report.imported} imported"
        if report.already_imported:
            kept += f", {report.already_imported} already imported before"
        records = report.imported + report.failed + report.already_imported
        line = (f"{report.failed} of {records} record(s) failed and were not imported; {kept}; "
                f"first: line {first.line}: {first.message}")
        sys.stderr.write("caseflow: " + " ".join(line.split()) + "\n")
        raise typer.Exit(EXIT_RULE)


def _print(report: ImportReport) -> None:
    skipped = (f"; {report.already_imported} already imported 已导入过 (skipped)"
               if report.already_imported else "")
    if report.dry_run:
        typer.echo(f"dry run 试导入: {report.imported} case(s) would be imported, "
                   f"{report.failed} record(s) failed{skipped}; nothing was written")
    else:
        typer.echo(f"imported 已导入 {report.imported} case(s); {report.failed} record(s) "
                   f"failed{skipped}")
    listed = report.errors + (report.skipped if report.already_imported <= SKIPPED_LISTED else [])
    for error in sorted(listed, key=lambda e: e.line):
        allowed = f" (allowed: {', '.join(error.allowed)})" if error.allowed else ""
        typer.echo(f"line {error.line}  {error.ref or '—'}  {error.code}: "
                   + " ".join((error.message + allowed).split()))
    if report.already_imported > SKIPPED_LISTED:
        lines = line_ranges(e.line for e in report.skipped)
        typer.echo(f"already imported 已导入过, not written again: lines {lines} "
                   "(--json lists each with its case)")


def line_ranges(lines: Iterable[int]) -> str:
    """``1-3, 7, 9-10`` for lines 1, 2, 3, 7, 9, 10."""
    ranges: list[list[int]] = []
    for line in sorted(lines):
        if ranges and line == ranges[-1][1] + 1:
            ranges[-1][1] = line
        else:
            ranges.append([line, line])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)
