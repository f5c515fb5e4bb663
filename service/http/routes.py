"""HTTP routes: DRF's DefaultRouter + ModelViewSet, over the resource table.

Each handler authenticates, picks the action for the method and translates
its result; everything else happens in the action.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiDict

from .. import jsonutil, lists
from ..appkeys import REQUEST_ID
from ..context import Context
from ..errors import ParseError
from ..idempotency import KEY_MESSAGE, KEY_RE, fingerprint, run_once
from ..lists import ListSpec
from ..resources import Resource, etag, parse_if_match
from .body import read_data
from .context import context, not_allowed
from .responses import LIST_ALLOW, json_response, no_content


def _positive_int(raw: str | None, strict: bool) -> int | None:
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    if value is None or value < 0 or (strict and value == 0):
        return None
    return value


def query_params(request: web.Request) -> dict[str, str]:
    """The query as Django's QueryDict reads it: a repeated key's last value wins."""
    return dict(request.query.items())


def _url_with(request: web.Request, **params: Any) -> str:
    """This request's absolute URL with some query parameters set (None: removed)."""
    query = MultiDict(request.query)
    for key, value in params.items():
        query.popall(key, None)
        if value is not None:
            query[key] = str(value)
    encoded = urlencode(sorted(query.items()))
    return str(request.url.with_query(None)) + (f"?{encoded}" if encoded else "")


async def offset_page(request: web.Request, ctx: Context, spec: ListSpec, limit: int) -> web.Response:
    """LimitOffsetPagination, the limit capped at LIST_MAX_PAGE_SIZE (DRF's
    max_limit). The count is exact up to LIST_COUNT_BOUND; a larger one is
    that bound, marked by ``X-Count-Exact: false``, and then ``next`` follows
    from a full page rather than from the count."""
    limit = min(limit, ctx.settings.list_max_page_size)
    offset = _positive_int(query_params(request).get("offset"), strict=False) or 0
    results, count, exact = await lists.offset_page(ctx, spec, query_params(request), limit, offset)
    more = offset + limit < count if exact else len(results) == limit
    next_url = _url_with(request, limit=limit, offset=offset + limit) if more else None
    previous_url = None
    if offset > 0:
        back = offset - limit
        previous_url = _url_with(request, limit=limit, offset=back if back > 0 else None)
    body = {"count": count, "next": next_url, "previous": previous_url, "results": results}
    return json_response(body, headers=None if exact else {"X-Count-Exact": "false"})


async def cursor_page(request: web.Request, ctx: Context, spec: ListSpec) -> web.Response:
    """CursorPagination: ``{"next", "previous", "results"}``, opaque cursors in absolute URLs."""
    query = query_params(request)
    size = lists.page_size(query.get("page_size"), ctx.settings.list_max_page_size)
    page = await lists.cursor_page(ctx, spec, query, query.get("cursor", ""), size)

    def link(cursor: lists.Cursor | None) -> str | None:
        return None if cursor is None else _url_with(request, cursor=cursor.encode())

    return json_response({"next": link(page.next), "previous": link(page.previous), "results": page.results})


async def whole_list(request: web.Request, ctx: Context, spec: ListSpec) -> web.StreamResponse:
    """The whole list as one JSON array, streamed: each chunk is read by its
    own short query after the client took the one before, so memory stays
    flat, the loop is free between chunks and a client that stops reading
    holds no connection, only its own request."""
    stream = lists.chunks(ctx, spec, query_params(request))
    # Bad filters and an unreachable database answer before the first byte.
    first: list[dict[str, Any]] = await anext(stream, [])
    headers = {"Content-Type": "application/json", "Vary": "Accept"}
    if REQUEST_ID in request:  # set here: the middleware's comes after the headers were sent
        headers["X-Request-ID"] = request[REQUEST_ID]
    response = web.StreamResponse(headers=headers)
    await response.prepare(request)
    if request.method == "HEAD":  # the headers a GET would have (no Content-Length); no body
        await response.write_eof()
        return response
    await response.write(b"[" + jsonutil.dumps(first)[1:-1])
    written = bool(first)
    async for chunk in stream:
        body = jsonutil.dumps(chunk)[1:-1]
        await response.write((b"," if written else b"") + body)
        written = True
    await response.write(b"]")
    await response.write_eof()
    return response


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


Write = Callable[[], Awaitable[tuple[int, Any]]]


async def write_once(request: web.Request, ctx: Context, data: Any, call: Write, tagged: bool = False) -> web.Response:
    """Run a write, once per ``Idempotency-Key`` if the request has one, and
    reply: the object (with its ETag if ``tagged``), or 204 without a body."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        status, obj = await call()
        replayed = False
    else:
        if not KEY_RE.fullmatch(key):
            raise ParseError(f"Idempotency-Key: {KEY_MESSAGE}")
        reply = await run_once(ctx, key, fingerprint(request.method, request.path, data), call)
        status, obj, replayed = reply.status, reply.data, reply.replayed
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if status == 204:
        return no_content(headers)
    if tagged and isinstance(obj, dict):
        headers["ETag"] = etag(obj)
    return json_response(obj, status=status, headers=headers)


def list_handler(resource: Resource) -> Handler:
    allow = LIST_ALLOW if resource.create else "GET, HEAD, OPTIONS"

    async def handler(request: web.Request) -> web.StreamResponse:
        ctx = await context(request)
        if request.method in ("GET", "HEAD"):
            if "cursor" in request.query:
                return await cursor_page(request, ctx, resource.list)
            limit = _positive_int(query_params(request).get("limit"), strict=True)
            if limit is not None:
                return await offset_page(request, ctx, resource.list, limit)
            return await whole_list(request, ctx, resource.list)
        if request.method == "POST" and resource.create:
            create, data = resource.create, await read_data(request)

            async def call() -> tuple[int, Any]:
                return 201, await create(ctx, data)

            return await write_once(request, ctx, data, call)
        raise not_allowed(request, allow, f"{resource.model} List")

    return handler


def detail_handler(resource: Resource) -> Handler:
    methods = ["GET"] + (["PUT", "PATCH"] if resource.update else []) + (["DELETE"] if resource.delete else [])
    allow = ", ".join(methods + ["HEAD", "OPTIONS"])

    async def handler(request: web.Request) -> web.StreamResponse:
        ctx = await context(request)
        pk = request.match_info["pk"]
        if request.method in ("GET", "HEAD"):
            obj = await resource.retrieve(ctx, pk)
            return json_response(obj, headers={"ETag": etag(obj)})
        ctx = replace(ctx, if_match=parse_if_match(request.headers.get("If-Match")))
        if request.method in ("PUT", "PATCH") and resource.update:
            update, data, partial = resource.update, await read_data(request), request.method == "PATCH"

            async def call() -> tuple[int, Any]:
                return 200, await update(ctx, pk, data, partial)

            return await write_once(request, ctx, data, call, tagged=True)
        if request.method == "DELETE" and resource.delete:
            delete = resource.delete

            async def remove() -> tuple[int, Any]:
                await delete(ctx, pk)
                return 204, None

            return await write_once(request, ctx, None, remove)
        raise not_allowed(request, allow, f"{resource.model} Instance")

    return handler


def detail_action_handler(resource: Resource, name: str) -> Handler:
    action = resource.detail_actions[name]

    async def handler(request: web.Request) -> web.StreamResponse:
        ctx = await context(request)
        if request.method != "POST":
            raise not_allowed(request, "POST, OPTIONS")
        pk = request.match_info["pk"]

        data = await read_data(request) if name in resource.body_actions else None

        async def call() -> tuple[int, Any]:
            return await action(ctx, pk, data)

        return await write_once(request, ctx, data, call)

    return handler


def api_root(names: tuple[str, ...]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await context(request)
        if request.method not in ("GET", "HEAD"):
            raise not_allowed(request, "GET, HEAD, OPTIONS")
        base = request.url.with_query(None)
        return json_response({name: str(base.with_path(f"/api/{name}/")) for name in names})

    return handler


def setup(app: web.Application, resources: tuple[Resource, ...]) -> None:
    """The API root (keys in the order of ``resources``) and every resource's routes."""
    app.router.add_route("*", "/api/", api_root(tuple(r.name for r in resources)))
    for resource in resources:
        app.router.add_route("*", f"/api/{resource.name}/", list_handler(resource))
        app.router.add_route("*", rf"/api/{resource.name}/{{pk:[^/.]+}}/", detail_handler(resource))
        for name in resource.detail_actions:
            app.router.add_route(
                "*", rf"/api/{resource.name}/{{pk:[^/.]+}}/{name}/", detail_action_handler(resource, name)
            )
