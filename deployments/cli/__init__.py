"""The `caseflow` command line: the contract of CONTRACT.md.

Heavy modules (the database, Prefect) are imported inside the commands that need them, so a
clerk's `caseflow calendar …` answers at once.
"""

from __future__ import annotations

import sys

import typer

from deployments.bootstrap import bootstrap
from deployments.cli import (
    alerts,
    audit,
    calendar,
    cases,
    db,
    demo,
    lawyers,
    reports,
    serve,
    sweep,
    types,
    users,
)
from deployments.cli.output import fail, fail_usage
from states.errors import CaseflowError

app = typer.Typer(
    help="caseflow — case lifecycles and statutory time limits for a justice bureau (司法局).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(calendar.app, name="calendar")
app.add_typer(types.app, name="types")
app.add_typer(cases.app, name="case")
app.add_typer(db.app, name="db")
app.command("sweep")(sweep.sweep)
app.add_typer(alerts.app, name="alerts")
app.command("demo")(demo.demo)
app.add_typer(reports.app, name="report")
app.add_typer(audit.app, name="audit")
app.add_typer(lawyers.app, name="lawyer")
app.command("assign")(lawyers.assign)
app.add_typer(users.app, name="user")
app.command("serve")(serve.serve)


@app.callback()
def root(
    ctx: typer.Context,
    db: str = typer.Option(None, "--db", metavar="URL",
                           help="Database URL (else CASEFLOW_DB_URL, else sqlite:///caseflow.db)."),
    policy: str = typer.Option(None, "--policy", metavar="PATH",
                               help="The bureau's policy file (else CASEFLOW_POLICY)."),
    user: str = typer.Option(None, "--as", metavar="USER",
                             help="The user a change is made as, once caseflow has users "
                                  "(else CASEFLOW_USER)."),
) -> None:
    ctx.obj = bootstrap(db, policy, user)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; every expected failure becomes one line on stderr and its exit code."""
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args
    try:
        result = typer.main.get_command(app).main(args, prog_name="caseflow",
                                                  standalone_mode=False)
    except CaseflowError as error:
        fail(error, as_json=as_json)
    except typer.Exit as done:
        raise SystemExit(done.exit_code) from None
    except typer.Abort:
        sys.stderr.write("caseflow: aborted\n")
        raise SystemExit(1) from None
    except typer.TyperException as error:  # click's usage errors: bad flag, missing argument
        fail_usage(error, as_json=as_json)
    if isinstance(result, int) and result:
        raise SystemExit(result)
