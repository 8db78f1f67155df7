"""`caseflow alerts`: deliver the outbox's alerts, list them (and the ones that failed).

The composition happens here: the routes come from the policy file (``--policy`` /
``CASEFLOW_POLICY``) with their secrets from the environment, the HTTP client and the real clock
are built here, and `flows.delivery` receives them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from deployments.cli.output import emit_json, json_option
from deployments.cli.state import runtime

if TYPE_CHECKING:
    pass

app = typer.Typer(help="Alerts (预警提醒): deliver queued alerts, list sent and failed ones.",
                  no_args_is_help=True)

DEFAULT_BATCH = 20  # flows.delivery.DEFAULT_BATCH, without importing it for `--help`


@app.command("deliver")
def deliver(
    ctx: typer.Context,
    lease: float = typer.Option(None, "--lease", metavar="SECONDS", min=1.0,
                                help="How long a claimed batch is this run's; after a crash its "
                                     "alerts go with the next run once it expires (default: "
                                     "CASEFLOW_ALERT_LEASE, else 60)."),
    timeout: float = typer.Option(None, "--timeout", metavar="SECONDS", min=0.1,
                                  help="Timeout of one HTTP attempt (default: "
                                       "CASEFLOW_ALERT_TIMEOUT, else 10)."),
    batch: int = typer.Option(DEFAULT_BATCH, "--batch", metavar="N", min=1,
                              help="Alerts claimed at a time."),
    as_json: bool = json_option(),
) -> None:
    """Send the queued alerts that are due, once each; retry transient failures later."""
    from flows.delivery import deliver_with

    rt = runtime(ctx)
    kit = rt.delivery_kit(lease=lease, timeout=timeout, batch=batch)
    if not kit.routes:
        typer.echo("caseflow: no alert routes in the policy ([alerts.routes] in --policy or "
                   "CASEFLOW_POLICY): nothing sent, alerts stay queued", err=True)
    report = deliver_with(rt.bureau, kit, rt.now)
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

    docs = list_alerts(runtime(ctx, reading=True).bureau, failed=failed, limit=limit)
    if as_json:
        emit_json(docs)
        return
    from states.escalation import RUNG_LABELS

    # one line per alert and its error under it: readable at any terminal width
    for d in docs:
        rung = f"{d['rung']} {RUNG_LABELS.get(d['rung'], '')}".strip()
        typer.echo(f"{d['ref']}  {d['clock']}#{d['cycle']}  {rung}  → {d['route']}  "
                   f"{d['status']}  attempts 次数 {d['attempts']}")
        if d["last_error"]:
            typer.echo(f"    last error 最后错误: {d['last_error']}")
        if d["status"] == "pending" and d["attempts"]:
            typer.echo(f"    next attempt 下次尝试: {d['next_attempt_at']}")
        if d["sent_at"]:
            typer.echo(f"    sent 已发送: {d['sent_at']}")
    typer.echo(f"{len(docs)} alert(s)" + (" given up on (dead)" if failed else ""))
