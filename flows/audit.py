"""The supervisor's audit (DESIGN §1, §7): who is late, a clerk's desk, and the hash chains.

    overdue_clocks(bureau, judged_on)        # every clock running past its due date
    clerk_desk(bureau, "王", start, end, today)  # open cases by deadline, closed ones, on time
    verify_all(bureau)                       # every case's chain (services.verify), summarised
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flows import services
from flows.context import Bureau
from flows.reports import reading
from models import audit
from models.chain import ChainCheck
from states.clocks import Owner
from states.report import check_period, rate


def overdue_clocks(bureau: Bureau, judged_on: date, *, case_type: str | None = None,
                   department: str | None = None) -> list[dict[str, Any]]:
    """Every clock running past its due date on legal date ``judged_on`` (a notice never is),
    as things stood that day, most overdue first: CONTRACT.md's audit document."""
    types = [bureau.case_type(case_type)] if case_type else list(bureau.types.values())
    clocks = {t.name: [c.name for c in t.clocks if not c.notice] for t in types}
    with reading(bureau) as connection:
        rows = audit.overdue_cycles(connection, judged_on, clocks, department=department)
        rungs = audit.rungs_of(connection, [(r["case_id"], r["clock"], r["cycle"])
                                            for r in rows], judged_on)
    found = []
    for r in rows:
        spec = bureau.case_type(r["type"]).clock_map[r["clock"]]
        found.append({
            "ref": r["ref"], "type": r["type"], "clock": r["clock"], "label": spec.label,
            "cycle": r["cycle"], "started_on": r["started_on"].isoformat(),
            "due_on": r["due_on"].isoformat(), "days_overdue": (judged_on - r["due_on"]).days,
            "owed_by": spec.owed_by.value, "handler": r["handler"],
            "department": r["department"],
            "rungs": rungs[(r["case_id"], r["clock"], r["cycle"])],
        })
    return found


def clerk_desk(bureau: Bureau, handler: str, start: date, end: date,
               judged_on: date) -> dict[str, Any]:
    """A clerk's (承办人's) desk: their open cases by nearest running deadline (judged on
    ``judged_on``), the cases they closed in [start, end] and how many of those on time
    (no missed clock the bureau owes)."""
    check_period(start, end)
    types = dict(bureau.types)
    with reading(bureau) as connection:
        open_rows = audit.open_cases_of(
            connection, handler, {n: sorted(t.closed_states) for n, t in types.items()})
        cycles = audit.running_cycles_of(connection, [r["case_id"] for r in open_rows])
        closed_rows = audit.closed_cases_of(connection, handler, start, end, {
            n: [c.name for c in t.clocks if c.owed_by is Owner.BUREAU]
            for n, t in types.items()})
    type_of = {r["case_id"]: types[r["type"]] for r in open_rows}
    nearest: dict[int, tuple[date, str]] = {}
    for c in cycles:
        if type_of[c["case_id"]].clock_map[c["clock"]].notice:
            continue
        best = nearest.get(c["case_id"])
        if best is None or c["due_on"] < best[0]:
            nearest[c["case_id"]] = (c["due_on"], c["clock"])
    open_cases = []
    for r in open_rows:
        due = nearest.get(r["case_id"])
        open_cases.append({
            "ref": r["ref"], "type": r["type"], "state": r["state"],
            "next_clock": due[1] if due else None,
            "next_due": due[0].isoformat() if due else None,
            "days_left": (due[0] - judged_on).days if due else None,
        })
    open_cases.sort(key=lambda c: (c["next_due"] is None, c["next_due"] or "", c["ref"]))
    closed = [{"ref": r["ref"], "type": r["type"], "state": r["state"],
               "closed_on": r["closed_on"].isoformat(), "on_time": not r["late"]}
              for r in closed_rows]
    on_time = sum(1 for c in closed if c["on_time"])
    return {"user": handler, "from": start.isoformat(), "to": end.isoformat(),
            "judged_on": judged_on.isoformat(), "open": open_cases, "closed": closed,
            "closed_count": len(closed), "closed_on_time": on_time,
            "on_time_rate": rate(on_time, len(closed))}


@dataclass(frozen=True)
class VerifySummary:
    """Every case's hash chain checked: how many, which are broken, the first of them."""

    checked: int
    events: int
    broken: tuple[ChainCheck, ...]

    @property
    def ok(self) -> bool:
        return not self.broken

    def to_json(self) -> dict[str, Any]:
        broken = [{"ref": c.ref, "broken_at": c.broken_at, "problem": c.problem}
                  for c in self.broken]
        return {"ok": self.ok, "checked": self.checked, "verified": self.checked - len(broken),
                "events": self.events, "broken": broken,
                "first_broken": broken[0] if broken else None}

    def markdown(self) -> str:
        doc = self.to_json()
        lines = ["# 审计 hash chains", "",
                 f"{doc['verified']} of {doc['checked']} case chain(s) verify "
                 f"({doc['events']} events)."]
        if self.broken:
            first = doc["first_broken"]
            lines += ["", f"**First broken:** {first['ref']} at event {first['broken_at']}: "
                      f"{first['problem']}", "", "| case | event | problem |", "|---|---:|---|"]
            lines += [f"| {b['ref']} | {b['broken_at']} | {b['problem']} |"
                      for b in doc["broken"][:50]]
        return "\n".join(lines) + "\n"


def verify_all(bureau: Bureau) -> VerifySummary:
    """`services.verify` over every case, summarised (broken chains in reference order)."""
    checks = services.verify(bureau)
    broken = tuple(sorted((c for c in checks if not c.ok), key=lambda c: c.ref))
    return VerifySummary(len(checks), sum(c.events for c in checks), broken)
