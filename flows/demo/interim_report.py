"""TEMPORARY — a stand-in for the closure report until `flows.reports` lands (branch `reports`).

At merge, `deployments/cli/demo.py`'s `closure_reports` and `write_report_files` call
`flows.reports.closure_report` and its file writer instead, and this module is deleted.

It counts DESIGN §7's seed figures from the cases' admission and closing dates (set from the
events as they are appended): carried over = admitted before ``start`` and not closed before it;
accepted = admitted within; closed = handled and closed within; withdrawn = closed as withdrawn.
Right for the demo's cases, none of which is reopened; the real report judges every case as of
the period's end from its events and clock cycles, and adds the on-time figures.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from flows.context import Bureau
from models.tables import CaseRow

KEYS = ("type", "carried_over", "accepted", "handled", "closed", "closure_rate", "withdrawn",
        "withdrawn_share", "closed_on_time", "on_time_rate", "open_at_end", "overdue_open")


def closure_report(bureau: Bureau, start: date, end: date, *, case_type: str) -> dict[str, Any]:
    """``{"from", "to", "rows": [...]}`` with the seed's figures (the on-time ones are null)."""
    c = CaseRow.__table__.c  # type: ignore[attr-defined]
    handled = sa.and_(c.admitted_on <= end,
                      sa.or_(c.admitted_on >= start, c.closed_on.is_(None), c.closed_on >= start))
    closed = sa.and_(handled, c.closed_on >= start, c.closed_on <= end)

    def count(condition: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    query = sa.select(
        count(sa.and_(handled, c.admitted_on < start)),
        count(sa.and_(handled, c.admitted_on >= start)),
        count(closed),
        count(sa.and_(closed, c.state == "withdrawn")),
    ).where(c.type == case_type)
    with bureau.unit_of_work(write=False) as uow:
        carried, accepted, n_closed, withdrawn = uow.connection.execute(query).one()
    n_handled = carried + accepted
    row = dict.fromkeys(KEYS)
    row.update(type=case_type, carried_over=carried, accepted=accepted, handled=n_handled,
               closed=n_closed, closure_rate=_rate(n_closed, n_handled), withdrawn=withdrawn,
               withdrawn_share=_rate(withdrawn, n_closed), open_at_end=n_handled - n_closed)
    return {"from": start.isoformat(), "to": end.isoformat(), "rows": [row]}


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def write_report_files(folder: Path, reports: list[dict[str, Any]]) -> list[Path]:
    """closure-report.json (the documents) and closure-report.csv (one line per row)."""
    folder.mkdir(parents=True, exist_ok=True)
    as_json, as_csv = folder / "closure-report.json", folder / "closure-report.csv"
    as_json.write_text(json.dumps(reports, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    with as_csv.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, ("from", "to", *KEYS))
        writer.writeheader()
        for report in reports:
            for row in report["rows"]:
                writer.writerow({"from": report["from"], "to": report["to"], **row})
    return [as_json, as_csv]
