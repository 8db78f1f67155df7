"""Every case carries its department and handling clerk (承办科室, 承办人): set at open, changed
by the supervisor's internal trigger `reassign`, kept in columns for routes, worklists and
reports (issue 13 §4) — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from flows import services
from flows.context import Bureau
from flows.sweep import sweep
from models.tables import alerts, cases
from states.errors import InvalidAttribute

NOW = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)


def columns(bureau: Bureau, ref: str) -> tuple[str | None, str | None]:
    with bureau.engine.connect() as connection:
        row = connection.execute(sa.select(cases.c.department, cases.c.handler)
                                 .where(cases.c.ref == ref)).one()
    return row.department, row.handler


def test_department_and_handler_are_set_at_open_and_changed_by_reassign(bureau: Bureau) -> None:
    ref = services.open_case(bureau, "reconsideration", on=date(2024, 9, 27),
                             attrs={"department": "行政复议科", "handler": "clerk-wang"},
                             by="clerk-wang", now=NOW).case.ref
    assert columns(bureau, ref) == ("行政复议科", "clerk-wang")
    with pytest.raises(InvalidAttribute, match="handler"):
        services.advance(bureau, ref, "reassign", on=date(2024, 9, 30), by="科长", now=NOW)
    stored = services.advance(bureau, ref, "reassign", on=date(2024, 9, 30),
                              attrs={"handler": "clerk-li"}, by="科长", now=NOW)
    assert stored.case.state == "received"  # internal: the state stays
    assert stored.case.attrs["handler"] == "clerk-li"
    assert columns(bureau, ref) == ("行政复议科", "clerk-li")
    services.advance(bureau, ref, "reassign", on=date(2024, 9, 30),
                     attrs={"handler": "clerk-zhao", "department": "法律援助科"}, by="科长",
                     now=NOW)
    assert columns(bureau, ref) == ("法律援助科", "clerk-zhao")
    event = services.timeline(bureau, ref)[-1]
    assert (event.trigger, event.actor) == ("reassign", "supervisor")
    assert services.verify(bureau, ref)[0].ok


def test_alerts_go_to_the_routes_of_the_cases_department(bureau: Bureau) -> None:
    services.open_case(bureau, "reconsideration", on=date(2024, 9, 27),
                       attrs={"department": "行政复议科", "handler": "clerk-wang"},
                       by="clerk-wang", now=NOW)
    sweep(bureau, datetime(2024, 10, 9, 1, tzinfo=UTC))  # the review's warning, for the clerk
    with bureau.engine.connect() as connection:
        routes = connection.execute(sa.select(alerts.c.route)).scalars().all()
    assert routes == ["行政复议科/clerk"]
