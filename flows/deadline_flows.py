"""The Prefect flows of deadline enforcement: thin wrappers over the services.

`deadline_sweep` runs `flows.sweep.sweep` (gather -> decide -> apply) once; `deliver_alerts`
runs one delivery pass over the outbox. Their bodies are plain function calls, so the CLI runs
the very same code in-process when no Prefect server is configured, and a worker or `serve()`
runs it as a tracked flow run on a schedule (deployments/). The bureau and the clock come from
the composition root through `flows.context`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prefect import flow

from flows.context import current_bureau, current_delivery_kit, current_time
from flows.delivery import deliver_with
from flows.sweep import sweep


@flow(name="deadline-sweep", description="期限监督: apply lapse effects, record escalations, "
      "queue alerts (idempotent for the same `now`).")
def deadline_sweep(now: datetime | None = None) -> dict[str, Any]:
    return sweep(current_bureau(), now or current_time(), recorded_at=current_time()).to_json()


@flow(name="deliver-alerts", description="Send queued alerts once each (WeCom, DingTalk, signed "
      "webhooks); retry transient failures with backoff, never 4xx.")
def deliver_alerts() -> dict[str, int]:
    return deliver_with(current_bureau(), current_delivery_kit(), current_time).to_json()
