"""The JSON API under /api (CONTRACT.md, "Users, roles and the HTTP API").

Each endpoint calls the services the CLI calls and answers with the documents the CLI prints
(`flows.views`); who may change what is decided in the services, not here.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import JSONResponse

from deployments.api.deps import CallerDep, RuntimeDep
from deployments.api.errors import error_body
from deployments.api.schemas import (
    CaseCreate,
    CasePublic,
    ClosureReportPublic,
    ErrorPublic,
    EventPublic,
    OverduePublic,
    TriggerFire,
    UserPublic,
)
from deployments.bootstrap import Runtime
from flows import services
from models.errors import Conflict
from models.repository import StoredCase
from states.calendar import legal_date
from states.errors import InvalidInput
from states.roles import Identity

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic, "description": what}
    for status, what in [(400, "bad input"), (401, "no or a wrong token"),
                         (403, "the role may not"), (404, "not found"),
                         (422, "refused by a rule")]
}
router = APIRouter(prefix="/api", responses=ERRORS)
_STALE = re.compile(r"--expect-version ([0-9]+)")
_ETAG = re.compile(r'^\s*(?:W/)?"?([0-9]{1,9})"?\s*$')


def case_response(rt: Runtime, stored: StoredCase, who: Identity | None,
                  status: int = 200) -> JSONResponse:
    from flows.views import case_json

    doc = case_json(stored, rt.case_type(stored.case.type), legal_date(rt.now()), rt.calendar,
                    who)
    return JSONResponse(doc, status_code=status, headers={"ETag": f'"{stored.case.version}"'})


def by_whom(who: Identity | None) -> str:
    return who.name if who is not None else "api"


@router.post("/cases", status_code=201, response_model=CasePublic, summary="立案登记 open a case")
def open_case(body: CaseCreate, rt: RuntimeDep, caller: CallerDep) -> JSONResponse:
    who = caller.identity()
    stored = services.open_case(rt.bureau, body.type, on=body.on, attrs=body.attrs, ref=body.ref,
                                by=by_whom(who), now=rt.now(), who=who)
    return case_response(rt, stored, who, status=201)


@router.get("/cases", response_model=list[CasePublic], summary="cases, by filters")
def list_cases(
    rt: RuntimeDep, caller: CallerDep,
    type: str | None = None, state: str | None = None,
    department: str | None = None, handler: str | None = None,
    overdue: bool = False,
    due_before: Annotated[date | None, Query(description="a running clock due by then")] = None,
    limit: Annotated[int | None, Query(ge=1, le=10_000)] = None,
) -> JSONResponse:
    from flows.views import case_json

    who = caller.identity()
    today = legal_date(rt.now())
    found = services.list_cases(rt.bureau, case_type=type, state=state,
                                overdue_on=today if overdue else None, limit=limit,
                                department=department, handler=handler, due_before=due_before)
    return JSONResponse([case_json(s, rt.case_type(s.case.type), today, rt.calendar, who)
                         for s in found])


@router.get("/cases/{ref}", response_model=CasePublic, summary="a case (ETag: its version)")
def show_case(ref: str, rt: RuntimeDep, caller: CallerDep) -> JSONResponse:
    who = caller.identity()
    return case_response(rt, services.get_case(rt.bureau, ref), who)


@router.get("/cases/{ref}/timeline", response_model=list[EventPublic],
            summary="every event, oldest first")
def timeline(ref: str, rt: RuntimeDep, caller: CallerDep) -> JSONResponse:
    from flows.views import event_json

    who = caller.identity()
    return JSONResponse([event_json(row, who) for row in services.timeline(rt.bureau, ref)],
                        headers={})


@router.get("/cases/{ref}/triggers", response_model=list[str],
            summary="the triggers this user may fire now")
def triggers(ref: str, rt: RuntimeDep, caller: CallerDep) -> JSONResponse:
    return JSONResponse(services.triggers_now(rt.bureau, ref, rt.now(), caller.identity()))


def expected_version(if_match: str | None) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ETAG.match(if_match)
    if found is None:
        raise InvalidInput(f"If-Match {if_match!r} is not a case version",
                           ['If-Match: "<version>" from the ETag of GET /api/cases/{ref}'])
    return int(found[1])


@router.post("/cases/{ref}/triggers/{trigger}", response_model=CasePublic,
             responses={409: {"model": ErrorPublic, "description": "the case changed (stale "
                                                                     "If-Match)"}},
             summary="fire a trigger")
def fire(
    ref: str, trigger: str, rt: RuntimeDep, caller: CallerDep,
    body: TriggerFire | None = None,
    if_match: Annotated[str | None, Header(description='"<version>": 409 when stale')] = None,
) -> JSONResponse:
    who = caller.identity()
    body = body or TriggerFire()
    try:
        stored = services.advance(rt.bureau, ref, trigger, on=body.on, attrs=body.attrs,
                                  reason=body.reason, by=by_whom(who), now=rt.now(),
                                  expect_version=expected_version(if_match), who=who)
    except Conflict as stale:  # said in HTTP's words: the header to send instead
        raise Conflict(stale.message, [_STALE.sub(r'If-Match: "\1"', a)
                                       for a in stale.allowed]) from None
    return case_response(rt, stored, who)


@router.get("/reports/closure", response_model=ClosureReportPublic,
            summary="closure rates (结案率)")
def closure(
    rt: RuntimeDep, caller: CallerDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    type: str | None = None,
    by: Annotated[str | None, Query(description="department, handler or month")] = None,
) -> JSONResponse:
    from flows.reports import closure_report
    from states.report import check_grouping, check_period

    caller.identity()  # a reader with a token, once caseflow has users
    check_period(start, end)
    check_grouping(by)
    return JSONResponse(closure_report(rt.bureau, start, end, case_type=type, by=by).to_json())


@router.get("/audit/overdue", response_model=list[OverduePublic],
            summary="every clock running past its due date, most overdue first")
def overdue(rt: RuntimeDep, caller: CallerDep, type: str | None = None,
            department: str | None = None) -> JSONResponse:
    from flows.audit import overdue_clocks

    caller.identity()  # a reader with a token, once caseflow has users
    return JSONResponse(overdue_clocks(rt.bureau, legal_date(rt.now()), case_type=type,
                                       department=department))


@router.get("/me", response_model=UserPublic, summary="the user of the token")
def me(caller: CallerDep) -> JSONResponse:
    who = caller.identity()
    if who is None:
        return JSONResponse(error_body("identity_required", "no user: caseflow has none yet"),
                            status_code=404)
    return JSONResponse({"name": who.name, "role": who.role.value, "role_label": who.role.label,
                         "department": who.department})
