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
from datetime import date, datetime
from typing import Any

from prefect import Task, flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun

from deployments.bootstrap import bootstrap
from flows import sweep as sweeping
from flows.delivery import DeliveryReport, deliver_with

# seconds: a database restarting or failing over is back by then
RETRY_DELAYS: list[float] = [2, 10, 30]


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


REPORT_ARTIFACT_KEY = "closure-report"
REPORT_SUMMARY_KEY = "closure-report-summary"
VERIFY_ARTIFACT_KEY = "chain-verification"


@flow(name="closure-report", description="结案率: the closure report over a period, judged as "
      "of its end; a table artifact, a markdown summary, and JSON, CSV and a chart on disk.")
def closure_report(start: date, end: date, case_type: str | None = None, by: str | None = None,
                   out: str | None = None) -> dict[str, Any]:
    """The closure report over [start, end] on the bureau of the environment, written into
    ``out`` (default ``$CASEFLOW_REPORT_DIR``, else ``reports/`` in the current folder) as
    ``closure-<start>-<end>.json``, ``.csv``, ``.png`` and ``.svg``."""
    from pathlib import Path

    from flows.reports import closure_report as report_over
    from flows.reports import write_closure_report

    runtime = bootstrap()
    try:
        report = report_over(runtime.bureau, start, end, case_type=case_type, by=by)
        folder = Path(out) if out else runtime.settings.report_dir
        files = write_closure_report(runtime.bureau, report, folder,
                                     stem=f"closure-{start.isoformat()}-{end.isoformat()}")
    finally:
        runtime.close()
    doc = report.to_json()
    logger = get_run_logger()
    for warning in files.warnings:
        logger.warning("%s", warning)
    logger.info("closure report %s..%s written to %s", doc["from"], doc["to"], folder)
    create_table_artifact(table=report_table(doc), key=REPORT_ARTIFACT_KEY,
                          description=f"结案率 closure {doc['from']}..{doc['to']}")
    create_markdown_artifact(markdown=report_markdown(doc, [str(p) for p in files.paths()]),
                             key=REPORT_SUMMARY_KEY,
                             description=f"结案情况 summary {doc['from']}..{doc['to']}")
    return doc


def report_table(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's rows, then its breakdown's, flat (one cell per figure) for a table
    artifact."""
    rows = []
    for row in [*doc["rows"], *doc.get("breakdown", [])]:
        flat = {k: v for k, v in row.items() if not isinstance(v, dict)}
        flat.update({f"age {k}": v for k, v in row["ageing"].items()})
        flat.update(row["deemed"])
        rows.append(flat)
    return rows


def report_markdown(doc: dict[str, Any], files: list[str]) -> str:
    """A summary people read in the Prefect UI: per type, handled, closed and the rates."""

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.2%}"

    lines = [f"# 结案情况 closure {doc['from']} .. {doc['to']}", "",
             f"Judged as of the end of {doc['to']}.", "",
             "| type 类型 | handled 受理 | closed 结案 | 结案率 | withdrawn 撤回 | 按期率 "
             "| open 未结 | overdue 逾期 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['type']} {r['label']} | {r['handled']} | {r['closed']} "
              f"| {pct(r['closure_rate'])} | {r['withdrawn']} | {pct(r['on_time_rate'])} "
              f"| {r['open_at_end']} | {r['overdue_open']} |" for r in doc["rows"]]
    lines += ["", "Files:", "", *(f"- `{name}`" for name in files)]
    return "\n".join(lines) + "\n"


@flow(name="verify-chains", description="审计: recompute every case's event hash chain and "
      "publish the result (chains verified, the first broken event).")
def verify_chains() -> dict[str, Any]:
    """`caseflow audit verify` as a flow: every case's chain, a markdown artifact."""
    from flows.audit import verify_all

    runtime = bootstrap()
    try:
        summary = verify_all(runtime.bureau)
    finally:
        runtime.close()
    doc = summary.to_json()
    logger = get_run_logger()
    if doc["ok"]:
        logger.info("%d case chain(s) verified", doc["checked"])
    else:
        logger.error("%d of %d case chain(s) broken; first: %s", len(doc["broken"]),
                     doc["checked"], doc["first_broken"])
    create_markdown_artifact(markdown=summary.markdown(), key=VERIFY_ARTIFACT_KEY,
                             description="审计 hash chains of every case")
    return doc
