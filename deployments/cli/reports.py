"""`caseflow report`: the closure report (结案率, DESIGN §7), computed in-process.

The same function as the Prefect flow `closure_report` (deployments/entrypoints.py) and the
demo call: `flows.reports.closure_report`, then `flows.reports.write_closure_report` for files.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from deployments.cli.output import UsageProblem, console, emit_json, json_option
from deployments.cli.parsing import parse_date
from deployments.cli.state import runtime

app = typer.Typer(help="Reports (报表): closure rates, lawyer assignments.", no_args_is_help=True)

# (key, heading) of the figures a person reads, in the order of DESIGN §7
COLUMNS = (
    ("carried_over", "carried 旧存"), ("accepted", "accepted 新收"), ("handled", "handled 受理"),
    ("closed", "closed 结案"), ("closure_rate", "结案率"), ("withdrawn", "withdrawn 撤回"),
    ("withdrawn_share", "撤回占比"), ("closed_on_time", "on time 按期"),
    ("on_time_rate", "按期率"), ("open_at_end", "open 未结"), ("overdue_open", "overdue 逾期"),
)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2%}"
    return str(value)


def _table(title: str, rows: list[dict[str, Any]], by: str | None) -> Any:
    from rich.table import Table

    table = Table(title=title)
    table.add_column("type 类型")
    if by is not None:
        table.add_column(by)
    for _, heading in COLUMNS:
        table.add_column(heading, justify="right")
    table.add_column("ageing 0-30/31-60/61-90/>90 天", justify="right")
    table.add_column("deemed 视为 受理/放弃/撤回", justify="right")
    table.add_column("extended 延长", justify="right")
    for row in rows:
        cells = [f"{row['type']} {row['label']}"]
        if by is not None:
            cells.append(str(row.get(by) or "—"))
        cells += [_cell(row[key]) for key, _ in COLUMNS]
        cells.append("/".join(str(n) for n in row["ageing"].values()))
        cells.append("/".join(str(n) for n in row["deemed"].values()))
        cells.append(str(row["extensions"]))
        table.add_row(*cells)
    return table


@app.command("closure")
def closure(
    ctx: typer.Context,
    start_text: str = typer.Option(..., "--from", metavar="DATE", help="First day (YYYY-MM-DD)."),
    end_text: str = typer.Option(..., "--to", metavar="DATE", help="Last day, included."),
    type_name: str = typer.Option(None, "--type", metavar="T", help="Only this case type."),
    by: str = typer.Option(None, "--by", metavar="department|handler|month",
                           help="Also break the figures down by department, handler or month."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV on stdout."),
    out: Path = typer.Option(None, "--out", metavar="DIR", file_okay=False,
                             help="Also write JSON, CSV and the chart (PNG, SVG) into DIR."),
    as_json: bool = json_option(),
) -> None:
    """Closure rates (结案率) over --from..--to, judged as of the end of --to."""
    from flows.reports import closure_report, csv_text, write_closure_report
    from states.report import check_grouping, check_period

    if as_json and as_csv:
        raise UsageProblem("--json and --csv are two outputs; choose one", ["--json", "--csv"])
    start, end = parse_date(start_text, "--from"), parse_date(end_text, "--to")
    check_period(start, end)
    check_grouping(by)
    rt = runtime(ctx, reading=True)
    report = closure_report(rt.bureau, start, end, case_type=type_name, by=by)
    doc = report.to_json()
    notes: list[str] = []
    if out is not None:
        files = write_closure_report(rt.bureau, report, out)
        notes += [f"wrote {path}" for path in files.paths()]
        notes += [f"warning: {w}" for w in files.warnings]
    if as_json:
        emit_json(doc)
    elif as_csv:
        sys.stdout.write(csv_text(report))
    else:
        screen = console()
        screen.print(_table(f"结案情况 closure {doc['from']} .. {doc['to']} (as of the end of "
                            f"{doc['to']})", doc["rows"], None))
        if by is not None:
            screen.print(_table(f"by {by}", doc["breakdown"], by))
    # programs read stdout; where the files went is for people
    for note in notes:
        (sys.stderr if as_json or as_csv else sys.stdout).write(note + "\n")


@app.command("assignments")
def assignments(
    ctx: typer.Context,
    start_text: str = typer.Option(..., "--from", metavar="DATE", help="First day (YYYY-MM-DD)."),
    end_text: str = typer.Option(..., "--to", metavar="DATE", help="Last day, included."),
    as_json: bool = json_option(),
) -> None:
    """指派情况: per lawyer the offers, accepted, declined, open load and quality supervision;
    the spread of offers (max − min)."""
    from rich.table import Table

    from flows.pool import assignment_report

    start, end = parse_date(start_text, "--from"), parse_date(end_text, "--to")
    doc = assignment_report(runtime(ctx, reading=True).bureau, start, end)
    if as_json:
        emit_json(doc)
        return
    table = Table("id", "name 姓名", "firm 律所", "offers 指派", "accepted 接受",
                  "declined 拒绝", "replaced 更换", "open 在办", "hearings 旁听",
                  "reviewed 评查 优/良/中/差", "complaints 投诉",
                  title=f"指派情况 assignments {doc['from']} .. {doc['to']}")
    for row in doc["lawyers"]:
        table.add_row(str(row["id"]), row["name"], row["firm"], str(row["offers"]),
                      str(row["accepted"]), str(row["declined"]), str(row["replaced"]),
                      str(row["open_load"]), str(row["hearings_attended"]),
                      f"{row['files_reviewed']} ("
                      + "/".join(str(n) for n in row["ratings"].values()) + ")",
                      str(row["complaints"]))
    screen = console()
    screen.print(table)
    screen.print(f"offers among active lawyers: max {doc['offers_max']}, min {doc['offers_min']}, "
                 f"max − min {doc['max_minus_min']}")
