"""Serve the deadline flows on their schedules against a Prefect server.

    PREFECT_API_URL=http://127.0.0.1:4200/api CASEFLOW_DB_URL=postgresql+psycopg://… \\
        python -m deployments.serve

The sweep runs every 15 minutes and at 00:05 Asia/Shanghai (just after midnight, when
yesterday's limits have lapsed); delivery runs every minute. Prefect's temporary local server
has no scheduler, so this needs a real one (`prefect server start`). Several machines may serve
at once: sweeps and deliveries are safe to run in parallel (unique keys per rung and alert,
claims with SKIP LOCKED).
"""

from __future__ import annotations

from typing import Any

SHANGHAI = "Asia/Shanghai"
SWEEP_CRONS = ("*/15 * * * *", "5 0 * * *")
DELIVERY_CRON = "* * * * *"


def deployments() -> list[Any]:
    """The two deployments with their schedules (built, not started)."""
    from prefect.schedules import Cron

    from deployments import entrypoints

    return [
        entrypoints.deadline_sweep.to_deployment(
            name="deadline-sweep",
            schedules=[Cron(cron, timezone=SHANGHAI) for cron in SWEEP_CRONS],
        ),
        entrypoints.deliver_alerts.to_deployment(
            name="deliver-alerts", schedules=[Cron(DELIVERY_CRON, timezone=SHANGHAI)]
        ),
    ]


def main() -> None:
    from prefect import serve

    serve(*deployments())


if __name__ == "__main__":
    main()
