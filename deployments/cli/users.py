"""`caseflow user`: the user directory (用户) — add, password, API tokens, revoke, list.

Whoever may run this command on the database administers its directory, as a database's own
tools do; the people in it then act through the API, the pages, or `--as USER`.
"""

from __future__ import annotations

import sys

import typer

from deployments.cli.output import UsageProblem, emit_json, json_option
from deployments.cli.state import runtime

app = typer.Typer(help="Users (用户): add, passwd, token, revoke, list.", no_args_is_help=True)


def _read_password(from_stdin: bool) -> str:
    """A password from the first line of standard input, or asked for without echo."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt("password 密码", hide_input=True, confirmation_prompt=True)
    else:
        raise UsageProblem("no terminal to ask for the password on",
                           ["--password-stdin (the password on standard input)"])
    if not password:
        raise UsageProblem("the password is empty", ["a password of 8+ characters"])
    return password


@app.command("add")
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    role: str = typer.Option(..., "--role", metavar="ROLE",
                             help="clerk 承办人, supervisor 科室负责人, leader 分管领导 or "
                                  "auditor 审计."),
    department: str = typer.Option(None, "--department", metavar="D",
                                   help="The department (科室) whose cases a clerk works."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from standard input."),
    as_json: bool = json_option(),
) -> None:
    """Add a user; with --password-stdin they can log in to the pages."""
    from flows.users import add_user
    from states.roles import parse_role

    rt = runtime(ctx)
    chosen = parse_role(role)
    password = _read_password(True) if password_stdin else None
    stored = add_user(rt.bureau, name, chosen, department=department, password=password,
                      now=rt.now())
    if as_json:
        emit_json(stored.to_json())
    else:
        who = stored.identity
        typer.echo(f"added {who.name}: {who.role.value} {who.role.label}"
                   + (f", {who.department}" if who.department else ""))


@app.command("passwd")
def passwd(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from standard input."),
    as_json: bool = json_option(),
) -> None:
    """Set a user's password (asked for without echo, or read with --password-stdin)."""
    from flows.users import set_password

    rt = runtime(ctx, reading=True)
    set_password(rt.bureau, name, _read_password(password_stdin))
    if as_json:
        emit_json({"user": name, "password": True})
    else:
        typer.echo(f"password of {name} set")


@app.command("token")
def token(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    as_json: bool = json_option(),
) -> None:
    """Issue a new API token for NAME; it is shown this once (only its hash is kept)."""
    from flows.users import issue_token

    rt = runtime(ctx, reading=True)
    issued = issue_token(rt.bureau, name, rt.now())
    if as_json:
        emit_json({"user": name, "token": issued})
    else:
        typer.echo(issued)


@app.command("revoke")
def revoke(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    as_json: bool = json_option(),
) -> None:
    """Revoke every API token of NAME."""
    from flows.users import revoke as revoke_tokens

    rt = runtime(ctx, reading=True)
    count = revoke_tokens(rt.bureau, name, rt.now())
    if as_json:
        emit_json({"user": name, "revoked": count})
    else:
        typer.echo(f"revoked {count} token(s) of {name}")


@app.command("list")
def list_(ctx: typer.Context, as_json: bool = json_option()) -> None:
    """Every user with role, department, and how many live API tokens."""
    from flows.users import list_users

    found = list_users(runtime(ctx, reading=True).bureau)
    if as_json:
        emit_json([u.to_json() for u in found])
        return
    from rich.table import Table

    from deployments.cli.output import console

    table = Table("name 姓名", "role 角色", "department 科室", "password 密码", "tokens")
    for user in found:
        who = user.identity
        table.add_row(who.name, f"{who.role.value} {who.role.label}", who.department or "",
                      "yes" if user.password_hash else "no", str(user.tokens))
    console().print(table)
