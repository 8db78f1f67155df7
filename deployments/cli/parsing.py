"""Parsing of command-line values into domain values, with the contract's usage errors."""

from __future__ import annotations

import getpass
import re
from datetime import date, datetime, time, timedelta

from deployments.cli.output import UsageProblem
from states.calendar import FIRST_YEAR, SHANGHAI, Unit

# `date.fromisoformat` (3.11+) also takes 20240927, 2024-W39-5 and non-ASCII digits; the contract's
# dates are YYYY-MM-DD only. `int()` likewise takes " 5", "5_0" and "٥".
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WHOLE_NUMBER = re.compile(r"-?[0-9]+")
# How far a `--now` may run ahead of this machine's clock: another machine's clock (a scheduler,
# a clerk's laptop) may be a little ahead. Beyond it, a sweep would record lapses and rungs that
# have not happened yet.
CLOCK_SKEW = timedelta(minutes=5)
# No case has an event before the calendar's first year (`case open` refuses it).
EARLIEST_NOW = datetime(FIRST_YEAR, 1, 1, tzinfo=SHANGHAI)


def parse_date(text: str, what: str = "DATE") -> date:
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError:  # 2024-13-01, 2024-02-30
            pass
    raise UsageProblem(f"{what} {text!r} is not a date", ["YYYY-MM-DD, e.g. 2024-09-27"])


def parse_days(text: str, *, low: int = 1, high: int = 3650, what: str = "N") -> int:
    if not WHOLE_NUMBER.fullmatch(text):
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


def parse_instant(text: str | None, now: datetime) -> datetime:
    """``--now``: ISO 8601 with offset; without one it is Asia/Shanghai time, and a bare date
    is the start of that legal day. ``now`` is the real time: the default, and the latest
    instant allowed (give or take `CLOCK_SKEW`)."""
    if text is None:
        return now
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
    latest = now + CLOCK_SKEW
    shown = latest.astimezone(SHANGHAI).replace(microsecond=0)
    allowed = [f"{EARLIEST_NOW.isoformat()}..{shown.isoformat()}"]
    # compared as they are: an instant near 0001-01-01 or 9999-12-31 cannot be converted to
    # another offset without overflowing
    if instant > latest:
        raise UsageProblem(f"--now {text!r} is later than the real time; caseflow judges and "
                           "records nothing ahead of the clock", allowed)
    if instant < EARLIEST_NOW:
        raise UsageProblem(f"--now {text!r} is before {FIRST_YEAR}, the calendar's first year",
                           allowed)
    return instant


def parse_user(by: str | None) -> str:
    """``--by USER``: who acts, recorded on every event; by default the operating-system user.
    An empty or blank name, or one too long for the events' column, is a usage error."""
    if by is None:
        try:
            return getpass.getuser()
        except Exception:  # no user name in this environment: still record something honest
            return "unknown"
    from models.tables import events

    longest = events.c.by.type.length  # the column it is recorded in (VARCHAR(80))
    name = by.strip()
    if not name or len(name) > longest or not name.isprintable():
        # PostgreSQL refuses a longer value mid-transaction (a traceback), SQLite would keep it
        raise UsageProblem(f"--by {by!r} is not a user name",
                           [f"1..{longest} printable characters"])
    return name
