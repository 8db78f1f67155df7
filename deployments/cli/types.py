"""`caseflow types`: the declared case types, their states, triggers and clocks."""

from __future__ import annotations

from typing import Any

import typer

from deployments.cli.output import console, emit_json, json_option
from deployments.cli.state import runtime
from states.casetype import CaseType
from states.machine import mermaid

app = typer.Typer(help="The case types: states, triggers and legal clocks.",
                  invoke_without_command=True)


def describe(case_type: CaseType) -> dict[str, Any]:
    """The contract's JSON description of a case type."""
    return {
        "name": case_type.name,
        "label": case_type.label,
        "states": [
            {"name": s.name, "label": s.label, "terminal": s.terminal} for s in case_type.states
        ],
        "transitions": [
            {"trigger": t.trigger, "source": list(t.source), "dest": t.dest,
             "actor": t.actor.value, "label": t.label, "basis": t.basis,
             "attrs": [a.name for a in t.attrs]}
            for t in case_type.transitions
        ],
        "clocks": [
            {"name": c.name, "label": c.label, "days": c.days, "unit": c.unit.value,
             "basis": c.basis, "owed_by": c.owed_by.value, "lapse": c.lapse,
             "effective": c.effective.value if c.lapses_by_trigger else None,
             "fixed_by_law": c.fixed_by_law, "from_service": c.from_service,
             "lengths": {k: dict(v) for k, v in c.lengths.items()}}
            for c in case_type.clocks
        ],
    }


@app.callback()
def list_types(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """List every case type (行政复议, 法律援助, 律师执业投诉) with its states and clocks."""
    if ctx.invoked_subcommand is not None:
        return
    types = list(runtime(ctx).types.values())
    if as_json:
        emit_json([describe(t) for t in types])
        return
    from rich.table import Table

    out = console()
    for case_type in types:
        table = Table(title=f"{case_type.name} — {case_type.label}", title_justify="left")
        table.add_column("clock")
        table.add_column("期限")
        table.add_column("length")
        table.add_column("fixed 法定")
        table.add_column("basis 法律依据")
        for c in case_type.clocks:
            fixed = "法定 fixed by law" if c.fixed_by_law else "本局规定 policy"
            table.add_row(c.name, c.label, f"{c.days} {c.unit.value}", fixed, c.basis)
        out.print(table)
        states = ", ".join(f"{s.name} {s.label}" for s in case_type.states)
        out.print(f"states: {states}")
        triggers = sorted(case_type.triggers)
        out.print(f"triggers: {', '.join(triggers)}\n")


@app.command("show")
def show(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="TYPE", help="reconsideration, legal_aid, complaint"),
    as_mermaid: bool = typer.Option(False, "--mermaid", help="Print the state diagram as Mermaid."),
    as_json: bool = json_option(),
) -> None:
    """Show one case type; with --mermaid, its state diagram as Mermaid text (with --json:
    ``{"type", "mermaid"}``)."""
    case_type = runtime(ctx).case_type(name)
    if as_mermaid and as_json:
        emit_json({"type": case_type.name, "mermaid": mermaid(case_type)})
    elif as_mermaid:
        typer.echo(mermaid(case_type), nl=False)
    elif as_json:
        emit_json(describe(case_type))
    else:
        for t in case_type.transitions:
            typer.echo(f"{t.trigger}: {', '.join(t.source)} -> {t.dest or '(same state)'} "
                       f"[{t.actor.value}] {t.label}")
