"""`caseflow lawyer` and `caseflow assign`: the legal-aid lawyer pool (律师库) and 指派.

CONTRACT.md, "Legal-aid lawyers and assignment". The pool's use cases are in `flows.pool`; the
assignment flow is `flows.assignment` (its Prefect wrapper in `deployments.entrypoints`).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from deployments.bootstrap import Runtime
from deployments.cli.output import UsageProblem, console, emit_json, json_option
from deployments.cli.parsing import parse_date
from deployments.cli.state import runtime
from deployments.cli.sweep import PREFECT_HELP, run_flow

app = typer.Typer(help="The legal-aid lawyer pool (律师库): add, list, show, leave, conflicts, "
                  "import.", no_args_is_help=True)
conflict_app = typer.Typer(help="Conflicts of interest (利益冲突): parties a lawyer may not "
                           "act for or against.", no_args_is_help=True)
app.add_typer(conflict_app, name="conflict")

ID_HELP = "The lawyer's id in the pool (see `caseflow lawyer list`)."


def _print_lawyer(doc: dict[str, Any]) -> None:
    out = console()
    state = "active 在册" if doc["active"] else "suspended 暂停指派"
    out.print(f"[bold]{doc['id']}[/bold]  {doc['name']}  {doc['firm']}  {state}")
    out.print(f"areas 业务领域: {', '.join(doc['areas'])}  load 在办: {doc['load']} of "
              f"{doc['capacity']}  last assigned 最近指派: {doc['last_assigned_on'] or '—'}")
    for leave in doc.get("leaves", []):
        out.print(f"leave 请假: {leave['from']} .. {leave['to']}")
    for party in doc.get("conflicts", []):
        out.print(f"conflict 利益冲突: {party}")


def _emit(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(doc)
    else:
        _print_lawyer(doc)


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME", help="The lawyer's name."),
    firm: str = typer.Option(..., "--firm", metavar="FIRM", help="Law firm (律师事务所)."),
    areas: str = typer.Option(..., "--areas", metavar="A,B",
                              help="Practice areas, the first their specialty: criminal, civil, "
                              "administrative, labor, family, …"),
    capacity: int = typer.Option(10, "--capacity", metavar="N",
                                 help="Most legal-aid cases held at once (在办上限)."),
    as_json: bool = json_option(),
) -> None:
    """Add a lawyer to the pool and print them."""
    from flows import pool
    from models.lawyers import NewLawyer

    rt = runtime(ctx)
    (new,) = pool.add_lawyers(rt.bureau, [NewLawyer(name, firm, pool.parse_areas(areas),
                                                    capacity)], now=rt.now(), who=rt.identity)
    doc = pool.show_lawyer(rt.bureau, new)
    _emit(pool.added_json(doc) if as_json else doc, as_json)


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Every lawyer of the pool with their load."""
    from rich.table import Table

    from flows import pool

    docs = pool.list_lawyers(runtime(ctx, reading=True).bureau)
    if as_json:
        emit_json(docs)
        return
    table = Table("id", "name 姓名", "firm 律所", "areas 领域", "load 在办", "capacity 上限",
                  "active 在册", "last assigned 最近指派")
    for d in docs:
        table.add_row(str(d["id"]), d["name"], d["firm"], ", ".join(d["areas"]), str(d["load"]),
                      str(d["capacity"]), "yes" if d["active"] else "no",
                      d["last_assigned_on"] or "—")
    console().print(table)


@app.command("show")
def show(ctx: typer.Context, lawyer: int = typer.Argument(..., metavar="ID", help=ID_HELP),
         as_json: bool = json_option()) -> None:
    """A lawyer with their leave and conflicts."""
    from flows import pool

    _emit(pool.show_lawyer(runtime(ctx, reading=True).bureau, lawyer), as_json)


@app.command("leave")
def leave(
    ctx: typer.Context,
    lawyer: int = typer.Argument(..., metavar="ID", help=ID_HELP),
    start: str = typer.Option(..., "--from", metavar="DATE", help="First day of leave."),
    end: str = typer.Option(..., "--to", metavar="DATE", help="Last day of leave, included."),
    as_json: bool = json_option(),
) -> None:
    """Record a leave (请假): no assignment from --from to --to."""
    from flows import pool

    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    rt = runtime(ctx)
    _emit(pool.add_leave(rt.bureau, lawyer, first, last, rt.identity), as_json)


@app.command("suspend")
def suspend(ctx: typer.Context, lawyer: int = typer.Argument(..., metavar="ID", help=ID_HELP),
            as_json: bool = json_option()) -> None:
    """Suspend a lawyer (暂停指派): no new assignment until reactivated."""
    from flows import pool

    rt = runtime(ctx)
    _emit(pool.set_active(rt.bureau, lawyer, False, rt.identity), as_json)


@app.command("activate")
def activate(ctx: typer.Context, lawyer: int = typer.Argument(..., metavar="ID", help=ID_HELP),
             as_json: bool = json_option()) -> None:
    """Make a suspended lawyer assignable again."""
    from flows import pool

    rt = runtime(ctx)
    _emit(pool.set_active(rt.bureau, lawyer, True, rt.identity), as_json)


@conflict_app.command("add")
def conflict_add(
    ctx: typer.Context,
    lawyer: int = typer.Argument(..., metavar="ID", help=ID_HELP),
    party: str = typer.Option(..., "--party", metavar="NAME",
                              help="A party the lawyer may not act for or against."),
    as_json: bool = json_option(),
) -> None:
    """Record a conflict of interest: never assigned a case where NAME is a party."""
    from flows import pool

    rt = runtime(ctx)
    _emit(pool.add_conflict(rt.bureau, lawyer, party, rt.identity), as_json)


@app.command("import")
def import_(
    ctx: typer.Context,
    file: Path = typer.Argument(..., metavar="FILE", help="CSV: name,firm,areas[,capacity]"
                                "[,active]; areas separated by ';'."),
    as_json: bool = json_option(),
) -> None:
    """Import a roster of lawyers from CSV, all or nothing (each wrong row named by line)."""
    from flows import pool

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise UsageProblem(f"{file} cannot be read: {reason}", ["a UTF-8 CSV file"]) from None
    rt = runtime(ctx)
    new = pool.parse_roster(text.splitlines(), str(file))
    ids = pool.add_lawyers(rt.bureau, new, now=rt.now(), who=rt.identity)
    if as_json:
        emit_json({"imported": len(ids), "ids": ids})
    else:
        typer.echo(f"imported {len(ids)} lawyer(s), ids {ids[0]}..{ids[-1]}")


def assign(
    ctx: typer.Context,
    now_text: str = typer.Option(None, "--now", metavar="TIMESTAMP",
                                 help="Assign as of this instant (default: now)."),
    prefect: bool = typer.Option(False, "--prefect", help=PREFECT_HELP),
    as_json: bool = json_option(),
) -> None:
    """指派: give every approved legal-aid case a lawyer of the pool (a Prefect flow)."""

    def in_process(rt: Runtime, now: datetime) -> dict[str, Any]:
        from flows.assignment import assign_legal_aid

        return assign_legal_aid(rt.bureau, now, recorded_at=rt.now()).to_json()

    report = run_flow(ctx, "assign_legal_aid", now_text, prefect, in_process)
    if as_json:
        emit_json(report)
        return
    typer.echo(f"assignment at {report['now']}: {len(report['assigned'])} assigned, "
               f"{len(report['unassigned'])} without a lawyer")
    for item in report["assigned"]:
        typer.echo(f"  assigned   {item['ref']} -> {item['lawyer']} {item['name']} "
                   f"({item['reasons'][1]})")
    for item in report["unassigned"]:
        typer.echo(f"  unassigned {item['ref']}: {item['reason']}")
    for item in report.get("skipped", []):
        typer.echo(f"  skipped    {item['ref']}: {item['reason']}")
