"""`caseflow calendar`: the official working-day calendar and legal period arithmetic."""

from __future__ import annotations

import sys

import typer

from deployments.cli.output import emit_json, json_option
from deployments.cli.parsing import parse_date, parse_days, parse_unit
from deployments.cli.state import runtime
from states.calendar import FIRST_YEAR, LAST_YEAR
from states.errors import CalendarRangeError

app = typer.Typer(help="China's official working-day calendar (法定工作日) and due dates.",
                  no_args_is_help=True)


@app.command("add")
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
