"""`caseflow sweep`: deadline enforcement once (期限监督), as a Prefect flow.

Where a Prefect API is configured (``PREFECT_API_URL``), or with ``--prefect``, the sweep runs as
a tracked flow run (``--prefect`` without a server starts Prefect's temporary local one, which
takes 5–20 s). Otherwise the very same flow body runs in-process, without importing Prefect,
so a clerk's sweep of a small database answers at once. The flow builds its own bureau inside
the run (`deployments.entrypoints`), from the same settings as this command.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import typer

from deployments.bootstrap import Runtime
from deployments.cli.output import emit_json, json_option
from deployments.cli.parsing import parse_instant
from deployments.cli.state import runtime

# Quiet, offline-friendly Prefect defaults (../shared/PREFECT-NOTES.md); the environment wins.
PREFECT_DEFAULTS = {
    "DO_NOT_TRACK": "1",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
}


def run_as_flow(ctx: typer.Context, flow_name: str, **parameters: Any) -> Any:
    """Run one of `deployments.entrypoints`' flows as a tracked Prefect flow run, in this
    process. The flow composes its bureau inside the run from the environment, as under a
    worker: this command's ``--db`` and ``--policy`` are exported there first."""
    for key, value in PREFECT_DEFAULTS.items():
        os.environ.setdefault(key, value)
    os.environ.update(runtime(ctx).environment())
    from deployments import entrypoints

    return getattr(entrypoints, flow_name)(**parameters)


PREFECT_HELP = "Run as a tracked Prefect flow run even without a server."


def run_flow(ctx: typer.Context, flow_name: str, now_text: str | None, prefect: bool,
             in_process: Callable[[Runtime, datetime], dict[str, Any]]) -> dict[str, Any]:
    """One run of a flow of `deployments.entrypoints` at ``--now``: a tracked Prefect flow run
    where a Prefect API is configured or ``--prefect`` asks for one, else ``in_process``
    (judged at ``--now``, recorded at the real time of recording)."""
    rt = runtime(ctx)
    now = parse_instant(now_text, rt.now())
    if prefect or rt.settings.prefect_api_url:
        report: dict[str, Any] = run_as_flow(ctx, flow_name, now=now)
        return report
    return in_process(rt, now)


def sweep(
    ctx: typer.Context,
    now_text: str = typer.Option(None, "--now", metavar="TIMESTAMP",
                                 help="Enforce as of this instant (default: now)."),
    prefect: bool = typer.Option(False, "--prefect", help=PREFECT_HELP),
    as_json: bool = json_option(),
) -> None:
    """Apply lapse effects, record escalations and queue alerts, once (a Prefect flow)."""

    def in_process(rt: Runtime, now: datetime) -> dict[str, Any]:
        from flows.sweep import sweep as run_sweep

        return run_sweep(rt.bureau, now, recorded_at=rt.now()).to_json()

    report = run_flow(ctx, "deadline_sweep", now_text, prefect, in_process)
    if as_json:
        emit_json(report)
        return
    typer.echo(f"sweep at {report['now']}: {len(report['lapsed'])} lapsed, "
               f"{len(report['escalations'])} escalation(s), "
               f"{report['alerts_queued']} alert(s) queued")
    provisional = " — provisional: that year's holiday notice is not out yet (暂定)"
    for item in report["lapsed"]:
        typer.echo(f"  lapsed   {item['ref']} {item['clock']} -> {item['effect']} "
                   f"(effective {item['effective_on']})"
                   + (provisional if item["provisional"] else ""))
    for item in report["escalations"]:
        mark = "alert" if item["alert"] else "caught up"
        typer.echo(f"  {item['level']:<16} {item['ref']} {item['clock']} ({mark})"
                   + (provisional if item["provisional"] else ""))
    if report["already_applied"]:
        typer.echo(f"  {len(report['already_applied'])} already applied by another sweep")
    for item in report["failures"]:
        typer.echo(f"  failed   {item['ref']} {item['clock']}: {item['error']['message']}")
