"""dj-rest-auth's routes: login, logout, the user's own details.

The trailing slash is optional on these, as in dj-rest-auth.
"""

from __future__ import annotations

from aiohttp import web

from ..appkeys import DB, SETTINGS
from ..http.body import read_data
from ..http.context import context, not_allowed
from ..http.responses import json_response
from . import actions


async def login(request: web.Request) -> web.StreamResponse:
    await context(request, required=False)  # as DRF: a bad token is 401 even here
    if request.method != "POST":
        raise not_allowed(request, "POST, OPTIONS")
    data = await read_data(request)
    return json_response(await actions.login(request.app[DB], data, request.app[SETTINGS].tz))


async def logout(request: web.Request) -> web.StreamResponse:
    if request.method != "POST":
        raise not_allowed(request, "POST, OPTIONS")
    return json_response(await actions.logout(request.app[DB], request.headers.get("Authorization")))


async def user_details(request: web.Request) -> web.StreamResponse:
    ctx = await context(request)
    if request.method in ("GET", "HEAD"):
        return json_response(await actions.retrieve_details(ctx))
    if request.method in ("PUT", "PATCH"):
        data = await read_data(request)
        return json_response(await actions.update_details(ctx, data, partial=request.method == "PATCH"))
    raise not_allowed(request, "GET, PUT, PATCH, HEAD, OPTIONS")


def setup(app: web.Application) -> None:
    for path, handler in (("login", login), ("logout", logout), ("user", user_details)):
        app.router.add_route("*", f"/rest-auth/{path}/", handler)
        app.router.add_route("*", f"/rest-auth/{path}", handler)
