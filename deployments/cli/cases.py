"""`caseflow case`: clerks open and advance cases; supervisors read timelines and verify them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from deployments.cli import importing
from deployments.cli.output import (
    UsageProblem,
    console,
    emit_json,
    json_option,
)
from deployments.cli.parsing import parse_date, parse_instant, parse_settings, parse_user
from deployments.cli.state import runtime
from models.errors import VerificationFailed
from states.calendar import legal_date

if TYPE_CHECKING:
    from states.roles import Identity

app = typer.Typer(help="Cases (案件): open, advance, show, timeline, list, verify, import.",
                  no_args_is_help=True)

SET_HELP = "An attribute, KEY=VALUE (repeatable)."
BY_HELP = "Who acts (default: the operating-system user)."


def _texts(**flags: Sequence[str] | None) -> None:
    """Arguments that are not UTF-8 reach Python as lone surrogates, which no database, hash
    or JSON document can hold: refuse them here, as a usage error, before they get that far."""
    for flag, value in flags.items():
        for text in [value] if isinstance(value, str) else value or []:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageProblem(f"{flag} {text!r} is not UTF-8 text",
                                   ["UTF-8 text"]) from None


def acting(ctx: typer.Context, by: str | None) -> tuple[Identity | None, str]:
    """Who makes a change: the ``--as`` user once caseflow has users (recorded as ``by``),
    else ``--by`` (default: the operating-system user) as before."""
    who = runtime(ctx).identity
    if who is None:
        return None, parse_user(by)
    if by is not None and by.strip() != who.name:
        raise UsageProblem(f"--by {by!r} is not the user acting (--as {who.name})",
                           [f"--by {who.name}", "no --by"])
    return who, who.name


def _print_case(ctx: typer.Context, stored: Any, now: Any, as_json: bool) -> None:
    from flows.views import case_json

    rt = runtime(ctx)
    doc = case_json(stored, rt.case_type(stored.case.type), legal_date(now), rt.calendar,
                    rt.identity)
    if as_json:
        emit_json(doc)
        return
    from rich.table import Table

    out = console()
    out.print(
        f"[bold]{doc['ref']}[/bold]  {doc['type']} {doc['type_label']}  "
        f"state: {doc['state']} {doc['state_label']}  version {doc['version']}"
    )
    out.print(f"opened {doc['opened_on']}  closed {doc['closed_on'] or '—'}  "
                  f"attrs {doc['attrs']}")
    table = Table("clock 期限", "cycle", "status 状态", "started", "due 届满", "basis 依据")
    for c in doc["clocks"]:
        table.add_row(f"{c['name']} {c['label']}", str(c["cycle"]), c["status"],
                      c["started_on"], c["due_on"], c["basis"])
    out.print(table)


@app.command("open")
def open_(
    ctx: typer.Context,
    type_name: str = typer.Argument(..., metavar="TYPE",
                                    help="reconsideration, legal_aid or complaint."),
    on: str = typer.Option(..., "--on", metavar="DATE", help="Date received (收到日期)."),
    ref: str = typer.Option(None, "--ref", help="The case reference (generated when absent)."),
    settings: list[str] = typer.Option(None, "--set", metavar="KEY=VALUE", help=SET_HELP),
    by: str = typer.Option(None, "--by", metavar="USER", help=BY_HELP),
    as_json: bool = json_option(),
) -> None:
    """Open a case received on DATE (立案登记) and print it."""
    from flows import services

    _texts(TYPE=type_name, **{"--ref": ref, "--set": settings})
    rt = runtime(ctx)
    day = parse_date(on, "--on")
    attrs = parse_settings(settings)
    who, user = acting(ctx, by)
    now = rt.now()
    stored = services.open_case(rt.bureau, type_name, on=day, attrs=attrs, ref=ref,
                                by=user, now=now, who=who)
    _print_case(ctx, stored, now, as_json)


@app.command("advance")
def advance(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="REF"),
    trigger: str = typer.Argument(..., metavar="TRIGGER", help="See `caseflow case triggers`."),
    on: str = typer.Option(None, "--on", metavar="DATE",
                           help="Legal date it takes effect (default: today)."),
    settings: list[str] = typer.Option(None, "--set", metavar="KEY=VALUE", help=SET_HELP),
    reason: str = typer.Option(None, "--reason", metavar="TEXT", help="Why (理由)."),
    by: str = typer.Option(None, "--by", metavar="USER", help=BY_HELP),
    expect_version: int = typer.Option(None, "--expect-version", metavar="N", min=1,
                                       help="Refuse (exit 5) unless the case is at version N."),
    as_json: bool = json_option(),
) -> None:
    """Fire TRIGGER on case REF and print the case after it."""
    from flows import services

    _texts(REF=ref, TRIGGER=trigger, **{"--set": settings, "--reason": reason})
    rt = runtime(ctx)
    day = parse_date(on, "--on") if on is not None else None
    attrs = parse_settings(settings)
    who, user = acting(ctx, by)
    now = rt.now()
    stored = services.advance(rt.bureau, ref, trigger, on=day, attrs=attrs, reason=reason,
                              by=user, now=now, expect_version=expect_version, who=who)
    _print_case(ctx, stored, now, as_json)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="REF"),
    now_text: str = typer.Option(None, "--now", metavar="TIMESTAMP",
                                 help="Judge clock statuses at this instant (default: now)."),
    as_json: bool = json_option(),
) -> None:
    """Print a case with its clocks, their statuses judged at --now."""
    from flows import services

    _texts(REF=ref)
    rt = runtime(ctx, reading=True)
    now = parse_instant(now_text, rt.now())
    _print_case(ctx, services.get_case(rt.bureau, ref), now, as_json)


@app.command("triggers")
def triggers(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="REF"),
    as_json: bool = json_option(),
) -> None:
    """List the triggers a person may fire on case REF now."""
    from flows import services

    _texts(REF=ref)
    rt = runtime(ctx, reading=True)
    stored = services.get_case(rt.bureau, ref)
    names = services.triggers_of(rt.bureau, stored, rt.now(), rt.identity)
    if as_json:
        emit_json(names)
        return
    # people read the Chinese label beside each name (CONTRACT.md, Global)
    case_type = rt.case_type(stored.case.type)
    for name in names:
        specs = case_type.triggers.get(name, ())
        typer.echo(f"{name}  {specs[0].label}" if specs else name)


@app.command("timeline")
def timeline(
    ctx: typer.Context,
    ref: str = typer.Argument(..., metavar="REF"),
    as_json: bool = json_option(),
) -> None:
    """Every event of case REF, oldest first: who did what, when, with what effect on clocks."""
    from flows import services
    from flows.views import event_json

    _texts(REF=ref)
    rt = runtime(ctx, reading=True)
    entries = [event_json(row, rt.identity) for row in services.timeline(rt.bureau, ref)]
    if as_json:
        emit_json(entries)
        return
    from flows.story import timeline_story

    case = services.get_case(rt.bureau, ref).case
    typer.echo(f"{case.ref}  {case.type} {rt.case_type(case.type).label}")
    typer.echo("every event, oldest first: legal date 生效日, what, who 经办 and why 理由, "
               "and what it did to each clock 期限变化")
    for line in timeline_story(entries, rt.case_type(case.type)):
        typer.echo(line)


@app.command("list")
def list_(
    ctx: typer.Context,
    type_name: str = typer.Option(None, "--type", metavar="T", help="Only this case type."),
    state: str = typer.Option(None, "--state", metavar="S", help="Only cases in this state."),
    overdue: bool = typer.Option(False, "--overdue", help="Only cases with an overdue clock."),
    now_text: str = typer.Option(None, "--now", metavar="TIMESTAMP",
                                 help="Judge clock statuses at this instant (default: now)."),
    limit: int = typer.Option(None, "--limit", metavar="N", min=1, help="At most N cases."),
    as_json: bool = json_option(),
) -> None:
    """List cases, optionally by type and state, or only those with an overdue clock."""
    from flows import services
    from flows.views import case_json

    _texts(**{"--type": type_name, "--state": state})
    rt = runtime(ctx, reading=True)
    now = parse_instant(now_text, rt.now())
    judged_on = legal_date(now)
    found = services.list_cases(rt.bureau, case_type=type_name, state=state,
                                overdue_on=judged_on if overdue else None, limit=limit)
    viewer = rt.identity
    docs = [case_json(s, rt.case_type(s.case.type), judged_on, rt.calendar, viewer)
            for s in found]
    if as_json:
        emit_json(docs)
        return
    from rich.table import Table

    table = Table("ref", "type", "state 状态", "version", "opened", "closed", "overdue 逾期")
    for d in docs:
        late = ", ".join(c["name"] for c in d["clocks"] if c["status"] == "overdue")
        table.add_row(d["ref"], d["type"], f"{d['state']} {d['state_label']}",
                      str(d["version"]), d["opened_on"], d["closed_on"] or "", late)
    console().print(table)


@app.command("verify")
def verify(
    ctx: typer.Context,
    ref: str = typer.Argument(None, metavar="REF", help="The case to verify."),
    every: bool = typer.Option(False, "--all", help="Verify every case."),
    as_json: bool = json_option(),
) -> None:
    """Verify REF (or --all): the event hash chain, and the stored case and clocks against a
    replay of its events. Exit 6 naming the first difference; a case that fails is not
    advanced until it verifies again."""
    from flows import services

    if (ref is None) == (not every):
        raise UsageProblem("give either REF or --all", ["caseflow case verify REF",
                                                         "caseflow case verify --all"])
    _texts(REF=ref)
    checks = services.verify(runtime(ctx, reading=True).bureau, None if every else ref)
    broken = [c for c in checks if not c.ok]
    if broken:
        first = broken[0]
        more = f" (and {len(broken) - 1} more case(s))" if len(broken) > 1 else ""
        raise VerificationFailed(f"{first.ref}: {first.problem}{more}",
                                 [f"caseflow case timeline {first.ref}"])
    if as_json:
        emit_json({"ok": True, "checked": len(checks), "broken": []})
    else:
        typer.echo(f"{len(checks)} of {len(checks)} case(s) verify")


app.command("import")(importing.import_)
