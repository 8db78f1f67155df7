"""`caseflow audit`: the supervisor's views — overdue clocks, a clerk's desk, the hash chains."""

from __future__ import annotations

from datetime import date

import typer

from deployments.cli.output import EXIT_INTEGRITY, console, emit_json, json_option
from deployments.cli.parsing import parse_date, parse_instant
from deployments.cli.state import runtime
from states.calendar import legal_date

app = typer.Typer(help="Audit (监督): overdue clocks, a clerk's cases, the hash chains.",
                  no_args_is_help=True)


@app.command("overdue")
def overdue(
    ctx: typer.Context,
    now_text: str = typer.Option(None, "--now", metavar="TIMESTAMP",
                                 help="Judge at this instant (default: now)."),
    type_name: str = typer.Option(None, "--type", metavar="T", help="Only this case type."),
    department: str = typer.Option(None, "--department", metavar="D",
                                   help="Only cases of this department (承办科室)."),
    as_json: bool = json_option(),
) -> None:
    """Every clock running past its due date, most overdue first (notices never are)."""
    from flows.audit import overdue_clocks

    rt = runtime(ctx, reading=True)
    now = parse_instant(now_text, rt.now())
    found = overdue_clocks(rt.bureau, legal_date(now), case_type=type_name,
                           department=department)
    if as_json:
        emit_json(found)
        return
    from rich.table import Table

    table = Table("ref", "type", "clock 期限", "due 届满", "days overdue 逾期天数",
                  "owed by", "handler 承办人", "department 科室", "rungs 已发",
                  title=f"逾期 overdue at {now.isoformat(timespec='minutes')}: {len(found)}")
    for x in found:
        table.add_row(x["ref"], x["type"], f"{x['clock']} {x['label']}", x["due_on"],
                      str(x["days_overdue"]), x["owed_by"], x["handler"] or "—",
                      x["department"] or "—", ", ".join(x["rungs"]) or "—")
    console().print(table)


@app.command("clerk")
def clerk(
    ctx: typer.Context,
    user: str = typer.Argument(..., metavar="USER", help="The handling clerk (承办人)."),
    start_text: str = typer.Option(None, "--from", metavar="DATE",
                                   help="First day of the closed cases (default: 1 January)."),
    end_text: str = typer.Option(None, "--to", metavar="DATE",
                                 help="Last day of the closed cases (default: today)."),
    as_json: bool = json_option(),
) -> None:
    """A clerk's open cases by nearest deadline, the cases they closed and the on-time rate."""
    from flows.audit import clerk_desk

    rt = runtime(ctx, reading=True)
    today = legal_date(rt.now())
    end = parse_date(end_text, "--to") if end_text else today
    start = parse_date(start_text, "--from") if start_text else date(end.year, 1, 1)
    desk = clerk_desk(rt.bureau, user, start, end, today)
    if as_json:
        emit_json(desk)
        return
    from rich.table import Table

    out = console()
    table = Table("ref", "type", "state 状态", "next clock 期限", "due 届满", "days left 剩余",
                  title=f"{user}: {len(desk['open'])} open case(s) 在办")
    for c in desk["open"]:
        table.add_row(c["ref"], c["type"], c["state"], c["next_clock"] or "—",
                      c["next_due"] or "—",
                      "—" if c["days_left"] is None else str(c["days_left"]))
    out.print(table)
    rate = desk["on_time_rate"]
    out.print(f"closed 结案 {desk['from']}..{desk['to']}: {desk['closed_count']}, on time 按期 "
              f"{desk['closed_on_time']} ({'—' if rate is None else f'{rate:.2%}'})")
    for c in desk["closed"]:
        out.print(f"  {c['closed_on']}  {c['ref']}  {c['type']} {c['state']}  "
                  f"{'on time' if c['on_time'] else 'late 逾期'}")


@app.command("verify")
def verify(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Recompute every case's hash chain; a summary, and exit 6 naming the first broken one."""
    from flows.audit import verify_all

    summary = verify_all(runtime(ctx, reading=True).bureau)
    doc = summary.to_json()
    if as_json:
        emit_json(doc)
    else:
        typer.echo(f"{doc['verified']} of {doc['checked']} case chain(s) verify "
                   f"({doc['events']} events)")
        if doc["first_broken"]:
            first = doc["first_broken"]
            typer.echo(f"first broken: {first['ref']} at event {first['broken_at']}: "
                       f"{first['problem']} ({len(doc['broken'])} broken in all)")
    if not summary.ok:
        raise typer.Exit(EXIT_INTEGRITY)
