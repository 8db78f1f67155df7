"""TEST HELPER shared by the demo's tests: DESIGN §7's seed figures counted straight from the
events of a SQLite database, in SQL. The lead replaces it by the real report
(`flows.reports.closure_report`) at merge."""

from __future__ import annotations

import sqlite3
from pathlib import Path

ADMITS = {"reconsideration": "e.trigger IN ('accept', 'deem_accepted')",
          "complaint": "e.seq = 1",
          "legal_aid": "(e.trigger IN ('approve', 'approve_provisionally') "
                       "OR (e.seq = 1 AND e.to_state = 'approved'))"}
CLOSED = {"reconsideration": ("rejected", "abandoned", "decided", "mediated", "withdrawn",
                              "terminated", "dismissed"),
          "complaint": ("not_accepted", "transferred", "withdrawn", "closed"),
          "legal_aid": ("denied", "withdrawn", "terminated", "closed")}


def seed_figures(db: Path, case_type: str, start: str, end: str) -> dict[str, int]:
    """carried_over: admitted before ``start``, not in a closed state on the eve of it;
    accepted: admitted within; closed: handled and, at ``end``, in a closed state reached on or
    after ``start``; withdrawn: of those, in ``withdrawn``. A state "as of" a day is the one the
    case's last event dated on or before it left."""
    closed = ", ".join(f"'{state}'" for state in CLOSED[case_type])
    as_of = """SELECT e.case_id, e.to_state, e."on" FROM events e WHERE e.seq = (
                 SELECT MAX(x.seq) FROM events x WHERE x.case_id = e.case_id AND x."on" {} ?)"""
    query = f"""
        WITH admitted AS (SELECT c.id, MIN(e."on") AS day FROM cases c
                          JOIN events e ON e.case_id = c.id
                          WHERE c.type = ? AND {ADMITS[case_type]} GROUP BY c.id),
             at_end AS ({as_of.format('<=')}),
             eve AS ({as_of.format('<')})
        SELECT COALESCE(SUM(a.day < ?), 0),
               COALESCE(SUM(a.day >= ?), 0),
               COALESCE(SUM(z.to_state IN ({closed}) AND z."on" >= ?), 0),
               COALESCE(SUM(z.to_state = 'withdrawn' AND z."on" >= ?), 0)
        FROM admitted a JOIN at_end z ON z.case_id = a.id LEFT JOIN eve v ON v.case_id = a.id
        WHERE a.day <= ? AND (a.day >= ? OR v.to_state IS NULL OR v.to_state NOT IN ({closed}))
    """
    with sqlite3.connect(db) as connection:
        carried, accepted, n_closed, withdrawn = connection.execute(
            query, (case_type, end, start, start, start, start, start, end, start)).fetchone()
    return {"carried_over": carried, "handled": carried + accepted, "closed": n_closed,
            "withdrawn": withdrawn}
