"""Fixtures of the integration tests that run real Prefect flow runs."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A Prefect server for this module's tests only. Stopped after them, it also stops
    Prefect's events client, whose websocket keepalive pings draw on the global `random`
    from a background thread: left running, they changed its state in the middle of later
    property tests' draws, and Hypothesis warned of `random` used inside strategies."""
    os.environ.setdefault("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect")))
    for key, value in {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                       "PREFECT_LOGGING_LEVEL": "WARNING",
                       "PREFECT_SERVER_LOGGING_LEVEL": "CRITICAL",
                       "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180"}.items():
        os.environ.setdefault(key, value)
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def flow_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment a flow run composes its bureau from: the test's database, no policy."""
    monkeypatch.setenv("CASEFLOW_DB_URL", db_url)
    monkeypatch.delenv("CASEFLOW_POLICY", raising=False)
    monkeypatch.delenv("CASEFLOW_CALENDAR_DATA", raising=False)
