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

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from deployments.bootstrap import bootstrap
from flows import sweep as sweeping
from flows.delivery import DeliveryReport, deliver_with

RETRY_DELAYS: list[float] = [2, 10, 30]  # seconds: a database restarting or failing over is back by then


def transient(_task: Task[Any, Any], _run: TaskRun, state: State[Any]) -> bool:
    """Retry only what a database that blinked explains — a dropped connection, a lock or
    serialisation failure (SQLAlchemy's `OperationalError`, or any error it marks as having
    invalidated the connection); a rule the law refuses, or a bug, is not retried. Retrying is
    safe: rungs and lapses recorded by an attempt that failed half-way are found already
    applied."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    try:
        state.result()
    except OperationalError:
        return True
    except DBAPIError as error:
        return bool(error.connection_invalidated)
    except Exception:
        return False
    return False


def _phase_task(fn: Any, name: str, *, retried: bool = True) -> Any:
    # no cache: the inputs are a bureau and the store's rows, and a phase must run each time
    return task(fn, name=name, cache_policy=NO_CACHE,
                retries=len(RETRY_DELAYS) if retried else 0,
                retry_delay_seconds=RETRY_DELAYS if retried else 0.0,
                retry_condition_fn=transient if retried else None)


# the sweep's phases as Prefect tasks: each pass shows as gather -> decide -> apply in the UI
SWEEP_TASKS = sweeping.Phases(
    gather=_phase_task(sweeping.gather, "gather"),
    decide=_phase_task(sweeping.decide, "decide", retried=False),  # pure: nothing to retry
    apply=_phase_task(sweeping.apply, "apply"),
)
DELIVERY_TASK = _phase_task(deliver_with, "deliver")

ARTIFACT_KEY = "deadline-sweep"
ARTIFACT_ROWS = 50  # rows per table in the sweep's artifact; the rest are counted


@flow(name="deadline-sweep", description="期限监督: apply lapse effects, record escalations, "
      "queue alerts (idempotent for the same `now`).")
def deadline_sweep(now: datetime | None = None) -> dict[str, Any]:
    """One sweep at ``now`` (default: the real clock) on the bureau of the environment."""
    runtime = bootstrap()
    try:
        report = sweeping.sweep(runtime.bureau, now or runtime.now(), recorded_at=runtime.now(),
                                phases=SWEEP_TASKS).to_json()
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
    runtime = bootstrap()
    try:
        report: DeliveryReport = DELIVERY_TASK(runtime.bureau, runtime.delivery_kit(),
                                               runtime.now)
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
