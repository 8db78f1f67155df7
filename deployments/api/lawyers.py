"""The legal-aid lawyer pool (律师库) and 指派 in the JSON API, under /api.

The documents are those `caseflow lawyer … --json`, `caseflow assign --json` and `caseflow report
assignments --json` print (`flows.pool`, `flows.assignment`). Who may change the pool or run
the pass is decided in those services (`states.roles.may_edit_pool`, `may_run_assignment`):
everyone reads the pool; supervisors and leaders change it; they and the clerks of a legal-aid
department run the pass.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from deployments.api.deps import RuntimeDep, UserDep
from deployments.api.routes import ERRORS
from deployments.api.schemas import (
    AssignmentReportPublic,
    AssignmentRunPublic,
    ConflictCreate,
    LawyerAdded,
    LawyerCreate,
    LawyerDetail,
    LawyerPublic,
    LeavePublic,
)
from models.lawyers import NewLawyer

router = APIRouter(prefix="/api", responses=ERRORS, tags=["lawyers 律师库"])
# a pool id, as the store can hold it (a bigger number is a 400, not the driver's overflow)
LawyerId = Annotated[int, Path(ge=1, le=2**63 - 1, description="the lawyer's id in the pool")]


@router.get("/lawyers", response_model=list[LawyerPublic],
            summary="律师库 the pool: load, capacity, active, leaves")
def list_lawyers(rt: RuntimeDep, _who: UserDep) -> JSONResponse:
    from flows import pool

    return JSONResponse(pool.list_lawyers(rt.bureau))


@router.get("/lawyers/{lawyer}", response_model=LawyerDetail,
            summary="a lawyer with leaves, conflicts and offers")
def show_lawyer(lawyer: LawyerId, rt: RuntimeDep, _who: UserDep) -> JSONResponse:
    from flows import pool

    return JSONResponse(pool.show_lawyer(rt.bureau, lawyer))


@router.post("/lawyers", status_code=201, response_model=LawyerAdded,
             summary="add a lawyer to the pool (supervisors, leaders)")
def add_lawyer(body: LawyerCreate, rt: RuntimeDep, who: UserDep) -> JSONResponse:
    from flows import pool

    new = NewLawyer(body.name, body.firm, pool.areas_of(body.areas), body.capacity)
    (added,) = pool.add_lawyers(rt.bureau, [new], now=rt.now(), who=who)
    return JSONResponse(pool.added_json(pool.show_lawyer(rt.bureau, added)), status_code=201,
                        headers={"Location": f"/api/lawyers/{added}"})


@router.post("/lawyers/{lawyer}/leaves", response_model=LawyerDetail,
             summary="请假: no assignment from..to (supervisors, leaders)")
def add_leave(lawyer: LawyerId, body: LeavePublic, rt: RuntimeDep, who: UserDep
              ) -> JSONResponse:
    from flows import pool

    return JSONResponse(pool.add_leave(rt.bureau, lawyer, body.from_, body.to, who))


@router.post("/lawyers/{lawyer}/conflicts", response_model=LawyerDetail,
             summary="利益冲突: a party the lawyer may not act for or against")
def add_conflict(lawyer: LawyerId, body: ConflictCreate, rt: RuntimeDep, who: UserDep
                 ) -> JSONResponse:
    from flows import pool

    return JSONResponse(pool.add_conflict(rt.bureau, lawyer, body.party, who))


@router.post("/lawyers/{lawyer}/suspend", response_model=LawyerDetail,
             summary="暂停指派: offered no new case until reactivated (supervisors, leaders)")
def suspend_lawyer(lawyer: LawyerId, rt: RuntimeDep, who: UserDep) -> JSONResponse:
    from flows import pool

    return JSONResponse(pool.set_active(rt.bureau, lawyer, False, who))


@router.post("/lawyers/{lawyer}/activate", response_model=LawyerDetail,
             summary="恢复指派: offered cases again (supervisors, leaders)")
def activate_lawyer(lawyer: LawyerId, rt: RuntimeDep, who: UserDep) -> JSONResponse:
    from flows import pool

    return JSONResponse(pool.set_active(rt.bureau, lawyer, True, who))


@router.post("/assign", response_model=AssignmentRunPublic,
             summary="指派: every approved legal-aid case a lawyer, now")
def assign(rt: RuntimeDep, who: UserDep) -> JSONResponse:
    from flows.assignment import run_assignment

    return JSONResponse(run_assignment(rt.bureau, rt.now(), who).to_json())


@router.get("/reports/assignments", response_model=AssignmentReportPublic,
            summary="指派情况 the fairness report: offers per lawyer, max − min")
def assignments(
    rt: RuntimeDep, _who: UserDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> JSONResponse:
    from flows.pool import assignment_report

    return JSONResponse(assignment_report(rt.bureau, start, end))
