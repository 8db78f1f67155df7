"""`caseflow alerts`: deliver the outbox's alerts, list them (and the ones that failed).

The composition happens here: the routes come from the policy file (``--policy`` /
``CASEFLOW_POLICY``) with their secrets from the environment, the HTTP client and the real clock
are built here, and `flows.delivery` receives them.
"""

from __future__ import annotations

import os
import random
import secrets
import socket
from datetime import timedelta
from typing import TYPE_CHECKING

import typer

from deployments.cli.output import UsageProblem, emit_json, json_option
from deployments.cli.state import runtime
from states.errors import InvalidPolicy

if TYPE_CHECKING:
    from deployments.bootstrap import Runtime
    from flows.routes import Route

app = typer.Typer(help="Alerts (预警提醒): deliver queued alerts, list sent and failed ones.",
                  no_args_is_help=True)

USER_AGENT = "caseflow-alerts/0.1"


def _routes(rt: Runtime) -> dict[str, Route]:
    """The policy's alert routes with their secrets; ``{}`` without a policy file."""
    from flows.routes import parse_routes, resolve_routes
    from states.policy import parse_policy

    if rt.policy_path is None:
        return {}
    origin = str(rt.policy_path)
    try:
        text = rt.policy_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidPolicy(f"cannot read the policy file {origin}: {exc.strerror}") from None
    specs = parse_routes(parse_policy(text, origin=origin), origin=origin)
    return resolve_routes(specs, os.environ, origin=origin)


def _worker_id() -> str:
    """Unique per process and run: a claim held by a dead run is never mistaken for ours."""
    return f"{socket.gethostname()[:48]}:{os.getpid()}:{secrets.token_hex(4)}"


@app.command("deliver")
def deliver(
    ctx: typer.Context,
    lease: float = typer.Option(300.0, "--lease", metavar="SECONDS", min=1.0,
                                help="How long a claimed batch is ours; after a crash its "
                                     "alerts are sent by the next run once it expires."),
    timeout: float = typer.Option(10.0, "--timeout", metavar="SECONDS", min=0.1,
                                  help="Timeout of one HTTP attempt."),
    batch: int = typer.Option(20, "--batch", metavar="N", min=1,
                              help="Alerts claimed at a time."),
    as_json: bool = json_option(),
) -> None:
    """Send the queued alerts that are due, once each; retry transient failures later."""
    import httpx

    from flows.delivery import DeliverySettings
    from flows.delivery import deliver as deliver_alerts

    try:
        settings = DeliverySettings(batch=batch, lease=timedelta(seconds=lease),
                                    timeout=timeout)
    except ValueError as exc:
        raise UsageProblem(str(exc), [f"--lease > --timeout ({timeout:g})"]) from None
    rt = runtime(ctx)
    routes = _routes(rt)
    if not routes:
        typer.echo("caseflow: no alert routes in the policy ([alerts.routes] in --policy or "
                   "CASEFLOW_POLICY): nothing sent, alerts stay queued", err=True)
    with httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}) as client:
        report = deliver_alerts(rt.bureau, client, routes, clock=rt.now, worker=_worker_id(),
                                settings=settings, random=random.random)
    if as_json:
        emit_json(report.to_json())
        return
    typer.echo(f"sent 已发送 {report.sent}  failed 失败 {report.failed}  "
               f"pending 待发送 {report.pending}")
    for dead in report.errors:
        typer.echo(f"  dead {dead['idempotency_key']}: {dead['error']}")


@app.command("list")
def list_(
    ctx: typer.Context,
    failed: bool = typer.Option(False, "--failed",
                                help="Only alerts given up on (dead), with their last error."),
    limit: int = typer.Option(None, "--limit", metavar="N", min=1, help="At most N alerts."),
    as_json: bool = json_option(),
) -> None:
    """List the outbox's alerts: case, clock, rung, recipient, status, attempts, last error."""
    from flows.delivery import list_alerts

    docs = list_alerts(runtime(ctx).bureau, failed=failed, limit=limit)
    if as_json:
        emit_json(docs)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("ref 案号", "clock 期限", "rung 级别", "recipient 对象", "route", "status 状态",
                  "attempts 次数", "last error 最后错误", "next attempt 下次尝试")
    for d in docs:
        table.add_row(d["ref"], f"{d['clock']}#{d['cycle']}", d["rung"], d["recipient"],
                      d["route"], d["status"], str(d["attempts"]), d["last_error"] or "",
                      d["next_attempt_at"] if d["status"] == "pending" else "")
    Console().print(table)
