"""Schemathesis against the API's own OpenAPI description: generated requests, valid and not,
never get a 5xx, and every answer matches the schema declared for it (status, content type,
body). A bounded number of examples per operation (about half a minute in all), on SQLite,
with a supervisor's token and a few cases to find."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from deployments.api.app import create_app
from deployments.bootstrap import bootstrap
from flows import pool, services, users
from models.lawyers import NewLawyer
from states.roles import Role

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    path: Path = tmp_path_factory.mktemp("schema") / "caseflow.db"
    rt = bootstrap(f"sqlite:///{path}")
    for on in ("2025-05-06", "2025-05-20"):  # before there are users: no one to name
        services.open_case(rt.bureau, "reconsideration", on=date.fromisoformat(on),
                           attrs={"department": "一科", "phone": "13812345678"},
                           by="李", now=NOW)
    pool.add_lawyers(rt.bureau, [NewLawyer("甲律师", "甲所", ("criminal",), 3)], now=NOW)
    services.open_case(rt.bureau, "legal_aid", on=date(2025, 5, 30),
                       attrs={"channel": "notification", "matter": "criminal"}, by="李", now=NOW)
    users.add_user(rt.bureau, "李", Role.SUPERVISOR, department="一科", password=None, now=NOW)
    TOKEN["李"] = users.issue_token(rt.bureau, "李", NOW)
    yield create_app(rt, secret_key="test")
    rt.close()


OPERATIONS = ["POST /api/cases", "GET /api/cases", "GET /api/cases/{ref}",
              "GET /api/cases/{ref}/timeline", "GET /api/cases/{ref}/triggers",
              "POST /api/cases/{ref}/triggers/{trigger}", "GET /api/reports/closure",
              "GET /api/audit/overdue", "GET /api/me", "GET /api/lawyers",
              "GET /api/lawyers/{lawyer}", "POST /api/lawyers", "POST /api/lawyers/{lawyer}/leaves",
              "POST /api/lawyers/{lawyer}/conflicts", "POST /api/lawyers/{lawyer}/suspend",
              "POST /api/lawyers/{lawyer}/activate", "POST /api/assign",
              "GET /api/reports/assignments"]


def test_every_operation_is_tested(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    assert sorted(op.ok().label for op in schema.get_all_operations()) == sorted(OPERATIONS)


@pytest.mark.parametrize("label", OPERATIONS)
def test_the_api_keeps_its_description(app: FastAPI, label: str) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operation = next(op.ok() for op in schema.get_all_operations() if op.ok().label == label)

    @given(case=operation.as_strategy())
    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    def call(case: Any) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {TOKEN['李']}"},
            checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                    response_schema_conformance])

    call()
