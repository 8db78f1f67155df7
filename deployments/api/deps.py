"""What every request works with: the runtime (composition root) and the person asking."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from deployments.bootstrap import Runtime
from states.roles import BadCredentials, Identity


async def get_runtime(request: Request) -> Runtime:
    """On the event loop (no I/O here): a sync dependency would take a trip to the thread
    pool for every request."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def api_user(
    rt: RuntimeDep,
    authorization: Annotated[str | None, Header(description="Bearer TOKEN")] = None,
) -> Identity | None:
    """The user a request's token belongs to; None when there is no token (the services then
    refuse a change once caseflow has users, and reads need a token then too)."""
    from flows.users import by_token, users_exist
    from states.roles import IdentityRequired

    if authorization is None:
        if users_exist(rt.bureau):
            raise IdentityRequired("caseflow has users: send an API token",
                                   ["Authorization: Bearer TOKEN"])
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BadCredentials("the Authorization header is not a bearer token",
                             ["Authorization: Bearer TOKEN"])
    return by_token(rt.bureau, token.strip())


UserDep = Annotated[Identity | None, Depends(api_user)]
