"""The Prefect flows of deadline enforcement: what `serve`, a worker and the CLI run.

Each flow composes its bureau *inside the flow run*: the body calls `bootstrap()` (settings from
the environment: ``CASEFLOW_DB_URL``, ``CASEFLOW_POLICY``, ``CASEFLOW_CALENDAR_DATA``…), then
the plain functions of `flows/` (`flows.sweep.sweep`, `flows.delivery.deliver_with`). So a run
works wherever Prefect starts it — a process of `serve()` (deployments/serve.py), a worker that
imports this module by its prefect.yaml entrypoint, or the CLI calling the flow in-process — with
nothing installed beforehand. Parameters are plain values (`now`), never the bureau: a deployed
run receives them as JSON.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from deployments.bootstrap import bootstrap

ARTIFACT_KEY = "deadline-sweep"
ARTIFACT_ROWS = 50  # rows per table in the sweep's artifact; the rest are counted


@flow(name="deadline-sweep", description="期限监督: apply lapse effects, record escalations, "
      "queue alerts (idempotent for the same `now`).")
def deadline_sweep(now: datetime | None = None) -> dict[str, Any]:
    """One sweep at ``now`` (default: the real clock) on the bureau of the environment."""
    from flows.sweep import sweep

    runtime = bootstrap()
    try:
        report = sweep(runtime.bureau, now or runtime.now(), recorded_at=runtime.now()).to_json()
    finally:
        runtime.close()
    get_run_logger().info("sweep at %s: %d lapsed, %d escalation(s), %d alert(s) queued, "
                          "%d failure(s)", report["now"], len(report["lapsed"]),
                          len(report["escalations"]), report["alerts_queued"],
                          len(report["failures"]))
    create_markdown_artifact(markdown=sweep_markdown(report), key=ARTIFACT_KEY,
                             description=f"期限监督 sweep at {report['now']}")
    return report


@flow(name="deliver-alerts", description="Send queued alerts once each (WeCom, DingTalk, signed "
      "webhooks); retry transient failures with backoff, never 4xx.")
def deliver_alerts() -> dict[str, int]:
    """One delivery pass over the outbox, with the routes of the environment's policy."""
    from flows.delivery import deliver_with

    runtime = bootstrap()
    try:
        report = deliver_with(runtime.bureau, runtime.delivery_kit(), runtime.now)
    finally:
        runtime.close()
    logger = get_run_logger()
    logger.info("delivery: %d sent, %d failed, %d pending", report.sent, report.failed,
                report.pending)
    for dead in report.errors:
        logger.warning("gave up on %s: %s", dead["idempotency_key"], dead["error"])
    return report.to_json()


def sweep_markdown(report: dict[str, Any]) -> str:
    """A sweep's report (`flows.sweep.SweepReport.to_json`) as the run's markdown artifact:
    the counts, then the lapses, the rungs recorded and the failures, each capped at
    `ARTIFACT_ROWS` rows."""
    levels = Counter(item["level"] for item in report["escalations"])
    lines = [
        f"# 期限监督 sweep at {report['now']}",
        "",
        "| lapsed 视为 | due_soon 预警 | overdue 逾期 | overdue_serious 严重逾期 "
        "| alerts queued 待发送 | failures 失败 |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {len(report['lapsed'])} | {levels['due_soon']} | {levels['overdue']} "
        f"| {levels['overdue_serious']} | {report['alerts_queued']} | {len(report['failures'])} |",
    ]
    lines += _table("Lapses applied", ["case", "clock", "effect", "effective on"],
                    [[x["ref"], x["clock"], x["effect"], x["effective_on"]]
                     for x in report["lapsed"]])
    lines += _table("Rungs recorded", ["case", "clock", "cycle", "rung", "reached on", "alert"],
                    [[x["ref"], x["clock"], str(x["cycle"]), x["level"], x["reached_on"],
                      "caught up" if x["caught_up"] else ("yes" if x["alert"] else "no")]
                     for x in report["escalations"]])
    lines += _table("Failures", ["case", "clock", "effect", "error"],
                    [[x["ref"], x["clock"], x["effect"], x["error"]["message"]]
                     for x in report["failures"]])
    return "\n".join(lines) + "\n"


def _table(title: str, header: list[str], rows: list[list[str]]) -> list[str]:
    if not rows:
        return []
    lines = ["", f"## {title}", "", "| " + " | ".join(header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows[:ARTIFACT_ROWS]]
    if len(rows) > ARTIFACT_ROWS:
        lines += ["", f"… and {len(rows) - ARTIFACT_ROWS} more"]
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
