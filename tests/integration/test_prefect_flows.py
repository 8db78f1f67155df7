"""The deadline flows as real Prefect flow runs (a temporary Prefect server, once per module),
on SQLite and PostgreSQL, and the deployments with their schedules. Each flow composes its
bureau inside the run, from ``CASEFLOW_DB_URL``, as a served or a worker's run does
(tests/e2e/test_served_deployments.py runs them so)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flows import services
from flows.context import Bureau

SH = ZoneInfo("Asia/Shanghai")


def test_the_sweep_flow_deems_acceptance_on_the_last_day_of_review(
    prefect_server: None, flow_env: None, bureau: Bureau
) -> None:
    from prefect.artifacts import Artifact

    from deployments.entrypoints import ARTIFACT_KEY, deadline_sweep

    received = datetime(2024, 9, 27, 10, tzinfo=SH)
    ref = services.open_case(bureau, "reconsideration", on=date(2024, 9, 27), by="clerk",
                             now=received).case.ref
    now = datetime(2024, 10, 14, 9, tzinfo=SH)
    # 5 working days from Fri 09-27 end on 10-10 (09-29, 09-30 worked; 10-01..10-07 off;
    # 10-08, 10-09, 10-10): deemed accepted then, although the sweep runs on 10-14.
    state = deadline_sweep(now=now, return_state=True)
    report = state.result()
    assert [(x["ref"], x["effect"], x["effective_on"]) for x in report["lapsed"]] == [
        (ref, "deem_accepted", "2024-10-10")]
    # the phases ran as tasks of this flow run: a pass that applied a lapse, then one that
    # found nothing more to apply
    assert task_names(state.state_details.flow_run_id) == [
        "gather", "decide", "apply", "gather", "decide", "apply"]
    case = services.get_case(bureau, ref).case
    assert case.state == "under_review" and case.admitted_on == date(2024, 10, 10)
    decision = case.live_cycle("decision")
    assert decision is not None and decision.started_on == date(2024, 10, 10)
    artifact = Artifact.get(ARTIFACT_KEY)
    assert artifact is not None and f"| {ref} | acceptance_review | deem_accepted | 2024-10-10 |" \
        in str(artifact.data)
    assert deadline_sweep(now=now)["lapsed"] == []  # the same moment again: nothing


def test_the_assignment_flow_gives_an_approved_case_a_lawyer_within_its_three_days(
    prefect_server: None, flow_env: None, bureau: Bureau
) -> None:
    from prefect.artifacts import Artifact

    from deployments.entrypoints import ASSIGNMENT_ARTIFACT_KEY, assign_legal_aid
    from flows import pool
    from models.lawyers import NewLawyer

    noticed = datetime(2024, 9, 10, 9, tzinfo=SH)
    (lawyer,) = pool.add_lawyers(bureau, [NewLawyer("周律师", "某所", ("criminal",), 5)],
                                 now=noticed)
    ref = services.open_case(bureau, "legal_aid", on=date(2024, 9, 10), by="clerk",
                             attrs={"channel": "notification", "matter": "criminal",
                                    "applicant": "被告人甲"}, now=noticed).case.ref
    state = assign_legal_aid(now=datetime(2024, 9, 11, 10, tzinfo=SH), return_state=True)
    report = state.result()
    assert [(x["ref"], x["lawyer"]) for x in report["assigned"]] == [(ref, lawyer)]
    assert task_names(state.state_details.flow_run_id) == ["gather", "decide", "apply"]
    case = services.get_case(bureau, ref).case
    assert (case.state, case.attrs["lawyer"]) == ("assigned", str(lawyer))
    # notified 09-10, assigned 09-11: the 3-day clock (art. 36) met
    cycle = next(c for c in case.cycles if c.clock == "assignment")
    assert (cycle.status.value, cycle.due_on) == ("met", date(2024, 9, 13))
    artifact = Artifact.get(ASSIGNMENT_ARTIFACT_KEY)
    assert artifact is not None and ref in str(artifact.data)


def task_names(flow_run_id: Any) -> list[str]:
    """The names of a flow run's task runs, in the order they started."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            sort=TaskRunSort.EXPECTED_START_TIME_ASC)
    return [run.name.rsplit("-", 1)[0] for run in runs]


def test_the_delivery_flow_runs_a_pass(prefect_server: None, flow_env: None) -> None:
    from deployments.entrypoints import deliver_alerts

    # no policy, so no routes, and an empty outbox: a pass that sends nothing
    state = deliver_alerts(return_state=True)
    assert state.result() == {"sent": 0, "failed": 0, "pending": 0}
    assert task_names(state.state_details.flow_run_id) == ["deliver"]


def test_only_a_transient_database_error_is_retried() -> None:
    from prefect.states import Failed
    from sqlalchemy.exc import OperationalError

    from deployments.entrypoints import transient
    from states.errors import TriggerNotAllowed

    dropped = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
    assert transient(None, None, Failed(data=dropped))  # type: ignore[arg-type]
    refused = TriggerNotAllowed("accept", "under_review", [])
    assert not transient(None, None, Failed(data=refused))  # type: ignore[arg-type]
    assert not transient(None, None, Failed(data=ValueError("a bug")))  # type: ignore[arg-type]


def test_the_deployments_carry_their_schedules() -> None:
    from deployments.serve import deployments

    built = {d.name: d for d in deployments()}
    assert set(built) == {"deadline-sweep", "deliver-alerts", "verify-chains", "closure-report",
                          "assign-legal-aid"}
    crons = {name: sorted(s.schedule.cron for s in d.schedules) for name, d in built.items()}
    assert crons == {"deadline-sweep": ["*/15 * * * *", "5 0 * * *"],
                     "deliver-alerts": ["* * * * *"], "verify-chains": ["30 2 * * *"],
                     "closure-report": [], "assign-legal-aid": ["*/15 * * * *"]}
    assert {s.schedule.timezone for d in built.values() for s in d.schedules} == {SH.key}


def test_the_sweep_artifact_counts_rungs_and_caps_its_tables() -> None:
    from deployments.entrypoints import ARTIFACT_ROWS, sweep_markdown

    rung = {"ref": "RC-2024-0001", "clock": "decision", "cycle": 1, "level": "overdue",
            "reached_on": "2024-12-10", "alert": True, "caught_up": False}
    report = {"now": "2024-12-10T00:05:00+08:00", "lapsed": [], "alerts_queued": 2,
              "escalations": [rung] * (ARTIFACT_ROWS + 1),
              "failures": [{"ref": "RC-2024-0002", "clock": "supplement",
                            "effect": "deem_abandoned",
                            "error": {"message": "refused | stale\nversion"}}]}
    text = sweep_markdown(report)
    assert f"| 0 | 0 | {ARTIFACT_ROWS + 1} | 0 | 2 | 1 |" in text  # lapsed, rungs…, failures
    assert "## Lapses applied" not in text
    assert text.count("| RC-2024-0001 | decision | 1 | overdue | 2024-12-10 | yes |") \
        == ARTIFACT_ROWS
    assert "… and 1 more" in text
    assert "| RC-2024-0002 | supplement | deem_abandoned | refused \\| stale version |" in text
