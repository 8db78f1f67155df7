"""The closure report (结案率, DESIGN §7): what the CLI, the Prefect flow and the demo call.

    report = closure_report(bureau, date(2024, 1, 1), date(2024, 5, 31), by="department")
    report.to_json()                       # CONTRACT.md's document
    write_closure_report(bureau, report, Path("out"))   # JSON, CSV, PNG and SVG chart

The store counts (`models.reports`), `states.report` does the arithmetic; nothing here loads a
case. A breakdown by month is the report of each month of the period (cut to the period).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from flows.context import Bureau
from models.reports import closure_counts
from states.casetype import CaseType
from states.errors import InvalidInput
from states.report import (
    AGE_BUCKETS,
    DEEMED,
    ClosureCounts,
    ClosureReport,
    ClosureRow,
    check_grouping,
    check_period,
    months,
)

SQLITE_MMAP_BYTES = 1 << 32
CSV_FIGURES = ("carried_over", "accepted", "handled", "closed", "closure_rate", "withdrawn",
               "withdrawn_share", "closed_on_time", "on_time_rate", "open_at_end",
               "overdue_open")


@contextmanager
def reading(bureau: Bureau) -> Iterator[sa.Connection]:
    """One read transaction for every statement of a report, so that its figures agree with
    each other while clerks keep writing (a snapshot on PostgreSQL, as on SQLite in WAL)."""
    with bureau.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            # a report's statements run once: compiling them (JIT) costs more than it saves
            connection.exec_driver_sql("SET LOCAL jit = off")
        else:
            # a report reads far more pages than SQLite's page cache holds: map the file
            # instead of a system call per page (a setting of this connection only)
            connection.exec_driver_sql(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        # the first statement begins the transaction; leaving the block rolls it back
        yield connection


def _types(bureau: Bureau, case_type: str | None) -> dict[str, CaseType]:
    if case_type is None:
        return dict(bureau.types)
    if case_type not in bureau.types:
        raise InvalidInput(f"--type {case_type!r} is not a case type", sorted(bureau.types))
    return {case_type: bureau.types[case_type]}


def _rows(types: dict[str, CaseType], counts: dict[tuple[str, str | None], ClosureCounts],
          group: str | None, value_of: Any = None) -> list[ClosureRow]:
    rows = []
    for (type_name, value), c in counts.items():
        label = types[type_name].label
        key = None if group is None else (group, value_of if value_of is not None else value)
        rows.append(ClosureRow(type_name, label, c, key))
    order = list(types)
    rows.sort(key=lambda r: (order.index(r.type), "" if r.group is None else str(r.group[1])))
    return rows


def closure_report(
    bureau: Bureau, start: date, end: date, *, case_type: str | None = None,
    by: str | None = None,
) -> ClosureReport:
    """The closure report over [start, end] judged as of the end of ``end``: a row per case type
    (every type, or ``case_type``), and a breakdown by ``department``, ``handler`` or ``month``
    when ``by`` is given. Bad input (an empty period, an unknown type or breakdown) raises
    `InvalidInput` before anything is read."""
    check_period(start, end)
    check_grouping(by)
    types = _types(bureau, case_type)
    breakdown: list[ClosureRow] = []
    with reading(bureau) as connection:
        totals = closure_counts(connection, types, start, end)
        # a type with no case at all still has its row, of zeros
        for name in types:
            totals.setdefault((name, None), ClosureCounts())
        rows = _rows(types, totals, None)
        if by == "month":
            for month, first, last in months(start, end):
                found = closure_counts(connection, types, first, last)
                for name in types:
                    found.setdefault((name, None), ClosureCounts())
                breakdown += _rows(types, found, "month", month)
        elif by is not None:
            breakdown = _rows(types, closure_counts(connection, types, start, end, by), by)
    return ClosureReport(start, end, tuple(rows), by, tuple(breakdown))


def csv_text(report: ClosureReport) -> str:
    """The report as CSV: one line per row, then one per row of the breakdown, with columns for
    the breakdown's key, the ageing buckets, the deemed outcomes and the extensions."""
    group = report.by or "group"
    header = ["type", group, *CSV_FIGURES, *(f"age_{name}" for name, _, _ in AGE_BUCKETS),
              *DEEMED, "extensions"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for doc in [r.to_json() for r in (*report.rows, *report.breakdown)]:
        writer.writerow([
            doc["type"], doc.get(group, "") if group in doc else "",
            *("" if doc[k] is None else doc[k] for k in CSV_FIGURES),
            *(doc["ageing"][name] for name, _, _ in AGE_BUCKETS),
            *(doc["deemed"][name] for name in DEEMED), doc["extensions"],
        ])
    return out.getvalue()


@dataclass(frozen=True)
class ReportFiles:
    """What `write_closure_report` wrote, and any warning about it (e.g. no CJK font)."""

    json: Path
    csv: Path
    png: Path
    svg: Path
    warnings: tuple[str, ...] = ()

    def paths(self) -> list[Path]:
        return [self.json, self.csv, self.png, self.svg]


def monthly(bureau: Bureau, report: ClosureReport) -> ClosureReport:
    """The report's month breakdown: itself when it has one, else computed."""
    if report.by == "month":
        return report
    types = [row.type for row in report.rows]
    only = types[0] if len(types) == 1 and len(bureau.types) > 1 else None
    return closure_report(bureau, report.start, report.end, case_type=only, by="month")


def write_closure_report(
    bureau: Bureau, report: ClosureReport, folder: Path, *, stem: str = "closure-report"
) -> ReportFiles:
    """Write ``report`` into ``folder`` (created if needed) as ``<stem>.json``, ``<stem>.csv``
    and the chart of closure and on-time rates by month per type, ``<stem>.png`` and
    ``<stem>.svg`` (Chinese labels when a CJK font is installed, else English ones and a
    warning)."""
    from flows.chart import draw_rates

    folder.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(folder / f"{stem}.json", folder / f"{stem}.csv",
                        folder / f"{stem}.png", folder / f"{stem}.svg")
    files.json.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2) + "\n",
                          encoding="utf-8")
    files.csv.write_text(csv_text(report), encoding="utf-8")
    warnings = draw_rates(monthly(bureau, report), [files.png, files.svg])
    return ReportFiles(files.json, files.csv, files.png, files.svg, tuple(warnings))
