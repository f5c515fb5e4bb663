"""What every HTTP view needs before it calls an action: the acting user
(from the ``Authorization`` header) in a ``Context``, and DRF's 405."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import DB, SETTINGS, USER
from ..auth.actions import authenticate
from ..context import Context, User
from ..errors import MethodNotAllowed, NotAuthenticated


async def request_user(request: web.Request) -> User | None:
    """The token's user (None without a token); cached on the request."""
    if USER not in request:
        request[USER] = await authenticate(request.app[DB], request.headers.get("Authorization"))
    return request[USER]


async def context(request: web.Request, required: bool = True) -> Context:
    user = await request_user(request)
    if user is None and required:
        raise NotAuthenticated()
    return Context(request.app[DB], request.app[SETTINGS], user)


def not_allowed(request: web.Request, allow: str, view: str | None = None) -> MethodNotAllowed:
    """405 for a method the view does not take; for OPTIONS the errors
    middleware answers DRF's metadata instead (named ``view``)."""
    return MethodNotAllowed(request.method, allow, view)
