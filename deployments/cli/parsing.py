"""Parsing of command-line values into domain values, with the contract's usage errors."""

from __future__ import annotations

from datetime import date

from deployments.cli.output import UsageProblem
from states.calendar import Unit


def parse_date(text: str, what: str = "DATE") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageProblem(
            f"{what} {text!r} is not a date", ["YYYY-MM-DD, e.g. 2024-09-27"]
        ) from None


def parse_days(text: str, *, low: int = 1, high: int = 3650, what: str = "N") -> int:
    try:
        days = int(text)
    except ValueError:
        raise UsageProblem(f"{what} {text!r} is not a whole number", [f"{low}..{high}"]) from None
    if not low <= days <= high:
        raise UsageProblem(f"{what} {days} is out of range", [f"{low}..{high}"])
    return days


def parse_unit(text: str) -> Unit:
    try:
        return Unit(text)
    except ValueError:
        raise UsageProblem(f"--unit {text!r} is not a unit", [u.value for u in Unit]) from None
