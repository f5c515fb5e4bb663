"""dj-rest-auth's routes (login, logout, the user's own details, password
change) and the caller's sessions.

The trailing slash is optional on these, as in dj-rest-auth.
"""

from __future__ import annotations

from aiohttp import web

from ..appkeys import DB, GUARD, SETTINGS
from ..http.body import read_data
from ..http.client import client_address
from ..http.context import context, not_allowed
from ..http.responses import json_response, no_content
from . import actions, sessions


async def login(request: web.Request) -> web.StreamResponse:
    await context(request, required=False)  # as DRF: a bad token is 401 even here
    if request.method != "POST":
        raise not_allowed(request, "POST, OPTIONS")
    data = await read_data(request)
    settings = request.app[SETTINGS]
    client = client_address(request, settings.proxies)
    user_agent = request.headers.get("User-Agent", "")
    return json_response(await actions.login(request.app[DB], settings, request.app[GUARD], data, client, user_agent))


async def logout(request: web.Request) -> web.StreamResponse:
    if request.method != "POST":
        raise not_allowed(request, "POST, OPTIONS")
    db, settings = request.app[DB], request.app[SETTINGS]
    return json_response(await actions.logout(db, settings, request.headers.get("Authorization")))


async def user_details(request: web.Request) -> web.StreamResponse:
    ctx = await context(request)
    if request.method in ("GET", "HEAD"):
        return json_response(await actions.retrieve_details(ctx))
    if request.method in ("PUT", "PATCH"):
        data = await read_data(request)
        return json_response(await actions.update_details(ctx, data, partial=request.method == "PATCH"))
    raise not_allowed(request, "GET, PUT, PATCH, HEAD, OPTIONS")


async def password_change(request: web.Request) -> web.StreamResponse:
    ctx = await context(request)
    if request.method != "POST":
        raise not_allowed(request, "POST, OPTIONS")
    data = await read_data(request)
    return json_response(await actions.password_change(ctx, request.app[GUARD], data))


async def session_list(request: web.Request) -> web.StreamResponse:
    ctx = await context(request)
    if request.method not in ("GET", "HEAD"):
        raise not_allowed(request, "GET, HEAD, OPTIONS", "Session List")
    return json_response(await sessions.list_mine(ctx))


async def session_detail(request: web.Request) -> web.StreamResponse:
    ctx = await context(request)
    if request.method != "DELETE":
        raise not_allowed(request, "DELETE, OPTIONS", "Session Instance")
    await sessions.end_mine(ctx, request.match_info["pk"])
    return no_content()


async def end_other_sessions(request: web.Request) -> web.StreamResponse:
    ctx = await context(request)
    if request.method != "POST":
        raise not_allowed(request, "POST, OPTIONS", "End Others")
    return json_response(await sessions.end_others(ctx))


ROUTES = (
    ("login", login),
    ("logout", logout),
    ("user", user_details),
    ("password/change", password_change),
    ("sessions/end-others", end_other_sessions),
    ("sessions/{pk:[^/.]+}", session_detail),
    ("sessions", session_list),
)


def setup(app: web.Application) -> None:
    for path, handler in ROUTES:
        app.router.add_route("*", f"/rest-auth/{path}/", handler)
        app.router.add_route("*", f"/rest-auth/{path}", handler)
