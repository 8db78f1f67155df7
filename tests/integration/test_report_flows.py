"""The closure report and the chain verification as real Prefect flow runs (a temporary Prefect
server, once for this module), publishing their artifacts; each composes its bureau inside the
run from ``CASEFLOW_DB_URL``. The population is tests/report_population.py's."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from report_population import END, START, build_population

from flows.context import Bureau


def test_the_closure_report_flow_publishes_and_writes(
    prefect_server: None, flow_env: None, bureau: Bureau, tmp_path: Path
) -> None:
    from prefect.artifacts import Artifact

    from deployments.entrypoints import (
        REPORT_ARTIFACT_KEY,
        REPORT_SUMMARY_KEY,
        closure_report,
    )

    build_population(bureau)
    doc = closure_report(start=START, end=END, case_type="reconsideration", by="month",
                         out=str(tmp_path))
    (row,) = doc["rows"]
    assert (row["handled"], row["closed"], row["closure_rate"]) == (7, 4, 0.5714)
    stem = tmp_path / "closure-2024-04-01-2024-06-30"
    for suffix in (".json", ".csv", ".png", ".svg"):
        assert stem.with_suffix(suffix).stat().st_size > 0, suffix
    table = Artifact.get(REPORT_ARTIFACT_KEY)
    assert table is not None and table.type == "table"
    assert "0.5714" in str(table.data)
    assert "2024-05" in str(table.data)  # the month breakdown's rows follow the type's
    summary = Artifact.get(REPORT_SUMMARY_KEY)
    assert summary is not None and summary.type == "markdown"
    assert "| reconsideration 行政复议 | 7 | 4 | 57.14% | 1 | 75.00% | 3 | 1 |" \
        in str(summary.data)


def test_the_verify_flow_publishes_its_summary(
    prefect_server: None, flow_env: None, bureau: Bureau
) -> None:
    from prefect.artifacts import Artifact

    from deployments.entrypoints import VERIFY_ARTIFACT_KEY, verify_chains
    from flows import services

    services.open_case(bureau, "complaint", on=date(2024, 6, 20), ref="K",
                       by="clerk", now=datetime(2024, 7, 1, 9, tzinfo=UTC))
    doc = verify_chains()
    assert doc["ok"] and doc["checked"] == 1 and doc["first_broken"] is None
    artifact = Artifact.get(VERIFY_ARTIFACT_KEY)
    assert artifact is not None and "1 of 1 case chain(s) verify" in str(artifact.data)
