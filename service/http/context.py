"""What every HTTP view needs before it calls an action: the acting user
(from the ``Authorization`` header) in a ``Context``, and DRF's 405."""

from __future__ import annotations

from aiohttp import web

from ..appkeys import DB, IDENTITY, SETTINGS, USER
from ..auth.actions import authenticate
from ..auth.sessions import Identity
from ..context import Context
from ..errors import MethodNotAllowed, NotAuthenticated


async def request_identity(request: web.Request) -> Identity | None:
    """The session of the request's token (None without one); looked up once
    per request, and checked against the database on every request, so an
    ended session or a changed user takes effect at once."""
    if IDENTITY not in request:
        identity = await authenticate(request.app[DB], request.app[SETTINGS], request.headers.get("Authorization"))
        request[IDENTITY] = identity
        request[USER] = identity.user if identity else None
    return request[IDENTITY]


async def context(request: web.Request, required: bool = True) -> Context:
    identity = await request_identity(request)
    if identity is None and required:
        raise NotAuthenticated()
    user, session_id = (identity.user, identity.session_id) if identity else (None, None)
    return Context(request.app[DB], request.app[SETTINGS], user, session_id)


def not_allowed(request: web.Request, allow: str, view: str | None = None) -> MethodNotAllowed:
    """405 for a method the view does not take; for OPTIONS the errors
    middleware answers DRF's metadata instead (named ``view``)."""
    return MethodNotAllowed(request.method, allow, view)
