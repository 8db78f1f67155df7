"""China's official working-day calendar (法定工作日) and the legal counting of periods.

Counting follows 民事诉讼法 art. 85 and 行政复议法 art. 88:

- the start day is not counted;
- N working days end on the N-th working day after the start date;
- N calendar days end on start + N, moved to the next working day when that is a rest day
  (a make-up working day, 调休上班, is a working day).

Official data comes from the ``chinesecalendar`` package (the State Council's yearly notices,
2004–2026), corrected or extended by ``states/data/calendar.toml`` and by any extra data the bureau
supplies. A year with no official data is *provisional*: weekends plus the statutory holidays
of 《全国年节及纪念日放假办法》 themselves (no bridge or make-up days); every result that
touches such a year says so.

Each year is expanded once into a prefix count of working days, so every question is an index
lookup: adding days, counting days between two dates and testing a day are all O(1).
"""

from __future__ import annotations

import threading
import tomllib
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from importlib import resources
from zoneinfo import ZoneInfo

from states.errors import CalendarRangeError, InvalidCalendarData

FIRST_YEAR = 2000
LAST_YEAR = 2099


class Unit(StrEnum):
    """How a period's days are counted: 工作日 or 自然日."""

    WORKING = "working"
    CALENDAR = "calendar"


@dataclass(frozen=True, slots=True)
class YearData:
    """One year's official arrangement: rest days on weekdays and make-up working days."""

    year: int
    rest_days: frozenset[date]
    working_days: frozenset[date]
    source: str = ""


@dataclass(frozen=True, slots=True)
class Due:
    """The end of a period and whether it rests on provisional calendar data."""

    due: date
    provisional: bool


@dataclass(frozen=True, slots=True)
class _Index:
    """Expanded years [first, last]: day offset -> workday flag and prefix count."""

    first: int
    last: int
    base: int  # ordinal of Jan 1 of `first`
    workday: bytes
    rank: array  # type: ignore[type-arg]  # rank[i] = working days in [base, base + i]
    workdays: array  # type: ignore[type-arg]  # ordinals of working days, ascending


def parse_calendar_data(text: str, *, origin: str = "calendar data") -> dict[int, YearData]:
    """Parse a calendar data file (TOML) into official years.

    Each ``[years.YYYY]`` table gives ``rest_days`` (every statutory rest day of the notice,
    weekends included or not) and ``working_days`` (the make-up working days on weekends); it
    replaces whatever the packaged data said of that year.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidCalendarData(f"{origin}: not valid TOML ({exc})") from exc
    tables = doc.get("years", {})
    if not isinstance(tables, dict):
        raise InvalidCalendarData(f"{origin}: 'years' must be a table of [years.YYYY] tables")
    years: dict[int, YearData] = {}
    for key, table in tables.items():
        try:
            year = int(key)
        except ValueError:
            raise InvalidCalendarData(f"{origin}: year {key!r} is not a number") from None
        if not isinstance(table, dict):
            raise InvalidCalendarData(f"{origin}: years.{key} must be a [years.{key}] table")
        rest = _parse_days(table.get("rest_days", []), year, origin, "rest_days")
        work = _parse_days(table.get("working_days", []), year, origin, "working_days")
        if rest & work:
            clash = min(rest & work).isoformat()
            raise InvalidCalendarData(f"{origin}: {clash} is both a rest and a working day")
        years[year] = YearData(year, rest, work, str(table.get("source", origin)))
    return years


def _parse_days(values: object, year: int, origin: str, field: str) -> frozenset[date]:
    if not isinstance(values, list):
        raise InvalidCalendarData(f"{origin}: {field} of {year} must be a list of dates")
    days = set()
    for value in values:
        # A TOML date-time is a datetime, which is a date subclass that never equals a date:
        # it would be accepted here and then silently match no day.
        if isinstance(value, date) and not isinstance(value, datetime):
            day = value
        else:
            day = _iso(str(value), origin, field)
        if day.year != year:
            raise InvalidCalendarData(f"{origin}: {field} of {year} lists {day.isoformat()}")
        days.add(day)
    return frozenset(days)


def _iso(text: str, origin: str, field: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidCalendarData(
            f"{origin}: {field} has {text!r}, not a YYYY-MM-DD date"
        ) from None


def chinesecalendar_years() -> dict[int, YearData]:
    """The official years the ``chinesecalendar`` package knows."""
    from chinese_calendar import constants

    rest: dict[int, set[date]] = {}
    work: dict[int, set[date]] = {}
    for day in constants.holidays:
        rest.setdefault(day.year, set()).add(day)
    for day in constants.workdays:
        work.setdefault(day.year, set()).add(day)
    return {
        year: YearData(year, frozenset(days), frozenset(work.get(year, ())), "chinesecalendar")
        for year, days in rest.items()
    }


def packaged_years() -> dict[int, YearData]:
    """chinesecalendar's years overlaid with the repository's ``states/data/calendar.toml``."""
    years = chinesecalendar_years()
    text = resources.files("states").joinpath("data/calendar.toml").read_text(encoding="utf-8")
    years.update(parse_calendar_data(text, origin="states/data/calendar.toml"))
    return years


def statutory_holidays(year: int) -> frozenset[date]:
    """The statutory holidays themselves (法定节假日) of a year without an official notice.

    Lunar and solar-term dates come from the ``holidays`` package; observed and bridge days are
    left out on purpose, since only the State Council's notice creates them.
    """
    import holidays

    found = holidays.country_holidays("CN", years=year, observed=False)
    # Where the package knows a notice it also lists its bridge days ("Day off (substituted
    # from …)"); those come from the notice, not from the law, so they are not taken here.
    return frozenset(day for day, name in found.items() if not name.startswith("Day off"))


class WorkCalendar:
    """Working days of mainland China, with legal period arithmetic.

    Thread-safe: years are expanded on first use under a lock and published as one immutable
    index, which readers take as a whole.
    """

    def __init__(self, official: Mapping[int, YearData] | None = None) -> None:
        self._official = dict(packaged_years() if official is None else official)
        self._lock = threading.Lock()
        self._index: _Index | None = None

    # -- questions about days ------------------------------------------------------------------

    def official_years(self) -> frozenset[int]:
        return frozenset(self._official)

    def is_provisional(self, year: int) -> bool:
        """True when the year has no official notice in the data."""
        return year not in self._official

    def is_workday(self, day: date) -> bool:
        index, offset = self._locate(day)
        return bool(index.workday[offset])

    def roll_forward(self, day: date) -> date:
        """The day itself if it is a working day, else the next working day."""
        index, offset = self._locate(day)
        if index.workday[offset]:
            return day
        return self._step(day, 1)

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (before it, for negative ``days``)."""
        if days < 0 and not self.is_workday(start):
            # A rest day shares its rank with the working day before it, which is already the
            # first working day before ``start``: one step fewer than from a working day.
            days += 1
        return self._step(start, days)

    def add_calendar_days(self, start: date, days: int) -> date:
        """``start + days``, moved to the next working day when that is a rest day."""
        return self.roll_forward(start + timedelta(days=days))

    def add(self, start: date, days: int, unit: Unit) -> date:
        if unit is Unit.WORKING:
            return self.add_working_days(start, days)
        return self.add_calendar_days(start, days)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when ``end`` is before ``start``."""
        index = self._covering(min(start.year, end.year), max(start.year, end.year))
        later: int = index.rank[end.toordinal() - index.base]
        earlier: int = index.rank[start.toordinal() - index.base]
        return later - earlier

    def days_between(self, start: date, end: date, unit: Unit) -> int:
        if unit is Unit.WORKING:
            return self.working_days_between(start, end)
        return (end - start).days

    def touches_provisional(self, start: date, end: date) -> bool:
        """True when any year from ``start`` to ``end`` (either order) lacks official data."""
        low, high = sorted((start.year, end.year))
        return any(year not in self._official for year in range(low, high + 1))

    def due(self, start: date, days: int, unit: Unit) -> Due:
        """The due date of a period and whether it depends on provisional data."""
        end = self.add(start, days, unit)
        return Due(end, self.touches_provisional(start, end))

    # -- the index -------------------------------------------------------------------------------

    def _locate(self, day: date) -> tuple[_Index, int]:
        index = self._covering(day.year, day.year)
        return index, day.toordinal() - index.base

    def _covering(self, first: int, last: int) -> _Index:
        index = self._index
        if index is None or first < index.first or last > index.last:
            index = self._grow(first, last)
        return index

    def _step(self, start: date, days: int) -> date:
        """The working day whose rank is ``days`` past ``start``'s, growing the index as needed."""
        index, offset = self._locate(start)
        while True:
            rank = index.rank[offset] + days
            if 1 <= rank <= len(index.workdays):
                return date.fromordinal(index.workdays[rank - 1])
            if rank < 1:
                index = self._grow(index.first - 1, index.last)
            else:
                index = self._grow(index.first, index.last + 1)
            offset = start.toordinal() - index.base

    def _grow(self, first: int, last: int) -> _Index:
        if first < FIRST_YEAR or last > LAST_YEAR:
            raise CalendarRangeError(first if first < FIRST_YEAR else last, FIRST_YEAR, LAST_YEAR)
        with self._lock:
            index = self._index
            if index is not None:
                if index.first <= first and last <= index.last:
                    return index
                first, last = min(first, index.first), max(last, index.last)
            index = self._build(first, last)
            self._index = index
            return index

    def _build(self, first: int, last: int) -> _Index:
        flags = bytearray()
        for year in range(first, last + 1):
            flags += self._year_flags(year)
        base = date(first, 1, 1).toordinal()
        rank = array("i", bytes(4 * len(flags)))
        workdays = array("i")
        count = 0
        for offset, flag in enumerate(flags):
            if flag:
                count += 1
                workdays.append(base + offset)
            rank[offset] = count
        return _Index(first, last, base, bytes(flags), rank, workdays)

    def _year_flags(self, year: int) -> bytearray:
        data = self._official.get(year)
        if data is None:
            rest, work = statutory_holidays(year), frozenset[date]()
        else:
            rest, work = data.rest_days, data.working_days
        start = date(year, 1, 1)
        flags = bytearray()
        for offset in range((date(year + 1, 1, 1) - start).days):
            day = start + timedelta(days=offset)
            working = (day.weekday() < 5 and day not in rest) or day in work
            flags.append(1 if working else 0)
        return flags


_default: WorkCalendar | None = None
_default_lock = threading.Lock()


def default_calendar() -> WorkCalendar:
    """The calendar of the packaged official data, built once per process."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = WorkCalendar()
    return _default


SHANGHAI = ZoneInfo("Asia/Shanghai")


def legal_date(instant: datetime) -> date:
    """The legal date (Asia/Shanghai) of an aware instant."""
    if instant.tzinfo is None:
        raise ValueError("legal_date needs an aware datetime")
    return instant.astimezone(SHANGHAI).date()


def end_of_day(day: date) -> datetime:
    """The last instant of a legal date, 23:59:59.999999 Asia/Shanghai: when a clock is due."""
    return datetime.combine(day, time.max, tzinfo=SHANGHAI)
