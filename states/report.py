"""The arithmetic of the closure report (结案率, DESIGN §7) over counts the store has made.

The store counts (`models.reports`); this module turns counts into the report's figures:
handled, open at the end, the rates rounded half-up to 4 places, and the periods a report is
split into (months) or judges ages by. Pure values: no I/O, no clock.

    handled      = carried_over + accepted
    closure_rate = closed / handled
    withdrawn_share = withdrawn / closed
    on_time_rate = closed_on_time / closed
    open_at_end  = handled - closed

A rate over nothing (0 / 0) is None: "no case", not 0 %.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from typing import Any

from states.calendar import FIRST_YEAR, LAST_YEAR
from states.casetype import CaseType
from states.errors import InvalidInput

RATE_PLACES = 4
# ages of the cases open at the end of the period, in days since admission (受理之日起)
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30), ("31-60", 31, 60), ("61-90", 61, 90), (">90", 91, None),
)
DEEMED = ("deem_accepted", "deem_abandoned", "deem_withdrawn")  # 视为受理 / 放弃 / 撤回
EXTENDING = ("extend", "extend_supplement")  # 延长
# the rare events a partial index holds (`models.tables.REPORT_ACTS`): the acts counted, and the
# triggers of today's case types that reopen a closed case (恢复, 责令改正)
INDEXED_ACTS = (*DEEMED, *EXTENDING, "reinstate", "order_correction")
GROUPINGS = ("department", "handler", "month")


class InvalidPeriod(InvalidInput):
    code = "invalid_period"


def rate(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator`` rounded half-up to `RATE_PLACES` places (507/647 → 0.7836),
    in whole numbers, so that no binary float decides a tie; None when nothing is
    counted."""
    if denominator == 0:
        return None
    scale: int = 10**RATE_PLACES
    # floor(n/d * scale + 1/2), in whole numbers
    rounded = (2 * numerator * scale + denominator) // (2 * denominator)
    return rounded / scale


def reopening_triggers(case_type: CaseType) -> tuple[str, ...]:
    """The triggers that take a case of this type out of a closed state (reinstate after a
    deemed abandonment, order_correction after an upheld objection): a case that never had one
    stayed closed from the day it first closed."""
    closed = case_type.closed_states
    return tuple(sorted({t.trigger for t in case_type.transitions
                         if t.dest is not None and t.dest not in closed
                         and closed.intersection(t.source)}))


def check_period(start: date, end: date) -> None:
    """A period the report can judge: in the calendar's years (no case is older; a day before
    0001-01-01 cannot even be counted), and not ending before it starts."""
    for day in (start, end):
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise InvalidPeriod(f"{day.isoformat()} is outside the years a report covers",
                                [f"{FIRST_YEAR}-01-01..{LAST_YEAR}-12-31"])
    if start > end:
        raise InvalidPeriod(
            f"the period {start.isoformat()}..{end.isoformat()} ends before it starts",
            ["--from DATE --to DATE with --from on or before --to"],
        )


def check_grouping(by: str | None) -> None:
    if by is not None and by not in GROUPINGS:
        raise InvalidInput(f"--by {by!r} is not a breakdown", list(GROUPINGS))


def months(start: date, end: date) -> Iterator[tuple[str, date, date]]:
    """The calendar months the period touches, each cut to the period: (YYYY-MM, first, last)."""
    check_period(start, end)
    first = start
    while first <= end:
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        last = min(end, following - timedelta(days=1))
        yield f"{first.year:04d}-{first.month:02d}", first, last
        first = following


def age_bounds(end: date) -> list[tuple[str, date | None, date]]:
    """For each age bucket, the admission dates whose age on ``end`` falls in it:
    (bucket, earliest admitted_on or None, latest admitted_on). An age is ``end - admitted_on``
    in calendar days, so a case admitted on the last day is 0 days old."""
    return [
        (name, None if high is None else end - timedelta(days=high), end - timedelta(days=low))
        for name, low, high in AGE_BUCKETS
    ]


@dataclass(frozen=True)
class ClosureCounts:
    """What the store counts for one row (a type, or a type and a group), as of ``end``."""

    carried_over: int = 0
    accepted: int = 0
    closed: int = 0
    withdrawn: int = 0
    closed_on_time: int = 0
    overdue_open: int = 0
    ages: Mapping[str, int] = field(default_factory=dict)
    deemed: Mapping[str, int] = field(default_factory=dict)
    extensions: int = 0

    def __add__(self, other: ClosureCounts) -> ClosureCounts:
        plain = {f.name: getattr(self, f.name) + getattr(other, f.name)
                 for f in fields(self) if f.name not in ("ages", "deemed")}
        return ClosureCounts(
            **plain,
            ages={k: self.ages.get(k, 0) + other.ages.get(k, 0)
                  for k in dict.fromkeys([*self.ages, *other.ages])},
            deemed={k: self.deemed.get(k, 0) + other.deemed.get(k, 0)
                    for k in dict.fromkeys([*self.deemed, *other.deemed])},
        )


@dataclass(frozen=True)
class ClosureRow:
    """One row of the report: a case type, optionally one group of a breakdown."""

    type: str
    label: str
    counts: ClosureCounts
    group: tuple[str, str | None] | None = None  # ("department", "行政复议科"), ("month", …)

    @property
    def handled(self) -> int:
        return self.counts.carried_over + self.counts.accepted

    @property
    def open_at_end(self) -> int:
        return self.handled - self.counts.closed

    def to_json(self) -> dict[str, Any]:
        c = self.counts
        doc: dict[str, Any] = {"type": self.type}
        if self.group is not None:
            doc[self.group[0]] = self.group[1]
        doc.update({
            "label": self.label,
            "carried_over": c.carried_over,
            "accepted": c.accepted,
            "handled": self.handled,
            "closed": c.closed,
            "closure_rate": rate(c.closed, self.handled),
            "withdrawn": c.withdrawn,
            "withdrawn_share": rate(c.withdrawn, c.closed),
            "closed_on_time": c.closed_on_time,
            "on_time_rate": rate(c.closed_on_time, c.closed),
            "open_at_end": self.open_at_end,
            "overdue_open": c.overdue_open,
            "ageing": {name: c.ages.get(name, 0) for name, _, _ in AGE_BUCKETS},
            "deemed": {name: c.deemed.get(name, 0) for name in DEEMED},
            "extensions": c.extensions,
        })
        return doc


@dataclass(frozen=True)
class ClosureReport:
    """The closure report over [start, end]: rows per type, and a breakdown when asked."""

    start: date
    end: date
    rows: tuple[ClosureRow, ...]
    by: str | None = None
    breakdown: tuple[ClosureRow, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """CONTRACT.md's document (``from``, ``to``, ``rows``), with the breakdown added."""
        doc: dict[str, Any] = {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "rows": [row.to_json() for row in self.rows],
        }
        if self.by is not None:
            doc["by"] = self.by
            doc["breakdown"] = [row.to_json() for row in self.breakdown]
        return doc
