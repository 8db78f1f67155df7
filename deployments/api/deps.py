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


class Caller:
    """Who a request says it comes from (its bearer token), looked up in the directory by
    `identity` in the handler's own thread.

    Looking the token up in a sync dependency instead costs each request a second trip through
    the thread pool (≈ 0.25 ms of CPU and a wait for a free thread under load). Nothing is
    remembered between requests: a revoked token is refused on the very next one."""

    def __init__(self, rt: Runtime, token: str | None) -> None:
        self.rt, self.token = rt, token

    def identity(self) -> Identity | None:
        """The user the token belongs to; None when there is no token (the services then
        refuse a change once caseflow has users, and reads need a token then too)."""
        from flows.users import by_token, users_exist
        from states.roles import IdentityRequired

        if self.token is None:
            if users_exist(self.rt.bureau):
                raise IdentityRequired("caseflow has users: send an API token",
                                       ["Authorization: Bearer TOKEN"])
            return None
        return by_token(self.rt.bureau, self.token)


async def api_caller(
    rt: RuntimeDep,
    authorization: Annotated[str | None, Header(description="Bearer TOKEN")] = None,
) -> Caller:
    """The request's credentials, read from its header on the event loop (no I/O here)."""
    if authorization is None:
        return Caller(rt, None)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BadCredentials("the Authorization header is not a bearer token",
                             ["Authorization: Bearer TOKEN"])
    return Caller(rt, token.strip())


CallerDep = Annotated[Caller, Depends(api_caller)]


def api_user(caller: CallerDep) -> Identity | None:
    """The user of the request's token, resolved before the handler runs (in a thread of its
    own: a handler that reaches the database anyway can take `CallerDep` and save the trip)."""
    return caller.identity()


UserDep = Annotated[Identity | None, Depends(api_user)]
