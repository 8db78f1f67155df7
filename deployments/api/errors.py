"""caseflow's errors as HTTP answers: one table from the error tree to statuses.

The most specific family comes first; a test checks that every error class caseflow defines
lands on a status of its own family, never on 500. The body is the contract's error object,
``{"error": {"code", "message", "allowed"}}``.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from models.errors import Conflict, DatabaseUnavailable, IntegrityFailure, SchemaMissing
from states.errors import CaseflowError, InvalidInput, NotFound, RuleViolation
from states.roles import IdentityRequired, RoleNotAllowed


class TooManyAttempts(RuleViolation):
    """Login attempts over the limit for a user name from one address (HTTP 429)."""

    code = "too_many_attempts"


# (family, status), most specific first
STATUSES: tuple[tuple[type[CaseflowError], int], ...] = (
    (TooManyAttempts, 429),
    (IdentityRequired, 401),  # no one named, or a wrong password or token
    (RoleNotAllowed, 403),
    # the server's own database is not usable: not the request's fault
    (DatabaseUnavailable, 503),
    (SchemaMissing, 503),
    (InvalidInput, 400),
    (NotFound, 404),
    (Conflict, 409),
    (RuleViolation, 422),
    (IntegrityFailure, 422),  # a case that fails verification is refused like a rule
)


def status_for(error: CaseflowError) -> int:
    for family, status in STATUSES:
        if isinstance(error, family):
            return status
    return 500


def error_body(code: str, message: str, allowed: list[str] | None = None) -> dict[str, object]:
    return {"error": {"code": code, "message": message, "allowed": allowed or []}}


def caseflow_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, CaseflowError)
    status = status_for(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": error.to_json()}, status_code=status, headers=headers)


def invalid_request(_request: Request, error: Exception) -> JSONResponse:
    """A body or query that does not parse (a bad date, a missing field): 400, naming it."""
    assert isinstance(error, RequestValidationError)
    problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()]
    return JSONResponse(error_body("invalid_request", "; ".join(problems) or "invalid request",
                                   problems), status_code=400)


def http_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    return JSONResponse(error_body(code, str(error.detail)), status_code=error.status_code,
                        headers=getattr(error, "headers", None))
