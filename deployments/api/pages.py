"""The pages clerks and supervisors use (server-rendered, Jinja2, no JavaScript).

    /login      登录 a form (username, password); attempts limited per name and address
    /           工作台 the user's open cases by nearest deadline, days left, colour when near
    /cases/REF  案件 state, clocks, the actions allowed now as forms, the timeline
    /dashboard  监督 overdue board, closure and on-time rates by type and month, workloads

Every form carries the session's CSRF token; sessions are signed cookies (Starlette's
SessionMiddleware). Writes go through the same services as the API and CLI, as the user
logged in, so the same rules refuse the same things.
"""

from __future__ import annotations

import contextlib
import secrets
import tempfile
import threading
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from deployments.api.deps import RuntimeDep
from deployments.api.errors import TooManyAttempts, status_for
from deployments.bootstrap import Runtime
from flows import services
from models.errors import Conflict
from states.assignment import AREA_LABELS
from states.calendar import legal_date
from states.case import DomainEvent
from states.casetype import Attr, AttrKind, CaseType, TransitionSpec
from states.clocks import CycleStatus, Owner
from states.errors import CaseflowError, InvalidInput
from states.roles import SUPERVISING, Identity, Role, RoleNotAllowed

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def area_words(name: str) -> str:
    """A practice area (业务领域) as the pages show it: Chinese first when it is a common one."""
    return f"{AREA_LABELS[name]} {name}" if name in AREA_LABELS else name


TEMPLATES.env.filters["area"] = area_words
DUE_SOON_DAYS = 3  # a deadline this close is shown amber (预警)
LOGIN_LIMIT = 5  # failed logins per user name and address …
LOGIN_WINDOW = timedelta(minutes=15)  # … within this long, then 429
router = APIRouter(include_in_schema=False)


class LoginLimiter:
    """Failed logins per (user name, address) in a sliding window, in this process's memory:
    a guesser is slowed, a clerk who mistypes is not locked out for long.

    Logins are checked in the thread pool, several at once: an attempt counts as failed from
    the moment it is let through until it succeeds, so that guesses sent together cannot all
    pass the count before the first of their (slow) password checks has ended."""

    def __init__(self, limit: int = LOGIN_LIMIT, window: timedelta = LOGIN_WINDOW) -> None:
        self.limit, self.window = limit, window
        self.failures: dict[tuple[str, str], deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def attempt(self, key: tuple[str, str], now: datetime) -> None:
        """Let an attempt through, counted as failed until `succeeded`; or refuse it."""
        with self._lock:
            failures = self.failures[key]
            while failures and failures[0] <= now - self.window:
                failures.popleft()
            if len(failures) >= self.limit:
                wait = int((failures[0] + self.window - now).total_seconds() // 60) + 1
                raise TooManyAttempts(
                    f"too many failed logins for {key[0]!r}: try again in {wait} minute(s)",
                    [f"{self.limit} attempts per "
                     f"{int(self.window.total_seconds() // 60)} minutes"])
            failures.append(now)

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self.failures.pop(key, None)


def mount(app: FastAPI, secret_key: str) -> None:
    app.state.login_limiter = LoginLimiter()
    app.add_middleware(SessionMiddleware, secret_key=secret_key, session_cookie="caseflow",
                       same_site="lax", max_age=12 * 3600)
    app.add_exception_handler(LoginNeeded, login_redirect)
    app.include_router(router)


# -- the session ------------------------------------------------------------------------------


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = request.session["csrf"] = secrets.token_urlsafe(24)
    return token


async def form_of(request: Request) -> dict[str, str]:
    """The posted form, after its CSRF token is checked against the session's."""
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    sent = fields.pop("csrf", "")
    if not secrets.compare_digest(sent, request.session.get("csrf") or "\0"):
        raise RoleNotAllowed("the form's security token (CSRF) does not match this session; "
                             "reload the page and submit it again", [])
    return fields


@dataclass(frozen=True)
class PostedForm:
    """A page's posted form, read and its CSRF token checked on the event loop (reading a
    request's body is asynchronous), for a handler that is a plain function: FastAPI runs
    those in its thread pool, so the services' database work and password hashing (argon2,
    tens of milliseconds) never hold up the loop that serves every other request."""

    _fields: dict[str, str]
    _refused: CaseflowError | None = None

    def fields(self) -> dict[str, str]:
        """The fields; the refusal instead when the token did not match (the handler shows
        it as it shows any other)."""
        if self._refused is not None:
            raise self._refused
        return dict(self._fields)


async def posted_form(request: Request) -> PostedForm:
    try:
        return PostedForm(await form_of(request))
    except CaseflowError as refused:
        return PostedForm({}, refused)


FormDep = Annotated[PostedForm, Depends(posted_form)]


class LoginNeeded(Exception):
    """Not logged in: the page sends the browser to /login."""


def page_user(request: Request, rt: RuntimeDep) -> Identity:
    from flows.users import identity
    from states.roles import UnknownUser

    name = request.session.get("user")
    if not isinstance(name, str):
        raise LoginNeeded
    try:
        return identity(rt.bureau, name)
    except UnknownUser:
        request.session.pop("user", None)
        raise LoginNeeded from None


PageUser = Annotated[Identity, Depends(page_user)]


@dataclass(frozen=True)
class Words:
    """The Chinese a clerk knows each name by, for the pages to put first, the name beside it:
    case types (案件类型), their states and clocks, and who owes a clock (责任方)."""

    types: Mapping[str, CaseType]

    def type(self, name: str) -> str:
        case_type = self.types.get(name)
        return case_type.label if case_type else ""

    def state(self, type_name: str, name: str) -> str:
        case_type = self.types.get(type_name)
        spec = case_type.state_map.get(name) if case_type else None
        return spec.label if spec else ""

    def clock(self, type_name: str, name: str | None) -> str:
        case_type = self.types.get(type_name)
        spec = case_type.clock_map.get(name or "") if case_type else None
        return spec.label if spec else ""

    @staticmethod
    def owner(name: str) -> str:
        try:
            return Owner(name).label
        except ValueError:
            return ""


def render(request: Request, template: str, context: Mapping[str, Any],
           status: int = 200) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(
        request, template, {"csrf": csrf_token(request), **context}, status_code=status)


def error_page(request: Request, who: Identity | None, error: CaseflowError) -> HTMLResponse:
    return render(request, "error.html", {"who": who, "error": error}, status_for(error))


# -- login ------------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, rt: RuntimeDep) -> HTMLResponse:
    from flows.users import users_exist

    return render(request, "login.html", {"who": None, "message": None,
                                          "no_users": not users_exist(rt.bureau)})


@router.post("/login")
def login(request: Request, rt: RuntimeDep, form: FormDep) -> Response:
    from flows.users import log_in

    try:
        fields = form.fields()
        name = fields.get("username", "").strip()
        key = (name, request.client.host if request.client else "")
        limiter: LoginLimiter = request.app.state.login_limiter
        limiter.attempt(key, rt.now())
        who = log_in(rt.bureau, name, fields.get("password", ""))
        limiter.succeeded(key)
    except CaseflowError as error:
        return render(request, "login.html", {"who": None, "message": error.message,
                                              "no_users": False}, status_for(error))
    request.session.clear()  # a new session on login: a planted one is not kept
    request.session["user"] = who.name
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
async def logout(request: Request) -> Response:
    with contextlib.suppress(CaseflowError):  # logging out is harmless, whatever the token
        await form_of(request)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# -- the worklist -----------------------------------------------------------------------------


def days_class(days_left: int | None) -> str:
    if days_left is None:
        return ""
    return "overdue" if days_left < 0 else "due-soon" if days_left <= DUE_SOON_DAYS else "ok"


@router.get("/")
def worklist(request: Request, rt: RuntimeDep, who: PageUser) -> HTMLResponse:
    from flows.audit import clerk_desk

    today = legal_date(rt.now())
    desk = clerk_desk(rt.bureau, who.name, date(today.year, 1, 1), today, today)
    for case in desk["open"]:
        case["class"] = days_class(case["days_left"])
    return render(request, "worklist.html", {
        "who": who, "desk": desk, "today": today, "types": rt.types.values(),
        "words": Words(rt.types),
        "may_open": who.role is not Role.AUDITOR, "supervising": who.role in SUPERVISING
        or who.role is Role.AUDITOR})


@router.post("/cases")
def open_case(request: Request, rt: RuntimeDep, who: PageUser, form: FormDep) -> Response:
    try:
        fields = form.fields()
        attrs = {k: v.strip() for k, v in fields.items()
                 if k not in {"type", "on"} and v.strip()}
        on = _date(fields.get("on", ""), "on")
        stored = services.open_case(rt.bureau, fields.get("type", ""), on=on, attrs=attrs,
                                    by=who.name, now=rt.now(), who=who)
    except CaseflowError as error:
        return error_page(request, who, error)
    return RedirectResponse(f"/cases/{stored.case.ref}", status_code=303)


def _date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a date", ["YYYY-MM-DD"]) from None


# -- a case -----------------------------------------------------------------------------------


def transition_from(case_type: CaseType, trigger: str,
                    state: str | None) -> TransitionSpec | None:
    """The declaration of ``trigger`` from ``state`` (its first, if none is from there)."""
    specs = case_type.triggers.get(trigger, ())
    return next((s for s in specs if state in s.source), specs[0] if specs else None)


def action_form(case_type: CaseType, state: str, trigger: str) -> dict[str, Any]:
    """What a trigger's form asks for: its declared attributes (from the case's state)."""
    spec = transition_from(case_type, trigger, state)
    attrs: tuple[Attr, ...] = spec.attrs if spec else ()
    return {
        "trigger": trigger, "label": spec.label if spec else trigger,
        "basis": spec.basis if spec else "",
        "reason_required": bool(spec and spec.reason_required),
        "fields": [{"name": a.name, "label": a.label or a.name, "required": a.required,
                    "kind": "select" if a.kind is AttrKind.CHOICE else
                    "date" if a.kind is AttrKind.DATE else
                    "number" if a.kind is AttrKind.INT else "text",
                    "choices": a.choices, "low": a.low, "high": a.high,
                    "default": a.default} for a in attrs],
    }


def lapse_note(case_type: CaseType, event: DomainEvent) -> dict[str, Any]:
    """A lapse the law has made that no sweep has recorded yet, as the case page tells it."""
    spec = transition_from(case_type, event.trigger, event.source)
    dest = case_type.state_map.get(event.dest)
    return {"trigger": event.trigger, "on": event.on,
            "label": spec.label if spec else event.trigger, "basis": spec.basis if spec else "",
            "dest": event.dest, "dest_label": dest.label if dest else ""}


def case_page(request: Request, rt: Runtime, who: Identity, ref: str, *,
              error: CaseflowError | None = None, done: str | None = None) -> HTMLResponse:
    from flows.story import timeline_story
    from flows.views import case_json, event_json

    today = legal_date(rt.now())
    stored, rows = services.case_with_timeline(rt.bureau, ref)
    case_type = rt.case_type(stored.case.type)
    doc = case_json(stored, case_type, today, rt.calendar, who)
    for clock in doc["clocks"]:
        live = clock["status"] in {"running", "overdue"}
        clock["days_left"] = (date.fromisoformat(clock["due_on"]) - today).days if live else None
        clock["class"] = days_class(clock["days_left"])
        clock["status_label"] = CycleStatus(clock["status"]).label
    lapsed = services.lapses_pending(rt.bureau, stored, rt.now())
    allowed = services.triggers_of(rt.bureau, stored, rt.now(), who, lapsed=lapsed)
    entries = [event_json(row, who) for row in rows]
    return render(request, "case.html", {
        "who": who, "case": doc, "today": today, "error": error, "done": done,
        "done_label": next((spec.label for spec in case_type.triggers.get(done or "", ())), ""),
        # a label's parenthesis guides the form (案件类别（criminal, civil…）), not the reader
        "attr_labels": {k: v.split("（")[0] for k, v in case_type.attr_labels.items()},
        "lapsed": [lapse_note(case_type, fired.event) for fired in lapsed],
        "actions": [action_form(case_type, stored.case.state, t) for t in allowed],
        "story": timeline_story(entries, case_type), "events": entries,
    }, status_for(error) if error else 200)


@router.get("/cases/{ref}")
def show_case(request: Request, rt: RuntimeDep, who: PageUser, ref: str,
              done: str | None = None) -> HTMLResponse:
    try:
        return case_page(request, rt, who, ref, done=done)
    except CaseflowError as error:
        return error_page(request, who, error)


@router.post("/cases/{ref}/fire/{trigger}")
def fire(request: Request, rt: RuntimeDep, who: PageUser, form: FormDep, ref: str,
         trigger: str) -> Response:
    try:
        fields = form.fields()
        version = int(fields.pop("version", "0") or 0) or None
        on_text = fields.pop("on", "").strip()
        reason = fields.pop("reason", "").strip() or None
        attrs = {k: v.strip() for k, v in fields.items() if v.strip()}
        services.advance(rt.bureau, ref, trigger, on=_date(on_text, "on") if on_text else None,
                         attrs=attrs, reason=reason, by=who.name, now=rt.now(),
                         expect_version=version, who=who)
    except Conflict as stale:
        message = Conflict("此案件在您打开后已被他人更新，请查看最新情况后再操作 — the case "
                           f"changed since you opened it, nothing was done: {stale.message}",
                           ["review the case below (its latest version) and submit again"])
        return case_page(request, rt, who, ref, error=message)
    except CaseflowError as error:
        try:
            return case_page(request, rt, who, ref, error=error)
        except CaseflowError:
            return error_page(request, who, error)
    return RedirectResponse(f"/cases/{ref}?done={trigger}", status_code=303)


# -- the supervisor's dashboard ---------------------------------------------------------------


def period(rt: Runtime, start: str | None, end: str | None) -> tuple[date, date]:
    today = legal_date(rt.now())
    last = _date(end, "to") if end else today
    first = _date(start, "from") if start else date(last.year, 1, 1)
    return first, last


@router.get("/dashboard")
def dashboard(request: Request, rt: RuntimeDep, who: PageUser) -> HTMLResponse:
    """监督: ``?from=&to=`` the period (default: this year up to today)."""
    from flows.audit import overdue_clocks
    from flows.reports import closure_report

    start, end = request.query_params.get("from"), request.query_params.get("to")
    try:
        if who.role is Role.CLERK:
            raise RoleNotAllowed("the dashboard is for supervisors (科室负责人), leaders "
                                 "(分管领导) and auditors (审计)", ["/ (your worklist)"])
        first, last = period(rt, start, end)
        today = legal_date(rt.now())
        by_month = closure_report(rt.bureau, first, last, by="month").to_json()
        by_handler = closure_report(rt.bureau, first, last, by="handler").to_json()
    except CaseflowError as error:
        return error_page(request, who, error)
    workloads = sorted((r for r in by_handler["breakdown"] if r.get("handler")),
                       key=lambda r: (-r["open_at_end"], r["handler"]))
    return render(request, "dashboard.html", {
        "who": who, "today": today, "first": first, "last": last,
        "overdue": overdue_clocks(rt.bureau, today), "report": by_month,
        "workloads": workloads, "words": Words(rt.types)})


@router.get("/dashboard/chart.svg")
def chart(request: Request, rt: RuntimeDep, who: PageUser) -> Response:
    from flows.chart import draw_rates
    from flows.reports import closure_report

    if who.role is Role.CLERK:
        return Response(status_code=403)
    first, last = period(rt, request.query_params.get("from"), request.query_params.get("to"))
    report = closure_report(rt.bureau, first, last, by="month")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chart.svg"
        draw_rates(report, [path])
        return Response(path.read_bytes(), media_type="image/svg+xml")


def login_redirect(_request: Request, _error: Exception) -> Response:
    return RedirectResponse("/login", status_code=303)
