"""The lawyer pool's pages (律师库, server-rendered, no JavaScript), beside `deployments.api.pages`.

    /lawyers            the pool: load of capacity, active or suspended, leave, last assigned;
                        for supervisors and leaders the forms to add a lawyer, a leave, a
                        conflict; for those who may, the button that runs 指派 and its result
    /lawyers/ID         a lawyer: leave, conflicts, every offer with its outcome, and the
                        same leave and conflict forms for them; their status (在册 or
                        暂停指派) with the form that suspends or reactivates them

Every form carries the session's CSRF token (`pages.posted_form`); the writes go through the same
services as the API and the CLI, as the user logged in, so the same rules refuse them.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from deployments.api.deps import RuntimeDep
from deployments.api.errors import status_for
from deployments.api.lawyers import LawyerId
from deployments.api.pages import FormDep, PageUser, PostedForm, _date, error_page, render
from deployments.bootstrap import Runtime
from models.lawyers import NewLawyer
from states.calendar import SHANGHAI, legal_date
from states.errors import CaseflowError, InvalidAttribute
from states.roles import EDITS_POOL, Identity, RoleNotAllowed

router = APIRouter(include_in_schema=False)


def may_assign(rt: Runtime, who: Identity) -> bool:
    from flows.assignment import runner

    try:
        runner(rt.bureau, who)
    except RoleNotAllowed:
        return False
    return True


def pool_page(request: Request, rt: Runtime, who: Identity, *,
              error: CaseflowError | None = None, result: dict[str, Any] | None = None
              ) -> HTMLResponse:
    from flows import pool

    return render(request, "lawyers.html", {
        "who": who, "today": legal_date(rt.now()), "lawyers": pool.list_lawyers(rt.bureau),
        "may_edit": who.role in EDITS_POOL, "may_assign": may_assign(rt, who),
        "error": error, "result": result}, status_for(error) if error else 200)


@router.get("/lawyers")
def lawyers(request: Request, rt: RuntimeDep, who: PageUser) -> HTMLResponse:
    return pool_page(request, rt, who)


def lawyer_page(request: Request, rt: Runtime, who: Identity, lawyer: int, *,
                error: CaseflowError | None = None, done: str | None = None) -> HTMLResponse:
    """A lawyer's page, with ``error`` shown above it (and its status); an unknown lawyer is
    the error page (404)."""
    from flows import pool

    try:
        doc = pool.show_lawyer(rt.bureau, lawyer)
    except CaseflowError as missing:
        return error_page(request, who, missing)
    return render(request, "lawyer.html", {
        "who": who, "lawyer": doc, "today": legal_date(rt.now()), "done": done,
        "error": error, "may_edit": who.role in EDITS_POOL},
        status_for(error) if error else 200)


@router.get("/lawyers/{lawyer}")
def lawyer(request: Request, rt: RuntimeDep, who: PageUser, lawyer: LawyerId,
           done: str | None = None) -> HTMLResponse:
    return lawyer_page(request, rt, who, lawyer, done=done)


def _capacity(text: str) -> int:
    value = text.strip() or "10"
    if not (value.isascii() and value.isdigit() and len(value) < 6):
        raise InvalidAttribute(f"capacity {text!r} is not a whole number", ["1..500"])
    return int(value)


@router.post("/lawyers")
def add_lawyer(request: Request, rt: RuntimeDep, who: PageUser, form: FormDep) -> Response:
    from flows import pool

    try:
        fields = form.fields()
        new = NewLawyer(fields.get("name", ""), fields.get("firm", ""),
                        pool.parse_areas(fields.get("areas", "")),
                        _capacity(fields.get("capacity", "")))
        (added,) = pool.add_lawyers(rt.bureau, [new], now=rt.now(), who=who)
    except CaseflowError as error:
        return pool_page(request, rt, who, error=error)
    return RedirectResponse(f"/lawyers/{added}?done=added", status_code=303)


def _lawyer(fields: dict[str, str]) -> int:
    text = fields.get("lawyer", "").strip()
    if not (text.isascii() and text.isdigit() and len(text) < 16):
        raise InvalidAttribute(f"lawyer {text!r} is not a lawyer of the pool",
                               ["a lawyer's id from the table"])
    return int(text)


@router.post("/lawyers/leaves")
def add_leave(request: Request, rt: RuntimeDep, who: PageUser, form: FormDep) -> Response:
    """请假: the form names the lawyer (a choice on the pool's page, fixed on a lawyer's)."""
    from flows import pool

    try:
        fields = form.fields()
        lawyer = _lawyer(fields)
        pool.add_leave(rt.bureau, lawyer, _date(fields.get("from", ""), "from"),
                       _date(fields.get("to", ""), "to"), who)
    except CaseflowError as error:
        return pool_page(request, rt, who, error=error)
    return RedirectResponse(f"/lawyers/{lawyer}?done=leave", status_code=303)


@router.post("/lawyers/conflicts")
def add_conflict(request: Request, rt: RuntimeDep, who: PageUser, form: FormDep) -> Response:
    from flows import pool

    try:
        fields = form.fields()
        lawyer = _lawyer(fields)
        pool.add_conflict(rt.bureau, lawyer, fields.get("party", ""), who)
    except CaseflowError as error:
        return pool_page(request, rt, who, error=error)
    return RedirectResponse(f"/lawyers/{lawyer}?done=conflict", status_code=303)


def _set_active(request: Request, rt: Runtime, who: Identity, form: PostedForm, lawyer: int,
                active: bool) -> Response:
    """暂停指派 / 恢复指派 through the pool's service, which judges who may
    (`states.roles.may_edit_pool`); a refusal is shown on the lawyer's page, nothing changed."""
    from flows import pool

    try:
        form.fields()
        pool.set_active(rt.bureau, lawyer, active, who)
    except CaseflowError as error:
        return lawyer_page(request, rt, who, lawyer, error=error)
    done = "activated" if active else "suspended"
    return RedirectResponse(f"/lawyers/{lawyer}?done={done}", status_code=303)


@router.post("/lawyers/{lawyer}/suspend")
def suspend(request: Request, rt: RuntimeDep, who: PageUser, form: FormDep, lawyer: LawyerId
            ) -> Response:
    """暂停指派: the next passes offer the lawyer nothing; the cases they hold stay theirs."""
    return _set_active(request, rt, who, form, lawyer, False)


@router.post("/lawyers/{lawyer}/activate")
def activate(request: Request, rt: RuntimeDep, who: PageUser, form: FormDep, lawyer: LawyerId
             ) -> Response:
    """恢复指派: the lawyer is in the rotation again."""
    return _set_active(request, rt, who, form, lawyer, True)


@router.post("/lawyers/assign")
def assign(request: Request, rt: RuntimeDep, who: PageUser, form: FormDep) -> Response:
    """指派 now: the pass's result is shown on the pool's page (who got which case and why,
    and the reason per gate for a case left without a lawyer)."""
    from flows.assignment import run_assignment

    try:
        form.fields()
        now = rt.now()
        result = run_assignment(rt.bureau, now, who).to_json()
    except CaseflowError as error:
        return pool_page(request, rt, who, error=error)
    # when it ran, as the bureau's clock reads (北京时间)
    result["run_at"] = now.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return pool_page(request, rt, who, result=result)
