"""The web application: the API under /api, the pages under /, built around one runtime."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from deployments.api import errors
from deployments.bootstrap import Runtime, bootstrap
from states.errors import CaseflowError

# Requests run in a pool of this many threads, each with a database connection of its own kept
# open: more threads would only queue for the connections (or open and close extra ones for
# every request) and contend for the interpreter.
THREADS = 16


@asynccontextmanager
async def _threads(_app: FastAPI) -> AsyncIterator[None]:
    to_thread.current_default_thread_limiter().total_tokens = THREADS
    yield


def create_app(rt: Runtime, *, secret_key: str | None = None) -> FastAPI:
    """The app over ``rt``'s database. ``secret_key`` signs the pages' session cookies (else
    ``CASEFLOW_SECRET_KEY``, else a random one: sessions then last as long as the process,
    and several workers need the variable set)."""
    from deployments.api import lawyer_pages, lawyers, pages, routes

    app = FastAPI(title="caseflow", version="0.1.0", lifespan=_threads,
                  description="Case lifecycles and statutory time limits (司法局): the JSON API "
                              "of CONTRACT.md; the pages are served beside it.")
    app.state.runtime = rt
    if "engine" not in rt.__dict__:
        rt.engine_options.setdefault("pool_size", THREADS)
    rt.bureau  # noqa: B018 - the engine and schema before the first request, not during it
    app.add_exception_handler(CaseflowError, errors.caseflow_error)
    app.add_exception_handler(RequestValidationError, errors.invalid_request)
    app.add_exception_handler(StarletteHTTPException, errors.http_error)
    app.include_router(routes.router)
    app.include_router(lawyers.router)  # the lawyer pool and 指派 (issue 16 §2)
    key = secret_key or rt.settings.secret_key or secrets.token_urlsafe(32)
    pages.mount(app, key)
    app.include_router(lawyer_pages.router)  # /lawyers (issue 16 §3)
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory deployments.api.app:app_from_env` (several workers): the
    database and policy from ``CASEFLOW_DB_URL`` / ``CASEFLOW_POLICY``."""
    return create_app(bootstrap())
