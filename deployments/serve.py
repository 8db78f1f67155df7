"""Serve the deadline flows on their schedules against a Prefect server.

    PREFECT_API_URL=http://127.0.0.1:4200/api CASEFLOW_DB_URL=postgresql+psycopg://… \\
        python -m deployments.serve

Each run is a fresh process, started by this one, that imports `deployments.entrypoints` and
composes the bureau inside the run from the environment inherited from this process
(``CASEFLOW_DB_URL``, ``CASEFLOW_POLICY``, the alert secrets…). The deployments name their
entrypoint by module, not by a file relative to the current folder.

The sweep runs every 15 minutes and at 00:05 Asia/Shanghai (just after midnight, when
yesterday's limits have lapsed); delivery runs every minute; every case's hash chain is
verified nightly at 02:30 (`verify-chains`, its result an artifact); approved legal-aid cases
are given a lawyer every 15 minutes (`assign-legal-aid`). Prefect's temporary
local server has no scheduler, so this needs a real one (`prefect server start`). Several
machines may serve at once: sweeps and deliveries are safe to run in parallel (unique keys per
rung and alert, claims with SKIP LOCKED).
"""

from __future__ import annotations

from typing import Any

SHANGHAI = "Asia/Shanghai"
SWEEP_CRONS = ("*/15 * * * *", "5 0 * * *")
DELIVERY_CRON = "* * * * *"
VERIFY_CRON = "30 2 * * *"  # every night at 02:30, when nobody is recording
# 指派 within 3 days of the grant (法律援助法 第四十三条): a pass every quarter of an hour
ASSIGN_CRON = "*/15 * * * *"


def deployments() -> list[Any]:
    """The deployments with their schedules (built, not started)."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    from deployments import entrypoints

    by_module = EntrypointType.MODULE_PATH  # not a file path relative to the current folder
    return [
        entrypoints.deadline_sweep.to_deployment(
            name="deadline-sweep",
            schedules=[Cron(cron, timezone=SHANGHAI) for cron in SWEEP_CRONS],
            entrypoint_type=by_module,
        ),
        entrypoints.deliver_alerts.to_deployment(
            name="deliver-alerts", schedules=[Cron(DELIVERY_CRON, timezone=SHANGHAI)],
            entrypoint_type=by_module,
        ),
        entrypoints.verify_chains.to_deployment(
            name="verify-chains", schedules=[Cron(VERIFY_CRON, timezone=SHANGHAI)],
            entrypoint_type=by_module,
        ),
        entrypoints.assign_legal_aid.to_deployment(
            name="assign-legal-aid", schedules=[Cron(ASSIGN_CRON, timezone=SHANGHAI)],
            entrypoint_type=by_module,
        ),
        # no schedule: a report is run when it is due (`--param start=… --param end=…`)
        entrypoints.closure_report.to_deployment(
            name="closure-report", entrypoint_type=by_module,
        ),
    ]


def main() -> None:
    from prefect import serve

    serve(*deployments())


if __name__ == "__main__":
    main()
