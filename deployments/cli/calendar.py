"""`caseflow calendar`: the official working-day calendar, legal period arithmetic, and
re-projecting running clocks when the calendar data changes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from deployments.cli.output import emit_json, json_option
from deployments.cli.parsing import WHOLE_NUMBER, parse_date, parse_days, parse_unit
from deployments.cli.state import runtime
from states.calendar import FIRST_YEAR, LAST_YEAR
from states.errors import CalendarRangeError, InvalidCalendarData

app = typer.Typer(help="China's official working-day calendar (法定工作日) and due dates.",
                  no_args_is_help=True)


class _NumberArgument(TyperCommand):
    """Click reads ``-5`` as an option, and would answer "No such option"; it is N, and N is
    judged as N (`parse_days`), as after ``--``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except typer.TyperException as error:  # typer's own click: NoSuchOption
            name = getattr(error, "option_name", "")
            if type(error).__name__ == "NoSuchOption" and WHOLE_NUMBER.fullmatch(name):
                parse_days(name)  # out of range: raises
            raise


@app.command("add", cls=_NumberArgument)
def add(
    ctx: typer.Context,
    start: str = typer.Argument(..., metavar="DATE", help="Start date (not counted), YYYY-MM-DD."),
    days: str = typer.Argument(..., metavar="N", help="Length of the period in days, 1..3650."),
    unit: str = typer.Option(..., "--unit", help="working (工作日) or calendar (自然日)."),
    as_json: bool = json_option(),
) -> None:
    """Print the due date of an N-day period starting on DATE (民事诉讼法 art. 85)."""
    day = parse_date(start, "DATE")
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        # The calendar checks the days it counts, not the start day itself: without this,
        # 1999-12-31 would be answered and 9999-12-31 would overflow into a traceback.
        raise CalendarRangeError(day.year, FIRST_YEAR, LAST_YEAR)
    length = parse_days(days)
    kind = parse_unit(unit)
    due = runtime(ctx).calendar.due(day, length, kind)
    if as_json:
        emit_json({"start": day.isoformat(), "days": length, "unit": kind.value,
                   "due": due.due.isoformat(), "provisional": due.provisional})
        return
    if due.provisional:
        sys.stderr.write("note: provisional — the period touches a year without the State "
                         "Council's holiday notice (weekends and statutory holidays only)\n")
    typer.echo(due.due.isoformat())


@app.command("is-workday")
def is_workday(
    ctx: typer.Context,
    day_text: str = typer.Argument(..., metavar="DATE", help="The date, YYYY-MM-DD."),
    as_json: bool = json_option(),
) -> None:
    """Print yes if DATE is a working day (make-up working days included), else no."""
    day = parse_date(day_text, "DATE")
    calendar = runtime(ctx).calendar
    working = calendar.is_workday(day)
    provisional = calendar.is_provisional(day.year)
    if as_json:
        emit_json({"date": day.isoformat(), "workday": working, "provisional": provisional})
        return
    typer.echo("yes" if working else "no")


@app.command("reproject")
def reproject(
    ctx: typer.Context,
    data: str = typer.Option(..., "--data", metavar="FILE",
                             help="Calendar data (TOML, the format of states/data/calendar.toml)."),
    on: str = typer.Option(None, "--on", metavar="DATE",
                           help="Legal date of the update (default: today)."),
    as_json: bool = json_option(),
) -> None:
    """Re-project the running clocks of the database on new calendar data (a new year's notice
    or a correction), each case's change recorded as a system event `recalendar`."""
    from deployments.bootstrap import read_calendar_data
    from flows.recalendar import reproject_clocks
    from states.calendar import WorkCalendar

    path = Path(data)
    extra = read_calendar_data(path)
    if not extra:
        raise InvalidCalendarData(f"{path}: no [years.YYYY] table, nothing to re-project")
    outside = sorted(year for year in extra if not FIRST_YEAR <= year <= LAST_YEAR)
    if outside:
        raise CalendarRangeError(outside[0], FIRST_YEAR, LAST_YEAR)
    rt = runtime(ctx)
    day = parse_date(on, "--on") if on is not None else None
    calendar = WorkCalendar({**rt.official_years, **extra})
    source = "; ".join(sorted({year.source for year in extra.values()}))
    report: dict[str, Any] = reproject_clocks(
        rt.bureau, calendar, years=sorted(extra), now=rt.now(), on=day, source=source
    ).to_json()
    if as_json:
        emit_json(report)
        return
    years = ", ".join(str(year) for year in report["years"])
    typer.echo(f"calendar data for {years} on {report['on']}: {len(report['changed'])} "
               f"clock(s) re-projected on {report['events']} case(s) "
               f"({report['cases']} case(s), {report['cycles']} live clock(s) examined)")
    for item in report["changed"]:
        typer.echo(f"  {item['ref']} {item['clock']}#{item['cycle']} "
                   f"{item['from']} -> {item['to']}")
    for item in report["failures"]:
        typer.echo(f"  failed {item['ref']}: {item['error']['message']}")
    if rt.calendar_data is None or rt.calendar_data.resolve() != path.resolve():
        sys.stderr.write(f"note: set CASEFLOW_CALENDAR_DATA={path} (or add its years to "
                         "states/data/calendar.toml) so that every command counts on this data\n")
