"""Parsing of command-line values into domain values, with the contract's usage errors."""

from __future__ import annotations

import re
from datetime import date, datetime, time

from deployments.cli.output import UsageProblem
from states.calendar import SHANGHAI, Unit

# `date.fromisoformat` (3.11+) also takes 20240927, 2024-W39-5 and non-ASCII digits; the contract's
# dates are YYYY-MM-DD only. `int()` likewise takes " 5", "5_0" and "٥".
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def parse_date(text: str, what: str = "DATE") -> date:
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:  # 2024-13-01, 2024-02-30
            pass
    raise UsageProblem(f"{what} {text!r} is not a date", ["YYYY-MM-DD, e.g. 2024-09-27"])


def parse_days(text: str, *, low: int = 1, high: int = 3650, what: str = "N") -> int:
    if not _WHOLE_NUMBER.fullmatch(text):
        raise UsageProblem(f"{what} {text!r} is not a whole number", [f"{low}..{high}"])
    days = int(text)
    if not low <= days <= high:
        raise UsageProblem(f"{what} {days} is out of range", [f"{low}..{high}"])
    return days


def parse_unit(text: str) -> Unit:
    try:
        return Unit(text)
    except ValueError:
        raise UsageProblem(f"--unit {text!r} is not a unit", [u.value for u in Unit]) from None


def parse_settings(pairs: list[str] | None) -> dict[str, str]:
    """``--set KEY=VALUE`` options as a dict; a malformed or repeated key is a usage error."""
    values: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageProblem(f"--set {pair!r} is not KEY=VALUE", ["--set KEY=VALUE"])
        if key in values:
            raise UsageProblem(f"--set {key} is given twice", [f"--set {key}=VALUE once"])
        values[key] = value
    return values


def parse_instant(text: str | None, default: datetime) -> datetime:
    """``--now``: ISO 8601 with offset; without one it is Asia/Shanghai time, and a bare date
    is the start of that legal day."""
    if text is None:
        return default
    try:
        if len(text) == 10:
            instant = datetime.combine(date.fromisoformat(text), time.min)
        else:
            instant = datetime.fromisoformat(text)
    except ValueError:
        raise UsageProblem(
            f"--now {text!r} is not a timestamp",
            ["ISO 8601, e.g. 2024-10-11T09:30:00+08:00 or 2024-10-11"],
        ) from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=SHANGHAI)
    return instant
