"""Entry points of the Prefect deployments (prefect.yaml and `deployments/serve.py`).

A worker imports this module in a fresh process to run a scheduled flow: importing it installs
the composition root (settings from the environment: ``CASEFLOW_DB_URL``, ``CASEFLOW_POLICY``…)
for the flows to use. Nothing is built until a flow runs.
"""

from __future__ import annotations

from deployments.bootstrap import bootstrap
from flows.deadline_flows import deadline_sweep, deliver_alerts

bootstrap().install()

__all__ = ["deadline_sweep", "deliver_alerts"]
